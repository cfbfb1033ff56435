//! Fewer index entries per order and per payment (issue 10 §3; measurements and the plans of
//! the queries concerned in `docs/benchmarks.md`, "Postgres's share of an order and of a
//! payment").
//!
//! `orders` had eight indexes, and a payment changes `order_status`, an indexed column, so its
//! UPDATE cannot be a heap-only (HOT) update: it added an entry to each. Now:
//!
//! - `ix_orders_user_created (user_id, created_time)` is gone: `ix_orders_user_request_hash
//!   (user_id, request_hash)` serves every lookup by buyer (a buyer's orders, sorted: a buyer
//!   has few; a guest's orders when an account claims them; the console's filter by buyer) as
//!   well as the reusable order.
//! - `uq_orders_user_idempotency_key (user_id, idempotency_key)` holds only the orders that
//!   have a key (`WHERE idempotency_key IS NOT NULL`, the only ones its uniqueness is about):
//!   an order made without one adds nothing to it.
//! - `ix_orders_status_expires (order_status, expires_at)` becomes `ix_orders_unpaid_expires
//!   (expires_at) WHERE order_status = 0`: the expiry sweep's index holds the unpaid orders
//!   only, and paying an order adds nothing to it (the sweep's query writes the status as a
//!   literal so that a generic plan, and SQLite, can use it).
//! - `ix_order_holds_order (order_id)`: no query reads holds by order (they are read by buyer
//!   and course, the primary key). On Postgres the hold's foreign key to its order goes too: a
//!   hold is written in the statement (or transaction) that writes its order, it guards no
//!   money and no access (a hold whose order is not open is stale and taken over), and orders
//!   are never deleted. SQLite cannot drop a constraint without rebuilding the table; it keeps
//!   it there.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::helpers::{drop_index, fk, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    OrderStatus,
    IdempotencyKey,
}

#[derive(DeriveIden)]
enum OrderHolds {
    Table,
    OrderId,
}

/// The unpaid status's code (`OrderStatus::Unpaid`; migrations do not import the domain).
const UNPAID: i16 = 0;

const IDEMPOTENCY_KEY: &str = "uq_orders_user_idempotency_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                index("ix_orders_unpaid_expires", Orders::Table, &["expires_at"])
                    .and_where(Expr::col(Orders::OrderStatus).eq(UNPAID))
                    .take(),
            )
            .await?;
        for name in ["ix_orders_status_expires", "ix_orders_user_created", IDEMPOTENCY_KEY] {
            manager.drop_index(drop_index(name, Orders::Table)).await?;
        }
        manager
            .create_index(
                unique(IDEMPOTENCY_KEY, Orders::Table, &["user_id", "idempotency_key"])
                    .and_where(Expr::col(Orders::IdempotencyKey).is_not_null())
                    .take(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .drop_foreign_key(
                    ForeignKey::drop().name("fk_order_holds_order").table(OrderHolds::Table).to_owned(),
                )
                .await?;
        }
        manager.drop_index(drop_index("ix_order_holds_order", OrderHolds::Table)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index("ix_order_holds_order", OrderHolds::Table, &["order_id"])).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .create_foreign_key(fk(
                    "fk_order_holds_order",
                    (OrderHolds::Table, OrderHolds::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .await?;
        }
        manager.drop_index(drop_index(IDEMPOTENCY_KEY, Orders::Table)).await?;
        manager.create_index(unique(IDEMPOTENCY_KEY, Orders::Table, &["user_id", "idempotency_key"])).await?;
        manager
            .create_index(index("ix_orders_user_created", Orders::Table, &["user_id", "created_time"]))
            .await?;
        manager
            .create_index(index("ix_orders_status_expires", Orders::Table, &["order_status", "expires_at"]))
            .await?;
        manager.drop_index(drop_index("ix_orders_unpaid_expires", Orders::Table)).await
    }
}
