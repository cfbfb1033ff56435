//! Which courses' learner counts changed, so that servers read only those (`docs/search.md`,
//! "Learner counts"): `learner_changes` is append-only, one row per course per batch of paid
//! orders, written in the transaction that adds the learners; servers read the rows after the
//! last id they saw and prune those older than every server's reads. Ids only grow (SQLite
//! `AUTOINCREMENT`, a Postgres sequence): an id is never given twice, even after a prune.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LearnerChanges {
    Table,
    Id,
    CourseId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LearnerChanges::Table)
                    .col(big_pk_auto(LearnerChanges::Id))
                    .col(big_integer(LearnerChanges::CourseId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LearnerChanges::Table).to_owned()).await
    }
}
