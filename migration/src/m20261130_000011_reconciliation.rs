//! Reconciliation against the providers' statements (对账单).
//!
//! - `reconciliation_runs`: one row per run of a provider's statement of a day (Beijing
//!   time): the counts of lines, matched, applied and flagged, the money in and out the
//!   statement lists, and the error that refused the statement, if any.
//! - `reconciliation_lines`: what a run applied or flagged (matched lines are only counted),
//!   one row each: `outcome` (`applied` / `flagged`), `kind` (`payment`, `refund`,
//!   `unknown_trade`, `amount_differs`, `not_confirmed`, `refund_exceeds`, `not_listed`), the
//!   provider's trade number, our order number, the amount and a note.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReconciliationRuns {
    Table,
    Id,
    Provider,
    StatementDate,
    StartedAt,
    FinishedAt,
    Lines,
    Matched,
    Applied,
    Flagged,
    MoneyInFen,
    MoneyOutFen,
    Error,
}

#[derive(DeriveIden)]
enum ReconciliationLines {
    Table,
    Id,
    RunId,
    Outcome,
    Kind,
    TradeNo,
    OutTradeNo,
    AmountFen,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReconciliationRuns::Table)
                    .col(big_pk_auto(ReconciliationRuns::Id))
                    .col(string_len(ReconciliationRuns::Provider, 16))
                    .col(string_len(ReconciliationRuns::StatementDate, 10))
                    .col(timestamp_with_time_zone(ReconciliationRuns::StartedAt))
                    .col(timestamp_with_time_zone(ReconciliationRuns::FinishedAt))
                    .col(big_integer(ReconciliationRuns::Lines).default(0))
                    .col(big_integer(ReconciliationRuns::Matched).default(0))
                    .col(big_integer(ReconciliationRuns::Applied).default(0))
                    .col(big_integer(ReconciliationRuns::Flagged).default(0))
                    .col(big_integer(ReconciliationRuns::MoneyInFen).default(0))
                    .col(big_integer(ReconciliationRuns::MoneyOutFen).default(0))
                    .col(text_null(ReconciliationRuns::Error))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_reconciliation_runs_day",
                ReconciliationRuns::Table,
                &["provider", "statement_date"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReconciliationLines::Table)
                    .col(big_pk_auto(ReconciliationLines::Id))
                    .col(big_integer(ReconciliationLines::RunId))
                    .col(string_len(ReconciliationLines::Outcome, 16))
                    .col(string_len(ReconciliationLines::Kind, 32))
                    .col(string_len(ReconciliationLines::TradeNo, 64))
                    .col(string_len(ReconciliationLines::OutTradeNo, 64))
                    .col(big_integer(ReconciliationLines::AmountFen))
                    .col(text(ReconciliationLines::Note))
                    .foreign_key(&mut fk(
                        "fk_reconciliation_lines_run",
                        (ReconciliationLines::Table, ReconciliationLines::RunId),
                        (ReconciliationRuns::Table, ReconciliationRuns::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_reconciliation_lines_run", ReconciliationLines::Table, &["run_id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReconciliationLines::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReconciliationRuns::Table).to_owned()).await
    }
}
