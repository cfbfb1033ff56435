//! The checkout funnel's rows: course views per visitor and day, the `ref` of orders, and
//! the grouped counts of the funnel report.
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::entities::{course_view, order, order_detail, order_ref};
use crate::sales::{bigint_sum, created_day, created_since, money_received};

/// Records a view unless this visitor saw this course this day already; whether it counted.
pub async fn record_view(
    conn: &impl ConnectionTrait,
    day: &str,
    course_id: i64,
    visitor: &str,
    ref_tag: &str,
) -> Result<bool, DbErr> {
    let row = course_view::ActiveModel {
        day: Set(day.to_owned()),
        course_id: Set(course_id),
        visitor: Set(visitor.to_owned()),
        ref_tag: Set(ref_tag.to_owned()),
    };
    let inserted = course_view::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                course_view::Column::Day,
                course_view::Column::CourseId,
                course_view::Column::Visitor,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted > 0)
}

/// Records the `ref` of an order (the first one stays).
pub async fn record_order_ref(
    conn: &impl ConnectionTrait,
    order_id: i64,
    ref_tag: &str,
) -> Result<(), DbErr> {
    let row = order_ref::ActiveModel { order_id: Set(order_id), ref_tag: Set(ref_tag.to_owned()) };
    order_ref::Entity::insert(row)
        .on_conflict(OnConflict::column(order_ref::Column::OrderId).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Views per day, course and ref, on days from `since_day` (`YYYY-MM-DD`; all when `None`).
pub async fn views(
    conn: &impl ConnectionTrait,
    since_day: Option<&str>,
) -> Result<Vec<(String, i64, String, i64)>, DbErr> {
    let mut query = Query::select();
    query
        .column(course_view::Column::Day)
        .column(course_view::Column::CourseId)
        .column(course_view::Column::RefTag)
        .expr(Expr::col(course_view::Column::Visitor).count())
        .from(course_view::Entity)
        .group_by_col(course_view::Column::Day)
        .group_by_col(course_view::Column::CourseId)
        .group_by_col(course_view::Column::RefTag);
    if let Some(day) = since_day {
        query.and_where(Expr::col(course_view::Column::Day).gte(day));
    }
    conn.query_all(&query)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get_by_index(0)?,
                r.try_get_by_index(1)?,
                r.try_get_by_index(2)?,
                r.try_get_by_index(3)?,
            ))
        })
        .collect()
}

/// Orders created since `since` per day (in `zone`), course and ref: created, paid (money
/// received), refunded (some money returned).
pub async fn orders(
    conn: &impl ConnectionTrait,
    since: Option<DateTime<Utc>>,
    zone: FixedOffset,
) -> Result<Vec<(String, i64, String, i64, i64, i64)>, DbErr> {
    // No bound value here: a literal keeps the statement's parameters those of the day.
    let ref_tag =
        Func::coalesce([Expr::col((order_ref::Entity, order_ref::Column::RefTag)), Expr::cust("''")]);
    let received = Expr::col((order::Entity, order::Column::OrderStatus)).is_in(money_received());
    let refunded = Expr::col((order::Entity, order::Column::RefundedFen)).gt(0);
    let mut query = Query::select();
    query
        .expr_as(created_day(conn.get_database_backend(), zone), Alias::new("day"))
        .column((order_detail::Entity, order_detail::Column::CourseId))
        .expr_as(ref_tag, Alias::new("ref_tag"))
        .expr(Expr::col((order_detail::Entity, order_detail::Column::Id)).count())
        .expr(bigint_sum(Expr::case(received, 1).finally(0).into()))
        .expr(bigint_sum(Expr::case(refunded, 1).finally(0).into()))
        .from(order_detail::Entity)
        .inner_join(
            order::Entity,
            Expr::col((order::Entity, order::Column::Id))
                .equals((order_detail::Entity, order_detail::Column::OrderId)),
        )
        .left_join(
            order_ref::Entity,
            Expr::col((order_ref::Entity, order_ref::Column::OrderId))
                .equals((order::Entity, order::Column::Id)),
        )
        .group_by_col(Alias::new("day"))
        .group_by_col((order_detail::Entity, order_detail::Column::CourseId))
        .group_by_col(Alias::new("ref_tag"));
    created_since(&mut query, since);
    conn.query_all(&query)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get_by_index(0)?,
                r.try_get_by_index(1)?,
                r.try_get_by_index(2)?,
                r.try_get_by_index(3)?,
                r.try_get_by_index(4)?,
                r.try_get_by_index(5)?,
            ))
        })
        .collect()
}
