//! Reloads the TLS material (server certificate and key, CA bundle, CRLs) on SIGHUP and when
//! its files change, so that a certificate revoked with `jembatan pki revoke` is refused without
//! a restart. Material that cannot be read or is not valid is logged, and the material in
//! force stays.

use std::sync::Arc;
use std::time::Duration;

use crate::transport::ServerTlsState;

/// Looks at the files every `interval` (never if `None`) and on SIGHUP, until aborted.
pub(crate) async fn run(tls: Arc<ServerTlsState>, interval: Option<Duration>) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; TLS reload by signal is off");
            None
        }
    };
    let mut ticks = interval.map(|every| {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let mut last_error = None;
    loop {
        tokio::select! {
            Some(()) = async { hangup.as_mut()?.recv().await } => {}
            Some(_) = async { Some(ticks.as_mut()?.tick().await) } => {}
            else => return,
        }
        let state = Arc::clone(&tls);
        match tokio::task::spawn_blocking(move || state.reload()).await {
            Ok(Ok(true)) => {
                last_error = None;
                tracing::info!("TLS material reloaded: CA bundle and CRLs in force");
            }
            Ok(Ok(false)) => last_error = None,
            Ok(Err(error)) => {
                let error = error.to_string();
                if last_error.as_ref() != Some(&error) {
                    tracing::error!(%error, "cannot reload the TLS material; the material in force stays");
                }
                last_error = Some(error);
            }
            Err(error) => tracing::error!(%error, "TLS reload task failed"),
        }
    }
}
