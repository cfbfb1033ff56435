//! A group commit: the writes of concurrent callers made together in batches (a few at a time),
//! each caller answered with the outcome of its own item once the batch that holds it is done.
//! Used by the notify log (audit rows of notifications that change nothing) and the settle
//! lane (payments of unpaid orders, one transaction for several).
//!
//! There is no writer task to start or stop: the first caller to find the group idle writes
//! what is queued (its own item and any others, up to the group's limit) while the others wait
//! for their answer or for their turn. The write runs as a task of its own, so a caller that
//! goes away (its client hung up) does not take the items of the others with it.
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Semaphore, oneshot};

/// A queued item and where its outcome goes.
type Waiting<I, O> = (I, oneshot::Sender<O>);

/// The queue of one kind of write (one per process).
pub(crate) struct GroupCommit<I, O> {
    queue: Mutex<Vec<Waiting<I, O>>>,
    /// A permit is held while a batch is being written: at most `batches` at a time.
    turns: Arc<Semaphore>,
    /// Most items in one batch.
    most: usize,
}

/// The write of a batch was dropped before it answered (the runtime is shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dropped;

impl<I: Send + 'static, O: Send + 'static> GroupCommit<I, O> {
    /// A group that writes batches of at most `most` items, at most `batches` batches at a
    /// time (while one commits, the next can be written).
    pub(crate) fn new(most: usize, batches: usize) -> Self {
        GroupCommit {
            queue: Mutex::new(Vec::new()),
            turns: Arc::new(Semaphore::new(batches.max(1))),
            most: most.max(1),
        }
    }

    /// Queues `item` and returns its outcome once the batch that holds it is written.
    /// `write` makes a batch's outcomes, one per item, in order (the caller's write is used
    /// for whichever batch it leads: every caller of a group passes the same).
    ///
    /// # Errors
    /// [`Dropped`] when the batch's write was dropped before it answered.
    pub(crate) async fn submit<W, F>(&self, item: I, write: W) -> Result<O, Dropped>
    where
        W: Fn(Vec<I>) -> F,
        F: Future<Output = Vec<O>> + Send + 'static,
    {
        let (sender, mut written) = oneshot::channel();
        self.queue().push((item, sender));
        loop {
            let turn = tokio::select! {
                biased;
                outcome = &mut written => return outcome.map_err(|_| Dropped),
                turn = Arc::clone(&self.turns).acquire_owned() => turn.map_err(|_| Dropped)?,
            };
            let (items, waiters): (Vec<I>, Vec<_>) = {
                let mut queue = self.queue();
                let n = queue.len().min(self.most);
                queue.drain(..n).unzip()
            };
            // An empty queue: this caller's item is in a batch taken before (written or being
            // written), which answers it.
            if items.is_empty() {
                drop(turn);
                return written.await.map_err(|_| Dropped);
            }
            let outcomes = write(items);
            tokio::spawn(async move {
                for (waiter, outcome) in waiters.into_iter().zip(outcomes.await) {
                    let _ = waiter.send(outcome);
                }
                drop(turn);
            });
        }
    }

    /// Items waiting for a batch.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queue().len()
    }

    /// Holds every turn of the group (no batch is written meanwhile): for tests that queue
    /// several items before the first batch.
    #[cfg(test)]
    pub(crate) async fn hold(&self) -> tokio::sync::OwnedSemaphorePermit {
        let all = u32::try_from(self.turns.available_permits()).expect("a few turns");
        Arc::clone(&self.turns).acquire_many_owned(all).await.expect("never closed")
    }

    fn queue(&self) -> MutexGuard<'_, Vec<Waiting<I, O>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `items` submitted to `group` by concurrent callers that all queue while its turn is held,
/// then let go: each caller's outcome, in the order of `items` (tests of the groups' users).
#[cfg(test)]
pub(crate) async fn submit_while_busy<I, O, W, F>(
    group: &Arc<GroupCommit<I, O>>,
    items: Vec<I>,
    write: W,
) -> Vec<Result<O, Dropped>>
where
    I: Send + 'static,
    O: Send + 'static,
    W: Fn(Vec<I>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Vec<O>> + Send + 'static,
{
    let turn = group.hold().await;
    let n = items.len();
    let mut callers = Vec::with_capacity(n);
    for item in items {
        let (caller, write) = (Arc::clone(group), write.clone());
        callers.push(tokio::spawn(async move { caller.submit(item, write).await }));
        // Queued in the order of `items`.
        let queued = callers.len();
        while group.queued() < queued {
            tokio::task::yield_now().await;
        }
    }
    drop(turn);
    let mut outcomes = Vec::with_capacity(n);
    for caller in callers {
        outcomes.push(caller.await.expect("a caller"));
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that answers each item with the batch it was in (its items).
    fn batches() -> impl Fn(Vec<u32>) -> std::future::Ready<Vec<Vec<u32>>> + Clone {
        |items: Vec<u32>| std::future::ready(items.iter().map(|_| items.clone()).collect())
    }

    #[tokio::test]
    async fn items_that_wait_together_are_one_batch_each_answered_in_turn() {
        let group = Arc::new(GroupCommit::new(64, 2));
        let outcomes = submit_while_busy(&group, (0..5).collect(), batches()).await;
        let all: Vec<u32> = (0..5).collect();
        assert_eq!(outcomes, vec![Ok(all); 5]);
    }

    #[tokio::test]
    async fn a_batch_holds_at_most_the_limit() {
        let group = Arc::new(GroupCommit::new(2, 2));
        let outcomes = submit_while_busy(&group, (0..5).collect(), batches()).await;
        let sizes: Vec<usize> = outcomes.into_iter().map(|o| o.expect("answered").len()).collect();
        assert_eq!(sizes, [2, 2, 2, 2, 1]);
    }

    #[tokio::test]
    async fn a_second_batch_is_written_while_the_first_is_in_flight() {
        // Each write waits until two are in flight: with one batch at a time, neither ends.
        let group = Arc::new(GroupCommit::new(1, 2));
        let both = Arc::new(tokio::sync::Barrier::new(2));
        let write = move |items: Vec<u32>| {
            let both = Arc::clone(&both);
            async move {
                both.wait().await;
                items
            }
        };
        let callers: Vec<_> = (0..2)
            .map(|i| {
                let (group, write) = (Arc::clone(&group), write.clone());
                tokio::spawn(async move { group.submit(i, write).await })
            })
            .collect();
        for (i, caller) in (0..2).zip(callers) {
            let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), caller).await;
            assert_eq!(outcome.expect("in time").expect("a caller"), Ok(i));
        }
    }

    #[tokio::test]
    async fn one_caller_alone_is_a_batch_of_one() {
        let group = GroupCommit::new(64, 1);
        assert_eq!(group.submit(7, batches()).await, Ok(vec![7]));
    }
}
