//! The order numbers a running reconciliation has seen listed as payments in the statement
//! (`reconciliation_listed`): the statement is read in batches and never held in memory, so
//! "an order we have as paid that the statement does not list" is found at the end with one
//! anti-join of the day's paid orders against these rows. They are scratch: a run deletes its
//! rows when it finishes (only an interrupted run leaves some, under its unfinished run).
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReconciliationRuns {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReconciliationListed {
    Table,
    RunId,
    OutTradeNo,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReconciliationListed::Table)
                    .col(big_integer(ReconciliationListed::RunId))
                    .col(string_len(ReconciliationListed::OutTradeNo, 64))
                    .primary_key(
                        Index::create()
                            .col(ReconciliationListed::RunId)
                            .col(ReconciliationListed::OutTradeNo),
                    )
                    .foreign_key(&mut fk(
                        "fk_reconciliation_listed_run",
                        (ReconciliationListed::Table, ReconciliationListed::RunId),
                        (ReconciliationRuns::Table, ReconciliationRuns::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReconciliationListed::Table).to_owned()).await
    }
}
