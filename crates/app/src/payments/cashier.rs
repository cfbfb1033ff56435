//! Our cashier page for QR payments (WeChat Pay Native): what it shows of an order. The page
//! is public like the status endpoint (it is found by the unguessable order number) and shows
//! only what the buyer's own QR code needs: subject, amount, deadline, state and `code_url`.
use chrono::{DateTime, Utc};
use shop_db::orders;
use shop_domain::Money;
use shop_domain::order::{OrderStatus, PayType};

use super::context::PaymentsContext;
use crate::error::{AppError, AppResult};

/// What the cashier shows.
#[derive(Debug, Clone)]
pub struct QrCashier {
    /// Our order number.
    pub out_trade_no: String,
    /// Subject.
    pub subject: String,
    /// Amount.
    pub amount: Money,
    /// The QR code's content.
    pub code_url: String,
    /// The payment deadline.
    pub expires_at: Option<DateTime<Utc>>,
    /// Paid already.
    pub paid: bool,
    /// Still payable (unpaid, before the deadline).
    pub payable: bool,
}

/// The cashier of a WeChat Pay order.
///
/// # Errors
/// `NotFound` for an unknown order or one of another provider; database errors.
pub async fn wechat_cashier(ctx: impl Into<PaymentsContext>, out_trade_no: &str) -> AppResult<QrCashier> {
    let ctx: PaymentsContext = ctx.into();
    let order = orders::by_out_trade_no(&ctx.db, out_trade_no)
        .await?
        .filter(|o| o.pay_type == PayType::WechatPay.code() && !o.is_delete)
        .ok_or(AppError::NotFound("order"))?;
    let status = order.order_status;
    Ok(QrCashier {
        payable: status == OrderStatus::Unpaid && order.expires_at.is_some_and(|at| at > Utc::now()),
        paid: status == OrderStatus::Paid,
        code_url: order.pay_url.unwrap_or_default(),
        out_trade_no: order.out_trade_no,
        subject: order.subject,
        amount: order.total_amount_fen,
        expires_at: order.expires_at,
    })
}
