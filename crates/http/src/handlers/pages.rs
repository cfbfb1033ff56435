//! Small HTML pages: the payment result page Alipay returns the buyer to (the default
//! `return_url`), and the development cashier simulator. The pages themselves are templates
//! ([`crate::html`]).
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::i18n::{Text, msg};
use shop_app::payments;
use shop_domain::order::OrderStatus;

use super::order::{StatusQuery, simulator_only};
use crate::error::ApiError;
use crate::extract::Language;
use crate::html::{self, CashierPage, PayResult};
use crate::state::State;

/// The heading and text of an order's status, on the result and purchase pages.
pub fn status_words(status: OrderStatus) -> (Text, Text) {
    match status {
        OrderStatus::Paid => (msg::PAGE_PAID, msg::PAGE_PAID_TEXT),
        OrderStatus::Unpaid => (msg::PAGE_WAITING, msg::PAGE_WAITING_TEXT),
        OrderStatus::PaidAfterCancel => (msg::PAGE_CANCELLED, msg::PAGE_CANCELLED_REFUNDING_TEXT),
        OrderStatus::Refunded => (msg::PAGE_REFUNDED, msg::PAGE_REFUNDED_TEXT),
        OrderStatus::Cancelled | OrderStatus::Expired => (msg::PAGE_CANCELLED, msg::PAGE_CANCELLED_TEXT),
    }
}

/// Where Alipay sends the buyer back. Shows the order's status (asking Alipay when the
/// notify has not arrived yet). The return parameters themselves prove nothing. A browser
/// that made the order on the buy page (its purchase cookie names this order) goes on to
/// the order's purchase page.
pub async fn pay_result(
    state: web::Data<State>,
    Language(lang): Language,
    req: HttpRequest,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(no) = query.out_trade_no.as_deref().filter(|n| !n.is_empty()) else {
        return html::page(&PayResult {
            lang,
            title: msg::PAGE_RESULT.get(lang),
            text: msg::PAGE_NO_ORDER.get(lang),
            out_trade_no: None,
        });
    };
    let status =
        shop_app::error::retry_if_connection_lost(|| payments::payment_status(&state.ctx, no)).await?.status;
    if let Some(cookie) = req.cookie(super::guest::PURCHASE_COOKIE)
        && cookie.value() == shop_app::guests::purchase_token(state.ctx.settings(), no)
    {
        let to = shop_app::guests::purchase_url(&state.ctx.public_url(), cookie.value());
        return Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish());
    }
    let (title, text) = status_words(status);
    html::page(&PayResult { lang, title: title.get(lang), text: text.get(lang), out_trade_no: Some(no) })
}

/// The simulated gateway: GET opens the cashier for a signed page-pay URL.
pub async fn simulator_cashier(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().simulator.as_ref().ok_or_else(simulator_only)?;
    html::page(&CashierPage { lang: Language::of(&req), c: &sim.cashier(req.query_string())? })
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

/// The simulated gateway's statement file (its `bill_download_url`): the zip of the day's
/// trades, as Alipay serves it.
pub async fn simulator_statement(
    state: web::Data<State>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let sim = state.ctx.payments().simulator.as_ref().ok_or_else(simulator_only)?;
    let zip = sim.statement_zip(req.query_string()).ok_or_else(simulator_only)?;
    Ok(HttpResponse::Ok().content_type("application/zip").body(zip))
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

/// The shop's icon (browsers ask for it on every page, the cashier's included).
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(&include_bytes!("../../static/favicon.ico")[..])
}
