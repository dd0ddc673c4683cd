//! Reloads the policy folder on SIGHUP and when its files change.
//!
//! A new folder is read and validated off the async threads; only a valid set replaces the one
//! in force. A refused folder is logged with every problem, its hash shows in the
//! `jembatan-policy-refused` response header, and it is not retried until its files change again.
//!
//! A change seen by polling is applied only when two polls in a row read the same folder, so a
//! file caught half-written, or a rule caught between two files, is not put in force. SIGHUP
//! applies at once: the operator says the folder is ready.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jembatan_policy::{Engine, Policies, PolicySource};

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// SIGHUP: reload now, and say so even if nothing changed.
    Signal,
    /// The periodic check of the folder.
    Watch,
}

/// Watches `dir` every `interval` (never if zero) and on SIGHUP, until the task is aborted.
pub(crate) async fn run(engine: Arc<Engine>, dir: PathBuf, interval: Duration) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; policy reload by signal is off");
            None
        }
    };
    let mut ticks = (!interval.is_zero()).then(|| {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let mut last_read_error = None;
    let mut seen = None;
    loop {
        let trigger = tokio::select! {
            Some(()) = async { hangup.as_mut()?.recv().await } => Trigger::Signal,
            Some(_) = async { Some(ticks.as_mut()?.tick().await) } => Trigger::Watch,
            else => return,
        };
        let engine = Arc::clone(&engine);
        let dir = dir.clone();
        let previous = seen.take();
        let outcome =
            tokio::task::spawn_blocking(move || reload(&engine, dir, trigger, previous)).await;
        match outcome {
            Ok(Ok(read)) => {
                last_read_error = None;
                seen = Some(read);
            }
            Ok(Err(error)) => {
                // A folder being replaced (a ConfigMap swap) can be briefly unreadable; say it once.
                if last_read_error.as_ref() != Some(&error) || trigger == Trigger::Signal {
                    tracing::error!(%error, "cannot read the policy folder; the policies in force stay");
                }
                last_read_error = Some(error);
            }
            Err(error) => tracing::error!(%error, "policy reload task failed"),
        }
    }
}

/// One reload attempt, given the hash the previous poll read; returns the hash read now. Err
/// only when the folder could not be read.
fn reload(
    engine: &Engine,
    dir: PathBuf,
    trigger: Trigger,
    previous: Option<String>,
) -> Result<String, String> {
    let source = PolicySource::read_dir(&dir).map_err(|e| e.to_string())?;
    let current = engine.current();
    let unchanged = source.hash == **current.hash();
    let refused_before = engine.refused().as_deref() == Some(source.hash.as_str());
    let settled = previous.as_deref() == Some(source.hash.as_str());
    if trigger == Trigger::Watch && (unchanged || refused_before || !settled) {
        return Ok(source.hash);
    }
    if unchanged {
        tracing::info!(policy_set = %source.hash, "SIGHUP: policy folder unchanged");
        return Ok(source.hash);
    }
    match Policies::compile(&source) {
        Ok(policies) => {
            for warning in policies.warnings() {
                tracing::warn!(%warning, "policy validation warning");
            }
            let count = policies.origins().len();
            let previous = engine.replace(policies);
            crate::telemetry::metrics::metrics().policy(&source.hash, Some("applied"));
            tracing::info!(
                policy_set = %source.hash,
                previous = %previous.hash(),
                policies = count,
                dir = %dir.display(),
                ?trigger,
                "policy set loaded"
            );
        }
        Err(error) => {
            tracing::error!(
                policy_set = %source.hash,
                in_force = %current.hash(),
                %error,
                ?trigger,
                "policy folder refused; the policies in force stay"
            );
            engine.record_refusal(&source.hash);
            crate::telemetry::metrics::metrics().policy(current.hash().as_ref(), Some("refused"));
        }
    }
    Ok(source.hash)
}
