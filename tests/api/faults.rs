//! The API fails safe: a database that is down, restarting, locked or busy answers 503 with
//! `Retry-After` and the envelope (never 500), requests recover by themselves, and hostile
//! input (NUL bytes) gets a clear 4xx and changes nothing.
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait, TransactionTrait};
use serde_json::{Value, json};
use shop_db::entities::{order, user};

use crate::helpers::{Backend, TestApp, json_of};

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Option<String>, Value) {
    let res = req.send().await.expect("request");
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body) = json_of(res).await;
    (status, retry_after, body)
}

/// The front end's calls that need the database: polling, the order list, a login, and
/// order creation.
fn calls(app: &TestApp, token: &str, no: &str, total: &str) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let auth = format!("jwt {token}");
    vec![
        ("poll", app.client.get(app.url(&format!("/api/v1/order/success/?out_trade_no={no}")))),
        ("order list", app.client.get(app.url("/api/v1/order/list/")).header("Authorization", auth.clone())),
        (
            "login",
            app.client
                .post(app.url("/api/v1/user/user/mul_login/"))
                .json(&json!({"username": "faulty", "password": "correct horse"})),
        ),
        (
            "order",
            app.client
                .post(app.url("/api/v1/order/alipay/"))
                .header("Authorization", auth)
                .json(&json!({"courses": ["3"], "total_amount": total, "subject": "x", "pay_type": 1})),
        ),
    ]
}

async fn price_of_3(app: &TestApp) -> String {
    let (_, c) = app.get_json("/api/v1/course/list/3/").await;
    c["price"].as_str().expect("price").to_owned()
}

fn assert_unavailable(what: &str, (status, retry_after, body): &(StatusCode, Option<String>, Value)) {
    assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
    assert_eq!(body["code"], 1050, "{what}: {body}");
    assert!(retry_after.as_deref().and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{what}");
}

/// Postgres refuses every connection: each call answers 503 with Retry-After, and once the
/// database is back they work again without a restart of the server.
#[tokio::test]
async fn a_database_outage_answers_503_and_recovers() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let token = app.buyer("faulty").await;
    let (no, _) = app.order(&token, &[2]).await;
    app.cut_database().await;
    for (what, req) in calls(&app, &token, &no, &price_of_3(&app).await) {
        assert_unavailable(what, &send(req).await);
    }
    app.restore_database().await;
    let (status, _, body) =
        send(app.client.get(app.url(&format!("/api/v1/order/success/?out_trade_no={no}")))).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(101)), "{body}");
    let (status, _, body) =
        send(app.client.get(app.url("/api/v1/order/list/")).header("Authorization", format!("jwt {token}")))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Every connection of the server is terminated (as a Postgres restart does) while requests
/// keep coming: none of them answers 500; a request whose connection died is retried once on
/// a checked connection.
#[tokio::test]
async fn terminated_connections_never_answer_500() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.server.workers = 2;
        s.auth.login_attempts_per_minute = 1000;
    })
    .await;
    let token = app.buyer("faulty").await;
    let (no, _) = app.order(&token, &[2]).await;
    let mut statuses = Vec::new();
    for round in 0..5 {
        // Warm every pooled connection, then kill them all.
        let mut warm = Vec::new();
        for _ in 0..8 {
            warm.push(send(
                app.client
                    .get(app.url("/api/v1/order/list/"))
                    .header("Authorization", format!("jwt {token}")),
            ));
        }
        for r in futures_util::future::join_all(warm).await {
            assert_eq!(r.0, StatusCode::OK, "round {round}: {r:?}");
        }
        assert!(app.terminate_connections().await > 0, "round {round}: the server holds connections");
        let mut load = Vec::new();
        for _ in 0..4 {
            for (_, req) in calls(&app, &token, &no, &price_of_3(&app).await) {
                load.push(send(req));
            }
        }
        statuses.extend(futures_util::future::join_all(load).await.into_iter().map(|r| (r.0, r.2)));
    }
    let errors: Vec<_> = statuses.iter().filter(|(s, _)| s.is_server_error()).collect();
    assert!(
        statuses.iter().all(|(s, _)| *s != StatusCode::INTERNAL_SERVER_ERROR),
        "no 500 after terminated connections: {errors:?}"
    );
    let ok = statuses.iter().filter(|(s, _)| s.is_success()).count();
    let others: Vec<_> = statuses.iter().filter(|(s, _)| !s.is_success()).collect();
    assert!(
        ok * 10 >= statuses.len() * 9,
        "the retry on a checked connection answers nearly all: {others:?}"
    );
}

/// Another session holds a lock on `orders` (Postgres) or the write lock of the file
/// (SQLite): requests that need it answer 503 once the lock or busy timeout fires, instead of
/// hanging or answering 500, and work again once the lock is gone.
#[tokio::test]
async fn a_held_lock_answers_503_after_the_timeout() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| {
            s.database.lock_timeout_ms = 300;
            s.database.statement_timeout_ms = 1000;
            s.database.busy_timeout_ms = 300;
        })
        .await;
        let token = app.buyer("faulty").await;
        let (no, _) = app.order(&token, &[2]).await;
        let other = Database::connect(&app.db_url).await.expect("another session");
        let txn = if backend == Backend::Postgres {
            let txn = other.begin().await.expect("begin");
            txn.execute_unprepared("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE").await.expect("lock");
            txn
        } else {
            let txn = other
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Exclusive),
                    ..Default::default()
                })
                .await
                .expect("begin exclusive");
            txn.execute_unprepared("UPDATE orders SET orders = orders").await.expect("write lock");
            txn
        };
        let blocked =
            app.client.post(app.url("/api/v1/order/alipay/")).header("Authorization", format!("jwt {token}"));
        let total = {
            let (_, c) = app.get_json("/api/v1/course/list/3/").await;
            c["price"].as_str().expect("price").to_owned()
        };
        let r = send(
            blocked.json(&json!({"courses": ["3"], "total_amount": total, "subject": "x", "pay_type": 1})),
        )
        .await;
        assert_unavailable(&format!("{backend:?} order while locked"), &r);
        if backend == Backend::Postgres {
            let r = send(app.client.get(app.url(&format!("/api/v1/order/success/?out_trade_no={no}")))).await;
            assert_unavailable("Postgres poll while locked", &r);
        }
        txn.rollback().await.expect("release");
        let (status, _, body) =
            send(app.client.get(app.url(&format!("/api/v1/order/success/?out_trade_no={no}")))).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
        assert_eq!(
            order::Entity::find().count(app.ctx.db()).await.expect("count"),
            1,
            "{backend:?}: nothing half-written"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A NUL character in text that would reach the database is refused at the edge: 400 (or 404
/// for a path) with the envelope, `fail` for a notify, and nothing is written.
#[tokio::test]
async fn nul_bytes_are_refused_at_the_edge() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn(backend).await;
        let token = app.buyer("nul").await;
        let users_before = user::Entity::find().count(app.ctx.db()).await.expect("count");
        let (status, body) = app
            .post_json(
                "/api/v1/user/user/mul_login/",
                &json!({"username": "a\u{0}b", "password": "x".repeat(10)}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(1001)),
            "{backend:?} {body}"
        );
        let (status, body) = app.get_json("/api/v1/order/success/?out_trade_no=%00").await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(1001)),
            "{backend:?} {body}"
        );
        let (status, body) = app.get_json_auth("/api/v1/order/CS%00x/", &format!("jwt {token}")).await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::NOT_FOUND, Some(1004)),
            "{backend:?} {body}"
        );
        let (status, body) = app
            .post_json(
                "/api/v1/user/user/mobile_register/",
                &json!({"mobile": "13812345678", "code": "12\u{0}456", "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend:?} {body}");
        let (status, text) = app.post_notify_bytes(b"\x00\x01\x02&&&===".to_vec()).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "fail"), "{backend:?}");
        assert_eq!(user::Entity::find().count(app.ctx.db()).await.expect("count"), users_before);
        assert_eq!(order::Entity::find().count(app.ctx.db()).await.expect("count"), 0);
    }
}
