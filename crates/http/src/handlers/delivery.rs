//! Delivery: the user's courses, playing a section through a short-lived signed URL, private
//! download links, and the locally signed media route.
use actix_files::NamedFile;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_app::delivery;
use shop_app::error::retry_if_connection_lost;
use shop_app::i18n::msg;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::{AuthUser, Language};
use crate::state::State;

/// A private download link of the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLinkDto {
    /// Material name.
    pub material: String,
    /// The private URL (works without logging in; keep it to yourself).
    pub url: String,
    /// Downloads left.
    pub downloads_left: i32,
    /// Downloads allowed.
    pub max_downloads: i32,
}

/// One of the user's courses.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyCourseDto {
    /// Course id.
    pub course_id: i64,
    /// Course name.
    pub name: String,
    /// When access was granted.
    pub granted_at: DateTime<Utc>,
    /// When access ends (null: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the course can be used now.
    pub active: bool,
    /// The order that granted it.
    pub out_trade_no: Option<String>,
    /// Private download links of the course's materials.
    pub downloads: Vec<DownloadLinkDto>,
}

/// `{code, msg, result: [MyCourse]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyCourses {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Courses, newest first.
    pub result: Vec<MyCourseDto>,
}

/// The logged-in user's courses with their expiry and download links.
#[utoipa::path(
    get,
    path = "/api/v1/course/mine/",
    tag = "delivery",
    security(("jwt" = [])),
    responses((status = 200, body = MyCourses), (status = 401, body = ErrorBody))
)]
pub async fn mine(state: web::Data<State>, user: AuthUser, lang: Language) -> Result<HttpResponse, ApiError> {
    let delivery_view = state.ctx.delivery();
    let courses = retry_if_connection_lost(|| delivery::my_courses(&delivery_view, user.0)).await?;
    let delivery_view = state.ctx.delivery();
    let links = retry_if_connection_lost(|| delivery::my_links(&delivery_view, user.0)).await?;
    let result = courses
        .into_iter()
        .map(|c| MyCourseDto {
            downloads: links
                .iter()
                .filter(|l| l.course_id == c.course_id)
                .map(|l| DownloadLinkDto {
                    material: l.material_name.clone(),
                    url: l.url.clone(),
                    downloads_left: l.downloads_left,
                    max_downloads: l.max_downloads,
                })
                .collect(),
            course_id: c.course_id,
            name: c.name,
            granted_at: c.granted_at,
            expires_at: c.expires_at,
            active: c.active,
            out_trade_no: c.out_trade_no,
        })
        .collect();
    Ok(HttpResponse::Ok().json(MyCourses { code: codes::OK, msg: msg::OK.get(lang.0).into(), result }))
}

/// A signed media URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlayResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The URL to play; it stops working at `expires_at` (at most 15 minutes).
    pub url: String,
    /// When the URL expires.
    pub expires_at: DateTime<Utc>,
}

/// A short-lived signed URL to play a section: for the course's owner, or anyone logged in
/// on a free-trial section.
#[utoipa::path(
    get,
    path = "/api/v1/course/section/{id}/play/",
    tag = "delivery",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "Section id")),
    responses(
        (status = 200, body = PlayResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not the course's owner and not a free trial", body = ErrorBody),
        (status = 404, description = "No such section, or no media uploaded yet", body = ErrorBody)
    )
)]
pub async fn play(
    state: web::Data<State>,
    user: AuthUser,
    lang: Language,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let delivery_view = state.ctx.delivery();
    let play = retry_if_connection_lost(|| delivery::play_url(&delivery_view, user.0, *id)).await?;
    Ok(HttpResponse::Ok().json(PlayResponse {
        code: codes::OK,
        msg: msg::OK.get(lang.0).into(),
        url: play.url,
        expires_at: play.expires_at,
    }))
}

/// A private download link from a purchase. Each request counts one download; when none is
/// left, or after a refund, the answer is an error (410), never the file. No login needed.
#[utoipa::path(
    get,
    path = "/d/{token}",
    tag = "delivery",
    params(("token" = String, Path, description = "The link's secret")),
    responses(
        (status = 200, description = "The file (latest version); Range requests supported", content_type = "application/octet-stream"),
        (status = 302, description = "S3 storage: a short-lived presigned URL of the file"),
        (status = 404, description = "Unknown link, or no file uploaded yet", body = ErrorBody),
        (status = 410, description = "No downloads left (1040) or the purchase was refunded (1041)", body = ErrorBody)
    )
)]
pub async fn download(
    state: web::Data<State>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = delivery::take_download(&state.ctx.delivery(), &token).await??;
    let storage = &state.ctx.storage();
    let key = &d.material.object_key;
    if let Some(path) = storage.local_path(key) {
        let file = NamedFile::open_async(&path).await.map_err(|e| {
            shop_app::AppError::Unexpected(anyhow::anyhow!("opening {}: {e}", path.display()))
        })?;
        let file = file.set_content_disposition(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(d.material.filename.clone())],
        });
        let mut res = file.into_response(&req);
        res.headers_mut().insert(
            header::HeaderName::from_static("x-downloads-left"),
            header::HeaderValue::from(d.downloads_left),
        );
        return Ok(res);
    }
    let url = storage
        .signed_url(key, std::time::Duration::from_secs(60), &state.ctx.public_url(), Utc::now())
        .await
        .map_err(shop_app::AppError::Unexpected)?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header(("x-downloads-left", d.downloads_left.to_string()))
        .finish())
}

/// The signature of a locally served media URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Unix time after which the URL stops working.
    pub expires: Option<i64>,
    /// HMAC of the key and expiry.
    pub signature: Option<String>,
}

/// Serves a private media file through a signed URL (local storage), with HTTP Range.
/// Expired, altered or foreign URLs get 403.
pub async fn private_media(
    state: web::Data<State>,
    req: HttpRequest,
    key: web::Path<String>,
    query: web::Query<SignedQuery>,
) -> Result<HttpResponse, ApiError> {
    let (Some(expires), Some(signature)) = (query.expires, query.signature.as_deref()) else {
        return Err(ApiError::unsigned_media());
    };
    state.ctx.storage().verify_local_url(&key, expires, signature, Utc::now())?;
    let path = state.ctx.storage().local_path(&key).ok_or(shop_app::AppError::NotFound("media"))?;
    let file = NamedFile::open_async(&path).await.map_err(|_| shop_app::AppError::NotFound("media"))?;
    Ok(file.into_response(&req))
}
