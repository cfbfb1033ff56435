//! Every buyer is served (issue 9):
//!
//! - `email_codes`: one-time codes that confirm a new email address of an account, stored as
//!   keyed hashes with the address they confirm; expiring, single-use, attempt-limited, like
//!   `sms_codes`.
//! - `orders.delivery_email`: where an order's delivery goes for a buyer without a confirmed
//!   email (given at checkout).
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EmailCodes {
    Table,
    Id,
    UserId,
    Email,
    CodeHash,
    ExpiresAt,
    UsedAt,
    Attempts,
    CreatedTime,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    DeliveryEmail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailCodes::Table)
                    .col(big_pk_auto(EmailCodes::Id))
                    .col(big_integer(EmailCodes::UserId))
                    .col(string_len(EmailCodes::Email, 254))
                    .col(string_len(EmailCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone(EmailCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailCodes::UsedAt))
                    .col(integer(EmailCodes::Attempts).default(0))
                    .col(timestamp_with_time_zone(EmailCodes::CreatedTime))
                    .foreign_key(&mut fk(
                        "fk_email_codes_user",
                        (EmailCodes::Table, EmailCodes::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_email_codes_user_created",
                EmailCodes::Table,
                &["user_id", "created_time"],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(string_len_null(Orders::DeliveryEmail, 254))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Orders::Table).drop_column(Orders::DeliveryEmail).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(EmailCodes::Table).to_owned()).await
    }
}
