//! Orders and their details. State changes are single conditional UPDATEs (`... WHERE
//! order_status = <expected>`), so of several concurrent requests exactly one wins and only
//! the winner enqueues side effects.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, CaseStatement, CommonTableExpression, Expr, ExprTrait, InsertStatement, Query, UpdateStatement,
    WithClause, WithQuery,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use shop_domain::Money;
use shop_domain::order::OrderStatus;

use crate::entities::{course, order, order_detail, order_hold};
use crate::rows::{children_of, insert_select, set_values};
use crate::{WriteError, classify};

/// The hold of a buyer on a course while an order for it is open: at most one per buyer and
/// course (see [`create`]).
pub const HOLD: &str = "pk_order_holds";

/// An idempotency key used again by the same buyer.
pub const IDEMPOTENCY_KEY: &str = "uq_orders_user_idempotency_key";

/// The unique constraints that creating an order may run into.
pub const UNIQUE: &[(&str, &str)] = &[
    ("uq_orders_out_trade_no", "orders.out_trade_no"),
    (IDEMPOTENCY_KEY, "orders.user_id, orders.idempotency_key"),
    (HOLD, "order_holds.user_id, order_holds.course_id"),
];

/// A new order.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Our order number.
    pub out_trade_no: String,
    /// Subject shown at the cashier.
    pub subject: String,
    /// Amount.
    pub total_amount_fen: Money,
    /// `pay_type` code.
    pub pay_type: i16,
    /// Buyer.
    pub user_id: i64,
    /// When it stops being payable.
    pub expires_at: DateTime<Utc>,
    /// The signed page-pay URL handed out.
    pub pay_url: String,
    /// The client's `Idempotency-Key`, if any.
    pub idempotency_key: Option<String>,
    /// Hash of the purchase (courses, amount, subject, pay type).
    pub request_hash: String,
    /// SHA-256 (hex) of the token of the order's purchase page.
    pub purchase_token_hash: Option<String>,
}

/// One line of a new order: a course at its price.
#[derive(Debug, Clone, Copy)]
pub struct NewLine {
    /// Course.
    pub course_id: i64,
    /// Price at order time.
    pub price_fen: Money,
}

/// Inserts an order and its lines (call inside a transaction).
///
/// # Errors
/// [`WriteError::Conflict`] on a reused idempotency key or order number.
pub async fn insert(
    conn: &impl ConnectionTrait,
    new: NewOrder,
    lines: &[NewLine],
    now: DateTime<Utc>,
) -> Result<order::Model, WriteError> {
    let order = order_row(new, now).insert(conn).await.map_err(|e| classify(e, UNIQUE))?;
    let rows: Vec<order_detail::ActiveModel> =
        lines.iter().map(|l| detail_row(Set(order.id), l, now)).collect();
    if !rows.is_empty() {
        order_detail::Entity::insert_many(rows).exec_without_returning(conn).await?;
    }
    Ok(order)
}

/// The row of a new order, with its defaults: unpaid, nothing refunded, shown.
fn order_row(new: NewOrder, now: DateTime<Utc>) -> order::ActiveModel {
    order::ActiveModel {
        subject: Set(new.subject),
        total_amount_fen: Set(new.total_amount_fen),
        out_trade_no: Set(new.out_trade_no),
        trade_no: Set(None),
        order_status: Set(OrderStatus::Unpaid),
        pay_type: Set(new.pay_type),
        pay_time: Set(None),
        user_id: Set(new.user_id),
        expires_at: Set(Some(new.expires_at)),
        refunded_fen: Set(Money::ZERO),
        pay_url: Set(Some(new.pay_url)),
        idempotency_key: Set(new.idempotency_key),
        request_hash: Set(Some(new.request_hash)),
        purchase_token_hash: Set(new.purchase_token_hash),
        last_query_at: Set(None),
        closed_at: Set(None),
        orders: Set(0),
        is_show: Set(true),
        is_delete: Set(false),
        created_time: Set(now),
        updated_time: Set(now),
        ..Default::default()
    }
}

/// The row of one line of an order (`order_id` left unset when a statement supplies it).
fn detail_row(order_id: ActiveValue<i64>, line: &NewLine, now: DateTime<Utc>) -> order_detail::ActiveModel {
    order_detail::ActiveModel {
        order_id,
        course_id: Set(line.course_id),
        price_fen: Set(line.price_fen),
        real_price_fen: Set(line.price_fen),
        orders: Set(0),
        is_show: Set(true),
        is_delete: Set(false),
        created_time: Set(now),
        updated_time: Set(now),
        ..Default::default()
    }
}

/// What [`create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The order and its lines were written; the order's id.
    Inserted(i64),
    /// Nothing was written: the buyer already has access to one of the courses.
    AlreadyOwned,
}

/// Creates an order and its lines, unless the buyer already has access to one of the
/// courses (checked at `now`), atomically: either everything is written or nothing. The
/// buyer's hold on each course ([`HOLD`]) is taken in the same write, so while another order
/// of the buyer holds one of the courses this fails with that conflict (the caller decides
/// whether that order is still open: see [`holders`] and [`take_holds`]).
///
/// On Postgres this is one statement (the ownership check, the order and its lines in
/// data-modifying CTEs), so creating an order costs one round trip; on SQLite it is an
/// immediate transaction around the same three steps.
///
/// # Errors
/// [`WriteError::Conflict`] on a reused idempotency key or order number, or a held course.
pub async fn create(
    db: &DatabaseConnection,
    new: NewOrder,
    lines: &[NewLine],
    now: DateTime<Utc>,
) -> Result<Created, WriteError> {
    if lines.is_empty() {
        return Err(WriteError::Db(DbErr::Custom("an order needs at least one line".into())));
    }
    if db.get_database_backend() == DbBackend::Postgres {
        create_in_one_statement(db, new, lines, now).await
    } else {
        create_step_by_step(db, new, lines, now).await
    }
}

/// The portable path of [`create`]: a write transaction (immediate on SQLite) around the
/// ownership check, the order, its lines and the holds. [`create`] takes it on SQLite; it is
/// public so that a test can compare it with [`create_in_one_statement`] on Postgres.
///
/// # Errors
/// As [`create`].
pub async fn create_step_by_step(
    db: &DatabaseConnection,
    new: NewOrder,
    lines: &[NewLine],
    now: DateTime<Utc>,
) -> Result<Created, WriteError> {
    let txn = crate::begin_write(db).await?;
    let ids: Vec<i64> = lines.iter().map(|l| l.course_id).collect();
    if !crate::delivery::active_course_ids(&txn, new.user_id, Some(&ids), now).await?.is_empty() {
        return Ok(Created::AlreadyOwned);
    }
    let user_id = new.user_id;
    let order = insert(&txn, new, lines, now).await?;
    let holds: Vec<order_hold::ActiveModel> =
        lines.iter().map(|l| hold_row(user_id, l.course_id, Set(order.id), now)).collect();
    order_hold::Entity::insert_many(holds)
        .exec_without_returning(&txn)
        .await
        .map_err(|e| classify(e, UNIQUE))?;
    txn.commit().await?;
    Ok(Created::Inserted(order.id))
}

/// The Postgres path of [`create`]: one statement, one round trip (see
/// `create_statement`). Writes the same rows as [`create_step_by_step`] (a test compares
/// them).
///
/// # Errors
/// As [`create`].
pub async fn create_in_one_statement(
    db: &DatabaseConnection,
    new: NewOrder,
    lines: &[NewLine],
    now: DateTime<Utc>,
) -> Result<Created, WriteError> {
    let row = db.query_one(&create_statement(new, lines, now)).await.map_err(|e| classify(e, UNIQUE))?;
    match row {
        Some(row) => Ok(Created::Inserted(row.try_get_by_index::<i64>(0)?)),
        None => Ok(Created::AlreadyOwned),
    }
}

/// The buyer's hold on a course for an order (`order_id` left unset when a statement
/// supplies it).
fn hold_row(
    user_id: i64,
    course_id: i64,
    order_id: ActiveValue<i64>,
    now: DateTime<Utc>,
) -> order_hold::ActiveModel {
    order_hold::ActiveModel {
        user_id: Set(user_id),
        course_id: Set(course_id),
        order_id,
        created_time: Set(now),
    }
}

/// Takes the buyer's holds on `course_ids` for `order_id`, whoever held them before (call
/// inside the transaction that decided the previous holders are no longer open).
pub async fn take_holds(
    conn: &impl ConnectionTrait,
    user_id: i64,
    course_ids: &[i64],
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows: Vec<order_hold::ActiveModel> =
        course_ids.iter().map(|id| hold_row(user_id, *id, Set(order_id), now)).collect();
    order_hold::Entity::insert_many(rows)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                order_hold::Column::UserId,
                order_hold::Column::CourseId,
            ])
            .update_columns([order_hold::Column::OrderId, order_hold::Column::CreatedTime])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

/// The orders holding the buyer's `course_ids` (see [`HOLD`]), oldest first.
pub async fn holders(
    conn: &impl ConnectionTrait,
    user_id: i64,
    course_ids: &[i64],
) -> Result<Vec<order::Model>, DbErr> {
    let ids: Vec<i64> = order_hold::Entity::find()
        .select_only()
        .column(order_hold::Column::OrderId)
        .filter(order_hold::Column::UserId.eq(user_id))
        .filter(order_hold::Column::CourseId.is_in(course_ids.iter().copied()))
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    order::Entity::find().filter(order::Column::Id.is_in(ids)).order_by_asc(order::Column::Id).all(conn).await
}

/// Serialises the order-creating transactions of one buyer: on Postgres a row lock on the
/// buyer (held until the transaction ends); SQLite's write transactions are serial already.
pub async fn lock_buyer(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        use crate::entities::user;
        user::Entity::find_by_id(user_id).lock_exclusive().one(conn).await?;
    }
    Ok(())
}

/// The Postgres statement of [`create`], built from the rows the step-by-step path writes
/// ([`order_row`], [`detail_row`], [`hold_row`]) and its ownership check
/// (`delivery::active_courses`):
///
/// ```sql
/// WITH lines (...) AS (VALUES ...), holds (...) AS (VALUES ...),
///   o AS (INSERT INTO orders (...) SELECT ... WHERE NOT EXISTS (<active access>) RETURNING id),
///   d AS (INSERT INTO order_details (order_id, ...) SELECT o.id, lines... FROM o CROSS JOIN lines),
///   h AS (INSERT INTO order_holds (order_id, ...) SELECT o.id, holds... FROM o CROSS JOIN holds)
/// SELECT id FROM o
/// ```
///
/// The lines are written only when the order was; the statement's text depends only on the
/// number of lines. Returns the order's id, or no row when the buyer owns a course.
fn create_statement(new: NewOrder, lines: &[NewLine], now: DateTime<Utc>) -> WithQuery {
    let user_id = new.user_id;
    let ids: Vec<i64> = lines.iter().map(|l| l.course_id).collect();
    let (columns, values): (Vec<_>, Vec<_>) = set_values(&order_row(new, now)).into_iter().unzip();
    let mut row = Query::select();
    row.exprs(values.into_iter().map(Expr::val))
        .and_where(Expr::not_exists(crate::delivery::active_courses(user_id, Some(&ids), now)));
    let mut order = insert_select(order::Entity, columns, row);
    order.returning_col(order::Column::Id);
    let details: Vec<_> = lines.iter().map(|l| detail_row(NotSet, l, now)).collect();
    let (detail_list, detail_insert) = children_of("o", "lines", order_detail::Column::OrderId, &details);
    let holds: Vec<_> = lines.iter().map(|l| hold_row(user_id, l.course_id, NotSet, now)).collect();
    let (hold_list, hold_insert) = children_of("o", "holds", order_hold::Column::OrderId, &holds);
    let cte = |name: &str, query: InsertStatement| {
        CommonTableExpression::new().table_name(Alias::new(name)).query(query).to_owned()
    };
    let with = WithClause::new()
        .cte(detail_list)
        .cte(hold_list)
        .cte(cte("o", order))
        .cte(cte("d", detail_insert))
        .cte(cte("h", hold_insert))
        .to_owned();
    Query::select().column((Alias::new("o"), Alias::new("id"))).from(Alias::new("o")).to_owned().with(with)
}

/// An order by our number.
pub async fn by_out_trade_no(
    conn: &impl ConnectionTrait,
    out_trade_no: &str,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find().filter(order::Column::OutTradeNo.eq(out_trade_no)).one(conn).await
}

/// The orders with these numbers (those that exist, in no particular order), in one query: a
/// batch of statement lines, a batch of paid orders' jobs.
pub async fn by_out_trade_nos(
    conn: &impl ConnectionTrait,
    out_trade_nos: &[String],
) -> Result<Vec<order::Model>, DbErr> {
    if out_trade_nos.is_empty() {
        return Ok(Vec::new());
    }
    order::Entity::find().filter(order::Column::OutTradeNo.is_in(out_trade_nos)).all(conn).await
}

/// The id and status of an order by our number: the status poll's hot path, without the
/// rest of the row.
pub async fn status_by_out_trade_no(
    conn: &impl ConnectionTrait,
    out_trade_no: &str,
) -> Result<Option<(i64, OrderStatus)>, DbErr> {
    order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::OrderStatus)
        .filter(order::Column::OutTradeNo.eq(out_trade_no))
        .into_tuple()
        .one(conn)
        .await
}

/// The order whose purchase page token hashes to `token_hash`.
pub async fn by_purchase_token_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find().filter(order::Column::PurchaseTokenHash.eq(token_hash)).one(conn).await
}

/// Keeps the hash of an order's purchase page token (for an order made before orders had
/// one, or whose token changed with the key).
pub async fn set_purchase_token_hash(
    conn: &impl ConnectionTrait,
    id: i64,
    token_hash: &str,
) -> Result<(), DbErr> {
    order::Entity::update_many()
        .col_expr(order::Column::PurchaseTokenHash, Expr::value(token_hash))
        .filter(order::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// The orders with these ids (those that exist), in one query.
pub async fn by_ids(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<order::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    order::Entity::find().filter(order::Column::Id.is_in(ids.iter().copied())).all(conn).await
}

/// An order by id.
pub async fn by_id(conn: &impl ConnectionTrait, id: i64) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find_by_id(id).one(conn).await
}

/// The order a user created with an idempotency key.
pub async fn by_idempotency_key(
    conn: &impl ConnectionTrait,
    user_id: i64,
    key: &str,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::UserId.eq(user_id))
        .filter(order::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await
}

/// An unpaid, still valid order of the user for the same purchase (the newest).
///
/// Reads the buyer's orders for this purchase (`ix_orders_user_request_hash`: a handful) and
/// picks among them here. With `order_status = 0 AND expires_at > now` in the query,
/// Postgres's planner takes the expiry sweep's partial index of unpaid orders instead (it
/// takes the two conditions for independent, while nearly every unpaid order is still valid)
/// and reads every open order of the shop: 1.2–4 ms with 1,000 open orders, against 0.07 ms.
pub async fn reusable(
    conn: &impl ConnectionTrait,
    user_id: i64,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<order::Model>, DbErr> {
    let same_purchase = order::Entity::find()
        .filter(order::Column::UserId.eq(user_id))
        .filter(order::Column::RequestHash.eq(request_hash))
        .order_by_desc(order::Column::Id)
        .all(conn)
        .await?;
    Ok(same_purchase
        .into_iter()
        .find(|o| o.order_status == OrderStatus::Unpaid && o.expires_at.is_some_and(|at| at > now)))
}

/// The lines of an order.
pub async fn details(conn: &impl ConnectionTrait, order_id: i64) -> Result<Vec<order_detail::Model>, DbErr> {
    order_detail::Entity::find()
        .filter(order_detail::Column::OrderId.eq(order_id))
        .order_by_asc(order_detail::Column::Id)
        .all(conn)
        .await
}

/// The lines of several orders, in one query, each order's in the order of [`details`].
pub async fn details_of(
    conn: &impl ConnectionTrait,
    order_ids: &[i64],
) -> Result<Vec<order_detail::Model>, DbErr> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    order_detail::Entity::find()
        .filter(order_detail::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_detail::Column::OrderId)
        .order_by_asc(order_detail::Column::Id)
        .all(conn)
        .await
}

/// A user's orders, newest first, with their lines.
pub async fn for_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
    limit: u64,
) -> Result<Vec<(order::Model, Vec<order_detail::Model>)>, DbErr> {
    let orders = order::Entity::find()
        .filter(order::Column::UserId.eq(user_id))
        .filter(order::Column::IsDelete.eq(false))
        .order_by_desc(order::Column::CreatedTime)
        .order_by_desc(order::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let mut lines = order_detail::Entity::find()
        .filter(order_detail::Column::OrderId.is_in(ids))
        .order_by_asc(order_detail::Column::Id)
        .all(conn)
        .await?;
    Ok(orders
        .into_iter()
        .map(|o| {
            let (mine, rest): (Vec<_>, Vec<_>) = lines.drain(..).partition(|l| l.order_id == o.id);
            lines = rest;
            (o, mine)
        })
        .collect())
}

/// The courses of an order with their access period in days, in one query.
pub async fn course_periods(conn: &impl ConnectionTrait, order_id: i64) -> Result<Vec<(i64, i32)>, DbErr> {
    use sea_orm::sea_query::Query;
    let stmt = Query::select()
        .column((order_detail::Entity, order_detail::Column::CourseId))
        .column((course::Entity, course::Column::Period))
        .from(order_detail::Entity)
        .inner_join(
            course::Entity,
            Expr::col((course::Entity, course::Column::Id))
                .equals((order_detail::Entity, order_detail::Column::CourseId)),
        )
        .and_where(Expr::col((order_detail::Entity, order_detail::Column::OrderId)).eq(order_id))
        .order_by((order_detail::Entity, order_detail::Column::Id), sea_orm::sea_query::Order::Asc)
        .to_owned();
    conn.query_all(&stmt)
        .await?
        .iter()
        .map(|row| Ok((row.try_get_by_index::<i64>(0)?, row.try_get_by_index::<i32>(1)?)))
        .collect()
}

/// Courses by id (any state; the caller checks visibility).
pub async fn courses(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<course::Model>, DbErr> {
    course::Entity::find().filter(course::Column::Id.is_in(ids.iter().copied())).all(conn).await
}

/// Moves the order from one of `from` to `to` in one conditional UPDATE; `true` when this
/// call made the change. See [`transition_update`].
async fn transition(
    conn: &impl ConnectionTrait,
    id: i64,
    from: &[OrderStatus],
    to: OrderStatus,
    set: Vec<(order::Column, Expr)>,
) -> Result<bool, DbErr> {
    let mut update = transition_update(from, to, set, Utc::now())?;
    update.and_where(Expr::col((order::Entity, order::Column::Id)).eq(id));
    Ok(conn.execute(&update).await?.rows_affected() == 1)
}

/// `UPDATE orders SET order_status = <to>, updated_time = now, <set> WHERE order_status IN
/// (<from>)`, for the caller to say which order. Every move must be one
/// `OrderStatus::can_become` allows: `from` is checked against it (a move it does not allow
/// is an error, and nothing is built).
pub(crate) fn transition_update(
    from: &[OrderStatus],
    to: OrderStatus,
    set: Vec<(order::Column, Expr)>,
    now: impl Into<Expr>,
) -> Result<UpdateStatement, DbErr> {
    if let Some(bad) = from.iter().find(|s| !s.can_become(to)) {
        return Err(DbErr::Custom(format!("an order cannot go from {} to {}", bad.label(), to.label())));
    }
    let mut update = Query::update();
    update
        .table(order::Entity)
        .value(order::Column::OrderStatus, to.code())
        .value(order::Column::UpdatedTime, now)
        .values(set)
        .and_where(
            Expr::col((order::Entity, order::Column::OrderStatus)).is_in(from.iter().map(|s| s.code())),
        );
    Ok(update)
}

/// What recording a payment writes besides the status: Alipay's trade number and when the
/// buyer paid.
pub(crate) fn payment_values(
    trade_no: impl Into<Expr>,
    pay_time: impl Into<Expr>,
) -> Vec<(order::Column, Expr)> {
    vec![(order::Column::TradeNo, trade_no.into()), (order::Column::PayTime, pay_time.into())]
}

/// Unpaid → paid (or cancelled/expired → `to` for late money). `true` when this call made
/// the change.
pub async fn record_payment(
    conn: &impl ConnectionTrait,
    id: i64,
    from: &[OrderStatus],
    to: OrderStatus,
    trade_no: &str,
    pay_time: DateTime<Utc>,
) -> Result<bool, DbErr> {
    transition(conn, id, from, to, payment_values(trade_no, pay_time)).await
}

/// Unpaid → cancelled or expired. `true` when this call made the change.
pub async fn close_unpaid(conn: &impl ConnectionTrait, id: i64, to: OrderStatus) -> Result<bool, DbErr> {
    let from = OrderStatus::sources(to);
    transition(conn, id, &from, to, vec![(order::Column::ClosedAt, Expr::value(Utc::now()))]).await
}

/// Records the cumulative refunded amount (never lowering it) and, when it covers the whole
/// amount, moves a paid (or paid-after-cancel) order to refunded. Returns the new status.
pub async fn record_refund(
    conn: &impl ConnectionTrait,
    id: i64,
    refunded_total_fen: i64,
) -> Result<Option<OrderStatus>, DbErr> {
    order::Entity::update_many()
        .col_expr(order::Column::RefundedFen, Expr::value(refunded_total_fen))
        .col_expr(order::Column::UpdatedTime, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::RefundedFen.lt(refunded_total_fen))
        .exec(conn)
        .await?;
    let Some(o) = by_id(conn, id).await? else { return Ok(None) };
    if o.refunded_fen >= o.total_amount_fen {
        transition(conn, id, &OrderStatus::sources(OrderStatus::Refunded), OrderStatus::Refunded, vec![])
            .await?;
    }
    Ok(by_id(conn, id).await?.map(|o| o.order_status))
}

/// Claims the right to query Alipay about an order: at most once per `min_interval`
/// across every process. `true` when this caller may query now.
pub async fn claim_query(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
    min_interval: chrono::Duration,
) -> Result<bool, DbErr> {
    let result = order::Entity::update_many()
        .col_expr(order::Column::LastQueryAt, Expr::value(now))
        .filter(order::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(order::Column::LastQueryAt.is_null())
                .add(order::Column::LastQueryAt.lte(now - min_interval)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Unpaid orders past their deadline, oldest first.
pub async fn due_for_expiry(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<order::Model>, DbErr> {
    due_for_expiry_query(now, limit).all(conn).await
}

/// The query of [`due_for_expiry`]. The unpaid status is written as a literal, not a
/// parameter, so that the partial index `ix_orders_unpaid_expires` (`WHERE order_status = 0`)
/// can answer it in every plan: a generic plan, which Postgres's plan cache may switch a
/// prepared statement to, cannot tell that a parameter meets the index's condition, and scans
/// every order instead (SQLite cannot either).
fn due_for_expiry_query(now: DateTime<Utc>, limit: u64) -> sea_orm::Select<order::Entity> {
    let unpaid = Expr::cust(OrderStatus::Unpaid.code().to_string());
    order::Entity::find()
        .filter(Expr::col((order::Entity, order::Column::OrderStatus)).eq(unpaid))
        .filter(order::Column::ExpiresAt.lte(now))
        .order_by_asc(order::Column::ExpiresAt)
        .limit(limit)
}

/// Orders whose payment state may differ from Alipay's: unpaid, or paid after cancel.
pub async fn in_doubt(conn: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<Vec<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::OrderStatus.is_in([OrderStatus::Unpaid, OrderStatus::PaidAfterCancel]))
        .filter(order::Column::CreatedTime.gte(since))
        .order_by_asc(order::Column::Id)
        .all(conn)
        .await
}

/// Adds learners to courses, `(course, how many)` each (a batch of paid orders' side effect),
/// and notes the courses for the servers' catalogs (`catalog::note_learner_changes`), in the
/// caller's transaction. The counts in one statement: concurrent workers then lock the
/// courses they share in one order (the key's), where one statement per count could lock them
/// crosswise and deadlock.
pub async fn add_students(conn: &impl ConnectionTrait, counts: &[(i64, i32)]) -> Result<(), DbErr> {
    let Some((first, first_delta)) = counts.first() else { return Ok(()) };
    let id = || Expr::col((course::Entity, course::Column::Id));
    let delta = counts[1..].iter().fold(
        CaseStatement::new().case(id().eq(*first), Expr::val(*first_delta)),
        |case, (course, delta)| case.case(id().eq(*course), Expr::val(*delta)),
    );
    course::Entity::update_many()
        .col_expr(
            course::Column::Students,
            Expr::col(course::Column::Students).add(Into::<Expr>::into(delta)),
        )
        .filter(course::Column::Id.is_in(counts.iter().map(|(course, _)| *course)))
        .exec(conn)
        .await?;
    // After the update: a server that reads the note reads the new count.
    crate::catalog::note_learner_changes(conn, &counts.iter().map(|(course, _)| *course).collect::<Vec<_>>())
        .await
}

/// What the seller's order search filters on; `None` filters nothing.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// The order number, exactly.
    pub out_trade_no: Option<String>,
    /// Orders of these buyers only.
    pub user_ids: Option<Vec<i64>>,
    /// `order_status`.
    pub status: Option<i16>,
    /// `pay_type`.
    pub pay_type: Option<i16>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
}

/// Orders matching `filter`, newest first, `limit` of them from `offset`; and how many match.
pub async fn search(
    conn: &impl ConnectionTrait,
    filter: &OrderFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<order::Model>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let mut select = order::Entity::find();
    if let Some(no) = &filter.out_trade_no {
        select = select.filter(order::Column::OutTradeNo.eq(no.as_str()));
    }
    if let Some(ids) = &filter.user_ids {
        select = select.filter(order::Column::UserId.is_in(ids.iter().copied()));
    }
    if let Some(status) = filter.status {
        select = select.filter(order::Column::OrderStatus.eq(status));
    }
    if let Some(pay_type) = filter.pay_type {
        select = select.filter(order::Column::PayType.eq(pay_type));
    }
    if let Some(from) = filter.from {
        select = select.filter(order::Column::CreatedTime.gte(from));
    }
    if let Some(until) = filter.until {
        select = select.filter(order::Column::CreatedTime.lt(until));
    }
    let count = select.clone().count(conn).await?;
    let rows = select
        .order_by_desc(order::Column::CreatedTime)
        .order_by_desc(order::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    Ok((rows, count))
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait;

    use super::*;

    #[test]
    fn the_expiry_sweep_names_the_unpaid_status_as_a_literal_for_its_partial_index() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let sql = due_for_expiry_query(Utc::now(), 100).build(backend).sql;
            let words = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(words.contains(r#"WHERE "orders"."order_status" = (0) AND"#), "{backend:?}: {sql}");
        }
    }
}
