//! Where a server is in `learner_changes` (`shop_db::catalog::note_learner_changes`): the rows
//! it has read, the ids it still awaits, and which rows every server has read (`docs/search.md`,
//! "Learner counts").
//!
//! Ids are handed out in the order of the inserts, not of the commits: on Postgres a payment's
//! transaction may commit after one that took a later id (SQLite commits one writer at a time,
//! in id order). So an id skipped below the highest one read is awaited for [`AWAIT`] (read by
//! id at each refresh until it appears); a transaction rolled back leaves an id that never
//! appears. A change read neither way (awaited longer, more than [`MAX_AWAITED`] skipped at
//! once, pruned before this server read it) is seen at the next read of every count
//! (`catalog.stats_refresh_seconds`).
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a skipped id is awaited: far longer than a payment's transaction.
pub(super) const AWAIT: Duration = Duration::from_secs(60);

/// At most this many skipped ids are awaited (those nearest the highest id read).
pub(super) const MAX_AWAITED: usize = 1_000;

/// Rows are pruned once they are this old: every server has read them by then (each reads
/// twice per `catalog.refresh_seconds`), or reads every count before it could miss one.
pub(super) const RETAIN: Duration = Duration::from_secs(600);

/// A server's place in `learner_changes`.
#[derive(Debug, Clone, Default)]
pub(super) struct LearnerCursor {
    /// The highest id read (or the highest that existed when the snapshot was loaded).
    after: i64,
    /// Ids below `after` not read yet, with when they were first skipped.
    awaited: BTreeMap<i64, Instant>,
    /// `after` at each read of every count, oldest first: the rows up to one at least
    /// [`RETAIN`] old can be pruned.
    marks: VecDeque<(Instant, i64)>,
    /// The last id pruned up to.
    pruned: i64,
}

impl LearnerCursor {
    /// A cursor after the rows up to `after` (those a snapshot's counts include).
    pub(super) fn new(after: i64) -> Self {
        LearnerCursor { after, ..Default::default() }
    }

    /// The highest id read.
    pub(super) fn after(&self) -> i64 {
        self.after
    }

    /// The ids skipped and still awaited, ascending.
    pub(super) fn awaited(&self) -> Vec<i64> {
        self.awaited.keys().copied().collect()
    }

    /// Takes the ids of the rows read (ascending; those above [`Self::after`] and awaited ones
    /// that appeared): the skipped ones are awaited, the awaited ones read are done, and those
    /// awaited for longer than [`AWAIT`] are given up.
    pub(super) fn saw(&mut self, ids: impl IntoIterator<Item = i64>, now: Instant) {
        for id in ids {
            if id > self.after {
                let room = MAX_AWAITED.saturating_sub(self.awaited.len());
                for skipped in (self.after + 1..id).rev().take(room) {
                    self.awaited.insert(skipped, now);
                }
                self.after = id;
            } else {
                self.awaited.remove(&id);
            }
        }
        self.awaited.retain(|_, since| now.saturating_duration_since(*since) < AWAIT);
    }

    /// Notes a read of every count that began with the cursor at `mark`, at `now`; returns the
    /// id up to which rows can be pruned, when it moved: the mark of a read at least
    /// [`RETAIN`] old.
    pub(super) fn prunable(&mut self, mark: i64, now: Instant) -> Option<i64> {
        self.marks.push_back((now, mark));
        let mut up_to = None;
        while let Some(&(at, id)) = self.marks.front() {
            if now.saturating_duration_since(at) < RETAIN {
                break;
            }
            up_to = Some(id);
            self.marks.pop_front();
        }
        let up_to = up_to.filter(|id| *id > self.pruned)?;
        self.pruned = up_to;
        Some(up_to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_in_order_await_nothing() {
        let now = Instant::now();
        let mut cursor = LearnerCursor::new(10);
        cursor.saw([11, 12, 13], now);
        assert_eq!((cursor.after(), cursor.awaited()), (13, Vec::new()));
        cursor.saw([0_i64; 0], now);
        assert_eq!(cursor.after(), 13);
    }

    /// A row committed after one with a later id is read at a later refresh: its id is
    /// awaited meanwhile, and read by id.
    #[test]
    fn a_skipped_id_is_awaited_until_read() {
        let now = Instant::now();
        let mut cursor = LearnerCursor::new(10);
        cursor.saw([11, 14, 16], now);
        assert_eq!((cursor.after(), cursor.awaited()), (16, vec![12, 13, 15]));
        cursor.saw([13, 17], now + Duration::from_secs(1));
        assert_eq!((cursor.after(), cursor.awaited()), (17, vec![12, 15]));
        cursor.saw([12, 15], now + Duration::from_secs(2));
        assert_eq!((cursor.after(), cursor.awaited()), (17, Vec::new()));
    }

    /// A rolled-back transaction's id never appears: it is given up after [`AWAIT`].
    #[test]
    fn a_skipped_id_is_given_up_after_a_while() {
        let now = Instant::now();
        let mut cursor = LearnerCursor::new(0);
        cursor.saw([2], now);
        cursor.saw([4], now + AWAIT / 2);
        assert_eq!(cursor.awaited(), vec![1, 3]);
        cursor.saw([0_i64; 0], now + AWAIT);
        assert_eq!(cursor.awaited(), vec![3]);
        cursor.saw([0_i64; 0], now + AWAIT / 2 + AWAIT);
        assert_eq!(cursor.awaited(), Vec::<i64>::new());
    }

    /// A wide gap (rows pruned before a server started; many transactions in flight) awaits
    /// the ids nearest the highest read, at most [`MAX_AWAITED`].
    #[test]
    fn at_most_so_many_ids_are_awaited() {
        let now = Instant::now();
        let mut cursor = LearnerCursor::new(0);
        cursor.saw([1_000_000], now);
        let awaited = cursor.awaited();
        assert_eq!(awaited.len(), MAX_AWAITED);
        assert_eq!(awaited.first(), Some(&(1_000_000 - MAX_AWAITED as i64)));
        assert_eq!(awaited.last(), Some(&999_999));
        cursor.saw([1_000_002], now);
        assert_eq!(cursor.awaited().len(), MAX_AWAITED, "no room for 1,000,001");
        assert_eq!(cursor.after(), 1_000_002);
    }

    /// Rows are pruned up to the cursor of a read of every count at least [`RETAIN`] old, once.
    #[test]
    fn rows_are_pruned_after_they_are_retained() {
        let now = Instant::now();
        let mut cursor = LearnerCursor::new(0);
        assert_eq!(cursor.prunable(5, now), None);
        assert_eq!(cursor.prunable(9, now + RETAIN / 2), None);
        assert_eq!(cursor.prunable(12, now + RETAIN), Some(5));
        assert_eq!(cursor.prunable(12, now + RETAIN), None, "nothing new");
        assert_eq!(cursor.prunable(20, now + 3 * RETAIN), Some(12));
        assert_eq!(cursor.prunable(20, now + 4 * RETAIN), Some(20));
        assert_eq!(cursor.prunable(20, now + 5 * RETAIN), None, "pruned up to 20 already");
    }
}
