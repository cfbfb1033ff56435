//! The job queue (the transactional outbox): side effects enqueued in the transaction of
//! the state change that causes them, claimed by workers with a lease, run after commit, and
//! retried with exponential backoff. Jobs are idempotent (an Alipay refund reuses its
//! `out_request_no`, a close of a closed trade is harmless, database effects commit together
//! with the job's completion), so a job interrupted half-way can run again.
//!
//! This module knows the job kinds and the queue; it does not know what a job does. Each
//! feature owns the handlers of its kinds ([`JobHandler`]: delivery runs `order_paid` and the
//! emails, payments runs Alipay closes and refunds), and the worker (`crate::worker`) hands
//! the list of handlers to [`run_once`].
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde::{Deserialize, Serialize};
use shop_db::entities::outbox as row;
use shop_db::outbox::{self, NewJob};
use shop_domain::order::PayType;

use crate::context::AppContext;
use crate::error::{AppError, AppResult};

/// A side effect to carry out after commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// An order was paid: count its learners, issue its download links, send its email
    /// (once that work committed, the row's payload becomes the [`Job::OrderEmail`] of its
    /// order, which a retry runs alone).
    OrderPaid {
        /// The order.
        #[serde(flatten)]
        order: OrderRef,
    },
    /// Close an unpaid trade at Alipay.
    AlipayClose {
        /// Our order number.
        out_trade_no: String,
    },
    /// Mail the confirmation of a paid order with its private links: what is left of an
    /// `order_paid` job once its database work committed (the row keeps its kind and key),
    /// or a row of its own as earlier versions enqueued it.
    OrderEmail {
        /// The order.
        order_id: i64,
    },
    /// Mail one buyer one update campaign.
    CampaignEmail {
        /// The campaign.
        campaign_id: i64,
        /// The buyer.
        user_id: i64,
    },
    /// Refund money through Alipay.
    AlipayRefund {
        /// Our order number.
        out_trade_no: String,
        /// The refund's idempotency key at Alipay.
        out_request_no: String,
        /// Amount in fen.
        amount_fen: i64,
        /// Reason shown to the buyer.
        reason: String,
    },
    /// Close an unpaid trade at WeChat Pay.
    WechatpayClose {
        /// Our order number.
        out_trade_no: String,
    },
    /// Refund money through WeChat Pay.
    WechatpayRefund {
        /// Our order number.
        out_trade_no: String,
        /// The refund's idempotency key at WeChat Pay (`out_refund_no`).
        out_request_no: String,
        /// Amount in fen.
        amount_fen: i64,
        /// Reason shown to the buyer.
        reason: String,
    },
    /// Expire an unpaid Checkout Session at Stripe.
    StripeClose {
        /// Our order number.
        out_trade_no: String,
    },
    /// Refund money through Stripe.
    StripeRefund {
        /// Our order number.
        out_trade_no: String,
        /// The refund's `Idempotency-Key` at Stripe.
        out_request_no: String,
        /// Amount in fen.
        amount_fen: i64,
        /// Reason (kept; Stripe shows the buyer none).
        reason: String,
    },
}

/// A call to a payment provider that a job makes (the provider is named by the job's kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeCall {
    /// Close an unpaid trade.
    Close {
        /// Our order number.
        out_trade_no: String,
    },
    /// Refund money.
    Refund {
        /// Our order number.
        out_trade_no: String,
        /// The refund's idempotency key at the provider.
        out_request_no: String,
        /// Amount in fen.
        amount_fen: i64,
        /// Reason shown to the buyer.
        reason: String,
    },
}

/// An order named by a job: by our order number, as jobs are enqueued now (so that a
/// statement can write the job before it learns the order's id), or by id, as earlier
/// versions enqueued `order_paid` (such rows may still be queued).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderRef {
    /// By our order number.
    Number {
        /// Our order number.
        out_trade_no: String,
    },
    /// By id.
    Id {
        /// The order's id.
        order_id: i64,
    },
}

impl Job {
    /// The job that closes an unpaid trade at the provider of `pay_type`.
    pub fn close(pay_type: PayType, out_trade_no: String) -> Job {
        match pay_type {
            PayType::Alipay => Job::AlipayClose { out_trade_no },
            PayType::WechatPay => Job::WechatpayClose { out_trade_no },
            PayType::Stripe => Job::StripeClose { out_trade_no },
        }
    }

    /// The job that refunds money through the provider of `pay_type`.
    pub fn refund(
        pay_type: PayType,
        out_trade_no: String,
        out_request_no: String,
        amount_fen: i64,
        reason: String,
    ) -> Job {
        match pay_type {
            PayType::Alipay => Job::AlipayRefund { out_trade_no, out_request_no, amount_fen, reason },
            PayType::WechatPay => Job::WechatpayRefund { out_trade_no, out_request_no, amount_fen, reason },
            PayType::Stripe => Job::StripeRefund { out_trade_no, out_request_no, amount_fen, reason },
        }
    }

    /// The provider and the call of a close or refund job (`None` for other jobs).
    pub fn trade_call(&self) -> Option<(PayType, TradeCall)> {
        let close = |no: &String| TradeCall::Close { out_trade_no: no.clone() };
        let refund = |out_trade_no: &String, out_request_no: &String, amount_fen: i64, reason: &String| {
            TradeCall::Refund {
                out_trade_no: out_trade_no.clone(),
                out_request_no: out_request_no.clone(),
                amount_fen,
                reason: reason.clone(),
            }
        };
        match self {
            Job::AlipayClose { out_trade_no } => Some((PayType::Alipay, close(out_trade_no))),
            Job::WechatpayClose { out_trade_no } => Some((PayType::WechatPay, close(out_trade_no))),
            Job::StripeClose { out_trade_no } => Some((PayType::Stripe, close(out_trade_no))),
            Job::AlipayRefund { out_trade_no, out_request_no, amount_fen, reason } => {
                Some((PayType::Alipay, refund(out_trade_no, out_request_no, *amount_fen, reason)))
            }
            Job::WechatpayRefund { out_trade_no, out_request_no, amount_fen, reason } => {
                Some((PayType::WechatPay, refund(out_trade_no, out_request_no, *amount_fen, reason)))
            }
            Job::StripeRefund { out_trade_no, out_request_no, amount_fen, reason } => {
                Some((PayType::Stripe, refund(out_trade_no, out_request_no, *amount_fen, reason)))
            }
            Job::OrderPaid { .. } | Job::OrderEmail { .. } | Job::CampaignEmail { .. } => None,
        }
    }

    /// The kind, as stored in the `kind` column and named by [`JobHandler::kinds`].
    pub fn kind(&self) -> &'static str {
        match self {
            Job::OrderPaid { .. } => "order_paid",
            Job::AlipayClose { .. } => "alipay_close",
            Job::AlipayRefund { .. } => "alipay_refund",
            Job::WechatpayClose { .. } => "wechatpay_close",
            Job::WechatpayRefund { .. } => "wechatpay_refund",
            Job::StripeClose { .. } => "stripe_close",
            Job::StripeRefund { .. } => "stripe_refund",
            Job::OrderEmail { .. } => "order_email",
            Job::CampaignEmail { .. } => "campaign_email",
        }
    }

    /// The outbox row's kind, payload and dedupe key.
    pub fn to_row(&self) -> AppResult<NewJob> {
        let payload = serde_json::to_string(self).map_err(|e| AppError::Unexpected(e.into()))?;
        Ok(NewJob { kind: self.kind(), payload, dedupe_key: self.dedupe_key() })
    }

    /// At most one job per key, ever: repeated notifies cannot enqueue twice.
    fn dedupe_key(&self) -> String {
        match self {
            Job::OrderPaid { order: OrderRef::Number { out_trade_no } } => {
                format!("order_paid:{out_trade_no}")
            }
            Job::OrderPaid { order: OrderRef::Id { order_id } } => format!("order_paid:{order_id}"),
            Job::AlipayClose { out_trade_no } => format!("alipay_close:{out_trade_no}"),
            Job::AlipayRefund { out_request_no, .. } => format!("alipay_refund:{out_request_no}"),
            Job::WechatpayClose { out_trade_no } => format!("wechatpay_close:{out_trade_no}"),
            Job::WechatpayRefund { out_request_no, .. } => format!("wechatpay_refund:{out_request_no}"),
            Job::StripeClose { out_trade_no } => format!("stripe_close:{out_trade_no}"),
            Job::StripeRefund { out_request_no, .. } => format!("stripe_refund:{out_request_no}"),
            Job::OrderEmail { order_id } => format!("order_email:{order_id}"),
            Job::CampaignEmail { campaign_id, user_id } => format!("campaign_email:{campaign_id}:{user_id}"),
        }
    }
}

/// The dedupe keys of every job an order can cause: its payment's, its close, its emails
/// and its refunds' (`refund_request_nos`), so an order's page can list them. The close and
/// refund jobs of every provider are named (an order's jobs are those of its provider).
pub fn order_job_keys(order_id: i64, out_trade_no: &str, refund_request_nos: &[String]) -> Vec<String> {
    let mut jobs = vec![
        Job::OrderPaid { order: OrderRef::Number { out_trade_no: out_trade_no.to_owned() } },
        Job::OrderPaid { order: OrderRef::Id { order_id } },
        Job::OrderEmail { order_id },
    ];
    for pay_type in PayType::ALL {
        jobs.push(Job::close(pay_type, out_trade_no.to_owned()));
        jobs.extend(
            refund_request_nos
                .iter()
                .map(|no| Job::refund(pay_type, out_trade_no.to_owned(), no.clone(), 0, String::new())),
        );
    }
    jobs.iter().map(Job::dedupe_key).collect()
}

/// Enqueues `job` in the caller's transaction; a job with the same key is not added twice.
///
/// # Errors
/// Database errors.
pub async fn enqueue(txn: &impl ConnectionTrait, job: &Job) -> AppResult<bool> {
    Ok(outbox::enqueue(txn, &job.to_row()?).await?)
}

/// How a job attempt ended.
pub enum Failure {
    /// Try again later.
    Retry(String),
    /// Give up (the reason is kept on the row).
    Permanent(String),
}

impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        Failure::Retry(format!("database: {e}"))
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::Retry(format!("{e:?}"))
    }
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPass {
    /// Jobs claimed from the queue.
    pub claimed: usize,
    /// Jobs finished.
    pub done: usize,
    /// Jobs that will be retried.
    pub retried: usize,
    /// Jobs given up.
    pub failed: usize,
    /// When the job that had waited longest among those claimed was due (none claimed: `None`).
    pub oldest_due: Option<chrono::DateTime<Utc>>,
}

/// Most jobs one pass claims (a full batch: the worker looks again at once).
pub const BATCH: usize = 32;

/// Most jobs one pass of a worker that is catching up claims (`outbox.catch_up_after_seconds`):
/// a batch's statements cost little more for more jobs, so bigger batches drain faster.
pub const CATCH_UP_BATCH: usize = 256;

/// A claimed job, read: its row's id and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The outbox row.
    pub id: i64,
    /// The job.
    pub job: Job,
}

/// What a handler did with a batch of jobs ([`JobHandler::run_batch`]).
#[derive(Default)]
pub struct BatchRun {
    /// How each job ended, in the order of the batch.
    pub outcomes: Vec<Result<(), Failure>>,
}

/// Runs the jobs of some kinds: a feature's part of the worker.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    /// The kinds handled (see [`Job::kind`]).
    fn kinds(&self) -> &'static [&'static str];

    /// Runs one job. The handler completes the job itself ([`complete`]), in the
    /// transaction of its own database effects when it has some, so that they commit
    /// together.
    async fn run(&self, ctx: &AppContext, id: i64, job: Job) -> Result<(), Failure>;

    /// Runs several jobs of its kinds claimed by one pass (default: one after the other with
    /// [`Self::run`]). A handler that does them together completes each job it reports done
    /// (in one statement, [`complete_all`]), and makes a job that fails fail alone: the others
    /// are not run again.
    async fn run_batch(&self, ctx: &AppContext, jobs: Vec<Claimed>) -> BatchRun {
        let mut outcomes = Vec::with_capacity(jobs.len());
        for Claimed { id, job } in jobs {
            outcomes.push(self.run(ctx, id, job).await);
        }
        BatchRun { outcomes }
    }

    /// Records, in `txn`, that the job was given up after `reason` (default: nothing more).
    async fn given_up(&self, _txn: &DatabaseTransaction, _job: &Job, _reason: &str) -> AppResult<()> {
        Ok(())
    }
}

/// Marks a job done (in the caller's transaction, with the job's effects).
///
/// # Errors
/// Database errors.
pub async fn complete(conn: &impl ConnectionTrait, id: i64) -> Result<(), Failure> {
    Ok(outbox::complete(conn, id).await?)
}

/// Marks jobs done in one statement (in the caller's transaction, with the jobs' effects).
///
/// # Errors
/// Database errors.
pub async fn complete_all(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), Failure> {
    Ok(outbox::complete_many(conn, ids).await?)
}

fn handler_of<'h>(handlers: &[&'h dyn JobHandler], kind: &str) -> Option<&'h dyn JobHandler> {
    handlers.iter().copied().find(|h| h.kinds().contains(&kind))
}

/// Claims up to `limit` due jobs once and runs them, each kind's together with the handler
/// of its kind ([`JobHandler::run_batch`]).
///
/// # Errors
/// Database errors while claiming or recording a failure.
pub async fn run_once(ctx: &AppContext, handlers: &[&dyn JobHandler], limit: usize) -> AppResult<OutboxPass> {
    let cfg = &ctx.settings.outbox;
    let lease = Duration::seconds(cfg.lease_seconds);
    let started = std::time::Instant::now();
    let claimed = outbox::claim_due(&ctx.db, Utc::now(), lease, limit as u64).await?;
    let claim_took = started.elapsed();
    let oldest_due = claimed.iter().map(|job| job.next_attempt_at).min();
    let mut pass = OutboxPass { claimed: claimed.len(), oldest_due, ..OutboxPass::default() };
    // Jobs in claim order, grouped by handler (by its place in `handlers`: handlers are
    // zero-sized, so their addresses may not tell them apart).
    let mut groups: Vec<(usize, Vec<row::Model>, Vec<Claimed>)> = Vec::new();
    for job in claimed {
        let parsed = match serde_json::from_str::<Job>(&job.payload) {
            Ok(parsed) => parsed,
            Err(e) => {
                let failure = Failure::Permanent(format!("unreadable job payload: {e}"));
                settle(ctx, handlers, &job, Err(failure), &mut pass).await?;
                continue;
            }
        };
        let Some(handler) = handlers.iter().position(|h| h.kinds().contains(&job.kind.as_str())) else {
            let failure = Failure::Retry(format!("no handler for job kind {}", job.kind));
            settle(ctx, handlers, &job, Err(failure), &mut pass).await?;
            continue;
        };
        let read = Claimed { id: job.id, job: parsed };
        match groups.iter_mut().find(|(h, _, _)| *h == handler) {
            Some((_, rows, jobs)) => {
                rows.push(job);
                jobs.push(read);
            }
            None => groups.push((handler, vec![job], vec![read])),
        }
    }
    for (handler, rows, jobs) in groups {
        let batch = handlers[handler].run_batch(ctx, jobs).await;
        let mut outcomes = batch.outcomes.into_iter();
        for job in &rows {
            let outcome = outcomes
                .next()
                .unwrap_or_else(|| Err(Failure::Retry("the handler reported no outcome".into())));
            settle(ctx, handlers, job, outcome, &mut pass).await?;
        }
    }
    if pass.claimed > 0 {
        // Where a pass's time goes (the claim, then the jobs with their own commits), for
        // measuring the worker under load (`shop_app::jobs=debug`).
        tracing::debug!(
            outbox.claimed = pass.claimed,
            outbox.limit = limit,
            outbox.claim_ms = claim_took.as_secs_f64() * 1e3,
            outbox.run_ms = (started.elapsed() - claim_took).as_secs_f64() * 1e3,
            outbox.lag_ms = oldest_due.map_or(0, |due| (Utc::now() - due).num_milliseconds()),
            "outbox pass"
        );
    }
    Ok(pass)
}

/// Records how a job's attempt ended: done (the handler completed it), retried after the
/// backoff, or given up.
async fn settle(
    ctx: &AppContext,
    handlers: &[&dyn JobHandler],
    job: &row::Model,
    outcome: Result<(), Failure>,
    pass: &mut OutboxPass,
) -> AppResult<()> {
    let cfg = &ctx.settings.outbox;
    match outcome {
        Ok(()) => pass.done += 1,
        Err(Failure::Retry(msg)) if job.attempts < cfg.max_attempts => {
            let delay = backoff(job.attempts, cfg.backoff_base_seconds, cfg.backoff_max_seconds);
            tracing::warn!(job.id = job.id, job.kind = %job.kind, job.attempts = job.attempts, error = %msg, retry_in_s = delay.num_seconds(), "outbox job failed; will retry");
            outbox::fail(&ctx.db, job.id, &msg, Some(Utc::now() + delay)).await?;
            pass.retried += 1;
        }
        Err(Failure::Retry(msg) | Failure::Permanent(msg)) => {
            tracing::error!(job.id = job.id, job.kind = %job.kind, job.attempts = job.attempts, error = %msg, "outbox job failed for good");
            give_up(ctx, handlers, job, &msg).await?;
            pass.failed += 1;
        }
    }
    Ok(())
}

async fn give_up(
    ctx: &AppContext,
    handlers: &[&dyn JobHandler],
    job: &row::Model,
    msg: &str,
) -> AppResult<()> {
    let txn = shop_db::begin_write(&ctx.db).await?;
    if let (Ok(parsed), Some(handler)) =
        (serde_json::from_str::<Job>(&job.payload), handler_of(handlers, &job.kind))
    {
        handler.given_up(&txn, &parsed, msg).await?;
    }
    outbox::fail(&txn, job.id, msg, None).await?;
    txn.commit().await?;
    Ok(())
}

/// `base * 2^(attempt-1)`, at most `max`.
fn backoff(attempt: i32, base: i64, max: i64) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    Duration::seconds(base.max(1).saturating_mul(1i64 << exp).min(max.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[{"id":1,"name":"C","teacher_id":1,"price":"9.90","period":30}]}"#;

    fn email_job(order_id: i64) -> NewJob {
        Job::OrderEmail { order_id }.to_row().expect("row")
    }

    /// Two workers claiming at the same time never take the same job: each due job is
    /// claimed once, with its first attempt counted once.
    #[tokio::test]
    async fn two_concurrent_batch_claims_take_different_jobs() {
        for (db, _) in crate::test_support::seeded_on_both_backends(CATALOG).await {
            for id in 1..=50 {
                assert!(outbox::enqueue(&db, &email_job(id)).await.expect("enqueue"));
            }
            let (now, lease) = (Utc::now(), Duration::seconds(60));
            let (a, b) = tokio::join!(
                outbox::claim_due(&db, now, lease, BATCH as u64),
                outbox::claim_due(&db, now, lease, BATCH as u64)
            );
            let (a, b) = (a.expect("claim a"), b.expect("claim b"));
            assert_eq!(a.len() + b.len(), 50, "{} + {}", a.len(), b.len());
            assert!(a.len() <= BATCH && b.len() <= BATCH);
            let mut ids: Vec<i64> = a.iter().chain(&b).map(|j| j.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 50, "no job claimed twice");
            let leased = |j: &row::Model| {
                j.attempts == 1
                    && j.locked_until.is_some_and(|t| (t - (now + lease)).num_milliseconds().abs() < 2)
            };
            assert!(a.iter().chain(&b).all(leased), "{a:?} {b:?}");
            let stored = outbox::list(&db, None).await.expect("list");
            assert!(stored.iter().all(|j| j.attempts == 1 && j.locked_until.is_some()), "{stored:?}");
            assert!(outbox::claim_due(&db, now, lease, 50).await.expect("again").is_empty(), "all leased");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1, 5, 3600).num_seconds(), 5);
        assert_eq!(backoff(2, 5, 3600).num_seconds(), 10);
        assert_eq!(backoff(5, 5, 3600).num_seconds(), 80);
        assert_eq!(backoff(20, 5, 3600).num_seconds(), 3600);
        assert_eq!(backoff(0, 5, 3600).num_seconds(), 5);
    }

    #[test]
    fn order_paid_names_the_order_by_number_and_still_reads_jobs_that_name_it_by_id() {
        let job = Job::OrderPaid { order: OrderRef::Number { out_trade_no: "CS1".into() } };
        let row = job.to_row().expect("row");
        assert_eq!(row.payload, r#"{"kind":"order_paid","out_trade_no":"CS1"}"#);
        assert_eq!(row.dedupe_key, "order_paid:CS1");
        assert_eq!(serde_json::from_str::<Job>(&row.payload).expect("parse"), job);
        // A row enqueued by an earlier version.
        let old: Job = serde_json::from_str(r#"{"kind":"order_paid","order_id":42}"#).expect("parse old");
        assert_eq!(old, Job::OrderPaid { order: OrderRef::Id { order_id: 42 } });
        assert_eq!(old.dedupe_key(), "order_paid:42");
        assert!(serde_json::from_str::<Job>(r#"{"kind":"order_paid"}"#).is_err(), "no order named");
    }

    #[test]
    fn jobs_round_trip_and_dedupe_by_their_identity() {
        let job = Job::AlipayRefund {
            out_trade_no: "CS1".into(),
            out_request_no: "CS1R1".into(),
            amount_fen: 990,
            reason: "x".into(),
        };
        let text = serde_json::to_string(&job).expect("json");
        assert!(text.contains("\"kind\":\"alipay_refund\""));
        assert_eq!(serde_json::from_str::<Job>(&text).expect("parse"), job);
        assert_eq!(job.dedupe_key(), "alipay_refund:CS1R1");
    }
}
