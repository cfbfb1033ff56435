//! The catalog tables: loading them whole for the in-memory catalog, the revision counter
//! that tells servers to reload, and the upserts of `import-catalog`.
use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Statement,
};

use crate::entities::{banner, catalog_revision, chapter, course, course_category, section, teacher};

/// Every catalog row that is not deleted (hidden rows included: the caller decides).
#[derive(Debug, Default)]
pub struct CatalogRows {
    /// Course categories.
    pub categories: Vec<course_category::Model>,
    /// Teachers.
    pub teachers: Vec<teacher::Model>,
    /// Courses.
    pub courses: Vec<course::Model>,
    /// Chapters.
    pub chapters: Vec<chapter::Model>,
    /// Sections.
    pub sections: Vec<section::Model>,
    /// Banners.
    pub banners: Vec<banner::Model>,
}

/// Loads the whole catalog. Runs in the caller's connection or transaction; use a
/// transaction for a consistent view on a busy database.
pub async fn load_all(conn: &impl ConnectionTrait) -> Result<CatalogRows, DbErr> {
    Ok(CatalogRows {
        chapters: chapters_in_order(chapter::Entity::find().filter(chapter::Column::IsDelete.eq(false)))
            .all(conn)
            .await?,
        sections: sections_in_order(section::Entity::find().filter(section::Column::IsDelete.eq(false)))
            .all(conn)
            .await?,
        ..load_courses(conn).await?
    })
}

/// Categories, teachers, courses and banners that are not deleted; no chapters or sections.
async fn load_courses(conn: &impl ConnectionTrait) -> Result<CatalogRows, DbErr> {
    Ok(CatalogRows {
        categories: course_category::Entity::find()
            .filter(course_category::Column::IsDelete.eq(false))
            .order_by_asc(course_category::Column::Orders)
            .order_by_asc(course_category::Column::Id)
            .all(conn)
            .await?,
        teachers: teacher::Entity::find().filter(teacher::Column::IsDelete.eq(false)).all(conn).await?,
        courses: courses_in_batches(conn, COURSE_BATCH).await?,
        chapters: Vec::new(),
        sections: Vec::new(),
        banners: banner::Entity::find()
            .filter(banner::Column::IsDelete.eq(false))
            .order_by_asc(banner::Column::Orders)
            .order_by_asc(banner::Column::Id)
            .all(conn)
            .await?,
    })
}

/// The courses that are not deleted, by display priority then id, read `batch` at a time
/// (each batch after the last one's (priority, id)): the driver's copy of the rows (on SQLite,
/// over 1 KB per course row) is then held for one batch, not for the whole catalog.
pub async fn courses_in_batches(
    conn: &impl ConnectionTrait,
    batch: u64,
) -> Result<Vec<course::Model>, DbErr> {
    let mut courses: Vec<course::Model> = Vec::new();
    loop {
        let mut select = course::Entity::find().filter(course::Column::IsDelete.eq(false));
        if let Some(last) = courses.last() {
            select = select.filter(
                Condition::any().add(course::Column::Orders.gt(last.orders)).add(
                    Condition::all()
                        .add(course::Column::Orders.eq(last.orders))
                        .add(course::Column::Id.gt(last.id)),
                ),
            );
        }
        let rows = select
            .order_by_asc(course::Column::Orders)
            .order_by_asc(course::Column::Id)
            .limit(batch)
            .all(conn)
            .await?;
        let done = (rows.len() as u64) < batch;
        courses.extend(rows);
        if done {
            return Ok(courses);
        }
    }
}

/// Chapters in display order: chapter number, then priority, then id.
fn chapters_in_order(select: Select<chapter::Entity>) -> Select<chapter::Entity> {
    select
        .order_by_asc(chapter::Column::Chapter)
        .order_by_asc(chapter::Column::Orders)
        .order_by_asc(chapter::Column::Id)
}

/// Sections in display order within their chapter: priority, then id.
fn sections_in_order(select: Select<section::Entity>) -> Select<section::Entity> {
    select.order_by_asc(section::Column::Orders).order_by_asc(section::Column::Id)
}

/// What the public course lists and search need: every row of [`CatalogRows`] that is not
/// deleted except chapters and sections, of which only each course's first `per_course`
/// public sections are kept (in chapter order, then section order; a hidden chapter hides its
/// sections). Sections are read in batches, so memory follows the courses, not the sections.
#[derive(Debug, Default)]
pub struct ListingRows {
    /// Categories, teachers, courses and banners, as [`load_all`] reads them; `chapters`
    /// and `sections` are empty.
    pub rows: CatalogRows,
    /// The first public sections of each course, by course id.
    pub first_sections: HashMap<i64, Vec<section::Model>>,
}

/// Loads [`ListingRows`]. Runs in the caller's transaction for a consistent view.
pub async fn load_listing(conn: &impl ConnectionTrait, per_course: usize) -> Result<ListingRows, DbErr> {
    let rows = load_courses(conn).await?;
    // Each public chapter's course and its place among that course's chapters.
    let chapter_ids: Vec<(i64, i64)> = chapters_in_order(public_chapters_query())
        .select_only()
        .column(chapter::Column::Id)
        .column(chapter::Column::CourseId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut place: HashMap<i64, (i64, usize)> = HashMap::with_capacity(chapter_ids.len());
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (id, course_id) in chapter_ids {
        let n = seen.entry(course_id).or_default();
        place.insert(id, (course_id, *n));
        *n += 1;
    }
    drop(seen);
    // Sections are read in batches by id; a course keeps its `per_course` best by
    // (chapter place, section priority, id), the display order.
    // (chapter place, section priority, section id), then the section.
    type Ranked = ((usize, i32, i64), section::Model);
    let mut best: HashMap<i64, Vec<Ranked>> = HashMap::new();
    let mut after = i64::MIN;
    loop {
        let batch = section::Entity::find()
            .filter(section::Column::Id.gt(after))
            .filter(section::Column::IsDelete.eq(false))
            .filter(section::Column::IsShow.eq(true))
            .order_by_asc(section::Column::Id)
            .limit(SECTION_BATCH)
            .all(conn)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for s in batch {
            let Some(&(course_id, chapter_place)) = place.get(&s.chapter_id) else {
                continue;
            };
            let key = (chapter_place, s.orders, s.id);
            let kept = best.entry(course_id).or_default();
            if kept.len() >= per_course && kept.last().is_none_or(|(k, _)| *k < key) {
                continue;
            }
            let at = kept.partition_point(|(k, _)| *k < key);
            kept.insert(at, (key, s));
            kept.truncate(per_course);
        }
    }
    let first_sections =
        best.into_iter().map(|(course, kept)| (course, kept.into_iter().map(|(_, s)| s).collect())).collect();
    Ok(ListingRows { rows, first_sections })
}

fn public_chapters_query() -> Select<chapter::Entity> {
    chapter::Entity::find()
        .filter(chapter::Column::IsDelete.eq(false))
        .filter(chapter::Column::IsShow.eq(true))
}

/// The public chapters of one course in display order, each with its public sections in
/// display order.
pub async fn public_chapters(
    conn: &impl ConnectionTrait,
    course_id: i64,
) -> Result<Vec<(chapter::Model, Vec<section::Model>)>, DbErr> {
    let chapters = chapters_in_order(public_chapters_query().filter(chapter::Column::CourseId.eq(course_id)))
        .all(conn)
        .await?;
    let mut by_chapter: HashMap<i64, Vec<section::Model>> = HashMap::new();
    if !chapters.is_empty() {
        let sections = sections_in_order(
            section::Entity::find()
                .filter(section::Column::ChapterId.is_in(chapters.iter().map(|c| c.id)))
                .filter(section::Column::IsDelete.eq(false))
                .filter(section::Column::IsShow.eq(true)),
        )
        .all(conn)
        .await?;
        for s in sections {
            by_chapter.entry(s.chapter_id).or_default().push(s);
        }
    }
    Ok(chapters
        .into_iter()
        .map(|c| {
            let sections = by_chapter.remove(&c.id).unwrap_or_default();
            (c, sections)
        })
        .collect())
}

/// The catalog revision: a counter bumped by every catalog write.
pub async fn revision(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(catalog_revision::Entity::find_by_id(1).one(conn).await?.map_or(0, |r| r.revision))
}

/// Bumps the catalog revision, inside the transaction of the write it announces.
pub async fn bump_revision(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    catalog_revision::Entity::update_many()
        .col_expr(catalog_revision::Column::Revision, Expr::col(catalog_revision::Column::Revision).add(1))
        .col_expr(catalog_revision::Column::UpdatedTime, Expr::value(Utc::now()))
        .filter(catalog_revision::Column::Id.eq(1))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Number of courses, deleted ones included: zero means a fresh database.
pub async fn course_count(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    course::Entity::find().count(conn).await
}

/// Sections per query of [`load_listing`].
const SECTION_BATCH: u64 = 20_000;

/// Courses per query of [`load_all`] and [`load_listing`].
const COURSE_BATCH: u64 = 5_000;

/// Rows per INSERT statement: keeps SQLite under its bound-parameter limit.
const CHUNK: usize = 400;

macro_rules! upsert_fn {
    ($(#[$doc:meta])* $name:ident, $module:ident) => {
        $(#[$doc])*
        pub async fn $name(conn: &impl ConnectionTrait, rows: Vec<$module::ActiveModel>) -> Result<(), DbErr> {
            let update: Vec<$module::Column> = $module::Column::iter()
                .filter(|c| !matches!(c, $module::Column::Id | $module::Column::CreatedTime))
                .collect();
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
                $module::Entity::insert_many(chunk)
                    .on_conflict(OnConflict::column($module::Column::Id).update_columns(update.clone()).to_owned())
                    .exec_without_returning(conn)
                    .await?;
            }
            Ok(())
        }
    };
}

upsert_fn!(
    /// Inserts or updates categories by id.
    upsert_categories, course_category
);
upsert_fn!(
    /// Inserts or updates teachers by id.
    upsert_teachers, teacher
);
upsert_fn!(
    /// Inserts or updates courses by id.
    upsert_courses, course
);
upsert_fn!(
    /// Inserts or updates chapters by id.
    upsert_chapters, chapter
);
upsert_fn!(
    /// Inserts or updates sections by id.
    upsert_sections, section
);
upsert_fn!(
    /// Inserts or updates banners by id.
    upsert_banners, banner
);

/// After rows were inserted with explicit ids, moves each Postgres id sequence past the
/// largest id so that later inserts without an id do not collide. SQLite needs nothing.
pub async fn sync_id_sequences(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in ["course_categories", "teachers", "courses", "chapters", "sections", "banners"] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        );
        conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    }
    Ok(())
}

/// Ids of teachers and categories that exist (deleted or not), to check references.
pub async fn existing_ids(conn: &impl ConnectionTrait) -> Result<(Vec<i64>, Vec<i64>), DbErr> {
    let teachers = teacher::Entity::find().all(conn).await?.into_iter().map(|t| t.id).collect();
    let categories = course_category::Entity::find().all(conn).await?.into_iter().map(|c| c.id).collect();
    Ok((teachers, categories))
}
