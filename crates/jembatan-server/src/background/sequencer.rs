//! The sequencer task: integrates committed audit leaves into the Merkle tree and signs a
//! checkpoint, every `audit.checkpoint_interval_ms` while leaves arrive. With several servers on
//! one PostgreSQL database, one sequencer works at a time (an advisory lock); the others find
//! nothing to do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jembatan_audit::note::SignerKey;
use jembatan_store::Store;

/// Most leaves integrated in one transaction; a backlog is worked off in rounds of this size,
/// back to back. Small enough that on SQLite, whose one write lock a round holds, callers
/// writing their leaves wait a fraction of a second, not seconds.
const MAX_LEAVES_PER_ROUND: u64 = 10_000;
/// Least time between two recordings of the log's size and lag.
const RECORD_EVERY: Duration = Duration::from_secs(1);
/// Pause between back-to-back rounds of a backlog.
const ROUND_PAUSE: Duration = Duration::from_millis(25);

/// Runs until the task is aborted.
pub(crate) async fn run(store: Store, signer: Arc<SignerKey>, origin: String, interval: Duration) {
    let mut size = None;
    let mut recorded = None;
    loop {
        match store
            .integrate(&signer, &origin, MAX_LEAVES_PER_ROUND)
            .await
        {
            Ok(Some(checkpoint)) => {
                tracing::debug!(size = checkpoint.size, "checkpoint signed");
                record(&store, true, &mut recorded).await;
                let full_round =
                    size.is_some_and(|s: u64| checkpoint.size - s == MAX_LEAVES_PER_ROUND);
                size = Some(checkpoint.size);
                if full_round {
                    // A short pause, not none: SQLite's busy handler retries on a backoff, and a
                    // sequencer that took the write lock again at once would starve callers.
                    tokio::time::sleep(ROUND_PAUSE.min(interval)).await;
                    continue;
                }
            }
            Ok(None) => record(&store, false, &mut recorded).await,
            Err(error) => tracing::error!(%error, "audit sequencer failed; retrying"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// Records the checkpoint a round signed, and at most every [`RECORD_EVERY`] (a backlog is
/// worked off in rounds a few milliseconds apart) the log's size, its latest checkpoint and
/// the store's connections; only while metrics are exported.
async fn record(store: &Store, signed: bool, recorded: &mut Option<Instant>) {
    if !crate::telemetry::metrics::exported() {
        return;
    }
    let metrics = crate::telemetry::metrics::metrics();
    if signed {
        metrics.checkpoint_signed();
    }
    if recorded.is_some_and(|at| at.elapsed() < RECORD_EVERY) {
        return;
    }
    *recorded = Some(Instant::now());
    if let (Ok(size), Ok(checkpoint)) = (store.log_size().await, store.checkpoint(None).await) {
        metrics.sequenced(
            size,
            checkpoint.as_ref().map(|c| (c.size, c.signed_at.as_str())),
        );
    }
    metrics.connections(store.connections());
}
