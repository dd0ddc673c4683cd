//! The log verified in the background: at start (and when asked again) every entry is fetched
//! and hashed and the root recomputed against the latest signed checkpoint; then, every
//! [`RECHECK`], the newest checkpoint is proved consistent with the last one verified.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jembatan_audit::checkpoint::Checkpoint;
use jembatan_audit::note::VerifierKey;
use jembatan_client::{AuditClient, ClientError};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// How often later checkpoints are proved consistent with the verified one.
const RECHECK: Duration = Duration::from_secs(20);

/// What the background verification has found so far.
#[derive(Debug, Clone)]
pub(crate) enum Verification {
    /// A full pass is running: `done` of `total` leaves fetched and hashed.
    Running { done: u64, total: u64 },
    /// `leaves` recomputed the signed root; every checkpoint up to `size` extends it.
    Verified {
        leaves: u64,
        size: u64,
        at: OffsetDateTime,
    },
    /// The log does not verify: a leaf changed, went missing, or a checkpoint forks.
    Failed { reason: String },
    /// The log could not be checked (the exchange is down, or this identity may not list it).
    Unchecked { reason: String },
}

/// The background verification and its latest finding.
#[derive(Debug)]
pub(crate) struct Verifier {
    state: Arc<Mutex<Verification>>,
    again: Arc<Notify>,
}

impl Verifier {
    /// Starts verifying with `client` against `log_key`.
    pub(crate) fn start(client: AuditClient, log_key: VerifierKey) -> Self {
        let state = Arc::new(Mutex::new(Verification::Running { done: 0, total: 0 }));
        let again = Arc::new(Notify::new());
        tokio::spawn(run(client, log_key, Arc::clone(&state), Arc::clone(&again)));
        Self { state, again }
    }

    /// The latest finding.
    pub(crate) fn current(&self) -> Verification {
        lock(&self.state).clone()
    }

    /// Starts a full pass again.
    pub(crate) fn restart(&self) {
        *lock(&self.state) = Verification::Running { done: 0, total: 0 };
        self.again.notify_one();
    }
}

fn lock(state: &Mutex<Verification>) -> std::sync::MutexGuard<'_, Verification> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn run(
    mut client: AuditClient,
    log_key: VerifierKey,
    state: Arc<Mutex<Verification>>,
    again: Arc<Notify>,
) {
    loop {
        let mut verified: Option<Checkpoint> = None;
        let progress = |done, total| {
            *lock(&state) = Verification::Running { done, total };
        };
        let found = match client.verify_log(&log_key, progress).await {
            Ok(log) => {
                let size = log.checkpoint.checkpoint.size;
                verified = Some(log.checkpoint.checkpoint);
                Verification::Verified {
                    leaves: log.leaves,
                    size,
                    at: OffsetDateTime::now_utc(),
                }
            }
            Err(error) => finding(&error),
        };
        tracing::info!(finding = ?found, "audit log verification");
        *lock(&state) = found;
        // Until asked again: prove each newer checkpoint consistent with the verified one.
        loop {
            tokio::select! {
                () = again.notified() => break,
                () = tokio::time::sleep(RECHECK) => {}
            }
            let Some(previous) = verified.clone() else {
                // Nothing verified yet (unchecked): try a full pass again.
                break;
            };
            match client.extending(Some(&previous), &log_key).await {
                Ok(newer) => {
                    let mut current = lock(&state);
                    if let Verification::Verified { size, at, .. } = &mut *current {
                        *size = newer.checkpoint.size;
                        *at = OffsetDateTime::now_utc();
                    }
                    verified = Some(newer.checkpoint);
                }
                Err(error) if error.is_verification_failure() => {
                    *lock(&state) = finding(&error);
                    verified = None;
                }
                Err(error) => tracing::warn!(%error, "checking the latest checkpoint"),
            }
        }
    }
}

fn finding(error: &ClientError) -> Verification {
    if error.is_verification_failure() {
        Verification::Failed {
            reason: error.to_string(),
        }
    } else {
        Verification::Unchecked {
            reason: error.to_string(),
        }
    }
}
