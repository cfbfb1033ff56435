//! The seller's edits of the catalog (the console): categories, teachers, courses, chapters
//! and sections, one at a time, and course covers. Each save checks its fields (the rules of
//! the import, [`CourseFields`]), writes in one transaction with the catalog revision bump,
//! and answers `Validation` naming the first bad field (nothing is written then). Running
//! servers see the change within `catalog.refresh_seconds`.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use shop_db::catalog::Changed;
use shop_db::entities::{banner, chapter, course, course_category, section, teacher};
use shop_domain::catalog::{SectionType, TeacherRole};

use super::import::CourseFields;
use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::i18n::Text;

fn required(field: &'static str, text: &str, max: usize) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid(
            field,
            Text::new(format!("{field} 不能为空"), format!("{field} is empty")),
        ));
    }
    if text.chars().count() > max {
        return Err(AppError::invalid(field, too_long(max)));
    }
    Ok(text.to_owned())
}

fn at_most(field: &'static str, text: &str, max: usize) -> AppResult<String> {
    if text.chars().count() > max {
        return Err(AppError::invalid(field, too_long(max)));
    }
    Ok(text.trim().to_owned())
}

/// A category to create (`id: None`) or change.
#[derive(Debug, Clone)]
pub struct CategoryInput {
    /// The category to change.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// Saves a category; its id.
///
/// # Errors
/// `Validation`; `NotFound` for an unknown id; database errors.
pub async fn save_category(ctx: &AppContext, input: CategoryInput) -> AppResult<i64> {
    let name = required("name", &input.name, 64)?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let now = Utc::now();
    let mut row = match input.id {
        Some(id) => course_category::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .filter(|r| !r.is_delete)
            .ok_or(AppError::NotFound("category"))?
            .into_active_model(),
        None => course_category::ActiveModel {
            is_delete: Set(false),
            created_time: Set(now),
            ..Default::default()
        },
    };
    row.name = Set(name);
    row.orders = Set(input.orders);
    row.is_show = Set(input.is_show);
    row.updated_time = Set(now);
    let saved = row.save(&txn).await?;
    shop_db::catalog::bump_revision(&txn, Changed::NoCourse).await?;
    txn.commit().await?;
    saved.id.try_as_ref().copied().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no id after save")))
}

/// A teacher to create (`id: None`) or change.
#[derive(Debug, Clone)]
pub struct TeacherInput {
    /// The teacher to change.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// Role code (`TeacherRole`).
    pub role: i16,
    /// Title.
    pub title: String,
    /// Signature.
    pub signature: String,
    /// Portrait path under the media root, or a URL; `None` keeps the current one (a new
    /// teacher has none until [`put_teacher_image`]).
    pub image: Option<String>,
    /// About.
    pub brief: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// Saves a teacher; its id.
///
/// # Errors
/// `Validation`; `NotFound` for an unknown id; database errors.
pub async fn save_teacher(ctx: &AppContext, input: TeacherInput) -> AppResult<i64> {
    let name = required("name", &input.name, 64)?;
    TeacherRole::try_from(input.role).map_err(|e| AppError::invalid("role", unknown_code(&e)))?;
    let title = at_most("title", &input.title, 64)?;
    let signature = at_most("signature", &input.signature, 255)?;
    let image = input.image.as_deref().map(|i| at_most("image", i, 255)).transpose()?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let now = Utc::now();
    let mut row = match input.id {
        Some(id) => teacher::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .filter(|r| !r.is_delete)
            .ok_or(AppError::NotFound("teacher"))?
            .into_active_model(),
        None => teacher::ActiveModel { is_delete: Set(false), created_time: Set(now), ..Default::default() },
    };
    row.name = Set(name);
    row.role = Set(input.role);
    row.title = Set(title);
    row.signature = Set(signature);
    match image {
        Some(image) => row.image = Set(image),
        None if input.id.is_none() => row.image = Set(String::new()),
        None => {}
    }
    row.brief = Set(input.brief.trim().to_owned());
    row.orders = Set(input.orders);
    row.is_show = Set(input.is_show);
    row.updated_time = Set(now);
    let saved = row.save(&txn).await?;
    let id = saved_id(&saved.id)?;
    shop_db::catalog::bump_revision(&txn, Changed::CoursesOf(id)).await?;
    txn.commit().await?;
    Ok(id)
}

/// A course to create (`id: None`) or change: every field of the contract but the cover
/// (uploaded with [`put_cover`]) and the counters the shop keeps (students, sections).
#[derive(Debug, Clone)]
pub struct CourseInput {
    /// The course to change.
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// `CourseType` code.
    pub course_type: i16,
    /// Category.
    pub category_id: Option<i64>,
    /// Teacher.
    pub teacher_id: i64,
    /// Brief (HTML allowed, as in the tutorial).
    pub brief: String,
    /// `Level` code.
    pub level: i16,
    /// `CourseStatus` code.
    pub status: i16,
    /// Price in yuan (`"99.00"`).
    pub price: String,
    /// Access period in days (0: forever).
    pub period: i32,
    /// Attachment path.
    pub attachment_path: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// Saves a course; its id.
///
/// # Errors
/// `Validation` naming the first bad field; `NotFound` for an unknown id; database errors.
pub async fn save_course(ctx: &AppContext, input: CourseInput) -> AppResult<i64> {
    let name = required("name", &input.name, 128)?;
    let attachment_path = at_most("attachment_path", &input.attachment_path, 128)?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let teacher_exists =
        teacher::Entity::find_by_id(input.teacher_id).one(&txn).await?.is_some_and(|t| !t.is_delete);
    let category_exists = match input.category_id {
        Some(id) => course_category::Entity::find_by_id(id).one(&txn).await?.is_some_and(|c| !c.is_delete),
        None => true,
    };
    let price = CourseFields {
        name: &name,
        teacher_id: input.teacher_id,
        teacher_exists,
        category_id: input.category_id,
        category_exists,
        course_type: input.course_type,
        level: input.level,
        status: input.status,
        price: input.price.trim(),
        period: input.period,
    }
    .check()?;
    let now = Utc::now();
    let mut row = match input.id {
        Some(id) => course::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .filter(|r| !r.is_delete)
            .ok_or(AppError::NotFound("course"))?
            .into_active_model(),
        None => course::ActiveModel {
            course_img: Set(String::new()),
            students: Set(0),
            pub_sections: Set(0),
            sections: Set(0),
            is_delete: Set(false),
            created_time: Set(now),
            ..Default::default()
        },
    };
    row.name = Set(name);
    row.course_type = Set(input.course_type);
    row.course_category_id = Set(input.category_id);
    row.teacher_id = Set(input.teacher_id);
    row.brief = Set(input.brief);
    row.level = Set(input.level);
    row.status = Set(input.status);
    row.price_fen = Set(price);
    row.period = Set(input.period);
    row.attachment_path = Set(attachment_path);
    row.orders = Set(input.orders);
    row.is_show = Set(input.is_show);
    row.updated_time = Set(now);
    let saved = row.save(&txn).await?;
    let id = saved_id(&saved.id)?;
    shop_db::catalog::bump_revision(&txn, Changed::Courses(&[id])).await?;
    txn.commit().await?;
    Ok(id)
}

/// A chapter to create (`id: None`) or change.
#[derive(Debug, Clone)]
pub struct ChapterInput {
    /// The chapter to change.
    pub id: Option<i64>,
    /// Its course.
    pub course_id: i64,
    /// Chapter number.
    pub chapter: i32,
    /// Name.
    pub name: String,
    /// Summary.
    pub summary: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// Saves a chapter; its id.
///
/// # Errors
/// `Validation`; `NotFound` for an unknown course or chapter; database errors.
pub async fn save_chapter(ctx: &AppContext, input: ChapterInput) -> AppResult<i64> {
    let name = required("name", &input.name, 128)?;
    if input.chapter < 1 {
        return Err(AppError::invalid(
            "chapter",
            Text::fixed("章节序号从 1 开始", "chapter numbers start at 1"),
        ));
    }
    let txn = shop_db::begin_write(&ctx.db).await?;
    course::Entity::find_by_id(input.course_id)
        .one(&txn)
        .await?
        .filter(|c| !c.is_delete)
        .ok_or(AppError::NotFound("course"))?;
    let now = Utc::now();
    let mut row = match input.id {
        Some(id) => {
            let found = chapter::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .filter(|c| c.course_id == input.course_id && !c.is_delete);
            found.ok_or(AppError::NotFound("chapter"))?.into_active_model()
        }
        None => chapter::ActiveModel {
            course_id: Set(input.course_id),
            pub_date: Set(now),
            is_delete: Set(false),
            created_time: Set(now),
            ..Default::default()
        },
    };
    row.chapter = Set(input.chapter);
    row.name = Set(name);
    row.summary = Set(input.summary.trim().to_owned());
    row.orders = Set(input.orders);
    row.is_show = Set(input.is_show);
    row.updated_time = Set(now);
    let saved = row.save(&txn).await?;
    shop_db::catalog::bump_revision(&txn, Changed::Courses(&[input.course_id])).await?;
    txn.commit().await?;
    saved.id.try_as_ref().copied().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no id after save")))
}

/// A section to create (`id: None`) or change; its video is uploaded on its own
/// (`delivery::put_media`).
#[derive(Debug, Clone)]
pub struct SectionInput {
    /// The section to change.
    pub id: Option<i64>,
    /// Its chapter.
    pub chapter_id: i64,
    /// Name.
    pub name: String,
    /// `SectionType` code.
    pub section_type: i16,
    /// Duration as shown (`"12:30"`).
    pub duration: String,
    /// Free to watch before buying.
    pub free_trail: bool,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// Saves a section and recounts its course's sections, in one transaction; its id.
///
/// # Errors
/// `Validation`; `NotFound` for an unknown chapter or section; database errors.
pub async fn save_section(ctx: &AppContext, input: SectionInput) -> AppResult<i64> {
    let name = required("name", &input.name, 128)?;
    SectionType::try_from(input.section_type)
        .map_err(|e| AppError::invalid("section_type", unknown_code(&e)))?;
    let duration = at_most("duration", &input.duration, 32)?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let ch = chapter::Entity::find_by_id(input.chapter_id)
        .one(&txn)
        .await?
        .filter(|c| !c.is_delete)
        .ok_or(AppError::NotFound("chapter"))?;
    let now = Utc::now();
    let mut row = match input.id {
        Some(id) => {
            let found = section::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .filter(|s| s.chapter_id == ch.id && !s.is_delete);
            found.ok_or(AppError::NotFound("section"))?.into_active_model()
        }
        None => section::ActiveModel {
            chapter_id: Set(ch.id),
            section_link: Set(String::new()),
            pub_date: Set(now),
            is_delete: Set(false),
            created_time: Set(now),
            ..Default::default()
        },
    };
    row.name = Set(name);
    row.section_type = Set(input.section_type);
    row.duration = Set(duration);
    row.free_trail = Set(input.free_trail);
    row.orders = Set(input.orders);
    row.is_show = Set(input.is_show);
    row.updated_time = Set(now);
    let saved = row.save(&txn).await?;
    recount_sections(&txn, ch.course_id).await?;
    shop_db::catalog::bump_revision(&txn, Changed::Courses(&[ch.course_id])).await?;
    txn.commit().await?;
    saved.id.try_as_ref().copied().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no id after save")))
}

/// Sets a course's section counters (all, and published by now) from its sections.
pub(super) async fn recount_sections(txn: &sea_orm::DatabaseTransaction, course_id: i64) -> AppResult<()> {
    let chapters: Vec<i64> = chapter::Entity::find()
        .filter(chapter::Column::CourseId.eq(course_id))
        .filter(chapter::Column::IsDelete.eq(false))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let of_course = || {
        section::Entity::find()
            .filter(section::Column::ChapterId.is_in(chapters.iter().copied()))
            .filter(section::Column::IsDelete.eq(false))
    };
    let total = of_course().count(txn).await?;
    let published = of_course().filter(section::Column::PubDate.lte(Utc::now())).count(txn).await?;
    let Some(found) = course::Entity::find_by_id(course_id).one(txn).await? else {
        return Err(AppError::NotFound("course"));
    };
    let mut row = found.into_active_model();
    row.sections = Set(i32::try_from(total).unwrap_or(i32::MAX));
    row.pub_sections = Set(i32::try_from(published).unwrap_or(i32::MAX));
    row.update(txn).await?;
    Ok(())
}

/// The image types an upload may be, by extension, with the bytes each must start with.
const IMAGE_TYPES: [(&str, &[u8]); 5] = [
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("jpg", b"\xff\xd8\xff"),
    ("jpeg", b"\xff\xd8\xff"),
    ("gif", b"GIF8"),
    ("webp", b"RIFF"),
];

/// The largest image accepted (covers, portraits, banners).
pub const MAX_COVER_BYTES: usize = 5 * 1024 * 1024;

/// What an uploaded image is for: its field in errors, its name in messages, where it is
/// stored under the media root.
#[derive(Debug, Clone, Copy)]
enum ImageUse {
    Cover,
    Portrait,
    Banner,
}

impl ImageUse {
    fn field(self) -> &'static str {
        match self {
            ImageUse::Cover => "cover",
            ImageUse::Portrait | ImageUse::Banner => "image",
        }
    }

    fn noun(self) -> (&'static str, &'static str) {
        match self {
            ImageUse::Cover => ("封面", "a cover"),
            ImageUse::Portrait => ("头像", "a portrait"),
            ImageUse::Banner => ("轮播图", "a banner"),
        }
    }

    fn path(self, id: i64, ext: &str) -> String {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
        match self {
            ImageUse::Cover => format!("courses/{id}/cover-{tag}.{ext}"),
            ImageUse::Portrait => format!("teachers/{id}/portrait-{tag}.{ext}"),
            ImageUse::Banner => format!("banners/{id}/banner-{tag}.{ext}"),
        }
    }
}

/// Checks an uploaded image (type by extension and first bytes, size); its extension.
fn check_image(what: ImageUse, filename: &str, bytes: &[u8]) -> AppResult<&'static str> {
    let (zh, en) = what.noun();
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let Some((ext, magic)) = IMAGE_TYPES.iter().find(|(e, _)| *e == ext) else {
        return Err(AppError::invalid(
            what.field(),
            Text::new(
                format!("{zh}须为 .png、.jpg、.gif 或 .webp 图片"),
                format!("{en} must be a .png, .jpg, .gif or .webp image"),
            ),
        ));
    };
    if bytes.is_empty() || bytes.len() > MAX_COVER_BYTES {
        return Err(AppError::invalid(
            what.field(),
            Text::new(
                format!("{zh}大小须在 1 字节到 {} MiB 之间", MAX_COVER_BYTES >> 20),
                format!("{en} is 1 byte to {} MiB", MAX_COVER_BYTES >> 20),
            ),
        ));
    }
    if !bytes.starts_with(magic) {
        return Err(AppError::invalid(
            what.field(),
            Text::new(format!("该文件不是 {ext} 图片"), format!("the file is not a {ext} image")),
        ));
    }
    Ok(ext)
}

/// Writes a checked image under the media root; its path there.
async fn store_image(
    ctx: &AppContext,
    what: ImageUse,
    id: i64,
    ext: &str,
    bytes: &[u8],
) -> AppResult<String> {
    let path = what.path(id, ext);
    let full = ctx.settings.media.root.join(&path);
    if let Some(dir) = full.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| AppError::Unexpected(e.into()))?;
    }
    tokio::fs::write(&full, bytes).await.map_err(|e| AppError::Unexpected(e.into()))?;
    Ok(path)
}

/// Stores an uploaded cover image under the media root (`courses/{id}/cover-….{ext}`, served
/// at `/media/`) and makes it the course's `course_img`; the revision is bumped with it.
///
/// # Errors
/// `Validation` (`cover`) for a file that is not a PNG, JPEG, GIF or WebP image or is too
/// large; `NotFound`; I/O and database errors.
pub async fn put_cover(ctx: &AppContext, course_id: i64, filename: &str, bytes: &[u8]) -> AppResult<String> {
    let ext = check_image(ImageUse::Cover, filename, bytes)?;
    let found = course::Entity::find_by_id(course_id)
        .one(&ctx.db)
        .await?
        .filter(|c| !c.is_delete)
        .ok_or(AppError::NotFound("course"))?;
    let path = store_image(ctx, ImageUse::Cover, course_id, ext, bytes).await?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let mut row = found.into_active_model();
    row.course_img = Set(path.clone());
    row.updated_time = Set(Utc::now());
    row.update(&txn).await?;
    shop_db::catalog::bump_revision(&txn, Changed::Courses(&[course_id])).await?;
    txn.commit().await?;
    Ok(path)
}

/// Stores an uploaded teacher portrait (`teachers/{id}/portrait-….{ext}` under the media
/// root) and makes it the teacher's `image`; the revision is bumped with it.
///
/// # Errors
/// `Validation` (`image`) as for covers; `NotFound`; I/O and database errors.
pub async fn put_teacher_image(
    ctx: &AppContext,
    teacher_id: i64,
    filename: &str,
    bytes: &[u8],
) -> AppResult<String> {
    let ext = check_image(ImageUse::Portrait, filename, bytes)?;
    let found = teacher::Entity::find_by_id(teacher_id)
        .one(&ctx.db)
        .await?
        .filter(|t| !t.is_delete)
        .ok_or(AppError::NotFound("teacher"))?;
    let path = store_image(ctx, ImageUse::Portrait, teacher_id, ext, bytes).await?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let mut row = found.into_active_model();
    row.image = Set(path.clone());
    row.updated_time = Set(Utc::now());
    row.update(&txn).await?;
    shop_db::catalog::bump_revision(&txn, Changed::CoursesOf(teacher_id)).await?;
    txn.commit().await?;
    Ok(path)
}

/// A banner of the home page to create (`id: None`) or change; its image is uploaded on its
/// own ([`put_banner_image`]).
#[derive(Debug, Clone)]
pub struct BannerInput {
    /// The banner to change.
    pub id: Option<i64>,
    /// Title.
    pub title: String,
    /// Where a click goes: a path of the front end (`/free-course`) or an http(s) URL.
    pub link: String,
    /// Display order.
    pub orders: i32,
    /// Shown.
    pub is_show: bool,
}

/// Saves a banner; its id.
///
/// # Errors
/// `Validation` (`title`, `link`); `NotFound` for an unknown id; database errors.
pub async fn save_banner(ctx: &AppContext, input: BannerInput) -> AppResult<i64> {
    let title = required("title", &input.title, 128)?;
    let link = at_most("link", &input.link, 255)?;
    let lower = link.to_ascii_lowercase();
    let well_formed = link.is_empty()
        || (link.starts_with('/') && !link.starts_with("//"))
        || lower.starts_with("https://")
        || lower.starts_with("http://");
    if !well_formed || link.chars().any(char::is_whitespace) {
        return Err(AppError::invalid(
            "link",
            Text::fixed(
                "链接须为站内路径（如 /free-course）或 http(s) 网址",
                "a link is a path of the site (e.g. /free-course) or an http(s) URL",
            ),
        ));
    }
    let txn = shop_db::begin_write(&ctx.db).await?;
    let now = Utc::now();
    let mut row = match input.id {
        Some(id) => banner::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .filter(|b| !b.is_delete)
            .ok_or(AppError::NotFound("banner"))?
            .into_active_model(),
        None => banner::ActiveModel {
            image: Set(String::new()),
            is_delete: Set(false),
            created_time: Set(now),
            ..Default::default()
        },
    };
    row.title = Set(title);
    row.link = Set(link);
    row.orders = Set(input.orders);
    row.is_show = Set(input.is_show);
    row.updated_time = Set(now);
    let saved = row.save(&txn).await?;
    shop_db::catalog::bump_revision(&txn, Changed::NoCourse).await?;
    txn.commit().await?;
    saved.id.try_as_ref().copied().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no id after save")))
}

/// Stores an uploaded banner image (`banners/{id}/banner-….{ext}` under the media root) and
/// makes it the banner's `image`; the revision is bumped with it.
///
/// # Errors
/// `Validation` (`image`) as for covers; `NotFound`; I/O and database errors.
pub async fn put_banner_image(
    ctx: &AppContext,
    banner_id: i64,
    filename: &str,
    bytes: &[u8],
) -> AppResult<String> {
    let ext = check_image(ImageUse::Banner, filename, bytes)?;
    let found = banner::Entity::find_by_id(banner_id)
        .one(&ctx.db)
        .await?
        .filter(|b| !b.is_delete)
        .ok_or(AppError::NotFound("banner"))?;
    let path = store_image(ctx, ImageUse::Banner, banner_id, ext, bytes).await?;
    let txn = shop_db::begin_write(&ctx.db).await?;
    let mut row = found.into_active_model();
    row.image = Set(path.clone());
    row.updated_time = Set(Utc::now());
    row.update(&txn).await?;
    shop_db::catalog::bump_revision(&txn, Changed::NoCourse).await?;
    txn.commit().await?;
    Ok(path)
}

/// Every catalog row that is not deleted, hidden ones included (the console's lists).
///
/// # Errors
/// Database errors.
pub async fn all_rows(ctx: &AppContext) -> AppResult<shop_db::catalog::CatalogRows> {
    Ok(shop_db::catalog::load_all(&ctx.db).await?)
}

/// A course with its chapters, their sections and its materials, for editing.
#[derive(Debug, Clone)]
pub struct CourseOutline {
    /// The course.
    pub course: course::Model,
    /// Its chapters, each with its sections.
    pub chapters: Vec<(chapter::Model, Vec<section::Model>)>,
    /// Its materials (every version).
    pub materials: Vec<shop_db::entities::material::Model>,
}

/// A course for editing.
///
/// # Errors
/// `NotFound`; database errors.
pub async fn course_outline(ctx: &AppContext, course_id: i64) -> AppResult<CourseOutline> {
    use sea_orm::QueryOrder;
    let course = course::Entity::find_by_id(course_id)
        .one(&ctx.db)
        .await?
        .filter(|c| !c.is_delete)
        .ok_or(AppError::NotFound("course"))?;
    let chapters = chapter::Entity::find()
        .filter(chapter::Column::CourseId.eq(course_id))
        .filter(chapter::Column::IsDelete.eq(false))
        .order_by_asc(chapter::Column::Chapter)
        .order_by_asc(chapter::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut sections = section::Entity::find()
        .filter(section::Column::ChapterId.is_in(chapters.iter().map(|c| c.id)))
        .filter(section::Column::IsDelete.eq(false))
        .order_by_asc(section::Column::Orders)
        .order_by_asc(section::Column::Id)
        .all(&ctx.db)
        .await?;
    let chapters = chapters
        .into_iter()
        .map(|c| {
            let (mine, rest): (Vec<_>, Vec<_>) = sections.drain(..).partition(|s| s.chapter_id == c.id);
            sections = rest;
            (c, mine)
        })
        .collect();
    let materials = shop_db::delivery::materials_of(&ctx.db, course_id).await?;
    Ok(CourseOutline { course, chapters, materials })
}

/// The id of a row just saved.
fn saved_id(id: &sea_orm::ActiveValue<i64>) -> AppResult<i64> {
    id.try_as_ref().copied().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no id after save")))
}

/// "At most `max` characters", in both languages.
fn too_long(max: usize) -> Text {
    Text::new(format!("最多 {max} 个字符"), format!("at most {max} characters"))
}

/// A code that names no value of its kind, in both languages.
fn unknown_code(e: &impl std::fmt::Display) -> Text {
    Text::new(format!("无效的代码：{e}"), e.to_string())
}
