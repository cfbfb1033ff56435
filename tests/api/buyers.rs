//! Every purchase reaches the buyer by email (issue 9): an SMS-registered buyer sets and
//! confirms an email address, a buyer gives one at checkout, `notify-buyers` reports whom it
//! cannot reach. Through the real server and a real SMTP server, on SQLite and Postgres.
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use shop_app::config::{EmailTransport, Settings, SmtpTls};
use shop_app::delivery::{CampaignRequest, MediaTarget};

use crate::fake_alipay::FakeGateway;
use crate::helpers::{Backend, TestApp, gateway_settings, json_of};
use crate::smtp_sink::{ReceivedMail, SmtpSink};

/// A gateway-mode app whose emails go to `sink`.
async fn spawn(
    backend: Backend,
    sink: &SmtpSink,
    gw: &FakeGateway,
    more: impl FnOnce(&mut Settings),
) -> TestApp {
    let port = sink.port();
    TestApp::spawn_with(backend, |s| {
        gateway_settings(s, gw);
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_host = "127.0.0.1".into();
        s.email.smtp_port = port;
        s.email.smtp_tls = SmtpTls::None;
        s.email.timeout_seconds = 2;
        more(s);
    })
    .await
}

async fn patch_me(app: &TestApp, token: &str, body: &Value, lang: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .patch(app.url("/api/v1/user/user/me/"))
        .header("Authorization", format!("jwt {token}"))
        .header("Accept-Language", lang)
        .json(body)
        .send()
        .await
        .expect("patch");
    json_of(res).await
}

async fn verify(app: &TestApp, token: &str, code: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/user/user/email/verify/"))
        .header("Authorization", format!("jwt {token}"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("verify");
    json_of(res).await
}

/// The six-digit code of a confirmation email.
fn code_of(mail: &ReceivedMail) -> String {
    let text = mail.text_part();
    let code: String = text
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a code in {text}"))
        .to_owned();
    code
}

/// Registers by SMS as the Luffy front end does; the token.
async fn register_by_sms(app: &TestApp, mobile: &str) -> String {
    let (status, _) = app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")).await;
    assert_eq!(status, StatusCode::OK);
    let code = app.sms.last_code(mobile).expect("code");
    let (status, body) = app
        .post_json(
            "/api/v1/user/user/mobile_register/",
            &json!({"mobile": mobile, "code": code, "password": "correct horse"}),
        )
        .await;
    assert_eq!((status, body["msg"].as_str()), (StatusCode::OK, Some("注册成功")), "{body}");
    app.login(mobile, "correct horse").await
}

#[tokio::test]
async fn an_sms_buyer_confirms_an_email_and_receives_the_purchase_email() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let sink = SmtpSink::start().await;
        let gw = FakeGateway::start().await;
        let app = spawn(backend, &sink, &gw, |_| {}).await;
        app.upload(
            3,
            "notes.pdf",
            b"the notes",
            MediaTarget::Material { name: "notes".into(), version: "1".into() },
        )
        .await;
        let token = register_by_sms(&app, "13900000011").await;

        // A new address: a code goes to it, the account's email is unchanged until confirmed.
        let (status, body) = patch_me(&app, &token, &json!({"email": "Li.Lei@Example.com"}), "zh-CN").await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
        assert_eq!(body["msg"], "验证码已发送到新邮箱，请在确认后使用");
        assert_eq!(body["email_pending"], "li.lei@example.com");
        assert!(body["result"]["email"].is_null(), "{body}");
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(mails[0].to, ["li.lei@example.com"]);
        assert!(mails[0].subject().contains("邮箱验证码"), "{}", mails[0].subject());
        let code = code_of(&mails[0]);
        let stored = shop_db::entities::email_code::Entity::find().all(app.ctx.db()).await.expect("codes");
        assert_eq!(stored.len(), 1);
        assert!(stored[0].code_hash.len() == 64 && !stored[0].code_hash.contains(&code), "stored hashed");

        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (status, body) = verify(&app, &token, wrong).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1014)), "{body}");
        let (status, body) = verify(&app, &token, &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["msg"].as_str(), body["result"]["email"].as_str()),
            (Some("邮箱验证成功"), Some("li.lei@example.com"))
        );
        let (status, body) = verify(&app, &token, &code).await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(1014)),
            "single use: {body}"
        );
        let (_, me) = app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {token}")).await;
        assert_eq!(me["result"]["email"], "li.lei@example.com");

        // Buys; the purchase email reaches the confirmed address, with a working link.
        let (no, fen) = app.order(&token, &[3]).await;
        app.pay(&gw, &no, fen).await;
        app.drain_outbox().await;
        let mails = sink.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(mails.len(), 2, "{backend:?}");
        assert_eq!(mails[1].to, ["li.lei@example.com"]);
        let html = mails[1].text_part();
        let link = html
            .split_whitespace()
            .find(|w| w.contains("/d/"))
            .unwrap_or_else(|| panic!("a link in {html}"))
            .to_owned();
        let res = app.client.get(&link).send().await.expect("download");
        assert_eq!(res.status(), StatusCode::OK, "{link}");
        assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"the notes");
    }
}

#[tokio::test]
async fn profile_changes_refuse_protected_fields_and_codes_are_limited() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let sink = SmtpSink::start().await;
        let gw = FakeGateway::start().await;
        let app = spawn(backend, &sink, &gw, |s| s.sms.code_ttl_seconds = 1).await;
        app.create_user("owner", "correct horse", None, Some("taken@example.com")).await;
        let token = app.buyer("changer").await;
        for (body, field) in [
            (json!({"mobile": "13800000000"}), "mobile"),
            (json!({"role": "admin"}), "role"),
            (json!({"password": "new password"}), "password"),
            (json!({"email": "a@example.com", "is_active": false}), "is_active"),
            (json!({"nickname": "x"}), "body"),
            (json!({"email": null}), "email"),
            (json!({"email": "not an address"}), "email"),
            (json!({"username": "x"}), "username"),
        ] {
            let (status, answer) = patch_me(&app, &token, &body, "en").await;
            assert_eq!(
                (status, answer["code"].as_i64()),
                (StatusCode::BAD_REQUEST, Some(1000)),
                "{body}: {answer}"
            );
            assert!(answer["errors"][field].is_array(), "{body}: {answer}");
        }
        let (status, answer) = patch_me(&app, &token, &json!({}), "en").await;
        assert_eq!(
            (status, answer["msg"].as_str()),
            (StatusCode::OK, Some("profile updated")),
            "a no-op: {answer}"
        );
        let (status, answer) = patch_me(&app, &token, &json!([1]), "en").await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{answer}");
        assert!(sink.messages().is_empty(), "nothing sent for refused changes");
        let (_, me) = app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {token}")).await;
        assert_eq!(
            (me["result"]["role"].as_str(), me["result"]["mobile"].as_str()),
            (Some("user"), None),
            "{me}"
        );

        // Another account's email: 409. A username change takes effect at once.
        let (status, answer) = patch_me(&app, &token, &json!({"email": "taken@example.com"}), "en").await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::CONFLICT, Some(1020)), "{answer}");
        let (status, answer) = patch_me(&app, &token, &json!({"username": "new_name"}), "en").await;
        assert_eq!(
            (status, answer["result"]["username"].as_str()),
            (StatusCode::OK, Some("new_name")),
            "{answer}"
        );
        assert_eq!(answer["msg"], "profile updated");

        // One code a minute, like SMS codes.
        let (status, _) = patch_me(&app, &token, &json!({"email": "first@example.com"}), "en").await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer) = patch_me(&app, &token, &json!({"email": "second@example.com"}), "en").await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::TOO_MANY_REQUESTS, Some(1029)),
            "{answer}"
        );
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!((mails.len(), mails[0].to.clone()), (1, vec!["first@example.com".to_owned()]));
        assert!(mails[0].subject().contains("confirmation code"), "in the request's language");
        // Expired (the test's codes live one second).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, answer) = verify(&app, &token, &code_of(&mails[0])).await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(1014)),
            "expired: {answer}"
        );
        let (_, me) = app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {token}")).await;
        assert!(me["result"]["email"].is_null(), "{me}");
        let res = app
            .client
            .patch(app.url("/api/v1/user/user/me/"))
            .json(&json!({"email": "x@example.com"}))
            .send();
        assert_eq!(res.await.expect("patch").status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_order_keeps_the_email_given_at_checkout_and_notify_buyers_reports_the_unreachable() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let sink = SmtpSink::start().await;
        let gw = FakeGateway::start().await;
        let app = spawn(backend, &sink, &gw, |_| {}).await;
        let (_, course) = app.get_json("/api/v1/course/list/3/").await;
        let body = |email: Option<&str>| {
            let mut b =
                json!({"courses": [3], "total_amount": course["price"], "subject": "课程", "pay_type": 1});
            if let Some(e) = email {
                b["email"] = json!(e);
            }
            b
        };
        // No confirmed email: the order's address is used.
        let guest_like = app.buyer("noemail").await;
        let (status, answer) = app.buy(&guest_like, &body(Some("not an address")), None).await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{answer}");
        let (status, answer) = app.buy(&guest_like, &body(Some("Order@Example.com")), None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let no = answer["out_trade_no"].as_str().expect("no").to_owned();
        assert_eq!(app.order_row(&no).await.delivery_email.as_deref(), Some("order@example.com"));
        app.pay(&gw, &no, course_fen(&course)).await;
        // A confirmed email wins over the order's.
        let confirmed = app.buyer_with_email("confirmed").await;
        let (_, answer) = app.buy(&confirmed, &body(Some("elsewhere@example.com")), None).await;
        let no2 = answer["out_trade_no"].as_str().expect("no").to_owned();
        app.pay(&gw, &no2, course_fen(&course)).await;
        // Neither.
        let silent = app.buyer("silent").await;
        let (_, answer) = app.buy(&silent, &body(None), None).await;
        let no3 = answer["out_trade_no"].as_str().expect("no").to_owned();
        app.pay(&gw, &no3, course_fen(&course)).await;
        app.drain_outbox().await;
        let mails = sink.wait_for(2, Duration::from_secs(10)).await;
        let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, ["confirmed@example.com", "order@example.com"], "{backend:?}");

        // notify-buyers reaches the two and names the third.
        let report = shop_app::delivery::notify_buyers(
            &app.ctx.delivery(),
            CampaignRequest {
                course_id: 3,
                subject: "更新".into(),
                message: "新内容".into(),
                new_version: None,
                dry_run: false,
            },
            &|_, _| {},
        )
        .await
        .expect("campaign");
        let silent_id =
            shop_db::users::by_username(app.ctx.db(), "silent").await.expect("db").expect("user").id;
        assert_eq!((report.owners, report.with_email, report.unreachable.clone()), (3, 2, vec![silent_id]));
        app.drain_outbox().await;
        let mails = sink.wait_for(4, Duration::from_secs(10)).await;
        let mut to: Vec<String> = mails[2..].iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(
            to,
            ["confirmed@example.com", "order@example.com"],
            "{backend:?}: the update reaches both"
        );
    }
}

fn course_fen(course: &Value) -> i64 {
    shop_domain::Money::parse_yuan(course["price"].as_str().expect("price")).expect("price").fen()
}
