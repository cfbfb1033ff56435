//! The OpenAPI document: committed copy in sync, served copy, Swagger UI, and every
//! documented operation routed.
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

/// Fails when `openapi/openapi.json` differs from what the code generates. Regenerate with
/// `UPDATE_OPENAPI=1 cargo test --test api openapi` (or `course-shop openapi > openapi/openapi.json`).
#[test]
fn committed_spec_matches_the_code() {
    let generated = shop_http::spec_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write openapi/openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test --test api openapi"
    );
    let spec: Value = serde_json::from_str(&generated).expect("JSON");
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    assert_eq!(spec["components"]["securitySchemes"]["jwt"]["scheme"], "bearer");
}

#[tokio::test]
async fn served_spec_and_swagger_ui() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, served) = app.get_json("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let generated: Value = serde_json::from_str(&shop_http::spec_json()).expect("JSON");
    assert_eq!(served, generated);

    let res = app.client.get(app.url("/docs/")).send().await.expect("docs");
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "Swagger UI's page");
    let res = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.expect("bundle");
    assert_eq!(res.status(), StatusCode::OK, "the bundle is served from the binary, no CDN");
    assert!(res.bytes().await.expect("js").len() > 100_000);
    let res = app.client.get(app.url("/docs")).send().await.expect("redirect");
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
}

/// Each documented operation is routed: its method does not get 404/405, and the paths
/// the spec lists are exactly the API's.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let spec: Value = serde_json::from_str(&shop_http::spec_json()).expect("JSON");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() >= 14, "{}", paths.len());
    for (path, item) in paths {
        let concrete = path.replace("{id}", "1");
        for method in item.as_object().expect("operations").keys() {
            let request = match method.as_str() {
                "get" => app.client.get(app.url(&concrete)),
                "post" => app.client.post(app.url(&concrete)).json(&serde_json::json!({})),
                "patch" => app.client.patch(app.url(&concrete)).json(&serde_json::json!({})),
                other => panic!("unexpected method {other} on {path}"),
            };
            let res = request.send().await.expect("request");
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert!(status != StatusCode::METHOD_NOT_ALLOWED, "{method} {path} -> {status}");
            assert!(
                body["msg"] != shop_app::i18n::msg::NO_ROUTE.get(shop_app::i18n::Lang::Zh),
                "{method} {path} is not routed"
            );
        }
    }
}

/// The NUL guard (`shop_http`'s `nul` module) answers 400 to a query string or a JSON body
/// holding a NUL character, before any handler runs: every operation that takes a query
/// parameter or a body documents that 400 (schemathesis sends such requests and checks that
/// the status is documented; the course page's `ref` was the one left out).
#[tokio::test]
async fn every_operation_with_a_query_or_a_body_documents_the_nul_guards_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app.client.get(app.url("/api/v1/course/list/1/?ref=%00")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let spec: Value = serde_json::from_str(&shop_http::spec_json()).expect("JSON");
    let mut missing = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let query = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if (query || op.get("requestBody").is_some()) && op["responses"].get("400").is_none() {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    assert!(missing.is_empty(), "operations without their 400: {missing:?}");
}
