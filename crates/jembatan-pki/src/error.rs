use std::path::PathBuf;

/// Errors of certificate handling, TLS configuration and the dev CA.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A file that would be written exists already.
    #[error("{0}: exists already; refusing to overwrite it")]
    AlreadyExists(PathBuf),
    /// A name (trust domain, agency, system, office, file name) is not acceptable.
    #[error("{0}")]
    InvalidName(String),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// A certificate's identity could not be read.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    /// A key file may be read by group or others.
    #[error(
        "{path}: private key file has mode {mode:04o}, so group or others may read it; \
         fix it with `chmod 600 {path}`"
    )]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The certificate to revoke does not exist.
    #[error("{0}: no such certificate (`jembatan pki issue --name NAME` writes NAME.pem)")]
    NoCertificate(PathBuf),
    /// The certificate to revoke was not issued by the folder's CA.
    #[error("{0}: not issued by the CA of its folder; only that CA's certificates can be revoked")]
    ForeignCertificate(PathBuf),
    /// The certificate is on the revocation list already.
    #[error("{name}: already revoked (serial {serial}, since {since})")]
    AlreadyRevoked {
        /// File name stem the certificate was issued under.
        name: String,
        /// Its serial number, hex.
        serial: String,
        /// When it was revoked, RFC 3339.
        since: String,
    },
    /// A revocation reason is not one of the accepted names.
    #[error("unknown revocation reason {given:?}; expected one of: {expected}")]
    UnknownReason {
        /// The name given.
        given: String,
        /// The accepted names.
        expected: String,
    },
    /// A CRL's next update is not within the accepted number of days.
    #[error("next update in {given} days: expected 1 to {max} days")]
    NextUpdateDays {
        /// The days given.
        given: u32,
        /// The most accepted.
        max: u32,
    },
    /// The record of revocations (`revoked.json`) is missing or unreadable.
    #[error("{path}: {reason}")]
    RevocationRecord {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
