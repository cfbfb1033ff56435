//! Payments' jobs: closing an unpaid trade and refunding money, each through the provider the
//! job's kind names (`alipay_close`, `alipay_refund`, `wechatpay_close`, `wechatpay_refund`,
//! `stripe_close`, `stripe_refund`).
use sea_orm::DatabaseTransaction;
use shop_db::{orders, payments};

use super::context::PaymentsContext;
use super::provider::{ProviderError, RefundAnswer, RefundCall, TradeRef};
use crate::context::AppContext;
use crate::error::AppResult;
use crate::jobs::{self, Failure, Job, JobHandler, TradeCall};

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Retryable(m) => Failure::Retry(m),
            other => Failure::Permanent(other.to_string()),
        }
    }
}

/// The handler of the close and refund jobs of every provider.
pub struct PaymentJobs;

#[async_trait::async_trait]
impl JobHandler for PaymentJobs {
    fn kinds(&self) -> &'static [&'static str] {
        &[
            "alipay_close",
            "alipay_refund",
            "wechatpay_close",
            "wechatpay_refund",
            "stripe_close",
            "stripe_refund",
        ]
    }

    async fn run(&self, ctx: &AppContext, id: i64, job: Job) -> Result<(), Failure> {
        let ctx = PaymentsContext::from(ctx);
        let Some((pay_type, call)) = job.trade_call() else {
            return Err(Failure::Permanent(format!("not a payments job: {}", job.kind())));
        };
        let provider = ctx
            .payments
            .provider(pay_type)
            .ok_or_else(|| Failure::Retry(format!("{}: its payment provider is not enabled", job.kind())))?;
        match call {
            TradeCall::Close { out_trade_no } => {
                let order = orders::by_out_trade_no(&ctx.db, &out_trade_no).await?;
                let stored = order.as_ref().and_then(|o| o.pay_url.as_deref());
                provider.close(TradeRef { out_trade_no: &out_trade_no, stored }).await?;
                jobs::complete(&ctx.db, id).await
            }
            TradeCall::Refund { out_trade_no, out_request_no, amount_fen, reason } => {
                // A refund in progress that its notification has settled meanwhile is done.
                let row = payments::refund_by_request_no(&ctx.db, &out_request_no).await?;
                if row.is_some_and(|r| r.status == payments::refund_status::SUCCEEDED) {
                    return jobs::complete(&ctx.db, id).await;
                }
                let order = orders::by_out_trade_no(&ctx.db, &out_trade_no).await?;
                let total_fen = order.as_ref().map_or(amount_fen, |o| o.total_amount_fen.fen());
                let call = RefundCall {
                    out_trade_no: &out_trade_no,
                    stored: order.as_ref().and_then(|o| o.pay_url.as_deref()),
                    out_request_no: &out_request_no,
                    amount_fen,
                    total_fen,
                    reason: &reason,
                };
                match provider.refund(&call).await? {
                    RefundAnswer::Done { refunded_total_fen } => {
                        let txn = shop_db::begin_write(&ctx.db).await?;
                        refund_succeeded(&txn, &out_trade_no, &out_request_no, refunded_total_fen).await?;
                        jobs::complete(&txn, id).await?;
                        txn.commit().await?;
                        tracing::info!(order.out_trade_no = %out_trade_no, refund.out_request_no = %out_request_no, refund.amount_fen = amount_fen, provider = provider.name(), "refund confirmed by the provider");
                        Ok(())
                    }
                    // Asked again with the same number after the backoff (idempotent), unless
                    // the refund notification settles it first.
                    RefundAnswer::Processing => {
                        Err(Failure::Retry(format!("refund {out_request_no} is being processed")))
                    }
                }
            }
        }
    }

    /// A refund the provider refused for good is marked failed with the reason.
    async fn given_up(&self, txn: &DatabaseTransaction, job: &Job, reason: &str) -> AppResult<()> {
        if let Some((_, TradeCall::Refund { out_request_no, .. })) = job.trade_call() {
            payments::set_refund_status(
                txn,
                &out_request_no,
                payments::refund_status::FAILED,
                None,
                Some(reason),
            )
            .await?;
        }
        Ok(())
    }
}

/// Records that the refund `out_request_no` of an order went through: the refund row and the
/// order's refunded amount. `refunded_total_fen` is the trade's cumulative refunded amount when
/// the provider says it; otherwise the shop's own succeeded refunds are added up.
pub(crate) async fn refund_succeeded(
    txn: &DatabaseTransaction,
    out_trade_no: &str,
    out_request_no: &str,
    refunded_total_fen: Option<i64>,
) -> AppResult<()> {
    let Some(order) = orders::by_out_trade_no(txn, out_trade_no).await? else {
        payments::set_refund_status(
            txn,
            out_request_no,
            payments::refund_status::SUCCEEDED,
            refunded_total_fen,
            None,
        )
        .await?;
        return Ok(());
    };
    let total = match refunded_total_fen {
        Some(total) => total,
        None => {
            let refunds = payments::refunds_of(txn, order.id).await?;
            refunds
                .iter()
                .filter(|r| {
                    r.status == payments::refund_status::SUCCEEDED || r.out_request_no == out_request_no
                })
                .map(|r| r.amount_fen.fen())
                .sum::<i64>()
                .max(order.refunded_fen.fen())
        }
    };
    payments::set_refund_status(txn, out_request_no, payments::refund_status::SUCCEEDED, Some(total), None)
        .await?;
    crate::delivery::settle_refund(txn, order.id, total).await?;
    Ok(())
}
