//! Refusals of contract calls by their handlers: each leaves one audit leaf, committed before the
//! caller has its answer.
//!
//! tonic answers a handler's `Err(Status)` as a trailers-only response, with `grpc-status` in
//! the response headers, so the policy layer sees the code before it returns the response. A
//! refusal (see [`crate::status::refusal_name`]) is logged with the call's facts and its code;
//! a failure is not. If the leaf cannot be written, the caller gets UNAVAILABLE instead of the
//! refusal. A refusal in the middle of a server stream (WatchAvailability losing its right) is
//! in the trailers, after the headers: its handler logs it before sending it.
//!
//! A response whose refusal is logged carries [`RefusalLogged`], so that no layer logs it twice.

use jembatan_store::Store;
use tonic::body::Body;
use tonic::codegen::http;

use crate::call::Caller;
use crate::status::refusal_name;

/// Marks a response whose refusal is in the audit log already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefusalLogged;

/// The gRPC code of a trailers-only response; `None` while the answer is still to come (in the
/// body and its trailers), which is how an answer that is not an early refusal starts.
pub(crate) fn early_code(response: &http::Response<Body>) -> Option<tonic::Code> {
    let value = response.headers().get("grpc-status")?.to_str().ok()?;
    value.parse::<i32>().ok().map(tonic::Code::from_i32)
}

/// `response` as the caller gets it: a handler's refusal logged first (or UNAVAILABLE if it
/// cannot be), anything else as it is.
pub(crate) async fn logged_after_handler(
    store: &Store,
    caller: &Caller,
    response: http::Response<Body>,
) -> http::Response<Body> {
    if response.extensions().get::<RefusalLogged>().is_some() {
        return response;
    }
    let Some(status) = early_code(&response).and_then(refusal_name) else {
        return response;
    };
    match super::commit_refusal(store, caller.refused(status)).await {
        Ok(()) => marked(response),
        Err(unavailable) => unavailable.into_http(),
    }
}

/// `response`, marked as logged.
pub(crate) fn marked(mut response: http::Response<Body>) -> http::Response<Body> {
    response.extensions_mut().insert(RefusalLogged);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_of_a_trailers_only_answer_is_read_and_a_streaming_answer_has_none() {
        let refused = tonic::Status::permission_denied("no").into_http::<Body>();
        assert_eq!(early_code(&refused), Some(tonic::Code::PermissionDenied));
        let streaming = http::Response::new(Body::empty());
        assert_eq!(early_code(&streaming), None);
        assert!(
            marked(refused)
                .extensions()
                .get::<RefusalLogged>()
                .is_some()
        );
    }
}
