//! rustls configuration of the exchange's listener, with ring as the only crypto provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::ring as ring_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};

use crate::PkiError;

/// Which TLS versions the listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.3 only (the default).
    #[default]
    Tls13,
    /// TLS 1.2 and 1.3, for callers that cannot do 1.3 yet.
    Tls12And13,
}

/// The files a listener needs.
#[derive(Debug, Clone)]
pub struct ServerTlsFiles {
    /// The server certificate chain, PEM.
    pub cert: PathBuf,
    /// The server private key, PEM.
    pub key: PathBuf,
    /// The CA bundle client certificates must chain to, PEM.
    pub client_ca: PathBuf,
    /// Certificate revocation lists of the client CAs, PEM or DER.
    pub crls: Vec<PathBuf>,
}

/// A listener's TLS configuration, and the client certificate verifier inside it, with which
/// the certificates of open connections are checked again.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The configuration handshakes use.
    pub config: Arc<rustls::ServerConfig>,
    /// Its verifier of client certificates: the CA bundle and CRLs as read.
    pub client_verifier: Arc<dyn ClientCertVerifier>,
}

/// Builds the server configuration: a client certificate is required and verified against the
/// CA bundle and CRLs (a CRL past its next update refuses every certificate when
/// `enforce_crl_next_update`); ALPN offers only `h2`; sessions are never resumed, so that every
/// connection's certificate is verified against the lists in force.
pub fn server_config(
    files: &ServerTlsFiles,
    versions: TlsVersions,
    enforce_crl_next_update: bool,
) -> Result<ServerTls, PkiError> {
    let provider = Arc::new(ring_provider::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in read_certs(&files.client_ca)? {
        roots.add(cert)?;
    }
    let mut crls = Vec::with_capacity(files.crls.len());
    for path in &files.crls {
        crls.push(read_crl(path)?);
    }
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crls);
    if enforce_crl_next_update {
        verifier = verifier.enforce_revocation_expiration();
    }
    let client_verifier = verifier.build()?;
    let protocol_versions: &[&rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Tls13 => &[&rustls::version::TLS13],
        TlsVersions::Tls12And13 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(protocol_versions)?
        .with_client_cert_verifier(Arc::clone(&client_verifier))
        .with_single_cert(read_certs(&files.cert)?, read_key(&files.key)?)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(ServerTls {
        config: Arc::new(config),
        client_verifier,
    })
}

/// Reads every certificate of a PEM file; an empty file is an error.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let bytes = std::fs::read(path).map_err(PkiError::io(path))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Pem {
            path: path.into(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(PkiError::Pem {
            path: path.into(),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    let bytes = std::fs::read(path).map_err(PkiError::io(path))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| PkiError::Pem {
        path: path.into(),
        reason: e.to_string(),
    })
}

fn read_crl(path: &Path) -> Result<CertificateRevocationListDer<'static>, PkiError> {
    let bytes = std::fs::read(path).map_err(PkiError::io(path))?;
    crate::revocation::crl_der(bytes).map_err(|reason| PkiError::Pem {
        path: path.into(),
        reason,
    })
}

/// When the TLS material a listener serves with runs out: what `jembatan health --details`
/// reports, so that an operator renews it in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialDates {
    /// The server certificate's end of validity (`notAfter`), Unix seconds.
    pub server_cert_not_after: i64,
    /// For each CRL, in the order configured: when it was issued (`thisUpdate`) and when its
    /// next issue is due (`nextUpdate`, `None` if it names none), Unix seconds.
    pub crls: Vec<(i64, Option<i64>)>,
}

/// Reads the dates of `files`' server certificate and CRLs.
pub fn material_dates(files: &ServerTlsFiles) -> Result<MaterialDates, PkiError> {
    let certs = read_certs(&files.cert)?;
    let leaf = certs.first().ok_or_else(|| PkiError::Pem {
        path: files.cert.clone(),
        reason: "no certificate".into(),
    })?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| PkiError::Pem {
        path: files.cert.clone(),
        reason: format!("not a certificate: {e}"),
    })?;
    let mut crls = Vec::with_capacity(files.crls.len());
    for path in &files.crls {
        let der = read_crl(path)?;
        crls.push(
            crate::revocation::crl_dates(&der).map_err(|reason| PkiError::Pem {
                path: path.clone(),
                reason,
            })?,
        );
    }
    Ok(MaterialDates {
        server_cert_not_after: cert.validity().not_after.timestamp(),
        crls,
    })
}
