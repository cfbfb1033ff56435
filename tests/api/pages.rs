//! What a browser sees: the cashier, the payment result page and the buyer's email escape
//! what the buyer typed, and the page routes answer an error with a page to a browser and
//! with the JSON envelope to anyone else (through the one error mapping, so the
//! business-errors switch applies to them too).
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use shop_app::config::{EmailTransport, SmtpTls};
use shop_app::delivery::MediaTarget;

use crate::fake_alipay::FakeGateway;
use crate::helpers::{Backend, TestApp, gateway_settings};
use crate::on_both_backends;
use crate::smtp_sink::SmtpSink;

/// What a buyer may type as the order's subject.
const EVIL: &str = "<script>alert('x')</script> & Co";
/// The same, escaped by the templates.
const ESCAPED: &str = "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; Co";
/// What a browser sends.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The value of an attribute as the browser reads it.
fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

fn content_type(res: &reqwest::Response) -> String {
    res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn get(app: &TestApp, url: &str, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut req = app.client.get(url);
    if let Some(accept) = accept {
        req = req.header("Accept", accept);
    }
    let res = req.send().await.expect("request");
    let (status, kind) = (res.status(), content_type(&res));
    (status, kind, res.text().await.expect("body"))
}

#[tokio::test]
async fn the_cashier_the_result_page_and_the_email_escape_the_subject() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let sink = SmtpSink::start().await;
        let app = TestApp::spawn_with(backend, |s| {
            s.workers.enabled = false;
            s.email.transport = EmailTransport::Smtp;
            s.email.smtp_host = "127.0.0.1".into();
            s.email.smtp_port = sink.port();
            s.email.smtp_tls = SmtpTls::None;
        })
        .await;
        let token = app.buyer_with_email("escaper").await;
        let (_, course) = app.get_json("/api/v1/course/list/2/").await;
        let body = json!({"courses": [2], "total_amount": course["price"], "subject": EVIL, "pay_type": 1});
        let (status, order) = app.buy(&token, &body, None).await;
        assert_eq!(status, StatusCode::OK, "{order}");
        let no = order["out_trade_no"].as_str().expect("out_trade_no").to_owned();

        let (status, kind, cashier) = get(&app, order["pay_url"].as_str().expect("pay_url"), None).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html; charset=utf-8"), "{cashier}");
        assert!(cashier.contains(&format!("<h1>{ESCAPED}</h1>")), "{backend:?}: {cashier}");
        assert!(!cashier.contains("<script>"), "{cashier}");
        let q =
            cashier.split("name=\"q\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("hidden q");
        let res = app
            .client
            .post(app.url("/dev/alipay/pay"))
            .form(&[("q", unescape(q))])
            .send()
            .await
            .expect("pay");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let back = res.headers()["location"].to_str().expect("ascii").to_owned();
        let (status, kind, page) = get(&app, &back, Some(BROWSER)).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html; charset=utf-8"), "{page}");
        assert!(page.contains("<h1>支付成功</h1>") && page.contains(&no), "{page}");

        app.drain_outbox().await;
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(mails.len(), 1, "{backend:?}");
        let html = mails[0].html_part();
        assert!(html.contains(&format!("<td>{ESCAPED}</td>")), "{backend:?}: {html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(mails[0].text_part().contains(&format!("商品：{EVIL}\n")), "the text part is not HTML");
    }
}

on_both_backends!(refusals_answer_a_browser_with_a_page_and_anyone_else_with_json);

async fn refusals_answer_a_browser_with_a_page_and_anyone_else_with_json(app: TestApp) {
    let expired = app
        .ctx
        .storage()
        .signed_url(
            "c/1/v.mp4",
            Duration::from_secs(60),
            &app.address,
            chrono::Utc::now() - chrono::Duration::hours(1),
        )
        .await
        .expect("signed URL");
    let cases = [
        (
            app.url("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            StatusCode::NOT_FOUND,
            1004,
            "没有这个下载链接",
        ),
        (app.url("/media/private/c/1/v.mp4"), StatusCode::FORBIDDEN, 1043, "该媒体链接未签名"),
        (expired, StatusCode::FORBIDDEN, 1042, "该媒体链接已过期"),
        (app.url("/pay/result/?out_trade_no=CS0"), StatusCode::NOT_FOUND, 1004, "订单不存在"),
    ];
    for (url, status, code, msg) in cases {
        let (got, kind, body) = get(&app, &url, None).await;
        assert_eq!((got, kind.as_str()), (status, "application/json"), "{url}: {body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["code"], code, "{url}: {body}");
        assert!(body["msg"].as_str().expect("msg").contains(msg), "{url}: {body}");

        let (got, kind, page) = get(&app, &url, Some(BROWSER)).await;
        assert_eq!((got, kind.as_str()), (status, "text/html; charset=utf-8"), "{url}: {page}");
        let reason =
            shop_app::i18n::msg::status_heading(status.as_u16(), "").get(shop_app::i18n::Lang::Zh).to_owned();
        assert!(
            page.starts_with("<!doctype html>") && page.contains(&format!("<h1>{reason}</h1>")),
            "{page}"
        );
        assert!(page.contains(msg), "{url}: {page}");
    }
    // The API answers JSON, whatever the client accepts.
    let (status, kind, body) = get(&app, &app.url("/api/v1/course/list/9999/"), Some(BROWSER)).await;
    assert_eq!((status, kind.as_str()), (StatusCode::NOT_FOUND, "application/json"), "{body}");
}

/// With `api.business_errors_as_200`, a refused download answers 200 with the same body, like
/// every other business error.
#[tokio::test]
async fn the_compatibility_switch_answers_refused_downloads_with_200() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = FakeGateway::start().await;
        let app = TestApp::spawn_with(backend, |s| {
            gateway_settings(s, &gw);
            s.api.business_errors_as_200 = true;
        })
        .await;
        let material = MediaTarget::Material { name: "notes".into(), version: "1".into() };
        app.upload(3, "notes.pdf", b"notes", material).await;
        let token = app.buyer("switch").await;
        let (no, fen) = app.order(&token, &[3]).await;
        app.pay(&gw, &no, fen).await;
        let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &format!("jwt {token}")).await;
        let url = mine["result"][0]["downloads"][0]["url"].as_str().expect("link").to_owned();
        for _ in 0..5 {
            assert_eq!(get(&app, &url, None).await.0, StatusCode::OK);
        }
        let (status, kind, body) = get(&app, &url, None).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/json"), "{backend:?}: {body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["code"], 1040, "{body}");
        let (status, body) = app.get_json("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(1004)), "{body}");
        // A browser gets the page, with the same status as the envelope.
        let (status, kind, page) = get(&app, &url, Some(BROWSER)).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html; charset=utf-8"), "{page}");
        assert!(page.contains("下载次数已用完"), "{page}");
    }
}
