//! The checkout funnel of the seller's console.
//!
//! - `course_views`: one row per visitor, course and shop day (Beijing time): `visitor` is a
//!   keyed hash of the client's address and user agent with a key that changes every day, so
//!   nothing personal is stored and yesterday's visitors cannot be told from today's. The
//!   primary key counts a visitor once per course and day; `ref_tag` is the `ref` of the
//!   first view (a campaign or page variant; empty without one).
//! - `order_refs`: the `ref` an order was placed with, so the funnel compares variants.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CourseViews {
    Table,
    Day,
    CourseId,
    Visitor,
    RefTag,
}

#[derive(DeriveIden)]
enum OrderRefs {
    Table,
    OrderId,
    RefTag,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CourseViews::Table)
                    .col(string_len(CourseViews::Day, 10))
                    .col(big_integer(CourseViews::CourseId))
                    .col(string_len(CourseViews::Visitor, 64))
                    .col(string_len(CourseViews::RefTag, 64).default(""))
                    .primary_key(
                        Index::create()
                            .name("pk_course_views")
                            .col(CourseViews::Day)
                            .col(CourseViews::CourseId)
                            .col(CourseViews::Visitor),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_course_views_course", CourseViews::Table, &["course_id", "day"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderRefs::Table)
                    .col(big_integer(OrderRefs::OrderId).primary_key())
                    .col(string_len(OrderRefs::RefTag, 64))
                    .foreign_key(&mut fk(
                        "fk_order_refs_order",
                        (OrderRefs::Table, OrderRefs::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OrderRefs::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CourseViews::Table).to_owned()).await
    }
}
