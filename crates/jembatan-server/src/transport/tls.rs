//! The server's TLS material, as the exchange and the benchmarks' echo baseline load it, and as
//! [`ServerTlsState::reload`] replaces it while serving: a new CA bundle or CRL (`jembatan pki
//! revoke`) applies to the next handshake and, through [`super::acceptor`]'s checks, to the
//! connections already open.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jembatan_pki::tls::{MaterialDates, ServerTls, ServerTlsFiles, TlsVersions};

use super::acceptor::AcceptorLimits;
use crate::{Config, ServerError};

/// The TLS configuration in force, replaced whole when its files change.
#[derive(Debug)]
pub struct ServerTlsState {
    files: ServerTlsFiles,
    versions: TlsVersions,
    enforce_crl_next_update: bool,
    current: RwLock<Loaded>,
}

#[derive(Debug, Clone)]
struct Loaded {
    tls: ServerTls,
    /// SHA-256 over the files' contents, to tell a change.
    digest: [u8; 32],
    /// When the material loaded runs out, read with it: not the files as they may be on disk
    /// now, which a refused reload leaves different from what is in force.
    dates: MaterialDates,
}

impl ServerTlsState {
    /// The configuration and verifier in force now.
    pub fn current(&self) -> ServerTls {
        self.read().tls
    }

    /// Reads the files again; replaces the configuration when they changed and are valid.
    /// Ok(true) when replaced; Err (the configuration in force stays) when they cannot be read
    /// or are not valid.
    pub fn reload(&self) -> Result<bool, ServerError> {
        let digest = files_digest(&self.files)?;
        if digest == self.read().digest {
            return Ok(false);
        }
        let tls = jembatan_pki::tls::server_config(
            &self.files,
            self.versions,
            self.enforce_crl_next_update,
        )?;
        let dates = jembatan_pki::tls::material_dates(&self.files)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Loaded { tls, digest, dates };
        Ok(true)
    }

    /// When the server certificate and the CRLs in force run out.
    pub fn material_dates(&self) -> MaterialDates {
        self.read().dates
    }

    fn read(&self) -> Loaded {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// SHA-256 over the length and contents of every file, in order.
fn files_digest(files: &ServerTlsFiles) -> Result<[u8; 32], ServerError> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for path in [&files.cert, &files.key, &files.client_ca]
        .into_iter()
        .chain(&files.crls)
    {
        let bytes = std::fs::read(path).map_err(|e| ServerError::InvalidValue {
            key: "tls",
            reason: format!("{}: {e}", path.display()),
        })?;
        context.update(&(bytes.len() as u64).to_be_bytes());
        context.update(&bytes);
    }
    let mut digest = [0; 32];
    digest.copy_from_slice(context.finish().as_ref());
    Ok(digest)
}

/// The TLS material and acceptor limits of `config`: what [`crate::Exchange`] serves with, and
/// what the benchmarks' echo baseline is served with, so that the two are compared alike.
pub fn tls_acceptor(config: &Config) -> Result<(Arc<ServerTlsState>, AcceptorLimits), ServerError> {
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
    let digest = files_digest(&files)?;
    let tls =
        jembatan_pki::tls::server_config(&files, versions, config.tls.enforce_crl_next_update)?;
    let dates = jembatan_pki::tls::material_dates(&files)?;
    let server = &config.server;
    for (key, value) in [
        (
            "server.max_concurrent_handshakes",
            server.max_concurrent_handshakes,
        ),
        (
            "server.max_handshakes_per_address",
            server.max_handshakes_per_address,
        ),
    ] {
        if value == 0 {
            return Err(ServerError::InvalidValue {
                key,
                reason: "must be at least 1".into(),
            });
        }
    }
    let limits = AcceptorLimits {
        handshake_timeout: Duration::from_secs(server.handshake_timeout_secs),
        client_hello_timeout: Duration::from_millis(server.client_hello_timeout_ms),
        max_concurrent_handshakes: server.max_concurrent_handshakes,
        max_handshakes_per_address: server.max_handshakes_per_address,
        handshake_queue: Duration::from_millis(server.handshake_queue_ms),
        recheck_interval: (config.tls.reload_interval_ms > 0)
            .then(|| Duration::from_millis(config.tls.reload_interval_ms)),
        max_connections_per_caller: server.max_connections_per_caller.max(1),
    };
    let state = ServerTlsState {
        files,
        versions,
        enforce_crl_next_update: config.tls.enforce_crl_next_update,
        current: RwLock::new(Loaded { tls, digest, dates }),
    };
    Ok((Arc::new(state), limits))
}
