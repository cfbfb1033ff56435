//! The server's log: one line per request with its id, route pattern, status and latency,
//! and no personal data or secret a client sent (query strings, bodies, tokens in paths,
//! `Authorization`).
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, logged_lines};

/// What a client sent that the log must not show.
const SECRETS: [&str; 7] = [
    "13812345678",
    "buyer@example.com",
    "buyer%40example.com",
    "pw-secret-123",
    "jwt-secret-token",
    "SECRETDOWNLOADTOKEN",
    "SECRETPURCHASETOKEN",
];

#[tokio::test]
async fn each_request_has_one_line_with_its_id_route_status_and_latency_and_no_personal_data() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cases: [(Method, &str, Option<serde_json::Value>, &str); 7] = [
        (Method::GET, "/api/v1/user/user/send_sms/?mobile=13812345678", None, "/api/v1/user/user/send_sms/"),
        (Method::GET, "/api/v1/user/user/mobile/?mobile=13812345678", None, "/api/v1/user/user/mobile/"),
        (
            Method::POST,
            "/api/v1/user/user/mul_login/",
            Some(json!({"username": "buyer@example.com", "password": "pw-secret-123"})),
            "/api/v1/user/user/mul_login/",
        ),
        (
            Method::POST,
            "/api/v1/user/user/mobile_register/",
            Some(json!({"mobile": "13812345678", "code": "123456", "password": "pw-secret-123"})),
            "/api/v1/user/user/mobile_register/",
        ),
        (Method::GET, "/api/v1/course/list/1?email=buyer%40example.com", None, "/api/v1/course/list/{id}"),
        (Method::GET, "/d/SECRETDOWNLOADTOKEN?mobile=13812345678", None, "/d/{token}"),
        (Method::GET, "/api/v1/nothing/SECRETPURCHASETOKEN/?email=buyer@example.com", None, "default"),
    ];
    // Twice: the second request of a path takes its route from the worker's table of recent
    // paths (`request_log::with_route`).
    for (method, path, body, route) in cases.iter().chain(cases.iter()).cloned() {
        let mut req = app
            .client
            .request(method.clone(), app.url(path))
            .header("Authorization", "Bearer jwt-secret-token");
        if let Some(body) = &body {
            req = req.json(body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let id = res.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        let lines = logged_lines(&id);
        let requests: Vec<_> = lines.iter().filter(|(_, v)| v["message"] == "request").collect();
        assert_eq!(requests.len(), 1, "{path}: one request line: {lines:?}");
        let (text, line) = requests[0];
        assert_eq!(line["request_id"], id.as_str(), "{text}");
        assert_eq!(line["http.method"], method.as_str(), "{text}");
        assert_eq!(line["http.route"], route, "{text}");
        assert_eq!(line["http.status"], status, "{text}");
        assert!(line["elapsed_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{text}");
        assert_eq!(line["level"], "INFO", "{text}");
        assert_eq!(line["target"], "shop_http::request_log", "{text}");
        let mut keys: Vec<&str> = line.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "elapsed_ms",
                "http.method",
                "http.route",
                "http.status",
                "level",
                "message",
                "request_id",
                "target",
                "timestamp"
            ],
            "{text}"
        );
        // No line of the request shows what the client sent.
        for (text, _) in &lines {
            for secret in SECRETS {
                assert!(!text.contains(secret), "{path}: {secret:?} is in the log: {text}");
            }
        }
    }
}
