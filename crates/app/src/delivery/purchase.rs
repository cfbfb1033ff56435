//! The private purchase page of an order (`/p/<token>`, see [`crate::guests`]): its status,
//! its courses and its download links, for whoever holds the link (a guest has no other).
use shop_db::{delivery, orders};
use shop_domain::order::OrderStatus;

use super::links::link_url;
use crate::context::Delivery;
use crate::error::{AppError, AppResult};
use crate::guests;

/// One download link of the page.
#[derive(Debug, Clone)]
pub struct PurchaseLink {
    /// The course.
    pub course_id: i64,
    /// The material's name.
    pub name: String,
    /// The version a download serves now (the latest; `None` before a file was uploaded).
    pub version: Option<String>,
    /// The private download URL.
    pub url: String,
    /// Downloads left.
    pub downloads_left: i32,
    /// Downloads allowed.
    pub max_downloads: i32,
}

/// What the purchase page shows.
#[derive(Debug, Clone)]
pub struct PurchasePage {
    /// Our order number.
    pub out_trade_no: String,
    /// The order's status.
    pub status: OrderStatus,
    /// The courses bought: id and name.
    pub courses: Vec<(i64, String)>,
    /// The working links (none before payment or after a refund), oldest first.
    pub links: Vec<PurchaseLink>,
    /// Paid, and the links are still being issued (the paid order's job has not run yet,
    /// though a course has materials).
    pub links_pending: bool,
}

/// The purchase page of `token`; an unknown or malformed token is `NotFound`.
///
/// # Errors
/// `NotFound`; database errors.
pub async fn purchase_page(ctx: &Delivery<'_>, token: &str) -> AppResult<PurchasePage> {
    const WHAT: &str = "purchase";
    if !guests::well_formed_token(token) {
        return Err(AppError::NotFound(WHAT));
    }
    let order = orders::by_purchase_token_hash(ctx.db, &guests::token_hash(token))
        .await?
        .filter(|o| !o.is_delete)
        .ok_or(AppError::NotFound(WHAT))?;
    let snapshot = ctx.catalog.snapshot();
    let courses: Vec<(i64, String)> = orders::details(ctx.db, order.id)
        .await?
        .into_iter()
        .map(|d| (d.course_id, snapshot.course(d.course_id).map(|c| c.name.clone()).unwrap_or_default()))
        .collect();
    let mut live: Vec<_> = delivery::links_of_order(ctx.db, order.id, None)
        .await?
        .into_iter()
        .filter(|l| l.revoked_at.is_none())
        .collect();
    live.sort_by_key(|l| l.id);
    let wanted: Vec<(i64, &str)> = live.iter().map(|l| (l.course_id, l.material_name.as_str())).collect();
    let latest = delivery::latest_materials(ctx.db, &wanted).await?;
    let links: Vec<PurchaseLink> = live
        .iter()
        .map(|l| PurchaseLink {
            course_id: l.course_id,
            version: latest.get(&(l.course_id, l.material_name.clone())).map(|m| m.version.clone()),
            name: l.material_name.clone(),
            url: link_url(ctx, &l.token),
            downloads_left: l.downloads_left,
            max_downloads: l.max_downloads,
        })
        .collect();
    let mut links_pending = false;
    if order.order_status == OrderStatus::Paid && links.is_empty() {
        for (course_id, _) in &courses {
            if !delivery::material_names(ctx.db, *course_id).await?.is_empty() {
                links_pending = true;
                break;
            }
        }
    }
    Ok(PurchasePage {
        out_trade_no: order.out_trade_no,
        status: order.order_status,
        courses,
        links,
        links_pending,
    })
}
