//! Every answer in the buyer's language: each error code and the success messages in Chinese
//! and English, chosen by `Accept-Language` with the configured default (`zh`); the pages
//! likewise; the compatibility switch leaves routing 404s alone; the favicon.
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use shop_alipay::TradeStatus;
use shop_app::delivery::MediaTarget;

use crate::fake_alipay::FakeGateway;
use crate::helpers::{Backend, TestApp, json_of};
use crate::{on_both_backends, with_gateway_on_both_backends};

/// Sends the request built by `req` twice, asking for Chinese and for English; both answers.
async fn in_both(req: impl Fn() -> RequestBuilder) -> [(StatusCode, Value); 2] {
    let zh = json_of(req().header("Accept-Language", "zh-CN,zh;q=0.9").send().await.expect("request")).await;
    let en = json_of(req().header("Accept-Language", "en-US,en;q=0.9").send().await.expect("request")).await;
    [zh, en]
}

/// Asserts the status, the code and the two messages of an answer.
async fn expect(
    name: &str,
    req: impl Fn() -> RequestBuilder,
    status: StatusCode,
    code: i64,
    zh: &str,
    en: &str,
) {
    let [(s_zh, b_zh), (s_en, b_en)] = in_both(req).await;
    assert_eq!((s_zh, s_en), (status, status), "{name}: {b_zh} / {b_en}");
    assert_eq!((b_zh["code"].as_i64(), b_en["code"].as_i64()), (Some(code), Some(code)), "{name}");
    let (m_zh, m_en) = (b_zh["msg"].as_str().expect("msg"), b_en["msg"].as_str().expect("msg"));
    assert!(m_zh.contains(zh), "{name}: Chinese {m_zh:?} lacks {zh:?}");
    assert!(m_en.contains(en), "{name}: English {m_en:?} lacks {en:?}");
    assert!(m_zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{name}: {m_zh:?} is not Chinese");
    assert!(!m_en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{name}: {m_en:?} is not English");
    if let Some(errors) = b_zh.get("errors") {
        assert_ne!(errors, &b_en["errors"], "{name}: the field messages are translated too");
    }
}

mod every_error_code_answers_in_chinese_and_english {
    use super::*;

    /// Room for the two languages of every case under the per-minute limits.
    fn roomy(s: &mut shop_app::config::Settings) {
        s.auth.register_attempts_per_minute = 100;
        s.auth.login_attempts_per_minute = 100;
    }

    #[tokio::test]
    async fn sqlite() {
        super::every_error_code_answers_in_chinese_and_english(
            TestApp::spawn_with(Backend::Sqlite, roomy).await,
        )
        .await;
    }

    #[tokio::test]
    async fn postgres() {
        super::every_error_code_answers_in_chinese_and_english(
            TestApp::spawn_with(Backend::Postgres, roomy).await,
        )
        .await;
    }
}

async fn every_error_code_answers_in_chinese_and_english(app: TestApp) {
    let c = &app.client;
    let url = |p: &str| app.url(p);
    app.create_user("taken", "correct horse", Some("13800000001"), None).await;
    let token = app.login("taken", "correct horse").await;
    let register = url("/api/v1/user/user/mobile_register/");
    let login = url("/api/v1/user/user/mul_login/");

    // 100 and 101: the tutorial's wording (an SMS code per number and minute: two numbers).
    for (mobile, lang, msg) in
        [("13900000002", "zh-CN", "发送短信成功"), ("13900000005", "en", "verification code sent")]
    {
        let sms = url(&format!("/api/v1/user/user/send_sms/?mobile={mobile}"));
        let (status, body) =
            json_of(c.get(&sms).header("Accept-Language", lang).send().await.expect("sms")).await;
        assert_eq!(
            (status, body["code"].as_i64(), body["msg"].as_str()),
            (StatusCode::OK, Some(100), Some(msg))
        );
    }
    let sms = url("/api/v1/user/user/send_sms/?mobile=13900000002");
    let mobile = url("/api/v1/user/user/mobile/?mobile=13900000009");
    expect("101", || c.get(&mobile), StatusCode::OK, 101, "手机号不存在", "not registered").await;
    let mobile = url("/api/v1/user/user/mobile/?mobile=13800000001");
    expect("100 mobile", || c.get(&mobile), StatusCode::OK, 100, "手机号已存在", "is registered").await;
    let lg = json!({"username": "taken", "password": "correct horse"});
    expect("100 login", || c.post(&login).json(&lg), StatusCode::OK, 100, "登录成功", "login succeeded")
        .await;
    // 102
    let bad = url("/api/v1/user/user/send_sms/?mobile=123");
    expect("102", || c.get(&bad), StatusCode::BAD_REQUEST, 102, "手机号不合法", "not a valid mobile number")
        .await;
    // 1000: a password under 8 characters, with the field's message.
    let short = json!({"mobile": "13900000003", "code": "123456", "password": "short"});
    expect(
        "1000",
        || c.post(&register).json(&short),
        StatusCode::BAD_REQUEST,
        1000,
        "密码长度须为 8 到",
        "password must be 8",
    )
    .await;
    // 1001
    expect(
        "1001",
        || c.post(&login).header("content-type", "application/json").body("{\"username\":"),
        StatusCode::BAD_REQUEST,
        1001,
        "JSON 格式错误",
        "malformed JSON",
    )
    .await;
    // 1002
    let huge = json!({"username": "x", "password": "y".repeat(100_000)});
    expect(
        "1002",
        || c.post(&login).json(&huge),
        StatusCode::PAYLOAD_TOO_LARGE,
        1002,
        "请求体过大",
        "too large",
    )
    .await;
    // 1003 (actix's own 405, answered by the envelope)
    let list = url("/api/v1/course/list/");
    expect(
        "1003",
        || c.post(&list),
        StatusCode::METHOD_NOT_ALLOWED,
        1003,
        "不支持该请求方法",
        "method not allowed",
    )
    .await;
    // 1004: a handler's and the router's.
    let missing = url("/api/v1/course/list/9999/");
    expect("1004", || c.get(&missing), StatusCode::NOT_FOUND, 1004, "课程不存在", "course not found").await;
    let nowhere = url("/api/v1/no/such/route/");
    expect("1004 route", || c.get(&nowhere), StatusCode::NOT_FOUND, 1004, "没有这个接口", "no route").await;
    // 1005
    expect(
        "1005",
        || c.post(&login).header("content-type", "text/plain").body("hello"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        1005,
        "请求体必须是 JSON",
        "the body must be JSON",
    )
    .await;
    // 1010
    let me = url("/api/v1/user/user/me/");
    expect("1010", || c.get(&me), StatusCode::UNAUTHORIZED, 1010, "请先登录", "authentication required")
        .await;
    expect(
        "1010 expired",
        || c.get(&me).header("Authorization", "jwt not.a.token"),
        StatusCode::UNAUTHORIZED,
        1010,
        "登录凭证无效",
        "token is malformed",
    )
    .await;
    // 1011
    let wrong = json!({"username": "taken", "password": "wrong password"});
    expect(
        "1011",
        || c.post(&login).json(&wrong),
        StatusCode::UNAUTHORIZED,
        1011,
        "用户名或密码错误",
        "wrong username or password",
    )
    .await;
    // 1012
    let sales = url("/api/v1/admin/sales/");
    expect(
        "1012",
        || c.get(&sales).header("Authorization", format!("jwt {token}")),
        StatusCode::FORBIDDEN,
        1012,
        "没有权限",
        "not allowed",
    )
    .await;
    // 1013
    let wrong_code = json!({"mobile": "13900000004", "code": "000000", "password": "correct horse"});
    expect(
        "1013",
        || c.post(&register).json(&wrong_code),
        StatusCode::BAD_REQUEST,
        1013,
        "验证码错误",
        "wrong or has expired",
    )
    .await;
    // 1014: no email code pending.
    let verify = url("/api/v1/user/user/email/verify/");
    expect(
        "1014",
        || c.post(&verify).header("Authorization", format!("jwt {token}")).json(&json!({"code": "123456"})),
        StatusCode::BAD_REQUEST,
        1014,
        "邮箱验证码错误",
        "email code is wrong",
    )
    .await;
    // 1020
    let again = json!({"mobile": "13800000001", "code": "000000", "password": "correct horse"});
    expect(
        "1020",
        || c.post(&register).json(&again),
        StatusCode::CONFLICT,
        1020,
        "手机号已被注册",
        "already registered",
    )
    .await;
    // 1029: asked again too soon.
    expect("1029", || c.get(&sms), StatusCode::TOO_MANY_REQUESTS, 1029, "操作过于频繁", "too many requests")
        .await;
    // 1042 and 1043
    let expired = app
        .ctx
        .storage()
        .signed_url(
            "c/1/v.mp4",
            std::time::Duration::from_secs(60),
            &app.address,
            chrono::Utc::now() - chrono::Duration::hours(1),
        )
        .await
        .expect("signed URL");
    expect("1042", || c.get(&expired), StatusCode::FORBIDDEN, 1042, "该媒体链接已过期", "has expired").await;
    let unsigned = url("/media/private/c/1/v.mp4");
    expect("1043", || c.get(&unsigned), StatusCode::FORBIDDEN, 1043, "未签名", "not signed").await;
    // An order: owned and free courses (409 and 400 in the list).
    let free = json!({"courses": [1], "total_amount": "0", "subject": "课程", "pay_type": 1});
    let pay = url("/api/v1/order/alipay/");
    expect(
        "free",
        || c.post(&pay).header("Authorization", format!("jwt {token}")).json(&free),
        StatusCode::BAD_REQUEST,
        1000,
        "免费课程无需购买",
        "free courses need no payment",
    )
    .await;
    // No Accept-Language (the Luffy front end's case): the default, Chinese.
    let (_, body) = app.post_json("/api/v1/user/user/mul_login/", &wrong).await;
    assert_eq!(body["msg"], "用户名或密码错误", "{body}");
    // A language the shop does not speak: the default too.
    let res = c.post(&login).header("Accept-Language", "fr-FR").json(&wrong).send().await.expect("request");
    let (_, body) = json_of(res).await;
    assert_eq!(body["msg"], "用户名或密码错误", "{body}");

    // 1050: the database is gone (Postgres only: SQLite cannot be cut).
    if app.db_url.starts_with("postgres") {
        app.cut_database().await;
        let ready = url("/readyz");
        expect(
            "1050",
            || c.get(&ready),
            StatusCode::SERVICE_UNAVAILABLE,
            1050,
            "服务暂时不可用",
            "service unavailable",
        )
        .await;
        app.restore_database().await;
    }
}

with_gateway_on_both_backends!(owned_courses_and_used_links_answer_in_both_languages);

async fn owned_courses_and_used_links_answer_in_both_languages(app: TestApp, gw: FakeGateway) {
    let c = &app.client;
    app.upload(3, "notes.pdf", b"v1", MediaTarget::Material { name: "notes".into(), version: "1".into() })
        .await;
    let token = app.buyer_with_email("reader").await;
    let auth = format!("jwt {token}");
    let (no, fen) = app.order(&token, &[3]).await;
    // 101 from the status query, in the tutorial's words.
    let status_url = app.url(&format!("/api/v1/order/success/?out_trade_no={no}"));
    expect("101 unpaid", || c.get(&status_url), StatusCode::OK, 101, "暂未收到您的付款", "not received yet")
        .await;
    app.pay(&gw, &no, fen).await;
    expect("100 paid", || c.get(&status_url), StatusCode::OK, 100, "支付成功", "payment received").await;

    // 409: the course is owned.
    let (_, course) = app.get_json("/api/v1/course/list/3/").await;
    let body = json!({"courses": [3], "total_amount": course["price"], "subject": "课程", "pay_type": 1});
    let pay = app.url("/api/v1/order/alipay/");
    expect(
        "1020 owned",
        || c.post(&pay).header("Authorization", &auth).json(&body),
        StatusCode::CONFLICT,
        1020,
        "您已购买课程 3",
        "you already own course 3",
    )
    .await;

    // 1040: the link's downloads are used up.
    let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
    let url = mine["result"][0]["downloads"][0]["url"].as_str().expect("url").to_owned();
    for _ in 0..5 {
        assert_eq!(c.get(&url).send().await.expect("download").status(), StatusCode::OK);
    }
    expect("1040", || c.get(&url), StatusCode::GONE, 1040, "下载次数已用完", "no downloads are left").await;
    // The page a browser gets, in its language.
    for (lang, heading, text) in
        [("zh-CN", "<h1>已失效</h1>", "下载次数已用完"), ("en", "<h1>Gone</h1>", "no downloads are left")]
    {
        let res = c
            .get(&url)
            .header("Accept", "text/html")
            .header("Accept-Language", lang)
            .send()
            .await
            .expect("page");
        let page = res.text().await.expect("html");
        assert!(page.contains(heading) && page.contains(text), "{lang}: {page}");
    }

    // 1041: refunded.
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    shop_app::payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    app.drain_outbox().await;
    expect("1041", || c.get(&url), StatusCode::GONE, 1041, "链接已失效", "no longer works").await;
}

on_both_backends!(the_result_page_and_the_cashier_speak_the_buyers_language);

async fn the_result_page_and_the_cashier_speak_the_buyers_language(app: TestApp) {
    let c = &app.client;
    let token = app.buyer("pages").await;
    let (_, course) = app.get_json("/api/v1/course/list/2/").await;
    let body = json!({"courses": [2], "total_amount": course["price"], "subject": "课程", "pay_type": 1});
    let (status, order) = app.buy(&token, &body, None).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["msg"], "订单创建成功");
    let pay_url = order["pay_url"].as_str().expect("pay_url").to_owned();
    let no = order["out_trade_no"].as_str().expect("no").to_owned();
    let page = |url: String, lang: &'static str| async move {
        let res = c
            .get(&url)
            .header("Accept", "text/html")
            .header("Accept-Language", lang)
            .send()
            .await
            .expect("page");
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.expect("html")
    };
    let zh = page(pay_url.clone(), "zh").await;
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("确认付款") && zh.contains("订单号"), "{zh}");
    let en = page(pay_url, "en").await;
    assert!(
        en.contains("<html lang=\"en\">") && en.contains(">Pay</button>") && !en.contains("确认付款"),
        "{en}"
    );
    let result = app.url(&format!("/pay/result/?out_trade_no={no}"));
    let zh = page(result.clone(), "zh-CN").await;
    assert!(zh.contains("<h1>等待支付结果</h1>") && !zh.contains("refresh"), "{zh}");
    let en = page(result, "en").await;
    assert!(en.contains("<h1>Waiting for the payment</h1>") && !en.contains("等待"), "{en}");
    // Every page names the icon, which is served.
    assert!(zh.contains("<link rel=\"icon\" href=\"/favicon.ico\">"), "{zh}");
}

#[tokio::test]
async fn the_default_language_is_a_setting() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.api.default_language = shop_app::i18n::Lang::En).await;
    let (_, body) = app
        .post_json("/api/v1/user/user/mul_login/", &json!({"username": "x", "password": "yyyyyyyy"}))
        .await;
    assert_eq!(body["msg"], "wrong username or password", "{body}");
    let res = app
        .client
        .post(app.url("/api/v1/user/user/mul_login/"))
        .header("Accept-Language", "zh")
        .json(&json!({"username": "x", "password": "yyyyyyyy"}))
        .send()
        .await
        .expect("request");
    assert_eq!(json_of(res).await.1["msg"], "用户名或密码错误");
}

#[tokio::test]
async fn the_compatibility_switch_leaves_routing_404s_and_serves_a_favicon() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.api.business_errors_as_200 = true).await;
    let res = app.client.get(app.url("/favicon.ico")).send().await.expect("favicon");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/x-icon");
    let bytes = res.bytes().await.expect("bytes");
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO file");
    for path in ["/apple-touch-icon.png", "/api/v1/no/such/route/", "/robots.txt"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::NOT_FOUND, Some(1004)), "{path}: {body}");
    }
    // Our handlers' business errors still answer 200.
    let (status, body) = app.get_json("/api/v1/course/list/9999/").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(1004)), "{body}");
}
