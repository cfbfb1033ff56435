//! Checkout with only an email (issue 9, parts 3 and 4): a guest order through `order/pay/`
//! without a token, the private purchase page (`/p/<token>`), five downloads from it, the
//! purchase attached to the account that later confirms the address, the limits and the
//! refusals, and the hosted buy page (`/buy/<id>`). Through the real server and a real SMTP
//! server, on SQLite and Postgres.
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use shop_app::config::{EmailTransport, Settings, SmtpTls};
use shop_app::delivery::MediaTarget;
use shop_db::entities::{guest_buyer, order, user};

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
        s.sms.code_ttl_seconds = 300;
        more(s);
    })
    .await
}

/// A gateway-mode shop whose emails go to a real SMTP server, with a material ("notes",
/// version 1) on course 3; and course 3 as the API shows it.
async fn shop_selling_notes(backend: Backend) -> (SmtpSink, FakeGateway, TestApp, Value) {
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
    let (_, course) = app.get_json("/api/v1/course/list/3/").await;
    (sink, gw, app, course)
}

/// The course ids of a `course/mine/` answer.
fn course_ids(mine: &Value) -> Vec<i64> {
    mine["result"]
        .as_array()
        .expect("courses")
        .iter()
        .filter_map(|c| c["course_id"].as_i64().or(c["id"].as_i64()))
        .collect()
}

/// POSTs a purchase without a token, in `lang`.
async fn guest_buy(app: &TestApp, body: &Value, key: Option<&str>, lang: &str) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url("/api/v1/order/pay/")).header("Accept-Language", lang).json(body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    json_of(req.send().await.expect("request")).await
}

fn purchase(course: &Value, email: Option<&str>) -> Value {
    let mut body =
        json!({"courses": [course["id"]], "total_amount": course["price"], "subject": "课程", "pay_type": 1});
    if let Some(e) = email {
        body["email"] = json!(e);
    }
    body
}

fn fen(course: &Value) -> i64 {
    shop_domain::Money::parse_yuan(course["price"].as_str().expect("price")).expect("price").fen()
}

async fn page_json(app: &TestApp, url: &str) -> (StatusCode, Value) {
    json_of(app.client.get(url).header("Accept", "application/json").send().await.expect("page")).await
}

async fn counts(app: &TestApp) -> (u64, u64, u64) {
    let db = app.ctx.db();
    (
        order::Entity::find().count(db).await.expect("orders"),
        user::Entity::find().count(db).await.expect("users"),
        guest_buyer::Entity::find().count(db).await.expect("guests"),
    )
}

/// The word of a mail's text part that contains `needle`.
fn word_with(mail: &ReceivedMail, needle: &str) -> String {
    let text = mail.text_part();
    text.split_whitespace()
        .find(|w| w.contains(needle))
        .unwrap_or_else(|| panic!("{needle} in {text}"))
        .to_owned()
}

fn code_of(mail: &ReceivedMail) -> String {
    let text = mail.text_part();
    text.split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a code in {text}"))
        .to_owned()
}

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
    assert_eq!(status, StatusCode::OK, "{body}");
    app.login(mobile, "correct horse").await
}

/// Sets and confirms `email` on the account of `token` (the code from `sink`'s mail number
/// `nth`).
async fn confirm_email(app: &TestApp, sink: &SmtpSink, token: &str, email: &str, nth: usize) {
    let res = app
        .client
        .patch(app.url("/api/v1/user/user/me/"))
        .header("Authorization", format!("jwt {token}"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), StatusCode::OK);
    let mails = sink.wait_for(nth + 1, Duration::from_secs(10)).await;
    let res = app
        .client
        .post(app.url("/api/v1/user/user/email/verify/"))
        .header("Authorization", format!("jwt {token}"))
        .json(&json!({ "code": code_of(&mails[nth]) }))
        .send()
        .await
        .expect("verify");
    let (status, body) = json_of(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_guest_buys_downloads_five_times_and_a_later_account_owns_the_course() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (sink, gw, app, course) = shop_selling_notes(backend).await;
        let (orders_before, users_before, _) = counts(&app).await;

        // A guest order: no account, a purchase page, idempotent and one open order per email.
        let body = purchase(&course, Some("Guest.Buyer@Example.com"));
        let (status, answer) = guest_buy(&app, &body, Some("g-1"), "zh-CN").await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::OK, Some(100)), "{backend:?}: {answer}");
        assert_eq!(answer["msg"], "订单创建成功");
        let no = answer["out_trade_no"].as_str().expect("no").to_owned();
        let page = answer["purchase_url"].as_str().expect("purchase_url").to_owned();
        assert!(page.starts_with(&app.url("/p/")) && page.len() >= app.url("/p/").len() + 43, "{page}");
        assert!(answer["pay_url"].as_str().is_some_and(|u| u.starts_with("http")), "{answer}");
        let (_, again) = guest_buy(&app, &body, Some("g-1"), "en").await;
        assert_eq!(
            (again["out_trade_no"].as_str(), again["purchase_url"].as_str()),
            (Some(no.as_str()), Some(page.as_str()))
        );
        let (_, repeat) = guest_buy(&app, &body, None, "en").await;
        assert_eq!(
            repeat["out_trade_no"].as_str(),
            Some(no.as_str()),
            "the open order of this email: {repeat}"
        );
        assert_eq!(repeat["msg"], "existing order");
        assert!(
            repeat.get("purchase_url").is_none(),
            "someone else giving the address gets no page: {repeat}"
        );
        let (_, other_key) = guest_buy(&app, &body, Some("g-2"), "en").await;
        assert_eq!(other_key["out_trade_no"].as_str(), Some(no.as_str()), "{other_key}");
        assert!(other_key.get("purchase_url").is_none(), "nor with another key: {other_key}");
        let row = app.order_row(&no).await;
        assert_eq!(row.delivery_email.as_deref(), Some("guest.buyer@example.com"));
        let token = page.rsplit('/').next().expect("token");
        assert_eq!(row.purchase_token_hash.as_deref(), Some(shop_app::guests::token_hash(token).as_str()));
        assert_ne!(row.purchase_token_hash.as_deref(), Some(token), "only a hash is stored");
        let (orders, users, guests) = counts(&app).await;
        assert_eq!((orders, users, guests), (orders_before + 1, users_before + 1, 1), "{backend:?}");
        // The seller finds the guest's order by the address.
        let boss = app.console_session("boss").await;
        let (_, found) = app.console_get("/api/v1/admin/orders/?buyer=guest.buyer@example.com", &boss).await;
        assert_eq!(found["result"]["count"], 1, "{backend:?}: {found}");
        assert_eq!(found["result"]["results"][0]["out_trade_no"], no.as_str());
        let buyer = shop_db::users::by_id(app.ctx.db(), row.user_id).await.expect("db").expect("buyer");
        assert!(
            !buyer.is_active
                && buyer.role == "guest"
                && buyer.email.is_none()
                && buyer.password_hash.is_empty(),
            "a guest buyer cannot sign in: {buyer:?}"
        );

        // Before payment: the page shows the course, no links.
        let (status, before) = page_json(&app, &page).await;
        assert_eq!(status, StatusCode::OK, "{before}");
        assert_eq!(
            (before["order_status"].as_i64(), before["links"].as_array().map(Vec::len)),
            (Some(0), Some(0))
        );
        assert_eq!(before["courses"], json!([{"id": 3, "name": course["name"]}]));

        // Paid: the email goes to the guest's address with the same purchase page.
        app.pay(&gw, &no, fen(&course)).await;
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(mails[0].to, ["guest.buyer@example.com"], "{backend:?}");
        assert_eq!(word_with(&mails[0], "/p/"), page, "the email carries the purchase page");
        let (_, paid) = page_json(&app, &page).await;
        assert_eq!(paid["code"], 100);
        assert_eq!(paid["order_status"], 1, "{paid}");
        let links = paid["links"].as_array().cloned().expect("links");
        assert_eq!(links.len(), 1, "{paid}");
        assert_eq!((links[0]["name"].as_str(), links[0]["version"].as_str()), (Some("notes"), Some("1")));
        assert_eq!(links[0]["downloads_left"], 5);
        let url = links[0]["url"].as_str().expect("url").to_owned();
        assert_eq!(word_with(&mails[0], "/d/"), url, "the email's link is the page's");

        // Five downloads from the page, counted down; the sixth is refused.
        for left in (0..5).rev() {
            let res = app.client.get(&url).send().await.expect("download");
            assert_eq!(res.status(), StatusCode::OK, "{backend:?}");
            assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"the notes");
            let (_, now) = page_json(&app, &page).await;
            assert_eq!(now["links"][0]["downloads_left"], left, "{now}");
        }
        let (status, refused) = json_of(app.client.get(&url).send().await.expect("sixth")).await;
        assert_eq!((status, refused["code"].as_i64()), (StatusCode::GONE, Some(1040)), "{refused}");

        // The page for browsers, in both languages; unknown pages are 404.
        for (lang, words) in
            [("zh-CN", ["您的购买", "剩余下载次数：0"]), ("en", ["Your purchase", "downloads left: 0"])]
        {
            let res =
                app.client.get(&page).header("Accept", "text/html").header("Accept-Language", lang).send();
            let res = res.await.expect("html");
            assert_eq!(res.status(), StatusCode::OK);
            let html = res.text().await.expect("html");
            assert!(words.iter().all(|w| html.contains(w)) && html.contains(&url), "{lang}: {html}");
            assert!(!html.contains("guest.buyer"), "the page does not show the address");
        }
        let (status, body) = page_json(&app, &app.url(&format!("/p/{}", "A".repeat(43)))).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::NOT_FOUND, Some(1004)), "{body}");
        let (status, _) = page_json(&app, &app.url("/p/short")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // An account confirming the address later owns the course, its order and its links: once.
        let account = register_by_sms(&app, "13900000021").await;
        let auth = format!("jwt {account}");
        let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
        assert!(!mine.to_string().contains(&no), "not before confirming: {mine}");
        confirm_email(&app, &sink, &account, "guest.buyer@example.com", 1).await;
        let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
        let owned = course_ids(&mine);
        assert_eq!(owned, vec![3], "{backend:?}: {mine}");
        let (_, list) = app.get_json_auth("/api/v1/order/list/", &auth).await;
        assert_eq!(list["result"][0]["out_trade_no"].as_str(), Some(no.as_str()), "{list}");
        assert_eq!(list["result"][0]["purchase_url"].as_str(), Some(page.as_str()));
        let (status, _) = app.buy(&account, &purchase(&course, None), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "the account owns the course now");
        let claimed = guest_buyer::Entity::find().all(app.ctx.db()).await.expect("guests");
        assert_eq!(claimed.len(), 1);
        assert!(claimed[0].email.is_none() && claimed[0].claimed_by.is_some(), "{claimed:?}");

        // A later guest checkout with that address starts anew (the claim was once).
        let (status, answer) =
            guest_buy(&app, &purchase(&course, Some("guest.buyer@example.com")), None, "en").await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(guest_buyer::Entity::find().count(app.ctx.db()).await.expect("guests"), 2);
    }
}

#[tokio::test]
async fn an_sms_buyer_with_a_confirmed_email_gets_the_purchase_page_by_email() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (sink, gw, app, course) = shop_selling_notes(backend).await;
        let token = register_by_sms(&app, "13900000022").await;
        confirm_email(&app, &sink, &token, "sms.buyer@example.com", 0).await;
        let (status, answer) = app.buy(&token, &purchase(&course, None), None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let no = answer["out_trade_no"].as_str().expect("no").to_owned();
        let page = answer["purchase_url"].as_str().expect("purchase_url").to_owned();
        app.pay(&gw, &no, fen(&course)).await;
        let mails = sink.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(mails[1].to, ["sms.buyer@example.com"], "{backend:?}");
        assert_eq!(word_with(&mails[1], "/p/"), page);
        let link = word_with(&mails[1], "/d/");
        let res = app.client.get(&link).send().await.expect("download");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"the notes");
        let (_, detail) = app.get_json_auth(&format!("/api/v1/order/{no}/"), &format!("jwt {token}")).await;
        assert_eq!(detail["result"]["purchase_url"].as_str(), Some(page.as_str()), "{detail}");
        let (_, shown) = page_json(&app, &page).await;
        assert_eq!(shown["links"][0]["url"].as_str(), Some(link.as_str()), "{shown}");
        assert_eq!(shown["links"][0]["downloads_left"], 4);
    }
}

/// A guest checkout with an address an account has already confirmed: once paid, the
/// purchase is the account's (course access, order, links), as if the account had confirmed
/// the address after it.
#[tokio::test]
async fn a_guest_paying_with_an_address_an_account_confirmed_gives_the_course_to_that_account() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (sink, gw, app, course) = shop_selling_notes(backend).await;
        let account = register_by_sms(&app, "13900000023").await;
        let auth = format!("jwt {account}");
        confirm_email(&app, &sink, &account, "known@example.com", 0).await;

        let (status, answer) =
            guest_buy(&app, &purchase(&course, Some("Known@Example.com")), Some("k-1"), "zh-CN").await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::OK, Some(100)), "{backend:?}: {answer}");
        let no = answer["out_trade_no"].as_str().expect("no").to_owned();
        let page = answer["purchase_url"].as_str().expect("purchase_url").to_owned();
        let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
        assert_eq!(mine["result"].as_array().map(Vec::len), Some(0), "not before payment: {mine}");

        app.pay(&gw, &no, fen(&course)).await;
        let mails = sink.wait_for(2, Duration::from_secs(10)).await;
        assert_eq!(mails[1].to, ["known@example.com"], "{backend:?}");
        assert_eq!(word_with(&mails[1], "/p/"), page);
        let link = word_with(&mails[1], "/d/");

        let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
        let owned = course_ids(&mine);
        assert_eq!(owned, vec![3], "{backend:?}: the account owns it: {mine}");
        let (_, list) = app.get_json_auth("/api/v1/order/list/", &auth).await;
        assert_eq!(list["result"][0]["out_trade_no"].as_str(), Some(no.as_str()), "{list}");
        let account_id = app.order_row(&no).await.user_id;
        let me = shop_db::users::by_email(app.ctx.db(), "known@example.com").await.expect("db").expect("me");
        assert_eq!(account_id, me.id, "the order is the account's");
        let claimed = guest_buyer::Entity::find().all(app.ctx.db()).await.expect("guests");
        assert!(
            claimed.len() == 1 && claimed[0].email.is_none() && claimed[0].claimed_by == Some(me.id),
            "{claimed:?}"
        );
        let res = app.client.get(&link).send().await.expect("download");
        assert_eq!(res.status(), StatusCode::OK, "the emailed link works");
        let (_, shown) = page_json(&app, &page).await;
        assert_eq!(shown["links"][0]["downloads_left"], 4, "the purchase page still serves it: {shown}");
        let (status, _) = app.buy(&account, &purchase(&course, None), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "the account owns the course");
    }
}

#[tokio::test]
async fn bad_guest_orders_get_clear_errors_and_create_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| {
            s.delivery.guest_orders_per_email_per_hour = 2;
            s.delivery.guest_orders_per_address_per_hour = 4;
        })
        .await;
        let (_, course) = app.get_json("/api/v1/course/list/3/").await;
        let before = counts(&app).await;
        let both = |body: Value, key: Option<&'static str>| {
            let app = &app;
            async move {
                let (s_zh, zh) = guest_buy(app, &body, key, "zh-CN").await;
                let (s_en, en) = guest_buy(app, &body, key, "en").await;
                assert_eq!(s_zh, s_en);
                (s_zh, zh, en)
            }
        };
        // Neither a token nor an email: 401, in both languages.
        let (status, zh, en) = both(purchase(&course, None), None).await;
        assert_eq!(
            (status, zh["code"].as_i64()),
            (StatusCode::UNAUTHORIZED, Some(1010)),
            "{backend:?}: {zh}"
        );
        assert_eq!(zh["msg"], "请先登录，或填写邮箱（email）免注册购买");
        assert_eq!(en["msg"], "log in, or give an email to buy without an account");
        // A blank email is none.
        let (status, _, _) = both(purchase(&course, Some("  ")), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A malformed email.
        let (status, zh, en) = both(purchase(&course, Some("not an address")), None).await;
        assert_eq!((status, zh["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{zh}");
        assert!(zh["errors"]["email"].is_array() && en["errors"]["email"].is_array(), "{zh} {en}");
        // A bad token is refused, not taken for a guest.
        let res = app
            .client
            .post(app.url("/api/v1/order/pay/"))
            .header("Authorization", "jwt not-a-token")
            .json(&purchase(&course, Some("a@example.com")))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        // A course not for sale, a wrong total.
        let mut unknown = purchase(&course, Some("a@example.com"));
        unknown["courses"] = json!([999]);
        let (status, _, _) = both(unknown, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let mut wrong = purchase(&course, Some("a@example.com"));
        wrong["total_amount"] = json!("0.01");
        let (status, zh, _) = both(wrong, None).await;
        assert_eq!((status, zh["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{zh}");
        assert_eq!(counts(&app).await, before, "{backend:?}: refused requests create nothing");

        // Per email: two orders an hour (a repeat counts too); the third is 429.
        let body = purchase(&course, Some("limited@example.com"));
        assert_eq!(guest_buy(&app, &body, None, "en").await.0, StatusCode::OK);
        assert_eq!(guest_buy(&app, &body, None, "en").await.0, StatusCode::OK);
        let after_two = counts(&app).await;
        let (status, zh, en) = both(body.clone(), None).await;
        assert_eq!((status, zh["code"].as_i64()), (StatusCode::TOO_MANY_REQUESTS, Some(1029)), "{zh}");
        assert_ne!(zh["msg"], en["msg"]);
        // Per client address: four an hour across addresses.
        let (status, _) = guest_buy(&app, &purchase(&course, Some("other@example.com")), None, "en").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(counts(&app).await, after_two, "{backend:?}: limited requests create nothing");
        assert_eq!(after_two.0, before.0 + 1, "one order for the limited address");
    }
}

#[tokio::test]
async fn the_buy_page_takes_a_guest_to_the_cashier_and_the_purchase_page() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn(backend).await;
        let (_, course) = app.get_json("/api/v1/course/list/3/").await;
        let name = course["name"].as_str().expect("name").to_owned();
        let get = |lang: &'static str| {
            app.client
                .get(app.url("/buy/3?ref=spring"))
                .header("Accept", "text/html")
                .header("Accept-Language", lang)
                .header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
                .send()
        };
        let res = get("zh-CN").await.expect("page");
        assert_eq!(res.status(), StatusCode::OK);
        let zh = res.text().await.expect("html");
        let price = format!("¥ {}", course["price"].as_str().expect("price"));
        for part in [
            name.as_str(),
            price.as_str(),
            "name=\"email\"",
            "value=\"1\"",
            "使用支付宝支付",
            "name=\"ref\" value=\"spring\"",
        ] {
            assert!(zh.contains(part), "{backend:?}: {part} in {zh}");
        }
        let en = get("en").await.expect("page").text().await.expect("html");
        assert!(en.contains("Pay with Alipay") && !en.contains("使用支付宝支付"), "{en}");
        assert!(!zh.contains("<script") && !zh.contains("//cdn"), "no script, no CDN");
        let res =
            app.client.get(app.url("/buy/999")).header("Accept", "text/html").send().await.expect("404");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(res.text().await.expect("html").contains("<html"));
        // The view is counted in the funnel, with its ref.
        let mut views = Vec::new();
        for _ in 0..50 {
            views = shop_db::entities::course_view::Entity::find().all(app.ctx.db()).await.expect("views");
            if !views.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(views.iter().any(|v| v.course_id == 3 && v.ref_tag == "spring"), "{views:?}");

        // A refused form shows the page again with the reason.
        let form = |email: &str| {
            app.client
                .post(app.url("/buy/3"))
                .header("Accept", "text/html")
                .header("Accept-Language", "en")
                .form(&[("email", email), ("pay_type", "1"), ("key", "buy-test-1"), ("ref", "spring")])
                .send()
        };
        let res = form("nope").await.expect("refused");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.expect("html");
        assert!(html.contains("role=\"alert\"") && html.contains("value=\"nope\""), "{html}");
        assert_eq!(order::Entity::find().count(app.ctx.db()).await.expect("orders"), 0);

        // The form makes the order and goes to the cashier; back from it, the result page
        // sends this browser on to the purchase page.
        let res = form("buyer@example.com").await.expect("order");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{backend:?}");
        let cashier = res.headers()["location"].to_str().expect("location").to_owned();
        let cookie = res.headers()["set-cookie"].to_str().expect("cookie").to_owned();
        assert!(cookie.starts_with("cs_purchase=") && cookie.contains("HttpOnly"), "{cookie}");
        assert!(cashier.contains("/dev/alipay/") || cashier.starts_with("http"), "{cashier}");
        let again = form("buyer@example.com").await.expect("again");
        assert_eq!(again.headers()["location"].to_str().expect("location"), cashier, "one order per form");
        let orders = order::Entity::find().all(app.ctx.db()).await.expect("orders");
        assert_eq!(orders.len(), 1);
        let no = orders[0].out_trade_no.clone();
        let value = cookie.split(';').next().expect("pair").to_owned();
        let res =
            app.client.get(app.url(&format!("/pay/result/?out_trade_no={no}"))).header("Cookie", &value);
        let res = res.send().await.expect("result");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = res.headers()["location"].to_str().expect("location").to_owned();
        let token = value.trim_start_matches("cs_purchase=");
        assert_eq!(to, app.url(&format!("/p/{token}")));
        let (status, page) = page_json(&app, &to).await;
        assert_eq!((status, page["out_trade_no"].as_str()), (StatusCode::OK, Some(no.as_str())), "{page}");
        // Without the cookie (or with another order's) the result page is shown, not the purchase.
        let res =
            app.client.get(app.url(&format!("/pay/result/?out_trade_no={no}"))).send().await.expect("result");
        assert_eq!(res.status(), StatusCode::OK);
        let ref_row = shop_db::entities::order_ref::Entity::find().all(app.ctx.db()).await.expect("refs");
        assert_eq!(ref_row.len(), 1, "the ref is carried to the order");
    }
}
