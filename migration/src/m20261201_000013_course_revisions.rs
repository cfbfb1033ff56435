//! What each catalog write changed, so that servers reload only that (`docs/search.md`,
//! "Freshness"): `course_revisions` holds, per course, the catalog revision of the last write
//! that changed its row, its chapters or sections, or its teacher (deleting it included);
//! `catalog_revision.full_revision` is the revision of the last write after which every
//! server reloads the whole catalog (an import).
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CourseRevisions {
    Table,
    CourseId,
    Revision,
}

#[derive(DeriveIden)]
enum CatalogRevision {
    Table,
    FullRevision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CourseRevisions::Table)
                    .col(big_integer(CourseRevisions::CourseId).primary_key())
                    .col(big_integer(CourseRevisions::Revision))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_course_revisions_revision", CourseRevisions::Table, &["revision"]))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CatalogRevision::Table)
                    .add_column(big_integer(CatalogRevision::FullRevision).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CatalogRevision::Table)
                    .drop_column(CatalogRevision::FullRevision)
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(CourseRevisions::Table).to_owned()).await
    }
}
