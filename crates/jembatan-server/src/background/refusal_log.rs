//! Writes the audit leaves of calls refused for a limit: every window, one leaf per principal
//! and class of method (`limits/read`, …) saying how many of its calls were refused, so that a caller flooding the
//! exchange is on the record without flooding the log. What is still counted at shutdown is
//! written then.

use std::time::Duration;

use jembatan_audit::leaf::{CallFacts, LeafEntry, UNIDENTIFIED, timestamp};
use jembatan_store::{Store, WriteTicket};
use time::OffsetDateTime;

use crate::layers::limits::RefusalTally;

/// Writes the tally every `window` until aborted.
pub(crate) async fn run(store: Store, tally: RefusalTally, window: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + window, window);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        flush(&store, &tally).await;
    }
}

/// Writes what the tally holds now, one leaf per principal and class of method; puts it back
/// when the leaves cannot be written, for the next window.
pub(crate) async fn flush(store: &Store, tally: &RefusalTally) {
    let taken = tally.take();
    if taken.is_empty() {
        return;
    }
    let now = timestamp(OffsetDateTime::now_utc());
    let leaves: Vec<LeafEntry> = taken
        .iter()
        .map(|((principal, method), refused)| {
            // A certificate refused for its identity is keyed by its fingerprint; the leaf
            // names no principal for it, as the identity layer's leaves do not.
            let principal = if refused.identified {
                principal.clone()
            } else {
                UNIDENTIFIED.to_owned()
            };
            CallFacts::new(
                now.clone(),
                principal,
                refused.cert_fingerprint.clone(),
                method.clone(),
            )
            .refused_many("resource_exhausted", refused.calls)
        })
        .collect();
    let count = leaves.len();
    if let Err(error) = store
        .log(WriteTicket::new("limits".to_owned()), leaves)
        .await
    {
        tracing::error!(
            %error,
            leaves = count,
            "cannot write the leaves of calls refused for a limit; kept for the next window"
        );
        tally.restore(taken);
    }
}
