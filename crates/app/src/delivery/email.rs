//! The emails of delivery: the confirmation with the private links, and course updates.
use shop_db::entities::download_link;
use shop_db::{delivery, orders, users};
use shop_domain::order::OrderStatus;

use super::links::{PURCHASE, issue_links, link_url};
use crate::context::Delivery;
use crate::jobs::Failure;
use crate::mail::templates::{self, CourseUpdate, DownloadLinkLine, OrderConfirmation};
use crate::mail::{Email, MailError};

impl From<MailError> for Failure {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Transient(m) => Failure::Retry(format!("smtp: {m}")),
            MailError::Permanent(m) => Failure::Permanent(format!("smtp: {m}")),
        }
    }
}

fn course_name(ctx: &Delivery<'_>, course_id: i64) -> String {
    ctx.catalog
        .snapshot()
        .course(course_id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| format!("course {course_id}"))
}

async fn link_lines(
    ctx: &Delivery<'_>,
    links: &[download_link::Model],
) -> Result<Vec<DownloadLinkLine>, Failure> {
    let live: Vec<&download_link::Model> = links.iter().filter(|l| l.revoked_at.is_none()).collect();
    let wanted: Vec<(i64, &str)> = live.iter().map(|l| (l.course_id, l.material_name.as_str())).collect();
    let latest = delivery::latest_materials(ctx.db, &wanted).await?;
    Ok(live
        .into_iter()
        .map(|l| {
            let version = latest
                .get(&(l.course_id, l.material_name.clone()))
                .map(|m| format!(" (v{})", m.version))
                .unwrap_or_default();
            DownloadLinkLine {
                title: format!("{} — {}{version}", course_name(ctx, l.course_id), l.material_name),
                url: link_url(ctx, &l.token),
                downloads_left: l.downloads_left,
            }
        })
        .collect())
}

/// Sends the confirmation of a paid order to the buyer's delivery address
/// ([`crate::buyers::delivery_address`]; skipped when the order is no longer paid or there
/// is no address).
pub(crate) async fn send_order_email(ctx: &Delivery<'_>, order_id: i64) -> Result<(), Failure> {
    let Some(order) = orders::by_id(ctx.db, order_id).await? else { return Ok(()) };
    if order.order_status != OrderStatus::Paid {
        return Ok(());
    }
    let Some(user) = users::by_id(ctx.db, order.user_id).await? else { return Ok(()) };
    let Some(to) = crate::buyers::delivery_address(&user, Some(&order)) else {
        tracing::info!(order.out_trade_no = %order.out_trade_no, "buyer has no email address: no confirmation sent");
        return Ok(());
    };
    let courses = orders::details(ctx.db, order.id)
        .await?
        .into_iter()
        .map(|d| (course_name(ctx, d.course_id), d.real_price_fen))
        .collect();
    let links = delivery::links_of_order(ctx.db, order.id, Some(PURCHASE)).await?;
    let data = OrderConfirmation {
        buyer_name: user.username.clone(),
        out_trade_no: order.out_trade_no.clone(),
        order_subject: order.subject.clone(),
        total: order.total_amount_fen,
        paid_at: order.pay_time.unwrap_or(order.updated_time),
        courses,
        links: link_lines(ctx, &links).await?,
        my_courses_url: format!("{}/api/v1/course/mine/", ctx.public_url),
        purchase_url: crate::guests::purchase_url(
            &ctx.public_url,
            &crate::guests::token_of(ctx.db, ctx.settings, &order).await.map_err(Failure::from)?,
        ),
    };
    let (subject, text, html) = templates::order_confirmation(ctx.settings.email.language, &data);
    ctx.mailer.send(&Email { to, subject, text, html }).await?;
    tracing::info!(order.out_trade_no = %order.out_trade_no, "order confirmation sent");
    Ok(())
}

/// Sends one buyer one campaign, with fresh links when the campaign announces a new version.
pub(crate) async fn send_campaign_email(
    ctx: &Delivery<'_>,
    campaign_id: i64,
    user_id: i64,
) -> Result<(), Failure> {
    let Some(campaign) = delivery::campaign(ctx.db, campaign_id).await? else { return Ok(()) };
    let Some(user) = users::by_id(ctx.db, user_id).await? else { return Ok(()) };
    let owners = delivery::owners_of(ctx.db, campaign.course_id, chrono::Utc::now()).await?;
    let order_id = owners.iter().find(|(u, _)| *u == user_id).and_then(|(_, o)| *o);
    let owner_order = match order_id {
        Some(id) => orders::by_id(ctx.db, id).await?,
        None => None,
    };
    let Some(to) = crate::buyers::delivery_address(&user, owner_order.as_ref()) else { return Ok(()) };
    let mut links = Vec::new();
    if let (Some(_), Some(order_id)) = (&campaign.new_version, order_id)
        && let Some(order) = orders::by_id(ctx.db, order_id).await?
    {
        let key = format!("campaign:{campaign_id}");
        let txn = shop_db::begin_write(ctx.db).await?;
        links = issue_links(
            &txn,
            &order,
            &key,
            Some(campaign.course_id),
            ctx.settings.delivery.downloads_per_link,
        )
        .await
        .map_err(Failure::from)?;
        txn.commit().await?;
    }
    let data = CourseUpdate {
        buyer_name: user.username.clone(),
        course_name: course_name(ctx, campaign.course_id),
        subject: campaign.subject.clone(),
        message: campaign.message.clone(),
        links: link_lines(ctx, &links).await?,
    };
    let (subject, text, html) = templates::course_update(ctx.settings.email.language, &data);
    ctx.mailer.send(&Email { to, subject, text, html }).await?;
    Ok(())
}
