//! The seller's deletions (the console): categories, teachers, courses, chapters, sections,
//! banners and material versions, each with a confirmation step ([`delete`] with `confirm:
//! false` only checks and says what would go) and refusals where a deletion would break what
//! buyers have or other rows point to (`docs/console.md`, "Deleting"):
//!
//! - a category or a teacher with courses is refused (move or delete the courses first);
//! - a course that was ever ordered is refused: buyers keep it, reports name it; the seller
//!   hides it (`is_show: false`) instead;
//! - the last version of a material that buyers hold download links to is refused (upload a
//!   new version instead); an older or unlinked version goes.
//!
//! Catalog rows are deleted softly (`is_delete`, as the tutorial's models do), a course or
//! chapter with its chapters and sections, a material version's row for good (its stored
//! object stays in storage). Each deletion is one transaction with the catalog revision bump
//! (and the course's section counters), so nothing is half-deleted and running servers show
//! it within `catalog.refresh_seconds`.
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter};
use shop_db::catalog::Changed;
use shop_db::entities::{
    banner, chapter, course, course_category, download_link, material, order_detail, section, teacher,
};

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::i18n::Text;

/// What to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A course category.
    Category(i64),
    /// A teacher.
    Teacher(i64),
    /// A course, with its chapters and sections.
    Course(i64),
    /// A chapter, with its sections.
    Chapter(i64),
    /// A section.
    Section(i64),
    /// A banner of the home page.
    Banner(i64),
    /// One version of a downloadable material (a `materials` row).
    Material(i64),
}

/// What a deletion did, or would do.
#[derive(Debug, Clone)]
pub struct Deletion {
    /// Done (`confirm: true`), or only checked.
    pub done: bool,
    /// What goes, in both languages: the question to confirm, or what went.
    pub what: Text,
}

/// Deletes `target` when `confirm`, else only checks that it may go and says what would go.
///
/// # Errors
/// `NotFound` for an unknown (or already deleted) row; `Conflict` for a refused deletion
/// (nothing changes); database errors.
pub async fn delete(ctx: &AppContext, target: Target, confirm: bool) -> AppResult<Deletion> {
    let txn = shop_db::begin_write(&ctx.db).await?;
    let (what, course) = check_and_delete(&txn, target, confirm).await?;
    if confirm {
        let changed = match &course {
            Some(id) => Changed::Courses(std::slice::from_ref(id)),
            None => Changed::NoCourse,
        };
        shop_db::catalog::bump_revision(&txn, changed).await?;
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(Deletion { done: confirm, what })
}

fn refused(zh: String, en: String) -> AppError {
    AppError::Conflict(Text::new(zh, en))
}

async fn live_courses(txn: &DatabaseTransaction, column: course::Column, id: i64) -> AppResult<u64> {
    Ok(course::Entity::find()
        .filter(column.eq(id))
        .filter(course::Column::IsDelete.eq(false))
        .count(txn)
        .await?)
}

/// What goes, and the course whose public view it changes (a category or a teacher goes only
/// without courses; a material is not in the public view).
async fn check_and_delete(
    txn: &DatabaseTransaction,
    target: Target,
    confirm: bool,
) -> AppResult<(Text, Option<i64>)> {
    let now = Utc::now();
    match target {
        Target::Category(id) => {
            let row = course_category::Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|r| !r.is_delete)
                .ok_or(AppError::NotFound("category"))?;
            let n = live_courses(txn, course::Column::CourseCategoryId, id).await?;
            if n > 0 {
                return Err(refused(
                    format!("分类「{}」下还有 {n} 门课程：请先移走或删除这些课程", row.name),
                    format!("the category {:?} still has {n} course(s): move or delete them first", row.name),
                ));
            }
            if confirm {
                course_category::Entity::update_many()
                    .col_expr(course_category::Column::IsDelete, Expr::value(true))
                    .col_expr(course_category::Column::UpdatedTime, Expr::value(now))
                    .filter(course_category::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
            }
            Ok((
                Text::new(format!("删除分类「{}」", row.name), format!("delete the category {:?}", row.name)),
                None,
            ))
        }
        Target::Teacher(id) => {
            let row = teacher::Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|r| !r.is_delete)
                .ok_or(AppError::NotFound("teacher"))?;
            let n = live_courses(txn, course::Column::TeacherId, id).await?;
            if n > 0 {
                return Err(refused(
                    format!("老师「{}」还在教 {n} 门课程：请先为这些课程换老师或删除它们", row.name),
                    format!(
                        "the teacher {:?} still teaches {n} course(s): give them another teacher or delete them first",
                        row.name
                    ),
                ));
            }
            if confirm {
                teacher::Entity::update_many()
                    .col_expr(teacher::Column::IsDelete, Expr::value(true))
                    .col_expr(teacher::Column::UpdatedTime, Expr::value(now))
                    .filter(teacher::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
            }
            Ok((
                Text::new(format!("删除老师「{}」", row.name), format!("delete the teacher {:?}", row.name)),
                None,
            ))
        }
        Target::Course(id) => {
            let row = course::Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|r| !r.is_delete)
                .ok_or(AppError::NotFound("course"))?;
            let ordered =
                order_detail::Entity::find().filter(order_detail::Column::CourseId.eq(id)).count(txn).await?;
            if ordered > 0 {
                return Err(refused(
                    format!(
                        "课程「{}」已有 {ordered} 笔订单：买家仍拥有它，报表仍引用它，不能删除；请取消勾选“显示”将其隐藏",
                        row.name
                    ),
                    format!(
                        "the course {:?} has {ordered} order(s): buyers keep it and reports name it, so it cannot be deleted; hide it instead (untick \"shown\")",
                        row.name
                    ),
                ));
            }
            let chapters: Vec<i64> = chapter::Entity::find()
                .filter(chapter::Column::CourseId.eq(id))
                .filter(chapter::Column::IsDelete.eq(false))
                .all(txn)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            let sections = live_sections(txn, &chapters).await?;
            if confirm {
                soft_delete_sections(txn, &chapters).await?;
                chapter::Entity::update_many()
                    .col_expr(chapter::Column::IsDelete, Expr::value(true))
                    .col_expr(chapter::Column::UpdatedTime, Expr::value(now))
                    .filter(chapter::Column::CourseId.eq(id))
                    .exec(txn)
                    .await?;
                course::Entity::update_many()
                    .col_expr(course::Column::IsDelete, Expr::value(true))
                    .col_expr(course::Column::UpdatedTime, Expr::value(now))
                    .filter(course::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
            }
            let what = Text::new(
                format!("删除课程「{}」及其 {} 个章节、{sections} 个小节", row.name, chapters.len()),
                format!(
                    "delete the course {:?} with its {} chapter(s) and {sections} section(s)",
                    row.name,
                    chapters.len()
                ),
            );
            Ok((what, Some(id)))
        }
        Target::Chapter(id) => {
            let row = chapter::Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|r| !r.is_delete)
                .ok_or(AppError::NotFound("chapter"))?;
            let sections = live_sections(txn, &[id]).await?;
            if confirm {
                soft_delete_sections(txn, &[id]).await?;
                chapter::Entity::update_many()
                    .col_expr(chapter::Column::IsDelete, Expr::value(true))
                    .col_expr(chapter::Column::UpdatedTime, Expr::value(now))
                    .filter(chapter::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
                super::edit::recount_sections(txn, row.course_id).await?;
            }
            let what = Text::new(
                format!("删除第 {} 章「{}」及其 {sections} 个小节", row.chapter, row.name),
                format!("delete chapter {} {:?} with its {sections} section(s)", row.chapter, row.name),
            );
            Ok((what, Some(row.course_id)))
        }
        Target::Section(id) => {
            let row = section::Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|r| !r.is_delete)
                .ok_or(AppError::NotFound("section"))?;
            if confirm {
                section::Entity::update_many()
                    .col_expr(section::Column::IsDelete, Expr::value(true))
                    .col_expr(section::Column::UpdatedTime, Expr::value(now))
                    .filter(section::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
            }
            let course = chapter::Entity::find_by_id(row.chapter_id).one(txn).await?.map(|ch| ch.course_id);
            if let (true, Some(course)) = (confirm, course) {
                super::edit::recount_sections(txn, course).await?;
            }
            Ok((
                Text::new(format!("删除小节「{}」", row.name), format!("delete the section {:?}", row.name)),
                course,
            ))
        }
        Target::Banner(id) => {
            let row = banner::Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|r| !r.is_delete)
                .ok_or(AppError::NotFound("banner"))?;
            if confirm {
                banner::Entity::update_many()
                    .col_expr(banner::Column::IsDelete, Expr::value(true))
                    .col_expr(banner::Column::UpdatedTime, Expr::value(now))
                    .filter(banner::Column::Id.eq(id))
                    .exec(txn)
                    .await?;
            }
            let what = Text::new(
                format!("删除轮播图「{}」", row.title),
                format!("delete the banner {:?}", row.title),
            );
            Ok((what, None))
        }
        Target::Material(id) => {
            let row =
                material::Entity::find_by_id(id).one(txn).await?.ok_or(AppError::NotFound("material"))?;
            let versions = material::Entity::find()
                .filter(material::Column::CourseId.eq(row.course_id))
                .filter(material::Column::Name.eq(row.name.as_str()))
                .count(txn)
                .await?;
            let links = download_link::Entity::find()
                .filter(download_link::Column::CourseId.eq(row.course_id))
                .filter(download_link::Column::MaterialName.eq(row.name.as_str()))
                .count(txn)
                .await?;
            if versions == 1 && links > 0 {
                return Err(refused(
                    format!(
                        "资料「{}」只剩这一个版本，买家持有 {links} 个下载链接：请上传新版本，而不是删除",
                        row.name
                    ),
                    format!(
                        "{:?} has no other version and buyers hold {links} download link(s) to it: upload a new version instead",
                        row.name
                    ),
                ));
            }
            if confirm {
                material::Entity::delete_by_id(id).exec(txn).await?;
            }
            let what = Text::new(
                format!("删除资料「{}」的版本 {}", row.name, row.version),
                format!("delete version {} of the material {:?}", row.version, row.name),
            );
            Ok((what, None))
        }
    }
}

async fn live_sections(txn: &DatabaseTransaction, chapters: &[i64]) -> AppResult<u64> {
    Ok(section::Entity::find()
        .filter(section::Column::ChapterId.is_in(chapters.iter().copied()))
        .filter(section::Column::IsDelete.eq(false))
        .count(txn)
        .await?)
}

async fn soft_delete_sections(txn: &DatabaseTransaction, chapters: &[i64]) -> AppResult<()> {
    section::Entity::update_many()
        .col_expr(section::Column::IsDelete, Expr::value(true))
        .col_expr(section::Column::UpdatedTime, Expr::value(Utc::now()))
        .filter(section::Column::ChapterId.is_in(chapters.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}
