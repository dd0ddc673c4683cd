//! A typed mutual-TLS client of the Jembatan exchange, for Rust callers: the CLI, the tests and
//! the benchmarks use it.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
pub use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub use jembatan_proto::v1;
pub use stated::Stated;

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
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
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

    /// The policy set in force on the server, from the headers of a health check.
    pub async fn policy_status(&self) -> Result<PolicyStatus, ClientError> {
        let response = HealthClient::new(self.channel.clone())
            .check(HealthCheckRequest::default())
            .await?;
        let header = |key| {
            response
                .metadata()
                .get(key)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Ok(PolicyStatus {
            policy_set: header(jembatan_proto::metadata::POLICY_SET),
            refused: header(jembatan_proto::metadata::POLICY_REFUSED),
        })
    }
}

/// What the server says of its access policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// `sha256:<hex>` of the policy set in force; `None` from a server that does not say.
    pub policy_set: Option<String>,
    /// `sha256:<hex>` of a newer policy folder the server refused, if any.
    pub refused: Option<String>,
}
