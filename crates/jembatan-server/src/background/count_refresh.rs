//! Keeps the count index current with changes committed by other exchange processes on the
//! same database (and by this one: pushes reach counts through the change sequence too).

use std::sync::Arc;
use std::time::Duration;

use jembatan_counts::Availability;

/// Follows the change sequence every `interval` until aborted. A failed look is logged and
/// tried again at the next interval; counts say which change they reflect meanwhile.
pub(crate) async fn run(availability: Arc<Availability>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = availability.refresh().await {
            tracing::warn!(%error, "count index refresh failed; counts may lag");
        }
    }
}
