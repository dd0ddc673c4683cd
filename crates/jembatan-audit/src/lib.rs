//! The audit log's cryptography, independent of storage and of the rest of the exchange.
//!
//! - [`checkpoint`]: C2SP checkpoints (origin, size, root) as signed notes, and cosignatures.
//! - [`compact`]: the right border of a growing tree, which turns appended leaves into the
//!   subtree roots a log stores once, and the new root.
//! - [`export`]: the JSON Lines export of a log that `jembatan audit verify` reads offline.
//! - [`leaf`]: what one leaf records, and the exact bytes that are hashed.
//! - [`merkle`]: RFC 6962 hashing, roots, inclusion and consistency proofs made from stored
//!   subtree roots and verified against a root.
//! - [`verify`]: offline verification of a whole log, naming the first bad leaf, node or
//!   checkpoint.
//! - [`witness`]: the witness's side of cosigning: a checkpoint is cosigned only if it extends
//!   the last one the witness verified.
//! - [`note`]: C2SP signed-note Ed25519 keys (`PRIVATE+KEY+…` signer keys and
//!   `<name>+<key id>+<base64>` verifier keys) and signature lines, as used by checkpoints and
//!   their cosignatures.

#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod compact;
mod error;
pub mod export;
pub mod leaf;
pub mod merkle;
pub mod note;
pub mod verify;
pub mod witness;

pub use error::AuditError;
