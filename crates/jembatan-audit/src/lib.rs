//! The audit log's cryptography, independent of storage and of the rest of the exchange.
//!
//! - [`note`]: C2SP signed-note Ed25519 keys (`PRIVATE+KEY+…` signer keys and
//!   `<name>+<key id>+<base64>` verifier keys) and signature lines, as used by checkpoints and
//!   their cosignatures.

#![forbid(unsafe_code)]

mod error;
pub mod note;

pub use error::AuditError;
