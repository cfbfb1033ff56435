//! The emails of delivery: the confirmation with the private links, and course updates.
use std::collections::HashMap;

use shop_db::entities::{download_link, material, order, order_detail, user};
use shop_db::{delivery, orders, users};
use shop_domain::order::OrderStatus;

use super::links::{PURCHASE, issue_links, link_url};
use crate::context::Delivery;
use crate::jobs::{self, Failure};
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

/// The latest version of each live link's material (one query for all of `links`).
async fn latest_of(
    ctx: &Delivery<'_>,
    links: &[download_link::Model],
) -> Result<HashMap<(i64, String), material::Model>, Failure> {
    let wanted: Vec<(i64, &str)> = links
        .iter()
        .filter(|l| l.revoked_at.is_none())
        .map(|l| (l.course_id, l.material_name.as_str()))
        .collect();
    Ok(delivery::latest_materials(ctx.db, &wanted).await?)
}

/// The lines of an email's links (the live ones), with their material's latest version from
/// `latest` ([`latest_of`]).
fn link_lines(
    ctx: &Delivery<'_>,
    links: &[download_link::Model],
    latest: &HashMap<(i64, String), material::Model>,
) -> Vec<DownloadLinkLine> {
    links
        .iter()
        .filter(|l| l.revoked_at.is_none())
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
        .collect()
}

/// Whether a paid order's confirmation has somewhere to go: the buyer's delivery address
/// ([`crate::buyers::delivery_address`]). An `order_email` job is enqueued only then.
pub(crate) fn has_address(user: &user::Model, order: &order::Model) -> bool {
    crate::buyers::delivery_address(user, Some(order)).is_some()
}

/// What the confirmations of a batch of orders need: read with one query per table
/// ([`Confirmations::read`]), or kept from the `order_paid` jobs that just read or wrote it
/// ([`Confirmations::of`]).
pub(crate) struct Confirmations {
    orders: HashMap<i64, order::Model>,
    users: HashMap<i64, user::Model>,
    lines: HashMap<i64, Vec<order_detail::Model>>,
    links: HashMap<i64, Vec<download_link::Model>>,
    latest: HashMap<(i64, String), material::Model>,
}

impl Confirmations {
    /// The confirmations of `orders`, from what the caller holds: their buyers, lines and
    /// purchase links (the latest version of each link's material is read here, one query).
    pub(crate) async fn of(
        ctx: &Delivery<'_>,
        orders: HashMap<i64, order::Model>,
        users: HashMap<i64, user::Model>,
        lines: HashMap<i64, Vec<order_detail::Model>>,
        links: HashMap<i64, Vec<download_link::Model>>,
    ) -> Result<Self, Failure> {
        let all_links: Vec<download_link::Model> = links.values().flatten().cloned().collect();
        let latest = latest_of(ctx, &all_links).await?;
        Ok(Confirmations { orders, users, lines, links, latest })
    }

    async fn read(ctx: &Delivery<'_>, order_ids: &[i64]) -> Result<Self, Failure> {
        let orders: HashMap<i64, order::Model> =
            orders::by_ids(ctx.db, order_ids).await?.into_iter().map(|o| (o.id, o)).collect();
        let mut user_ids: Vec<i64> = orders.values().map(|o| o.user_id).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let users = users::by_ids(ctx.db, &user_ids).await?.into_iter().map(|u| (u.id, u)).collect();
        let mut lines: HashMap<i64, Vec<order_detail::Model>> = HashMap::new();
        for line in orders::details_of(ctx.db, order_ids).await? {
            lines.entry(line.order_id).or_default().push(line);
        }
        let all_links = delivery::links_of_orders(ctx.db, order_ids, PURCHASE).await?;
        let latest = latest_of(ctx, &all_links).await?;
        let mut links: HashMap<i64, Vec<download_link::Model>> = HashMap::new();
        for link in all_links {
            links.entry(link.order_id).or_default().push(link);
        }
        Ok(Confirmations { orders, users, lines, links, latest })
    }

    /// The confirmation of one order, rendered; `None` when none is due (the order is gone
    /// or no longer paid, the buyer is gone or has no address).
    async fn email(&self, ctx: &Delivery<'_>, order_id: i64) -> Result<Option<Email>, Failure> {
        let Some(order) = self.orders.get(&order_id) else { return Ok(None) };
        if order.order_status != OrderStatus::Paid {
            return Ok(None);
        }
        let Some(user) = self.users.get(&order.user_id) else { return Ok(None) };
        let Some(to) = crate::buyers::delivery_address(user, Some(order)) else {
            tracing::info!(order.out_trade_no = %order.out_trade_no, "buyer has no email address: no confirmation sent");
            return Ok(None);
        };
        let courses = self
            .lines
            .get(&order.id)
            .into_iter()
            .flatten()
            .map(|d| (course_name(ctx, d.course_id), d.real_price_fen))
            .collect();
        let links = self.links.get(&order.id).map_or(&[][..], Vec::as_slice);
        let data = OrderConfirmation {
            buyer_name: user.username.clone(),
            out_trade_no: order.out_trade_no.clone(),
            order_subject: order.subject.clone(),
            total: order.total_amount_fen,
            paid_at: order.pay_time.unwrap_or(order.updated_time),
            courses,
            links: link_lines(ctx, links, &self.latest),
            my_courses_url: format!("{}/api/v1/course/mine/", ctx.public_url),
            purchase_url: crate::guests::purchase_url(
                &ctx.public_url,
                &crate::guests::token_of(ctx.db, ctx.settings, order).await.map_err(Failure::from)?,
            ),
        };
        let (subject, text, html) = templates::order_confirmation(ctx.settings.email.language, &data);
        Ok(Some(Email { to, subject, text, html }))
    }
}

/// Runs `order_email` jobs `(job id, order id)` together: reads what their confirmations need
/// with one query per table and sends them ([`send_confirmations`]). An outcome per job, in
/// order.
pub(crate) async fn send_order_emails(ctx: &Delivery<'_>, jobs: &[(i64, i64)]) -> Vec<Result<(), Failure>> {
    let order_ids: Vec<i64> = jobs.iter().map(|(_, order_id)| *order_id).collect();
    match Confirmations::read(ctx, &order_ids).await {
        Ok(all) => send_confirmations(ctx, &all, jobs).await,
        Err(e) => {
            let msg = match e {
                Failure::Retry(m) | Failure::Permanent(m) => m,
            };
            jobs.iter().map(|_| Err(Failure::Retry(msg.clone()))).collect()
        }
    }
}

/// Sends the confirmations of `jobs` `(job id, order id)` from what `all` holds, each to the
/// buyer's delivery address ([`crate::buyers::delivery_address`]; none when the order is no
/// longer paid or there is no address), all handed to the mailer at once
/// ([`crate::mail::Mailer::send_all`]), and completes the jobs that are done in one statement.
/// A failed send fails its job alone. An outcome per job, in order.
pub(crate) async fn send_confirmations(
    ctx: &Delivery<'_>,
    all: &Confirmations,
    jobs: &[(i64, i64)],
) -> Vec<Result<(), Failure>> {
    let mut outcomes: Vec<Option<Result<(), Failure>>> = Vec::with_capacity(jobs.len());
    let mut emails = Vec::with_capacity(jobs.len());
    for (_, order_id) in jobs {
        outcomes.push(match all.email(ctx, *order_id).await {
            Ok(Some(email)) => {
                emails.push(email);
                None
            }
            Ok(None) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        });
    }
    let mut sent = ctx.mailer.send_all(&emails).await.into_iter();
    let mut done = Vec::with_capacity(jobs.len());
    let mut outcomes: Vec<Result<(), Failure>> = outcomes
        .into_iter()
        .zip(jobs)
        .map(|(outcome, (job_id, order_id))| {
            let outcome = outcome.unwrap_or_else(|| match sent.next() {
                Some(Ok(())) => {
                    let number = all.orders.get(order_id).map_or("", |o| o.out_trade_no.as_str());
                    tracing::info!(order.out_trade_no = %number, "order confirmation sent");
                    Ok(())
                }
                Some(Err(e)) => Err(Failure::from(e)),
                None => Err(Failure::Retry("the mailer reported no outcome".into())),
            });
            if outcome.is_ok() {
                done.push(*job_id);
            }
            outcome
        })
        .collect();
    if let Err(Failure::Retry(msg) | Failure::Permanent(msg)) = jobs::complete_all(ctx.db, &done).await {
        // Sent but not marked done: they are sent again (at least once) after the backoff.
        for outcome in &mut outcomes {
            if outcome.is_ok() {
                *outcome = Err(Failure::Retry(msg.clone()));
            }
        }
    }
    outcomes
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
        links: link_lines(ctx, &links, &latest_of(ctx, &links).await?),
    };
    let (subject, text, html) = templates::course_update(ctx.settings.email.language, &data);
    ctx.mailer.send(&Email { to, subject, text, html }).await?;
    Ok(())
}
