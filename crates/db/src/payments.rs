//! The audit log of Alipay notifies, and refunds.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, Func, Query, SelectStatement, SubQueryStatement,
    WithClause, WithQuery,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use shop_domain::order::OrderStatus;

use crate::entities::{
    course, order, order_detail, outbox as outbox_row, payment_notify, refund, user_course,
};
use crate::outbox::{self, NewJob};
use crate::rows::{insert_select, set_values};
use crate::{delivery, orders};

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
    // Not `insert()`: it would read the stored row (raw body included) back.
    payment_notify::Entity::insert(notify_row(r, Utc::now())).exec_without_returning(conn).await.map(|_| ())
}

/// The audit row of a notify received at `now`.
fn notify_row(r: NotifyRecord, now: DateTime<Utc>) -> payment_notify::ActiveModel {
    payment_notify::ActiveModel {
        received_at: Set(now),
        out_trade_no: Set(r.out_trade_no),
        notify_id: Set(r.notify_id),
        trade_status: Set(r.trade_status),
        verdict: Set(r.verdict.to_owned()),
        reason: Set(r.reason),
        raw_body: Set(r.raw_body),
        remote_addr: Set(r.remote_addr),
        ..Default::default()
    }
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
    pub job: NewJob,
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
    let statement = conn.get_database_backend().build(&settle_statement(n, Utc::now())?);
    let row = match conn.query_one_raw(statement).await {
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

/// The statement of [`settle_payment_notify`], built from the pieces of the step-by-step
/// path (`orders::transition_update` and `orders::payment_values`, `delivery::grant_row` and
/// `delivery::grant_on_conflict`, `outbox::job_row`, [`notify_row`]):
///
/// ```sql
/// WITH o AS (SELECT id, order_status, total_amount_fen FROM orders WHERE out_trade_no = $no),
///   paid AS (UPDATE orders SET <paid> FROM o
///            WHERE orders.id = o.id AND orders.order_status IN (<unpaid>) AND <amount matches>
///            RETURNING orders.id, orders.user_id),
///   grants AS (INSERT INTO user_courses (...) SELECT <grant of each line for its period>
///              FROM paid JOIN order_details JOIN courses ON CONFLICT ... DO UPDATE ... WHERE
///              <not active, or the same order> RETURNING course_id),
///   lines AS (SELECT count(*) AS n FROM paid JOIN order_details ...),
///   job AS (INSERT INTO outbox (...) SELECT <job> FROM paid ON CONFLICT (dedupe_key) DO NOTHING),
///   audit AS (INSERT INTO payment_notifies (...) SELECT <row, verdict accepted or duplicate>
///             FROM o LEFT JOIN paid ON TRUE WHERE paid.id IS NOT NULL OR <money recorded already>
///             RETURNING verdict)
/// SELECT verdict, CASE WHEN <fewer grants than lines> THEN course_shop_abort(...) END FROM audit
/// ```
///
/// `o` is the order as read at the start of the statement; `paid` re-checks the state on the
/// row itself (Postgres re-evaluates the WHERE on the newest version of a row a concurrent
/// transaction changed), so only one notify can pay.
fn settle_statement(n: PaymentNotify, now: DateTime<Utc>) -> Result<WithQuery, DbErr> {
    let (o, paid, grants, lines, audit) =
        (Alias::new("o"), Alias::new("paid"), Alias::new("grants"), Alias::new("lines"), Alias::new("audit"));
    let id = || Alias::new("id");
    let amount_matches =
        |table: Alias| Expr::col((table, order::Column::TotalAmountFen)).eq(n.total_amount_fen);

    let mut read = Query::select();
    read.columns([order::Column::Id, order::Column::OrderStatus, order::Column::TotalAmountFen])
        .from(order::Entity)
        .and_where(Expr::col((order::Entity, order::Column::OutTradeNo)).eq(n.out_trade_no.as_str()));

    let mut pay = orders::transition_update(
        &[OrderStatus::Unpaid],
        OrderStatus::Paid,
        orders::payment_values(&n.trade_no, n.paid_at),
    )?;
    pay.from(o.clone())
        .and_where(Expr::col((order::Entity, order::Column::Id)).equals((o.clone(), id())))
        .and_where(Expr::col((order::Entity, order::Column::TotalAmountFen)).eq(n.total_amount_fen))
        .returning(
            Query::returning()
                .columns([(order::Entity, order::Column::Id), (order::Entity, order::Column::UserId)]),
        );

    let line_of_paid = || {
        Expr::col((order_detail::Entity, order_detail::Column::OrderId))
            .equals((paid.clone(), order::Column::Id))
    };
    let (columns, exprs): (Vec<_>, Vec<_>) = delivery::grant_row(
        Expr::col((paid.clone(), order::Column::UserId)),
        Expr::col((order_detail::Entity, order_detail::Column::CourseId)),
        Expr::col((paid.clone(), order::Column::Id)),
        delivery::access_until_sql(Expr::val(n.paid_at), Expr::col((course::Entity, course::Column::Period))),
        now,
    )
    .into_iter()
    .unzip();
    let mut each_line = Query::select();
    each_line.exprs(exprs).from(paid.clone()).inner_join(order_detail::Entity, line_of_paid()).inner_join(
        course::Entity,
        Expr::col((course::Entity, course::Column::Id))
            .equals((order_detail::Entity, order_detail::Column::CourseId)),
    );
    let mut grant = insert_select(user_course::Entity, columns, each_line);
    grant.on_conflict(delivery::grant_on_conflict(now)).returning_col(user_course::Column::CourseId);

    let mut count_lines = Query::select();
    count_lines
        .expr_as(Expr::col((order_detail::Entity, order_detail::Column::Id)).count(), Alias::new("n"))
        .from(paid.clone())
        .inner_join(order_detail::Entity, line_of_paid());

    let (columns, values): (Vec<_>, Vec<_>) = set_values(&outbox::job_row(&n.job, now)).into_iter().unzip();
    let mut job_of_paid = Query::select();
    job_of_paid.exprs(values.into_iter().map(Expr::val)).from(paid.clone());
    let mut job = insert_select(outbox_row::Entity, columns, job_of_paid);
    job.on_conflict(outbox::on_duplicate());

    let paid_now = Expr::col((paid.clone(), id())).is_not_null();
    let case = |if_paid: String, if_not: String| -> Expr {
        Expr::case(paid_now.clone(), Expr::val(if_paid)).finally(Expr::val(if_not)).into()
    };
    let (columns, exprs): (Vec<_>, Vec<_>) = set_values(&notify_row(n.record, now))
        .into_iter()
        .map(|(c, v)| match c {
            payment_notify::Column::Verdict => (c, case(ACCEPTED.into(), DUPLICATE.into())),
            payment_notify::Column::Reason => (c, case(n.paid_reason.clone(), n.duplicate_reason.clone())),
            _ => (c, Expr::val(v)),
        })
        .unzip();
    let settled = OrderStatus::ALL.iter().filter(|s| s.money_received()).map(|s| s.code());
    let mut record = Query::select();
    record.exprs(exprs).from(o.clone()).left_join(paid.clone(), Expr::val(true)).cond_where(
        Condition::any().add(paid_now.clone()).add(
            Condition::all()
                .add(Expr::col((o.clone(), order::Column::OrderStatus)).is_in(settled))
                .add(amount_matches(o.clone())),
        ),
    );
    let mut record = insert_select(payment_notify::Entity, columns, record);
    record.returning_col(payment_notify::Column::Verdict);

    let count_of = |select: SelectStatement| Expr::SubQuery(None, Box::new(select.into()));
    let granted = count_of(Query::select().expr(Expr::col(Asterisk).count()).from(grants.clone()).to_owned());
    let bought = count_of(Query::select().column(Alias::new("n")).from(lines.clone()).to_owned());
    let mut answer = Query::select();
    answer
        .column(payment_notify::Column::Verdict)
        .expr(Expr::case(
            granted.lt(bought),
            Func::cust(Alias::new("course_shop_abort")).arg(OWNED_ELSEWHERE),
        ))
        .from(audit.clone());

    let cte = |name: Alias, query: SubQueryStatement| {
        CommonTableExpression::new().table_name(name).query(query).to_owned()
    };
    let with = WithClause::new()
        .cte(cte(o, read.into()))
        .cte(cte(paid, pay.into()))
        .cte(cte(grants, grant.into()))
        .cte(cte(lines, count_lines.into()))
        .cte(cte(Alias::new("job"), job.into()))
        .cte(cte(audit, record.into()))
        .to_owned();
    Ok(answer.with(with))
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
