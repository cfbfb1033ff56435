//! `import-catalog`: the documented JSON format (`docs/catalog-format.md`), upserted by id
//! in one transaction.
use crate::i18n::{Text, msg};
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, Set};
use serde::Deserialize;
use shop_db::entities::{banner, chapter, course, course_category, section, teacher};
use shop_domain::Money;
use shop_domain::catalog::{CourseStatus, CourseType, Level, SectionType, TeacherRole};

use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    categories: Vec<CategoryIn>,
    #[serde(default)]
    teachers: Vec<TeacherIn>,
    #[serde(default)]
    courses: Vec<CourseIn>,
    #[serde(default)]
    banners: Vec<BannerIn>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryIn {
    id: i64,
    name: String,
    #[serde(default)]
    orders: i32,
    #[serde(default = "yes")]
    is_show: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeacherIn {
    id: i64,
    name: String,
    #[serde(default)]
    role: i16,
    #[serde(default)]
    title: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    brief: String,
    #[serde(default)]
    orders: i32,
    #[serde(default = "yes")]
    is_show: bool,
}

fn default_course_type() -> i16 {
    1
}
fn default_period() -> i32 {
    365
}
fn default_section_type() -> i16 {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseIn {
    id: i64,
    name: String,
    #[serde(default = "default_course_type")]
    course_type: i16,
    #[serde(default)]
    category_id: Option<i64>,
    teacher_id: i64,
    #[serde(default)]
    course_img: String,
    #[serde(default)]
    brief: String,
    #[serde(default)]
    level: i16,
    #[serde(default)]
    status: i16,
    price: String,
    #[serde(default = "default_period")]
    period: i32,
    #[serde(default)]
    attachment_path: String,
    #[serde(default)]
    students: i32,
    #[serde(default)]
    orders: i32,
    #[serde(default = "yes")]
    is_show: bool,
    #[serde(default)]
    chapters: Vec<ChapterIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChapterIn {
    id: i64,
    chapter: i32,
    name: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    pub_date: Option<DateTime<Utc>>,
    #[serde(default)]
    orders: i32,
    #[serde(default = "yes")]
    is_show: bool,
    #[serde(default)]
    sections: Vec<SectionIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionIn {
    id: i64,
    name: String,
    #[serde(default)]
    orders: i32,
    #[serde(default = "default_section_type")]
    section_type: i16,
    #[serde(default)]
    section_link: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    pub_date: Option<DateTime<Utc>>,
    #[serde(default)]
    free_trail: bool,
    #[serde(default = "yes")]
    is_show: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BannerIn {
    id: i64,
    title: String,
    image: String,
    #[serde(default)]
    link: String,
    #[serde(default)]
    orders: i32,
    #[serde(default = "yes")]
    is_show: bool,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Categories upserted.
    pub categories: usize,
    /// Teachers upserted.
    pub teachers: usize,
    /// Courses upserted.
    pub courses: usize,
    /// Chapters upserted.
    pub chapters: usize,
    /// Sections upserted.
    pub sections: usize,
    /// Banners upserted.
    pub banners: usize,
}

fn bad(message: String) -> AppError {
    AppError::BadRequest(msg::bad_import(message))
}

fn validation_message(e: AppError) -> String {
    match e {
        AppError::Validation { message, .. } => message.en().to_owned(),
        other => other.to_string(),
    }
}

fn unique_ids<'a>(kind: &str, ids: impl Iterator<Item = &'a i64>) -> AppResult<HashSet<i64>> {
    let mut seen = HashSet::new();
    for &id in ids {
        if id <= 0 {
            return Err(bad(format!("{kind} id {id}: ids must be positive")));
        }
        if !seen.insert(id) {
            return Err(bad(format!("{kind} id {id} appears twice")));
        }
    }
    Ok(seen)
}

/// The fields of a course that must be valid, wherever the course comes from (an imported
/// file, the console): one home for the rules.
pub(crate) struct CourseFields<'a> {
    pub name: &'a str,
    pub teacher_id: i64,
    pub teacher_exists: bool,
    pub category_id: Option<i64>,
    pub category_exists: bool,
    pub course_type: i16,
    pub level: i16,
    pub status: i16,
    pub price: &'a str,
    pub period: i32,
}

fn check_code<T: TryFrom<i16>>(field: &'static str, code: i16) -> AppResult<()> {
    T::try_from(code).map(|_| ()).map_err(|_| {
        AppError::invalid(
            field,
            Text::new(format!("{code} 不是有效的 {field}"), format!("{code} is not a valid {field}")),
        )
    })
}

impl CourseFields<'_> {
    /// Checks the fields; the price.
    ///
    /// # Errors
    /// `Validation` naming the first bad field.
    pub fn check(&self) -> AppResult<Money> {
        if self.name.trim().is_empty() {
            return Err(AppError::invalid("name", Text::fixed("名称不能为空", "name is empty")));
        }
        if !self.teacher_exists {
            let id = self.teacher_id;
            return Err(AppError::invalid(
                "teacher_id",
                Text::new(format!("讲师 {id} 不存在"), format!("teacher {id} does not exist")),
            ));
        }
        if let Some(cat) = self.category_id.filter(|_| !self.category_exists) {
            return Err(AppError::invalid(
                "category_id",
                Text::new(format!("分类 {cat} 不存在"), format!("category {cat} does not exist")),
            ));
        }
        check_code::<CourseType>("course_type", self.course_type)?;
        check_code::<Level>("level", self.level)?;
        check_code::<CourseStatus>("status", self.status)?;
        let price = Money::parse_yuan(self.price).map_err(|e| {
            AppError::invalid(
                "price",
                Text::new(format!("价格 {:?} 无效：{e}", self.price), format!("price {:?}: {e}", self.price)),
            )
        })?;
        if self.period < 0 {
            return Err(AppError::invalid(
                "period",
                Text::fixed("有效期不能为负数", "period must not be negative"),
            ));
        }
        Ok(price)
    }
}

/// Parses, checks and imports a catalog file in one transaction, then bumps the catalog
/// revision so running servers reload. Safe to run twice: rows are upserted by id.
///
/// # Errors
/// `BadRequest` naming the first problem of the file (nothing is written); database errors.
pub async fn import_catalog_json(db: &DatabaseConnection, json: &str) -> AppResult<ImportSummary> {
    let file: CatalogFile = serde_json::from_str(json).map_err(|e| bad(format!("catalog file: {e}")))?;
    let now = Utc::now();

    unique_ids("category", file.categories.iter().map(|c| &c.id))?;
    unique_ids("teacher", file.teachers.iter().map(|t| &t.id))?;
    unique_ids("course", file.courses.iter().map(|c| &c.id))?;
    unique_ids("banner", file.banners.iter().map(|b| &b.id))?;
    unique_ids("chapter", file.courses.iter().flat_map(|c| c.chapters.iter().map(|ch| &ch.id)))?;
    unique_ids(
        "section",
        file.courses.iter().flat_map(|c| c.chapters.iter().flat_map(|ch| ch.sections.iter().map(|s| &s.id))),
    )?;
    for t in &file.teachers {
        TeacherRole::try_from(t.role)
            .map_err(|_| bad(format!("teacher {}: {} is not a valid role", t.id, t.role)))?;
    }

    let txn = shop_db::begin_write(db).await?;
    let (mut teacher_ids, mut category_ids) = shop_db::catalog::existing_ids(&txn).await?;
    teacher_ids.extend(file.teachers.iter().map(|t| t.id));
    category_ids.extend(file.categories.iter().map(|c| c.id));

    let mut courses = Vec::new();
    let mut chapters = Vec::new();
    let mut sections = Vec::new();
    for c in &file.courses {
        let fields = CourseFields {
            name: &c.name,
            teacher_id: c.teacher_id,
            teacher_exists: teacher_ids.contains(&c.teacher_id),
            category_id: c.category_id,
            category_exists: c.category_id.is_none_or(|cat| category_ids.contains(&cat)),
            course_type: c.course_type,
            level: c.level,
            status: c.status,
            price: &c.price,
            period: c.period,
        };
        let price = fields.check().map_err(|e| bad(format!("course {}: {}", c.id, validation_message(e))))?;
        let mut total = 0;
        let mut published = 0;
        for ch in &c.chapters {
            for s in &ch.sections {
                check_code::<SectionType>("section_type", s.section_type)
                    .map_err(|e| bad(format!("course {}: {}", c.id, validation_message(e))))?;
                let pub_date = s.pub_date.unwrap_or(now);
                total += 1;
                if pub_date <= now {
                    published += 1;
                }
                sections.push(section::ActiveModel {
                    id: Set(s.id),
                    chapter_id: Set(ch.id),
                    name: Set(s.name.clone()),
                    section_type: Set(s.section_type),
                    section_link: Set(s.section_link.clone()),
                    duration: Set(s.duration.clone()),
                    pub_date: Set(pub_date),
                    free_trail: Set(s.free_trail),
                    orders: Set(s.orders),
                    is_show: Set(s.is_show),
                    is_delete: Set(false),
                    created_time: Set(now),
                    updated_time: Set(now),
                });
            }
            chapters.push(chapter::ActiveModel {
                id: Set(ch.id),
                course_id: Set(c.id),
                chapter: Set(ch.chapter),
                name: Set(ch.name.clone()),
                summary: Set(ch.summary.clone()),
                pub_date: Set(ch.pub_date.unwrap_or(now)),
                orders: Set(ch.orders),
                is_show: Set(ch.is_show),
                is_delete: Set(false),
                created_time: Set(now),
                updated_time: Set(now),
            });
        }
        courses.push(course::ActiveModel {
            id: Set(c.id),
            name: Set(c.name.clone()),
            course_type: Set(c.course_type),
            course_category_id: Set(c.category_id),
            teacher_id: Set(c.teacher_id),
            course_img: Set(c.course_img.clone()),
            brief: Set(c.brief.clone()),
            level: Set(c.level),
            status: Set(c.status),
            price_fen: Set(price),
            period: Set(c.period),
            attachment_path: Set(c.attachment_path.clone()),
            students: Set(c.students),
            pub_sections: Set(published),
            sections: Set(total),
            orders: Set(c.orders),
            is_show: Set(c.is_show),
            is_delete: Set(false),
            created_time: Set(now),
            updated_time: Set(now),
        });
    }

    let summary = ImportSummary {
        categories: file.categories.len(),
        teachers: file.teachers.len(),
        courses: courses.len(),
        chapters: chapters.len(),
        sections: sections.len(),
        banners: file.banners.len(),
    };
    let common = |orders, is_show| (Set(orders), Set(is_show), Set(false), Set(now), Set(now));
    shop_db::catalog::upsert_categories(
        &txn,
        file.categories
            .iter()
            .map(|c| {
                let (orders, is_show, is_delete, created_time, updated_time) = common(c.orders, c.is_show);
                course_category::ActiveModel {
                    id: Set(c.id),
                    name: Set(c.name.clone()),
                    orders,
                    is_show,
                    is_delete,
                    created_time,
                    updated_time,
                }
            })
            .collect(),
    )
    .await?;
    shop_db::catalog::upsert_teachers(
        &txn,
        file.teachers
            .iter()
            .map(|t| {
                let (orders, is_show, is_delete, created_time, updated_time) = common(t.orders, t.is_show);
                teacher::ActiveModel {
                    id: Set(t.id),
                    name: Set(t.name.clone()),
                    role: Set(t.role),
                    title: Set(t.title.clone()),
                    signature: Set(t.signature.clone()),
                    image: Set(t.image.clone()),
                    brief: Set(t.brief.clone()),
                    orders,
                    is_show,
                    is_delete,
                    created_time,
                    updated_time,
                }
            })
            .collect(),
    )
    .await?;
    shop_db::catalog::upsert_courses(&txn, courses).await?;
    shop_db::catalog::upsert_chapters(&txn, chapters).await?;
    shop_db::catalog::upsert_sections(&txn, sections).await?;
    shop_db::catalog::upsert_banners(
        &txn,
        file.banners
            .iter()
            .map(|b| {
                let (orders, is_show, is_delete, created_time, updated_time) = common(b.orders, b.is_show);
                banner::ActiveModel {
                    id: Set(b.id),
                    title: Set(b.title.clone()),
                    image: Set(b.image.clone()),
                    link: Set(b.link.clone()),
                    orders,
                    is_show,
                    is_delete,
                    created_time,
                    updated_time,
                }
            })
            .collect(),
    )
    .await?;
    shop_db::catalog::sync_id_sequences(&txn).await?;
    shop_db::catalog::bump_revision(&txn, shop_db::catalog::Changed::Everything).await?;
    txn.commit().await?;
    Ok(summary)
}
