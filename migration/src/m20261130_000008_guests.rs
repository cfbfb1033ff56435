//! Checkout with only an email (issue 9, part 3):
//!
//! - `guest_buyers`: the buyer record of a guest checkout, one per email address until an
//!   account confirms that address. Grants (`user_courses`), download links, order holds and
//!   idempotency keys are keyed by a buyer id, so a guest's orders belong to a `users` row
//!   made for the guest with role `guest`: inactive, without a password, a mobile number or
//!   an email (it cannot sign in: it is not an account). `email` is the guest's address while
//!   unclaimed (unique), cleared when an account confirms it and takes the purchases over
//!   (`claimed_by`, `claimed_at`): a later guest checkout with that address starts a new one.
//! - `orders.purchase_token_hash`: SHA-256 of the token of the order's private purchase page
//!   (`/p/<token>`), unique; the token itself is never stored.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{drop_index, fk, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GuestBuyers {
    Table,
    UserId,
    Email,
    ClaimedBy,
    ClaimedAt,
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
    PurchaseTokenHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GuestBuyers::Table)
                    .col(big_integer(GuestBuyers::UserId).primary_key())
                    .col(string_len_null(GuestBuyers::Email, 254))
                    .col(big_integer_null(GuestBuyers::ClaimedBy))
                    .col(timestamp_with_time_zone_null(GuestBuyers::ClaimedAt))
                    .col(timestamp_with_time_zone(GuestBuyers::CreatedTime))
                    .foreign_key(&mut fk(
                        "fk_guest_buyers_user",
                        (GuestBuyers::Table, GuestBuyers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_guest_buyers_claimed_by",
                        (GuestBuyers::Table, GuestBuyers::ClaimedBy),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique("uq_guest_buyers_email", GuestBuyers::Table, &["email"])).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(string_len_null(Orders::PurchaseTokenHash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("uq_orders_purchase_token_hash", Orders::Table, &["purchase_token_hash"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(drop_index("uq_orders_purchase_token_hash", Orders::Table)).await?;
        manager
            .alter_table(
                Table::alter().table(Orders::Table).drop_column(Orders::PurchaseTokenHash).to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(GuestBuyers::Table).to_owned()).await
    }
}
