//! Schema history of course-shop, as sea-orm-migration steps.
//!
//! Migrations are frozen history: they never import the entities of `shop-db`, and an
//! applied migration is never edited; changes come as new steps. Constraints and indexes
//! carry explicit names (`uq_*`, `fk_*`, `ix_*`) so that violations can be mapped to
//! client errors by name.
pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261121_000001_initial;
mod m20261121_000002_payments;
mod m20261121_000003_delivery;
mod m20261121_000004_outbox_pending;
mod m20261130_000005_holds_and_limits;
mod m20261130_000006_buyers;
mod m20261130_000007_console_sessions;
mod m20261130_000007_console_views;
mod m20261130_000008_guests;
mod m20261130_000011_reconciliation;
mod m20261130_000012_reconciliation_listed;
mod m20261201_000013_course_revisions;
mod m20261201_000014_learner_changes;
mod m20261201_000015_order_indexes;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial::Migration),
            Box::new(m20261121_000002_payments::Migration),
            Box::new(m20261121_000003_delivery::Migration),
            Box::new(m20261121_000004_outbox_pending::Migration),
            Box::new(m20261130_000005_holds_and_limits::Migration),
            Box::new(m20261130_000006_buyers::Migration),
            Box::new(m20261130_000007_console_sessions::Migration),
            Box::new(m20261130_000007_console_views::Migration),
            Box::new(m20261130_000008_guests::Migration),
            Box::new(m20261130_000011_reconciliation::Migration),
            Box::new(m20261130_000012_reconciliation_listed::Migration),
            Box::new(m20261201_000013_course_revisions::Migration),
            Box::new(m20261201_000014_learner_changes::Migration),
            Box::new(m20261201_000015_order_indexes::Migration),
        ]
    }
}
