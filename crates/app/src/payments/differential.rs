//! The one-statement Postgres paths and the step-by-step paths of the same rules write the
//! same rows: order creation (`orders::create_in_one_statement` against
//! `orders::create_step_by_step`) and a payment notify with its repeat
//! (`payments::settle_payment_notify` against `apply` with `record_notify`). Each runs on a
//! database of its own, from the same inputs; the rows are compared column by column,
//! except for the times each path takes from the clock as it runs.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use shop_db::entities::{order, order_detail, order_hold, outbox, payment_notify, user_course};
use shop_db::orders::{self, Created, NewLine, NewOrder};
use shop_db::payments::{self, NotifyRecord, NotifySettled, PaymentNotify};
use shop_domain::Money;

use super::apply::{Applied, Observed, apply};
use super::provider::TradeState;
use crate::config::LatePayment;

const CATALOG: &str = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[
    {"id":1,"name":"A","teacher_id":1,"price":"9.90","period":30},
    {"id":2,"name":"B","teacher_id":1,"price":"19.90","period":0}]}"#;

fn fen(fen: i64) -> Money {
    Money::from_fen(fen).expect("an amount")
}

/// A fresh, migrated Postgres database with the catalog and one buyer.
async fn database() -> DatabaseConnection {
    let db = crate::test_support::postgres().await;
    crate::test_support::seed(&db, CATALOG).await;
    db
}

fn new_order(now: DateTime<Utc>) -> (NewOrder, Vec<NewLine>) {
    let new = NewOrder {
        out_trade_no: "CSDIFF1".into(),
        subject: "两门课 & more".into(),
        total_amount_fen: fen(2980),
        pay_type: 1,
        user_id: 1,
        expires_at: now + Duration::minutes(30),
        pay_url: "https://example.invalid/pay".into(),
        idempotency_key: Some("k1".into()),
        request_hash: "h".into(),
        purchase_token_hash: Some("a1".repeat(32)),
    };
    (new, vec![NewLine { course_id: 2, price_fen: fen(1990) }, NewLine { course_id: 1, price_fen: fen(990) }])
}

async fn orders_of(
    db: &DatabaseConnection,
) -> (Vec<order::Model>, Vec<order_detail::Model>, Vec<order_hold::Model>) {
    (
        order::Entity::find().order_by_asc(order::Column::Id).all(db).await.expect("orders"),
        order_detail::Entity::find().order_by_asc(order_detail::Column::Id).all(db).await.expect("details"),
        order_hold::Entity::find().order_by_asc(order_hold::Column::CourseId).all(db).await.expect("holds"),
    )
}

#[tokio::test]
async fn order_creation_writes_the_same_rows_on_both_paths() {
    let (one, steps) = (database().await, database().await);
    let now = Utc::now();
    let (new, lines) = new_order(now);
    let a = orders::create_in_one_statement(&one, new.clone(), &lines, now).await.expect("statement");
    let b = orders::create_step_by_step(&steps, new.clone(), &lines, now).await.expect("steps");
    assert_eq!(a, b);
    assert!(matches!(a, Created::Inserted(_)));
    let (rows_a, rows_b) = (orders_of(&one).await, orders_of(&steps).await);
    assert_eq!(rows_a, rows_b, "orders, lines and holds");
    assert_eq!(rows_a.1.len(), 2);
    assert_eq!(rows_a.2.len(), 2);

    // A buyer who owns one of the courses: both paths write nothing.
    for db in [&one, &steps] {
        shop_db::delivery::grant(db, 1, 1, 1, None, now).await.expect("grant");
    }
    let (mut other, _) = new_order(now);
    other.out_trade_no = "CSDIFF2".into();
    other.purchase_token_hash = Some("b2".repeat(32));
    other.idempotency_key = None;
    let a = orders::create_in_one_statement(&one, other.clone(), &lines, now).await.expect("statement");
    let b = orders::create_step_by_step(&steps, other, &lines, now).await.expect("steps");
    assert_eq!((a, b), (Created::AlreadyOwned, Created::AlreadyOwned));
    assert_eq!(orders_of(&one).await, rows_a);
    assert_eq!(orders_of(&steps).await, rows_b);
}

/// The rows a payment writes, without the times taken from the clock as each path runs.
async fn payment_rows(db: &DatabaseConnection) -> Vec<String> {
    let mut rows = Vec::new();
    for o in order::Entity::find().order_by_asc(order::Column::Id).all(db).await.expect("orders") {
        rows.push(format!(
            "order {} {:?} {:?} {:?} {}",
            o.id, o.order_status, o.trade_no, o.pay_time, o.refunded_fen
        ));
    }
    for a in
        user_course::Entity::find().order_by_asc(user_course::Column::CourseId).all(db).await.expect("access")
    {
        rows.push(format!(
            "access {} {} {:?} {:?} {:?}",
            a.user_id, a.course_id, a.order_id, a.expires_at, a.revoked_at
        ));
    }
    for j in outbox::Entity::find().order_by_asc(outbox::Column::Id).all(db).await.expect("jobs") {
        rows.push(format!("job {} {} {} {} {}", j.kind, j.payload, j.dedupe_key, j.status, j.attempts));
    }
    for n in
        payment_notify::Entity::find().order_by_asc(payment_notify::Column::Id).all(db).await.expect("audit")
    {
        rows.push(format!(
            "notify {:?} {:?} {:?} {} {} {} {}",
            n.out_trade_no, n.notify_id, n.trade_status, n.verdict, n.reason, n.raw_body, n.remote_addr
        ));
    }
    rows
}

fn record(verdict: &'static str, reason: String) -> NotifyRecord {
    NotifyRecord {
        out_trade_no: Some("CSDIFF1".into()),
        notify_id: Some("n1".into()),
        trade_status: Some("TRADE_SUCCESS".into()),
        verdict,
        reason,
        raw_body: "out_trade_no=CSDIFF1&trade_status=TRADE_SUCCESS".into(),
        remote_addr: "203.0.113.1".into(),
    }
}

fn reason(applied: Applied) -> String {
    format!("TRADE_SUCCESS: {}", applied.describe())
}

#[tokio::test]
async fn a_payment_and_its_repeat_write_the_same_rows_on_both_paths() {
    let (one, steps) = (database().await, database().await);
    let now = Utc::now();
    let (new, lines) = new_order(now);
    for db in [&one, &steps] {
        orders::create_step_by_step(db, new.clone(), &lines, now).await.expect("order");
    }
    let paid_at = now + Duration::seconds(5);
    let notify = || PaymentNotify {
        out_trade_no: "CSDIFF1".into(),
        total_amount_fen: 2980,
        trade_no: "2026T1".into(),
        paid_at,
        job: super::apply::paid_job("CSDIFF1").to_row().expect("job row"),
        record: record("", String::new()),
        paid_reason: reason(Applied::Paid),
        duplicate_reason: reason(Applied::NoChange),
    };
    let observed = Observed {
        out_trade_no: "CSDIFF1".into(),
        state: TradeState::Paid,
        status_text: "TRADE_SUCCESS".into(),
        trade_no: "2026T1".into(),
        total_amount_fen: 2980,
        paid_at: Some(paid_at),
        refund_fee_fen: None,
    };
    // The payment, then a repeat of it.
    for (round, verdict) in [(1, "accepted"), (2, "duplicate")] {
        let settled = payments::settle_payment_notify(&one, notify()).await.expect("statement");
        assert_eq!(settled, if round == 1 { NotifySettled::Paid } else { NotifySettled::Duplicate });
        let order = orders::by_out_trade_no(&steps, "CSDIFF1").await.expect("q").expect("order");
        let txn = shop_db::begin_write(&steps).await.expect("begin");
        let applied = apply(&txn, &order, &observed, LatePayment::Refund).await.expect("apply");
        payments::record_notify(&txn, record(verdict, reason(applied))).await.expect("audit");
        txn.commit().await.expect("commit");
        assert_eq!(payment_rows(&one).await, payment_rows(&steps).await, "round {round}");
    }
    assert!(payment_rows(&one).await.iter().any(|r| r.starts_with("job order_paid")));
}
