//! Accounts: password login, SMS codes, registration, the current user, token checks.
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    password_login_by_username_mobile_or_email,
    wrong_passwords_and_unknown_users_look_the_same,
    tokens_in_every_accepted_scheme,
    bad_tokens_are_401,
    login_is_rate_limited_per_address,
    sms_codes_are_validated_and_rate_limited,
);

async fn password_login_by_username_mobile_or_email(app: TestApp) {
    let id = app.create_user("alex", "correct horse", Some("13800138000"), Some("Alex@Example.com")).await;
    for identifier in ["alex", "13800138000", "alex@example.com", "ALEX@example.COM"] {
        let (status, body) = app
            .post_json(
                "/api/v1/user/user/mul_login/",
                &json!({"username": identifier, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{identifier}: {body}");
        assert_eq!(body["code"], 100);
        assert_eq!(body["username"], "alex");
        assert!(body["icon"].as_str().is_some_and(|i| i.starts_with(&format!("{}/media/", app.address))));
        let token = body["token"].as_str().expect("token");
        let (status, me) = app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {token}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["result"]["id"], id);
        assert_eq!(me["result"]["email"], "alex@example.com");
        assert!(me["result"].get("password_hash").is_none());
    }
    // A mobile number sent as a JSON number is accepted too.
    let (status, _) = app
        .post_json(
            "/api/v1/user/user/mul_login/",
            &json!({"username": 13800138000u64, "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn wrong_passwords_and_unknown_users_look_the_same(app: TestApp) {
    app.create_user("linda", "correct horse", None, None).await;
    let (s1, wrong) = app
        .post_json("/api/v1/user/user/mul_login/", &json!({"username": "linda", "password": "wrong horse"}))
        .await;
    let (s2, unknown) = app
        .post_json("/api/v1/user/user/mul_login/", &json!({"username": "nobody", "password": "wrong horse"}))
        .await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], 1011);
    let (status, body) = app.post_json("/api/v1/user/user/mul_login/", &json!({"username": "linda"})).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{body}");
    let (status, body) =
        app.post_json("/api/v1/user/user/mul_login/", &json!({"username": "", "password": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"]["username"][0], "不能为空", "Chinese by default");
}

async fn tokens_in_every_accepted_scheme(app: TestApp) {
    app.create_user("bearer", "correct horse", None, None).await;
    let token = app.login("bearer", "correct horse").await;
    for scheme in ["jwt", "JWT", "Bearer", "bearer"] {
        let (status, _) = app.get_json_auth("/api/v1/user/user/me/", &format!("{scheme} {token}")).await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
    }
    let (status, body) = app.get_json_auth("/api/v1/user/user/me/", &format!("Basic {token}")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(1010)));
}

fn claims(sub: &str, exp: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "username": "x", "iss": "course-shop", "aud": "course-shop:access", "iat": now, "exp": exp})
}

async fn bad_tokens_are_401(app: TestApp) {
    let id = app.create_user("mallory", "correct horse", None, None).await;
    let secret = app.ctx.settings().auth.jwt_secret.expose_secret().as_bytes().to_vec();
    let key = EncodingKey::from_secret(&secret);
    let now = chrono::Utc::now().timestamp();
    let sign = |alg: Algorithm, claims: &Value, key: &EncodingKey| {
        jsonwebtoken::encode(&Header::new(alg), claims, key).expect("encode")
    };
    // Sanity: a hand-made token with the right claims works, so the failures below are
    // caused by what each one changes.
    let good = sign(Algorithm::HS256, &claims(&id.to_string(), json!(now + 600)), &key);
    assert_eq!(app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {good}")).await.0, StatusCode::OK);
    // Clocks differ by a little: `iat` and `nbf` a second ahead are within the leeway.
    let mut skewed = claims(&id.to_string(), json!(now + 600));
    skewed["iat"] = json!(now + 1);
    skewed["nbf"] = json!(now + 1);
    let skewed = sign(Algorithm::HS256, &skewed, &key);
    assert_eq!(app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {skewed}")).await.0, StatusCode::OK);

    let mut cases: Vec<(&str, String)> = vec![
        ("expired", sign(Algorithm::HS256, &claims(&id.to_string(), json!(now - 600)), &key)),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                &claims(&id.to_string(), json!(now + 600)),
                &EncodingKey::from_secret(b"another-secret-of-32-bytes-or-more!!"),
            ),
        ),
        ("HS512 swap", sign(Algorithm::HS512, &claims(&id.to_string(), json!(now + 600)), &key)),
        (
            "string exp",
            sign(Algorithm::HS256, &claims(&id.to_string(), json!((now + 600).to_string())), &key),
        ),
        (
            "no exp",
            sign(
                Algorithm::HS256,
                &json!({"sub": id.to_string(), "iss": "course-shop", "aud": "course-shop:access", "iat": now}),
                &key,
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                &{
                    let mut c = claims(&id.to_string(), json!(now + 600));
                    c["aud"] = json!("course-shop:email-link");
                    c
                },
                &key,
            ),
        ),
        (
            "issued in the future",
            sign(
                Algorithm::HS256,
                &{
                    let mut c = claims(&id.to_string(), json!(now + 7200));
                    c["iat"] = json!(now + 3600);
                    c
                },
                &key,
            ),
        ),
        (
            "not valid yet",
            sign(
                Algorithm::HS256,
                &{
                    let mut c = claims(&id.to_string(), json!(now + 7200));
                    c["nbf"] = json!(now + 3600);
                    c
                },
                &key,
            ),
        ),
        ("malformed", "not-a-token".into()),
        ("empty", String::new()),
    ];
    // alg "none": header {"alg":"none"} with the valid claims and no signature.
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(&id.to_string(), json!(now + 600)))
    );
    cases.push(("alg none", none));
    for (name, token) in cases {
        let (status, body) = app.get_json_auth("/api/v1/user/user/me/", &format!("jwt {token}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(body["code"], 1010, "{name}");
    }
    let (status, body) = app.get_json("/api/v1/user/user/me/").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(1010)));
}

async fn login_is_rate_limited_per_address(app: TestApp) {
    // The test profile allows 10 attempts per minute and address.
    // The limit counts per minute: start early in a minute, so all eleven attempts fall in one.
    while chrono::Utc::now().timestamp() % 60 > 45 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for _ in 0..10 {
        let (status, _) =
            app.post_json("/api/v1/user/user/mul_login/", &json!({"username": "x", "password": "y"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let res = app
        .client
        .post(app.url("/api/v1/user/user/mul_login/"))
        .json(&json!({"username": "x", "password": "y"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], 1029);
}

async fn sms_codes_are_validated_and_rate_limited(app: TestApp) {
    let mobile = "13912345678";
    let (status, body) = app.get_json(&format!("/api/v1/user/user/mobile/?mobile={mobile}")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(101)), "not registered yet");
    for bad in ["12345", "23912345678", ""] {
        let (status, body) = app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={bad}")).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(102)), "{bad:?}");
    }
    let (status, body) = app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(100)), "{body}");
    let code = app.sms.last_code(mobile).expect("a code was sent");
    assert_eq!(code.len(), 6);
    let (status, body) = app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::TOO_MANY_REQUESTS, Some(1029)),
        "one code a minute"
    );

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let register = |code: &str, password: &str| json!({"mobile": mobile, "code": code, "password": password});
    let (status, body) =
        app.post_json("/api/v1/user/user/mobile_register/", &register(wrong, "correct horse")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1013)));
    let (status, body) = app.post_json("/api/v1/user/user/mobile_register/", &register(&code, "short")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{body}");
    let (status, body) =
        app.post_json("/api/v1/user/user/mobile_register/", &register(&code, "correct horse")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(100)), "{body}");
    let (status, body) = app.get_json(&format!("/api/v1/user/user/mobile/?mobile={mobile}")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(100)));

    // Single use: the same code does not log in.
    let (status, body) =
        app.post_json("/api/v1/user/user/mobile_login/", &json!({"mobile": mobile, "code": code})).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1013)));
    // Registered once: the password works, and registering again is a conflict.
    app.login(mobile, "correct horse").await;
    let (status, body) =
        app.post_json("/api/v1/user/user/mobile_register/", &register(&code, "correct horse")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::CONFLICT, Some(1020)));

    // No code is stored in clear.
    use sea_orm::{EntityTrait, QueryOrder};
    let stored = shop_db::entities::sms_code::Entity::find()
        .order_by_asc(shop_db::entities::sms_code::Column::Id)
        .all(app.ctx.db())
        .await
        .expect("rows");
    assert!(stored.iter().all(|row| row.code_hash.len() == 64 && !row.code_hash.contains(&code)));
}

/// SMS login with a fresh code, on a server that lets codes be resent at once.
#[tokio::test]
async fn sms_login_with_a_fresh_code() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| s.sms.resend_interval_seconds = 0).await;
        let mobile = "13700000001";
        app.create_user("sms-user", "correct horse", Some(mobile), None).await;
        let (status, _) = app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")).await;
        assert_eq!(status, StatusCode::OK);
        let first = app.sms.last_code(mobile).expect("code");
        let (status, _) = app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")).await;
        assert_eq!(status, StatusCode::OK);
        let second = app.sms.last_code(mobile).expect("code");
        let login = |code: &str| json!({"mobile": mobile, "code": code});
        if first != second {
            let (status, _) = app.post_json("/api/v1/user/user/mobile_login/", &login(&first)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "only the newest code counts");
        }
        let (status, body) = app.post_json("/api/v1/user/user/mobile_login/", &login(&second)).await;
        assert_eq!((status, body["username"].as_str()), (StatusCode::OK, Some("sms-user")), "{body}");
        // Five wrong guesses void a code.
        app.get_json(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")).await;
        let code = app.sms.last_code(mobile).expect("code");
        let wrong = if code == "999999" { "888888" } else { "999999" };
        for _ in 0..5 {
            app.post_json("/api/v1/user/user/mobile_login/", &login(wrong)).await;
        }
        let (status, _) = app.post_json("/api/v1/user/user/mobile_login/", &login(&code)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend:?}: the code is void after 5 wrong guesses");
    }
}
