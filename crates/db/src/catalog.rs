//! The catalog tables: loading them (whole, or what changed since a revision) for the
//! in-memory catalog, the revision counter that tells servers to reload with what each write
//! changed, and the upserts of `import-catalog`.
use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Statement,
};

use crate::entities::{
    banner, catalog_revision, chapter, course, course_category, course_revision, learner_change, section,
    teacher,
};

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
    Ok(CatalogRows { courses: courses_in_batches(conn, COURSE_BATCH).await?, ..load_small(conn).await? })
}

/// Categories, teachers and banners that are not deleted (few rows: read whole at every
/// reload); no courses, chapters or sections.
async fn load_small(conn: &impl ConnectionTrait) -> Result<CatalogRows, DbErr> {
    Ok(CatalogRows {
        categories: course_category::Entity::find()
            .filter(course_category::Column::IsDelete.eq(false))
            .order_by_asc(course_category::Column::Orders)
            .order_by_asc(course_category::Column::Id)
            .all(conn)
            .await?,
        teachers: teacher::Entity::find().filter(teacher::Column::IsDelete.eq(false)).all(conn).await?,
        courses: Vec::new(),
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
    let mut first = FirstSections::new(chapter_ids, per_course);
    // Sections are read in batches by id.
    let mut after = i64::MIN;
    loop {
        let batch = public_sections()
            .filter(section::Column::Id.gt(after))
            .order_by_asc(section::Column::Id)
            .limit(SECTION_BATCH)
            .all(conn)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        batch.into_iter().for_each(|s| first.offer(s));
    }
    Ok(ListingRows { rows, first_sections: first.into_map() })
}

/// What changed since revision `since` ([`changed_courses`]): categories, teachers and banners
/// whole (as [`load_listing`] reads them), and, of the courses `ids`, those not deleted with
/// their first `per_course` public sections (a course of `ids` without a row here is gone).
/// Runs in the caller's transaction for a consistent view.
pub async fn load_changes(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    per_course: usize,
) -> Result<ListingRows, DbErr> {
    let mut rows = load_small(conn).await?;
    let mut first_sections = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        rows.courses.extend(
            course::Entity::find()
                .filter(course::Column::Id.is_in(chunk.iter().copied()))
                .filter(course::Column::IsDelete.eq(false))
                .all(conn)
                .await?,
        );
        let chapter_ids: Vec<(i64, i64)> = chapters_in_order(
            public_chapters_query().filter(chapter::Column::CourseId.is_in(chunk.iter().copied())),
        )
        .select_only()
        .column(chapter::Column::Id)
        .column(chapter::Column::CourseId)
        .into_tuple()
        .all(conn)
        .await?;
        let chapters: Vec<i64> = chapter_ids.iter().map(|(id, _)| *id).collect();
        let mut first = FirstSections::new(chapter_ids, per_course);
        for chapters in chapters.chunks(CHUNK) {
            let sections = public_sections()
                .filter(section::Column::ChapterId.is_in(chapters.iter().copied()))
                .all(conn)
                .await?;
            sections.into_iter().for_each(|s| first.offer(s));
        }
        first_sections.extend(first.into_map());
    }
    rows.courses.sort_by_key(|c| (c.orders, c.id));
    Ok(ListingRows { rows, first_sections })
}

fn public_sections() -> Select<section::Entity> {
    section::Entity::find()
        .filter(section::Column::IsDelete.eq(false))
        .filter(section::Column::IsShow.eq(true))
}

/// The one rule of a course's first sections: its public sections in display order (chapter
/// place, then section priority, then id; a hidden chapter hides its sections), the first
/// `per_course` kept. Sections are offered in any order.
struct FirstSections {
    /// Each public chapter's course and its place among that course's chapters.
    place: HashMap<i64, (i64, usize)>,
    per_course: usize,
    /// Per course, the sections kept so far with their display key, in that order.
    best: HashMap<i64, Vec<(SectionKey, section::Model)>>,
}

/// Where a section shows: (chapter place, section priority, section id).
type SectionKey = (usize, i32, i64);

impl FirstSections {
    /// `chapters`: (chapter id, course id) of the public chapters, in display order.
    fn new(chapters: Vec<(i64, i64)>, per_course: usize) -> Self {
        let mut place: HashMap<i64, (i64, usize)> = HashMap::with_capacity(chapters.len());
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for (id, course_id) in chapters {
            let n = seen.entry(course_id).or_default();
            place.insert(id, (course_id, *n));
            *n += 1;
        }
        FirstSections { place, per_course, best: HashMap::new() }
    }

    fn offer(&mut self, s: section::Model) {
        let Some(&(course_id, chapter_place)) = self.place.get(&s.chapter_id) else {
            return;
        };
        let key = (chapter_place, s.orders, s.id);
        let kept = self.best.entry(course_id).or_default();
        if kept.len() >= self.per_course && kept.last().is_none_or(|(k, _)| *k < key) {
            return;
        }
        let at = kept.partition_point(|(k, _)| *k < key);
        kept.insert(at, (key, s));
        kept.truncate(self.per_course);
    }

    fn into_map(self) -> HashMap<i64, Vec<section::Model>> {
        self.best
            .into_iter()
            .map(|(course, kept)| (course, kept.into_iter().map(|(_, s)| s).collect()))
            .collect()
    }
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
    Ok(revisions(conn).await?.revision)
}

/// The catalog revision and the last one after which servers reload the whole catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revisions {
    /// Bumped by every catalog write.
    pub revision: i64,
    /// The revision of the last [`Changed::Everything`] write.
    pub full_revision: i64,
}

/// Reads [`Revisions`].
pub async fn revisions(conn: &impl ConnectionTrait) -> Result<Revisions, DbErr> {
    Ok(catalog_revision::Entity::find_by_id(1).one(conn).await?.map_or_else(Revisions::default, |r| {
        Revisions { revision: r.revision, full_revision: r.full_revision }
    }))
}

/// What a catalog write changed, as [`bump_revision`] notes it for the servers' incremental
/// reload. Categories, teachers and banners are few: servers read them whole at every reload.
#[derive(Debug, Clone, Copy)]
pub enum Changed<'a> {
    /// No course: categories, banners, a teacher without courses.
    NoCourse,
    /// These courses: their rows, chapters or sections (a deleted one included).
    Courses(&'a [i64]),
    /// Every course of this teacher (its name, picture or visibility changed).
    CoursesOf(i64),
    /// Anything (an import): servers reload the whole catalog.
    Everything,
}

/// Bumps the catalog revision, inside the transaction of the write it announces, and notes
/// what the write `changed` under the new revision ([`changed_courses`]). Every catalog
/// write calls it: a change it does not name is not seen by running servers until their
/// next full load.
pub async fn bump_revision(conn: &impl ConnectionTrait, changed: Changed<'_>) -> Result<(), DbErr> {
    catalog_revision::Entity::update_many()
        .col_expr(catalog_revision::Column::Revision, Expr::col(catalog_revision::Column::Revision).add(1))
        .col_expr(catalog_revision::Column::UpdatedTime, Expr::value(Utc::now()))
        .filter(catalog_revision::Column::Id.eq(1))
        .exec(conn)
        .await?;
    let revision = revision(conn).await?;
    let courses = match changed {
        Changed::NoCourse => return Ok(()),
        Changed::Everything => {
            catalog_revision::Entity::update_many()
                .col_expr(catalog_revision::Column::FullRevision, Expr::value(revision))
                .filter(catalog_revision::Column::Id.eq(1))
                .exec(conn)
                .await?;
            return Ok(());
        }
        Changed::CoursesOf(teacher_id) => {
            vec![Condition::all().add(course::Column::TeacherId.eq(teacher_id))]
        }
        Changed::Courses(ids) => ids
            .chunks(CHUNK)
            .map(|chunk| Condition::all().add(course::Column::Id.is_in(chunk.iter().copied())))
            .collect(),
    };
    for condition in courses {
        // INSERT INTO course_revisions SELECT id, <revision> FROM courses WHERE ... (the WHERE
        // also keeps SQLite from reading ON CONFLICT as a join's ON).
        let select = Query::select()
            .column(course::Column::Id)
            .expr(Expr::val(revision))
            .from(course::Entity)
            .cond_where(condition)
            .to_owned();
        let mut insert = Query::insert();
        insert
            .into_table(course_revision::Entity)
            .columns([course_revision::Column::CourseId, course_revision::Column::Revision])
            .select_from(select)
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .on_conflict(
                OnConflict::column(course_revision::Column::CourseId)
                    .update_column(course_revision::Column::Revision)
                    .to_owned(),
            );
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// The courses whose snapshot content changed after revision `since` (noted by
/// [`bump_revision`]), deleted ones included, ascending.
pub async fn changed_courses(conn: &impl ConnectionTrait, since: i64) -> Result<Vec<i64>, DbErr> {
    course_revision::Entity::find()
        .select_only()
        .column(course_revision::Column::CourseId)
        .filter(course_revision::Column::Revision.gt(since))
        .order_by_asc(course_revision::Column::CourseId)
        .into_tuple()
        .all(conn)
        .await
}

/// The learner count of every public course (shown, not deleted), by id: they change with
/// every payment, without a catalog write. A scan of the courses: servers read it rarely, as
/// a backstop of [`learner_changes_after`].
pub async fn learner_counts(conn: &impl ConnectionTrait) -> Result<Vec<(i64, i32)>, DbErr> {
    learners()
        .filter(course::Column::IsDelete.eq(false))
        .filter(course::Column::IsShow.eq(true))
        .into_tuple()
        .all(conn)
        .await
}

/// The learner counts of the courses `ids`, by primary key only (a filter on visibility
/// would let SQLite scan `ix_courses_public` instead: 11 ms at 100,000 courses, where the
/// lookups take microseconds); the caller keeps those it shows.
pub async fn learner_counts_of(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<(i64, i32)>, DbErr> {
    let mut counts = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        counts.extend(
            learners()
                .filter(course::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple::<(i64, i32)>()
                .all(conn)
                .await?,
        );
    }
    Ok(counts)
}

/// `SELECT id, students FROM courses`.
fn learners() -> Select<course::Entity> {
    course::Entity::find().select_only().column(course::Column::Id).column(course::Column::Students)
}

/// Notes that the learner counts of `courses` changed: one `learner_changes` row each, in the
/// caller's transaction (that of the count's update). Append-only: no row or lock is shared
/// by concurrent payments.
pub async fn note_learner_changes(conn: &impl ConnectionTrait, courses: &[i64]) -> Result<(), DbErr> {
    for chunk in courses.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(learner_change::Entity).columns([learner_change::Column::CourseId]);
        for course in chunk {
            insert.values([Expr::val(*course)]).map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// The `learner_changes` rows `(id, course id)` with an id above `after` or among `awaited`
/// (ids a server saw skipped: on Postgres a transaction may commit after one that took a later
/// id), ascending, at most `limit`.
pub async fn learner_changes_after(
    conn: &impl ConnectionTrait,
    after: i64,
    awaited: &[i64],
    limit: u64,
) -> Result<Vec<(i64, i64)>, DbErr> {
    let mut which = Condition::any().add(learner_change::Column::Id.gt(after));
    if !awaited.is_empty() {
        which = which.add(learner_change::Column::Id.is_in(awaited.iter().copied()));
    }
    learner_change::Entity::find()
        .select_only()
        .column(learner_change::Column::Id)
        .column(learner_change::Column::CourseId)
        .filter(which)
        .order_by_asc(learner_change::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await
}

/// The highest `learner_changes` id, 0 when there is none.
pub async fn last_learner_change(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let last: Option<Option<i64>> = learner_change::Entity::find()
        .select_only()
        .expr(learner_change::Column::Id.max())
        .into_tuple()
        .one(conn)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// Deletes the `learner_changes` rows up to id `up_to`.
pub async fn prune_learner_changes(conn: &impl ConnectionTrait, up_to: i64) -> Result<u64, DbErr> {
    Ok(learner_change::Entity::delete_many()
        .filter(learner_change::Column::Id.lte(up_to))
        .exec(conn)
        .await?
        .rows_affected)
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
