use std::path::PathBuf;

/// Errors of starting and running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The config file could not be read.
    #[error("config {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The config file is invalid; the reason names the key.
    #[error("config {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A configured value is invalid.
    #[error("config key {key}: {reason}")]
    InvalidValue {
        /// The key, e.g. `identity.trust_domain`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Certificates or TLS configuration.
    #[error(transparent)]
    Pki(#[from] jembatan_pki::PkiError),
    /// The access policies.
    #[error(transparent)]
    Policy(#[from] jembatan_policy::PolicyError),
    /// The store.
    #[error(transparent)]
    Store(#[from] jembatan_store::StoreError),
    /// The store's writer failed while serving (a fault of the exchange, in the log): no
    /// write could be committed, so the exchange stopped, to be started again.
    #[error("the store's writer failed (see the log): the exchange stopped, to be started again")]
    WriterFailed,
    /// The count index could not be loaded.
    #[error("loading the count index: {0}")]
    Counts(#[from] jembatan_counts::CountsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The reflection service could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// Telemetry cannot be exported as configured; the reason names the key or variable.
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// The HTTP/2 server failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}
