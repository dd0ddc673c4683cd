//! The server's TLS configuration, as the exchange and the benchmarks' echo baseline load it.

use std::sync::Arc;
use std::time::Duration;

use jembatan_pki::tls::{ServerTlsFiles, TlsVersions};

use super::acceptor::AcceptorLimits;
use crate::{Config, ServerError};

/// The TLS configuration and acceptor limits of `config`: what [`crate::Exchange`] serves with, and
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
