//! The sales report's sums, computed by the database: one grouped query per day and one per
//! course, whatever the number of orders in the period.
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use shop_domain::order::OrderStatus;

use crate::entities::{order, order_detail};

/// Orders created on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    /// The day, in the zone the caller asked for.
    pub day: NaiveDate,
    /// Orders created.
    pub created: i64,
    /// Of those, orders whose money was received (paid, paid after cancel, refunded).
    pub paid: i64,
    /// Their amounts, in fen.
    pub revenue_fen: i64,
    /// Refunded on the orders created that day, in fen.
    pub refunded_fen: i64,
}

/// Lines of orders whose money was received, of one course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseTotals {
    /// The course.
    pub course_id: i64,
    /// Units sold.
    pub units: i64,
    /// Their prices, in fen.
    pub revenue_fen: i64,
}

/// Orders of one payment provider (`pay_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTotals {
    /// The stored `pay_type`.
    pub pay_type: i16,
    /// Orders created with it.
    pub created: i64,
    /// Of those, orders whose money was received.
    pub paid: i64,
    /// Their amounts, in fen.
    pub revenue_fen: i64,
    /// Refunded on them, in fen.
    pub refunded_fen: i64,
}

/// The `order_status` codes of orders whose money was received
/// ([`OrderStatus::money_received`]).
pub(crate) fn money_received() -> impl Iterator<Item = i16> {
    OrderStatus::ALL.into_iter().filter(|s| s.money_received()).map(OrderStatus::code)
}

pub(crate) fn bigint_sum(expr: Expr) -> Expr {
    // Postgres sums BIGINT into NUMERIC; the cast brings it back to a 64-bit integer.
    Func::cast_as(Func::sum(expr), Alias::new("BIGINT")).into()
}

pub(crate) fn created_since(query: &mut SelectStatement, since: Option<DateTime<Utc>>) {
    if let Some(at) = since {
        query.and_where(Expr::col((order::Entity, order::Column::CreatedTime)).gte(at));
    }
}

/// The day an order was created in the zone `zone`, as `YYYY-MM-DD` text on both backends.
pub(crate) fn created_day(backend: DbBackend, zone: FixedOffset) -> Expr {
    let created = Expr::col((order::Entity, order::Column::CreatedTime));
    let offset = zone.local_minus_utc();
    match backend {
        DbBackend::Postgres => Expr::cust_with_exprs(
            "to_char(($1 AT TIME ZONE 'UTC') + $2 * INTERVAL '1 second', 'YYYY-MM-DD')",
            [created, Expr::val(offset)],
        ),
        _ => Expr::cust_with_exprs("date(?, ?)", [created, Expr::val(format!("{offset:+} seconds"))]),
    }
}

/// Orders created since `since` (all when `None`), per day in the zone `zone`, oldest first.
///
/// # Errors
/// Database errors.
pub async fn days(
    conn: &impl ConnectionTrait,
    since: Option<DateTime<Utc>>,
    zone: FixedOffset,
) -> Result<Vec<DayTotals>, DbErr> {
    let day = created_day(conn.get_database_backend(), zone);
    let received = || Expr::col((order::Entity, order::Column::OrderStatus)).is_in(money_received());
    let mut query = Query::select();
    query
        .expr_as(day, Alias::new("day"))
        .expr(Expr::col((order::Entity, order::Column::Id)).count())
        .expr(bigint_sum(Expr::case(received(), 1).finally(0).into()))
        .expr(bigint_sum(
            Expr::case(received(), Expr::col((order::Entity, order::Column::TotalAmountFen)))
                .finally(0)
                .into(),
        ))
        .expr(bigint_sum(Expr::col((order::Entity, order::Column::RefundedFen))))
        .from(order::Entity)
        .group_by_col(Alias::new("day"))
        .order_by(Alias::new("day"), sea_orm::sea_query::Order::Asc);
    created_since(&mut query, since);
    conn.query_all(&query)
        .await?
        .iter()
        .map(|row| {
            let text: String = row.try_get_by_index(0)?;
            let day = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|_| DbErr::Type(format!("sales day {text:?} is not a date")))?;
            Ok(DayTotals {
                day,
                created: row.try_get_by_index(1)?,
                paid: row.try_get_by_index(2)?,
                revenue_fen: row.try_get_by_index(3)?,
                refunded_fen: row.try_get_by_index(4)?,
            })
        })
        .collect()
}

/// The lines of orders created since `since` (all when `None`) whose money was received, per
/// course, in no particular order.
///
/// # Errors
/// Database errors.
pub async fn courses(
    conn: &impl ConnectionTrait,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<CourseTotals>, DbErr> {
    let mut query = Query::select();
    query
        .column((order_detail::Entity, order_detail::Column::CourseId))
        .expr(Expr::col((order_detail::Entity, order_detail::Column::Id)).count())
        .expr(bigint_sum(Expr::col((order_detail::Entity, order_detail::Column::RealPriceFen))))
        .from(order_detail::Entity)
        .inner_join(
            order::Entity,
            Expr::col((order::Entity, order::Column::Id))
                .equals((order_detail::Entity, order_detail::Column::OrderId)),
        )
        .and_where(Expr::col((order::Entity, order::Column::OrderStatus)).is_in(money_received()))
        .group_by_col((order_detail::Entity, order_detail::Column::CourseId));
    created_since(&mut query, since);
    conn.query_all(&query)
        .await?
        .iter()
        .map(|row| {
            Ok(CourseTotals {
                course_id: row.try_get_by_index(0)?,
                units: row.try_get_by_index(1)?,
                revenue_fen: row.try_get_by_index(2)?,
            })
        })
        .collect()
}

/// Orders created since `since` (all when `None`) per payment provider (`pay_type`): one
/// grouped query, in `pay_type` order.
///
/// # Errors
/// Database errors.
pub async fn providers(
    conn: &impl ConnectionTrait,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ProviderTotals>, DbErr> {
    let received = || Expr::col((order::Entity, order::Column::OrderStatus)).is_in(money_received());
    let mut query = Query::select();
    query
        .column((order::Entity, order::Column::PayType))
        .expr(Expr::col((order::Entity, order::Column::Id)).count())
        .expr(bigint_sum(Expr::case(received(), 1).finally(0).into()))
        .expr(bigint_sum(
            Expr::case(received(), Expr::col((order::Entity, order::Column::TotalAmountFen)))
                .finally(0)
                .into(),
        ))
        .expr(bigint_sum(Expr::col((order::Entity, order::Column::RefundedFen))))
        .from(order::Entity)
        .group_by_col((order::Entity, order::Column::PayType))
        .order_by((order::Entity, order::Column::PayType), sea_orm::sea_query::Order::Asc);
    created_since(&mut query, since);
    conn.query_all(&query)
        .await?
        .iter()
        .map(|row| {
            Ok(ProviderTotals {
                pay_type: row.try_get_by_index(0)?,
                created: row.try_get_by_index(1)?,
                paid: row.try_get_by_index(2)?,
                revenue_fen: row.try_get_by_index(3)?,
                refunded_fen: row.try_get_by_index(4)?,
            })
        })
        .collect()
}
