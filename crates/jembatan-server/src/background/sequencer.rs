//! The sequencer task: integrates committed audit leaves into the Merkle tree and signs a
//! checkpoint, every `audit.checkpoint_interval_ms` while leaves arrive. With several servers on
//! one PostgreSQL database, one sequencer works at a time (an advisory lock); the others find
//! nothing to do.

use std::sync::Arc;
use std::time::Duration;

use jembatan_audit::note::SignerKey;
use jembatan_store::Store;

/// Most leaves integrated in one transaction; a backlog is worked off in rounds of this size,
/// back to back. Small enough that on SQLite, whose one write lock a round holds, callers
/// writing their leaves wait a fraction of a second, not seconds.
const MAX_LEAVES_PER_ROUND: u64 = 10_000;
/// Pause between back-to-back rounds of a backlog.
const ROUND_PAUSE: Duration = Duration::from_millis(25);

/// Runs until the task is aborted.
pub(crate) async fn run(store: Store, signer: Arc<SignerKey>, origin: String, interval: Duration) {
    let mut size = None;
    loop {
        match store
            .integrate(&signer, &origin, MAX_LEAVES_PER_ROUND)
            .await
        {
            Ok(Some(checkpoint)) => {
                tracing::debug!(size = checkpoint.size, "checkpoint signed");
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
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "audit sequencer failed; retrying"),
        }
        tokio::time::sleep(interval).await;
    }
}
