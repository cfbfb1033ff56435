//! Admin API of orders: search, an order's page (lines, notifications, jobs, refunds), and
//! refunds with a confirmation step, through the refund use case of `course-shop refund`.
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_app::AppError;
use shop_app::i18n::{Text, msg};
use shop_app::payments::audit::{self, OrderAudit, OrderQuery, OrderRow};
use shop_app::payments::{self};
use shop_app::worker::{self, RefundProgress};
use shop_domain::Money;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::Admin;
use crate::state::State;

/// The order search; every field is optional and exact.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderSearchQuery {
    /// The order number.
    pub out_trade_no: Option<String>,
    /// The buyer's mobile, email or username.
    pub buyer: Option<String>,
    /// `unpaid`, `paid`, `cancelled`, `expired`, `paid after cancel`, `refunded` (or 0–5).
    pub status: Option<String>,
    /// `alipay`, `wechat` or `stripe`.
    pub provider: Option<String>,
    /// Created on or after this day (`YYYY-MM-DD`, Beijing time).
    pub from: Option<String>,
    /// Created on or before this day (`YYYY-MM-DD`, Beijing time).
    pub to: Option<String>,
    /// Page (20 orders each), from 1.
    pub page: Option<u64>,
}

impl OrderSearchQuery {
    /// The use case's query.
    ///
    /// # Errors
    /// `Validation` naming the bad field.
    pub fn to_query(&self) -> Result<OrderQuery, AppError> {
        OrderQuery::parse(
            self.out_trade_no.as_deref(),
            self.buyer.as_deref(),
            self.status.as_deref(),
            self.provider.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            self.page,
        )
    }
}

/// An order in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderDto {
    /// Order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// Subject.
    pub subject: String,
    /// Total in yuan.
    pub total_amount: String,
    /// Refunded so far, in yuan.
    pub refunded: String,
    /// Status.
    pub status: String,
    /// `alipay`, `wechat` or `stripe` (null: unknown).
    pub provider: Option<String>,
    /// The buyer's id.
    pub buyer_id: i64,
    /// The buyer's username.
    pub buyer: String,
    /// Created.
    pub created_time: DateTime<Utc>,
    /// Paid.
    pub pay_time: Option<DateTime<Utc>>,
}

/// The provider's name in the API.
pub fn provider_name(p: shop_domain::order::PayType) -> &'static str {
    match p {
        shop_domain::order::PayType::Alipay => "alipay",
        shop_domain::order::PayType::WechatPay => "wechat",
        shop_domain::order::PayType::Stripe => "stripe",
    }
}

impl From<&OrderRow> for AdminOrderDto {
    fn from(o: &OrderRow) -> Self {
        AdminOrderDto {
            out_trade_no: o.out_trade_no.clone(),
            trade_no: o.trade_no.clone(),
            subject: o.subject.clone(),
            total_amount: o.total.to_string(),
            refunded: o.refunded.to_string(),
            status: o.status.label().to_owned(),
            provider: o.provider.map(|p| provider_name(p).to_owned()),
            buyer_id: o.buyer_id,
            buyer: o.buyer.clone(),
            created_time: o.created_time,
            pay_time: o.pay_time,
        }
    }
}

/// A page of the search.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderPage {
    /// Orders matching.
    pub count: u64,
    /// This page's orders, newest first.
    pub results: Vec<AdminOrderDto>,
}

/// `{code, msg, result: AdminOrderPage}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderPageResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The page.
    pub result: AdminOrderPage,
}

/// A line of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderLineDto {
    /// Course id.
    pub course_id: i64,
    /// Course name.
    pub name: String,
    /// List price in yuan.
    pub price: String,
    /// Price paid in yuan.
    pub real_price: String,
}

/// A payment notification received for the order (the audit trail).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminNotifyDto {
    /// Received.
    pub received_at: DateTime<Utc>,
    /// Alipay's trade status.
    pub trade_status: Option<String>,
    /// What the server concluded.
    pub verdict: String,
    /// Why.
    pub reason: String,
}

/// An outbox job the order caused.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminJobDto {
    /// Kind.
    pub kind: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_time: DateTime<Utc>,
}

/// A refund of the order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRefundDto {
    /// The refund's request number at Alipay.
    pub out_request_no: String,
    /// Amount in yuan.
    pub amount: String,
    /// Reason.
    pub reason: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The last error.
    pub last_error: Option<String>,
    /// Requested.
    pub created_time: DateTime<Utc>,
}

/// An order's page.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderDetail {
    /// The order.
    pub order: AdminOrderDto,
    /// Lines.
    pub lines: Vec<AdminOrderLineDto>,
    /// Notifications received, oldest first.
    pub notifies: Vec<AdminNotifyDto>,
    /// Outbox jobs.
    pub jobs: Vec<AdminJobDto>,
    /// Refunds.
    pub refunds: Vec<AdminRefundDto>,
    /// What is left to refund, in yuan.
    pub refundable: String,
}

fn yuan_of_fen(fen: i64) -> String {
    Money::from_fen(fen).map(|m| m.to_string()).unwrap_or_else(|| fen.to_string())
}

impl From<&OrderAudit> for AdminOrderDetail {
    fn from(a: &OrderAudit) -> Self {
        AdminOrderDetail {
            order: (&a.order).into(),
            lines: a
                .lines
                .iter()
                .map(|l| AdminOrderLineDto {
                    course_id: l.course_id,
                    name: l.name.clone(),
                    price: l.price.to_string(),
                    real_price: l.real_price.to_string(),
                })
                .collect(),
            notifies: a
                .notifies
                .iter()
                .map(|n| AdminNotifyDto {
                    received_at: n.received_at,
                    trade_status: n.trade_status.clone(),
                    verdict: n.verdict.clone(),
                    reason: n.reason.clone(),
                })
                .collect(),
            jobs: a
                .jobs
                .iter()
                .map(|j| AdminJobDto {
                    kind: j.kind.clone(),
                    status: j.status.clone(),
                    attempts: j.attempts,
                    last_error: j.last_error.clone(),
                    created_time: j.created_time,
                })
                .collect(),
            refunds: a
                .refunds
                .iter()
                .map(|r| AdminRefundDto {
                    out_request_no: r.out_request_no.clone(),
                    amount: yuan_of_fen(r.amount_fen.fen()),
                    reason: r.reason.clone(),
                    status: r.status.clone(),
                    last_error: r.last_error.clone(),
                    created_time: r.created_time,
                })
                .collect(),
            refundable: a.refundable.to_string(),
        }
    }
}

/// `{code, msg, result: AdminOrderDetail}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The order.
    pub result: AdminOrderDetail,
}

/// A refund request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Amount in yuan (`"19.90"`); empty or absent: everything not yet refunded.
    pub amount: Option<String>,
    /// Reason shown to the buyer (at most 200 characters).
    pub reason: Option<String>,
    /// `false` (default): only check and say what would be refunded; `true`: refund.
    #[serde(default)]
    pub confirm: bool,
}

/// What a refund request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundOutcome {
    /// True when nothing was done: the request must be sent again with `confirm: true`.
    pub needs_confirmation: bool,
    /// The question to ask (for an unconfirmed request).
    pub confirmation: Option<String>,
    /// The amount (to be) refunded, in yuan.
    pub amount: String,
    /// What is left to refund before this refund, in yuan.
    pub left: String,
    /// The refund's request number (when done).
    pub out_request_no: Option<String>,
    /// `succeeded`, `refused` or `pending` (when done; pending: the outbox worker retries).
    pub status: Option<String>,
}

/// `{code, msg, result: RefundOutcome}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// What happened.
    pub result: RefundOutcome,
}

/// Searches orders by number, buyer (mobile, email or username), status, provider and
/// creation day. Administrators only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/orders/",
    operation_id = "admin_order_search",
    tag = "admin",
    security(("jwt" = []), ("console" = [])),
    params(OrderSearchQuery),
    responses(
        (status = 200, body = AdminOrderPageResponse),
        (status = 400, description = "A field is invalid (`errors` names it)", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)
    )
)]
pub async fn search(
    state: web::Data<State>,
    _admin: Admin,
    query: web::Query<OrderSearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = audit::search_orders(&state.ctx, &query.to_query()?).await?;
    Ok(HttpResponse::Ok().json(AdminOrderPageResponse {
        code: codes::OK,
        msg: "ok".into(),
        result: AdminOrderPage { count: found.count, results: found.orders.iter().map(Into::into).collect() },
    }))
}

/// An order with its lines, the payment notifications received for it, the outbox jobs it
/// caused and its refunds. Administrators only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/orders/{out_trade_no}/",
    operation_id = "admin_order_detail",
    tag = "admin",
    security(("jwt" = []), ("console" = [])),
    params(("out_trade_no" = String, Path, description = "Order number")),
    responses(
        (status = 200, body = AdminOrderResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn detail(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = audit::order_audit(&state.ctx, &path).await?;
    Ok(HttpResponse::Ok().json(AdminOrderResponse {
        code: codes::OK,
        msg: "ok".into(),
        result: (&order).into(),
    }))
}

/// Refunds a paid order, in full or in part, through the refund use case of
/// `course-shop refund` (recorded, then carried out through the outbox at once; idempotent
/// at Alipay). Without `confirm: true` nothing is done: the answer says what would be
/// refunded (the confirmation step). Administrators only.
#[utoipa::path(
    post,
    path = "/api/v1/admin/orders/{out_trade_no}/refund/",
    operation_id = "admin_order_refund",
    tag = "admin",
    security(("jwt" = []), ("console" = [])),
    params(("out_trade_no" = String, Path, description = "Order number")),
    request_body = RefundRequest,
    responses(
        (status = 200, body = RefundResponse),
        (status = 400, description = "A bad amount, or nothing (that much) to refund", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn refund(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<String>,
    body: web::Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let amount = body
        .amount
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| Money::parse_yuan(a).map_err(|e| AppError::invalid("amount", msg::yuan(e))))
        .transpose()?;
    let reason =
        body.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("refund by the shop");
    if reason.chars().count() > 200 {
        return Err(
            AppError::invalid("reason", Text::fixed("最多 200 个字符", "at most 200 characters")).into()
        );
    }
    let preview = payments::preview_refund(&state.ctx, &path, amount).await?;
    let mut outcome = RefundOutcome {
        needs_confirmation: !body.confirm,
        confirmation: None,
        amount: preview.amount.to_string(),
        left: preview.left.to_string(),
        out_request_no: None,
        status: None,
    };
    if !body.confirm {
        outcome.confirmation = Some(format!(
            "退款 ¥{} 给订单 {} 的买家？/ Refund ¥{} of order {} to the buyer?",
            preview.amount, path, preview.amount, path
        ));
        return Ok(HttpResponse::Ok().json(RefundResponse {
            code: codes::OK,
            msg: "confirm to refund".into(),
            result: outcome,
        }));
    }
    let requested = payments::request_refund(&state.ctx, &path, amount, reason).await?;
    outcome.amount = requested.amount.to_string();
    outcome.out_request_no = Some(requested.out_request_no.clone());
    let (status, msg) = match worker::carry_out_refund(&state.ctx, &requested.out_request_no).await? {
        RefundProgress::Succeeded { .. } => ("succeeded", "refunded".to_owned()),
        RefundProgress::Refused { reason } => ("refused", format!("Alipay refused the refund: {reason}")),
        RefundProgress::Pending { .. } => {
            ("pending", "recorded; the outbox worker carries it out".to_owned())
        }
    };
    outcome.status = Some(status.to_owned());
    Ok(HttpResponse::Ok().json(RefundResponse { code: codes::OK, msg, result: outcome }))
}
