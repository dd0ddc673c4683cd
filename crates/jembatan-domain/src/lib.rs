//! Validated domain types and reference codes of the exchange, free of I/O.
//!
//! - [`purpose`]: the purposes a request may state (the MoU's scopes and auditing) and the
//!   lawful bases of UU PDP Article 20, as they travel in request metadata.

#![forbid(unsafe_code)]

mod error;
pub mod purpose;

pub use error::DomainError;
pub use purpose::{LegalBasis, Purpose};
