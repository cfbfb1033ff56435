//! Operator refunds and reconciliation.
use chrono::{DateTime, Utc};
use shop_db::entities::{order, refund};
use shop_db::{orders, payments};
use shop_domain::Money;
use shop_domain::order::{OrderStatus, PayType};

use super::apply::{Applied, pay_type_of};
use super::context::PaymentsContext;
use super::expiry::{ExpiryOutcome, expire_one};
use super::poll::query_and_apply;
use crate::error::{AppError, AppResult};
use crate::i18n::msg;
use crate::jobs::{Job, enqueue};

/// A refund that was recorded and enqueued.
#[derive(Debug, Clone)]
pub struct RefundRequested {
    /// The refund's idempotency key at the provider.
    pub out_request_no: String,
    /// Amount.
    pub amount: Money,
}

/// Records a refund of `amount` (default: everything not yet refunded) of a paid order and
/// enqueues the call of the order's provider. The outbox worker carries it out; the refund is
/// idempotent at the provider by its `out_request_no`.
///
/// # Errors
/// `NotFound`; `BadRequest` when the order holds no money or the amount exceeds what is left.
pub async fn request_refund(
    ctx: impl Into<PaymentsContext>,
    out_trade_no: &str,
    amount: Option<Money>,
    reason: &str,
) -> AppResult<RefundRequested> {
    let ctx: PaymentsContext = ctx.into();
    let txn = shop_db::begin_write(&ctx.db).await?;
    let order = orders::by_out_trade_no(&txn, out_trade_no).await?.ok_or(AppError::NotFound("order"))?;
    let status = order.order_status;
    if !matches!(status, OrderStatus::Paid | OrderStatus::PaidAfterCancel) {
        return Err(AppError::BadRequest(msg::nothing_to_refund(out_trade_no, status.label())));
    }
    let existing = payments::refunds_of(&txn, order.id).await?;
    let amount = refund_amount(&order, &existing, amount)?;
    let out_request_no = format!("{}R{}", order.out_trade_no, existing.len() + 1);
    payments::insert_refund(&txn, order.id, &out_request_no, amount, reason).await?;
    let job = Job::refund(
        pay_type_of(&order)?,
        order.out_trade_no.clone(),
        out_request_no.clone(),
        amount.fen(),
        reason.to_owned(),
    );
    enqueue(&txn, &job).await?;
    txn.commit().await?;
    Ok(RefundRequested { out_request_no, amount })
}

/// What is left to refund on an order with these refunds (failed ones give nothing back),
/// in fen.
fn left_to_refund(order: &order::Model, refunds: &[refund::Model]) -> i64 {
    let committed: i64 = refunds
        .iter()
        .filter(|r| r.status != payments::refund_status::FAILED)
        .map(|r| r.amount_fen.fen())
        .sum::<i64>()
        .max(order.refunded_fen.fen());
    order.total_amount_fen.fen() - committed
}

/// The amount a refund of `amount` (default: all that is left) would give back.
///
/// # Errors
/// `BadRequest` when it is not positive or more than what is left.
fn refund_amount(order: &order::Model, refunds: &[refund::Model], amount: Option<Money>) -> AppResult<Money> {
    let left = left_to_refund(order, refunds);
    let wanted = amount.map_or(left, Money::fen);
    match Money::from_fen(wanted) {
        Some(amount) if wanted > 0 && wanted <= left => Ok(amount),
        _ => Err(AppError::BadRequest(msg::refund_too_large(wanted, left, order.total_amount_fen.fen()))),
    }
}

/// What is left to refund, as an amount (never below zero).
fn left_amount(order: &order::Model, refunds: &[refund::Model]) -> Money {
    Money::from_fen(left_to_refund(order, refunds).max(0)).unwrap_or(order.total_amount_fen)
}

/// What [`request_refund`] would do, without doing it: the amount it would refund and what is
/// left to refund now (the console's confirmation step).
#[derive(Debug, Clone)]
pub struct RefundPreview {
    /// What the refund would give back.
    pub amount: Money,
    /// What is left to refund on the order now.
    pub left: Money,
}

/// Checks a refund as [`request_refund`] would, and says what it would refund.
///
/// # Errors
/// Those of [`request_refund`].
pub async fn preview_refund(
    ctx: impl Into<PaymentsContext>,
    out_trade_no: &str,
    amount: Option<Money>,
) -> AppResult<RefundPreview> {
    let ctx: PaymentsContext = ctx.into();
    let order = orders::by_out_trade_no(&ctx.db, out_trade_no).await?.ok_or(AppError::NotFound("order"))?;
    let status = order.order_status;
    if !matches!(status, OrderStatus::Paid | OrderStatus::PaidAfterCancel) {
        return Err(AppError::BadRequest(msg::nothing_to_refund(out_trade_no, status.label())));
    }
    let refunds = payments::refunds_of(&ctx.db, order.id).await?;
    let amount = refund_amount(&order, &refunds, amount)?;
    Ok(RefundPreview { amount, left: left_amount(&order, &refunds) })
}

/// What is left to refund on an order (zero when it holds no money).
///
/// # Errors
/// Database errors; a corrupt amount.
pub fn refundable(order: &order::Model, refunds: &[refund::Model]) -> AppResult<Money> {
    if !matches!(order.order_status, OrderStatus::Paid | OrderStatus::PaidAfterCancel) {
        return Ok(Money::ZERO);
    }
    Ok(left_amount(order, refunds))
}

/// One line of the reconciliation report.
#[derive(Debug, Clone)]
pub struct ReconcileRow {
    /// Our order number.
    pub out_trade_no: String,
    /// Status before.
    pub before: OrderStatus,
    /// Status after.
    pub after: OrderStatus,
    /// What happened.
    pub note: String,
}

/// Asks the provider of every order still unpaid or in doubt (paid after cancel) created since
/// `since`, and applies the verified answers: payments found are recorded, overdue unpaid
/// orders are expired. Returns one row per order examined.
///
/// # Errors
/// Database errors.
pub async fn reconcile(
    ctx: impl Into<PaymentsContext>,
    since: DateTime<Utc>,
) -> AppResult<Vec<ReconcileRow>> {
    let ctx: PaymentsContext = ctx.into();
    let ctx = &ctx;
    let mut rows = Vec::new();
    for order in orders::in_doubt(&ctx.db, since).await? {
        let before = order.order_status;
        let overdue = order.expires_at.is_some_and(|at| at <= Utc::now());
        let label = PayType::from_code(i64::from(order.pay_type)).map_or("the provider", PayType::label);
        let note = if before == OrderStatus::Unpaid && overdue {
            match expire_one(ctx, &order, false).await? {
                ExpiryOutcome::Paid => format!("paid at {label}: recorded"),
                ExpiryOutcome::Expired => "not paid, overdue: expired, close enqueued".to_owned(),
                ExpiryOutcome::Deferred(why) => format!("left as is: {why}"),
            }
        } else {
            match query_and_apply(ctx, &order, true).await? {
                Some(Applied::NoChange) => format!("matches {label}"),
                Some(applied) => applied.describe().to_owned(),
                None => format!("{label} has no payment (or could not be asked)"),
            }
        };
        let after = orders::by_id(&ctx.db, order.id).await?.map_or(before, |o| o.order_status);
        rows.push(ReconcileRow { out_trade_no: order.out_trade_no, before, after, note });
    }
    Ok(rows)
}
