//! A typed mutual-TLS client of the Jembatan exchange, for Rust callers: the CLI, the tests and
//! the benchmarks use it.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use jembatan_proto::convert::status_name;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
pub use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub use audit::AuditClient;
pub use jembatan_proto::{convert, v1};
pub use stated::Stated;

pub mod audit;
mod stated;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A certificate or key file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server URL is not a valid `https://` URL.
    #[error("server url {0:?} is not a valid https:// URL")]
    InvalidUrl(String),
    /// The connection could not be made.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// The server URL.
        server: String,
        /// The underlying error.
        source: tonic::transport::Error,
    },
    /// A metadata value cannot travel as an HTTP/2 header (non-ASCII or control characters).
    #[error("metadata {0}: the value must be printable ASCII")]
    InvalidMetadata(&'static str),
    /// The server answered with an error.
    #[error("{}: {}", status_name(.0.code()), .0.message())]
    Status(tonic::Status),
    /// The server's answer lacks a part the contract promises.
    #[error("the exchange's answer has no {0}")]
    Incomplete(&'static str),
    /// A checkpoint, proof or entry of the audit log does not verify, or a witness refuses a
    /// checkpoint: the log misbehaves (or the wrong verifier key was given).
    #[error("the audit log does not verify: {0}")]
    Proof(jembatan_audit::AuditError),
    /// The exchange listed an entry whose bytes do not hash to its leaf hash.
    #[error("the audit log does not verify: entry {0}'s bytes do not hash to its leaf hash")]
    LeafHashMismatch(u64),
    /// The exchange did not list a leaf below the signed size.
    #[error("the audit log does not verify: leaf {0} is missing from the listed entries")]
    LeafMissing(u64),
    /// The listed leaves do not recompute the signed root. The exchange proves its first
    /// `index` leaves as listed to be a prefix of the signed tree, but not the first `index + 1`.
    /// A proof cannot tell which of two sibling leaves changed, so the change is at `index` or
    /// next to it (or in a stored hash those proofs need).
    #[error(
        "the audit log does not verify: the listed leaves do not recompute the root signed for {size} leaves; the exchange proves its first {index} leaves but not leaf {index}: it, a leaf next to it, or a stored hash its proofs need was changed"
    )]
    LeafNotInCheckpoint {
        /// The first leaf that differs.
        index: u64,
        /// The signed size.
        size: u64,
    },
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Status(status)
    }
}

impl ClientError {
    /// The status the server answered with, if that is the error.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            ClientError::Status(status) => Some(status),
            _ => None,
        }
    }

    /// Whether the error says the log misbehaves, as opposed to the call failing.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            ClientError::Proof(_)
                | ClientError::LeafHashMismatch(_)
                | ClientError::LeafMissing(_)
                | ClientError::LeafNotInCheckpoint { .. }
        )
    }
}

/// The caller's TLS material, PEM.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// CA bundle the server's certificate must chain to.
    pub ca_pem: Vec<u8>,
    /// The caller's certificate and key; `None` connects without a client certificate (which
    /// the exchange refuses: useful only to show that it does).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl ClientTls {
    /// Reads the CA bundle, certificate and key from PEM files.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, ClientError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ClientError::Read {
                path: path.into(),
                source,
            })
        };
        Ok(Self {
            ca_pem: read(ca)?,
            identity: Some((read(cert)?, read(key)?)),
        })
    }
}

/// An open connection to the exchange.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
}

impl Client {
    /// Connects to `server` (e.g. `https://127.0.0.1:7443`) over mutual TLS 1.3.
    pub async fn connect(server: &str, tls: ClientTls) -> Result<Self, ClientError> {
        Self::connect_from(server, tls, None).await
    }

    /// Connects as [`Client::connect`] does, from the local address `local` when given (a
    /// host with several addresses, or a test standing in for several hosts).
    pub async fn connect_from(
        server: &str,
        tls: ClientTls,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, ClientError> {
        let mut tls_config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(tls.ca_pem));
        if let Some((cert, key)) = tls.identity {
            tls_config = tls_config.identity(Identity::from_pem(cert, key));
        }
        if !server.starts_with("https://") {
            return Err(ClientError::InvalidUrl(server.to_owned()));
        }
        let endpoint = Endpoint::from_shared(server.to_owned())
            .map_err(|_| ClientError::InvalidUrl(server.to_owned()))?
            .connect_timeout(Duration::from_secs(10))
            .local_address(local)
            .tls_config(tls_config)
            .map_err(|source| ClientError::Connect {
                server: server.to_owned(),
                source,
            })?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| ClientError::Connect {
                server: server.to_owned(),
                source,
            })?;
        Ok(Self { channel })
    }

    /// The underlying channel, for the generated service clients.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Asks `grpc.health.v1.Health/Check` about `service` (empty for the whole server).
    pub async fn health(&self, service: &str) -> Result<ServingStatus, ClientError> {
        let response = HealthClient::new(self.channel.clone())
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await?;
        Ok(response.into_inner().status())
    }

    /// The AuditService, each call stating `stated`.
    pub fn audit(&self, stated: Stated) -> AuditClient {
        AuditClient::new(self.channel.clone(), stated)
    }

    /// The server's serving status with the details it reports to a check that asks for them
    /// (`jembatan health --details`).
    pub async fn health_details(&self) -> Result<HealthDetails, ClientError> {
        let mut request = tonic::Request::new(HealthCheckRequest::default());
        request.metadata_mut().insert(
            jembatan_proto::metadata::HEALTH_DETAILS,
            tonic::metadata::MetadataValue::from_static("1"),
        );
        let response = HealthClient::new(self.channel.clone())
            .check(request)
            .await?;
        let header = |key| header(response.metadata(), key);
        let number = |key| header(key).and_then(|v| v.parse::<u64>().ok());
        use jembatan_proto::metadata as m;
        Ok(HealthDetails {
            policy: PolicyStatus {
                policy_set: header(m::POLICY_SET),
                refused: header(m::POLICY_REFUSED),
            },
            store: header(m::HEALTH_STORE),
            log_size: number(m::HEALTH_LOG_SIZE),
            checkpoint_size: number(m::HEALTH_CHECKPOINT_SIZE),
            checkpoint_signed_at: header(m::HEALTH_CHECKPOINT_SIGNED_AT),
            server_cert_not_after: header(m::HEALTH_SERVER_CERT_NOT_AFTER),
            crl_this_update: header(m::HEALTH_CRL_THIS_UPDATE),
            crl_next_update: header(m::HEALTH_CRL_NEXT_UPDATE),
            status: response.into_inner().status(),
        })
    }

    /// The policy set in force on the server, from the headers of a health check.
    pub async fn policy_status(&self) -> Result<PolicyStatus, ClientError> {
        let response = HealthClient::new(self.channel.clone())
            .check(HealthCheckRequest::default())
            .await?;
        Ok(PolicyStatus {
            policy_set: header(response.metadata(), jembatan_proto::metadata::POLICY_SET),
            refused: header(
                response.metadata(),
                jembatan_proto::metadata::POLICY_REFUSED,
            ),
        })
    }
}

/// A response header's value, if it is there and printable.
fn header(metadata: &tonic::metadata::MetadataMap, key: &str) -> Option<String> {
    metadata
        .get(key)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// What the server says of its access policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// `sha256:<hex>` of the policy set in force; `None` from a server that does not say.
    pub policy_set: Option<String>,
    /// `sha256:<hex>` of a newer policy folder the server refused, if any.
    pub refused: Option<String>,
}

/// What a health check with details tells (times RFC 3339 UTC, as the server wrote them); a
/// part the server did not report is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthDetails {
    /// The serving status.
    pub status: ServingStatus,
    /// The policy set in force, and a newer folder refused.
    pub policy: PolicyStatus,
    /// `ok`, or `unavailable` when the store does not answer.
    pub store: Option<String>,
    /// Leaves committed to the audit log.
    pub log_size: Option<u64>,
    /// Leaves in the latest signed checkpoint.
    pub checkpoint_size: Option<u64>,
    /// When the latest checkpoint was signed.
    pub checkpoint_signed_at: Option<String>,
    /// When the server certificate expires.
    pub server_cert_not_after: Option<String>,
    /// When the oldest CRL in force was issued.
    pub crl_this_update: Option<String>,
    /// When the first CRL is due anew; past it, every client is refused (unless configured
    /// otherwise).
    pub crl_next_update: Option<String>,
}
