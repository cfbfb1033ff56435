//! Admin API of updates to buyers (campaigns), through the use case of
//! `course-shop notify-buyers`: count the buyers an update reaches, send it, watch it go.
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_app::delivery::{self, CampaignProgress, CampaignRequest};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::Admin;
use crate::state::State;

/// An update to every current owner of a course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBody {
    /// The course whose owners get it.
    pub course_id: i64,
    /// Email subject (1 to 200 characters).
    pub subject: String,
    /// Plain-text message.
    pub message: String,
    /// A material version this update announces (fresh download links are issued for it).
    pub new_version: Option<String>,
    /// `false` (default): only count who it reaches; `true`: send.
    #[serde(default)]
    pub confirm: bool,
}

/// What a campaign request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignOutcome {
    /// True when nothing was sent: send again with `confirm: true`.
    pub needs_confirmation: bool,
    /// The question to ask (unconfirmed).
    pub confirmation: Option<String>,
    /// Current owners of the course.
    pub owners: usize,
    /// Of those, with an email address.
    pub with_email: usize,
    /// The campaign (when sent).
    pub id: Option<i64>,
    /// Emails newly queued (when sent).
    pub queued: usize,
    /// The same update had been sent before: buyers who got it are skipped.
    pub rerun: bool,
}

/// `{code, msg, result: CampaignOutcome}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// What happened.
    pub result: CampaignOutcome,
}

/// A buyer an update did not reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreachedDto {
    /// Username.
    pub username: String,
    /// Why.
    pub reason: String,
}

/// A sent update and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDto {
    /// Id.
    pub id: i64,
    /// Course.
    pub course_id: i64,
    /// Course name.
    pub course_name: String,
    /// Subject.
    pub subject: String,
    /// The material version announced.
    pub new_version: Option<String>,
    /// Owners when it was sent.
    pub recipients: i32,
    /// Emails done.
    pub done: u64,
    /// Emails waiting.
    pub pending: u64,
    /// Emails given up on.
    pub failed: u64,
    /// Buyers not reached.
    pub unreached: Vec<UnreachedDto>,
    /// Sent.
    pub created_time: DateTime<Utc>,
}

impl From<CampaignProgress> for CampaignDto {
    fn from(p: CampaignProgress) -> Self {
        CampaignDto {
            id: p.campaign.id,
            course_id: p.campaign.course_id,
            course_name: p.course_name,
            subject: p.campaign.subject,
            new_version: p.campaign.new_version,
            recipients: p.campaign.recipients,
            done: p.done,
            pending: p.pending,
            failed: p.failed,
            unreached: p
                .unreached
                .into_iter()
                .map(|u| UnreachedDto { username: u.username, reason: u.reason })
                .collect(),
            created_time: p.campaign.created_time,
        }
    }
}

/// `{code, msg, result: [Campaign]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignListResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The latest 50 updates, newest first.
    pub result: Vec<CampaignDto>,
}

/// Sends an update to every current owner of a course, as `course-shop notify-buyers` does
/// (emails through the outbox; rerunning the same update skips buyers who got it). Without
/// `confirm: true` nothing is sent: the answer says how many buyers it reaches.
/// Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/campaigns/", tag = "admin",
    security(("jwt" = []), ("console" = [])), request_body = CampaignBody,
    responses((status = 200, body = CampaignResponse), (status = 400, description = "A field is invalid (`errors` names it)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody)))]
pub async fn send(
    state: web::Data<State>,
    _admin: Admin,
    body: web::Json<CampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let request = CampaignRequest {
        course_id: b.course_id,
        subject: b.subject,
        message: b.message,
        new_version: b.new_version.filter(|v| !v.trim().is_empty()),
        dry_run: !b.confirm,
    };
    let report = delivery::notify_buyers(&state.ctx.delivery(), request, &|_, _| {}).await?;
    let outcome = CampaignOutcome {
        needs_confirmation: !b.confirm,
        confirmation: (!b.confirm).then(|| {
            format!(
                "发送给 {} 位买家（{} 位有邮箱）？/ Send to {} buyer(s) ({} with an email address)?",
                report.owners, report.with_email, report.owners, report.with_email
            )
        }),
        owners: report.owners,
        with_email: report.with_email,
        id: report.campaign_id,
        queued: report.queued,
        rerun: report.rerun,
    };
    let msg = if b.confirm { "queued" } else { "confirm to send" };
    Ok(HttpResponse::Ok().json(CampaignResponse { code: codes::OK, msg: msg.into(), result: outcome }))
}

/// The latest 50 updates with their progress and the buyers they did not reach.
/// Administrators only.
#[utoipa::path(get, path = "/api/v1/admin/campaigns/", tag = "admin",
    security(("jwt" = []), ("console" = [])),
    responses((status = 200, body = CampaignListResponse), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)))]
pub async fn history(state: web::Data<State>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let list = delivery::campaign_history(&state.ctx.delivery(), 50).await?;
    Ok(HttpResponse::Ok().json(CampaignListResponse {
        code: codes::OK,
        msg: "ok".into(),
        result: list.into_iter().map(Into::into).collect(),
    }))
}
