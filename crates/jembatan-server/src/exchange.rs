//! The wiring: loads the config's keys, policies, TLS material and store, binds the listener,
//! and serves the contract's services behind the layers until shut down, with the background
//! tasks beside them.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jembatan_audit::note::SignerKey;
use jembatan_counts::{Availability, NoiseTable, Perturbation};
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_pki::TrustDomain;
use jembatan_policy::{Engine, Policies};
use jembatan_store::{Migrations, Store, StoreLocation, StoreOptions};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::config::{LimitsSection, ServerSection};
use crate::layers::identity::IdentityLayer;
use crate::layers::limits::{LimitsLayer, RefusalTally};
use crate::layers::policy::PolicyLayer;
use crate::layers::telemetry::TelemetryLayer;
use crate::services::{Deps, MessageLimits, Witnesses, WorkforceSettings};
use crate::transport::acceptor::{self, AcceptorLimits};
use crate::transport::{ServerTlsState, tls_acceptor};
use crate::{Config, ServerError};

/// The smallest suppression threshold the exchange accepts.
const MIN_SUPPRESSION_THRESHOLD: u32 = 3;

/// A bound, ready-to-serve exchange: listener open, TLS loaded, store migrated.
pub struct Exchange {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Arc<ServerTlsState>,
    trust_domain: TrustDomain,
    acceptor_limits: AcceptorLimits,
    server: ServerSection,
    limits: LimitsSection,
    store: Store,
    policy: Arc<Engine>,
    policy_dir: std::path::PathBuf,
    policy_watch: Duration,
    log_signer: Arc<SignerKey>,
    log_origin: String,
    checkpoint_interval: Duration,
    witnesses: Witnesses,
    personal_data_key: Arc<PersonalDataKey>,
    availability: Arc<Availability>,
    count_refresh: Duration,
    workforce: WorkforceSettings,
}

impl Exchange {
    /// Loads TLS material, opens and migrates the store, and binds the listener.
    pub async fn bind(config: &Config) -> Result<Self, ServerError> {
        let trust_domain = TrustDomain::new(&config.identity.trust_domain).map_err(|e| {
            ServerError::InvalidValue {
                key: "identity.trust_domain",
                reason: e.to_string(),
            }
        })?;
        for (key, path) in [
            ("tls.key", &config.tls.key),
            ("audit.key", &config.audit.key),
            ("placements.key", &config.placements.key),
        ] {
            jembatan_pki::private_file::require_private(path).map_err(|e| {
                ServerError::InvalidValue {
                    key,
                    reason: e.to_string(),
                }
            })?;
        }
        config.limits.validate()?;
        let (tls, acceptor_limits) = tls_acceptor(config)?;
        let policies = Policies::load_dir(&config.policy.dir)?;
        for warning in policies.warnings() {
            tracing::warn!(%warning, "policy validation warning");
        }
        tracing::info!(
            policy_set = %policies.hash(),
            policies = policies.origins().len(),
            dir = %config.policy.dir.display(),
            "policy set loaded"
        );
        crate::telemetry::metrics::metrics().policy(policies.hash().as_ref(), None);
        let policy = Arc::new(Engine::new(policies)?);

        let key_path = &config.audit.key;
        let key_text =
            std::fs::read_to_string(key_path).map_err(|e| ServerError::InvalidValue {
                key: "audit.key",
                reason: format!("{}: {e}", key_path.display()),
            })?;
        let log_signer =
            Arc::new(
                SignerKey::parse(&key_text).map_err(|e| ServerError::InvalidValue {
                    key: "audit.key",
                    reason: format!("{}: {e}", key_path.display()),
                })?,
            );
        let log_origin = config.audit_origin();
        if log_origin.chars().any(char::is_control) {
            return Err(ServerError::InvalidValue {
                key: "audit.origin",
                reason: "must not hold control characters".into(),
            });
        }

        let key_path = &config.placements.key;
        let personal_data_key = std::fs::read_to_string(key_path)
            .map_err(|e| e.to_string())
            .and_then(|text| PersonalDataKey::parse(&text).map_err(|e| e.to_string()))
            .map_err(|reason| ServerError::InvalidValue {
                key: "placements.key",
                reason: format!("{}: {reason}", key_path.display()),
            })?;

        if config.placements.suppression_threshold < MIN_SUPPRESSION_THRESHOLD {
            return Err(ServerError::InvalidValue {
                key: "placements.suppression_threshold",
                reason: format!(
                    "must be at least {MIN_SUPPRESSION_THRESHOLD}: smaller cells identify workers"
                ),
            });
        }

        let count_noise = NoiseTable::new(&config.placements.count_noise).map_err(|e| {
            ServerError::InvalidValue {
                key: "placements.count_noise",
                reason: e.to_string(),
            }
        })?;
        if count_noise.variance() == 0.0 {
            tracing::warn!(
                "placements.count_noise has one weight: counts are published without noise, \
                 open to differencing; meant for tests only"
            );
        }
        if config.placements.count_minimum_workers < config.placements.suppression_threshold {
            return Err(ServerError::InvalidValue {
                key: "placements.count_minimum_workers",
                reason: "must be at least placements.suppression_threshold".into(),
            });
        }

        let witnesses =
            Witnesses::from_config(&config.audit.witnesses, log_signer.verifier().name())?;
        tracing::info!(keys = witnesses.len(), "audit witnesses registered");

        let location = StoreLocation::parse(&config.store.url)?;
        let store_options = StoreOptions {
            max_connections: config.store.max_connections.max(1),
            ..StoreOptions::default()
        };
        let migrations = if config.store.migrate {
            Migrations::Apply
        } else {
            Migrations::Require
        };
        let store = Store::open_with(&location, store_options, migrations).await?;
        if crate::telemetry::metrics::exported() {
            store.observe_commits(Box::new(|leaves| {
                crate::telemetry::metrics::metrics().committed(leaves);
            }));
        }
        let instance = store.instance().await?;
        tracing::info!(store = %location, instance = %instance.instance_id, "store ready");
        let availability =
            Arc::new(Availability::load(store.clone(), personal_data_key.count_secret()).await?);

        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            listener,
            local_addr,
            tls,
            trust_domain,
            acceptor_limits,
            server: config.server.clone(),
            limits: config.limits.clone(),
            store,
            policy,
            policy_dir: config.policy.dir.clone(),
            policy_watch: Duration::from_millis(config.policy.watch_interval_ms),
            log_signer,
            log_origin,
            checkpoint_interval: Duration::from_millis(config.audit.checkpoint_interval_ms.max(1)),
            witnesses,
            personal_data_key: Arc::new(personal_data_key),
            availability,
            count_refresh: Duration::from_millis(config.placements.count_refresh_ms.max(10)),
            workforce: WorkforceSettings {
                perturbation: Perturbation {
                    table: count_noise,
                    threshold: u64::from(config.placements.suppression_threshold),
                    minimum_workers: u64::from(config.placements.count_minimum_workers),
                },
                watch_interval: Duration::from_millis(config.placements.watch_interval_ms.max(10)),
                watch_lifetime: Duration::from_secs(config.placements.watch_max_secs.max(1)),
            },
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The open store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The policy engine: the set in force, reloaded while serving.
    pub fn policy(&self) -> &Arc<Engine> {
        &self.policy
    }

    /// Serves until `shutdown` completes, then stops accepting, reports NOT_SERVING, and gives
    /// in-flight calls the configured grace period to finish. It stops the same way if the
    /// store's writer fails (no write could be committed again), and then returns
    /// [`ServerError::WriterFailed`], so that a supervisor starts the exchange again.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let (reporter, health) = tonic_health::server::health_reporter();
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(jembatan_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let (reflection_v1, reflection_v1alpha) = if self.server.reflection {
            (
                Some(reflection().build_v1()?),
                Some(reflection().build_v1alpha()?),
            )
        } else {
            (None, None)
        };
        let shutdown_grace = Duration::from_secs(self.server.shutdown_grace_secs);
        let tally = RefusalTally::default();
        let refusal_log = tokio::spawn(crate::background::refusal_log::run(
            self.store.clone(),
            tally.clone(),
            Duration::from_secs(self.limits.refusal_window_secs.max(1)),
        ));
        let tls_reload = tokio::spawn(crate::background::tls_reload::run(
            Arc::clone(&self.tls),
            self.acceptor_limits.recheck_interval,
        ));

        let reload = tokio::spawn(crate::background::policy_reload::run(
            Arc::clone(&self.policy),
            self.policy_dir,
            self.policy_watch,
        ));
        let count_refresh = tokio::spawn(crate::background::count_refresh::run(
            Arc::clone(&self.availability),
            self.count_refresh,
        ));
        let sequencer = tokio::spawn(crate::background::sequencer::run(
            self.store.clone(),
            self.log_signer,
            self.log_origin,
            self.checkpoint_interval,
        ));
        // Streams that never end by themselves (watches) end when shutdown begins.
        let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
        let contract = crate::services::contract(Deps {
            store: self.store.clone(),
            trust_domain: self.trust_domain.clone(),
            personal_data_key: Arc::clone(&self.personal_data_key),
            witnesses: self.witnesses,
            availability: self.availability,
            workforce: self.workforce,
            messages: MessageLimits {
                placement: self.limits.max_placement_message_bytes,
                request: self.limits.max_request_message_bytes,
                stream_messages: self.limits.stream_max_messages.max(1),
            },
            stopping,
        });
        let names = contract.names;
        for name in names.iter().chain(&[""]) {
            reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let health = crate::health_details::WithDetails::new(
            health,
            self.store.clone(),
            Arc::clone(&self.tls),
        );
        let incoming = acceptor::spawn(
            self.listener,
            self.tls,
            self.trust_domain,
            self.acceptor_limits,
        );
        let (grace_tx, grace_rx) = tokio::sync::oneshot::channel::<()>();
        let writer_failed = Arc::new(AtomicBool::new(false));
        let store = self.store.clone();
        let failed = Arc::clone(&writer_failed);
        let signal = async move {
            tokio::select! {
                () = shutdown => {}
                () = store.writer_failed() => {
                    // No write could be committed again: stop, to be started again.
                    tracing::error!("the store's writer failed; the exchange stops");
                    failed.store(true, Ordering::Release);
                }
            }
            tracing::info!(grace = ?shutdown_grace, "shutting down");
            let _ = stopping_tx.send(true);
            for name in names.iter().chain(&[""]) {
                reporter
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
            let _ = grace_tx.send(());
        };
        let server = &self.server;
        let secs = |secs: u64| (secs > 0).then(|| Duration::from_secs(secs));
        let mut builder = Server::builder()
            .max_concurrent_streams(server.max_concurrent_streams.max(1))
            .http2_max_header_list_size(server.max_header_list_bytes.max(1024))
            .http2_keepalive_interval(secs(server.keepalive_interval_secs))
            .http2_keepalive_timeout(secs(server.keepalive_timeout_secs));
        if let Some(age) = secs(server.max_connection_age_secs) {
            builder =
                builder
                    .max_connection_age(age)
                    .max_connection_age_grace(Duration::from_secs(
                        server.max_connection_age_grace_secs,
                    ));
        }
        let serve = builder
            .layer(
                tower::ServiceBuilder::new()
                    .layer(TelemetryLayer)
                    .layer(LimitsLayer::new(&self.limits, tally.clone()))
                    .layer(IdentityLayer::new(self.store.clone()))
                    .layer(PolicyLayer::new(self.policy, self.store.clone())),
            )
            .add_routes(contract.routes)
            .add_service(health)
            .add_optional_service(reflection_v1)
            .add_optional_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(incoming.connections, signal);
        let grace_elapsed = async {
            match grace_rx.await {
                Ok(()) => tokio::time::sleep(shutdown_grace).await,
                Err(_) => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            result = serve => result.map_err(ServerError::from),
            () = grace_elapsed => {
                tracing::warn!("grace period over; closing the calls still in flight");
                Ok(())
            }
        };
        incoming.task.abort();
        tls_reload.abort();
        refusal_log.abort();
        crate::background::refusal_log::flush(&self.store, &tally).await;
        reload.abort();
        sequencer.abort();
        count_refresh.abort();
        self.store.close().await;
        if writer_failed.load(Ordering::Acquire) {
            return Err(ServerError::WriterFailed);
        }
        result
    }
}
