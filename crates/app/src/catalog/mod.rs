//! The catalog: categories, teachers, courses, chapters, sections and banners.
//!
//! Reads are served from an immutable in-memory [`Snapshot`] of the whole public catalog,
//! swapped atomically when the database's catalog revision changes (every catalog write
//! bumps it in its own transaction). A catalog of thousands of courses is a few megabytes,
//! and search, listing and detail then cost microseconds on Postgres and SQLite alike; see
//! `docs/search.md` for the design and `docs/benchmarks.md` for the figures.
mod demo;
pub mod edit;
mod import;
pub mod remove;
mod snapshot;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sea_orm::{DatabaseConnection, TransactionTrait};

pub use demo::{DEMO_CATALOG_JSON, write_demo_media};
pub use import::{ImportSummary, import_catalog_json};
pub use snapshot::{
    BannerView, CategoryView, ChapterView, CourseView, Ordering, Page, SectionBrief, SectionView, Snapshot,
    TeacherView,
};

use crate::error::AppResult;

/// The live catalog of one server process.
pub struct Catalog {
    current: ArcSwap<Snapshot>,
}

impl Catalog {
    /// Loads the catalog from the database.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(db: &DatabaseConnection) -> AppResult<Self> {
        let snapshot = load_snapshot(db).await?;
        Ok(Catalog { current: ArcSwap::from_pointee(snapshot) })
    }

    /// The current snapshot; cheap, and stays valid while held.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Reloads when the database revision differs from the snapshot's. Returns whether it
    /// reloaded.
    ///
    /// # Errors
    /// Database errors (the old snapshot stays in place).
    pub async fn refresh(&self, db: &DatabaseConnection) -> AppResult<bool> {
        let revision = shop_db::catalog::revision(db).await?;
        if revision == self.current.load().revision() {
            return Ok(false);
        }
        self.reload(db).await?;
        Ok(true)
    }

    /// Reloads unconditionally.
    ///
    /// # Errors
    /// Database errors (the old snapshot stays in place).
    pub async fn reload(&self, db: &DatabaseConnection) -> AppResult<()> {
        let snapshot = load_snapshot(db).await?;
        tracing::info!(
            catalog.revision = snapshot.revision(),
            catalog.courses = snapshot.course_count(),
            "catalog loaded"
        );
        self.current.store(Arc::new(snapshot));
        Ok(())
    }

    /// Checks the revision every `every` until the process ends, and reloads at least every
    /// `full_every` whatever the revision (for figures such as learner counts, which change
    /// with every payment without bumping the revision).
    pub fn spawn_refresher(
        self: Arc<Self>,
        db: DatabaseConnection,
        every: Duration,
        full_every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_full = tokio::time::Instant::now();
            loop {
                tick.tick().await;
                let result = if last_full.elapsed() >= full_every {
                    last_full = tokio::time::Instant::now();
                    self.reload(&db).await.map(|()| true)
                } else {
                    self.refresh(&db).await
                };
                if let Err(e) = result {
                    tracing::warn!(error = ?e, "catalog refresh failed; serving the previous snapshot");
                }
            }
        })
    }
}

async fn load_snapshot(db: &DatabaseConnection) -> AppResult<Snapshot> {
    // One transaction: the revision and the rows belong together.
    let txn = db.begin().await?;
    let revision = shop_db::catalog::revision(&txn).await?;
    let rows = shop_db::catalog::load_all(&txn).await?;
    txn.commit().await?;
    Ok(Snapshot::build(revision, rows, chrono::Utc::now()))
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;
    use shop_domain::Money;
    use shop_domain::money::MAX_FEN;

    use super::*;

    const CATALOG: &str = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[{"id":1,"name":"C","teacher_id":1,"price":"9.90","period":30}]}"#;

    /// A course price stored out of range fails the load (a running process keeps serving
    /// its previous snapshot), instead of putting the course on sale for nothing.
    #[tokio::test]
    async fn a_corrupt_price_fails_the_load_instead_of_selling_for_free() {
        for (db, _) in crate::test_support::seeded_on_both_backends(CATALOG).await {
            let backend = db.get_database_backend();
            let catalog = Catalog::load(&db).await.expect("a sound catalog loads");
            let price = catalog.snapshot().course(1).map(|c| c.price);
            assert_eq!(price, Money::from_fen(990), "{backend:?}");
            db.execute_unprepared(&format!("UPDATE courses SET price_fen = {}", MAX_FEN + 1))
                .await
                .expect("raw write");
            let loaded = Catalog::load(&db).await.map(|c| c.snapshot().course(1).map(|c| c.price));
            assert!(loaded.is_err(), "{backend:?}: {loaded:?}");
            assert!(catalog.reload(&db).await.is_err(), "{backend:?}");
            assert_eq!(
                catalog.snapshot().course(1).map(|c| c.price),
                price,
                "{backend:?}: the old snapshot stays"
            );
        }
    }
}
