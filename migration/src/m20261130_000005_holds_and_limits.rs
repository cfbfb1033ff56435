//! Two rules that must hold across processes, kept where every replica sees them:
//!
//! - `order_holds`: one open order per buyer and course. Creating an order takes a hold on
//!   each of its courses in the same statement (or transaction) that writes the order; the
//!   primary key `(user_id, course_id)` makes a second, concurrent order for the same course
//!   fail instead of being written beside the first. A hold whose order is no longer open is
//!   stale and is taken over by the next order (`shop_db::orders`).
//! - `rate_limits`: fixed-window counters of attempts (logins, registrations, SMS codes) per
//!   bucket and window, so that N replicas behind a load balancer allow the limit once, not N
//!   times.
//!
//! On Postgres also `course_shop_abort(text)`, which raises an error with the given message:
//! a one-statement fast path calls it to undo itself when it finds a case it must not decide
//! (the statement's writes are rolled back, and the caller takes the step-by-step path).
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderHolds {
    Table,
    UserId,
    CourseId,
    OrderId,
    CreatedTime,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Bucket,
    WindowStart,
    Hits,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

const ABORT_FUNCTION: &str = r"CREATE OR REPLACE FUNCTION course_shop_abort(reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'course_shop_abort: ' || reason;
END
$$";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderHolds::Table)
                    .col(big_integer(OrderHolds::UserId))
                    .col(big_integer(OrderHolds::CourseId))
                    .col(big_integer(OrderHolds::OrderId))
                    .col(timestamp_with_time_zone(OrderHolds::CreatedTime))
                    .primary_key(
                        Index::create()
                            .name("pk_order_holds")
                            .col(OrderHolds::UserId)
                            .col(OrderHolds::CourseId),
                    )
                    .foreign_key(&mut fk(
                        "fk_order_holds_order",
                        (OrderHolds::Table, OrderHolds::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_order_holds_order", OrderHolds::Table, &["order_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(string_len(RateLimits::Bucket, 128))
                    .col(timestamp_with_time_zone(RateLimits::WindowStart))
                    .col(integer(RateLimits::Hits))
                    .primary_key(
                        Index::create()
                            .name("pk_rate_limits")
                            .col(RateLimits::Bucket)
                            .col(RateLimits::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_rate_limits_window", RateLimits::Table, &["window_start"])).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(ABORT_FUNCTION).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS course_shop_abort(text)")
                .await?;
        }
        manager.drop_table(Table::drop().table(RateLimits::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OrderHolds::Table).to_owned()).await
    }
}
