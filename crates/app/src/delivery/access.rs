//! Course access. A paid order grants each of its courses for the course's `period` days
//! (0: forever), in the transaction that marks the order paid; a full refund revokes the
//! access and the download links of that order, in the transaction that records it.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use shop_db::entities::order;
use shop_db::{delivery, orders};
use shop_domain::order::OrderStatus;

use crate::context::Delivery;
use crate::error::AppResult;

/// Grants the courses of a just-paid order to its buyer, except those the buyer has active
/// access to through another order; returns those (the courses paid twice), which the
/// caller refunds. The grant's own condition decides, on the newest state of the access row,
/// so of two orders paid at the same time for one course exactly one grants it.
pub(crate) async fn grant_order(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    paid_at: DateTime<Utc>,
) -> AppResult<Vec<i64>> {
    let now = Utc::now();
    let mut owned_elsewhere = Vec::new();
    for (course_id, period) in orders::course_periods(txn, order.id).await? {
        let expires = delivery::access_until(paid_at, period);
        if !delivery::grant(txn, order.user_id, course_id, order.id, expires, now).await? {
            owned_elsewhere.push(course_id);
        }
    }
    Ok(owned_elsewhere)
}

/// Records the refunded total of an order; when it covers the whole amount the order
/// becomes refunded and its access and download links are revoked. Returns the status.
pub(crate) async fn settle_refund(
    txn: &impl ConnectionTrait,
    order_id: i64,
    refunded_total_fen: i64,
) -> AppResult<Option<OrderStatus>> {
    let status = orders::record_refund(txn, order_id, refunded_total_fen).await?;
    if status == Some(OrderStatus::Refunded) {
        let now = Utc::now();
        delivery::revoke_order_access(txn, order_id, now).await?;
        delivery::revoke_order_links(txn, order_id, now).await?;
    }
    Ok(status)
}

/// Of `course_ids` (all when `None`), the ones the user may use now.
///
/// # Errors
/// Database errors.
pub async fn owned_course_ids(
    db: &DatabaseConnection,
    user_id: i64,
    course_ids: Option<&[i64]>,
) -> AppResult<HashSet<i64>> {
    Ok(delivery::active_course_ids(db, user_id, course_ids, Utc::now()).await?.into_iter().collect())
}

/// One of the user's courses.
#[derive(Debug, Clone)]
pub struct MyCourse {
    /// Course id.
    pub course_id: i64,
    /// Course name (empty if it left the catalog).
    pub name: String,
    /// When access was granted.
    pub granted_at: DateTime<Utc>,
    /// When access ends (`None`: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the course can be used now.
    pub active: bool,
    /// The order that granted it.
    pub out_trade_no: Option<String>,
}

/// The user's courses with their expiry (revoked ones left out), newest first, in one query.
///
/// # Errors
/// Database errors.
pub async fn my_courses(ctx: &Delivery<'_>, user_id: i64) -> AppResult<Vec<MyCourse>> {
    let now = Utc::now();
    let snapshot = ctx.catalog.snapshot();
    Ok(delivery::access_with_order_numbers(ctx.db, user_id)
        .await?
        .into_iter()
        .filter(|(row, _)| row.revoked_at.is_none())
        .map(|(row, out_trade_no)| MyCourse {
            course_id: row.course_id,
            name: snapshot.course(row.course_id).map(|c| c.name.clone()).unwrap_or_default(),
            granted_at: row.granted_at,
            expires_at: row.expires_at,
            active: row.expires_at.is_none_or(|at| at > now),
            out_trade_no,
        })
        .collect())
}
