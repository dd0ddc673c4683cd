//! The log verified in the background. A full pass fetches and hashes every entry and
//! recomputes the root of the latest signed checkpoint; every [`RECHECK`] after it, the newest
//! checkpoint is proved consistent with the last one verified. The last verified checkpoint is
//! kept for the console's life: a later full pass (at start, or asked for with "verify again")
//! must also be proved consistent with it, so that a log rewritten and signed anew between two
//! passes is caught. A failure stays until someone asks again, and comes back if the log still
//! does not verify.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jembatan_audit::checkpoint::Checkpoint;
use jembatan_audit::note::VerifierKey;
use jembatan_client::{AuditClient, ClientError};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// How often later checkpoints are proved consistent with the verified one.
const RECHECK: Duration = Duration::from_secs(20);
/// The longest wait before a full pass that could not run (the exchange was down) is tried
/// again; the wait doubles from [`RECHECK`] up to this.
const MAX_RETRY: Duration = Duration::from_secs(600);

/// What the background verification has found so far.
#[derive(Debug, Clone)]
pub(crate) enum Verification {
    /// A full pass is running: `done` of `total` leaves fetched and hashed.
    Running { done: u64, total: u64 },
    /// A full pass at `full_at` recomputed the root signed for `leaves`; every checkpoint up to
    /// `size`, the last at `checked_at`, is proved to extend it.
    Verified {
        leaves: u64,
        full_at: OffsetDateTime,
        size: u64,
        checked_at: OffsetDateTime,
    },
    /// The log does not verify: a leaf changed or went missing, or a checkpoint forks from or
    /// rolls back one verified before.
    Failed { reason: String },
    /// The log could not be checked. `refused`: this identity may not list the log (it is not
    /// tried again until asked); otherwise the exchange could not be reached (tried again).
    Unchecked { reason: String, refused: bool },
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
        let pass = Pass {
            client,
            log_key,
            state: Arc::clone(&state),
            trusted: None,
        };
        tokio::spawn(pass.run(Arc::clone(&again)));
        Self { state, again }
    }

    /// The latest finding.
    pub(crate) fn current(&self) -> Verification {
        lock(&self.state).clone()
    }

    /// Starts a full pass again, stopping one that runs.
    pub(crate) fn restart(&self) {
        self.again.notify_one();
    }
}

fn lock(state: &Mutex<Verification>) -> std::sync::MutexGuard<'_, Verification> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Pass {
    client: AuditClient,
    log_key: VerifierKey,
    state: Arc<Mutex<Verification>>,
    /// The last checkpoint verified: every later one must extend it.
    trusted: Option<Checkpoint>,
}

impl Pass {
    async fn run(mut self, again: Arc<Notify>) {
        let mut retry = RECHECK;
        loop {
            *lock(&self.state) = Verification::Running { done: 0, total: 0 };
            let found = tokio::select! {
                found = self.full() => found,
                () = again.notified() => continue,
            };
            tracing::info!(finding = ?found, "audit log verification");
            let transient = matches!(found, Verification::Unchecked { refused: false, .. });
            *lock(&self.state) = found;
            if transient {
                tokio::select! {
                    () = again.notified() => {}
                    () = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
            retry = RECHECK;
            // Until asked again: prove each newer checkpoint consistent with the verified one.
            loop {
                tokio::select! {
                    () = again.notified() => break,
                    () = tokio::time::sleep(RECHECK) => {}
                }
                if matches!(*lock(&self.state), Verification::Verified { .. }) {
                    self.recheck().await;
                }
            }
        }
    }

    /// A full pass, and its checkpoint proved to extend the one trusted before.
    async fn full(&mut self) -> Verification {
        let state = Arc::clone(&self.state);
        let progress = |done, total| {
            *lock(&state) = Verification::Running { done, total };
        };
        let log = match self.client.verify_log(&self.log_key, progress).await {
            Ok(log) => log,
            Err(error) => return finding(&error),
        };
        let checkpoint = log.checkpoint.checkpoint;
        if let Err(error) = self
            .client
            .prove_extends(self.trusted.as_ref(), &checkpoint)
            .await
        {
            return finding(&error);
        }
        let now = OffsetDateTime::now_utc();
        let size = checkpoint.size;
        self.trusted = Some(checkpoint);
        Verification::Verified {
            leaves: log.leaves,
            full_at: now,
            size,
            checked_at: now,
        }
    }

    /// The newest checkpoint proved to extend the trusted one.
    async fn recheck(&mut self) {
        match self
            .client
            .extending(self.trusted.as_ref(), &self.log_key)
            .await
        {
            Ok(newer) => {
                if let Verification::Verified {
                    size, checked_at, ..
                } = &mut *lock(&self.state)
                {
                    *size = newer.checkpoint.size;
                    *checked_at = OffsetDateTime::now_utc();
                }
                self.trusted = Some(newer.checkpoint);
            }
            Err(error) if error.is_verification_failure() => {
                *lock(&self.state) = finding(&error);
            }
            Err(error) => tracing::warn!(%error, "checking the latest checkpoint"),
        }
    }
}

fn finding(error: &ClientError) -> Verification {
    if error.is_verification_failure() {
        return Verification::Failed {
            reason: error.to_string(),
        };
    }
    let refused = error.status().is_some_and(|status| {
        matches!(
            status.code(),
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
        )
    });
    Verification::Unchecked {
        reason: error.to_string(),
        refused,
    }
}
