//! Money is taken once: one open order per buyer and course (enforced by the database, so
//! concurrent identical purchases get one order), and when money arrives for a course its
//! buyer owns through another order, that part is refunded automatically.
use std::collections::HashSet;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use shop_alipay::TradeStatus;
use shop_db::entities::{order, user_course};
use shop_domain::order::OrderStatus;

use crate::fake_alipay::FakeGateway;
use crate::helpers::{Backend, TestApp, gateway_settings};
use crate::with_gateway_on_both_backends;

with_gateway_on_both_backends!(
    ten_concurrent_identical_purchases_make_one_order,
    a_new_order_for_a_held_course_replaces_the_unpaid_one,
);

fn status(o: &order::Model) -> OrderStatus {
    o.order_status
}

async fn price_fen(app: &TestApp, course: i64) -> i64 {
    let (_, c) = app.get_json(&format!("/api/v1/course/list/{course}/")).await;
    shop_domain::Money::parse_yuan(c["price"].as_str().expect("price")).expect("price").fen()
}

async fn ten_concurrent_identical_purchases_make_one_order(app: TestApp, _gw: FakeGateway) {
    let token = app.buyer("clicker").await;
    let total = shop_domain::Money::from_fen(price_fen(&app, 2).await).expect("money").to_string();
    let body = json!({"courses": ["2"], "total_amount": total, "subject": "Python", "pay_type": 1});
    let mut handles = Vec::new();
    for _ in 0..10 {
        let (client, url, token, body) =
            (app.client.clone(), app.url("/api/v1/order/alipay/"), token.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let res =
                client.post(url).header("Authorization", format!("jwt {token}")).json(&body).send().await;
            let res = res.expect("request");
            (res.status(), res.json::<Value>().await.expect("json"))
        }));
    }
    let mut numbers = HashSet::new();
    for h in handles {
        let (status, v) = h.await.expect("join");
        assert_eq!(status, StatusCode::OK, "{v}");
        numbers.insert(v["out_trade_no"].as_str().expect("no").to_owned());
    }
    assert_eq!(numbers.len(), 1, "one order for ten identical purchases: {numbers:?}");
    assert_eq!(order::Entity::find().count(app.ctx.db()).await.expect("count"), 1);
}

async fn a_new_order_for_a_held_course_replaces_the_unpaid_one(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("changer").await;
    let (first, first_fen) = app.order(&token, &[2]).await;
    let (second, second_fen) = app.order(&token, &[2, 3]).await;
    assert_ne!(first, second);
    assert_eq!(status(&app.order_row(&first).await), OrderStatus::Cancelled, "replaced");
    assert_eq!(status(&app.order_row(&second).await), OrderStatus::Unpaid);
    let closes = shop_db::outbox::list(app.ctx.db(), Some("alipay_close")).await.expect("jobs");
    assert_eq!(closes.len(), 1);
    assert!(closes[0].payload.contains(&first), "the replaced trade is closed at Alipay");
    // The newest order is the open one: asking again for it answers it.
    let (again, _) = app.order(&token, &[2, 3]).await;
    assert_eq!(again, second);
    // The buyer pays the replaced order anyway (an old cashier tab): refunded by the
    // late-payment rule; the new one pays normally.
    gw.set_trade(&first, first_fen, TradeStatus::TradeSuccess);
    gw.set_trade(&second, second_fen, TradeStatus::TradeSuccess);
    app.pay(&gw, &first, first_fen).await;
    app.pay(&gw, &second, second_fen).await;
    assert_eq!(status(&app.order_row(&first).await), OrderStatus::Refunded);
    assert_eq!(status(&app.order_row(&second).await), OrderStatus::Paid);
    assert_eq!(gw.calls("alipay.trade.refund").len(), 1);
    assert_eq!(gw.refunded_fen(&first), first_fen);
}

async fn access_rows(app: &TestApp, username: &str) -> Vec<i64> {
    let user_id = shop_db::users::by_username(app.ctx.db(), username).await.expect("q").expect("user").id;
    let mut ids: Vec<i64> = user_course::Entity::find()
        .filter(user_course::Column::UserId.eq(user_id))
        .filter(user_course::Column::RevokedAt.is_null())
        .all(app.ctx.db())
        .await
        .expect("access")
        .into_iter()
        .map(|r| r.course_id)
        .collect();
    ids.sort_unstable();
    ids
}

/// Order A for course 2, then order B for courses 2 and 3 (A is replaced), and the buyer pays
/// both. Under the grant policy A's late money is kept, so course 2 is paid twice: the second
/// payment's part for it is refunded, once, whichever arrives first, whether the two
/// notifies come one after the other (on Postgres B then takes the one-statement path, which
/// must step aside) or at the same time.
#[tokio::test]
async fn overlapping_orders_both_paid_keep_nothing_twice() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = FakeGateway::start().await;
        let app = TestApp::spawn_with(backend, |s| {
            gateway_settings(s, &gw);
            s.alipay.late_payment = shop_app::config::LatePayment::Grant;
        })
        .await;
        let course_2 = price_fen(&app, 2).await;
        for (buyer, together) in [("one_by_one", false), ("together", true)] {
            let token = app.buyer(buyer).await;
            let (a, a_fen) = app.order(&token, &[2]).await;
            let (b, b_fen) = app.order(&token, &[2, 3]).await;
            let refunds_before = gw.calls("alipay.trade.refund").len();
            gw.set_trade(&a, a_fen, TradeStatus::TradeSuccess);
            gw.set_trade(&b, b_fen, TradeStatus::TradeSuccess);
            let pay_a = gw.sign(&gw.paid_notify(&a, a_fen, TradeStatus::TradeSuccess));
            let pay_b = gw.sign(&gw.paid_notify(&b, b_fen, TradeStatus::TradeSuccess));
            let (ra, rb) = if together {
                tokio::join!(app.post_notify(pay_a), app.post_notify(pay_b))
            } else {
                let ra = app.post_notify(pay_a).await;
                (ra, app.post_notify(pay_b).await)
            };
            assert_eq!((ra.1.as_str(), rb.1.as_str()), ("success", "success"), "{backend:?} {buyer}");
            app.drain_outbox().await;
            let refunds = gw.calls("alipay.trade.refund");
            assert_eq!(refunds.len() - refunds_before, 1, "{backend:?} {buyer}: one refund: {refunds:?}");
            let refund = &refunds[refunds_before];
            assert_eq!(
                refund["refund_amount"],
                shop_domain::Money::from_fen(course_2).expect("m").to_string(),
                "{backend:?} {buyer}: the part paid twice"
            );
            assert_eq!(access_rows(&app, buyer).await, vec![2, 3], "{backend:?} {buyer}: each course once");
            let (ra, rb) = (app.order_row(&a).await, app.order_row(&b).await);
            assert_eq!(
                ra.refunded_fen.fen() + rb.refunded_fen.fen(),
                course_2,
                "{backend:?} {buyer}: recorded"
            );
            // A repeat of either notify refunds nothing more.
            app.post_notify(gw.sign(&gw.paid_notify(&b, b_fen, TradeStatus::TradeSuccess))).await;
            app.post_notify(gw.sign(&gw.paid_notify(&a, a_fen, TradeStatus::TradeSuccess))).await;
            app.drain_outbox().await;
            assert_eq!(gw.calls("alipay.trade.refund").len() - refunds_before, 1, "{backend:?} {buyer}");
        }
        // The sales report counts the refunded money.
        let report = shop_app::delivery::sales_report(&app.ctx.delivery(), None).await.expect("report");
        assert_eq!(report.refunded.fen(), 2 * course_2, "{backend:?}");
    }
}
