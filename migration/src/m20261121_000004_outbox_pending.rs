//! The outbox worker's claim scans pending jobs only. Done and failed jobs stay in `outbox`
//! for audit, so with `ix_outbox_due (status, next_attempt_at)` the claim (`... WHERE status
//! = 'pending' ... ORDER BY id LIMIT n`) walked the primary key through every finished row:
//! 21 ms per claim with 42,000 done rows, and growing with the table. A partial index on `id`
//! of the pending rows keeps the claim proportional to the work waiting.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

use crate::helpers::{drop_index, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                index("ix_outbox_pending", Outbox::Table, &["id"])
                    .and_where(Expr::col(Outbox::Status).eq("pending"))
                    .take(),
            )
            .await?;
        manager.drop_index(drop_index("ix_outbox_due", Outbox::Table)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index("ix_outbox_due", Outbox::Table, &["status", "next_attempt_at"])).await?;
        manager.drop_index(drop_index("ix_outbox_pending", Outbox::Table)).await
    }
}
