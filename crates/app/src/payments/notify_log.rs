//! The audit rows of notifications that change nothing (repeats of a recorded payment,
//! rejections, events the shop does not act on), written together: the rows of concurrent
//! notifications share one INSERT and one durable commit (a group commit), and each caller
//! returns only after the commit that holds its own row. A notification that changes an order
//! keeps its row in that change's transaction (`notify`).
//!
//! There is no writer task to start or stop: the first caller to find the log idle writes
//! what is queued (its own row and any others, up to [`MOST_ROWS`]) while the others wait for
//! their answer or for their turn. The write runs as a task of its own, so a caller that goes
//! away (its client hung up) does not take the rows of the others with it.
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::{DatabaseConnection, DbErr};
use shop_db::payments::{self, NotifyRecord};
use tokio::sync::oneshot;

/// Most rows in one statement.
pub(crate) const MOST_ROWS: usize = 64;

/// A queued row and where its outcome goes.
type Waiting = (NotifyRecord, oneshot::Sender<Result<(), DbErr>>);

/// The group-commit queue of audit rows (one per process, held by [`super::Payments`]).
#[derive(Default)]
pub struct NotifyLog {
    queue: Mutex<Vec<Waiting>>,
    /// Held while a batch is being written: one batch at a time.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl NotifyLog {
    /// Stores `record` and returns once it is committed.
    ///
    /// # Errors
    /// The database's error for this row: when a batch fails, its rows are written again one
    /// at a time, so each caller gets the outcome of its own row.
    pub(crate) async fn record(&self, db: &DatabaseConnection, record: NotifyRecord) -> Result<(), DbErr> {
        let (sender, mut written) = oneshot::channel();
        self.queue().push((record, sender));
        loop {
            let turn = tokio::select! {
                biased;
                outcome = &mut written => {
                    return outcome.unwrap_or_else(|_| Err(DbErr::Custom("the notify log's write was dropped".into())));
                }
                turn = Arc::clone(&self.turn).lock_owned() => turn,
            };
            let batch: Vec<Waiting> = {
                let mut queue = self.queue();
                let n = queue.len().min(MOST_ROWS);
                queue.drain(..n).collect()
            };
            // An empty queue: this caller's row went in the batch that just finished, and
            // `written` has its outcome.
            if !batch.is_empty() {
                let db = db.clone();
                tokio::spawn(async move {
                    write(&db, batch).await;
                    drop(turn);
                });
            }
        }
    }

    fn queue(&self) -> MutexGuard<'_, Vec<Waiting>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes `batch` in one statement, or row by row when that fails, and tells every waiter.
async fn write(db: &DatabaseConnection, batch: Vec<Waiting>) {
    let (records, waiters): (Vec<NotifyRecord>, Vec<_>) = batch.into_iter().unzip();
    if records.len() > 1 {
        if payments::record_notifies(db, records.clone()).await.is_ok() {
            for waiter in waiters {
                let _ = waiter.send(Ok(()));
            }
            return;
        }
        tracing::debug!(rows = records.len(), "notify log: the batch failed; writing its rows one by one");
    }
    for (record, waiter) in records.into_iter().zip(waiters) {
        let _ = waiter.send(payments::record_notify(db, record).await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{Database, EntityTrait, QueryOrder};
    use shop_db::entities::payment_notify;

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

    /// `rows` recorded by concurrent callers that all queue while a write is in progress (the
    /// turn held by the test), then let go; each caller's outcome, in the order of `rows`.
    async fn record_while_busy(db: &DatabaseConnection, rows: Vec<NotifyRecord>) -> Vec<Result<(), DbErr>> {
        let log = Arc::new(NotifyLog::default());
        let turn = Arc::clone(&log.turn).lock_owned().await;
        let n = rows.len();
        let callers: Vec<_> = rows
            .into_iter()
            .map(|r| {
                let (log, db) = (Arc::clone(&log), db.clone());
                tokio::spawn(async move { log.record(&db, r).await })
            })
            .collect();
        while log.queue().len() < n {
            tokio::task::yield_now().await;
        }
        drop(turn);
        let mut outcomes = Vec::new();
        for caller in callers {
            outcomes.push(caller.await.expect("a caller"));
        }
        outcomes
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
