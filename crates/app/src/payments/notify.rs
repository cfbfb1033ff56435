//! The providers' asynchronous notifications: Alipay's notify (`POST order/success/`) and
//! WeChat Pay's (`POST order/wechat/notify/`), one path for all.
//!
//! Order of checks: the provider verifies the message and that it is for our merchant and app
//! (Alipay: the RSA2 signature, our `app_id`, our `seller_id` when configured; WeChat Pay: the
//! signature, timestamp and probe, the decryption, our `mchid` and `appid`); then an
//! `out_trade_no` of ours and the order's amount; only then is the trade's state applied.
//! Every notification, accepted or not, is stored with its verdict; an accepted one in the
//! same transaction as the change it causes. Success is answered only after that transaction
//! committed.
use chrono::Utc;
use shop_db::orders;
use shop_db::payments::{self, NotifyRecord, NotifySettled, PaymentNotify};
use shop_domain::order::PayType;

use super::apply::{Applied, Observed, apply};
use super::context::PaymentsContext;
use super::jobs::refund_succeeded;
use super::provider::{Headers, Notice, Provider, RefundFacts, Rejected, storable};
use crate::error::{AppError, AppResult};

/// The answer the provider gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyReply {
    /// Handled (or was already): the provider stops resending (Alipay: `success`; WeChat
    /// Pay: 204).
    Success,
    /// Unverifiable or not ours; nothing changed; the provider will resend (Alipay: `fail`;
    /// WeChat Pay: 400 `{"code":"FAIL",..}`; Stripe: 400).
    Fail,
    /// Authentic (the signature verified) but refused for what it says: not one of our
    /// orders, another amount or currency. Nothing changed; audited as rejected. Stripe is
    /// answered 200 (a resend says the same); Alipay and WeChat Pay as for [`Self::Fail`].
    Refused,
}

/// Longest body stored in the audit log.
const MAX_STORED_BODY: usize = 16 * 1024;

fn body_text(raw: &[u8]) -> String {
    storable(&String::from_utf8_lossy(raw), MAX_STORED_BODY)
}

/// One notification being handled: what the audit rows need.
struct Received<'a> {
    ctx: &'a PaymentsContext,
    provider: &'a dyn Provider,
    raw: &'a [u8],
    remote: &'a str,
}

impl Received<'_> {
    /// Audit reasons of other providers than Alipay name the provider (the audit rows of
    /// Alipay read as they always did).
    fn reason(&self, status_text: &str, what: &str) -> String {
        match self.provider.pay_type() {
            PayType::Alipay => format!("{status_text}: {what}"),
            _ => format!("{} {status_text}: {what}", self.provider.name()),
        }
    }

    async fn reject(&self, rejected: Rejected) -> AppResult<NotifyReply> {
        let provider = self.provider.name();
        tracing::warn!(notify.out_trade_no = ?rejected.out_trade_no, notify.remote = %self.remote, reason = %rejected.reason, provider, "payment notification rejected");
        let reply = if rejected.authentic { NotifyReply::Refused } else { NotifyReply::Fail };
        let reason = match self.provider.pay_type() {
            PayType::Alipay => rejected.reason,
            _ => format!("{provider}: {}", rejected.reason),
        };
        self.log(NotifyRecord {
            out_trade_no: rejected.out_trade_no,
            notify_id: rejected.notify_id,
            trade_status: rejected.status_text,
            verdict: "rejected",
            reason,
            raw_body: body_text(self.raw),
            remote_addr: storable(self.remote, 64),
        })
        .await?;
        Ok(reply)
    }

    /// Stores the audit row of a notification that changes nothing: committed together with
    /// those of concurrent notifications ([`super::notify_log`]).
    async fn log(&self, record: NotifyRecord) -> AppResult<()> {
        self.ctx.payments.notify_log.record(&self.ctx.db, record).await?;
        Ok(())
    }

    /// The audit row of a verified notification.
    fn record(
        &self,
        out_trade_no: &str,
        notify_id: &str,
        status_text: &str,
        verdict: &'static str,
        reason: String,
    ) -> NotifyRecord {
        NotifyRecord {
            out_trade_no: Some(out_trade_no.to_owned()),
            notify_id: Some(notify_id.chars().take(128).collect()),
            trade_status: Some(status_text.chars().take(32).collect()),
            verdict,
            reason,
            raw_body: body_text(self.raw),
            remote_addr: self.remote.chars().take(64).collect(),
        }
    }
}

/// Handles one Alipay notify body (`application/x-www-form-urlencoded`, decoded exactly once).
///
/// # Errors
/// Database failures only (the caller answers `fail`, and Alipay resends).
pub async fn handle_notify(
    ctx: impl Into<PaymentsContext>,
    raw: &[u8],
    remote: &str,
) -> AppResult<NotifyReply> {
    handle_provider_notify(ctx, PayType::Alipay, raw, &Headers::default(), remote).await
}

/// Handles one notification of the provider of `pay_type`: its raw body and headers.
///
/// # Errors
/// `Unavailable` when the provider is not enabled; database failures (the caller answers
/// with a 5xx, and the provider resends).
pub async fn handle_provider_notify(
    ctx: impl Into<PaymentsContext>,
    pay_type: PayType,
    raw: &[u8],
    headers: &Headers,
    remote: &str,
) -> AppResult<NotifyReply> {
    let ctx: PaymentsContext = ctx.into();
    let provider = ctx
        .payments
        .provider(pay_type)
        .ok_or_else(|| AppError::NotFound("payment provider (not enabled)"))?;
    let received = Received { ctx: &ctx, provider, raw, remote };
    let verified = match provider.verify_notification(raw, headers) {
        Ok(v) => v,
        Err(rejected) => return received.reject(rejected).await,
    };
    let facts = match verified.notice {
        Notice::Trade(facts) => facts,
        Notice::Refund(refund) => return refund_notice(&received, &verified.notify_id, refund).await,
        Notice::Ignored { event } => {
            let record = NotifyRecord {
                out_trade_no: None,
                notify_id: Some(verified.notify_id.chars().take(128).collect()),
                trade_status: Some(event.chars().take(32).collect()),
                verdict: "accepted",
                reason: received.reason(&event, "not an event the shop acts on: acknowledged"),
                raw_body: body_text(raw),
                remote_addr: remote.chars().take(64).collect(),
            };
            received.log(record).await?;
            return Ok(NotifyReply::Success);
        }
    };
    let reason = |applied: Applied| received.reason(&facts.status_text, applied.describe());
    let record = |verdict: &'static str, applied: Applied| {
        received.record(
            &facts.out_trade_no,
            &verified.notify_id,
            &facts.status_text,
            verdict,
            reason(applied),
        )
    };
    let late_payment = ctx.settings.alipay.late_payment;
    let money_recorded = &ctx.payments.money_recorded;
    // A repeat of a payment this process has seen recorded: only its audit row.
    if facts.is_plain_payment() && money_recorded.holds(&facts.out_trade_no, facts.total_amount_fen) {
        received.log(record("duplicate", Applied::NoChange)).await?;
        return Ok(NotifyReply::Success);
    }
    // The common cases, a payment of an unpaid order and its repeats, are one statement where
    // the database has that path (shop-db decides: Postgres). Whatever it leaves undecided (an
    // unknown order, another amount, a cancelled order, a refund, a course owned through
    // another order, a concurrent change, another backend) goes the step-by-step way below.
    if facts.is_plain_payment() {
        let settled = payments::settle_payment_notify(
            &ctx.db,
            PaymentNotify {
                out_trade_no: facts.out_trade_no.clone(),
                total_amount_fen: facts.total_amount_fen,
                trade_no: facts.trade_no.clone(),
                paid_at: facts.paid_at.unwrap_or_else(Utc::now),
                job: super::apply::paid_job(&facts.out_trade_no).to_row()?,
                record: record("", Applied::NoChange),
                paid_reason: reason(Applied::Paid),
                duplicate_reason: reason(Applied::NoChange),
            },
        )
        .await?;
        if settled != NotifySettled::Undecided {
            money_recorded.remember(&facts.out_trade_no, facts.total_amount_fen);
        }
        match settled {
            NotifySettled::Paid => {
                tracing::info!(order.out_trade_no = %facts.out_trade_no, trade_status = %facts.status_text, outcome = Applied::Paid.describe(), provider = provider.name(), "payment notification handled");
                return Ok(NotifyReply::Success);
            }
            NotifySettled::Duplicate => return Ok(NotifyReply::Success),
            NotifySettled::Undecided => {}
        }
    }
    let Some(order) = orders::by_out_trade_no(&ctx.db, &facts.out_trade_no).await? else {
        return received
            .reject(unverified_fields(
                &facts,
                &verified.notify_id,
                "out_trade_no is not one of our orders".into(),
            ))
            .await;
    };
    if facts.total_amount_fen != order.total_amount_fen.fen() {
        let why = format!(
            "total_amount {} fen differs from the order's {} fen",
            facts.total_amount_fen,
            order.total_amount_fen.fen()
        );
        return received.reject(unverified_fields(&facts, &verified.notify_id, why)).await;
    }
    // A repeat for an order whose money is already recorded changes nothing: only the audit
    // row is written (the provider resends until it hears success).
    let settled = order.order_status.money_received();
    if settled
        && facts.state == super::provider::TradeState::Paid
        && facts.refund_fee_fen.is_none_or(|fee| fee <= order.refunded_fen.fen())
    {
        money_recorded.remember(&facts.out_trade_no, facts.total_amount_fen);
        received.log(record("duplicate", Applied::NoChange)).await?;
        return Ok(NotifyReply::Success);
    }
    let observed: &Observed = &facts;
    let txn = shop_db::begin_write(&ctx.db).await?;
    // Decided on the order as read above; a conditional update that finds it changed makes
    // apply() read it again inside this transaction.
    let applied = apply(&txn, &order, observed, late_payment).await?;
    let verdict = if applied == Applied::NoChange { "duplicate" } else { "accepted" };
    payments::record_notify(&txn, record(verdict, applied)).await?;
    txn.commit().await?;
    tracing::info!(order.out_trade_no = %facts.out_trade_no, trade_status = %facts.status_text, outcome = applied.describe(), provider = provider.name(), "payment notification handled");
    Ok(NotifyReply::Success)
}

/// The audit fields of a verified notification that is refused for a business reason.
fn unverified_fields(facts: &Observed, notify_id: &str, reason: String) -> Rejected {
    Rejected {
        reason,
        out_trade_no: Some(storable(&facts.out_trade_no, 64)),
        notify_id: Some(storable(notify_id, 64)),
        status_text: Some(storable(&facts.status_text, 32)),
        authentic: true,
    }
}

/// A refund's outcome (WeChat Pay's `REFUND.*`): a success records the refund on the order
/// (once: a repeat is a duplicate); a closed or abnormal refund is marked failed for an
/// operator.
async fn refund_notice(
    received: &Received<'_>,
    notify_id: &str,
    refund: RefundFacts,
) -> AppResult<NotifyReply> {
    let ctx = received.ctx;
    let Some(order) = orders::by_out_trade_no(&ctx.db, &refund.out_trade_no).await? else {
        let rejected = Rejected {
            reason: "out_trade_no is not one of our orders".into(),
            out_trade_no: Some(storable(&refund.out_trade_no, 64)),
            notify_id: Some(storable(notify_id, 64)),
            status_text: Some(storable(&refund.status_text, 32)),
            authentic: true,
        };
        return received.reject(rejected).await;
    };
    let known = payments::refunds_of(&ctx.db, order.id)
        .await?
        .into_iter()
        .find(|r| r.out_request_no == refund.out_request_no);
    let done = known.as_ref().is_some_and(|r| r.status == payments::refund_status::SUCCEEDED);
    let record = |verdict, what: &str| {
        received.record(
            &refund.out_trade_no,
            notify_id,
            &refund.status_text,
            verdict,
            received.reason(&refund.status_text, what),
        )
    };
    if done && refund.succeeded {
        received.log(record("duplicate", "no change")).await?;
        return Ok(NotifyReply::Success);
    }
    let txn = shop_db::begin_write(&ctx.db).await?;
    let what = if refund.succeeded {
        refund_succeeded(&txn, &refund.out_trade_no, &refund.out_request_no, None).await?;
        "refund recorded"
    } else {
        payments::set_refund_status(
            &txn,
            &refund.out_request_no,
            payments::refund_status::FAILED,
            None,
            Some(&format!("the provider reports {}", refund.status_text)),
        )
        .await?;
        tracing::error!(order.out_trade_no = %refund.out_trade_no, refund.out_request_no = %refund.out_request_no, status = %refund.status_text, "refund did not go through: needs an operator");
        "refund failed: needs an operator"
    };
    payments::record_notify(&txn, record("accepted", what)).await?;
    txn.commit().await?;
    Ok(NotifyReply::Success)
}
