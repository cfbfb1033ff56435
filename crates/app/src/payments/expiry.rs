//! The expiry worker: unpaid orders past their deadline are checked with Alipay first; a
//! paid one is applied as paid, an unpaid one is marked expired (status 3) and its trade
//! closed at Alipay through the outbox. If Alipay cannot be asked, the order waits for the
//! next sweep: an order is never expired without knowing it was not paid.
use chrono::{Duration, Utc};
use shop_alipay::QueryOutcome;
use shop_db::entities::order;
use shop_db::orders;
use shop_domain::order::OrderStatus;

use super::apply::{Applied, Observed, apply};
use crate::context::AppContext;
use crate::error::AppResult;
use crate::jobs::{Job, enqueue};

/// What happened to one overdue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryOutcome {
    /// Alipay said paid: applied.
    Paid,
    /// Not paid: expired, close enqueued.
    Expired,
    /// Alipay could not be asked (or another worker holds it): left for later.
    Deferred(String),
}

/// Expires one overdue order after asking Alipay.
pub(crate) async fn expire_one(
    ctx: &AppContext,
    order: &order::Model,
    claim: bool,
) -> AppResult<ExpiryOutcome> {
    let interval = Duration::seconds(ctx.settings.alipay.query_interval_seconds);
    if claim && !orders::claim_query(&ctx.db, order.id, Utc::now(), interval).await? {
        return Ok(ExpiryOutcome::Deferred("queried recently".into()));
    }
    let endpoints = ctx.payments.endpoints_now();
    let observed = match endpoints.client.trade_query(&order.out_trade_no).await {
        Ok(QueryOutcome::Found(info)) if info.trade_status.is_paid() => {
            if info.total_amount_fen != order.total_amount_fen.fen() {
                return Ok(ExpiryOutcome::Deferred("Alipay reports another amount".into()));
            }
            Some(Observed {
                trade_status: info.trade_status,
                trade_no: info.trade_no,
                total_amount_fen: info.total_amount_fen,
                paid_at: info.send_pay_date,
                refund_fee_fen: None,
            })
        }
        Ok(_) => None,
        Err(e) => return Ok(ExpiryOutcome::Deferred(e.to_string())),
    };
    let txn = shop_db::begin_write(&ctx.db).await?;
    let outcome = match observed {
        Some(observed) => {
            let current = orders::by_id(&txn, order.id).await?.unwrap_or_else(|| order.clone());
            match apply(&txn, &current, &observed, ctx.settings.alipay.late_payment).await? {
                Applied::NoChange => ExpiryOutcome::Deferred("already settled".into()),
                _ => ExpiryOutcome::Paid,
            }
        }
        None => {
            if orders::close_unpaid(&txn, order.id, OrderStatus::Expired).await? {
                enqueue(&txn, &Job::AlipayClose { out_trade_no: order.out_trade_no.clone() }).await?;
                ExpiryOutcome::Expired
            } else {
                ExpiryOutcome::Deferred("already settled".into())
            }
        }
    };
    txn.commit().await?;
    Ok(outcome)
}

/// One sweep over overdue unpaid orders (at most 100).
///
/// # Errors
/// Database errors.
pub async fn expire_due_orders(ctx: &AppContext) -> AppResult<Vec<(String, ExpiryOutcome)>> {
    let due = orders::due_for_expiry(&ctx.db, Utc::now(), 100).await?;
    let mut results = Vec::with_capacity(due.len());
    for order in due {
        let outcome = expire_one(ctx, &order, true).await?;
        if !matches!(outcome, ExpiryOutcome::Deferred(_)) {
            tracing::info!(order.out_trade_no = %order.out_trade_no, outcome = ?outcome, "overdue order settled");
        }
        results.push((order.out_trade_no, outcome));
    }
    Ok(results)
}
