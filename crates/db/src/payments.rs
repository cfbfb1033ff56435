//! The audit log of Alipay notifies, and refunds.
use chrono::{DateTime, Utc};
use std::sync::OnceLock;

use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, Func, PostgresQueryBuilder, Query,
    SelectStatement, SubQueryStatement, WithClause,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement,
};
use shop_domain::Money;
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

/// Stores several notify records with one statement (one commit outside a transaction): the
/// rows of concurrent notifies written together (`shop_app`'s notify log). Nothing is written
/// when it fails.
///
/// # Errors
/// Database errors.
pub async fn record_notifies(conn: &impl ConnectionTrait, records: Vec<NotifyRecord>) -> Result<(), DbErr> {
    if records.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    payment_notify::Entity::insert_many(records.into_iter().map(|r| notify_row(r, now)))
        .exec_without_returning(conn)
        .await
        .map(|_| ())
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
    let statement = settle_statement(n, Utc::now())?;
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
fn settle_statement(n: PaymentNotify, now: DateTime<Utc>) -> Result<Statement, DbErr> {
    let params = SettleParams::new(n, now);
    let cached = SETTLE_SQL.get_or_init(|| settle_sql(&params.shape));
    let sql = match cached {
        Ok((shape, sql)) if *shape == params.shape => sql.clone(),
        // Rows of another shape than the cached text's (no row function makes them today):
        // their own text, built the same way.
        _ => settle_sql(&params.shape)?.1,
    };
    Ok(Statement::from_sql_and_values(DbBackend::Postgres, sql, params.values))
}

/// The text of the settle statement and the row shape it was built for: built once, as
/// before sea-query built it per notify (the text does not depend on the notify: each of its
/// values is a parameter, see [`SettleParams`]; building it costs more than the rest of the
/// notify's work in this process).
static SETTLE_SQL: OnceLock<Result<(SettleShape, String), DbErr>> = OnceLock::new();

/// The columns the outbox row and the audit row of a settle statement set (the row
/// functions decide them).
#[derive(Debug, Clone)]
struct SettleShape {
    job: Vec<outbox_row::Column>,
    record: Vec<payment_notify::Column>,
}

impl PartialEq for SettleShape {
    fn eq(&self, other: &Self) -> bool {
        use std::mem::discriminant as d;
        self.job.iter().map(d).eq(other.job.iter().map(d))
            && self.record.iter().map(d).eq(other.record.iter().map(d))
    }
}

/// The per-notify values of the settle statement, in parameter order: the scalars of
/// [`Slot`], then the outbox row's values, then the audit row's values (except the verdict
/// and the reason, which the statement chooses between the two reasons).
struct SettleParams {
    values: Vec<sea_orm::Value>,
    shape: SettleShape,
}

/// The scalar parameters of the settle statement (`$1` is `OutTradeNo`).
#[derive(Debug, Clone, Copy)]
enum Slot {
    OutTradeNo,
    TotalFen,
    TradeNo,
    PaidAt,
    Now,
    PaidReason,
    DuplicateReason,
}

const SLOTS: usize = 7;

impl Slot {
    /// Its parameter in the statement's text.
    fn param(self) -> Expr {
        param(self as usize)
    }
}

/// The `i`-th (from 0) parameter of a statement.
fn param(i: usize) -> Expr {
    Expr::cust(format!("${}", i + 1))
}

/// Whether the audit row's `column` is chosen by the statement rather than given.
fn chosen_by_statement(column: payment_notify::Column) -> bool {
    matches!(column, payment_notify::Column::Verdict | payment_notify::Column::Reason)
}

impl SettleParams {
    fn new(n: PaymentNotify, now: DateTime<Utc>) -> Self {
        let job = set_values(&outbox::job_row(&n.job, now));
        let record: Vec<_> = set_values(&notify_row(n.record, now))
            .into_iter()
            .filter(|(c, _)| !chosen_by_statement(*c))
            .collect();
        let shape = SettleShape {
            job: job.iter().map(|(c, _)| *c).collect(),
            record: record.iter().map(|(c, _)| *c).collect(),
        };
        let scalars: [sea_orm::Value; SLOTS] = [
            n.out_trade_no.into(),
            n.total_amount_fen.into(),
            n.trade_no.into(),
            n.paid_at.into(),
            now.into(),
            n.paid_reason.into(),
            n.duplicate_reason.into(),
        ];
        let values = scalars
            .into_iter()
            .chain(job.into_iter().map(|(_, v)| v))
            .chain(record.into_iter().map(|(_, v)| v))
            .collect();
        SettleParams { values, shape }
    }
}

fn settle_sql(shape: &SettleShape) -> Result<(SettleShape, String), DbErr> {
    let now = Slot::Now.param();
    let (o, paid, grants, lines, audit) =
        (Alias::new("o"), Alias::new("paid"), Alias::new("grants"), Alias::new("lines"), Alias::new("audit"));
    let id = || Alias::new("id");
    let amount_matches =
        |table: Alias| Expr::col((table, order::Column::TotalAmountFen)).eq(Slot::TotalFen.param());

    let mut read = Query::select();
    read.columns([order::Column::Id, order::Column::OrderStatus, order::Column::TotalAmountFen])
        .from(order::Entity)
        .and_where(Expr::col((order::Entity, order::Column::OutTradeNo)).eq(Slot::OutTradeNo.param()));

    let mut pay = orders::transition_update(
        &[OrderStatus::Unpaid],
        OrderStatus::Paid,
        orders::payment_values(Slot::TradeNo.param(), Slot::PaidAt.param()),
        now.clone(),
    )?;
    pay.from(o.clone())
        .and_where(Expr::col((order::Entity, order::Column::Id)).equals((o.clone(), id())))
        .and_where(Expr::col((order::Entity, order::Column::TotalAmountFen)).eq(Slot::TotalFen.param()))
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
        delivery::access_until_sql(Slot::PaidAt.param(), Expr::col((course::Entity, course::Column::Period))),
        now.clone(),
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

    let mut next = SLOTS;
    let mut params = |n: usize| {
        let exprs: Vec<Expr> = (next..next + n).map(param).collect();
        next += n;
        exprs
    };
    let mut job_of_paid = Query::select();
    job_of_paid.exprs(params(shape.job.len())).from(paid.clone());
    let mut job = insert_select(outbox_row::Entity, shape.job.iter().copied(), job_of_paid);
    job.on_conflict(outbox::on_duplicate());

    let paid_now = Expr::col((paid.clone(), id())).is_not_null();
    let case = |if_paid: Expr, if_not: Expr| -> Expr {
        Expr::case(paid_now.clone(), if_paid).finally(if_not).into()
    };
    let given = shape.record.iter().copied().zip(params(shape.record.len()));
    let (columns, exprs): (Vec<_>, Vec<_>) = given
        .chain([
            (payment_notify::Column::Verdict, case(Expr::val(ACCEPTED), Expr::val(DUPLICATE))),
            (payment_notify::Column::Reason, case(Slot::PaidReason.param(), Slot::DuplicateReason.param())),
        ])
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
    // Constants (statuses, verdicts) are written into the text; every value of the notify
    // is a parameter.
    Ok((shape.clone(), answer.with(with).to_string(PostgresQueryBuilder)))
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

/// The refunds with these request numbers (those that exist): one query for a batch of
/// statement lines.
pub async fn refunds_by_request_nos(
    conn: &impl ConnectionTrait,
    out_request_nos: &[String],
) -> Result<Vec<refund::Model>, DbErr> {
    if out_request_nos.is_empty() {
        return Ok(Vec::new());
    }
    refund::Entity::find().filter(refund::Column::OutRequestNo.is_in(out_request_nos)).all(conn).await
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn notify(out_trade_no: &str, fen: i64, paid_at: DateTime<Utc>) -> PaymentNotify {
        PaymentNotify {
            out_trade_no: out_trade_no.into(),
            total_amount_fen: fen,
            trade_no: format!("T{out_trade_no}"),
            paid_at,
            job: NewJob {
                kind: "order_paid",
                payload: format!("{{\"order\":\"{out_trade_no}\"}}"),
                dedupe_key: out_trade_no.into(),
            },
            record: NotifyRecord {
                out_trade_no: Some(out_trade_no.into()),
                verdict: ACCEPTED,
                ..Default::default()
            },
            paid_reason: "reason-when-paid".into(),
            duplicate_reason: "reason-when-repeated".into(),
        }
    }

    #[test]
    fn the_settle_statement_is_one_text_with_every_value_of_the_notify_a_parameter() {
        let t1 = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let t2 = Utc.with_ymd_and_hms(2027, 6, 7, 8, 9, 10).unwrap();
        let a = settle_statement(notify("CS1", 9_900, t1), t1).expect("a statement");
        let b = settle_statement(notify("CS2", 100, t2), t2).expect("a statement");
        // One text for every notify: nothing of a notify (nor the clock) is written into it.
        assert_eq!(a.sql, b.sql);
        for literal in ["CS1", "9900", "2026-", "reason-when", "order_paid"] {
            assert!(!a.sql.contains(literal), "{literal} in {}", a.sql);
        }
        // As many parameters as values, numbered from $1 without gaps.
        let values = a.values.as_ref().map_or(0, |v| v.0.len());
        assert!(values > SLOTS, "{values}");
        assert!(
            a.sql.contains(&format!("${values}")) && !a.sql.contains(&format!("${}", values + 1)),
            "{}",
            a.sql
        );
        assert!((1..=values).all(|i| a.sql.contains(&format!("${i}"))), "{}", a.sql);
        // The scalars come first, in the order of `Slot`.
        let first: Vec<_> = a.values.as_ref().map(|v| v.0[..3].to_vec()).unwrap_or_default();
        assert_eq!(first, vec![sea_orm::Value::from("CS1"), 9_900_i64.into(), "TCS1".into()]);
        // The statement's constants are in the text: the unpaid status it pays from, the verdicts.
        assert!(a.sql.contains(&format!("IN ({})", OrderStatus::Unpaid.code())), "{}", a.sql);
        assert!(a.sql.contains("'accepted'") && a.sql.contains("'duplicate'"), "{}", a.sql);
    }
}
