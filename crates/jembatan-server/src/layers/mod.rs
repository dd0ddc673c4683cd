//! The tower layers every call passes before its handler, in this order:
//! - [`identity`]: the caller's principal from the certificate's URI SAN, or UNAUTHENTICATED;
//! - [`policy`]: the stated purpose and legal basis, and the policies' decision on the method,
//!   or INVALID_ARGUMENT / PERMISSION_DENIED; an allowed call carries a [`crate::call::Caller`].
//!
//! Refused calls of the contract are logged too: a layer commits the refusal's audit leaf
//! before it answers, and answers UNAVAILABLE instead when the leaf cannot be written.

use jembatan_audit::leaf::LeafEntry;
use jembatan_store::{Store, WriteTicket};

pub(crate) mod identity;
pub(crate) mod policy;

/// Commits `leaf` and returns `status`, or the store's status if the log cannot be written.
async fn logged_refusal(store: &Store, leaf: LeafEntry, status: tonic::Status) -> tonic::Status {
    let ticket = WriteTicket::new(format!("{} {}", leaf.principal, leaf.method));
    match store.log(ticket, vec![leaf]).await {
        Ok(_) => status,
        Err(error) => {
            tracing::error!("cannot write the audit leaf of a refused call");
            crate::status::store_status(error)
        }
    }
}
