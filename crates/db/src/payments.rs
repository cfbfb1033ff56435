//! The audit log of Alipay notifies, and refunds.
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entities::{payment_notify, refund};

/// What to record about one notify.
#[derive(Debug, Clone, Default)]
pub struct NotifyRecord {
    /// `out_trade_no`, when readable.
    pub out_trade_no: Option<String>,
    /// `notify_id`, when readable.
    pub notify_id: Option<String>,
    /// `trade_status`, when readable.
    pub trade_status: Option<String>,
    /// `accepted`, `duplicate` or `rejected`.
    pub verdict: &'static str,
    /// Why.
    pub reason: String,
    /// The body as received.
    pub raw_body: String,
    /// Who sent it.
    pub remote_addr: String,
}

/// Stores a notify record.
pub async fn record_notify(conn: &impl ConnectionTrait, r: NotifyRecord) -> Result<(), DbErr> {
    payment_notify::ActiveModel {
        received_at: Set(Utc::now()),
        out_trade_no: Set(r.out_trade_no),
        notify_id: Set(r.notify_id),
        trade_status: Set(r.trade_status),
        verdict: Set(r.verdict.to_owned()),
        reason: Set(r.reason),
        raw_body: Set(r.raw_body),
        remote_addr: Set(r.remote_addr),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// Notify records, oldest first, optionally of one order.
pub async fn notifies(
    conn: &impl ConnectionTrait,
    out_trade_no: Option<&str>,
) -> Result<Vec<payment_notify::Model>, DbErr> {
    let mut select = payment_notify::Entity::find().order_by_asc(payment_notify::Column::Id);
    if let Some(no) = out_trade_no {
        select = select.filter(payment_notify::Column::OutTradeNo.eq(no));
    }
    select.all(conn).await
}

/// Refund states.
pub mod refund_status {
    /// Requested, not confirmed by Alipay yet.
    pub const PENDING: &str = "pending";
    /// Alipay confirmed it.
    pub const SUCCEEDED: &str = "succeeded";
    /// Alipay refused it for good (see `last_error`).
    pub const FAILED: &str = "failed";
}

/// Inserts a pending refund unless its `out_request_no` exists; returns the row.
pub async fn insert_refund(
    conn: &impl ConnectionTrait,
    order_id: i64,
    out_request_no: &str,
    amount_fen: i64,
    reason: &str,
) -> Result<refund::Model, DbErr> {
    if let Some(existing) = refund_by_request_no(conn, out_request_no).await? {
        return Ok(existing);
    }
    let now = Utc::now();
    refund::ActiveModel {
        order_id: Set(order_id),
        out_request_no: Set(out_request_no.to_owned()),
        amount_fen: Set(amount_fen),
        reason: Set(reason.to_owned()),
        status: Set(refund_status::PENDING.to_owned()),
        refund_fee_fen: Set(None),
        last_error: Set(None),
        created_time: Set(now),
        updated_time: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
}

/// A refund by its request number.
pub async fn refund_by_request_no(
    conn: &impl ConnectionTrait,
    out_request_no: &str,
) -> Result<Option<refund::Model>, DbErr> {
    refund::Entity::find().filter(refund::Column::OutRequestNo.eq(out_request_no)).one(conn).await
}

/// The refunds of an order.
pub async fn refunds_of(conn: &impl ConnectionTrait, order_id: i64) -> Result<Vec<refund::Model>, DbErr> {
    refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order_id))
        .order_by_asc(refund::Column::Id)
        .all(conn)
        .await
}

/// Sets a refund's outcome.
pub async fn set_refund_status(
    conn: &impl ConnectionTrait,
    out_request_no: &str,
    status: &str,
    refund_fee_fen: Option<i64>,
    error: Option<&str>,
) -> Result<(), DbErr> {
    refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value(status))
        .col_expr(refund::Column::RefundFeeFen, Expr::value(refund_fee_fen))
        .col_expr(refund::Column::LastError, Expr::value(error.map(str::to_owned)))
        .col_expr(refund::Column::UpdatedTime, Expr::value(Utc::now()))
        .filter(refund::Column::OutRequestNo.eq(out_request_no))
        .exec(conn)
        .await
        .map(|_| ())
}
