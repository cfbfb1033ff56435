//! The error envelope for every failure, actix's own rejections included; request ids;
//! CORS; trailing slashes; the compatibility switch.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, json_of};

#[tokio::test]
async fn framework_rejections_use_the_envelope() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let res = app.client.post(app.url("/api/v1/course/list/")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET");
    let (_, body) = json_of(res).await;
    assert_eq!(body, json!({"code": 1003, "msg": "不支持该请求方法"}), "Chinese by default");

    let res = app.client.get(app.url("/api/v1/user/user/mul_login/")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");

    let (status, body) = app.get_json("/api/v1/no/such/route/").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::NOT_FOUND, Some(1004)));

    let login = app.url("/api/v1/user/user/mul_login/");
    let res = app
        .client
        .post(&login)
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(res).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1001)), "{body}");

    let res = app
        .client
        .post(&login)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(res).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(1005)));

    let huge = json!({"username": "x", "password": "y".repeat(100_000)});
    let res = app.client.post(&login).json(&huge).send().await.expect("request");
    let (status, body) = json_of(res).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(1002)));

    let (status, body) =
        app.post_json("/api/v1/user/user/mul_login/", &json!({"username": 1.5e300, "password": []})).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{body}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/api/v1/home/banner/", "/api/v1/nope/", "/healthz"] {
        let res = app.client.get(app.url(path)).send().await.expect("request");
        let id = res.headers().get("x-request-id").expect("x-request-id").to_str().expect("ascii").to_owned();
        assert_eq!(id.len(), 36, "{path}: {id}");
    }
    let a = app.client.get(app.url("/healthz")).send().await.expect("request");
    let b = app.client.get(app.url("/healthz")).send().await.expect("request");
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
}

#[tokio::test]
async fn paths_answer_with_and_without_the_trailing_slash() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (s1, with) = app.get_json("/api/v1/course/category/").await;
    let (s2, without) = app.get_json("/api/v1/course/category").await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(with, without);
    let (status, _) = app.get_json("/api/v1/course/list/1").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_the_configured_origin_only() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/user/user/mul_login/"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization, content-type")
            .send()
    };
    let ok = preflight("http://localhost:8080").await.expect("preflight");
    assert!(ok.status().is_success());
    assert_eq!(ok.headers()["access-control-allow-origin"], "http://localhost:8080");
    let allowed = ok.headers()["access-control-allow-headers"].to_str().expect("ascii").to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    let denied = preflight("http://evil.example").await.expect("preflight");
    assert!(denied.headers().get("access-control-allow-origin").is_none());

    let res = app
        .client
        .get(app.url("/api/v1/home/banner/"))
        .header("Origin", "http://localhost:8080")
        .send()
        .await
        .expect("get");
    assert_eq!(res.headers()["access-control-allow-origin"], "http://localhost:8080");
}

#[tokio::test]
async fn compatibility_switch_answers_business_errors_with_200() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.api.business_errors_as_200 = true).await;
    let (status, body) =
        app.post_json("/api/v1/user/user/mul_login/", &json!({"username": "x", "password": "y"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["code"], 1011);
    let (status, body) = app.get_json("/api/v1/course/list/9999/").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(1004)));
    let (status, body) = app.get_json("/api/v1/course/list/1/").await;
    assert_eq!((status, body["id"].as_i64()), (StatusCode::OK, Some(1)));

    let off = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) =
        off.post_json("/api/v1/user/user/mul_login/", &json!({"username": "x", "password": "y"})).await;
    assert_eq!((status, &body["code"]), (StatusCode::UNAUTHORIZED, &Value::from(1011)), "off by default");
}

#[tokio::test]
async fn the_readiness_check_fails_when_the_database_is_gone() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    app.cut_database().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::SERVICE_UNAVAILABLE, Some(1050)), "{body}");
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::OK, "liveness does not depend on the database");
}
