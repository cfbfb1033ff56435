//! Small HTML pages: the payment result page Alipay returns the buyer to (the default
//! `return_url`), and the development cashier simulator. The pages themselves are templates
//! ([`crate::html`]).
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::payments;
use shop_domain::order::OrderStatus;

use super::order::{StatusQuery, simulator_only};
use crate::error::ApiError;
use crate::html::{self, CashierPage, PayResult};
use crate::state::State;

/// Where Alipay sends the buyer back. Shows the order's status (asking Alipay when the
/// notify has not arrived yet). The return parameters themselves prove nothing.
pub async fn pay_result(
    state: web::Data<State>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(no) = query.out_trade_no.as_deref().filter(|n| !n.is_empty()) else {
        return html::page(&PayResult {
            title: "支付结果",
            text: "缺少订单号 / missing order number.",
            out_trade_no: None,
        });
    };
    let status =
        shop_app::error::retry_if_connection_lost(|| payments::payment_status(&state.ctx, no)).await?.status;
    let (title, text) = match status {
        OrderStatus::Paid => {
            ("支付成功", "支付成功，课程已开通。/ Payment received: your courses are ready.")
        }
        OrderStatus::Unpaid => {
            ("等待支付结果", "尚未收到付款，请稍候刷新。/ Payment not received yet: refresh in a moment.")
        }
        OrderStatus::PaidAfterCancel => (
            "订单已取消",
            "订单已取消，款项将原路退回。/ The order was cancelled; your payment is being refunded.",
        ),
        OrderStatus::Refunded => ("已退款", "款项已退回。/ The payment was refunded."),
        OrderStatus::Cancelled | OrderStatus::Expired => {
            ("订单已取消", "订单已取消。/ The order was cancelled.")
        }
    };
    html::page(&PayResult { title, text, out_trade_no: Some(no) })
}

/// The simulated gateway: GET opens the cashier for a signed page-pay URL.
pub async fn simulator_cashier(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().simulator.as_ref().ok_or_else(simulator_only)?;
    html::page(&CashierPage { c: &sim.cashier(req.query_string())? })
}

/// The simulated gateway: POST answers `alipay.trade.query` / `close` / `refund`.
pub async fn simulator_api(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().simulator.as_ref().ok_or_else(simulator_only)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json;charset=utf-8")
        .body(sim.gateway(req.query_string(), &body)))
}

/// The cashier's Pay button.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    /// The signed page-pay query string.
    q: String,
}

/// Pays in the simulator: a signed notify goes to the shop, then the browser returns.
pub async fn simulator_pay(
    state: web::Data<State>,
    form: web::Form<PayForm>,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().simulator.as_ref().ok_or_else(simulator_only)?;
    let back = sim.pay(&form.q).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish())
}
