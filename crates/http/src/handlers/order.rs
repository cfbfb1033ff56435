//! `order/`: creating orders, Alipay's notify, the status the front end polls, the user's
//! orders.
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_app::AppError;
use shop_app::error::retry_if_connection_lost;
use shop_app::i18n::msg;
use shop_app::payments::{self, NotifyReply, Purchase};
use shop_domain::Money;
use shop_domain::order::OrderStatus;
use shop_domain::order::PayType;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::dto::{OrderDto, OrderList, OrderResponse, PayRequest, PayResponse, PaymentStatusResponse};
use crate::error::{ApiError, ErrorBody, Verbatim, codes};
use crate::extract::{AuthUser, ClientAddr, Language, UserOrGuest};
use crate::schemas;
use crate::state::State;

fn purchase(body: PayRequest, req: &HttpRequest) -> Result<Purchase, ApiError> {
    let course_ids = body
        .courses
        .iter()
        .map(|id| {
            shop_domain::catalog::parse_id(id)
                .ok_or_else(|| ApiError::field("courses", msg::not_a_course_id(id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Exactly as sent: the rule of amounts admits no surrounding spaces.
    let total = Money::parse_yuan(&body.total_amount)
        .map_err(|e| ApiError::field("total_amount", msg::bad_amount(&body.total_amount, e)))?;
    // A pay type's code (1 Alipay, 2 WeChat Pay, 3 Stripe) as a number or a string, written
    // as the code is, or absent (1); the spec's enum says the same. Whether the provider is
    // enabled is the use case's to say.
    let pay_type = match body.pay_type.as_deref() {
        None => 1,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|code| code.to_string() == text && PayType::from_code(*code).is_some())
            .ok_or_else(|| ApiError::field("pay_type", msg::PAY_TYPE))?,
    };
    let idempotency_key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::field("Idempotency-Key", msg::IDEMPOTENCY_KEY_FORMAT))?
                .to_owned(),
        ),
    };
    Ok(Purchase { course_ids, total, subject: body.subject, pay_type, idempotency_key })
}

/// Creates an order and returns how to pay it: `pay_url` to open (Alipay's cashier, or ours
/// showing the WeChat Pay QR code) and, for WeChat Pay, `code_url`, and `purchase_url`, the
/// order's private purchase page (its courses and download links once paid, no login). The
/// total must equal the server's sum of the course prices. An optional `email` is kept on the
/// order: the purchase email goes there when the account has no confirmed email.
///
/// Without an `Authorization` header and with `email`, the order is a guest checkout: no
/// account is made; the same checks, idempotency and one-open-order rules apply per email
/// address, limited per client address and per email address (429); an account that later
/// confirms the address gets the purchase. Without either: 401. Send an `Idempotency-Key`
/// header to make retries safe: the same key returns the same order and URL (with a
/// different body: 409).
#[utoipa::path(
    post,
    path = "/api/v1/order/pay/",
    tag = "order",
    security((), ("jwt" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries return the same order (1 to 255 visible ASCII characters)")),
    request_body = PayRequest,
    responses(
        (status = 200, description = "Order created (or the same order returned)", body = PayResponse),
        (status = 400, description = "Unknown, hidden or repeated course, total mismatch, a pay type that is unknown or not enabled", body = ErrorBody),
        (status = 401, description = "An invalid token, or neither a token nor an email", body = ErrorBody),
        (status = 409, description = "Course already owned, or Idempotency-Key reused with another body", body = ErrorBody),
        (status = 429, description = "Too many orders without an account from this client address or for this email", body = ErrorBody)
    )
)]
pub async fn pay(
    state: web::Data<State>,
    buyer: UserOrGuest,
    client: ClientAddr,
    req: HttpRequest,
    body: web::Json<PayRequest>,
) -> Result<HttpResponse, ApiError> {
    let lang = Language(Language::of(&req));
    let mut body = body.into_inner();
    let email = body.email.take().filter(|e| !e.trim().is_empty());
    let ref_tag =
        body.ref_tag.as_deref().filter(|r| !r.is_empty()).map(shop_app::funnel::parse_ref).transpose()?;
    let purchase = purchase(body, &req)?;
    let outcome = match buyer.0 {
        Some(user) => {
            retry_if_connection_lost(|| {
                payments::create_order_with_email(&state.ctx, user, purchase.clone(), email.as_deref())
            })
            .await?
        }
        None => {
            let email = email.ok_or(AppError::Unauthorized(msg::GUEST_NEEDS_EMAIL))?;
            retry_if_connection_lost(|| {
                payments::create_guest_order(&state.ctx, &client.0, &email, purchase.clone())
            })
            .await?
        }
    };
    if let Some(r) = ref_tag {
        shop_app::funnel::attach_ref(&state.ctx, &outcome.out_trade_no, &r).await?;
    }
    Ok(HttpResponse::Ok().json(PayResponse {
        code: codes::OK,
        msg: if outcome.created { msg::ORDER_CREATED } else { msg::ORDER_EXISTING }.get(lang.0).into(),
        pay_url: outcome.pay_url,
        out_trade_no: outcome.out_trade_no,
        code_url: outcome.code_url,
        purchase_url: outcome
            .purchase_token
            .map(|token| shop_app::guests::purchase_url(&state.ctx.public_url(), &token)),
    }))
}

/// The same as `POST order/pay/` (the Luffy front end calls this path).
#[utoipa::path(
    post,
    path = "/api/v1/order/alipay/",
    tag = "order",
    security((), ("jwt" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries return the same order")),
    request_body = PayRequest,
    responses((status = 200, body = PayResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody))
)]
pub async fn alipay(
    state: web::Data<State>,
    buyer: UserOrGuest,
    client: ClientAddr,
    req: HttpRequest,
    body: web::Json<PayRequest>,
) -> Result<HttpResponse, ApiError> {
    pay(state, buyer, client, req, body).await
}

/// Alipay's asynchronous notify (`application/x-www-form-urlencoded`, signed by Alipay, no
/// login). Answers the bare text `success` once the change is durable (also for repeats), or
/// `fail` when the notify cannot be verified or is not ours; nothing changes then.
#[utoipa::path(
    post,
    path = "/api/v1/order/success/",
    tag = "order",
    request_body(content = inline(schemas::NotifyForm), content_type = "application/x-www-form-urlencoded", description = "Alipay's signed notify fields"),
    responses(
        (status = 200, description = "`success` or `fail`", body = String, content_type = "text/plain"),
        (status = 400, description = "`fail`: the body is empty (not a notify)", body = String, content_type = "text/plain"),
        (status = 503, description = "`fail`: the database is unavailable; Alipay will resend", body = String, content_type = "text/plain")
    )
)]
pub async fn notify(state: web::Data<State>, client: ClientAddr, body: web::Bytes) -> HttpResponse {
    if body.is_empty() {
        let mut res = HttpResponse::BadRequest().content_type(ContentType::plaintext()).body("fail");
        res.extensions_mut().insert(Verbatim);
        return res;
    }
    match retry_if_connection_lost(|| payments::handle_notify(&state.ctx, &body, &client.0)).await {
        Ok(NotifyReply::Success) => HttpResponse::Ok().content_type(ContentType::plaintext()).body("success"),
        Ok(NotifyReply::Fail | NotifyReply::Refused) => {
            HttpResponse::Ok().content_type(ContentType::plaintext()).body("fail")
        }
        Err(e) => {
            tracing::error!(error = ?e, "alipay notify could not be processed");
            let mut res =
                HttpResponse::ServiceUnavailable().content_type(ContentType::plaintext()).body("fail");
            res.extensions_mut().insert(Verbatim);
            res
        }
    }
}

/// Alipay's return parameters (only `out_trade_no` is used; they are never trusted).
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    /// `out_trade_no`.
    pub out_trade_no: Option<String>,
}

impl IntoParams for StatusQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![schemas::query("out_trade_no", true, "Our order number.", schemas::order_no_query())]
    }
}

/// Whether an order is paid: code 100 paid, 101 not yet. While unpaid, Alipay is asked
/// directly (at most once per order every few seconds) in case its notify is late.
#[utoipa::path(
    get,
    path = "/api/v1/order/success/",
    tag = "order",
    params(StatusQuery),
    responses(
        (status = 200, description = "100 paid, 101 not (yet)", body = PaymentStatusResponse),
        (status = 400, description = "out_trade_no missing", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody)
    )
)]
pub async fn status(
    state: web::Data<State>,
    lang: Language,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let no = query
        .out_trade_no
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::field("out_trade_no", msg::REQUIRED))?;
    let result = retry_if_connection_lost(|| payments::payment_status(&state.ctx, no)).await?;
    let (code, text) = match result.status {
        OrderStatus::Paid => (codes::OK, msg::PAYMENT_RECEIVED),
        OrderStatus::Unpaid => (codes::NOT_YET, msg::PAYMENT_NOT_YET),
        OrderStatus::Cancelled | OrderStatus::Expired => (codes::NOT_YET, msg::ORDER_CANCELLED),
        OrderStatus::PaidAfterCancel => (codes::NOT_YET, msg::ORDER_CANCELLED_REFUNDING),
        OrderStatus::Refunded => (codes::NOT_YET, msg::PAYMENT_REFUNDED),
    };
    Ok(HttpResponse::Ok().json(PaymentStatusResponse {
        code,
        msg: text.get(lang.0).into(),
        order_status: result.status.code(),
    }))
}

/// The logged-in user's orders, newest first, with their lines.
#[utoipa::path(
    get,
    path = "/api/v1/order/list/",
    tag = "order",
    security(("jwt" = [])),
    responses((status = 200, body = OrderList), (status = 401, body = ErrorBody))
)]
pub async fn list(state: web::Data<State>, user: AuthUser, lang: Language) -> Result<HttpResponse, ApiError> {
    let orders = retry_if_connection_lost(|| payments::orders_of(&state.ctx, user.0)).await?;
    Ok(HttpResponse::Ok().json(OrderList {
        code: codes::OK,
        msg: msg::OK.get(lang.0).into(),
        result: orders.into_iter().map(|o| OrderDto::from_view(o, &state.ctx.public_url())).collect(),
    }))
}

/// One of the logged-in user's orders; another user's order is a 404.
#[utoipa::path(
    get,
    path = "/api/v1/order/{out_trade_no}/",
    tag = "order",
    security(("jwt" = [])),
    params(("out_trade_no" = String, Path, description = "Our order number")),
    responses((status = 200, body = OrderResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn detail(
    state: web::Data<State>,
    user: AuthUser,
    lang: Language,
    no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = retry_if_connection_lost(|| payments::order_detail(&state.ctx, user.0, &no)).await?;
    Ok(HttpResponse::Ok().json(OrderResponse {
        code: codes::OK,
        msg: msg::OK.get(lang.0).into(),
        result: OrderDto::from_view(order, &state.ctx.public_url()),
    }))
}

/// The error for a route that only exists in simulator mode.
pub fn simulator_only() -> ApiError {
    AppError::NotFound("simulator").into()
}
