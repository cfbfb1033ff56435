//! The catalog tables: loading them whole for the in-memory catalog, the revision counter
//! that tells servers to reload, and the upserts of `import-catalog`.
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable, PaginatorTrait, QueryFilter,
    QueryOrder, Statement,
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
        categories: course_category::Entity::find()
            .filter(course_category::Column::IsDelete.eq(false))
            .order_by_asc(course_category::Column::Orders)
            .order_by_asc(course_category::Column::Id)
            .all(conn)
            .await?,
        teachers: teacher::Entity::find().filter(teacher::Column::IsDelete.eq(false)).all(conn).await?,
        courses: course::Entity::find()
            .filter(course::Column::IsDelete.eq(false))
            .order_by_asc(course::Column::Orders)
            .order_by_asc(course::Column::Id)
            .all(conn)
            .await?,
        chapters: chapter::Entity::find()
            .filter(chapter::Column::IsDelete.eq(false))
            .order_by_asc(chapter::Column::Chapter)
            .order_by_asc(chapter::Column::Orders)
            .order_by_asc(chapter::Column::Id)
            .all(conn)
            .await?,
        sections: section::Entity::find()
            .filter(section::Column::IsDelete.eq(false))
            .order_by_asc(section::Column::Orders)
            .order_by_asc(section::Column::Id)
            .all(conn)
            .await?,
        banners: banner::Entity::find()
            .filter(banner::Column::IsDelete.eq(false))
            .order_by_asc(banner::Column::Orders)
            .order_by_asc(banner::Column::Id)
            .all(conn)
            .await?,
    })
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
