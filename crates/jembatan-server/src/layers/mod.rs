//! The tower layers every call passes before its handler, in this order:
//! - [`telemetry`]: the call's span (in the caller's trace), duration and trace id;
//! - [`limits`]: the caller's rates, calls in progress and the call's deadline, or
//!   RESOURCE_EXHAUSTED (logged in aggregate, one leaf per caller, class of method and window);
//! - [`identity`]: the caller's principal from the certificate's URI SAN, or UNAUTHENTICATED;
//! - [`policy`]: the stated purpose and legal basis, and the policies' decision on the method,
//!   or INVALID_ARGUMENT / UNIMPLEMENTED / PERMISSION_DENIED; an allowed call carries a
//!   [`crate::call::Caller`]. Health and reflection are decided too, without a purpose.
//!
//! Every other refusal of a contract call (`/jembatan.v1.…`) is logged one leaf per call, by
//! whichever part refuses it: these layers, or the handler (see [`refusals`]): its audit leaf is committed before the
//! caller has its answer, and the answer is UNAVAILABLE instead when the leaf cannot be
//! written. Which codes are refusals is [`crate::status::refusal_name`]'s to say.

use jembatan_audit::leaf::LeafEntry;
use jembatan_store::{Store, WriteTicket};
use tonic::body::Body;
use tonic::codegen::http;

pub(crate) mod identity;
pub(crate) mod limits;
pub(crate) mod policy;
pub(crate) mod refusals;
pub(crate) mod telemetry;

/// The response of a refusal whose leaf is `leaf`: `status`, marked
/// [`refusals::RefusalLogged`], once the leaf is committed; else the store's status.
async fn refusal_response(
    store: &Store,
    leaf: LeafEntry,
    status: tonic::Status,
) -> http::Response<Body> {
    match commit_refusal(store, leaf).await {
        Ok(()) => refusals::marked(status.into_http()),
        Err(unavailable) => unavailable.into_http(),
    }
}

/// Commits the leaf of a refusal, or answers the store's status (logged).
async fn commit_refusal(store: &Store, leaf: LeafEntry) -> Result<(), tonic::Status> {
    let ticket = WriteTicket::new(format!("{} {}", leaf.principal, leaf.method));
    store
        .log(ticket, vec![leaf])
        .await
        .map(drop)
        .map_err(|error| {
            tracing::error!("cannot write the audit leaf of a refused call");
            crate::status::store_status(error)
        })
}
