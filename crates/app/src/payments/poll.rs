//! `GET order/success/`: the payment status the front end polls after paying, for every
//! provider. When the order is still unpaid, its provider is asked (Alipay's
//! `alipay.trade.query`, WeChat Pay's order query; at most once per order every
//! `query_interval_seconds` across all processes) in case the notification is late; a verified
//! answer is applied. Return parameters never mark an order paid by themselves.
use chrono::{Duration, Utc};
use shop_db::entities::order;
use shop_db::orders;
use shop_domain::order::OrderStatus;

use super::apply::{Applied, apply};
use super::context::PaymentsContext;
use super::provider::{QueryAnswer, trade_ref};
use crate::error::{AppError, AppResult};

/// The status answer.
#[derive(Debug, Clone)]
pub struct PaymentState {
    /// The order's status after any query.
    pub status: OrderStatus,
}

/// Asks the order's provider about it (if allowed by the query interval) and applies a
/// verified answer. Returns what it applied, or `None` when it did not ask or learned nothing.
pub(crate) async fn query_and_apply(
    ctx: &PaymentsContext,
    order: &order::Model,
    force: bool,
) -> AppResult<Option<Applied>> {
    let now = Utc::now();
    let interval = Duration::seconds(ctx.settings.alipay.query_interval_seconds);
    if !force && !orders::claim_query(&ctx.db, order.id, now, interval).await? {
        return Ok(None);
    }
    let provider = match ctx.payments.provider_of(order.pay_type) {
        Ok(provider) => provider,
        Err(e) => {
            tracing::warn!(order.out_trade_no = %order.out_trade_no, error = %e, "trade query not possible");
            return Ok(None);
        }
    };
    let observed = match provider.query(trade_ref(order)).await {
        Ok(QueryAnswer::Found(facts)) => facts,
        Ok(QueryAnswer::NotFound) => return Ok(None),
        Err(e) => {
            tracing::warn!(order.out_trade_no = %order.out_trade_no, error = %e, provider = provider.name(), "trade query failed");
            return Ok(None);
        }
    };
    if observed.total_amount_fen != order.total_amount_fen.fen() {
        tracing::error!(order.out_trade_no = %order.out_trade_no, provider.total_fen = observed.total_amount_fen, order.total_fen = order.total_amount_fen.fen(), provider = provider.name(), "the trade query reports another amount; ignored");
        return Ok(None);
    }
    let txn = shop_db::begin_write(&ctx.db).await?;
    let current = orders::by_id(&txn, order.id).await?.ok_or(AppError::NotFound("order"))?;
    let applied = apply(&txn, &current, &observed, ctx.settings.alipay.late_payment).await?;
    txn.commit().await?;
    if applied != Applied::NoChange {
        tracing::info!(order.out_trade_no = %order.out_trade_no, outcome = applied.describe(), provider = provider.name(), "applied a trade query answer");
    }
    Ok(Some(applied))
}

/// How long a settled status is answered from memory.
const SETTLED_TTL: Duration = Duration::seconds(2);

/// The status of an order, asking its provider when it is still unpaid.
///
/// The front end polls an order until it is paid, and often past that: a settled status
/// (anything but unpaid) is answered from a small per-process cache for up to two seconds,
/// so a refund shows within that time. Unpaid orders are read from the database every time,
/// and the provider is asked at most once per order every `alipay.query_interval_seconds`.
///
/// # Errors
/// `NotFound` for an unknown order number; database errors.
pub async fn payment_status(ctx: impl Into<PaymentsContext>, out_trade_no: &str) -> AppResult<PaymentState> {
    let ctx: PaymentsContext = ctx.into();
    let ctx = &ctx;
    let cache = &ctx.payments.status_cache;
    if let Some(status) = cache.get(out_trade_no, Utc::now()) {
        return Ok(PaymentState { status });
    }
    let (id, mut status) =
        orders::status_by_out_trade_no(&ctx.db, out_trade_no).await?.ok_or(AppError::NotFound("order"))?;
    if status == OrderStatus::Unpaid {
        let order = orders::by_id(&ctx.db, id).await?.ok_or(AppError::NotFound("order"))?;
        if query_and_apply(ctx, &order, false).await?.is_some() {
            let fresh = orders::status_by_out_trade_no(&ctx.db, out_trade_no).await?;
            status = fresh.map_or(status, |(_, s)| s);
        }
    }
    if status != OrderStatus::Unpaid {
        cache.put(out_trade_no, status, Utc::now() + SETTLED_TTL);
    }
    Ok(PaymentState { status })
}
