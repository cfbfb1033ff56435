//! `notify-buyers`: one command mails an update to every current owner of a course, each
//! with fresh download links when a new version of the course's materials exists. Safe to
//! rerun: a campaign is identified by its course, subject, message and version, and each
//! buyer's email is an outbox job keyed by campaign and buyer, so nobody gets it twice.
use crate::i18n::msg;
use chrono::Utc;
use sea_orm::Set;
use sha2::{Digest, Sha256};
use shop_db::delivery;
use shop_db::entities::campaign;
use shop_db::orders;

use crate::context::Delivery;
use crate::error::{AppError, AppResult};
use crate::jobs::{Job, enqueue};

/// What to send.
#[derive(Debug, Clone)]
pub struct CampaignRequest {
    /// The course whose owners are mailed.
    pub course_id: i64,
    /// Email subject.
    pub subject: String,
    /// Plain-text message.
    pub message: String,
    /// A material version this update announces (fresh links are issued for it).
    pub new_version: Option<String>,
    /// Only say who would get it.
    pub dry_run: bool,
}

/// What `notify_buyers` did.
#[derive(Debug, Clone)]
pub struct CampaignReport {
    /// The campaign (none on a dry run).
    pub campaign_id: Option<i64>,
    /// Whether this campaign existed already (a rerun).
    pub rerun: bool,
    /// Current owners of the course.
    pub owners: usize,
    /// Owners with a delivery address (a confirmed email, or one given with their order).
    pub with_email: usize,
    /// Owners the campaign cannot reach (no delivery address): their user ids.
    pub unreachable: Vec<i64>,
    /// Emails newly queued by this run.
    pub queued: usize,
}

/// Queues the campaign's emails; `progress(done, total)` is called per owner.
///
/// # Errors
/// `NotFound` for an unknown course; `Validation` (`subject`, `message`, `new_version`) for
/// an empty subject or message, or a version no material of the course has.
pub async fn notify_buyers(
    ctx: &Delivery<'_>,
    req: CampaignRequest,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> AppResult<CampaignReport> {
    let course =
        orders::courses(ctx.db, &[req.course_id]).await?.pop().ok_or(AppError::NotFound("course"))?;
    if req.subject.trim().is_empty() || req.subject.chars().count() > 200 {
        return Err(AppError::invalid("subject", msg::CAMPAIGN_SUBJECT));
    }
    if req.message.trim().is_empty() {
        return Err(AppError::invalid("message", msg::CAMPAIGN_EMPTY));
    }
    if let Some(v) = &req.new_version {
        let mut found = false;
        for name in delivery::material_names(ctx.db, course.id).await? {
            found |= delivery::material_version(ctx.db, course.id, &name, v).await?.is_some();
        }
        if !found {
            return Err(AppError::invalid("new_version", msg::campaign_no_version(course.id, v)));
        }
    }
    let owners = delivery::owners_of(ctx.db, course.id, Utc::now()).await?;
    let mut with_email = 0;
    let mut unreachable = Vec::new();
    for (user_id, order_id) in &owners {
        let Some(user) = shop_db::users::by_id(ctx.db, *user_id).await? else { continue };
        let order = match order_id {
            Some(id) => orders::by_id(ctx.db, *id).await?,
            None => None,
        };
        if crate::buyers::delivery_address(&user, order.as_ref()).is_some() {
            with_email += 1;
        } else {
            unreachable.push(*user_id);
        }
    }
    let mut report = CampaignReport {
        campaign_id: None,
        rerun: false,
        owners: owners.len(),
        with_email,
        unreachable,
        queued: 0,
    };
    if req.dry_run {
        return Ok(report);
    }
    let key = hex::encode(Sha256::digest(
        format!(
            "{}\n{}\n{}\n{}",
            course.id,
            req.subject.trim(),
            req.message,
            req.new_version.as_deref().unwrap_or("")
        )
        .as_bytes(),
    ));
    let txn = shop_db::begin_write(ctx.db).await?;
    let row = campaign::ActiveModel {
        course_id: Set(course.id),
        subject: Set(req.subject.trim().to_owned()),
        message: Set(req.message.clone()),
        new_version: Set(req.new_version.clone()),
        dedupe_key: Set(key.clone()),
        recipients: Set(i32::try_from(owners.len()).unwrap_or(i32::MAX)),
        created_time: Set(Utc::now()),
        ..Default::default()
    };
    let (campaign, created) = delivery::campaign_once(&txn, row, &key).await?;
    let total = owners.len() as u64;
    for (i, (user_id, _)) in owners.iter().enumerate() {
        if enqueue(&txn, &Job::CampaignEmail { campaign_id: campaign.id, user_id: *user_id }).await? {
            report.queued += 1;
        }
        progress(i as u64 + 1, total);
    }
    txn.commit().await?;
    report.campaign_id = Some(campaign.id);
    report.rerun = !created;
    Ok(report)
}

/// A buyer an update did not reach, and why.
#[derive(Debug, Clone)]
pub struct Unreached {
    /// The buyer's username.
    pub username: String,
    /// Why: no email address, or the last sending error.
    pub reason: String,
}

/// A campaign and how far its sending got.
#[derive(Debug, Clone)]
pub struct CampaignProgress {
    /// The campaign.
    pub campaign: campaign::Model,
    /// The course's name.
    pub course_name: String,
    /// Emails sent (or found nothing to send: see `unreached`).
    pub done: u64,
    /// Emails waiting (or retrying).
    pub pending: u64,
    /// Emails given up on.
    pub failed: u64,
    /// Buyers it did not reach.
    pub unreached: Vec<Unreached>,
}

/// The latest campaigns with their progress: per campaign, its emails (outbox jobs) by
/// state, and the buyers it could not reach (no email address, or sending failed for good).
///
/// # Errors
/// Database errors.
pub async fn campaign_history(ctx: &Delivery<'_>, limit: u64) -> AppResult<Vec<CampaignProgress>> {
    let campaigns = delivery::campaigns(ctx.db, limit).await?;
    let jobs = shop_db::outbox::list(ctx.db, Some("campaign_email")).await?;
    let snapshot = ctx.catalog.snapshot();
    let mut out = Vec::new();
    for c in campaigns {
        let mut progress = CampaignProgress {
            course_name: snapshot.course(c.course_id).map(|x| x.name.clone()).unwrap_or_default(),
            campaign: c,
            done: 0,
            pending: 0,
            failed: 0,
            unreached: Vec::new(),
        };
        for job in &jobs {
            let Ok(Job::CampaignEmail { campaign_id, user_id }) = serde_json::from_str::<Job>(&job.payload)
            else {
                continue;
            };
            if campaign_id != progress.campaign.id {
                continue;
            }
            let user = shop_db::users::by_id(ctx.db, user_id).await?;
            let username = user.as_ref().map(|u| u.username.clone()).unwrap_or_default();
            let has_email = user.and_then(|u| u.email).is_some_and(|e| !e.is_empty());
            match job.status.as_str() {
                shop_db::outbox::DONE => {
                    progress.done += 1;
                    if !has_email {
                        progress.unreached.push(Unreached { username, reason: "no email address".into() });
                    }
                }
                shop_db::outbox::FAILED => {
                    progress.failed += 1;
                    let reason = job.last_error.clone().unwrap_or_default();
                    progress.unreached.push(Unreached { username, reason });
                }
                _ => progress.pending += 1,
            }
        }
        out.push(progress);
    }
    Ok(out)
}
