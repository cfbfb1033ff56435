//! The seller's console (`/admin/`): its login sessions.
//!
//! `console_sessions`: one row per logged-in browser. The cookie holds a random token; the
//! row holds only its SHA-256 (`id`), so a copy of the table logs nobody in. Each session has
//! its own CSRF token, which every state-changing request of that browser must echo.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Id,
    UserId,
    CsrfToken,
    CreatedTime,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsoleSessions::Table)
                    .col(string_len(ConsoleSessions::Id, 64).primary_key())
                    .col(big_integer(ConsoleSessions::UserId))
                    .col(string_len(ConsoleSessions::CsrfToken, 64))
                    .col(timestamp_with_time_zone(ConsoleSessions::CreatedTime))
                    .col(timestamp_with_time_zone(ConsoleSessions::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_console_sessions_user",
                        (ConsoleSessions::Table, ConsoleSessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_console_sessions_user", ConsoleSessions::Table, &["user_id"])).await?;
        manager
            .create_index(index("ix_console_sessions_expires", ConsoleSessions::Table, &["expires_at"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ConsoleSessions::Table).to_owned()).await
    }
}
