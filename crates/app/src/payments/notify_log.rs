//! The audit rows of notifications that change nothing (repeats of a recorded payment,
//! rejections, events the shop does not act on), written together: the rows of concurrent
//! notifications share one INSERT and one durable commit (a group commit), and each caller
//! returns only after the commit that holds its own row. A notification that changes an order
//! keeps its row in that change's transaction (`notify`).
//!
//! There is no writer task to start or stop: the first row queued while the log is idle
//! starts a writer, which writes what is queued (up to [`MOST_ROWS`] rows in one statement)
//! and then, as long as rows queued meanwhile wait, the next batch at once; it ends when the
//! queue is empty. Queueing a row and deciding whether a writer runs happen under one lock,
//! as do the writer's last look at the queue and its end, so every queued row is written by
//! the writer that runs when it is queued. The writer is a task of its own: a caller that goes
//! away (its client hung up) takes neither the rows of the others nor its own with it.
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::{DatabaseConnection, DbErr};
use shop_db::payments::{self, NotifyRecord};
use tokio::sync::oneshot;

/// Most rows in one statement.
pub(crate) const MOST_ROWS: usize = 64;

/// A queued row and where its outcome goes.
type Waiting = (NotifyRecord, oneshot::Sender<Result<(), DbErr>>);

/// The rows waiting to be written, and whether a writer runs.
#[derive(Default)]
struct Queue {
    rows: Vec<Waiting>,
    /// A writer runs: one batch at a time.
    writing: bool,
}

/// The group-commit queue of audit rows (one per process, held by [`super::Payments`]).
#[derive(Default)]
pub struct NotifyLog {
    queue: Arc<Mutex<Queue>>,
}

impl NotifyLog {
    /// Stores `record` and returns once it is committed.
    ///
    /// # Errors
    /// The database's error for this row: when a batch fails, its rows are written again one
    /// at a time, so each caller gets the outcome of its own row.
    pub(crate) async fn record(&self, db: &DatabaseConnection, record: NotifyRecord) -> Result<(), DbErr> {
        let (sender, written) = oneshot::channel();
        let start_writer = {
            let mut queue = lock(&self.queue);
            queue.rows.push((record, sender));
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            tokio::spawn(write_while_queued(db.clone(), Arc::clone(&self.queue)));
        }
        written.await.unwrap_or_else(|_| Err(DbErr::Custom("the notify log's write was dropped".into())))
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer: the queue's oldest rows, at most [`MOST_ROWS`], one batch after another, until
/// the queue is empty.
async fn write_while_queued(db: DatabaseConnection, queue: Arc<Mutex<Queue>>) {
    /// A writer stopped before the queue was empty (dropped with the runtime, or a panic):
    /// the rows still queued fail (their notifies are answered with an error, and resent)
    /// rather than wait for a writer, and the log is idle again: the next row starts one.
    struct Running(Arc<Mutex<Queue>>, bool);
    impl Drop for Running {
        fn drop(&mut self) {
            if self.1 {
                let left = {
                    let mut queue = lock(&self.0);
                    queue.writing = false;
                    std::mem::take(&mut queue.rows)
                };
                for (_, waiter) in left {
                    let _ = waiter.send(Err(DbErr::Custom("the notify log's writer stopped".into())));
                }
            }
        }
    }
    let mut running = Running(queue, true);
    loop {
        let batch: Vec<Waiting> = {
            let mut queue = lock(&running.0);
            if queue.rows.is_empty() {
                queue.writing = false;
                running.1 = false;
                return;
            }
            let n = queue.rows.len().min(MOST_ROWS);
            queue.rows.drain(..n).collect()
        };
        write(&db, batch).await;
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
    use sea_orm::{ConnectionTrait, Database, EntityTrait, QueryOrder, TransactionTrait};
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

    /// `rows` recorded by concurrent callers that all queue while a writer runs (the test
    /// plays it), then written by one writer; each caller's outcome, in the order of `rows`.
    async fn record_while_busy(db: &DatabaseConnection, rows: Vec<NotifyRecord>) -> Vec<Result<(), DbErr>> {
        let log = Arc::new(NotifyLog::default());
        lock(&log.queue).writing = true;
        let n = rows.len();
        let callers: Vec<_> = rows.into_iter().map(|r| caller(&log, db, r)).collect();
        until(&log, |q| q.rows.len() == n).await;
        tokio::spawn(write_while_queued(db.clone(), Arc::clone(&log.queue)));
        let mut outcomes = Vec::new();
        for caller in callers {
            outcomes.push(caller.await.expect("a caller"));
        }
        outcomes
    }

    async fn stored(db: &DatabaseConnection) -> Vec<payment_notify::Model> {
        payment_notify::Entity::find().order_by_asc(payment_notify::Column::Id).all(db).await.expect("rows")
    }

    /// A caller of [`NotifyLog::record`] as a task of its own (a request being served).
    fn caller(
        log: &Arc<NotifyLog>,
        db: &DatabaseConnection,
        record: NotifyRecord,
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        let (log, db) = (Arc::clone(log), db.clone());
        tokio::spawn(async move { log.record(&db, record).await })
    }

    /// Waits until the log's queue is as `ready` says.
    async fn until(log: &NotifyLog, ready: impl Fn(&Queue) -> bool) {
        while !ready(&lock(&log.queue)) {
            tokio::task::yield_now().await;
        }
    }

    /// A transaction of another connection holding a lock that makes every write of an audit
    /// row wait until it ends.
    async fn writes_wait(db: &DatabaseConnection) -> sea_orm::DatabaseTransaction {
        let blocker = db.begin().await.expect("begin");
        blocker.execute_unprepared("LOCK TABLE payment_notifies IN EXCLUSIVE MODE").await.expect("lock");
        blocker
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

    /// A caller that goes away while its row waits (its client hung up) leaves the row in the
    /// queue; it is written after the batch in progress, not when the next notify comes.
    #[tokio::test]
    async fn a_row_whose_caller_went_away_is_written_after_the_batch_in_progress() {
        let db = crate::test_support::postgres().await;
        Migrator::up(&db, None).await.expect("migrate");
        let log = Arc::new(NotifyLog::default());
        // The first batch waits on a lock held by another transaction.
        let blocker = writes_wait(&db).await;
        let first = caller(&log, &db, row(0, "a=1"));
        until(&log, |q| q.rows.is_empty() && q.writing).await;
        let gone = caller(&log, &db, row(1, "a=2"));
        until(&log, |q| !q.rows.is_empty()).await;
        gone.abort();
        blocker.commit().await.expect("unlock");
        first.await.expect("the first caller").expect("its row");
        let mut numbers = Vec::new();
        for _ in 0..100 {
            numbers = stored(&db).await.into_iter().filter_map(|r| r.out_trade_no).collect();
            if numbers.len() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(numbers, ["CSLOG0", "CSLOG1"], "the row of the caller that went away is stored");
    }

    /// A writer stopped in the middle of a batch (the runtime dropped it) fails the rows it
    /// held and the rows queued behind them, and leaves the log idle: the next row starts a
    /// writer.
    #[tokio::test]
    async fn a_writer_stopped_midway_leaves_the_log_ready_for_the_next_row() {
        let db = crate::test_support::postgres().await;
        Migrator::up(&db, None).await.expect("migrate");
        let log = Arc::new(NotifyLog::default());
        let blocker = writes_wait(&db).await;
        lock(&log.queue).writing = true;
        let held = caller(&log, &db, row(0, "a=1"));
        until(&log, |q| !q.rows.is_empty()).await;
        let writer = tokio::spawn(write_while_queued(db.clone(), Arc::clone(&log.queue)));
        until(&log, |q| q.rows.is_empty()).await;
        let behind = caller(&log, &db, row(2, "a=3"));
        until(&log, |q| !q.rows.is_empty()).await;
        writer.abort();
        assert!(writer.await.expect_err("aborted").is_cancelled());
        assert!(held.await.expect("the caller").is_err(), "its row was not written");
        assert!(behind.await.expect("the caller behind").is_err(), "no writer is left for it");
        assert!(!lock(&log.queue).writing, "idle again");
        blocker.commit().await.expect("unlock");
        log.record(&db, row(1, "a=2")).await.expect("the next row");
        // (The stopped INSERT may still complete in Postgres once the lock is gone: its caller
        // was answered with an error, and the provider resends.)
        let numbers: Vec<_> = stored(&db).await.into_iter().filter_map(|r| r.out_trade_no).collect();
        assert!(numbers.contains(&"CSLOG1".to_owned()), "{numbers:?}");
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
