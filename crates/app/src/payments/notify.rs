//! `POST order/success/`: Alipay's asynchronous notify.
//!
//! Order of checks (Alipay's own checklist): the RSA2 signature, our `app_id`, our
//! `seller_id` when configured, an `out_trade_no` of ours, the order's amount; only then is
//! `trade_status` applied. Every notify, accepted or not, is stored with its verdict; an
//! accepted one in the same transaction as the change it causes. `success` is answered only
//! after that transaction committed.
use chrono::Utc;
use shop_alipay::{VerifiedNotify, parse_urlencoded, verify_notify};
use shop_db::orders;
use shop_db::payments::{self, NotifyRecord, NotifySettled, PaymentNotify};
use shop_domain::order::OrderStatus;

use super::apply::{Applied, Observed, apply};
use crate::context::AppContext;
use crate::error::AppResult;

/// The answer Alipay gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyReply {
    /// `success`: the notify is handled (or was already); Alipay stops resending.
    Success,
    /// `fail`: unverifiable or not ours; nothing changed; Alipay will resend.
    Fail,
}

/// Longest body stored in the audit log.
const MAX_STORED_BODY: usize = 16 * 1024;

/// Text as the audit log can store it: at most `max` characters, a NUL (which Postgres
/// cannot store in text) replaced by U+FFFD.
fn storable(text: &str, max: usize) -> String {
    text.chars().take(max).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()
}

fn body_text(raw: &[u8]) -> String {
    storable(&String::from_utf8_lossy(raw), MAX_STORED_BODY)
}

async fn reject(
    ctx: &AppContext,
    raw: &[u8],
    remote: &str,
    params: &[(String, String)],
    reason: String,
) -> AppResult<NotifyReply> {
    let find = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| storable(v, 64));
    tracing::warn!(notify.out_trade_no = ?find("out_trade_no"), notify.remote = %remote, reason = %reason, "alipay notify rejected");
    payments::record_notify(
        &ctx.db,
        NotifyRecord {
            out_trade_no: find("out_trade_no"),
            notify_id: find("notify_id"),
            trade_status: find("trade_status").map(|s| storable(&s, 32)),
            verdict: "rejected",
            reason,
            raw_body: body_text(raw),
            remote_addr: storable(remote, 64),
        },
    )
    .await?;
    Ok(NotifyReply::Fail)
}

/// The audit row of a verified notify.
fn audit_record(
    notify: &VerifiedNotify,
    raw: &[u8],
    remote: &str,
    verdict: &'static str,
    reason: String,
) -> NotifyRecord {
    NotifyRecord {
        out_trade_no: Some(notify.out_trade_no.clone()),
        notify_id: Some(notify.notify_id.chars().take(128).collect()),
        trade_status: Some(notify.trade_status.as_str().chars().take(32).collect()),
        verdict,
        reason,
        raw_body: body_text(raw),
        remote_addr: remote.chars().take(64).collect(),
    }
}

fn reason(notify: &VerifiedNotify, applied: Applied) -> String {
    format!("{}: {}", notify.trade_status, applied.describe())
}

/// Handles one notify body (`application/x-www-form-urlencoded`, decoded exactly once).
///
/// # Errors
/// Database failures only (the caller answers `fail`, and Alipay resends).
pub async fn handle_notify(ctx: &AppContext, raw: &[u8], remote: &str) -> AppResult<NotifyReply> {
    let params = match parse_urlencoded(raw) {
        Ok(p) => p,
        Err(e) => return reject(ctx, raw, remote, &[], format!("malformed body: {e}")).await,
    };
    let notify: VerifiedNotify = match verify_notify(&params, ctx.payments.alipay_public_key()) {
        Ok(n) => n,
        Err(e) => return reject(ctx, raw, remote, &params, format!("verification failed: {e}")).await,
    };
    let cfg = &ctx.settings.alipay;
    if notify.app_id != cfg.app_id {
        return reject(ctx, raw, remote, &params, format!("app_id {} is not ours", notify.app_id)).await;
    }
    if !cfg.seller_id.is_empty() && notify.seller_id.as_deref() != Some(cfg.seller_id.as_str()) {
        return reject(ctx, raw, remote, &params, format!("seller_id {:?} is not ours", notify.seller_id))
            .await;
    }
    // The common cases, a payment of an unpaid order and its repeats, are one statement where
    // the database has that path (shop-db decides: Postgres). Whatever it leaves undecided (an
    // unknown order, another amount, a cancelled order, a refund, a course owned through
    // another order, a concurrent change, another backend) goes the step-by-step way below.
    if notify.trade_status.is_paid() && notify.refund_fee_fen.is_none() {
        let settled = payments::settle_payment_notify(
            &ctx.db,
            PaymentNotify {
                out_trade_no: notify.out_trade_no.clone(),
                total_amount_fen: notify.total_amount_fen,
                trade_no: notify.trade_no.clone(),
                paid_at: notify.gmt_payment.unwrap_or_else(Utc::now),
                job: super::apply::paid_job(&notify.out_trade_no).to_row()?,
                record: audit_record(&notify, raw, remote, "", String::new()),
                paid_reason: reason(&notify, Applied::Paid),
                duplicate_reason: reason(&notify, Applied::NoChange),
            },
        )
        .await?;
        match settled {
            NotifySettled::Paid => {
                tracing::info!(order.out_trade_no = %notify.out_trade_no, alipay.trade_status = %notify.trade_status, outcome = Applied::Paid.describe(), "alipay notify handled");
                return Ok(NotifyReply::Success);
            }
            NotifySettled::Duplicate => return Ok(NotifyReply::Success),
            NotifySettled::Undecided => {}
        }
    }
    let Some(order) = orders::by_out_trade_no(&ctx.db, &notify.out_trade_no).await? else {
        return reject(ctx, raw, remote, &params, "out_trade_no is not one of our orders".into()).await;
    };
    if notify.total_amount_fen != order.total_amount_fen {
        return reject(
            ctx,
            raw,
            remote,
            &params,
            format!(
                "total_amount {} fen differs from the order's {} fen",
                notify.total_amount_fen, order.total_amount_fen
            ),
        )
        .await;
    }

    let observed = Observed {
        trade_status: notify.trade_status.clone(),
        trade_no: notify.trade_no.clone(),
        total_amount_fen: notify.total_amount_fen,
        paid_at: notify.gmt_payment,
        refund_fee_fen: notify.refund_fee_fen,
    };
    let record = |verdict: &'static str, applied: Applied| {
        audit_record(&notify, raw, remote, verdict, reason(&notify, applied))
    };
    // A repeat for an order whose money is already recorded changes nothing: only the audit
    // row is written (Alipay resends until it hears `success`).
    let settled = OrderStatus::from_code(order.order_status).is_some_and(OrderStatus::money_received);
    if settled
        && notify.trade_status.is_paid()
        && notify.refund_fee_fen.is_none_or(|fee| fee <= order.refunded_fen)
    {
        payments::record_notify(&ctx.db, record("duplicate", Applied::NoChange)).await?;
        return Ok(NotifyReply::Success);
    }
    let txn = shop_db::begin_write(&ctx.db).await?;
    // Decided on the order as read above; a conditional update that finds it changed makes
    // apply() read it again inside this transaction.
    let applied = apply(&txn, &order, &observed, cfg.late_payment).await?;
    let verdict = if applied == Applied::NoChange { "duplicate" } else { "accepted" };
    payments::record_notify(&txn, record(verdict, applied)).await?;
    txn.commit().await?;
    tracing::info!(order.out_trade_no = %notify.out_trade_no, alipay.trade_status = %notify.trade_status, outcome = applied.describe(), "alipay notify handled");
    Ok(NotifyReply::Success)
}
