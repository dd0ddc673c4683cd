//! The index kept current: loaded from the store at start, then following the change
//! sequence (pushes, withdrawals, erasures), including changes made by another exchange
//! process on the same database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use jembatan_store::{Dimension, Store};

use crate::index::{ExactCounts, Index};
use crate::{CountFilter, CountsError};

/// Placements read from the store at a time.
const BATCH: u32 = 20_000;

/// Answers kept for questions asked again while the index has not changed.
const CACHED_ANSWERS: usize = 512;

/// A question: its filter and grouping.
type Question = (CountFilter, Vec<Dimension>);

/// The availability index over a store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Availability {
    store: Store,
    index: RwLock<Index>,
    batch: u32,
    /// One refresh at a time, so batches apply in order.
    refreshing: tokio::sync::Mutex<()>,
    /// Changes this process has committed, counted ([`Availability::mark_stale`])...
    committed: AtomicU64,
    /// ...and how many of them the index reflects.
    followed: AtomicU64,
    /// Answers by question, with the index version they were counted at.
    answers: Mutex<HashMap<Question, (u64, Arc<ExactCounts>)>>,
}

impl Availability {
    /// Loads every stored placement; worker keys derive from `secret`.
    pub async fn load(store: Store, secret: &[u8; 32]) -> Result<Self, CountsError> {
        Self::load_in_batches(store, secret, BATCH).await
    }

    /// Loads every stored placement, reading `batch` placements at a time then and whenever
    /// it follows changes (fewer: less memory while reading, more round trips).
    pub async fn load_in_batches(
        store: Store,
        secret: &[u8; 32],
        batch: u32,
    ) -> Result<Self, CountsError> {
        let started = Instant::now();
        let availability = Self {
            store,
            index: RwLock::new(Index::new(secret)),
            batch: batch.max(1),
            refreshing: tokio::sync::Mutex::new(()),
            committed: AtomicU64::new(0),
            followed: AtomicU64::new(0),
            answers: Mutex::new(HashMap::new()),
        };
        availability.refresh().await?;
        availability.write().shrink_to_fit();
        let index = availability.read();
        tracing::info!(
            placements = index.placements(),
            workers = index.workers(),
            heap_mib = index.heap_bytes() / (1 << 20),
            through = ?index.through(),
            millis = started.elapsed().as_millis() as u64,
            "availability index loaded"
        );
        drop(index);
        Ok(availability)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Follows every change committed so far; returns the latest one reflected.
    pub async fn refresh(&self) -> Result<Option<u64>, CountsError> {
        self.refresh_unless(|_| false).await
    }

    /// Follows every change committed so far, unless `done` holds once this refresh has its
    /// turn (another refresh did the work meanwhile).
    async fn refresh_unless(
        &self,
        done: impl Fn(&Self) -> bool,
    ) -> Result<Option<u64>, CountsError> {
        let _turn = self.refreshing.lock().await;
        if done(self) {
            return Ok(self.through());
        }
        // Every change counted by now has committed, so the snapshots below hold it.
        let committed = self.committed.load(Ordering::Acquire);
        let after = self.read().through();
        let mut changes = self.store.placement_changes(after, self.batch).await?;
        while changes.more {
            // The next batch is read (by the database, and by sqlx's thread) while this one is
            // applied.
            let store = self.store.clone();
            let (through, batch) = (changes.through, self.batch);
            let next = tokio::spawn(async move { store.placement_changes(through, batch).await });
            self.write().apply(&changes);
            changes = next.await.map_err(|_| CountsError::Interrupted)??;
        }
        let mut index = self.write();
        index.apply(&changes);
        self.followed.fetch_max(committed, Ordering::AcqRel);
        Ok(index.through())
    }

    /// Notes that this process committed changes: the next count follows them first, so that
    /// counts through the exchange that stored a push reflect it.
    pub fn mark_stale(&self) {
        self.committed.fetch_add(1, Ordering::AcqRel);
    }

    /// Removes the worker with `subject_key`, erased at `change`, at once.
    pub fn erase(&self, subject_key: &str, change: u64) {
        self.write().erase(subject_key, change);
    }

    /// The latest change reflected.
    pub fn through(&self) -> Option<u64> {
        self.read().through()
    }

    /// Exact counts of `filter` grouped by `dimensions`, from an index that reflects this
    /// process's own changes and at least `min_change` (refreshed first where it does not). A
    /// question asked again while nothing changed is answered from the last count.
    pub async fn count(
        &self,
        filter: &CountFilter,
        dimensions: &[Dimension],
        min_change: Option<u64>,
    ) -> Result<Arc<ExactCounts>, CountsError> {
        let committed = self.committed.load(Ordering::Acquire);
        if self.followed.load(Ordering::Acquire) < committed {
            self.refresh_unless(|this| this.followed.load(Ordering::Acquire) >= committed)
                .await?;
        }
        if let Some(wanted) = min_change {
            let reached = |this: &Self| this.through().is_some_and(|seen| seen >= wanted);
            if !reached(self) {
                let reflected = self.refresh_unless(reached).await?;
                if reflected.is_none_or(|seen| seen < wanted) {
                    return Err(CountsError::NotYet { wanted, reflected });
                }
            }
        }
        Ok(self.count_now(filter, dimensions))
    }

    /// Exact counts of `filter` grouped by `dimensions` from the index as it is now, without
    /// following any change first: for a count that must reflect what this process has just
    /// applied (its own erasures) while it holds the writer's turn.
    pub fn count_now(&self, filter: &CountFilter, dimensions: &[Dimension]) -> Arc<ExactCounts> {
        let index = self.read();
        let version = index.version();
        let question = (filter.clone(), dimensions.to_vec());
        let answers = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((counted_at, answer)) = answers.get(&question)
            && *counted_at == version
        {
            return Arc::clone(answer);
        }
        drop(answers);
        let answer = Arc::new(index.count(filter, dimensions));
        drop(index);
        let mut answers = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if answers.len() >= CACHED_ANSWERS {
            answers.retain(|_, (counted_at, _)| *counted_at == version);
            if answers.len() >= CACHED_ANSWERS {
                answers.clear();
            }
        }
        answers.insert(question, (version, Arc::clone(&answer)));
        answer
    }
}
