//! `course-shop refund`: an operator refund through Alipay.
use anyhow::Context as _;
use clap::Args;
use shop_app::config::Settings;
use shop_app::payments;
use shop_app::worker::{self, RefundProgress};

#[derive(Debug, Args)]
pub struct Refund {
    /// The order number (out_trade_no).
    out_trade_no: String,
    /// Amount in yuan, e.g. 19.90 (default: everything not yet refunded).
    #[arg(long)]
    amount: Option<String>,
    /// Reason shown to the buyer.
    #[arg(long, default_value = "refund requested by the shop")]
    reason: String,
}

pub async fn run(args: Refund, settings: Settings) -> anyhow::Result<()> {
    let Refund { out_trade_no, amount, reason } = args;
    let amount = amount
        .map(|a| shop_domain::Money::parse_yuan(a.trim()).with_context(|| format!("--amount {a:?}")))
        .transpose()?;
    let ctx = super::operator_context(settings).await?;
    let requested = payments::request_refund(&ctx, &out_trade_no, amount, &reason).await?;
    println!("refund {} of {} yuan recorded; asking Alipay...", requested.out_request_no, requested.amount);
    match worker::carry_out_refund(&ctx, &requested.out_request_no).await? {
        RefundProgress::Succeeded { out_request_no, refunded_total_fen } => println!(
            "refunded: Alipay confirmed {out_request_no} (total refunded on the trade: {refunded_total_fen} fen)"
        ),
        RefundProgress::Refused { reason } => anyhow::bail!("Alipay refused the refund: {reason}"),
        RefundProgress::Pending { pass } => {
            println!("not confirmed yet ({pass:?}); the server's outbox worker will retry it");
        }
    }
    Ok(())
}
