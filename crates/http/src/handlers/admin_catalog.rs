//! Admin API of the catalog: categories, teachers, courses (every field of the contract),
//! chapters, sections, course covers, and section videos and material versions uploaded to
//! the storage of `course-shop media put`. Each save is one transaction with the catalog
//! revision bump, so running servers show it within `catalog.refresh_seconds`. Banners of the
//! home page, teacher portraits, and deletions (with a confirmation step and refusals,
//! `shop_app::catalog::remove`) too.
use actix_web::{HttpResponse, web};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use shop_app::AppError;
use shop_app::catalog::edit::{
    self, BannerInput, CategoryInput, ChapterInput, CourseInput, SectionInput, TeacherInput,
};
use shop_app::catalog::remove::{self, Target};
use shop_app::delivery::{self, MediaTarget};
use shop_app::i18n::Lang;
use shop_app::i18n::Text;
use shop_domain::Money;
use tokio::io::AsyncWriteExt as _;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, codes};
use crate::extract::Admin;
use crate::state::State;

fn yes() -> bool {
    true
}

/// A category to create (no `id`) or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    /// The category to change; absent: a new one.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// Display order.
    #[serde(default)]
    pub orders: i32,
    /// Shown (default true).
    #[serde(default = "yes")]
    pub is_show: bool,
}

/// A teacher to create (no `id`) or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeacherBody {
    /// The teacher to change; absent: a new one.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// 0 lecturer, 1 mentor, 2 class teacher.
    #[serde(default)]
    pub role: i16,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Signature.
    #[serde(default)]
    pub signature: String,
    /// Portrait path under the media root, or a URL; absent: keep the current one (upload
    /// one with `POST admin/teachers/{id}/image/`).
    #[serde(default)]
    pub image: Option<String>,
    /// About.
    #[serde(default)]
    pub brief: String,
    /// Display order.
    #[serde(default)]
    pub orders: i32,
    /// Shown (default true).
    #[serde(default = "yes")]
    pub is_show: bool,
}

/// A course to create (no `id`) or change: every field of the contract but the cover
/// (`POST admin/courses/{id}/cover/`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseBody {
    /// The course to change; absent: a new one.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// 0 free, 1 actual combat, 2 light.
    pub course_type: i16,
    /// Category (null: none).
    pub category_id: Option<i64>,
    /// Teacher.
    pub teacher_id: i64,
    /// Brief.
    #[serde(default)]
    pub brief: String,
    /// 0 beginner, 1 intermediate, 2 advanced.
    pub level: i16,
    /// 0 online, 1 offline, 2 pre-release.
    pub status: i16,
    /// Price in yuan, e.g. `"99.00"`.
    pub price: String,
    /// Access period in days (0: forever).
    pub period: i32,
    /// Attachment path.
    #[serde(default)]
    pub attachment_path: String,
    /// Display order.
    #[serde(default)]
    pub orders: i32,
    /// Shown (default true).
    #[serde(default = "yes")]
    pub is_show: bool,
}

/// A chapter to create (no `id`) or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChapterBody {
    /// The chapter to change; absent: a new one.
    pub id: Option<i64>,
    /// Chapter number, from 1.
    pub chapter: i32,
    /// Name.
    pub name: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Display order.
    #[serde(default)]
    pub orders: i32,
    /// Shown (default true).
    #[serde(default = "yes")]
    pub is_show: bool,
}

/// A section to create (no `id`) or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionBody {
    /// The section to change; absent: a new one.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// 0 document, 1 exercise, 2 video.
    #[serde(default = "video")]
    pub section_type: i16,
    /// Duration as shown, e.g. `"12:30"`.
    #[serde(default)]
    pub duration: String,
    /// Free to watch before buying.
    #[serde(default)]
    pub free_trail: bool,
    /// Display order.
    #[serde(default)]
    pub orders: i32,
    /// Shown (default true).
    #[serde(default = "yes")]
    pub is_show: bool,
}

fn video() -> i16 {
    2
}

/// What was saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct Saved {
    /// Its id.
    pub id: i64,
    /// A stored path or key, for uploads.
    pub path: Option<String>,
}

/// `{code, msg, result: Saved}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// What was saved.
    pub result: Saved,
}

fn saved(id: i64, path: Option<String>) -> HttpResponse {
    HttpResponse::Ok().json(SavedResponse {
        code: codes::OK,
        msg: "saved".into(),
        result: Saved { id, path },
    })
}

/// Creates or changes a category. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/categories/", tag = "admin",
    security(("jwt" = []), ("console" = [])), request_body = CategoryBody,
    responses((status = 200, body = SavedResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn save_category(
    state: web::Data<State>,
    _admin: Admin,
    body: web::Json<CategoryBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = edit::save_category(
        &state.ctx,
        CategoryInput { id: b.id, name: b.name, orders: b.orders, is_show: b.is_show },
    )
    .await?;
    Ok(saved(id, None))
}

/// Creates or changes a teacher. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/teachers/", tag = "admin",
    security(("jwt" = []), ("console" = [])), request_body = TeacherBody,
    responses((status = 200, body = SavedResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn save_teacher(
    state: web::Data<State>,
    _admin: Admin,
    body: web::Json<TeacherBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = TeacherInput {
        id: b.id,
        name: b.name,
        role: b.role,
        title: b.title,
        signature: b.signature,
        image: b.image,
        brief: b.brief,
        orders: b.orders,
        is_show: b.is_show,
    };
    Ok(saved(edit::save_teacher(&state.ctx, input).await?, None))
}

/// Creates or changes a course: every field of the contract but the cover. Administrators
/// only.
#[utoipa::path(post, path = "/api/v1/admin/courses/", tag = "admin",
    security(("jwt" = []), ("console" = [])), request_body = CourseBody,
    responses((status = 200, body = SavedResponse), (status = 400, description = "A field is invalid (`errors` names it); nothing is saved", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn save_course(
    state: web::Data<State>,
    _admin: Admin,
    body: web::Json<CourseBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = CourseInput {
        id: b.id,
        name: b.name,
        course_type: b.course_type,
        category_id: b.category_id,
        teacher_id: b.teacher_id,
        brief: b.brief,
        level: b.level,
        status: b.status,
        price: b.price,
        period: b.period,
        attachment_path: b.attachment_path,
        orders: b.orders,
        is_show: b.is_show,
    };
    Ok(saved(edit::save_course(&state.ctx, input).await?, None))
}

/// Creates or changes a chapter of a course. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/courses/{id}/chapters/", tag = "admin",
    security(("jwt" = []), ("console" = [])), params(("id" = i64, Path, description = "Course id")), request_body = ChapterBody,
    responses((status = 200, body = SavedResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn save_chapter(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<i64>,
    body: web::Json<ChapterBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = ChapterInput {
        id: b.id,
        course_id: path.into_inner(),
        chapter: b.chapter,
        name: b.name,
        summary: b.summary,
        orders: b.orders,
        is_show: b.is_show,
    };
    Ok(saved(edit::save_chapter(&state.ctx, input).await?, None))
}

/// Creates or changes a section of a chapter (its video is uploaded with
/// `POST admin/courses/{id}/media/?section=`). Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/chapters/{id}/sections/", tag = "admin",
    security(("jwt" = []), ("console" = [])), params(("id" = i64, Path, description = "Chapter id")), request_body = SectionBody,
    responses((status = 200, body = SavedResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn save_section(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<i64>,
    body: web::Json<SectionBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = SectionInput {
        id: b.id,
        chapter_id: path.into_inner(),
        name: b.name,
        section_type: b.section_type,
        duration: b.duration,
        free_trail: b.free_trail,
        orders: b.orders,
        is_show: b.is_show,
    };
    Ok(saved(edit::save_section(&state.ctx, input).await?, None))
}

/// `?filename=` of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverQuery {
    /// The file's name (its extension says the type: png, jpg, gif, webp).
    pub filename: String,
}

/// Uploads a course's cover image (the request body is the file, at most 5 MiB); it is
/// served under `/media/` and becomes the course's `course_img`. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/courses/{id}/cover/", tag = "admin",
    security(("jwt" = []), ("console" = [])), params(("id" = i64, Path, description = "Course id"), CoverQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = SavedResponse), (status = 400, description = "Not an image (`errors.cover`)", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put_cover(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<i64>,
    query: web::Query<CoverQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let stored = edit::put_cover(&state.ctx, id, &query.filename, &body).await?;
    Ok(saved(id, Some(stored)))
}

/// Where an uploaded file goes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    /// The file's name.
    pub filename: String,
    /// The section whose video (or document) this is.
    pub section: Option<i64>,
    /// The name of a downloadable material (with `version`).
    pub material: Option<String>,
    /// The material's new version.
    pub version: Option<String>,
}

/// Uploads a section's video or a new version of a material to the private storage, as
/// `course-shop media put` does (the request body is the file). Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/courses/{id}/media/", tag = "admin",
    security(("jwt" = []), ("console" = [])), params(("id" = i64, Path, description = "Course id"), MediaQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = SavedResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1014)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_media(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<i64>,
    query: web::Query<MediaQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let course = path.into_inner();
    let q = query.into_inner();
    let target = match (q.section, q.material, q.version) {
        (Some(id), None, None) => MediaTarget::Section(id),
        (None, Some(name), Some(version)) => MediaTarget::Material { name, version },
        _ => {
            return Err(AppError::invalid(
                "section",
                Text::fixed(
                    "请指明文件去处：?section=ID，或 ?material=NAME&version=V",
                    "say where the file goes: ?section=ID, or ?material=NAME&version=V",
                ),
            )
            .into());
        }
    };
    if q.filename.is_empty() || q.filename.contains(['/', '\\']) || q.filename.starts_with('.') {
        return Err(AppError::invalid(
            "filename",
            Text::fixed("请给出普通文件名，例如 lesson1.mp4", "a plain file name, e.g. lesson1.mp4"),
        )
        .into());
    }
    let dir = std::env::temp_dir().join(format!("course-shop-upload-{}", uuid::Uuid::new_v4().simple()));
    let file = dir.join(&q.filename);
    let io = |e: std::io::Error| ApiError::from(AppError::Unexpected(e.into()));
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let result = async {
        let mut out = tokio::fs::File::create(&file).await.map_err(io)?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::BadRequest(Text::new(
                    format!("上传中断：{e}"),
                    format!("the upload broke off: {e}"),
                ))
            })?;
            out.write_all(&chunk).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
        drop(out);
        let up = delivery::put_media(&state.ctx.delivery(), course, &file, target, &|_, _| {}).await?;
        Ok::<_, ApiError>(up.key)
    }
    .await;
    tokio::fs::remove_dir_all(&dir).await.ok();
    Ok(saved(course, Some(result?)))
}

/// The lists of the console's catalog page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogListDto {
    /// Categories: id and name.
    pub categories: Vec<(i64, String)>,
    /// Teachers: id and name.
    pub teachers: Vec<(i64, String)>,
    /// Courses: id, name, price (yuan), status code, shown.
    pub courses: Vec<(i64, String, String, i16, bool)>,
}

/// `{code, msg, result: CatalogList}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogListResponse {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// The lists.
    pub result: CatalogListDto,
}

/// The catalog as the seller edits it, hidden rows included. Administrators only.
#[utoipa::path(get, path = "/api/v1/admin/catalog/", tag = "admin",
    security(("jwt" = []), ("console" = [])),
    responses((status = 200, body = CatalogListResponse), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)))]
pub async fn catalog(state: web::Data<State>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let rows = edit::all_rows(&state.ctx).await?;
    let price = |fen| Money::from_fen(fen).map(|m| m.to_string()).unwrap_or_default();
    Ok(HttpResponse::Ok().json(CatalogListResponse {
        code: codes::OK,
        msg: "ok".into(),
        result: CatalogListDto {
            categories: rows.categories.into_iter().map(|c| (c.id, c.name)).collect(),
            teachers: rows.teachers.into_iter().map(|t| (t.id, t.name)).collect(),
            courses: rows
                .courses
                .into_iter()
                .map(|c| (c.id, c.name, price(c.price_fen.fen()), c.status, c.is_show))
                .collect(),
        },
    }))
}

/// A banner of the home page to create (no `id`) or change; its image is uploaded with
/// `POST admin/banners/{id}/image/` (a banner without an image is not shown).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BannerBody {
    /// The banner to change; absent: a new one.
    pub id: Option<i64>,
    /// Title (the image's alt text).
    pub title: String,
    /// Where a click goes: a path of the front end (`/free-course`) or an http(s) URL.
    #[serde(default)]
    pub link: String,
    /// Display order (lower first).
    #[serde(default)]
    pub orders: i32,
    /// Shown (default true).
    #[serde(default = "yes")]
    pub is_show: bool,
}

/// Creates or changes a banner of the home page (`GET home/banner/` shows it within
/// `catalog.refresh_seconds`). Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/banners/", tag = "admin",
    security(("jwt" = []), ("console" = [])), request_body = BannerBody,
    responses((status = 200, body = SavedResponse), (status = 400, description = "A field is invalid (`errors` names it); nothing is saved", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1015)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn save_banner(
    state: web::Data<State>,
    _admin: Admin,
    body: web::Json<BannerBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = BannerInput { id: b.id, title: b.title, link: b.link, orders: b.orders, is_show: b.is_show };
    Ok(saved(edit::save_banner(&state.ctx, input).await?, None))
}

/// A banner as the seller edits it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminBannerDto {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// The image's path under the media root (empty: none yet).
    pub image: String,
    /// The image's URL (empty: none yet).
    pub image_url: String,
    /// Link.
    pub link: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// `{code, msg, result: [AdminBanner]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminBannerList {
    /// 100.
    pub code: i32,
    /// Message.
    pub msg: String,
    /// Every banner not deleted, hidden ones included, by display order.
    pub result: Vec<AdminBannerDto>,
}

/// Every banner of the home page, hidden ones included. Administrators only.
#[utoipa::path(get, path = "/api/v1/admin/banners/", tag = "admin",
    security(("jwt" = []), ("console" = [])),
    responses((status = 200, body = AdminBannerList), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody)))]
pub async fn banners(state: web::Data<State>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let rows = edit::all_rows(&state.ctx).await?;
    let result = rows
        .banners
        .into_iter()
        .map(|b| AdminBannerDto {
            image_url: state.links.media(&b.image),
            id: b.id,
            title: b.title,
            image: b.image,
            link: b.link,
            orders: b.orders,
            is_show: b.is_show,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AdminBannerList { code: codes::OK, msg: "ok".into(), result }))
}

/// Uploads a banner's image (the request body is the file, at most 5 MiB; the front end
/// lays banners out 1920×400); it is served under `/media/`. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/banners/{id}/image/", tag = "admin",
    security(("jwt" = []), ("console" = [])), params(("id" = i64, Path, description = "Banner id"), CoverQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = SavedResponse), (status = 400, description = "Not an image (`errors.image`)", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1015)", body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put_banner_image(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<i64>,
    query: web::Query<CoverQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let stored = edit::put_banner_image(&state.ctx, id, &query.filename, &body).await?;
    Ok(saved(id, Some(stored)))
}

/// Uploads a teacher's portrait (the request body is the file, at most 5 MiB); it is served
/// under `/media/` and becomes the teacher's `image`. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/teachers/{id}/image/", tag = "admin",
    security(("jwt" = []), ("console" = [])), params(("id" = i64, Path, description = "Teacher id"), CoverQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = SavedResponse), (status = 400, description = "Not an image (`errors.image`)", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1015)", body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put_teacher_image(
    state: web::Data<State>,
    _admin: Admin,
    path: web::Path<i64>,
    query: web::Query<CoverQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let stored = edit::put_teacher_image(&state.ctx, id, &query.filename, &body).await?;
    Ok(saved(id, Some(stored)))
}

/// What a deletion names.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteKind {
    /// A course category (refused while it has courses).
    Category,
    /// A teacher (refused while they teach courses).
    Teacher,
    /// A course with its chapters and sections (refused once it was ordered: hide it).
    Course,
    /// A chapter with its sections.
    Chapter,
    /// A section.
    Section,
    /// A banner of the home page.
    Banner,
    /// One version of a material, by its id (refused for the last version of a material
    /// buyers hold download links to).
    Material,
}

/// A deletion request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// What to delete.
    pub kind: DeleteKind,
    /// Its id.
    pub id: i64,
    /// `false` (default): only check and say what would go; `true`: delete.
    #[serde(default)]
    pub confirm: bool,
}

/// What a deletion did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteOutcome {
    /// True when nothing was done: the request must be sent again with `confirm: true`.
    pub needs_confirmation: bool,
    /// The question to ask (for an unconfirmed request).
    pub confirmation: Option<String>,
    /// The id.
    pub id: i64,
    /// Deleted.
    pub deleted: bool,
}

/// `{code, msg, result: DeleteOutcome}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    /// 100.
    pub code: i32,
    /// What goes (went), in the request's language.
    pub msg: String,
    /// What was done.
    pub result: DeleteOutcome,
}

/// Deletes a category, teacher, course, chapter, section, banner or material version, with a
/// confirmation step: without `confirm: true` nothing changes and the answer says what would
/// go. Refusals (409, code 1020, nothing changes): a category or teacher with courses, a
/// course that was ever ordered (hide it instead), the last version of a material buyers
/// hold download links to. One transaction; the public API shows it within
/// `catalog.refresh_seconds`. Administrators only.
#[utoipa::path(post, path = "/api/v1/admin/catalog/delete/", tag = "admin",
    security(("jwt" = []), ("console" = [])), request_body = DeleteRequest,
    responses((status = 200, body = DeleteResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an administrator, or no CSRF token (code 1015)", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Refused (code 1020; `msg` says why); nothing is deleted", body = ErrorBody)))]
pub async fn delete_catalog_row(
    state: web::Data<State>,
    _admin: Admin,
    lang: crate::extract::Language,
    body: web::Json<DeleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let target = match b.kind {
        DeleteKind::Category => Target::Category(b.id),
        DeleteKind::Teacher => Target::Teacher(b.id),
        DeleteKind::Course => Target::Course(b.id),
        DeleteKind::Chapter => Target::Chapter(b.id),
        DeleteKind::Section => Target::Section(b.id),
        DeleteKind::Banner => Target::Banner(b.id),
        DeleteKind::Material => Target::Material(b.id),
    };
    let outcome = remove::delete(&state.ctx, target, b.confirm).await?;
    let confirmation = (!outcome.done)
        .then(|| format!("{}？/ {}?", outcome.what.get(Lang::Zh), capitalized(outcome.what.get(Lang::En))));
    Ok(HttpResponse::Ok().json(DeleteResponse {
        code: codes::OK,
        msg: outcome.what.get(lang.0).to_owned(),
        result: DeleteOutcome {
            needs_confirmation: !outcome.done,
            confirmation,
            id: b.id,
            deleted: outcome.done,
        },
    }))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
