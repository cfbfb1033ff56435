//! Alipay page payment end to end: order creation, the notify (valid, duplicated, replayed,
//! tampered, wrongly keyed, wrong amount/app/seller, unknown order, malformed), polling with
//! active queries, expiry, late payment, refunds, reconciliation, several server processes,
//! and the development simulator. The fake gateway (tests/api/fake_alipay.rs) plays Alipay
//! with real RSA keys; our verification is never stubbed.
use std::collections::HashSet;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use shop_alipay::fake::FakeAlipay;
use shop_alipay::{AlipayPublicKey, TradeStatus, encode_pairs};
use shop_app::payments::{self, ExpiryOutcome};
use shop_app::worker::RefundProgress;
use shop_db::entities::{order, order_detail, outbox, payment_notify};
use shop_domain::order::OrderStatus;

use crate::fake_alipay::{self, Behaviour, FakeGateway};
use crate::helpers::{Backend, TestApp, gateway_settings};
use crate::{on_both_backends, with_gateway_on_both_backends};

async fn count_orders(app: &TestApp) -> u64 {
    order::Entity::find().count(app.ctx.db()).await.expect("count")
}

async fn count_details(app: &TestApp) -> u64 {
    order_detail::Entity::find().count(app.ctx.db()).await.expect("count")
}

async fn jobs(app: &TestApp, kind: &str) -> Vec<outbox::Model> {
    shop_db::outbox::list(app.ctx.db(), Some(kind)).await.expect("jobs")
}

async fn audit(app: &TestApp, no: &str) -> Vec<payment_notify::Model> {
    payment_notify::Entity::find()
        .filter(payment_notify::Column::OutTradeNo.eq(no))
        .all(app.ctx.db())
        .await
        .expect("audit")
}

fn status(o: &order::Model) -> OrderStatus {
    o.order_status
}

with_gateway_on_both_backends!(
    an_order_returns_a_pay_url_alipay_accepts,
    bad_purchases_write_nothing,
    idempotency_key_and_repeats_return_the_same_order,
    a_valid_notify_pays_exactly_once,
    ten_duplicate_notifies_at_once_pay_once,
    unverifiable_or_foreign_notifies_change_nothing,
    trade_closed_and_late_statuses_follow_the_rules,
    money_after_expiry_is_refunded_not_dropped,
    polling_asks_alipay_when_the_notify_is_late,
    polling_survives_a_misbehaving_gateway,
    expiry_asks_alipay_first,
    refunds_partial_full_and_failing,
    reconcile_applies_verified_answers,
    orders_are_private_to_their_buyer,
);

async fn an_order_returns_a_pay_url_alipay_accepts(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("buyer").await;
    let (_, course) = app.get_json("/api/v1/course/list/2/").await;
    let price = course["price"].as_str().expect("price").to_owned();
    // Ids and amount as strings, the way the Luffy front end sends them.
    let (status, body) = app
        .buy(
            &token,
            &json!({"courses": ["2"], "total_amount": price, "subject": "Python 全栈开发", "pay_type": 1}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["code"], 100);
    let no = body["out_trade_no"].as_str().expect("out_trade_no");
    // What every provider takes (WeChat Pay: at most 32).
    assert!(no.len() <= 32 && no.bytes().all(|b| b.is_ascii_alphanumeric()), "{no}");
    let pay_url = body["pay_url"].as_str().expect("pay_url");
    assert!(pay_url.starts_with(&gw.url), "{pay_url}");

    // The gateway's own check: the URL's parameters verify with the app's public key.
    let query = pay_url.split_once('?').expect("query").1;
    let app_public = AlipayPublicKey::parse(
        &std::fs::read_to_string(format!(
            "{}/crates/alipay/tests/fixtures/test-only-keys/TEST_ONLY_app_public_key_spki.b64.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("key"),
    )
    .expect("key");
    let params = FakeAlipay::verify_request(query, b"", &app_public).expect("the pay URL verifies");
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(get("method"), "alipay.trade.page.pay");
    assert_eq!(get("app_id"), fake_alipay::APP_ID);
    assert!(get("notify_url").ends_with("/api/v1/order/success/"));
    let biz: Value = serde_json::from_str(&get("biz_content")).expect("biz_content");
    assert_eq!(biz["out_trade_no"], no);
    assert_eq!(biz["total_amount"], price.as_str());
    assert_eq!(biz["product_code"], "FAST_INSTANT_TRADE_PAY");
    assert!(biz["time_expire"].as_str().is_some_and(|t| t.len() == 19), "{biz}");

    // Committed before the answer: the order and its line.
    let row = app.order_row(no).await;
    assert_eq!(
        (status_of(&row), row.total_amount_fen.fen()),
        (OrderStatus::Unpaid, shop_domain::Money::parse_yuan(&price).expect("m").fen())
    );
    assert_eq!(count_details(&app).await, 1);
    // Numbers work too, and the alias path answers the same way.
    let (status, _) = app
        .buy(&token, &json!({"courses": [3, 4], "total_amount": total_of(&app, &[3, 4]).await, "subject": "两门课", "pay_type": "1"}), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Purchases without a token and without an email (a guest checkout needs one) are refused.
    let body =
        json!({"courses": [3], "total_amount": total_of(&app, &[3]).await, "subject": "课程", "pay_type": 1});
    let res = app.client.post(app.url("/api/v1/order/pay/")).json(&body).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

fn status_of(o: &order::Model) -> OrderStatus {
    status(o)
}

async fn total_of(app: &TestApp, ids: &[i64]) -> f64 {
    let mut fen = 0;
    for id in ids {
        let (_, c) = app.get_json(&format!("/api/v1/course/list/{id}/")).await;
        fen += shop_domain::Money::parse_yuan(c["price"].as_str().expect("price")).expect("m").fen();
    }
    // A JSON number, as some clients send it (exact for two decimals).
    format!("{}.{:02}", fen / 100, fen % 100).parse().expect("number")
}

async fn bad_purchases_write_nothing(app: TestApp, _gw: FakeGateway) {
    let token = app.buyer("careful").await;
    let (_, c2) = app.get_json("/api/v1/course/list/2/").await;
    let price = c2["price"].as_str().expect("price").to_owned();
    let cases: Vec<(&str, Value, StatusCode)> = vec![
        (
            "unknown course",
            json!({"courses": [9999], "total_amount": "1.00", "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "hidden course",
            json!({"courses": [23], "total_amount": "1.00", "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "empty list",
            json!({"courses": [], "total_amount": "0", "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "duplicated",
            json!({"courses": [2, "2"], "total_amount": price, "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong total",
            json!({"courses": [2], "total_amount": "0.01", "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "three decimals",
            json!({"courses": [2], "total_amount": "1.001", "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wechat pay",
            json!({"courses": [2], "total_amount": price, "subject": "x", "pay_type": 2}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no subject",
            json!({"courses": [2], "total_amount": price, "subject": " ", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "free course",
            json!({"courses": [14], "total_amount": "0", "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not an id",
            json!({"courses": ["two"], "total_amount": price, "subject": "x", "pay_type": 1}),
            StatusCode::BAD_REQUEST,
        ),
        ("missing field", json!({"courses": [2], "subject": "x"}), StatusCode::BAD_REQUEST),
    ];
    for (name, body, expected) in cases {
        let (status, answer) = app.buy(&token, &body, None).await;
        assert_eq!(status, expected, "{name}: {answer}");
        assert!(answer["code"].as_i64().is_some_and(|c| c >= 1000), "{name}: {answer}");
        assert!(answer["msg"].as_str().is_some_and(|m| !m.is_empty()), "{name}");
    }
    assert_eq!((count_orders(&app).await, count_details(&app).await), (0, 0), "no partial order");
}

async fn idempotency_key_and_repeats_return_the_same_order(app: TestApp, _gw: FakeGateway) {
    let token = app.buyer("retrier").await;
    let body =
        json!({"courses": [2], "total_amount": total_of(&app, &[2]).await, "subject": "课程", "pay_type": 1});
    let (_, first) = app.buy(&token, &body, Some("key-1")).await;
    let (_, again) = app.buy(&token, &body, Some("key-1")).await;
    assert_eq!(first["out_trade_no"], again["out_trade_no"]);
    assert_eq!(first["pay_url"], again["pay_url"]);
    let other =
        json!({"courses": [3], "total_amount": total_of(&app, &[3]).await, "subject": "课程", "pay_type": 1});
    let (status, conflict) = app.buy(&token, &other, Some("key-1")).await;
    assert_eq!((status, conflict["code"].as_i64()), (StatusCode::CONFLICT, Some(1020)));

    // Ten concurrent requests with one new key make one order.
    let mut handles = Vec::new();
    for _ in 0..10 {
        let (client, url, token, body) =
            (app.client.clone(), app.url("/api/v1/order/pay/"), token.clone(), other.clone());
        handles.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .header("Authorization", format!("jwt {token}"))
                .header("Idempotency-Key", "key-2")
                .json(&body)
                .send()
                .await;
            res.expect("request").json::<Value>().await.expect("json")
        }));
    }
    let mut numbers = HashSet::new();
    for h in handles {
        let v = h.await.expect("join");
        numbers.insert(v["out_trade_no"].as_str().expect("no").to_owned());
    }
    assert_eq!(numbers.len(), 1, "{numbers:?}");

    // No key: an identical purchase while the first is unpaid and valid returns it.
    let third =
        json!({"courses": [4], "total_amount": total_of(&app, &[4]).await, "subject": "课程", "pay_type": 1});
    let (_, a) = app.buy(&token, &third, None).await;
    let (_, b) = app.buy(&token, &third, None).await;
    assert_eq!(a["out_trade_no"], b["out_trade_no"]);
    assert_eq!(count_orders(&app).await, 3);
}

async fn a_valid_notify_pays_exactly_once(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("payer").await;
    let (no, fen) = app.order(&token, &[2]).await;
    let params = gw.paid_notify(&no, fen, TradeStatus::TradeSuccess);
    let (status, text) = app.post_notify(gw.sign(&params)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"), "the 7 bare characters");
    let row = app.order_row(&no).await;
    assert_eq!(status_of(&row), OrderStatus::Paid);
    assert_eq!(row.trade_no.as_deref(), Some(gw.trade_no(&no).as_str()));
    let gmt = params.iter().find(|(k, _)| k == "gmt_payment").map(|(_, v)| v.clone()).expect("gmt_payment");
    assert_eq!(
        shop_alipay::time::format_beijing(row.pay_time.expect("pay_time")),
        gmt,
        "gmt_payment, Beijing time"
    );
    assert_eq!(jobs(&app, "order_paid").await.len(), 1);
    // The status endpoint agrees, and a replay later changes nothing and still says success.
    let (_, poll) = app.get_json(&format!("/api/v1/order/success/?out_trade_no={no}")).await;
    assert_eq!(poll["code"], 100);
    let (_, text) = app.post_notify(gw.sign(&params)).await;
    assert_eq!(text, "success");
    let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeFinished))).await;
    assert_eq!(text, "success");
    assert_eq!(jobs(&app, "order_paid").await.len(), 1, "side effects enqueued once");
    let verdicts: Vec<String> = audit(&app, &no).await.into_iter().map(|a| a.verdict).collect();
    assert_eq!(verdicts, ["accepted", "duplicate", "duplicate"]);
    // The learners count goes up once the outbox runs.
    let before = app.get_json("/api/v1/course/list/2/").await.1["students"].as_i64().expect("students");
    shop_app::worker::run_once(&app.ctx).await.expect("outbox");
    app.ctx.catalog().reload(app.ctx.db()).await.expect("reload");
    let after = app.get_json("/api/v1/course/list/2/").await.1["students"].as_i64().expect("students");
    assert_eq!(after, before + 1);
    // Owned now: buying it again is refused.
    let (status, _) = app.buy(&token, &json!({"courses": [2], "total_amount": total_of(&app, &[2]).await, "subject": "x", "pay_type": 1}), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn ten_duplicate_notifies_at_once_pay_once(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("rush").await;
    let (no, fen) = app.order(&token, &[5]).await;
    let body = gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess));
    let mut handles = Vec::new();
    for _ in 0..10 {
        let (client, url, body) = (app.client.clone(), app.url("/api/v1/order/success/"), body.clone());
        handles.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
            res.expect("request").text().await.expect("text")
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("join"), "success");
    }
    assert_eq!(status_of(&app.order_row(&no).await), OrderStatus::Paid);
    assert_eq!(jobs(&app, "order_paid").await.len(), 1);
    let rows = audit(&app, &no).await;
    assert_eq!(rows.len(), 10);
    assert_eq!(rows.iter().filter(|r| r.verdict == "accepted").count(), 1);
    assert_eq!(rows.iter().filter(|r| r.verdict == "duplicate").count(), 9);
}

async fn unverifiable_or_foreign_notifies_change_nothing(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("target").await;
    let (no, fen) = app.order(&token, &[6]).await;
    let good = gw.paid_notify(&no, fen, TradeStatus::TradeSuccess);
    let signed = gw.alipay.sign_notify(&good).expect("sign");
    let mut bodies: Vec<(String, String)> = Vec::new();
    // Every signed field changed after signing.
    for (i, (key, _)) in signed.iter().enumerate().filter(|(_, (k, _))| k != "sign" && k != "sign_type") {
        let mut tampered = signed.clone();
        tampered[i].1.push('1');
        bodies.push((format!("tampered {key}"), encode_pairs(&tampered)));
    }
    let wrong_key = FakeAlipay::from_private_key(&fake_alipay::app_private_key()).expect("key");
    bodies.push(("wrongly keyed".into(), wrong_key.notify_body(&good).expect("sign")));
    let with = |k: &str, v: &str| {
        let mut p = good.clone();
        p.iter_mut().filter(|(n, _)| n == k).for_each(|(_, val)| *val = v.to_owned());
        gw.sign(&p)
    };
    bodies.push(("wrong amount (signed)".into(), with("total_amount", "0.01")));
    bodies.push(("wrong app (signed)".into(), with("app_id", "2021009999999999")));
    bodies.push(("wrong seller (signed)".into(), with("seller_id", "2088009999999999")));
    bodies.push(("unknown order (signed)".into(), with("out_trade_no", "CS20261121NOTOURS")));
    bodies.push(("unsigned".into(), encode_pairs(&good)));
    bodies.push(("garbage".into(), "%%%&&==".into()));
    bodies.push(("not a form".into(), "{\"trade_status\":\"TRADE_SUCCESS\"}".into()));
    bodies.push(("bad percent".into(), "out_trade_no=%ZZ&sign=x".into()));
    for (name, body) in bodies {
        let (status, text) = app.post_notify(body).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "fail"), "{name}");
    }
    // An empty body is not a notify at all: refused, with Alipay's `fail` (docs/api.md).
    let (status, text) = app.post_notify(String::new()).await;
    assert_eq!((status, text.as_str()), (StatusCode::BAD_REQUEST, "fail"));
    let row = app.order_row(&no).await;
    assert_eq!((status_of(&row), row.trade_no.clone()), (OrderStatus::Unpaid, None));
    assert!(jobs(&app, "order_paid").await.is_empty());
    let all = shop_db::payments::notifies(app.ctx.db(), None).await.expect("audit");
    assert!(
        all.len() >= 30 && all.iter().all(|r| r.verdict == "rejected"),
        "every notify stored, all rejected"
    );
    assert!(all.iter().all(|r| !r.reason.is_empty()));
    // The genuine notify still works afterwards.
    let (_, text) = app.post_notify(gw.sign(&good)).await;
    assert_eq!(text, "success");
}

async fn trade_closed_and_late_statuses_follow_the_rules(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("closer").await;
    let (unpaid, fen) = app.order(&token, &[7]).await;
    let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&unpaid, fen, TradeStatus::TradeClosed))).await;
    assert_eq!(text, "success");
    assert_eq!(status_of(&app.order_row(&unpaid).await), OrderStatus::Cancelled, "closed unpaid");

    let (paid, fen2) = app.order(&token, &[8]).await;
    app.post_notify(gw.sign(&gw.paid_notify(&paid, fen2, TradeStatus::TradeSuccess))).await;
    // Stale statuses never move a paid order back.
    for late in [TradeStatus::WaitBuyerPay, TradeStatus::TradeSuccess, TradeStatus::TradeFinished] {
        let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&paid, fen2, late))).await;
        assert_eq!(text, "success");
        assert_eq!(status_of(&app.order_row(&paid).await), OrderStatus::Paid);
    }
    // TRADE_CLOSED after payment is a full refund.
    let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&paid, fen2, TradeStatus::TradeClosed))).await;
    assert_eq!(text, "success");
    let row = app.order_row(&paid).await;
    assert_eq!((status_of(&row), row.refunded_fen.fen()), (OrderStatus::Refunded, fen2));
}

async fn money_after_expiry_is_refunded_not_dropped(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("late").await;
    let (no, fen) = app.order(&token, &[24]).await;
    // The order times out: Alipay has no trade yet.
    make_overdue(&app, &no).await;
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(outcome, vec![(no.clone(), ExpiryOutcome::Expired)]);
    assert_eq!(status_of(&app.order_row(&no).await), OrderStatus::Expired);
    // ... and then the buyer pays anyway.
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess))).await;
    assert_eq!(text, "success");
    assert_eq!(status_of(&app.order_row(&no).await), OrderStatus::PaidAfterCancel);
    let refunds = jobs(&app, "alipay_refund").await;
    assert_eq!(refunds.len(), 1);
    assert!(refunds[0].payload.contains(&format!("{no}L")), "idempotent out_request_no");
    shop_app::worker::run_once(&app.ctx).await.expect("outbox");
    assert_eq!(gw.refunded_fen(&no), fen);
    let calls = gw.calls("alipay.trade.refund");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["out_request_no"], format!("{no}L"));
    let row = app.order_row(&no).await;
    assert_eq!((status_of(&row), row.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    // The close enqueued at expiry was sent too, and a repeat of the late notify is a no-op.
    assert_eq!(gw.calls("alipay.trade.close").len(), 1);
    let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess))).await;
    assert_eq!(text, "success");
    assert_eq!(jobs(&app, "alipay_refund").await.len(), 1);
}

async fn make_overdue(app: &TestApp, no: &str) {
    use sea_orm::sea_query::Expr;
    order::Entity::update_many()
        .col_expr(order::Column::ExpiresAt, Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)))
        .col_expr(order::Column::LastQueryAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(order::Column::OutTradeNo.eq(no))
        .exec(app.ctx.db())
        .await
        .expect("update");
}

async fn polling_asks_alipay_when_the_notify_is_late(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("poller").await;
    let (no, fen) = app.order(&token, &[10]).await;
    let path = format!("/api/v1/order/success/?out_trade_no={no}&trade_no=forged&sign=forged");
    let poll = || app.get_json(&path);
    let (_, body) = poll().await;
    assert_eq!(body["code"], 101);
    assert_eq!(gw.calls("alipay.trade.query").len(), 1, "asked Alipay, which has no trade yet");
    // The buyer paid but the notify is lost: the next poll within the interval does not ask.
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    let (_, body) = poll().await;
    assert_eq!(body["code"], 101);
    assert_eq!(gw.calls("alipay.trade.query").len(), 1, "at most one query per order every few seconds");
    // After the interval it asks again and applies the verified answer.
    make_queryable(&app, &no).await;
    let (_, body) = poll().await;
    assert_eq!((body["code"].as_i64(), body["order_status"].as_i64()), (Some(100), Some(1)), "{body}");
    assert_eq!(jobs(&app, "order_paid").await.len(), 1);
    let (status, body) = app.get_json("/api/v1/order/success/?out_trade_no=CS0NOPE").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::NOT_FOUND, Some(1004)));
    let (status, _) = app.get_json("/api/v1/order/success/").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn make_queryable(app: &TestApp, no: &str) {
    use sea_orm::sea_query::Expr;
    order::Entity::update_many()
        .col_expr(order::Column::LastQueryAt, Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)))
        .filter(order::Column::OutTradeNo.eq(no))
        .exec(app.ctx.db())
        .await
        .expect("update");
}

async fn polling_survives_a_misbehaving_gateway(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("unlucky").await;
    let (no, fen) = app.order(&token, &[25]).await;
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    for behaviour in [Behaviour::BadSignature, Behaviour::SystemError, Behaviour::Hang] {
        gw.set_behaviour(behaviour);
        make_queryable(&app, &no).await;
        let started = std::time::Instant::now();
        let (status, body) = app.get_json(&format!("/api/v1/order/success/?out_trade_no={no}")).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(101)), "{behaviour:?}: {body}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{behaviour:?}: bounded by the client timeout"
        );
        assert_eq!(
            status_of(&app.order_row(&no).await),
            OrderStatus::Unpaid,
            "{behaviour:?}: an unverified answer changes nothing"
        );
    }
    gw.set_behaviour(Behaviour::Normal);
    make_queryable(&app, &no).await;
    let (_, body) = app.get_json(&format!("/api/v1/order/success/?out_trade_no={no}")).await;
    assert_eq!(body["code"], 100);
}

async fn expiry_asks_alipay_first(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("sleepy").await;
    let (paid, fen) = app.order(&token, &[12]).await;
    let (gone, _) = app.order(&token, &[15]).await;
    let (unknown, _) = app.order(&token, &[16]).await;
    for no in [&paid, &gone, &unknown] {
        make_overdue(&app, no).await;
    }
    gw.set_trade(&paid, fen, TradeStatus::TradeSuccess);
    gw.set_behaviour(Behaviour::Hang);
    let deferred = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert!(
        deferred.iter().all(|(_, o)| matches!(o, ExpiryOutcome::Deferred(_))),
        "no answer, no expiry: {deferred:?}"
    );
    gw.set_behaviour(Behaviour::Normal);
    for no in [&paid, &gone, &unknown] {
        make_overdue(&app, no).await;
    }
    let outcome = payments::expire_due_orders(&app.ctx).await.expect("sweep");
    let of = |no: &str| outcome.iter().find(|(n, _)| n == no).map(|(_, o)| o.clone());
    assert_eq!(of(&paid), Some(ExpiryOutcome::Paid), "paid at Alipay: applied, not expired");
    assert_eq!(of(&gone), Some(ExpiryOutcome::Expired));
    assert_eq!(status_of(&app.order_row(&paid).await), OrderStatus::Paid);
    assert_eq!(status_of(&app.order_row(&unknown).await), OrderStatus::Expired);
    assert_eq!(jobs(&app, "alipay_close").await.len(), 2);
    shop_app::worker::run_once(&app.ctx).await.expect("outbox");
    assert_eq!(gw.calls("alipay.trade.close").len(), 2);
    assert!(jobs(&app, "alipay_close").await.iter().all(|j| j.status == "done"));
}

async fn refunds_partial_full_and_failing(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("refundee").await;
    let (no, fen) = app.order(&token, &[17]).await;
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess))).await;

    let part = shop_domain::Money::from_fen(fen / 2).expect("m");
    let first = payments::request_refund(&app.ctx, &no, Some(part), "partial").await.expect("refund");
    assert_eq!(first.out_request_no, format!("{no}R1"));
    // Alipay is down: the job is kept and retried later with the same request number.
    gw.set_behaviour(Behaviour::SystemError);
    let progress = shop_app::worker::carry_out_refund(&app.ctx, &first.out_request_no).await.expect("outbox");
    assert!(matches!(progress, RefundProgress::Pending { pass } if pass.retried == 1), "{progress:?}");
    let job = jobs(&app, "alipay_refund").await.remove(0);
    assert!(job.status == "pending" && job.next_attempt_at > chrono::Utc::now() && job.last_error.is_some());
    gw.set_behaviour(Behaviour::Normal);
    make_jobs_due(&app).await;
    shop_app::worker::run_once(&app.ctx).await.expect("outbox");
    let row = app.order_row(&no).await;
    assert_eq!(
        (status_of(&row), row.refunded_fen.fen()),
        (OrderStatus::Paid, fen / 2),
        "partial: still paid"
    );
    // Too much is refused before Alipay is asked.
    let too_much = shop_domain::Money::from_fen(fen).expect("m");
    assert!(payments::request_refund(&app.ctx, &no, Some(too_much), "greedy").await.is_err());
    // The rest, by default.
    let rest = payments::request_refund(&app.ctx, &no, None, "rest").await.expect("refund");
    let progress = shop_app::worker::carry_out_refund(&app.ctx, &rest.out_request_no).await.expect("outbox");
    assert_eq!(
        progress,
        RefundProgress::Succeeded { out_request_no: format!("{no}R2"), refunded_total_fen: fen },
        "Alipay reports the total refunded on the trade"
    );
    let row = app.order_row(&no).await;
    assert_eq!((status_of(&row), row.refunded_fen.fen()), (OrderStatus::Refunded, fen));
    assert_eq!(gw.refunded_fen(&no), fen);
    assert!(payments::request_refund(&app.ctx, &no, None, "again").await.is_err(), "nothing left");

    // A refund Alipay refuses for good is marked failed with the reason.
    let (other, fen2) = app.order(&token, &[18]).await;
    app.post_notify(gw.sign(&gw.paid_notify(&other, fen2, TradeStatus::TradeSuccess))).await;
    // Alipay has no paid trade: it answers TRADE_STATUS_ERROR / NOT_EXIST (not retryable).
    let refused = payments::request_refund(&app.ctx, &other, None, "x").await.expect("refund recorded");
    let progress =
        shop_app::worker::carry_out_refund(&app.ctx, &refused.out_request_no).await.expect("outbox");
    assert!(
        matches!(&progress, RefundProgress::Refused { reason } if reason.contains("TRADE_")),
        "{progress:?}"
    );
    let refund = shop_db::payments::refund_by_request_no(app.ctx.db(), &format!("{other}R1"))
        .await
        .expect("q")
        .expect("row");
    assert_eq!(refund.status, "failed");
    assert!(
        refund.last_error.is_some_and(|e| e.contains("TRADE_NOT_EXIST") || e.contains("TRADE_STATUS_ERROR"))
    );
    assert_eq!(status_of(&app.order_row(&other).await), OrderStatus::Paid);
}

async fn make_jobs_due(app: &TestApp) {
    use sea_orm::sea_query::Expr;
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(outbox::Column::Status.eq("pending"))
        .exec(app.ctx.db())
        .await
        .expect("update");
}

async fn reconcile_applies_verified_answers(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("auditor").await;
    let (lost, fen) = app.order(&token, &[19]).await;
    let (waiting, _) = app.order(&token, &[20]).await;
    let (overdue, _) = app.order(&token, &[27]).await;
    gw.set_trade(&lost, fen, TradeStatus::TradeSuccess);
    make_overdue(&app, &overdue).await;
    let rows = payments::reconcile(&app.ctx, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .expect("reconcile");
    let of = |no: &str| rows.iter().find(|r| r.out_trade_no == no).expect("row");
    assert_eq!((of(&lost).before, of(&lost).after), (OrderStatus::Unpaid, OrderStatus::Paid));
    assert_eq!(of(&waiting).after, OrderStatus::Unpaid);
    assert_eq!(of(&overdue).after, OrderStatus::Expired);
    assert_eq!(status_of(&app.order_row(&lost).await), OrderStatus::Paid);
    // Run again: nothing left in doubt changes.
    let again = payments::reconcile(&app.ctx, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .expect("reconcile");
    assert!(again.iter().all(|r| r.before == r.after), "{again:?}");
}

async fn orders_are_private_to_their_buyer(app: TestApp, gw: FakeGateway) {
    let alice = app.buyer("alice").await;
    let bob = app.buyer("bob").await;
    let (no, fen) = app.order(&alice, &[22]).await;
    app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess))).await;
    let (status, mine) = app.get_json_auth(&format!("/api/v1/order/{no}/"), &format!("jwt {alice}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["result"]["order_status"], 1);
    assert_eq!(mine["result"]["details"][0]["course"], 22);
    let (status, theirs) = app.get_json_auth(&format!("/api/v1/order/{no}/"), &format!("jwt {bob}")).await;
    assert_eq!(
        (status, theirs["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(1004)),
        "another user's order is a 404"
    );
    let (_, list) = app.get_json_auth("/api/v1/order/list/", &format!("jwt {alice}")).await;
    assert_eq!(list["result"].as_array().map(Vec::len), Some(1));
    let (_, empty) = app.get_json_auth("/api/v1/order/list/", &format!("jwt {bob}")).await;
    assert_eq!(empty["result"].as_array().map(Vec::len), Some(0));
}

/// Two server processes on one Postgres: notifies split between them pay once, and the
/// outbox jobs run once between their workers.
#[tokio::test]
async fn two_servers_share_the_work_exactly_once() {
    let gw = FakeGateway::start().await;
    let one = TestApp::spawn_with(Backend::Postgres, |s| gateway_settings(s, &gw)).await;
    let two = TestApp::spawn_on(&one.db_url, |s| gateway_settings(s, &gw)).await;
    let token = one.buyer("shared").await;
    let mut orders = Vec::new();
    for id in [2, 3, 4, 5, 6] {
        let (no, fen) = one.order(&token, &[id]).await;
        orders.push((no, fen));
    }
    let mut handles = Vec::new();
    for (i, (no, fen)) in orders.iter().enumerate() {
        let body = gw.sign(&gw.paid_notify(no, *fen, TradeStatus::TradeSuccess));
        for server in [&one, &two] {
            for _ in 0..3 {
                let (client, url, body) =
                    (server.client.clone(), server.url("/api/v1/order/success/"), body.clone());
                handles.push(tokio::spawn(async move {
                    let res = client
                        .post(url)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await;
                    (i, res.expect("request").text().await.expect("text"))
                }));
            }
        }
    }
    for h in handles {
        assert_eq!(h.await.expect("join").1, "success");
    }
    for (no, _) in &orders {
        assert_eq!(status_of(&one.order_row(no).await), OrderStatus::Paid);
    }
    assert_eq!(jobs(&one, "order_paid").await.len(), 5);
    // Refund every order; both workers run at once; each refund reaches Alipay once.
    for (no, fen) in &orders {
        gw.set_trade(no, *fen, TradeStatus::TradeSuccess);
        payments::request_refund(&one.ctx, no, None, "test").await.expect("refund");
    }
    let (a, b) = tokio::join!(shop_app::worker::run_once(&one.ctx), shop_app::worker::run_once(&two.ctx));
    let (a, b) = (a.expect("one"), b.expect("two"));
    // 5 order_paid + 5 refunds, each claimed once (an order_email job that an order_paid
    // job enqueued may run in the same passes too).
    assert!(a.done + b.done >= 10 && a.failed + b.failed + a.retried + b.retried == 0, "{a:?} {b:?}");
    let ran = [jobs(&one, "order_paid").await, jobs(&one, "alipay_refund").await].concat();
    assert_eq!(ran.len(), 10);
    for job in &ran {
        assert_eq!((job.status.as_str(), job.attempts), ("done", 1), "run once: {job:?}");
    }
    assert_eq!(gw.calls("alipay.trade.refund").len(), 5);
    for (no, _) in &orders {
        assert_eq!(status_of(&one.order_row(no).await), OrderStatus::Refunded);
    }
}

/// The development simulator: the pay URL opens the server's own cashier, Pay sends a signed
/// notify through the normal verification, and the browser lands on a page that says paid.
#[tokio::test]
async fn the_simulator_plays_the_whole_cashier_flow() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| s.workers.enabled = false).await;
        let token = app.buyer("simbuyer").await;
        let (no, _) = app.order(&token, &[2]).await;
        let row = app.order_row(&no).await;
        let pay_url = row.pay_url.clone().expect("pay url");
        assert!(pay_url.starts_with(&format!("{}/dev/alipay/gateway.do?", app.address)), "{pay_url}");
        let cashier = app.client.get(&pay_url).send().await.expect("cashier").text().await.expect("html");
        assert!(cashier.contains("确认付款") && cashier.contains("1499.00"), "{cashier}");
        let q =
            cashier.split("name=\"q\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("hidden q");
        let q = q
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&");
        let res =
            app.client.post(app.url("/dev/alipay/pay")).form(&[("q", q.as_str())]).send().await.expect("pay");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let back = res.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(back.starts_with(&format!("{}/pay/result/?", app.address)), "{back}");
        let page = app.client.get(&back).send().await.expect("result").text().await.expect("html");
        assert!(page.contains("支付成功"), "{page}");
        assert_eq!(status_of(&app.order_row(&no).await), OrderStatus::Paid);
        let accepted = audit(&app, &no).await;
        assert_eq!(accepted.len(), 1, "{backend:?}");
        assert_eq!(accepted[0].verdict, "accepted");
        // A tampered cashier request is refused.
        let res = app
            .client
            .post(app.url("/dev/alipay/pay"))
            .form(&[("q", q.replace("1499.00", "0.01").as_str())])
            .send()
            .await
            .expect("pay");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}

on_both_backends!(the_simulator_is_off_in_gateway_mode);

async fn the_simulator_is_off_in_gateway_mode(app: TestApp) {
    // The test profile runs the simulator; this one checks its routes exist only then.
    let (status, _) = app.get_json("/dev/alipay/gateway.do").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "simulator on: an unsigned request is refused");
    let gw = FakeGateway::start().await;
    let off = TestApp::spawn_with(Backend::Sqlite, |s| gateway_settings(s, &gw)).await;
    let (status, _) = off.get_json("/dev/alipay/gateway.do").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// With the database gone, a notify cannot be made durable: the answer is a bare `fail`
/// (Alipay resends later), never `success` and never a JSON error page.
#[tokio::test]
async fn a_notify_while_the_database_is_down_gets_fail() {
    let (app, gw) = crate::helpers::spawn_with_gateway(Backend::Postgres).await;
    let token = app.buyer("outage").await;
    let (no, fen) = app.order(&token, &[2]).await;
    let body = gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess));
    app.cut_database().await;
    let (status, text) = app.post_notify(body).await;
    assert_eq!((status, text.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "fail"));
}

/// Refund notifies: a partial refund arrives as TRADE_SUCCESS with `refund_fee` (the order
/// stays paid, the refunded amount is recorded), the rest as TRADE_CLOSED (refunded, access
/// revoked).
#[tokio::test]
async fn refund_notifies_record_partial_then_full_refunds() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (app, gw) = crate::helpers::spawn_with_gateway(backend).await;
        let token = app.buyer("refundnote").await;
        let (no, fen) = app.order(&token, &[28]).await;
        app.pay(&gw, &no, fen).await;
        let half = fen / 2;
        let mut partial = gw.paid_notify(&no, fen, TradeStatus::TradeSuccess);
        let amount = shop_domain::Money::from_fen(half).expect("m").to_string();
        partial.push(("refund_fee".into(), amount));
        partial.push(("gmt_refund".into(), shop_alipay::time::format_beijing(chrono::Utc::now())));
        partial.push(("out_biz_no".into(), format!("{no}R1")));
        let (_, text) = app.post_notify(gw.sign(&partial)).await;
        assert_eq!(text, "success");
        let row = app.order_row(&no).await;
        assert_eq!((status(&row), row.refunded_fen.fen()), (OrderStatus::Paid, half), "{backend:?}");
        let (_, course) = app.get_json_auth("/api/v1/course/list/28/", &format!("jwt {token}")).await;
        assert_eq!(course["owned"], true, "a partial refund keeps access");
        let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeClosed))).await;
        assert_eq!(text, "success");
        let row = app.order_row(&no).await;
        assert_eq!((status(&row), row.refunded_fen.fen()), (OrderStatus::Refunded, fen));
        let (_, course) = app.get_json_auth("/api/v1/course/list/28/", &format!("jwt {token}")).await;
        assert_eq!(course["owned"], false, "a full refund revokes access");
    }
}

/// With `alipay.late_payment = "grant"`, money for an expired order is kept and the order
/// becomes paid (the buyer gets the course) instead of being refunded.
#[tokio::test]
async fn late_payment_can_grant_the_course_instead_of_refunding() {
    let gw = FakeGateway::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        gateway_settings(s, &gw);
        s.alipay.late_payment = shop_app::config::LatePayment::Grant;
    })
    .await;
    let token = app.buyer("lategrant").await;
    let (no, fen) = app.order(&token, &[29]).await;
    make_overdue(&app, &no).await;
    payments::expire_due_orders(&app.ctx).await.expect("sweep");
    assert_eq!(status(&app.order_row(&no).await), OrderStatus::Expired);
    app.pay(&gw, &no, fen).await;
    assert_eq!(status(&app.order_row(&no).await), OrderStatus::Paid);
    assert!(jobs(&app, "alipay_refund").await.is_empty(), "no refund under the grant policy");
    let (_, course) = app.get_json_auth("/api/v1/course/list/29/", &format!("jwt {token}")).await;
    assert_eq!(course["owned"], true);
}

/// The HTTP layer counts the requests in progress (the outbox worker gives way to them): one
/// while a status poll waits on a hanging gateway, none once it has been answered.
#[tokio::test]
async fn requests_in_progress_are_counted_while_they_run() {
    let (app, gw) = crate::helpers::spawn_with_gateway(Backend::Sqlite).await;
    let token = app.buyer("counted").await;
    let (no, fen) = app.order(&token, &[25]).await;
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    gw.set_behaviour(Behaviour::Hang);
    make_queryable(&app, &no).await;
    assert_eq!(app.ctx.requests().count(), 0);
    let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/order/success/?out_trade_no={no}")));
    let poll = tokio::spawn(async move { client.get(url).send().await.expect("poll").status() });
    let mut seen = 0;
    for _ in 0..100 {
        seen = app.ctx.requests().count();
        if seen > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 1, "the waiting poll is counted");
    assert_eq!(poll.await.expect("join"), StatusCode::OK);
    assert_eq!(app.ctx.requests().count(), 0, "and no longer once answered");
}
