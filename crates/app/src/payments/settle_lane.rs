//! Payments of unpaid orders settled together: the one-statement settlements of concurrent
//! payment notifies (`shop_db::payments::settle_payment_notify`) run one after the other in
//! one transaction and share its durable commit, and each notify is answered only after that
//! commit (a group commit, [`GroupCommit`]). The commit is a third of what a payment costs
//! Postgres (`docs/benchmarks.md`, "Payments settled together").
//!
//! When a batch fails (a course of one order owned through another order undoes that order's
//! statement, and with it the transaction; or a database error), nothing of it is written and
//! each notify is settled alone, as it would be without the lane, so each gets its own
//! outcome. Where the database has no one-statement path (SQLite), every notify is
//! undecided, and the caller goes step by step.
use sea_orm::{DatabaseConnection, DbErr};
use shop_db::payments::{self, NotifySettled, PaymentNotify};

use super::group_commit::GroupCommit;

/// Most payments in one transaction.
pub(crate) const MOST_PAYMENTS: usize = 32;

/// Most transactions in flight. Their statements run in the order of the order numbers, so
/// two of them never wait for each other in a cycle.
const BATCHES: usize = 4;

/// The group-commit queue of payments (one per process, held by [`super::Payments`]).
pub struct SettleLane(GroupCommit<PaymentNotify, Result<NotifySettled, DbErr>>);

impl Default for SettleLane {
    fn default() -> Self {
        SettleLane(GroupCommit::new(MOST_PAYMENTS, BATCHES))
    }
}

impl SettleLane {
    /// Settles `notify` (see `shop_db::payments::settle_payment_notify`) and returns once
    /// what it wrote is committed.
    ///
    /// # Errors
    /// The database's error for this notify.
    pub(crate) async fn settle(
        &self,
        db: &DatabaseConnection,
        notify: PaymentNotify,
    ) -> Result<NotifySettled, DbErr> {
        self.0
            .submit(notify, |batch| settle(db.clone(), batch))
            .await
            .unwrap_or_else(|_| Err(DbErr::Custom("the settle lane's write was dropped".into())))
    }
}

/// Settles `batch` in one transaction, or each alone when that fails: an outcome per notify.
async fn settle(db: DatabaseConnection, batch: Vec<PaymentNotify>) -> Vec<Result<NotifySettled, DbErr>> {
    if batch.len() > 1 {
        match payments::settle_payment_notifies(&db, batch.clone()).await {
            Ok(settled) => return settled.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::debug!(payments = batch.len(), error = %e, "settle lane: the batch failed; settling its payments one by one");
            }
        }
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for notify in batch {
        outcomes.push(payments::settle_payment_notify(&db, notify).await);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::group_commit::submit_while_busy;
    use chrono::{Duration, Utc};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    use shop_db::orders::{self, NewLine, NewOrder};
    use shop_db::payments::NotifyRecord;
    use shop_domain::Money;
    use shop_domain::order::OrderStatus;
    use std::sync::Arc;

    const CATALOG: &str = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[
        {"id":1,"name":"A","teacher_id":1,"price":"9.90","period":30},
        {"id":2,"name":"B","teacher_id":1,"price":"9.90","period":0},
        {"id":3,"name":"C","teacher_id":1,"price":"9.90","period":0},
        {"id":4,"name":"D","teacher_id":1,"price":"9.90","period":0}]}"#;

    /// Unpaid orders `CSLANE<course>` of the buyer, one per course, for 9.90 each.
    async fn orders_for(db: &DatabaseConnection, buyer: i64, courses: &[i64]) {
        let now = Utc::now();
        for course in courses {
            let new = NewOrder {
                out_trade_no: format!("CSLANE{course}"),
                subject: "课程".into(),
                total_amount_fen: Money::from_fen(990).expect("fen"),
                pay_type: 1,
                user_id: buyer,
                expires_at: now + Duration::minutes(30),
                pay_url: "https://example.invalid/pay".into(),
                idempotency_key: None,
                request_hash: format!("h{course}"),
                purchase_token_hash: None,
            };
            let line = NewLine { course_id: *course, price_fen: Money::from_fen(990).expect("fen") };
            orders::create_step_by_step(db, new, &[line], now).await.expect("order");
        }
    }

    fn notify(course: i64) -> PaymentNotify {
        let no = format!("CSLANE{course}");
        PaymentNotify {
            out_trade_no: no.clone(),
            total_amount_fen: 990,
            trade_no: format!("2026T{course}"),
            paid_at: Utc::now(),
            job: crate::payments::apply::paid_job(&no).to_row().expect("job row"),
            record: NotifyRecord {
                out_trade_no: Some(no),
                verdict: "",
                raw_body: "trade_status=TRADE_SUCCESS".into(),
                remote_addr: "203.0.113.1".into(),
                ..NotifyRecord::default()
            },
            paid_reason: "TRADE_SUCCESS: order marked paid".into(),
            duplicate_reason: "TRADE_SUCCESS: no change".into(),
        }
    }

    /// `notifies` settled by concurrent callers that all wait for one batch.
    async fn settle_while_busy(
        db: &DatabaseConnection,
        notifies: Vec<PaymentNotify>,
    ) -> Vec<Result<NotifySettled, DbErr>> {
        let lane = Arc::new(SettleLane::default().0);
        let db = db.clone();
        let outcomes = submit_while_busy(&lane, notifies, move |batch| settle(db.clone(), batch)).await;
        outcomes.into_iter().map(|o| o.expect("answered")).collect()
    }

    async fn status(db: &DatabaseConnection, course: i64) -> OrderStatus {
        let no = format!("CSLANE{course}");
        orders::by_out_trade_no(db, &no).await.expect("read").expect("order").order_status
    }

    /// The transactions that wrote the orders `CSLANE<course>` (Postgres's `xmin`), distinct.
    async fn writers(db: &DatabaseConnection, courses: &[i64]) -> usize {
        let numbers: Vec<String> = courses.iter().map(|c| format!("'CSLANE{c}'")).collect();
        let sql = format!(
            "SELECT count(DISTINCT xmin::text) AS n FROM orders WHERE out_trade_no IN ({})",
            numbers.join(",")
        );
        let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.expect("q");
        usize::try_from(row.expect("a row").try_get::<i64>("", "n").expect("n")).expect("a count")
    }

    #[tokio::test]
    async fn payments_that_wait_together_share_one_transaction() {
        let db = crate::test_support::postgres().await;
        let buyer = crate::test_support::seed(&db, CATALOG).await;
        orders_for(&db, buyer.id, &[1, 2, 3, 4]).await;
        // Given out of order, with a repeat of the second payment queued after it.
        let outcomes =
            settle_while_busy(&db, vec![notify(3), notify(1), notify(4), notify(2), notify(1)]).await;
        let outcomes: Vec<NotifySettled> = outcomes.into_iter().map(|o| o.expect("settled")).collect();
        use NotifySettled::{Duplicate, Paid};
        assert_eq!(outcomes, [Paid, Paid, Paid, Paid, Duplicate]);
        for course in 1..=4 {
            assert_eq!(status(&db, course).await, OrderStatus::Paid, "CSLANE{course}");
        }
        assert_eq!(writers(&db, &[1, 2, 3, 4]).await, 1, "one transaction paid the four orders");
        let audit = payments::notifies(&db, None).await.expect("audit");
        let verdicts: Vec<&str> = audit.iter().map(|n| n.verdict.as_str()).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == "accepted").count(), 4, "{verdicts:?}");
        assert_eq!(verdicts.iter().filter(|v| **v == "duplicate").count(), 1, "{verdicts:?}");
    }

    #[tokio::test]
    async fn a_payment_that_undoes_itself_leaves_the_others_paid() {
        let db = crate::test_support::postgres().await;
        let buyer = crate::test_support::seed(&db, CATALOG).await;
        orders_for(&db, buyer.id, &[1, 2, 3]).await;
        // The buyer owns course 2 through another order: its payment is for the step-by-step
        // path (a refund), and the one-statement path undoes itself.
        shop_db::delivery::grant(&db, buyer.id, 2, 1, None, Utc::now()).await.expect("grant");
        let outcomes = settle_while_busy(&db, vec![notify(1), notify(2), notify(3)]).await;
        let outcomes: Vec<NotifySettled> = outcomes.into_iter().map(|o| o.expect("settled")).collect();
        use NotifySettled::{Paid, Undecided};
        assert_eq!(outcomes, [Paid, Undecided, Paid]);
        assert_eq!(status(&db, 1).await, OrderStatus::Paid);
        assert_eq!(status(&db, 2).await, OrderStatus::Unpaid, "nothing written for it");
        assert_eq!(status(&db, 3).await, OrderStatus::Paid);
        let audit = payments::notifies(&db, None).await.expect("audit");
        assert_eq!(audit.len(), 2, "the audit rows of the two payments only");
    }

    #[tokio::test]
    async fn without_the_one_statement_path_every_payment_is_undecided_and_nothing_written() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.expect("sqlite");
        let buyer = crate::test_support::seed(&db, CATALOG).await;
        orders_for(&db, buyer.id, &[1, 2]).await;
        let outcomes = settle_while_busy(&db, vec![notify(1), notify(2)]).await;
        let outcomes: Vec<NotifySettled> = outcomes.into_iter().map(|o| o.expect("answered")).collect();
        assert_eq!(outcomes, [NotifySettled::Undecided, NotifySettled::Undecided]);
        assert_eq!(status(&db, 1).await, OrderStatus::Unpaid);
        assert!(payments::notifies(&db, None).await.expect("audit").is_empty());
    }
}
