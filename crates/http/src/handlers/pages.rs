//! Small HTML pages: the payment result page Alipay returns the buyer to (the default
//! `return_url`), and the development cashier simulator.
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::payments::{self, simulator::Cashier};
use shop_domain::order::OrderStatus;

use super::order::{StatusQuery, simulator_only};
use crate::error::ApiError;
use crate::state::State;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t}</title><style>body{{font-family:sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         .box{{border:1px solid #ddd;border-radius:8px;padding:1.5rem}}.amount{{font-size:2rem;color:#e4393c}}\
         button{{background:#1677ff;color:#fff;border:0;border-radius:6px;padding:.8rem 2.4rem;font-size:1.1rem;cursor:pointer}}\
         .muted{{color:#888;font-size:.9rem}}</style></head><body>{body}</body></html>",
        t = escape(title)
    ))
}

/// Where Alipay sends the buyer back. Shows the order's status (asking Alipay when the
/// notify has not arrived yet). The return parameters themselves prove nothing.
pub async fn pay_result(
    state: web::Data<State>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(no) = query.out_trade_no.as_deref().filter(|n| !n.is_empty()) else {
        return Ok(page(
            "支付结果",
            "<div class=\"box\"><h1>支付结果</h1><p>缺少订单号 / missing order number.</p></div>",
        ));
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
    Ok(page(
        title,
        &format!(
            "<div class=\"box\"><h1>{}</h1><p>{}</p><p class=\"muted\">订单号 / order: {}</p></div>",
            escape(title),
            escape(text),
            escape(no)
        ),
    ))
}

fn cashier_page(c: &Cashier) -> HttpResponse {
    let action = if c.expired {
        "<p>支付时间已过 / the payment deadline has passed.</p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"/dev/alipay/pay\"><input type=\"hidden\" name=\"q\" value=\"{}\">\
             <button type=\"submit\">确认付款 / Pay</button></form>",
            escape(&c.signed_query)
        )
    };
    page(
        "支付宝收银台（模拟）",
        &format!(
            "<div class=\"box\"><p class=\"muted\">支付宝收银台 · 开发模拟器 / Alipay cashier · development simulator</p>\
             <h1>{}</h1><p class=\"amount\">¥ {}</p><p class=\"muted\">订单号 / order: {}{}</p>{}</div>",
            escape(&c.subject),
            escape(&c.amount),
            escape(&c.out_trade_no),
            c.time_expire.as_deref().map(|t| format!(" · 请在 {} 前付款", escape(t))).unwrap_or_default(),
            action
        ),
    )
}

/// The simulated gateway: GET opens the cashier for a signed page-pay URL.
pub async fn simulator_cashier(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments.simulator.as_ref().ok_or_else(simulator_only)?;
    Ok(cashier_page(&sim.cashier(req.query_string())?))
}

/// The simulated gateway: POST answers `alipay.trade.query` / `close` / `refund`.
pub async fn simulator_api(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments.simulator.as_ref().ok_or_else(simulator_only)?;
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
    let sim = state.ctx.payments.simulator.as_ref().ok_or_else(simulator_only)?;
    let back = sim.pay(&form.q).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish())
}
