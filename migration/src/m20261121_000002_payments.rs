//! Payments: order expiry, idempotency and refund columns; the audit log of every Alipay
//! notify; refunds; the transactional outbox of side effects.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{drop_index, fk, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    ExpiresAt,
    RefundedFen,
    PayUrl,
    IdempotencyKey,
    RequestHash,
    LastQueryAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum PaymentNotifies {
    Table,
    Id,
    ReceivedAt,
    OutTradeNo,
    NotifyId,
    TradeStatus,
    Verdict,
    Reason,
    RawBody,
    RemoteAddr,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrderId,
    OutRequestNo,
    AmountFen,
    Reason,
    Status,
    RefundFeeFen,
    LastError,
    CreatedTime,
    UpdatedTime,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Kind,
    Payload,
    DedupeKey,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedTime,
    UpdatedTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            timestamp_with_time_zone_null(Orders::ExpiresAt),
            big_integer(Orders::RefundedFen).default(0).take(),
            text_null(Orders::PayUrl),
            string_len_null(Orders::IdempotencyKey, 255),
            string_len_null(Orders::RequestHash, 64),
            timestamp_with_time_zone_null(Orders::LastQueryAt),
            timestamp_with_time_zone_null(Orders::ClosedAt),
        ] {
            manager.alter_table(Table::alter().table(Orders::Table).add_column(col).to_owned()).await?;
        }
        manager
            .create_index(unique(
                "uq_orders_user_idempotency_key",
                Orders::Table,
                &["user_id", "idempotency_key"],
            ))
            .await?;
        manager
            .create_index(index("ix_orders_user_request_hash", Orders::Table, &["user_id", "request_hash"]))
            .await?;
        manager
            .create_index(index("ix_orders_status_expires", Orders::Table, &["order_status", "expires_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaymentNotifies::Table)
                    .col(big_pk_auto(PaymentNotifies::Id))
                    .col(timestamp_with_time_zone(PaymentNotifies::ReceivedAt))
                    .col(string_len_null(PaymentNotifies::OutTradeNo, 64))
                    .col(string_len_null(PaymentNotifies::NotifyId, 128))
                    .col(string_len_null(PaymentNotifies::TradeStatus, 32))
                    .col(string_len(PaymentNotifies::Verdict, 16))
                    .col(text(PaymentNotifies::Reason))
                    .col(text(PaymentNotifies::RawBody))
                    .col(string_len(PaymentNotifies::RemoteAddr, 64).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_payment_notifies_out_trade_no",
                PaymentNotifies::Table,
                &["out_trade_no", "received_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(big_pk_auto(Refunds::Id))
                    .col(big_integer(Refunds::OrderId))
                    .col(string_len(Refunds::OutRequestNo, 64))
                    .col(big_integer(Refunds::AmountFen))
                    .col(string_len(Refunds::Reason, 256).default(""))
                    .col(string_len(Refunds::Status, 16).default("pending"))
                    .col(big_integer_null(Refunds::RefundFeeFen))
                    .col(text_null(Refunds::LastError))
                    .col(timestamp_with_time_zone(Refunds::CreatedTime))
                    .col(timestamp_with_time_zone(Refunds::UpdatedTime))
                    .check(Expr::col(Refunds::AmountFen).gt(0))
                    .foreign_key(&mut fk(
                        "fk_refunds_order",
                        (Refunds::Table, Refunds::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("uq_refunds_out_request_no", Refunds::Table, &["out_request_no"]))
            .await?;
        manager.create_index(index("ix_refunds_order", Refunds::Table, &["order_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Id))
                    .col(string_len(Outbox::Kind, 32))
                    .col(text(Outbox::Payload))
                    .col(string_len(Outbox::DedupeKey, 128))
                    .col(string_len(Outbox::Status, 16).default("pending"))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Outbox::LockedUntil))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedTime))
                    .col(timestamp_with_time_zone(Outbox::UpdatedTime))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique("uq_outbox_dedupe_key", Outbox::Table, &["dedupe_key"])).await?;
        manager.create_index(index("ix_outbox_due", Outbox::Table, &["status", "next_attempt_at"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [Outbox::Table.into_iden(), Refunds::Table.into_iden(), PaymentNotifies::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        for name in
            ["uq_orders_user_idempotency_key", "ix_orders_user_request_hash", "ix_orders_status_expires"]
        {
            manager.drop_index(drop_index(name, Orders::Table)).await?;
        }
        for col in [
            Orders::ExpiresAt,
            Orders::RefundedFen,
            Orders::PayUrl,
            Orders::IdempotencyKey,
            Orders::RequestHash,
            Orders::LastQueryAt,
            Orders::ClosedAt,
        ] {
            manager.alter_table(Table::alter().table(Orders::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
