//! Private download links: one per paid order and downloadable material, unguessable, with a
//! download limit counted atomically, serving the latest version of the material. They work
//! without logging in, like the seed's e-book links; a refund revokes them.
use std::collections::HashMap;

use base64::Engine as _;
use chrono::Utc;
use sea_orm::ConnectionTrait;
use shop_db::delivery::{self, NewLink};
use shop_db::entities::{download_link, material, order, order_detail};
use shop_db::orders;

use crate::context::Delivery;
use crate::error::{AppError, AppResult};

/// The issue key of the links made at purchase.
pub(crate) const PURCHASE: &str = "purchase";

/// A new unguessable token: 32 random bytes, base64url (43 characters).
pub(crate) fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Issues the links of an order for `issue_key` (idempotent: existing links are returned).
pub(crate) async fn issue_links(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    issue_key: &str,
    only_course: Option<i64>,
    max_downloads: i32,
) -> AppResult<Vec<download_link::Model>> {
    let lines = orders::details(txn, order.id).await?;
    issue_links_of_lines(txn, order, &lines, issue_key, only_course, max_downloads).await
}

/// [`issue_links`] for lines of `order` the caller has read already.
pub(crate) async fn issue_links_of_lines(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    lines: &[order_detail::Model],
    issue_key: &str,
    only_course: Option<i64>,
    max_downloads: i32,
) -> AppResult<Vec<download_link::Model>> {
    let courses: Vec<i64> =
        lines.iter().map(|l| l.course_id).filter(|c| only_course.is_none_or(|only| only == *c)).collect();
    let names = delivery::material_names_of(txn, &courses).await?;
    issue_links_named(txn, order, lines, &names, issue_key, only_course, max_downloads).await
}

/// [`issue_links_of_lines`] with the material names of the lines' courses read already
/// (`delivery::material_names_of`; a course missing there has none).
pub(crate) async fn issue_links_named(
    txn: &impl ConnectionTrait,
    order: &order::Model,
    lines: &[order_detail::Model],
    names: &HashMap<i64, Vec<String>>,
    issue_key: &str,
    only_course: Option<i64>,
    max_downloads: i32,
) -> AppResult<Vec<download_link::Model>> {
    let mut links = Vec::new();
    for line in lines {
        if only_course.is_some_and(|c| c != line.course_id) {
            continue;
        }
        for name in names.get(&line.course_id).into_iter().flatten() {
            let token = new_token();
            let link = delivery::issue_link(
                txn,
                NewLink {
                    token: &token,
                    order_id: order.id,
                    user_id: order.user_id,
                    course_id: line.course_id,
                    material_name: name,
                    issue_key,
                    max_downloads,
                },
            )
            .await?;
            links.push(link);
        }
    }
    Ok(links)
}

/// The public URL of a link.
pub fn link_url(ctx: &Delivery<'_>, token: &str) -> String {
    format!("{}/d/{token}", ctx.public_url)
}

/// Why a download is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadRefusal {
    /// No such link.
    Unknown,
    /// Every download was used.
    Exhausted,
    /// The purchase was refunded.
    Revoked,
    /// The material has no file yet.
    NoFile,
}

/// A download that was counted and may be served.
#[derive(Debug, Clone)]
pub struct Download {
    /// The material version served (the latest).
    pub material: material::Model,
    /// Downloads left after this one.
    pub downloads_left: i32,
}

/// Counts one download of a link and says what to serve. Concurrent requests cannot exceed
/// the limit (a conditional decrement in the database).
///
/// # Errors
/// `Ok(Err(refusal))` for the refusals above; database errors.
pub async fn take_download(ctx: &Delivery<'_>, token: &str) -> AppResult<Result<Download, DownloadRefusal>> {
    if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Ok(Err(DownloadRefusal::Unknown));
    }
    let Some(link) = delivery::link_by_token(ctx.db, token).await? else {
        return Ok(Err(DownloadRefusal::Unknown));
    };
    if link.revoked_at.is_some() {
        return Ok(Err(DownloadRefusal::Revoked));
    }
    let Some(material) = delivery::latest_material(ctx.db, link.course_id, &link.material_name).await? else {
        return Ok(Err(DownloadRefusal::NoFile));
    };
    if !delivery::take_download(ctx.db, token, Utc::now()).await? {
        let now = delivery::link_by_token(ctx.db, token).await?.ok_or(AppError::NotFound("download link"))?;
        return Ok(Err(if now.revoked_at.is_some() {
            DownloadRefusal::Revoked
        } else {
            DownloadRefusal::Exhausted
        }));
    }
    Ok(Ok(Download { material, downloads_left: (link.downloads_left - 1).max(0) }))
}

/// One of the user's links, as the owner sees it.
#[derive(Debug, Clone)]
pub struct LinkView {
    /// The course.
    pub course_id: i64,
    /// The material.
    pub material_name: String,
    /// The private URL.
    pub url: String,
    /// Downloads left.
    pub downloads_left: i32,
    /// Downloads allowed.
    pub max_downloads: i32,
}

/// The user's working links (not revoked), newest first.
///
/// # Errors
/// Database errors.
pub async fn my_links(ctx: &Delivery<'_>, user_id: i64) -> AppResult<Vec<LinkView>> {
    Ok(delivery::links_of_user(ctx.db, user_id)
        .await?
        .into_iter()
        .filter(|l| l.revoked_at.is_none())
        .map(|l| LinkView {
            course_id: l.course_id,
            url: link_url(ctx, &l.token),
            material_name: l.material_name,
            downloads_left: l.downloads_left,
            max_downloads: l.max_downloads,
        })
        .collect())
}
