//! The audit log of Alipay notifies, and refunds.
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, Statement,
};
use shop_domain::Money;
use shop_domain::order::OrderStatus;

use crate::entities::{payment_notify, refund};
use crate::outbox as outbox_status;

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
    let row = payment_notify::ActiveModel {
        received_at: Set(Utc::now()),
        out_trade_no: Set(r.out_trade_no),
        notify_id: Set(r.notify_id),
        trade_status: Set(r.trade_status),
        verdict: Set(r.verdict.to_owned()),
        reason: Set(r.reason),
        raw_body: Set(r.raw_body),
        remote_addr: Set(r.remote_addr),
        ..Default::default()
    };
    // Not `insert()`: it would read the stored row (raw body included) back.
    payment_notify::Entity::insert(row).exec_without_returning(conn).await.map(|_| ())
}

/// A text made of a fixed prefix, an id and a fixed suffix: how an outbox job that names an
/// order is written before the order's id is known (see [`settle_payment_notify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTemplate {
    /// Text before the id.
    pub prefix: String,
    /// Text after the id.
    pub suffix: String,
}

impl IdTemplate {
    /// The text for `id`.
    pub fn render(&self, id: i64) -> String {
        format!("{}{id}{}", self.prefix, self.suffix)
    }
}

/// An outbox job whose payload and dedupe key name an order by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTemplate {
    /// The job's kind.
    pub kind: &'static str,
    /// Its payload.
    pub payload: IdTemplate,
    /// Its dedupe key.
    pub dedupe_key: IdTemplate,
}

/// A verified, ordinary payment notify (`TRADE_SUCCESS` or `TRADE_FINISHED`, no refund in
/// it) to settle in one statement: see [`settle_payment_notify`].
#[derive(Debug, Clone)]
pub struct PaymentNotify {
    /// Our order number, as notified.
    pub out_trade_no: String,
    /// The amount notified, in fen.
    pub total_amount_fen: i64,
    /// Alipay's trade number.
    pub trade_no: String,
    /// When the buyer paid.
    pub paid_at: DateTime<Utc>,
    /// The job a payment enqueues.
    pub job: JobTemplate,
    /// The audit row; its verdict and reason are replaced by the statement's outcome.
    pub record: NotifyRecord,
    /// The audit reason when the order is paid now.
    pub paid_reason: String,
    /// The audit reason for a repeat.
    pub duplicate_reason: String,
}

/// What [`settle_payment_notify`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifySettled {
    /// The order was unpaid and is paid now: access granted, job enqueued, notify recorded
    /// as `accepted`.
    Paid,
    /// The order's money was already recorded: the notify is recorded as `duplicate`,
    /// nothing else changed.
    Duplicate,
    /// Nothing was written: no such order, another amount, an order in another state (or one
    /// that changed meanwhile). The caller decides step by step.
    Undecided,
}

/// Postgres only: the two common outcomes of a payment notify in one statement and one round
/// trip, with the effects of the step-by-step path (`orders::record_payment`, a grant per
/// course as `delivery::grant` makes it, `outbox::enqueue`, `record_notify`):
///
/// - an unpaid order with the notified amount becomes paid (a conditional UPDATE, so of
///   concurrent notifies exactly one wins), the buyer gets each course of the order for its
///   period from `paid_at`, the job is enqueued and the notify recorded as `accepted`;
/// - an order whose money is already recorded (paid, paid after cancel, refunded) and whose
///   amount matches gets only its audit row, as `duplicate`.
///
/// Anything else writes nothing and is [`NotifySettled::Undecided`]; so is a payment for an
/// order with a course its buyer owns through another order (the grant finds that access
/// active and leaves it; the statement then undoes itself with `course_shop_abort`), which
/// the step-by-step path refunds.
///
/// On other backends nothing is written and the answer is [`NotifySettled::Undecided`]: the
/// choice of the path is made here, not by the caller.
///
/// # Errors
/// Database errors.
pub async fn settle_payment_notify(
    conn: &impl ConnectionTrait,
    n: PaymentNotify,
) -> Result<NotifySettled, DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        // The one-statement path is Postgres's; elsewhere the caller goes step by step.
        return Ok(NotifySettled::Undecided);
    }
    let r = n.record;
    let values: Vec<sea_orm::Value> = vec![
        n.out_trade_no.into(),
        OrderStatus::Unpaid.code().into(),
        OrderStatus::Paid.code().into(),
        Utc::now().into(),
        n.trade_no.into(),
        n.paid_at.into(),
        n.total_amount_fen.into(),
        n.job.kind.into(),
        n.job.payload.prefix.into(),
        n.job.payload.suffix.into(),
        n.job.dedupe_key.prefix.into(),
        n.job.dedupe_key.suffix.into(),
        outbox_status::PENDING.into(),
        r.notify_id.into(),
        r.trade_status.into(),
        n.paid_reason.into(),
        n.duplicate_reason.into(),
        r.raw_body.into(),
        r.remote_addr.into(),
    ];
    let row = match conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            SETTLE_PAYMENT_NOTIFY.as_str(),
            values,
        ))
        .await
    {
        Ok(row) => row,
        Err(e) if is_fast_path_abort(&e) => return Ok(NotifySettled::Undecided),
        Err(e) => return Err(e),
    };
    Ok(match row.map(|row| row.try_get_by_index::<Option<String>>(0)).transpose()?.flatten().as_deref() {
        Some(ACCEPTED) => NotifySettled::Paid,
        Some(DUPLICATE) => NotifySettled::Duplicate,
        _ => NotifySettled::Undecided,
    })
}

/// The reason the statement of [`settle_payment_notify`] undoes itself with: a course of the
/// order is owned already through another order (a case for the step-by-step path).
const OWNED_ELSEWHERE: &str = "a course of this order is owned through another order";

/// Whether `err` is a one-statement fast path undoing itself (`course_shop_abort`, see the
/// migration that defines it): nothing was written, and the caller decides step by step.
pub fn is_fast_path_abort(err: &DbErr) -> bool {
    err.to_string().contains("course_shop_abort: ")
}

/// Verdict of a notify that changed an order.
pub const ACCEPTED: &str = "accepted";
/// Verdict of a repeat that changed nothing.
pub const DUPLICATE: &str = "duplicate";

/// The statement of [`settle_payment_notify`]. `o` is the order as read at the start of the
/// statement; `paid` re-checks the state on the row itself (Postgres re-evaluates the WHERE
/// on the newest version of a row a concurrent transaction changed), so only one notify can
/// pay. An access period of `n` days is `n * 86,400` seconds, as `chrono::Duration::days`
/// counts it (not calendar days in the session's time zone).
static SETTLE_PAYMENT_NOTIFY: LazyLock<String> = LazyLock::new(|| {
    let settled: Vec<String> =
        OrderStatus::ALL.iter().filter(|s| s.money_received()).map(|s| s.code().to_string()).collect();
    format!(
        r#"WITH o AS (
    SELECT "id", "order_status", "total_amount_fen" FROM "orders" WHERE "out_trade_no" = $1
),
paid AS (
    UPDATE "orders" SET "order_status" = $3, "updated_time" = $4, "trade_no" = $5, "pay_time" = $6
    FROM o
    WHERE "orders"."id" = o."id" AND "orders"."order_status" = $2 AND "orders"."total_amount_fen" = $7
    RETURNING "orders"."id", "orders"."user_id"
),
grants AS (
    INSERT INTO "user_courses" ("user_id", "course_id", "order_id", "granted_at", "expires_at", "revoked_at")
    SELECT paid."user_id", d."course_id", paid."id", $4,
           CASE WHEN c."period" > 0 THEN $6 + make_interval(secs => c."period"::float8 * 86400) END, NULL
    FROM paid
    JOIN "order_details" d ON d."order_id" = paid."id"
    JOIN "courses" c ON c."id" = d."course_id"
    ON CONFLICT ("user_id", "course_id") DO UPDATE SET "order_id" = EXCLUDED."order_id",
        "granted_at" = EXCLUDED."granted_at", "expires_at" = EXCLUDED."expires_at", "revoked_at" = NULL
    WHERE "user_courses"."revoked_at" IS NOT NULL
       OR ("user_courses"."expires_at" IS NOT NULL AND "user_courses"."expires_at" <= $4)
       OR "user_courses"."order_id" = EXCLUDED."order_id"
    RETURNING 1
),
lines AS (
    SELECT count(*) AS n FROM paid JOIN "order_details" d ON d."order_id" = paid."id"
),
job AS (
    INSERT INTO "outbox" ("kind", "payload", "dedupe_key", "status", "attempts", "next_attempt_at",
        "created_time", "updated_time")
    SELECT $8, $9 || paid."id" || $10, $11 || paid."id" || $12, $13, 0, $4, $4, $4 FROM paid
    ON CONFLICT ("dedupe_key") DO NOTHING
),
audit AS (
    INSERT INTO "payment_notifies" ("received_at", "out_trade_no", "notify_id", "trade_status", "verdict",
        "reason", "raw_body", "remote_addr")
    SELECT $4, $1, $14, $15,
           CASE WHEN paid."id" IS NULL THEN '{DUPLICATE}' ELSE '{ACCEPTED}' END,
           CASE WHEN paid."id" IS NULL THEN $17 ELSE $16 END, $18, $19
    FROM o LEFT JOIN paid ON TRUE
    WHERE paid."id" IS NOT NULL OR (o."order_status" IN ({settled}) AND o."total_amount_fen" = $7)
    RETURNING "verdict"
)
SELECT "verdict",
       CASE WHEN (SELECT count(*) FROM grants) < (SELECT n FROM lines)
            THEN course_shop_abort('{OWNED_ELSEWHERE}') END
FROM audit"#,
        settled = settled.join(", ")
    )
});

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
    amount_fen: Money,
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
