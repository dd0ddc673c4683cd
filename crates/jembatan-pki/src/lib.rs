//! Public-key infrastructure of the exchange: who a caller is, how TLS is configured, and the
//! development certificate authority.
//!
//! - [`identity`]: SPIFFE IDs and the [`Principal`] taken from a client certificate's URI SAN.
//! - [`tls`]: rustls server configuration (TLS 1.3, client certificates required, CRLs).
//! - [`dev_ca`]: an ECDSA P-256 certificate authority for development and tests.
//! - [`pki_dir`]: the on-disk layout `NAME.pem` / `NAME-key.pem` (keys mode 0600).
//! - [`revocation`]: revoking a folder's certificates and signing its `crl.pem`.
//! - [`private_file`]: files of keys and personal data, mode 0600.

#![forbid(unsafe_code)]

pub mod dev_ca;
mod error;
pub mod identity;
pub mod pki_dir;
pub mod private_file;
pub mod revocation;
pub mod tls;

pub use dev_ca::{DevCa, IssuedCert, Validity};
pub use error::PkiError;
pub use identity::{
    IdentityError, Principal, PrincipalKind, SpiffeId, TrustDomain, certificate_fingerprint,
};
pub use revocation::{Reason, Revocation, RevokedCert, SignedCrl};
