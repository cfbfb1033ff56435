//! The audit rows of notifications that change nothing (repeats of a recorded payment,
//! rejections, events the shop does not act on), written together: the rows of concurrent
//! notifications share one INSERT and one durable commit (a group commit), and each caller
//! returns only after the commit that holds its own row. A notification that changes an order
//! keeps its row in that change's transaction (`notify`).
//!
//! The queue is a [`GroupCommit`] (at most [`MOST_ROWS`] rows in one statement, [`BATCHES`]
//! statements at a time).
use sea_orm::{DatabaseConnection, DbErr};
use shop_db::payments::{self, NotifyRecord};

use super::group_commit::GroupCommit;

/// Most rows in one statement.
pub(crate) const MOST_ROWS: usize = 64;

/// Most statements in flight: while one commits, the rows queued meanwhile are written.
const BATCHES: usize = 2;

/// The group-commit queue of audit rows (one per process, held by [`super::Payments`]).
pub struct NotifyLog(GroupCommit<NotifyRecord, Result<(), DbErr>>);

impl Default for NotifyLog {
    fn default() -> Self {
        NotifyLog(GroupCommit::new(MOST_ROWS, BATCHES))
    }
}

impl NotifyLog {
    /// Stores `record` and returns once it is committed.
    ///
    /// # Errors
    /// The database's error for this row: when a batch fails, its rows are written again one
    /// at a time, so each caller gets the outcome of its own row.
    pub(crate) async fn record(&self, db: &DatabaseConnection, record: NotifyRecord) -> Result<(), DbErr> {
        self.0
            .submit(record, |batch| write(db.clone(), batch))
            .await
            .unwrap_or_else(|_| Err(DbErr::Custom("the notify log's write was dropped".into())))
    }
}

/// Writes `records` in one statement, or row by row when that fails: an outcome per row.
async fn write(db: DatabaseConnection, records: Vec<NotifyRecord>) -> Vec<Result<(), DbErr>> {
    if records.len() > 1 {
        if payments::record_notifies(&db, records.clone()).await.is_ok() {
            return records.iter().map(|_| Ok(())).collect();
        }
        tracing::debug!(rows = records.len(), "notify log: the batch failed; writing its rows one by one");
    }
    let mut outcomes = Vec::with_capacity(records.len());
    for record in records {
        outcomes.push(payments::record_notify(&db, record).await);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::group_commit::submit_while_busy;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{Database, EntityTrait, QueryOrder};
    use shop_db::entities::payment_notify;
    use std::sync::Arc;

    fn row(i: usize, raw_body: &str) -> NotifyRecord {
        NotifyRecord {
            out_trade_no: Some(format!("CSLOG{i}")),
            verdict: "duplicate",
            reason: "TRADE_SUCCESS: no change".into(),
            raw_body: raw_body.into(),
            remote_addr: "127.0.0.1".into(),
            ..NotifyRecord::default()
        }
    }

    /// `rows` recorded by concurrent callers that all queue while a write is in progress, then
    /// let go; each caller's outcome, in the order of `rows`.
    async fn record_while_busy(db: &DatabaseConnection, rows: Vec<NotifyRecord>) -> Vec<Result<(), DbErr>> {
        let group = Arc::new(NotifyLog::default().0);
        let db = db.clone();
        let outcomes = submit_while_busy(&group, rows, move |batch| write(db.clone(), batch)).await;
        outcomes.into_iter().map(|o| o.expect("answered")).collect()
    }

    async fn stored(db: &DatabaseConnection) -> Vec<payment_notify::Model> {
        payment_notify::Entity::find().order_by_asc(payment_notify::Column::Id).all(db).await.expect("rows")
    }

    #[tokio::test]
    async fn rows_that_wait_together_are_written_in_one_statement() {
        for db in [
            Database::connect("sqlite::memory:").await.expect("sqlite"),
            crate::test_support::postgres().await,
        ] {
            Migrator::up(&db, None).await.expect("migrate");
            let outcomes = record_while_busy(&db, (0..10).map(|i| row(i, "a=1")).collect()).await;
            assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
            let rows = stored(&db).await;
            let mut numbers: Vec<_> = rows.iter().filter_map(|r| r.out_trade_no.clone()).collect();
            numbers.sort();
            let mut expected: Vec<_> = (0..10).map(|i| format!("CSLOG{i}")).collect();
            expected.sort();
            assert_eq!(numbers, expected, "{:?}", db.get_database_backend());
            // One statement gives every row of the batch the same receipt time; rows written
            // one by one each take their own.
            let first = rows[0].received_at;
            assert!(rows.iter().all(|r| r.received_at == first), "{:?}", db.get_database_backend());
        }
    }

    #[tokio::test]
    async fn a_row_the_database_refuses_fails_alone() {
        // Postgres refuses a NUL in text (the notify path replaces it: `storable`).
        let db = crate::test_support::postgres().await;
        Migrator::up(&db, None).await.expect("migrate");
        let rows = (0..5).map(|i| row(i, if i == 2 { "a=\0" } else { "a=1" })).collect();
        let outcomes = record_while_busy(&db, rows).await;
        let failed: Vec<usize> =
            outcomes.iter().enumerate().filter(|(_, o)| o.is_err()).map(|(i, _)| i).collect();
        assert_eq!(failed, vec![2], "{outcomes:?}");
        let mut numbers: Vec<_> = stored(&db).await.into_iter().filter_map(|r| r.out_trade_no).collect();
        numbers.sort();
        assert_eq!(numbers, ["CSLOG0", "CSLOG1", "CSLOG3", "CSLOG4"]);
    }
}
