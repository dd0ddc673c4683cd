use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jembatan_audit::note::SignerKey;
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_pki::TrustDomain;
use jembatan_pki::tls::{ServerTlsFiles, TlsVersions};
use jembatan_policy::{Engine, Policies};
use jembatan_proto::v1::{
    audit_service_server::AuditServiceServer,
    market_intel_service_server::MarketIntelServiceServer,
    placement_service_server::PlacementServiceServer, program_service_server::ProgramServiceServer,
    workforce_service_server::WorkforceServiceServer,
};
use jembatan_store::{Store, StoreLocation, StoreOptions};
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::acceptor::{self, AcceptorLimits};
use crate::audit_service::AuditApi;
use crate::identity_layer::IdentityLayer;
use crate::pending::Pending;
use crate::placement_service::PlacementApi;
use crate::policy_layer::PolicyLayer;
use crate::witnesses::Witnesses;
use crate::workforce_service::{WorkforceApi, WorkforceSettings};
use crate::{Config, ServerError};

/// Names of the contract's services, as health reports them.
const SERVICE_NAMES: &[&str] = &[
    <PlacementServiceServer<PlacementApi> as NamedService>::NAME,
    <WorkforceServiceServer<WorkforceApi> as NamedService>::NAME,
    <MarketIntelServiceServer<Pending> as NamedService>::NAME,
    <ProgramServiceServer<Pending> as NamedService>::NAME,
    <AuditServiceServer<AuditApi> as NamedService>::NAME,
];

/// The smallest suppression threshold the exchange accepts.
const MIN_SUPPRESSION_THRESHOLD: u32 = 3;

/// The TLS configuration and acceptor limits of `config`: what [`Exchange`] serves with, and
/// what the benchmarks' echo baseline is served with, so that the two are compared alike.
pub fn tls_acceptor(
    config: &Config,
) -> Result<(Arc<rustls::ServerConfig>, AcceptorLimits), ServerError> {
    let versions = if config.tls.allow_tls12 {
        TlsVersions::Tls12And13
    } else {
        TlsVersions::Tls13
    };
    let files = ServerTlsFiles {
        cert: config.tls.cert.clone(),
        key: config.tls.key.clone(),
        client_ca: config.tls.client_ca.clone(),
        crls: config.tls.crls.clone(),
    };
    let tls = jembatan_pki::tls::server_config(&files, versions)?;
    if config.server.max_concurrent_handshakes == 0 {
        return Err(ServerError::InvalidValue {
            key: "server.max_concurrent_handshakes",
            reason: "must be at least 1".into(),
        });
    }
    let limits = AcceptorLimits {
        handshake_timeout: Duration::from_secs(config.server.handshake_timeout_secs),
        max_concurrent_handshakes: config.server.max_concurrent_handshakes,
    };
    Ok((tls, limits))
}

/// A bound, ready-to-serve exchange: listener open, TLS loaded, store migrated.
pub struct Exchange {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    trust_domain: TrustDomain,
    limits: AcceptorLimits,
    shutdown_grace: Duration,
    store: Store,
    policy: Arc<Engine>,
    policy_dir: std::path::PathBuf,
    policy_watch: Duration,
    log_signer: Arc<SignerKey>,
    log_origin: String,
    checkpoint_interval: Duration,
    witnesses: Witnesses,
    personal_data_key: Arc<PersonalDataKey>,
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
        let (tls, limits) = tls_acceptor(config)?;
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

        let witnesses =
            Witnesses::from_config(&config.audit.witnesses, log_signer.verifier().name())?;
        tracing::info!(keys = witnesses.len(), "audit witnesses registered");

        let location = StoreLocation::parse(&config.store.url)?;
        let store_options = StoreOptions {
            max_connections: config.store.max_connections.max(1),
            ..StoreOptions::default()
        };
        let store = Store::open(&location, store_options).await?;
        let instance = store.instance().await?;
        tracing::info!(store = %location, instance = %instance.instance_id, "store ready");

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
            limits,
            shutdown_grace: Duration::from_secs(config.server.shutdown_grace_secs),
            store,
            policy,
            policy_dir: config.policy.dir.clone(),
            policy_watch: Duration::from_millis(config.policy.watch_interval_ms),
            log_signer,
            log_origin,
            checkpoint_interval: Duration::from_millis(config.audit.checkpoint_interval_ms.max(1)),
            witnesses,
            personal_data_key: Arc::new(personal_data_key),
            workforce: WorkforceSettings {
                suppression_threshold: config.placements.suppression_threshold,
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
    /// in-flight calls the configured grace period to finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in SERVICE_NAMES.iter().chain(&[""]) {
            reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(jembatan_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;

        let reload = tokio::spawn(crate::policy_reload::run(
            Arc::clone(&self.policy),
            self.policy_dir,
            self.policy_watch,
        ));
        let sequencer = tokio::spawn(crate::sequencer::run(
            self.store.clone(),
            self.log_signer,
            self.log_origin,
            self.checkpoint_interval,
        ));
        let audit_api = AuditApi::new(
            self.store.clone(),
            Arc::clone(&self.policy),
            self.trust_domain.clone(),
            self.witnesses,
            Arc::clone(&self.personal_data_key),
        );
        let placements = PlacementApi::new(self.store.clone(), Arc::clone(&self.personal_data_key));
        // Streams that never end by themselves (watches) end when shutdown begins.
        let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
        let workforce = WorkforceApi::new(
            self.store.clone(),
            Arc::clone(&self.policy),
            Arc::clone(&self.personal_data_key),
            self.workforce,
            stopping,
        );
        let incoming = acceptor::spawn(self.listener, self.tls, self.trust_domain, self.limits);
        let (grace_tx, grace_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            tracing::info!(grace = ?self.shutdown_grace, "shutting down");
            let _ = stopping_tx.send(true);
            for name in SERVICE_NAMES.iter().chain(&[""]) {
                reporter
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
            let _ = grace_tx.send(());
        };
        let serve = Server::builder()
            .layer(
                tower::ServiceBuilder::new()
                    .layer(IdentityLayer::new(self.store.clone()))
                    .layer(PolicyLayer::new(self.policy, self.store.clone())),
            )
            .add_service(health)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(PlacementServiceServer::new(placements))
            .add_service(WorkforceServiceServer::new(workforce))
            .add_service(MarketIntelServiceServer::new(Pending))
            .add_service(ProgramServiceServer::new(Pending))
            .add_service(AuditServiceServer::new(audit_api))
            .serve_with_incoming_shutdown(incoming.connections, signal);
        let grace_elapsed = async {
            match grace_rx.await {
                Ok(()) => tokio::time::sleep(self.shutdown_grace).await,
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
        reload.abort();
        sequencer.abort();
        self.store.close().await;
        result
    }
}
