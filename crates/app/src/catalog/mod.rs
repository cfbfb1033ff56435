//! The catalog: categories, teachers, courses, chapters, sections and banners.
//!
//! Reads are served from an immutable in-memory [`Snapshot`] of the public courses (with
//! their first sections, not their chapters) and a suffix array of their names, swapped
//! atomically when the database's catalog revision changes (every catalog write bumps it in
//! its own transaction, noting the courses it changed): an update reads only those courses
//! and indexes only their names. Learner counts change without a catalog write: the same
//! refresh reads the counts of the courses noted in `learner_changes` since its last read
//! ([`learners`]). A course's chapters are read from the database. See `docs/search.md` for the design and `docs/benchmarks.md`
//! for the figures.
mod demo;
pub mod edit;
mod import;
mod index;
mod learners;
pub mod remove;
mod snapshot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use sea_orm::{DatabaseConnection, TransactionTrait};

pub use demo::{DEMO_CATALOG_JSON, write_demo_media};
pub use import::{ImportSummary, import_catalog_json};
pub use snapshot::{
    BannerView, CARD_SECTIONS, CategoryView, ChapterView, CourseView, Ordering, Page, SectionBrief,
    SectionView, Snapshot, TeacherView,
};

use crate::error::{AppError, AppResult};
use learners::LearnerCursor;

/// The live catalog of one server process.
pub struct Catalog {
    current: ArcSwap<Snapshot>,
    /// Held by whatever swaps the snapshot (updates, learner counts, reloads), one at a time,
    /// so none discards another's; and where this process is in `learner_changes`.
    writer: tokio::sync::Mutex<LearnerCursor>,
}

/// `learner_changes` rows per query.
const LEARNER_CHANGES_BATCH: u64 = 10_000;

impl Catalog {
    /// Loads the catalog from the database.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(db: &DatabaseConnection) -> AppResult<Self> {
        let (snapshot, learners) = load_snapshot(db).await?;
        Ok(Catalog {
            current: ArcSwap::from_pointee(snapshot),
            writer: tokio::sync::Mutex::new(LearnerCursor::new(learners)),
        })
    }

    /// The current snapshot; cheap, and stays valid while held.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The chapters of a public course (one in the current snapshot) with their public
    /// sections, read from the database: the snapshot keeps only each course's first
    /// sections.
    ///
    /// # Errors
    /// `NotFound("course")`; database errors.
    pub async fn chapters(&self, db: &DatabaseConnection, course_id: i64) -> AppResult<Vec<ChapterView>> {
        if self.current.load().course(course_id).is_none() {
            return Err(AppError::NotFound("course"));
        }
        Ok(snapshot::chapter_views(shop_db::catalog::public_chapters(db, course_id).await?))
    }

    /// Brings the snapshot up to date with the database: the catalog writes since its
    /// revision ([`Catalog::update`]) and the learner counts changed since the last read
    /// ([`Catalog::read_learner_changes`]). Returns whether it changed.
    ///
    /// # Errors
    /// Database errors (the old snapshot stays in place, or one with what did not fail).
    pub async fn refresh(&self, db: &DatabaseConnection) -> AppResult<bool> {
        let mut cursor = self.writer.lock().await;
        let updated = self.update(db).await;
        let learners = self.read_learner_changes(db, &mut cursor).await;
        Ok(updated? | learners?)
    }

    /// Updates the snapshot when the database revision differs from its own: with the
    /// courses changed since ([`Snapshot::update`]), or from every row after a write that
    /// asks for it (an import) or when most courses changed. Returns whether it changed.
    /// The caller holds `writer`.
    async fn update(&self, db: &DatabaseConnection) -> AppResult<bool> {
        let current = self.current.load_full();
        let outside = shop_db::catalog::revisions(db).await?;
        if outside.revision == current.revision() {
            return Ok(false);
        }
        if outside.full_revision > current.revision() {
            self.load_and_store(db).await?;
            return Ok(true);
        }
        // One transaction: the revision and the rows belong together. A write committed
        // after the revision was read may be read too; it is read again at the next update.
        let txn = db.begin().await?;
        let started = std::time::Instant::now();
        let revisions = shop_db::catalog::revisions(&txn).await?;
        let changed = shop_db::catalog::changed_courses(&txn, current.revision()).await?;
        if revisions.full_revision > current.revision() || changed.len() > current.course_count() / 2 + 1_000
        {
            txn.rollback().await?;
            self.load_and_store(db).await?;
            return Ok(true);
        }
        let rows = shop_db::catalog::load_changes(&txn, &changed, CARD_SECTIONS).await?;
        txn.commit().await?;
        let read = started.elapsed();
        let snapshot = current.update(revisions.revision, rows, &changed);
        tracing::info!(
            catalog.revision = snapshot.revision(),
            catalog.courses = snapshot.course_count(),
            catalog.changed = changed.len(),
            catalog.recent_names = snapshot.recent_names(),
            catalog.read_ms = read.as_millis() as u64,
            catalog.build_ms = (started.elapsed() - read).as_millis() as u64,
            catalog.name_index_bytes = snapshot.name_index_bytes(),
            "catalog updated"
        );
        self.current.store(Arc::new(snapshot));
        Ok(true)
    }

    /// Reads the learner counts of the courses noted in `learner_changes` since this
    /// process's last read (in the transactions that changed them: `shop_db::orders::
    /// add_students`) and swaps in a snapshot with them when one changed (no index is
    /// touched). A few indexed reads, nothing when no payment came. The caller holds
    /// `writer`; the cursor moves only when the snapshot has the counts.
    async fn read_learner_changes(
        &self,
        db: &DatabaseConnection,
        cursor: &mut LearnerCursor,
    ) -> AppResult<bool> {
        let started = Instant::now();
        let mut next = cursor.clone();
        let mut courses = std::collections::BTreeSet::new();
        let mut rows = 0;
        loop {
            let batch = shop_db::catalog::learner_changes_after(
                db,
                next.after(),
                &next.awaited(),
                LEARNER_CHANGES_BATCH,
            )
            .await?;
            let more = batch.len() as u64 == LEARNER_CHANGES_BATCH;
            rows += batch.len();
            next.saw(batch.iter().map(|(id, _)| *id), Instant::now());
            courses.extend(batch.into_iter().map(|(_, course)| course));
            if !more {
                break;
            }
        }
        let courses: Vec<i64> = courses.into_iter().collect();
        let counts = shop_db::catalog::learner_counts_of(db, &courses).await?;
        let read = started.elapsed();
        let swapped = self.swap_learners(&counts);
        *cursor = next;
        if swapped {
            tracing::info!(
                catalog.revision = self.current.load().revision(),
                catalog.changes = rows,
                catalog.courses = courses.len(),
                catalog.awaited = cursor.awaited().len(),
                catalog.read_ms = read.as_millis() as u64,
                catalog.build_ms = (started.elapsed() - read).as_millis() as u64,
                "catalog learners updated"
            );
        }
        Ok(swapped)
    }

    /// Swaps in a snapshot with the learner counts `counts` when one differs from the
    /// current one's. The caller holds `writer`.
    fn swap_learners(&self, counts: &[(i64, i32)]) -> bool {
        let Some(snapshot) = self.current.load().with_learners(counts) else {
            return false;
        };
        self.current.store(Arc::new(snapshot));
        true
    }

    /// Reads every public course's learner count and swaps in a snapshot with them when one
    /// changed (no index is rebuilt): the backstop of [`Catalog::refresh`]'s reads of the
    /// changed counts, for a change they missed (see `learners`). Then prunes the
    /// `learner_changes` rows every server has read. Returns whether the snapshot changed.
    ///
    /// # Errors
    /// Database errors (the old snapshot stays in place).
    pub async fn refresh_learners(&self, db: &DatabaseConnection) -> AppResult<bool> {
        let mut cursor = self.writer.lock().await;
        let mark = cursor.after();
        let started = Instant::now();
        let counts = shop_db::catalog::learner_counts(db).await?;
        let read = started.elapsed();
        let swapped = self.swap_learners(&counts);
        if swapped {
            tracing::info!(
                catalog.revision = self.current.load().revision(),
                catalog.courses = counts.len(),
                catalog.read_ms = read.as_millis() as u64,
                catalog.build_ms = (started.elapsed() - read).as_millis() as u64,
                "catalog learners read whole"
            );
        }
        if let Some(up_to) = cursor.prunable(mark, Instant::now()) {
            shop_db::catalog::prune_learner_changes(db, up_to).await?;
        }
        Ok(swapped)
    }

    /// Reloads unconditionally.
    ///
    /// # Errors
    /// Database errors (the old snapshot stays in place).
    pub async fn reload(&self, db: &DatabaseConnection) -> AppResult<()> {
        let _writer = self.writer.lock().await;
        self.load_and_store(db).await
    }

    /// Loads a snapshot from every row and swaps it in. The caller holds `writer` (whose
    /// cursor stays: the rows read before it are read again, harmlessly).
    async fn load_and_store(&self, db: &DatabaseConnection) -> AppResult<()> {
        let (snapshot, _) = load_snapshot(db).await?;
        self.current.store(Arc::new(snapshot));
        Ok(())
    }

    /// Until the process ends: twice per `every`, checks the revision and the learner
    /// changes and updates the snapshot ([`Catalog::refresh`]), and twice per
    /// `learners_every` reads every learner count ([`Catalog::refresh_learners`]), one at a
    /// time: a change is visible within `every` when an update takes less than half of it.
    pub fn spawn_refresher(
        self: Arc<Self>,
        db: DatabaseConnection,
        every: Duration,
        learners_every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every / 2);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut learners = tokio::time::interval(learners_every / 2);
            learners.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let result = tokio::select! {
                    _ = tick.tick() => self.refresh(&db).await.map(drop),
                    _ = learners.tick() => self.refresh_learners(&db).await.map(drop),
                };
                if let Err(e) = result {
                    tracing::warn!(error = ?e, "catalog refresh failed; serving the previous snapshot");
                }
            }
        })
    }
}

/// A snapshot of every row, and the last `learner_changes` id read before the rows (the
/// counts read include those changes; a later one may be read twice, harmlessly).
async fn load_snapshot(db: &DatabaseConnection) -> AppResult<(Snapshot, i64)> {
    // One transaction: the revision and the rows belong together.
    let txn = db.begin().await?;
    let learners = shop_db::catalog::last_learner_change(&txn).await?;
    let revision = shop_db::catalog::revision(&txn).await?;
    let started = std::time::Instant::now();
    let rows = shop_db::catalog::load_listing(&txn, CARD_SECTIONS).await?;
    txn.commit().await?;
    let read = started.elapsed();
    let snapshot = Snapshot::build(revision, rows, chrono::Utc::now());
    tracing::info!(
        catalog.revision = snapshot.revision(),
        catalog.courses = snapshot.course_count(),
        catalog.read_ms = read.as_millis() as u64,
        catalog.build_ms = (started.elapsed() - read).as_millis() as u64,
        catalog.name_index_bytes = snapshot.name_index_bytes(),
        "catalog loaded"
    );
    Ok((snapshot, learners))
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;
    use shop_domain::Money;
    use shop_domain::money::MAX_FEN;

    use super::*;

    const CATALOG: &str = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[{"id":1,"name":"C","teacher_id":1,"price":"9.90","period":30}]}"#;

    /// A course's card shows its first [`CARD_SECTIONS`] public sections in chapter order, then
    /// section order (priority, then id), without those of hidden chapters; the chapter
    /// endpoint's chapters, read from the database, show every public section in that order.
    #[tokio::test]
    async fn first_sections_and_chapters_keep_the_display_order() {
        let catalog_json = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[
            {"id":1,"name":"C","teacher_id":1,"price":"9.90","period":30,"chapters":[
              {"id":10,"chapter":2,"name":"second","sections":[
                {"id":100,"name":"s100","orders":2},{"id":101,"name":"s101","orders":1},
                {"id":102,"name":"s102","orders":3}]},
              {"id":11,"chapter":1,"name":"first","sections":[
                {"id":112,"name":"s112","orders":5},{"id":111,"name":"s111","orders":5},
                {"id":110,"name":"s110","orders":0,"is_show":false}]},
              {"id":12,"chapter":0,"name":"hidden","is_show":false,"sections":[
                {"id":120,"name":"s120","orders":0}]}]},
            {"id":2,"name":"D","teacher_id":1,"price":"1","period":30}]}"#;
        for (db, _) in crate::test_support::seeded_on_both_backends(catalog_json).await {
            let backend = db.get_database_backend();
            let catalog = Catalog::load(&db).await.expect("loads");
            let snapshot = catalog.snapshot();
            let card: Vec<i64> =
                snapshot.course(1).expect("public").section_list.iter().map(|s| s.id).collect();
            assert_eq!(card, vec![111, 112, 101, 100], "{backend:?}");
            assert!(snapshot.course(2).expect("public").section_list.is_empty(), "{backend:?}");
            let chapters = catalog.chapters(&db, 1).await.expect("chapters");
            let outline: Vec<(i64, Vec<i64>)> =
                chapters.iter().map(|c| (c.id, c.coursesections.iter().map(|s| s.id).collect())).collect();
            assert_eq!(outline, vec![(11, vec![111, 112]), (10, vec![101, 100, 102])], "{backend:?}");
            assert!(catalog.chapters(&db, 2).await.expect("none").is_empty(), "{backend:?}");
            assert!(
                matches!(catalog.chapters(&db, 3).await, Err(AppError::NotFound("course"))),
                "{backend:?}"
            );
        }
    }

    /// The courses read in batches are those of one query, in display order (priority, then
    /// id), whatever the batch size, with priorities shared across batch boundaries.
    #[tokio::test]
    async fn courses_in_batches_are_read_whole_and_in_order() {
        let courses: Vec<String> = [(1, 5), (2, 3), (3, 5), (4, 1), (5, 3), (6, 5), (7, 0)]
            .iter()
            .map(|(id, orders)| {
                format!(
                    r#"{{"id":{id},"name":"C{id}","teacher_id":1,"price":"1","period":30,"orders":{orders}}}"#
                )
            })
            .collect();
        let catalog_json =
            format!(r#"{{"teachers":[{{"id":1,"name":"T"}}],"courses":[{}]}}"#, courses.join(","));
        for (db, _) in crate::test_support::seeded_on_both_backends(&catalog_json).await {
            let backend = db.get_database_backend();
            for batch in [1, 2, 3, 7, 100] {
                let ids: Vec<i64> = shop_db::catalog::courses_in_batches(&db, batch)
                    .await
                    .expect("read")
                    .iter()
                    .map(|c| c.id)
                    .collect();
                assert_eq!(ids, vec![7, 4, 2, 5, 1, 3, 6], "{backend:?}, batches of {batch}");
            }
        }
    }

    /// Learner counts noted in `learner_changes` reach the snapshot at the next refresh, even
    /// one whose transaction commits after one that took a later id (Postgres hands ids out
    /// at the insert; SQLite commits one writer at a time): its id is awaited meanwhile.
    #[tokio::test]
    async fn learner_counts_are_read_from_the_changes_even_when_committed_late() {
        let catalog_json = r#"{"teachers":[{"id":1,"name":"T"}],"courses":[
            {"id":1,"name":"C","teacher_id":1,"price":"1","period":30},
            {"id":2,"name":"D","teacher_id":1,"price":"1","period":30}]}"#;
        for (db, _) in crate::test_support::seeded_on_both_backends(catalog_json).await {
            let backend = db.get_database_backend();
            let concurrent = backend == sea_orm::DbBackend::Postgres;
            let catalog = Catalog::load(&db).await.expect("loads");
            let students = |id| catalog.snapshot().course(id).map(|c| c.students);
            assert!(!catalog.refresh(&db).await.expect("refresh"), "{backend:?}: nothing new");

            let late = db.begin().await.expect("begin");
            shop_db::orders::add_students(&late, &[(1, 2)]).await.expect("learners");
            let mut late = Some(late);
            if !concurrent && let Some(late) = late.take() {
                late.commit().await.expect("commit");
            }
            shop_db::orders::add_students(&db, &[(2, 5)]).await.expect("learners");
            assert!(catalog.refresh(&db).await.expect("refresh"), "{backend:?}");
            assert_eq!(students(2), Some(5), "{backend:?}");
            if concurrent {
                assert_eq!(students(1), Some(0), "{backend:?}: not committed yet");
                assert_eq!(catalog.writer.lock().await.awaited().len(), 1, "{backend:?}");
                late.take().expect("open").commit().await.expect("commit");
                assert!(catalog.refresh(&db).await.expect("refresh"), "{backend:?}");
                assert!(catalog.writer.lock().await.awaited().is_empty(), "{backend:?}");
            }
            assert_eq!(students(1), Some(2), "{backend:?}");
            assert!(!catalog.refresh(&db).await.expect("refresh"), "{backend:?}: read once");

            // The read of every count prunes nothing younger than its retention.
            assert!(!catalog.refresh_learners(&db).await.expect("whole"), "{backend:?}");
            assert_eq!(shop_db::catalog::last_learner_change(&db).await.expect("last"), 2, "{backend:?}");
            assert_eq!(
                shop_db::catalog::prune_learner_changes(&db, 1).await.expect("prune"),
                1,
                "{backend:?}"
            );
            // A server loaded after a prune starts after the last id; ids are never given twice.
            assert_eq!(
                shop_db::catalog::prune_learner_changes(&db, 2).await.expect("prune"),
                1,
                "{backend:?}"
            );
            let later = Catalog::load(&db).await.expect("loads");
            assert_eq!(later.writer.lock().await.after(), 0, "{backend:?}: the table is empty");
            shop_db::orders::add_students(&db, &[(1, 1)]).await.expect("learners");
            assert_eq!(shop_db::catalog::last_learner_change(&db).await.expect("last"), 3, "{backend:?}");
            assert!(later.refresh(&db).await.expect("refresh"), "{backend:?}");
            assert_eq!(later.snapshot().course(1).map(|c| c.students), Some(3), "{backend:?}");
        }
    }

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
