//! Attempt limits live in the database: they hold across replicas, and SMS codes are capped
//! per client address and for the whole shop (SMS pumping).
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

/// Waits until at least `margin` seconds remain in the current window of `length` seconds,
/// so a test's attempts fall in one window.
async fn inside_one_window(length: i64, margin: i64) {
    let now = chrono::Utc::now().timestamp();
    let left = length - now.rem_euclid(length);
    if left < margin {
        tokio::time::sleep(std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0) + 1)).await;
    }
}

async fn send_sms(app: &TestApp, from: &str, mobile: &str) -> (StatusCode, Option<String>) {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/user/user/send_sms/?mobile={mobile}")))
        .header("X-Forwarded-For", from)
        .send()
        .await
        .expect("request");
    (res.status(), res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned))
}

/// One client address asks codes for many numbers: past `max_per_address_per_hour` it gets
/// 429 with Retry-After and no code is sent; other addresses go on until the shop's hourly
/// total is reached.
#[tokio::test]
async fn sms_codes_are_capped_per_address_and_overall() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| {
            s.server.trusted_proxy_hops = 1;
            s.sms.max_per_address_per_hour = 3;
            s.sms.max_overall_per_hour = 5;
        })
        .await;
        inside_one_window(3600, 30).await;
        for n in 1..=3 {
            let (status, _) = send_sms(&app, "203.0.113.7", &format!("1380000000{n}")).await;
            assert_eq!(status, StatusCode::OK, "{backend:?} number {n}");
        }
        let (status, retry_after) = send_sms(&app, "203.0.113.7", "13800000004").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}: a fourth number from one address");
        assert!(retry_after.and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| (1..=3600).contains(&s)));
        assert_eq!(app.sms.last_code("13800000004"), None, "{backend:?}: no code sent");
        for n in 5..=6 {
            let (status, _) = send_sms(&app, "198.51.100.9", &format!("1380000000{n}")).await;
            assert_eq!(status, StatusCode::OK, "{backend:?}: another address, number {n}");
        }
        let (status, _) = send_sms(&app, "192.0.2.44", "13800000007").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}: the shop's hourly total is reached");
        assert_eq!(app.sms.last_code("13800000007"), None);
    }
}

/// Two servers on one Postgres share the login limit: the attempts of both count.
#[tokio::test]
async fn login_limits_hold_across_two_servers() {
    let configure = |s: &mut shop_app::config::Settings| s.auth.login_attempts_per_minute = 4;
    let first = TestApp::spawn_with(Backend::Postgres, configure).await;
    let second = TestApp::spawn_on(&first.db_url, configure).await;
    first.create_user("shared", "correct horse", None, None).await;
    inside_one_window(60, 15).await;
    let wrong = json!({"username": "shared", "password": "wrong horse"});
    for app in [&first, &second, &first, &second] {
        let (status, body) = app.post_json("/api/v1/user/user/mul_login/", &wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    for app in [&first, &second] {
        let (status, body) = app.post_json("/api/v1/user/user/mul_login/", &wrong).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::TOO_MANY_REQUESTS, Some(1029)), "{body}");
    }
}
