//! The expiry worker: unpaid orders past their deadline are checked with their provider
//! first; a paid one is applied as paid, an unpaid one is marked expired (status 3) and its
//! trade closed at the provider through the outbox. If the provider cannot be asked, the order
//! waits for the next sweep: an order is never expired without knowing it was not paid.
use chrono::{Duration, Utc};
use shop_db::entities::order;
use shop_db::orders;
use shop_domain::order::OrderStatus;

use super::apply::{Applied, apply, pay_type_of};
use super::context::PaymentsContext;
use super::provider::{QueryAnswer, TradeState, trade_ref};
use crate::error::AppResult;
use crate::jobs::{Job, enqueue};

/// What happened to one overdue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryOutcome {
    /// The provider said paid: applied.
    Paid,
    /// Not paid: expired, close enqueued.
    Expired,
    /// The provider could not be asked (or another worker holds it): left for later.
    Deferred(String),
}

/// Expires one overdue order after asking its provider.
pub(crate) async fn expire_one(
    ctx: &PaymentsContext,
    order: &order::Model,
    claim: bool,
) -> AppResult<ExpiryOutcome> {
    let interval = Duration::seconds(ctx.settings.alipay.query_interval_seconds);
    if claim && !orders::claim_query(&ctx.db, order.id, Utc::now(), interval).await? {
        return Ok(ExpiryOutcome::Deferred("queried recently".into()));
    }
    let provider = match ctx.payments.provider_of(order.pay_type) {
        Ok(provider) => provider,
        Err(e) => return Ok(ExpiryOutcome::Deferred(e.to_string())),
    };
    let observed = match provider.query(trade_ref(order)).await {
        Ok(QueryAnswer::Found(facts)) if facts.state == TradeState::Paid => {
            if facts.total_amount_fen != order.total_amount_fen.fen() {
                return Ok(ExpiryOutcome::Deferred(format!(
                    "{} reports another amount",
                    provider.pay_type().label()
                )));
            }
            Some(facts)
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
                enqueue(&txn, &Job::close(pay_type_of(order)?, order.out_trade_no.clone())).await?;
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
pub async fn expire_due_orders(ctx: impl Into<PaymentsContext>) -> AppResult<Vec<(String, ExpiryOutcome)>> {
    let ctx: PaymentsContext = ctx.into();
    let ctx = &ctx;
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
