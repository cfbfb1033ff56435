//! The background work of a server process, wired together: the job queue with the
//! handlers of every feature, the expiry sweep of overdue unpaid orders, and the purge of old
//! rate-limit counters. The composition root of the jobs: `crate::jobs` knows the queue,
//! each feature its handlers, and this module the list.
use std::sync::Arc;
use std::time::Duration;

use shop_domain::Money;

use crate::context::{AppContext, InFlight};
use crate::delivery::DeliveryJobs;
use crate::error::AppResult;
use crate::jobs::{self, JobHandler, OutboxPass};
use crate::payments::PaymentJobs;

/// Every job handler of the shop.
const HANDLERS: [&dyn JobHandler; 2] = [&DeliveryJobs, &PaymentJobs];

/// Claims and runs the due jobs once, each with its feature's handler.
///
/// # Errors
/// Database errors while claiming.
pub async fn run_once(ctx: &AppContext) -> AppResult<OutboxPass> {
    jobs::run_once(ctx, &HANDLERS, jobs::BATCH).await
}

/// Where a recorded refund stands after [`carry_out_refund`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundProgress {
    /// Alipay confirmed it.
    Succeeded {
        /// The refund's request number.
        out_request_no: String,
        /// The total refunded on the trade so far, in fen, as Alipay reported it.
        refunded_total_fen: i64,
    },
    /// Alipay refused it; nothing was refunded.
    Refused {
        /// Alipay's reason.
        reason: String,
    },
    /// Not answered yet (Alipay could not be reached, or the job was not due): the outbox
    /// worker retries it with the same request number.
    Pending {
        /// What the pass of the outbox did.
        pass: OutboxPass,
    },
}

/// Carries out a refund recorded by [`crate::payments::request_refund`] now: runs one pass of the outbox
/// (the refund's job among the due ones) and reads where the refund stands.
///
/// # Errors
/// Database errors.
pub async fn carry_out_refund(ctx: &AppContext, out_request_no: &str) -> AppResult<RefundProgress> {
    let pass = run_once(ctx).await?;
    let refund = shop_db::payments::refund_by_request_no(&ctx.db, out_request_no).await?;
    Ok(match refund {
        Some(r) if r.status == shop_db::payments::refund_status::SUCCEEDED => RefundProgress::Succeeded {
            out_request_no: r.out_request_no,
            refunded_total_fen: r.refund_fee_fen.map_or(0, Money::fen),
        },
        Some(r) if r.status == shop_db::payments::refund_status::FAILED => {
            RefundProgress::Refused { reason: r.last_error.unwrap_or_default() }
        }
        _ => RefundProgress::Pending { pass },
    })
}

/// Whether `requests` in progress reach `threshold` (0: never).
fn busy(requests: &InFlight, threshold: usize) -> bool {
    threshold > 0 && requests.count() >= threshold
}

/// How long the outbox worker waits, after a full batch that took `batch`, while requests
/// are queueing: as long as the batch took (at least 1 ms, at most the poll interval), so
/// that requests get at least half of the worker's turns and the worker still keeps at least
/// half its pace. Before, it took one batch per poll interval (40 jobs/s at the defaults),
/// and the purchase emails of a sustained burst of payments fell minutes behind.
fn pause_when_busy(batch: Duration, every: Duration) -> Duration {
    batch.clamp(Duration::from_millis(1), every)
}

/// What the outbox worker does next: wait `wait`, then run `passes` passes at once, each
/// claiming up to `claim` jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pace {
    wait: Duration,
    claim: usize,
    passes: usize,
}

/// How many passes a worker that is catching up runs at once. Requests are many at once in a
/// burst (16 connections in bench/outbox_drain.sh), and Postgres and the runtime share the
/// machine by connection and by task: one pass at a time, even back to back, got too small a
/// share to keep up with the payments.
const CATCH_UP_PASSES: usize = 4;

impl Pace {
    /// On time: one pass of [`jobs::BATCH`] after `wait`.
    const fn on_time(wait: Duration) -> Pace {
        Pace { wait, claim: jobs::BATCH, passes: 1 }
    }
}

/// The outbox worker's next step after passes that claimed `claimed` jobs of at most
/// `limit` and took `took`, with `lag` the time their oldest job had waited past its due
/// time, while requests are queueing (`busy`) or not.
///
/// - Not full (fewer than `limit`): the queue is drained; poll again after `every`.
/// - Full, on time: the next pass at once, or, while busy, after [`pause_when_busy`]
///   (requests first, but only by so much).
/// - Full, and the oldest job waited `catch_up` or longer (`outbox.catch_up_after_seconds`;
///   zero: never): the worker is falling behind the payments (at half its pace a sustained
///   burst outruns it, and the purchase emails fall minutes behind). It runs
///   [`CATCH_UP_PASSES`] passes of [`jobs::CATCH_UP_BATCH`] jobs at once, back to back,
///   yielding to nobody, until its jobs are no longer late: the requests then share the
///   machine with it, and the emails stay seconds behind.
fn pace(
    claimed: usize,
    limit: usize,
    took: Duration,
    busy: bool,
    lag: Duration,
    catch_up: Duration,
    every: Duration,
) -> Pace {
    if claimed < limit {
        return Pace::on_time(every);
    }
    if !catch_up.is_zero() && lag >= catch_up {
        return Pace { wait: Duration::ZERO, claim: jobs::CATCH_UP_BATCH, passes: CATCH_UP_PASSES };
    }
    Pace::on_time(if busy { pause_when_busy(took, every) } else { Duration::ZERO })
}

/// Runs `pace.passes` passes at once, each claiming up to `pace.claim` jobs (concurrent claims
/// take different jobs); what they did together.
async fn run_passes(ctx: &AppContext, pace: Pace) -> AppResult<OutboxPass> {
    let passes = (0..pace.passes).map(|_| jobs::run_once(ctx, &HANDLERS, pace.claim));
    let mut all = OutboxPass::default();
    for pass in futures_util::future::join_all(passes).await {
        let pass = pass?;
        all.claimed += pass.claimed;
        all.done += pass.done;
        all.retried += pass.retried;
        all.failed += pass.failed;
        all.oldest_due = match (all.oldest_due, pass.oldest_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(all)
}

/// How often the daily reconciliation looks whether the previous day is due.
const RECONCILIATION_CHECK: Duration = Duration::from_secs(15 * 60);

/// Runs the background workers of a server process until it exits: the outbox worker
/// (side effects, retried with backoff), the expiry sweep of overdue unpaid orders and the
/// daily reconciliation against the providers' statements (`[reconciliation]`).
/// Several processes may run them against one database: jobs and orders are claimed.
pub fn spawn_workers(ctx: Arc<AppContext>) {
    let outbox_ctx = Arc::clone(&ctx);
    tokio::spawn(async move {
        let cfg = &outbox_ctx.settings.outbox;
        let every = Duration::from_millis(cfg.poll_interval_ms.max(50));
        let catch_up = Duration::from_secs(cfg.catch_up_after_seconds);
        let mut next = Pace::on_time(Duration::ZERO);
        loop {
            let started = std::time::Instant::now();
            next = match run_passes(&outbox_ctx, next).await {
                Ok(pass) => {
                    let lag = pass
                        .oldest_due
                        .and_then(|due| (chrono::Utc::now() - due).to_std().ok())
                        .unwrap_or_default();
                    let busy = busy(outbox_ctx.requests(), cfg.yield_at_requests);
                    let limit = next.claim * next.passes;
                    pace(pass.claimed, limit, started.elapsed(), busy, lag, catch_up, every)
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "outbox pass failed");
                    Pace::on_time(every)
                }
            };
            if !next.wait.is_zero() {
                tokio::time::sleep(next.wait).await;
            }
        }
    });
    if ctx.settings.reconciliation.daily {
        let daily_ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            // Every quarter of an hour: the previous day's statements once they are due (from
            // `reconciliation.hour`), each until a run of it completes.
            loop {
                if let Err(e) =
                    crate::payments::reconcile_due_statements(&daily_ctx, chrono::Utc::now()).await
                {
                    tracing::warn!(error = ?e, "daily reconciliation failed");
                }
                tokio::time::sleep(RECONCILIATION_CHECK).await;
            }
        });
    }
    tokio::spawn(async move {
        let every = Duration::from_secs(ctx.settings.alipay.expiry_check_seconds.max(1));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = crate::payments::expire_due_orders(&ctx).await {
                tracing::warn!(error = ?e, "expiry sweep failed");
            }
            if let Err(e) = crate::limits::purge(&ctx.db).await {
                tracing::warn!(error = ?e, "purging old rate-limit counters failed");
            }
            if let Err(e) = crate::console::purge(&ctx).await {
                tracing::warn!(error = ?e, "purging expired console sessions failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_busy_worker_pauses_as_long_as_its_batch_took_within_bounds() {
        let every = Duration::from_millis(500);
        assert_eq!(pause_when_busy(Duration::from_millis(30), every), Duration::from_millis(30));
        assert_eq!(pause_when_busy(Duration::ZERO, every), Duration::from_millis(1));
        assert_eq!(pause_when_busy(Duration::from_secs(3), every), every);
    }

    #[test]
    fn a_worker_behind_catches_up_with_bigger_batches_back_to_back_even_while_busy() {
        let (every, catch_up, took) =
            (Duration::from_millis(500), Duration::from_secs(3), Duration::from_millis(40));
        let (small, big) = (jobs::BATCH, jobs::CATCH_UP_BATCH * CATCH_UP_PASSES);
        let catching_up = Pace { wait: Duration::ZERO, claim: jobs::CATCH_UP_BATCH, passes: CATCH_UP_PASSES };
        let on_time = Duration::from_millis(900);
        let late = Duration::from_secs(5);
        // On time: as before (requests first while busy, back to back otherwise).
        assert_eq!(pace(small, small, took, true, on_time, catch_up, every), Pace::on_time(took));
        assert_eq!(pace(small, small, took, false, on_time, catch_up, every), Pace::on_time(Duration::ZERO));
        // Late by the threshold or more: bigger batches, several at once, busy or not.
        for busy in [true, false] {
            assert_eq!(pace(small, small, took, busy, late, catch_up, every), catching_up);
            assert_eq!(pace(big, big, took, busy, catch_up, catch_up, every), catching_up);
        }
        // Back on time after catching up: one small batch at a time again.
        assert_eq!(pace(big, big, took, true, on_time, catch_up, every), Pace::on_time(took));
        // Drained (not full), late or not: poll again later, one small batch.
        assert_eq!(pace(big - 1, big, took, true, late, catch_up, every), Pace::on_time(every));
        assert_eq!(pace(0, small, took, false, Duration::ZERO, catch_up, every), Pace::on_time(every));
        // 0: never catches up.
        assert_eq!(pace(small, small, took, true, late, Duration::ZERO, every), Pace::on_time(took));
    }

    #[test]
    fn requests_count_while_their_guards_live_and_the_worker_gives_way_at_the_threshold() {
        let requests = Arc::new(InFlight::default());
        assert!(!busy(&requests, 2));
        let one = requests.enter();
        let two = requests.enter();
        assert_eq!(requests.count(), 2);
        assert!(busy(&requests, 2));
        assert!(!busy(&requests, 3));
        assert!(!busy(&requests, 0), "0 never holds back");
        drop(one);
        assert_eq!(requests.count(), 1);
        assert!(!busy(&requests, 2));
        drop(two);
        assert_eq!(requests.count(), 0);
    }
}
