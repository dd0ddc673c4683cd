//! The index kept current: loaded from the store at start, then following the change
//! sequence (pushes, withdrawals, erasures), including changes made by another exchange
//! process on the same database.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use jembatan_store::{Dimension, Store};

use crate::index::{ExactCounts, Index};
use crate::{CountFilter, CountsError};

/// Placements read from the store at a time.
const BATCH: u32 = 20_000;

/// The availability index over a store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Availability {
    store: Store,
    index: RwLock<Index>,
    /// One refresh at a time, so batches apply in order.
    refreshing: tokio::sync::Mutex<()>,
    /// This process stored changes the index has not followed yet.
    stale: AtomicBool,
}

impl Availability {
    /// Loads every stored placement; worker keys derive from `secret`.
    pub async fn load(store: Store, secret: &[u8; 32]) -> Result<Self, CountsError> {
        let started = Instant::now();
        let availability = Self {
            store,
            index: RwLock::new(Index::new(secret)),
            refreshing: tokio::sync::Mutex::new(()),
            stale: AtomicBool::new(false),
        };
        availability.refresh().await?;
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
        let _turn = self.refreshing.lock().await;
        loop {
            let after = self.read().through();
            let changes = self.store.placement_changes(after, BATCH).await?;
            let mut index = self.write();
            index.apply(&changes);
            if !changes.more {
                return Ok(index.through());
            }
        }
    }

    /// Notes that this process committed changes: the next count follows them first, so that
    /// counts through the exchange that stored a push reflect it.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
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
    /// process's own changes and at least `min_change` (refreshed first where it does not).
    pub async fn count(
        &self,
        filter: &CountFilter,
        dimensions: &[Dimension],
        min_change: Option<u64>,
    ) -> Result<ExactCounts, CountsError> {
        if self.stale.swap(false, Ordering::AcqRel) {
            self.refresh().await?;
        }
        if let Some(wanted) = min_change
            && self.through().is_none_or(|seen| seen < wanted)
        {
            let reflected = self.refresh().await?;
            if reflected.is_none_or(|seen| seen < wanted) {
                return Err(CountsError::NotYet { wanted, reflected });
            }
        }
        Ok(self.read().count(filter, dimensions))
    }

    /// Placements and workers indexed, and an estimate of the index's heap memory in bytes.
    pub fn size(&self) -> (u64, u64, usize) {
        let index = self.read();
        (index.placements(), index.workers(), index.heap_bytes())
    }
}
