//! The seller's console (`/admin/`) and its API (`/api/v1/admin/`): administrators only,
//! a session cookie (HttpOnly, SameSite=Strict, Secure over https), CSRF tokens on every
//! change of a session, logout, login rate limits; on SQLite and Postgres.
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, json_of};
use crate::on_both_backends;

pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// A console session: its cookie header value and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Makes an administrator through the operator use case (`course-shop user add --admin`).
    pub async fn admin_user(&self, username: &str) -> i64 {
        shop_app::accounts::add_user(
            &self.ctx.accounts(),
            shop_app::accounts::AddUser {
                username: username.into(),
                email: None,
                mobile: None,
                password: secrecy::SecretString::from(ADMIN_PASSWORD.to_owned()),
                admin: true,
            },
        )
        .await
        .expect("admin")
        .id
    }

    /// Logs in to the console: the raw answer.
    pub async fn console_login_raw(&self, username: &str, password: &str) -> (StatusCode, HeaderMap, Value) {
        let res = self
            .client
            .post(self.url("/api/v1/admin/session/"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("request");
        let headers = res.headers().clone();
        let (status, body) = json_of(res).await;
        (status, headers, body)
    }

    /// A new administrator and its console session.
    pub async fn console_session(&self, username: &str) -> Session {
        self.admin_user(username).await;
        let (status, headers, body) = self.console_login_raw(username, ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let set = headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()).expect("Set-Cookie");
        let cookie = set.split(';').next().expect("name=value").to_owned();
        Session { cookie, csrf: body["result"]["csrf_token"].as_str().expect("csrf").to_owned() }
    }

    /// A request of a console session; `csrf` decides the `X-CSRF-Token` header.
    pub async fn console_send(
        &self,
        method: reqwest::Method,
        path: &str,
        session: &Session,
        csrf: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path)).header("Cookie", &session.cookie);
        if let Some(token) = csrf {
            req = req.header("X-CSRF-Token", token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        json_of(req.send().await.expect("request")).await
    }

    /// A POST of a console session with its CSRF token.
    pub async fn console_post(&self, path: &str, session: &Session, body: &Value) -> (StatusCode, Value) {
        self.console_send(reqwest::Method::POST, path, session, Some(&session.csrf.clone()), Some(body)).await
    }

    /// A GET of a console session.
    pub async fn console_get(&self, path: &str, session: &Session) -> (StatusCode, Value) {
        self.console_send(reqwest::Method::GET, path, session, None, None).await
    }

    /// A console page's HTML.
    pub async fn console_page(&self, path: &str, session: &Session) -> String {
        let res =
            self.client.get(self.url(path)).header("Cookie", &session.cookie).send().await.expect("page");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.text().await.expect("html")
    }

    /// Who an admin endpoint must refuse: a normal user's token, and an administrator's
    /// console session (whose POSTs without the CSRF token are refused).
    pub async fn refusers(&self) -> Refusers {
        let name = format!("u{}", rand_suffix());
        self.create_user(&name, "a normal password", None, None).await;
        let user_token = self.login(&name, "a normal password").await;
        Refusers { user_token, admin: self.console_session(&format!("a{}", rand_suffix())).await }
    }

    /// Every way an admin endpoint must refuse: anonymous 401, a normal user's token 403,
    /// and, for a POST, a console session without (or with another) CSRF token 403 (1015).
    pub async fn assert_admin_only(&self, who: &Refusers, method: reqwest::Method, path: &str, body: &Value) {
        let send = |auth: Option<String>| {
            let mut req = self.client.request(method.clone(), self.url(path)).json(body);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send()
        };
        let (status, answer) = json_of(send(None).await.expect("request")).await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::UNAUTHORIZED, Some(1010)),
            "{path}: {answer}"
        );
        let (status, answer) =
            json_of(send(Some(format!("jwt {}", who.user_token))).await.expect("request")).await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::FORBIDDEN, Some(1012)),
            "{path}: {answer}"
        );
        if method == reqwest::Method::POST {
            for csrf in [None, Some("0".repeat(64))] {
                let (status, answer) =
                    self.console_send(method.clone(), path, &who.admin, csrf.as_deref(), Some(body)).await;
                assert_eq!(
                    (status, answer["code"].as_i64()),
                    (StatusCode::FORBIDDEN, Some(1015)),
                    "{path} {csrf:?}: {answer}"
                );
            }
        }
    }
}

/// See [`TestApp::refusers`].
pub struct Refusers {
    pub user_token: String,
    pub admin: Session,
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn admin_session_cookie_csrf_and_logout(app: TestApp) {
    let who = app.refusers().await;
    app.assert_admin_only(&who, reqwest::Method::GET, "/api/v1/admin/session/", &json!({})).await;
    app.assert_admin_only(&who, reqwest::Method::POST, "/api/v1/admin/session/logout/", &json!({})).await;
    app.assert_admin_only(&who, reqwest::Method::GET, "/api/v1/admin/sales/", &json!({})).await;

    // A normal user cannot open a console session at all.
    app.create_user("buyer", "a normal password", None, None).await;
    let (status, headers, body) = app.console_login_raw("buyer", "a normal password").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::FORBIDDEN, Some(1012)), "{body}");
    assert!(headers.get(SET_COOKIE).is_none(), "no session for a non-admin");
    // Validation and wrong passwords.
    let (status, _, body) = app.console_login_raw("", "x").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{body}");
    assert_eq!(body["errors"]["username"][0], "不能为空", "Chinese by default: {body}");
    app.admin_user("boss").await;
    let (status, headers, body) = app.console_login_raw("boss", "wrong password").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(1011)), "{body}");
    assert!(headers.get(SET_COOKIE).is_none());

    let (status, headers, body) = app.console_login_raw("boss", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set = headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()).expect("Set-Cookie").to_owned();
    assert!(set.starts_with("console_session="), "{set}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let token =
        set.split(';').next().and_then(|p| p.split_once('=')).map(|(_, v)| v.to_owned()).expect("value");
    assert_eq!(token.len(), 64);
    // Only the token's hash is stored.
    let stored: Vec<shop_db::entities::console_session::Model> =
        <shop_db::entities::console_session::Entity as sea_orm::EntityTrait>::find()
            .all(app.ctx.db())
            .await
            .expect("rows");
    assert!(!stored.is_empty() && stored.iter().all(|row| row.id != token && !row.id.contains(&token)));
    let session = Session {
        cookie: format!("console_session={token}"),
        csrf: body["result"]["csrf_token"].as_str().expect("csrf").to_owned(),
    };
    let (status, me) = app.console_get("/api/v1/admin/session/", &session).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["result"]["username"], "boss");
    assert_eq!(me["result"]["csrf_token"], session.csrf.as_str());
    // The session reads the admin API too.
    let (status, sales) = app.console_get("/api/v1/admin/sales/", &session).await;
    assert_eq!(status, StatusCode::OK, "{sales}");

    // A change without the session's CSRF token is refused and changes nothing.
    let (status, body) =
        app.console_send(reqwest::Method::POST, "/api/v1/admin/session/logout/", &session, None, None).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::FORBIDDEN, Some(1015)), "{body}");
    assert_eq!(app.console_get("/api/v1/admin/session/", &session).await.0, StatusCode::OK);

    // Logout ends the session on the server and clears the cookie.
    let res = app
        .client
        .post(app.url("/api/v1/admin/session/logout/"))
        .header("Cookie", &session.cookie)
        .header("X-CSRF-Token", &session.csrf)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = res.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).expect("cleared").to_owned();
    assert!(cleared.starts_with("console_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let (status, body) = app.console_get("/api/v1/admin/session/", &session).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(1010)), "{body}");
    let (status, _) = app.console_post("/api/v1/admin/session/logout/", &session, &json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an ended session stays ended");

    // A session whose account stops being an administrator is refused on the next request.
    let again = app.console_session("deputy").await;
    assert_eq!(app.console_get("/api/v1/admin/session/", &again).await.0, StatusCode::OK);
    sea_orm::ConnectionTrait::execute_unprepared(
        app.ctx.db(),
        "UPDATE users SET role = 'user' WHERE username = 'deputy'",
    )
    .await
    .expect("demoted");
    let (status, body) = app.console_get("/api/v1/admin/session/", &again).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::FORBIDDEN, Some(1012)), "{body}");
}

async fn console_pages_need_a_session(app: TestApp) {
    let res = app.client.get(app.url("/admin/")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/login/");
    let res = app.client.get(app.url("/admin/login/?lang=en")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-security-policy"].to_str().expect("csp").contains("script-src 'self'"));
    assert!(
        res.headers()
            .get(SET_COOKIE)
            .is_some_and(|c| c.to_str().is_ok_and(|c| c.starts_with("console_lang=en")))
    );
    let html = res.text().await.expect("body");
    assert!(html.contains("Log in") && html.contains("/admin/static/console.js"), "{html}");
    assert!(!html.contains("<script>"), "no inline script: {html}");
    let zh =
        app.client.get(app.url("/admin/login/")).send().await.expect("request").text().await.expect("body");
    assert!(zh.contains("登录"), "{zh}");

    let session = app.console_session("boss").await;
    let page = |path: &'static str| {
        app.client.get(app.url(path)).header("Cookie", &session.cookie).header("Accept", "text/html").send()
    };
    let res = page("/admin/").await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("body");
    assert!(html.contains(&format!("<meta name=\"csrf-token\" content=\"{}\">", session.csrf)), "{html}");
    assert!(html.contains("boss"), "{html}");
    // Logged in, the login page goes home.
    assert_eq!(page("/admin/login/").await.expect("request").status(), StatusCode::SEE_OTHER);

    let res = app.client.get(app.url("/admin/static/console.js")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().expect("type").starts_with("text/javascript"));
    assert!(res.text().await.expect("body").contains("X-CSRF-Token"));
    assert_eq!(app.client.get(app.url("/admin/static/nope.js")).send().await.expect("request").status(), 404);
}

on_both_backends!(admin_session_cookie_csrf_and_logout, console_pages_need_a_session);

/// Console logins count against the login limit per client address.
#[tokio::test]
async fn console_logins_are_rate_limited() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| s.auth.login_attempts_per_minute = 2).await;
        app.admin_user("boss").await;
        let now = chrono::Utc::now().timestamp();
        if 60 - now.rem_euclid(60) < 10 {
            tokio::time::sleep(std::time::Duration::from_secs(11)).await;
        }
        for _ in 0..2 {
            assert_eq!(app.console_login_raw("boss", "wrong password").await.0, StatusCode::UNAUTHORIZED);
        }
        let (status, headers, body) = app.console_login_raw("boss", ADMIN_PASSWORD).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::TOO_MANY_REQUESTS, Some(1029)), "{body}");
        assert!(headers.get("retry-after").is_some() && headers.get(SET_COOKIE).is_none());
    }
}

/// Served over https, the session cookie is Secure.
#[tokio::test]
async fn the_session_cookie_is_secure_over_https() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.server.public_url = "https://shop.example".into()).await;
    app.admin_user("boss").await;
    let (status, headers, _) = app.console_login_raw("boss", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let set = headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()).expect("Set-Cookie");
    assert!(set.contains("; Secure"), "{set}");
}

/// The order search, an order's page and refunds (with their confirmation step), through
/// the admin API and the console's pages.
async fn orders_are_searched_audited_and_refunded(app: TestApp, gw: crate::fake_alipay::FakeGateway) {
    app.create_user("shopper", "correct horse", Some("13800138000"), Some("shopper@example.com")).await;
    let token = app.login("shopper", "correct horse").await;
    let other = app.buyer("someone").await;
    let (paid, fen) = app.order(&token, &[7]).await;
    let (_unpaid, _) = app.order(&token, &[8]).await;
    let (_theirs, _) = app.order(&other, &[8]).await;
    app.pay(&gw, &paid, fen).await;
    gw.set_trade(&paid, fen, shop_alipay::TradeStatus::TradeSuccess);

    let who = app.refusers().await;
    let detail_path = format!("/api/v1/admin/orders/{paid}/");
    let refund_path = format!("/api/v1/admin/orders/{paid}/refund/");
    app.assert_admin_only(&who, reqwest::Method::GET, "/api/v1/admin/orders/", &json!({})).await;
    app.assert_admin_only(&who, reqwest::Method::GET, &detail_path, &json!({})).await;
    app.assert_admin_only(&who, reqwest::Method::POST, &refund_path, &json!({"confirm": true})).await;
    let boss = app.console_session("boss").await;

    // Search: by buyer's mobile, email or username; status; provider; day; number.
    for q in ["buyer=13800138000", "buyer=SHOPPER@example.com", "buyer=shopper"] {
        let (status, body) = app.console_get(&format!("/api/v1/admin/orders/?{q}"), &boss).await;
        assert_eq!((status, body["result"]["count"].as_u64()), (StatusCode::OK, Some(2)), "{q}: {body}");
    }
    let today = shop_domain::time::beijing_day(chrono::Utc::now());
    let (_, body) = app
        .console_get(
            &format!(
                "/api/v1/admin/orders/?buyer=shopper&status=paid&provider=alipay&from={today}&to={today}"
            ),
            &boss,
        )
        .await;
    assert_eq!(body["result"]["count"], 1, "{body}");
    assert_eq!(body["result"]["results"][0]["out_trade_no"], paid.as_str());
    assert_eq!(body["result"]["results"][0]["buyer"], "shopper");
    let (_, body) = app.console_get(&format!("/api/v1/admin/orders/?out_trade_no={paid}"), &boss).await;
    assert_eq!(body["result"]["count"], 1);
    let (_, body) = app.console_get("/api/v1/admin/orders/?buyer=nobody", &boss).await;
    assert_eq!(body["result"]["count"], 0);
    let tomorrow = today.succ_opt().expect("day");
    let (_, body) = app.console_get(&format!("/api/v1/admin/orders/?from={tomorrow}"), &boss).await;
    assert_eq!(body["result"]["count"], 0);
    let (_, body) = app.console_get("/api/v1/admin/orders/", &boss).await;
    assert_eq!(body["result"]["count"], 3);
    for (q, field) in [("status=lost", "status"), ("from=yesterday", "from"), ("provider=cash", "provider")] {
        let (status, body) = app.console_get(&format!("/api/v1/admin/orders/?{q}"), &boss).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{body}");
        assert!(body["errors"][field].is_array(), "{body}");
    }

    // The order's page: lines, the notify received, the jobs, no refund yet.
    let (status, body) = app.console_get(&detail_path, &boss).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["result"];
    assert_eq!(r["order"]["status"], "paid");
    assert_eq!(r["lines"][0]["course_id"], 7);
    assert_eq!(r["notifies"][0]["verdict"], "accepted", "{body}");
    assert!(r["jobs"].as_array().expect("jobs").iter().any(|j| j["kind"] == "order_paid"), "{body}");
    assert_eq!(r["refunds"], json!([]));
    assert_eq!(r["refundable"], shop_domain::Money::from_fen(fen).expect("m").to_string());
    assert_eq!(app.console_get("/api/v1/admin/orders/CS-nope/", &boss).await.0, StatusCode::NOT_FOUND);

    // Refunds: validation, the confirmation step (nothing done), partial, the rest, nothing left.
    for (body, field) in
        [(json!({"amount": "abc"}), "amount"), (json!({"reason": "x".repeat(201)}), "reason")]
    {
        let (status, answer) = app.console_post(&refund_path, &boss, &body).await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{answer}");
        assert!(answer["errors"][field].is_array(), "{answer}");
    }
    let too_much = shop_domain::Money::from_fen(fen + 1).expect("m").to_string();
    let (status, _) =
        app.console_post(&refund_path, &boss, &json!({"amount": too_much, "confirm": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = app.console_post(&refund_path, &boss, &json!({"amount": "1.00"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["needs_confirmation"], true);
    assert!(answer["result"]["confirmation"].as_str().expect("question").contains("1.00"), "{answer}");
    assert!(
        shop_db::payments::refunds_of(app.ctx.db(), app.order_row(&paid).await.id)
            .await
            .expect("rows")
            .is_empty()
    );
    let (status, answer) =
        app.console_post(&refund_path, &boss, &json!({"amount": "1.00", "confirm": true})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["status"], "succeeded", "{answer}");
    assert_eq!(gw.refunded_fen(&paid), 100);
    let (_, answer) =
        app.console_post(&refund_path, &boss, &json!({"confirm": true, "reason": "sorry"})).await;
    assert_eq!(answer["result"]["status"], "succeeded", "{answer}");
    assert_eq!(gw.refunded_fen(&paid), fen);
    let (status, answer) = app.console_post(&refund_path, &boss, &json!({"confirm": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (_, body) = app.console_get(&detail_path, &boss).await;
    assert_eq!(body["result"]["order"]["status"], "refunded", "{body}");
    assert_eq!(body["result"]["refunds"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["result"]["refunds"][1]["reason"], "sorry");
    assert_eq!(body["result"]["refundable"], "0.00");

    // The console's pages show the same.
    let page = |path: String| app.client.get(app.url(&path)).header("Cookie", &boss.cookie).send();
    let html = page("/admin/orders/?buyer=13800138000&lang=en".into())
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains(&format!("/admin/orders/{paid}/")) && html.contains("shopper"), "{html}");
    let html = page("/admin/orders/?from=yesterday".into()).await.expect("page").text().await.expect("html");
    assert!(html.contains("&#34;yesterday&#34; 不是 YYYY-MM-DD 格式"), "the error beside its field: {html}");
    let html = page(format!("/admin/orders/{paid}/")).await.expect("page").text().await.expect("html");
    assert!(
        html.contains("sorry") && html.contains("order_paid") && html.contains("TRADE_SUCCESS"),
        "{html}"
    );
    assert!(html.contains("此订单没有可退的款项"), "{html}");
}

crate::with_gateway_on_both_backends!(orders_are_searched_audited_and_refunded);

/// Polls the public API until `path` answers 200 with a body `ready` accepts (the catalog
/// refresher runs every `catalog.refresh_seconds`, 1 s in tests): at most 5 s.
pub async fn public_soon(app: &TestApp, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..50 {
        let (status, body) = app.get_json(path).await;
        if status == StatusCode::OK && ready(&body) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} did not appear in the public API");
}

pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

/// Categories, teachers, courses (every field), chapters, sections, a cover, a section's
/// video and a material version, through the admin API; validation names the field and
/// saves nothing; the public API shows the result.
async fn the_catalog_is_edited_through_the_admin_api(app: TestApp) {
    let course_body = json!({"name": "Rust 实战", "course_type": 1, "category_id": null, "teacher_id": 1,
        "brief": "<p>从零开始</p>", "level": 1, "status": 0, "price": "199.00", "period": 180});
    let who = app.refusers().await;
    for (method, path, body) in [
        (reqwest::Method::GET, "/api/v1/admin/catalog/", json!({})),
        (reqwest::Method::POST, "/api/v1/admin/categories/", json!({"name": "x"})),
        (reqwest::Method::POST, "/api/v1/admin/teachers/", json!({"name": "x"})),
        (reqwest::Method::POST, "/api/v1/admin/courses/", course_body.clone()),
        (reqwest::Method::POST, "/api/v1/admin/courses/1/chapters/", json!({"chapter": 9, "name": "x"})),
        (reqwest::Method::POST, "/api/v1/admin/chapters/1/sections/", json!({"name": "x"})),
        (reqwest::Method::POST, "/api/v1/admin/courses/1/cover/?filename=a.png", json!({})),
        (reqwest::Method::POST, "/api/v1/admin/courses/1/media/?filename=a.mp4&section=1", json!({})),
    ] {
        app.assert_admin_only(&who, method, path, &body).await;
    }
    let boss = app.console_session("boss").await;
    let revision = shop_db::catalog::revision(app.ctx.db()).await.expect("revision");

    // Validation: the field is named and nothing is written.
    let count = shop_db::catalog::course_count(app.ctx.db()).await.expect("count");
    for (change, field) in [
        (json!({"name": " "}), "name"),
        (json!({"teacher_id": 999}), "teacher_id"),
        (json!({"category_id": 999}), "category_id"),
        (json!({"course_type": 7}), "course_type"),
        (json!({"level": 9}), "level"),
        (json!({"status": 5}), "status"),
        (json!({"price": "12.345"}), "price"),
        (json!({"period": -1}), "period"),
    ] {
        let mut body = course_body.clone();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, answer) = app.console_post("/api/v1/admin/courses/", &boss, &body).await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(1000)),
            "{field}: {answer}"
        );
        assert!(answer["errors"][field].is_array(), "{field}: {answer}");
    }
    assert_eq!(
        shop_db::catalog::course_count(app.ctx.db()).await.expect("count"),
        count,
        "nothing half-saved"
    );
    assert_eq!(shop_db::catalog::revision(app.ctx.db()).await.expect("revision"), revision);

    let (status, answer) =
        app.console_post("/api/v1/admin/categories/", &boss, &json!({"name": "系统编程"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let category = answer["result"]["id"].as_i64().expect("id");
    let (status, answer) =
        app.console_post("/api/v1/admin/teachers/", &boss, &json!({"name": "Ferris", "role": 5})).await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["role"].is_array(), "{answer}");
    let (_, answer) = app
        .console_post(
            "/api/v1/admin/teachers/",
            &boss,
            &json!({"name": "Ferris", "role": 0, "title": "Crab"}),
        )
        .await;
    let teacher = answer["result"]["id"].as_i64().expect("id");
    let mut body = course_body.clone();
    body["category_id"] = json!(category);
    body["teacher_id"] = json!(teacher);
    let (status, answer) = app.console_post("/api/v1/admin/courses/", &boss, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let course = answer["result"]["id"].as_i64().expect("id");
    let (status, answer) = app
        .console_post(
            &format!("/api/v1/admin/courses/{course}/chapters/"),
            &boss,
            &json!({"chapter": 0, "name": "x"}),
        )
        .await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["chapter"].is_array(), "{answer}");
    let (_, answer) = app
        .console_post(
            &format!("/api/v1/admin/courses/{course}/chapters/"),
            &boss,
            &json!({"chapter": 1, "name": "入门"}),
        )
        .await;
    let chapter = answer["result"]["id"].as_i64().expect("id");
    let (status, answer) = app
        .console_post(
            &format!("/api/v1/admin/chapters/{chapter}/sections/"),
            &boss,
            &json!({"name": "Hello", "duration": "05:00", "free_trail": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let section = answer["result"]["id"].as_i64().expect("id");
    assert_eq!(
        app.console_post("/api/v1/admin/chapters/999999/sections/", &boss, &json!({"name": "x"})).await.0,
        404
    );

    // Uploads: the cover (an image only), the section's video, a material version.
    let upload = |path: String, bytes: &'static [u8]| {
        app.client
            .post(app.url(&path))
            .header("Cookie", &boss.cookie)
            .header("X-CSRF-Token", &boss.csrf)
            .header("Content-Type", "application/octet-stream")
            .body(bytes)
            .send()
    };
    let (status, answer) = json_of(
        upload(format!("/api/v1/admin/courses/{course}/cover/?filename=evil.svg"), b"<svg/>")
            .await
            .expect("r"),
    )
    .await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["cover"].is_array(), "{answer}");
    let (status, answer) = json_of(
        upload(format!("/api/v1/admin/courses/{course}/cover/?filename=c.png"), b"not a png")
            .await
            .expect("r"),
    )
    .await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["cover"].is_array(), "{answer}");
    let (status, answer) = json_of(
        upload(format!("/api/v1/admin/courses/{course}/cover/?filename=c.png"), PNG).await.expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let cover = answer["result"]["path"].as_str().expect("path").to_owned();
    let (status, answer) = json_of(
        upload(
            format!("/api/v1/admin/courses/{course}/media/?filename=hello.mp4&section={section}"),
            b"video bytes",
        )
        .await
        .expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["result"]["path"].as_str().expect("key").ends_with("/hello.mp4"), "{answer}");
    let (status, answer) = json_of(
        upload(
            format!("/api/v1/admin/courses/{course}/media/?filename=slides.pdf&material=slides&version=1"),
            b"%PDF",
        )
        .await
        .expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = json_of(
        upload(format!("/api/v1/admin/courses/{course}/media/?filename=x.mp4"), b"x").await.expect("r"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The public API shows it all within catalog.refresh_seconds.
    let public = public_soon(&app, &format!("/api/v1/course/list/{course}/"), |b| {
        b["course_img"].as_str().is_some_and(|img| img.ends_with(&cover))
    })
    .await;
    assert_eq!(public["name"], "Rust 实战");
    assert_eq!(public["price"], "199.00");
    assert_eq!(public["period"], 180);
    assert!(public["course_img"].as_str().expect("img").ends_with(&cover), "{public}");
    assert_eq!(public["teacher"]["name"], "Ferris", "{public}");
    let res = app.client.get(app.url(&format!("/media/{cover}"))).send().await.expect("cover");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), PNG);
    let (_, chapters) = app.get_json(&format!("/api/v1/course/chapter/?course={course}")).await;
    assert!(chapters.to_string().contains("Hello"), "{chapters}");

    // The console's pages show the course and its parts.
    let page = |path: String| app.client.get(app.url(&path)).header("Cookie", &boss.cookie).send();
    let html = page("/admin/catalog/".into()).await.expect("page").text().await.expect("html");
    assert!(
        html.contains(&format!("/admin/catalog/courses/{course}/")) && html.contains("Rust 实战"),
        "{html}"
    );
    let html = page(format!("/admin/catalog/courses/{course}/?lang=en"))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("hello.mp4") && html.contains("slides") && html.contains(&cover), "{html}");
}

on_both_backends!(the_catalog_is_edited_through_the_admin_api);

/// Updates to buyers through the notify-buyers use case: the count before sending, sending,
/// the progress and who was not reached.
async fn updates_are_counted_sent_and_followed(app: TestApp, gw: crate::fake_alipay::FakeGateway) {
    let who = app.refusers().await;
    let body = json!({"course_id": 7, "subject": "第二版", "message": "新内容已上线"});
    app.assert_admin_only(&who, reqwest::Method::GET, "/api/v1/admin/campaigns/", &json!({})).await;
    app.assert_admin_only(&who, reqwest::Method::POST, "/api/v1/admin/campaigns/", &body).await;
    let with_email = app.buyer_with_email("reader").await;
    let without = app.buyer("silent").await;
    for token in [&with_email, &without] {
        let (no, fen) = app.order(token, &[7]).await;
        app.pay(&gw, &no, fen).await;
    }
    let boss = app.console_session("boss").await;
    for (change, field) in [
        (json!({"subject": " "}), "subject"),
        (json!({"message": ""}), "message"),
        (json!({"new_version": "9"}), "new_version"),
    ] {
        let mut b = body.clone();
        for (k, v) in change.as_object().expect("object") {
            b[k] = v.clone();
        }
        let (status, answer) = app.console_post("/api/v1/admin/campaigns/", &boss, &b).await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{answer}");
        assert!(answer["errors"][field].is_array(), "{field}: {answer}");
    }
    let mut unknown = body.clone();
    unknown["course_id"] = json!(999_999);
    assert_eq!(app.console_post("/api/v1/admin/campaigns/", &boss, &unknown).await.0, StatusCode::NOT_FOUND);

    // Counted first; nothing is sent.
    let (status, answer) = app.console_post("/api/v1/admin/campaigns/", &boss, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["needs_confirmation"], true);
    assert_eq!(
        (answer["result"]["owners"].as_u64(), answer["result"]["with_email"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(answer["result"]["confirmation"].as_str().expect("q").contains("2"), "{answer}");
    let (_, history) = app.console_get("/api/v1/admin/campaigns/", &boss).await;
    assert_eq!(history["result"], json!([]));

    let mut confirmed = body.clone();
    confirmed["confirm"] = json!(true);
    let (status, answer) = app.console_post("/api/v1/admin/campaigns/", &boss, &confirmed).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["queued"], 2);
    let (_, history) = app.console_get("/api/v1/admin/campaigns/", &boss).await;
    assert_eq!(history["result"][0]["pending"], 2, "{history}");
    app.drain_outbox().await;
    let (_, history) = app.console_get("/api/v1/admin/campaigns/", &boss).await;
    let c = &history["result"][0];
    assert_eq!(
        (c["done"].as_u64(), c["pending"].as_u64(), c["recipients"].as_u64()),
        (Some(2), Some(0), Some(2)),
        "{history}"
    );
    assert_eq!(c["unreached"], json!([{"username": "silent", "reason": "no email address"}]), "{history}");
    // Sending again skips who got it.
    let (_, answer) = app.console_post("/api/v1/admin/campaigns/", &boss, &confirmed).await;
    assert_eq!(
        (answer["result"]["rerun"].as_bool(), answer["result"]["queued"].as_u64()),
        (Some(true), Some(0))
    );

    let html = app.console_page("/admin/updates/", &boss).await;
    assert!(html.contains("第二版") && html.contains("silent"), "{html}");
}

crate::with_gateway_on_both_backends!(updates_are_counted_sent_and_followed);

/// The sales page draws the report's figures as SVG charts, on the server.
async fn the_sales_page_draws_charts(app: TestApp, gw: crate::fake_alipay::FakeGateway) {
    let token = app.buyer("shopper").await;
    let (no, fen) = app.order(&token, &[7]).await;
    app.pay(&gw, &no, fen).await;
    let boss = app.console_session("boss").await;
    let page = |path: &'static str| app.client.get(app.url(path)).header("Cookie", &boss.cookie).send();
    let res = page("/admin/sales/?period=week&lang=en").await.expect("page");
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    for id in ["chart-revenue", "chart-orders", "chart-courses", "chart-refunds"] {
        assert!(html.contains(&format!("<svg id=\"{id}\"")) || id == "chart-refunds", "{id}: {html}");
    }
    let price = shop_domain::Money::from_fen(fen).expect("m").to_string();
    assert!(html.contains(&format!("Revenue: {price}")), "a bar's value: {html}");
    assert!(html.contains("<rect") && !html.contains("<script>"), "{html}");
    let html = page("/admin/sales/?since=soon").await.expect("page").text().await.expect("html");
    assert!(html.contains("&#34;soon&#34; 不是 YYYY-MM-DD 格式的日期"), "{html}");
    assert_eq!(
        app.client.get(app.url("/admin/sales/")).send().await.expect("page").status(),
        StatusCode::SEE_OTHER
    );
}

crate::with_gateway_on_both_backends!(the_sales_page_draws_charts);

/// The checkout funnel: course views counted on the server once per visitor, course and day
/// (bots left out), the `ref` carried from the view to the order, and views → orders → paid →
/// refunds per course and ref in the admin sales endpoint and the sales page.
async fn the_funnel_follows_views_to_paid_orders_per_ref(app: TestApp, gw: crate::fake_alipay::FakeGateway) {
    let view = |ua: &'static str, q: &'static str| {
        let mut req = app.client.get(app.url(&format!("/api/v1/course/list/7/{q}")));
        if !ua.is_empty() {
            req = req.header("User-Agent", ua);
        }
        req.send()
    };
    for (ua, q) in [
        ("Mozilla/5.0 (A)", "?ref=spring-a"),
        ("Mozilla/5.0 (A)", "?ref=spring-a"),
        ("Mozilla/5.0 (A)", ""),
        ("Mozilla/5.0 (B)", "?ref=spring-b"),
        ("Googlebot/2.1", "?ref=spring-a"),
        ("", "?ref=spring-a"),
        ("Mozilla/5.0 (C)", "?ref=<bad>"),
    ] {
        assert_eq!(view(ua, q).await.expect("view").status(), StatusCode::OK);
    }
    let stored = || async {
        <shop_db::entities::course_view::Entity as sea_orm::EntityTrait>::find()
            .all(app.ctx.db())
            .await
            .expect("rows")
    };
    for _ in 0..40 {
        if stored().await.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rows = stored().await;
    assert_eq!(rows.len(), 3, "A once, B once, C once; no bots: {rows:?}");
    assert!(rows.iter().all(|r| r.visitor.len() == 32 && !r.visitor.contains("Mozilla")), "{rows:?}");
    let mut refs: Vec<&str> = rows.iter().map(|r| r.ref_tag.as_str()).collect();
    refs.sort_unstable();
    assert_eq!(refs, ["", "spring-a", "spring-b"], "the first view's ref; a bad ref is dropped");

    let token = app.buyer("shopper").await;
    let buy = |r: Value| {
        let mut body = json!({"courses": [7], "total_amount": "249.00", "subject": "课程", "pay_type": 1});
        if !r.is_null() {
            body["ref"] = r;
        }
        body
    };
    let (status, answer) = app.buy(&token, &buy(json!("<bad>")), None).await;
    assert_eq!((status, answer["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{answer}");
    assert!(answer["errors"]["ref"].is_array(), "{answer}");
    let (status, answer) = app.buy(&token, &buy(json!("spring-a")), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let no = answer["out_trade_no"].as_str().expect("no").to_owned();
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    app.pay(&gw, &no, fen).await;
    gw.set_trade(&no, fen, shop_alipay::TradeStatus::TradeSuccess);
    shop_app::payments::request_refund(
        &app.ctx,
        &no,
        Some(shop_domain::Money::from_fen(100).expect("m")),
        "test",
    )
    .await
    .expect("refund");
    app.drain_outbox().await;
    let other = app.buyer("browser").await;
    app.order(&other, &[7]).await;

    let boss = app.console_session("boss").await;
    let (status, body) = app.console_get("/api/v1/admin/sales/?by_ref=true", &boss).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let funnel = body["result"]["funnel"].as_array().expect("funnel");
    let line = |r: &str| {
        funnel.iter().find(|l| l["course_id"] == 7 && l["ref"] == r).cloned().unwrap_or(Value::Null)
    };
    let a = line("spring-a");
    assert_eq!(
        (a["views"].as_u64(), a["orders_created"].as_u64(), a["orders_paid"].as_u64(), a["refunds"].as_u64()),
        (Some(1), Some(1), Some(1), Some(1)),
        "{body}"
    );
    assert_eq!(a["view_to_order_percent"], 100.0);
    let b = line("spring-b");
    assert_eq!((b["views"].as_u64(), b["orders_created"].as_u64()), (Some(1), Some(0)), "{body}");
    let none = line("");
    assert_eq!((none["views"].as_u64(), none["orders_created"].as_u64()), (Some(1), Some(1)), "{body}");
    let (_, body) = app.console_get("/api/v1/admin/sales/?funnel=true", &boss).await;
    let all = body["result"]["funnel"].as_array().expect("funnel");
    let seven = all.iter().find(|l| l["course_id"] == 7).expect("course 7");
    assert_eq!(
        (seven["views"].as_u64(), seven["orders_created"].as_u64(), seven["orders_paid"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    assert!(seven["ref"].is_null() && seven["day"].is_null(), "{seven}");
    let (_, body) = app.console_get("/api/v1/admin/sales/", &boss).await;
    assert!(body["result"].get("funnel").is_none(), "only when asked: {body}");

    let html = app
        .client
        .get(app.url("/admin/sales/?by_ref=true"))
        .header("Cookie", &boss.cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("id=\"funnel\"")
            && html.contains("spring-b")
            && html.contains("<svg id=\"chart-funnel\""),
        "{html}"
    );
}

crate::with_gateway_on_both_backends!(the_funnel_follows_views_to_paid_orders_per_ref);

/// A view is claimed in its request and written after the answer; a write that fails (the
/// database is away) gives the claim back, so the visitor's next view counts, with its `ref`.
#[tokio::test]
async fn a_view_whose_write_failed_counts_at_the_next_request() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let view = |q: &'static str| {
        app.client
            .get(app.url(&format!("/api/v1/course/list/7/{q}")))
            .header("User-Agent", "Mozilla/5.0 (D)")
            .send()
    };
    let stored = || async {
        <shop_db::entities::course_view::Entity as sea_orm::EntityTrait>::find()
            .all(app.ctx.db())
            .await
            .expect("rows")
    };
    app.cut_database().await;
    assert_eq!(view("?ref=lost").await.expect("view").status(), StatusCode::OK, "the page does not wait");
    // The failed write is logged; give it the time to fail.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.restore_database().await;
    assert!(stored().await.is_empty());
    assert_eq!(view("?ref=again").await.expect("view").status(), StatusCode::OK);
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = stored().await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let refs: Vec<&str> = rows.iter().map(|r| r.ref_tag.as_str()).collect();
    assert_eq!(refs, ["again"], "counted at the next request: {rows:?}");
    // A third view the same day is not written again.
    assert_eq!(view("?ref=third").await.expect("view").status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stored().await.len(), 1);
}

/// Swagger UI runs "Try it out" by operation id: an admin operation sharing its id with a
/// public one (`search`) made course search's "Execute" call the admin search (401).
#[test]
fn admin_operations_have_ids_of_their_own() {
    let spec: Value = serde_json::from_str(&shop_http::spec_json()).expect("spec");
    let mut ids: Vec<(String, String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for op in item.as_object().expect("item").values() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                ids.push((path.clone(), id.to_owned()));
            }
        }
    }
    for (path, id) in ids.iter().filter(|(p, _)| p.starts_with("/api/v1/admin/")) {
        let same: Vec<&String> = ids.iter().filter(|(_, other)| other == id).map(|(p, _)| p).collect();
        assert_eq!(same, [path], "operationId {id:?} of {path} is shared");
    }
}
