//! Payments' jobs: closing an unpaid trade at Alipay and refunding money through Alipay.
use sea_orm::DatabaseTransaction;
use shop_alipay::{CloseOutcome, GatewayError};
use shop_db::{orders, payments};

use crate::context::AppContext;
use crate::error::AppResult;
use crate::jobs::{self, Failure, Job, JobHandler};

impl From<GatewayError> for Failure {
    fn from(e: GatewayError) -> Self {
        if e.is_retryable() { Failure::Retry(e.to_string()) } else { Failure::Permanent(e.to_string()) }
    }
}

/// The handler of `alipay_close` and `alipay_refund`.
pub struct PaymentJobs;

#[async_trait::async_trait]
impl JobHandler for PaymentJobs {
    fn kinds(&self) -> &'static [&'static str] {
        &["alipay_close", "alipay_refund"]
    }

    async fn run(&self, ctx: &AppContext, id: i64, job: Job) -> Result<(), Failure> {
        match job {
            Job::AlipayClose { out_trade_no } => close(ctx, id, &out_trade_no).await,
            Job::AlipayRefund { out_trade_no, out_request_no, amount_fen, reason } => {
                refund(ctx, id, &out_trade_no, &out_request_no, amount_fen, &reason).await
            }
            other => Err(Failure::Permanent(format!("not a payments job: {}", other.kind()))),
        }
    }

    /// A refund Alipay refused for good is marked failed with the reason.
    async fn given_up(&self, txn: &DatabaseTransaction, job: &Job, reason: &str) -> AppResult<()> {
        if let Job::AlipayRefund { out_request_no, .. } = job {
            payments::set_refund_status(
                txn,
                out_request_no,
                payments::refund_status::FAILED,
                None,
                Some(reason),
            )
            .await?;
        }
        Ok(())
    }
}

async fn close(ctx: &AppContext, id: i64, out_trade_no: &str) -> Result<(), Failure> {
    let endpoints = ctx.payments.endpoints_now();
    match endpoints.client.trade_close(out_trade_no).await? {
        CloseOutcome::Closed { .. } | CloseOutcome::NotExist => {}
        CloseOutcome::StatusError { sub_msg } => {
            // Paid (or closed) at Alipay meanwhile: a notify or reconciliation brings the
            // money in; closing has nothing more to do.
            tracing::warn!(order.out_trade_no = %out_trade_no, alipay.sub_msg = ?sub_msg, "close refused: trade is not waiting for payment");
        }
    }
    jobs::complete(&ctx.db, id).await
}

async fn refund(
    ctx: &AppContext,
    id: i64,
    out_trade_no: &str,
    out_request_no: &str,
    amount_fen: i64,
    reason: &str,
) -> Result<(), Failure> {
    let endpoints = ctx.payments.endpoints_now();
    let outcome =
        endpoints.client.trade_refund(out_trade_no, amount_fen, out_request_no, Some(reason)).await?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    payments::set_refund_status(
        &txn,
        out_request_no,
        payments::refund_status::SUCCEEDED,
        Some(outcome.refund_fee_fen),
        None,
    )
    .await?;
    if let Some(order) = orders::by_out_trade_no(&txn, out_trade_no).await? {
        crate::delivery::settle_refund(&txn, order.id, outcome.refund_fee_fen).await?;
    }
    jobs::complete(&txn, id).await?;
    txn.commit().await?;
    tracing::info!(order.out_trade_no = %out_trade_no, refund.out_request_no = %out_request_no, refund.amount_fen = amount_fen, refund.fund_change = outcome.fund_change, "refund confirmed by Alipay");
    Ok(())
}
