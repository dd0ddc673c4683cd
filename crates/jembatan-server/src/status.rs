//! The one mapping of failures to gRPC statuses: what the caller can act on goes into the
//! status, the rest into the server's log.
//!
//! | store error | status | the caller |
//! |---|---|---|
//! | busy (no turn, no connection, a lock, within the timeout) | UNAVAILABLE + RetryInfo | retries after the advised delay |
//! | unavailable (database unreachable, shutting down, disk full) | UNAVAILABLE + RetryInfo | retries later |
//! | conflict (a key taken meanwhile, serialization failure) | ABORTED | retries the whole call |
//! | any other database error (a write refused, a failed statement) | UNAVAILABLE, logged as an error | retries later, or tells the operator |
//! | corrupt log or malformed stored data | INTERNAL, logged as an error | tells the operator |
//! | the caller's deadline passed before its turn to write | DEADLINE_EXCEEDED | retries with a longer deadline, or later |
//! | the store's writer stopped (shutting down) | UNAVAILABLE + RetryInfo | retries later |
//! | the group commit holding the write failed | as its cause | as its cause |
//! | a write queued before it in its chain (its stream) failed | ABORTED | sees the earlier failure first |
//!
//! In every case nothing was stored or shared: the logged write rolled back.
//!
//! Which answers are refusals, logged as such ([`refusal_name`]): the caller was told no, for
//! who it is, what it stated or asked, or how much it asks: PERMISSION_DENIED, UNAUTHENTICATED,
//! INVALID_ARGUMENT, UNIMPLEMENTED, FAILED_PRECONDITION, NOT_FOUND, OUT_OF_RANGE,
//! ALREADY_EXISTS and RESOURCE_EXHAUSTED. The others are failures of the exchange or of the
//! call's transport (INTERNAL, UNAVAILABLE, ABORTED, CANCELLED, DEADLINE_EXCEEDED, UNKNOWN,
//! DATA_LOSS): nothing was decided about the caller, so they leave no audit leaf, only the
//! server's log.

use std::time::Duration;

use jembatan_proto::v1::FieldViolation;
use jembatan_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// How long a caller is advised to wait before retrying a busy store.
const BUSY_RETRY: Duration = Duration::from_secs(1);
/// How long a caller is advised to wait before retrying an unavailable store.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(5);

/// The status of a store failure; see the module documentation.
pub(crate) fn store_status(error: StoreError) -> Status {
    status_of(&error)
}

fn status_of(error: &StoreError) -> Status {
    match error {
        // The group this write was in failed as a whole: the cause decides.
        StoreError::Group(cause) => status_of(cause),
        StoreError::DeadlineExceeded => {
            tracing::warn!(%error, "call gave up waiting for its turn to write");
            Status::deadline_exceeded(
                "the call's deadline passed before its turn to write; nothing was stored or shared",
            )
        }
        StoreError::Panicked => {
            tracing::error!(%error, "a fault of the exchange: report it");
            Status::internal(
                "the exchange failed while writing; nothing was stored or shared; the operator \
                 has been told",
            )
        }
        StoreError::Stopped => {
            tracing::error!(%error, "store writer stopped");
            retry_later(
                "the exchange is stopping; nothing was stored or shared; retry later",
                UNAVAILABLE_RETRY,
            )
        }
        StoreError::Busy { .. } => {
            tracing::warn!(%error, "store busy; call refused");
            retry_later(
                "the exchange is busy; nothing was stored or shared; retry shortly",
                BUSY_RETRY,
            )
        }
        StoreError::Unavailable(_) | StoreError::Connect { .. } => {
            tracing::error!(%error, "store unavailable");
            retry_later(
                "the store cannot be reached or written (down, read-only or out of space); \
                 nothing was stored or shared; retry later",
                UNAVAILABLE_RETRY,
            )
        }
        StoreError::EarlierWriteFailed => Status::aborted(
            "a message sent before this one in the stream failed; nothing of this one was stored",
        ),
        StoreError::Conflict(_) => {
            tracing::warn!(%error, "store conflict; call rolled back");
            Status::aborted(
                "the call collided with another change; nothing was stored or shared; retry it",
            )
        }
        StoreError::Database(_) | StoreError::Migrate(_) | StoreError::InvalidLocation(_) => {
            // Fail closed: what could not be logged was not stored or shared.
            tracing::error!(%error, "store failed; call refused");
            Status::unavailable(
                "the store or its audit log cannot be written; nothing was stored or shared; \
                 the operator has been told",
            )
        }
        StoreError::TooMany { .. } => Status::resource_exhausted(format!(
            "{error}; nothing was shared; narrow the filter (countries, codes, kinds, dates)"
        )),
        StoreError::Corrupt(_) | StoreError::Audit(_) => {
            tracing::error!(%error, "THE STORE IS INCONSISTENT: the operator must look at this");
            Status::internal(
                "the store is inconsistent; nothing was stored or shared; the operator has been told",
            )
        }
    }
}

/// Why a logged write failed, as the call's status: the error type of the work handlers give
/// [`jembatan_store::Store::write`], which turns the store's own errors into it.
#[derive(Debug)]
pub(crate) struct WriteFailed(pub(crate) Status);

impl From<StoreError> for WriteFailed {
    fn from(error: StoreError) -> Self {
        WriteFailed(store_status(error))
    }
}

impl From<Status> for WriteFailed {
    fn from(status: Status) -> Self {
        WriteFailed(status)
    }
}

impl From<WriteFailed> for Status {
    fn from(failed: WriteFailed) -> Self {
        failed.0
    }
}

/// The name a refusal leaf records of `code` (`permission_denied`), if `code` is a refusal;
/// `None` for OK and for failures (see the module documentation).
pub(crate) fn refusal_name(code: Code) -> Option<&'static str> {
    Some(match code {
        Code::PermissionDenied => "permission_denied",
        Code::Unauthenticated => "unauthenticated",
        Code::InvalidArgument => "invalid_argument",
        Code::Unimplemented => "unimplemented",
        Code::FailedPrecondition => "failed_precondition",
        Code::NotFound => "not_found",
        Code::OutOfRange => "out_of_range",
        Code::AlreadyExists => "already_exists",
        Code::ResourceExhausted => "resource_exhausted",
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Internal
        | Code::Unavailable
        | Code::DataLoss => return None,
    })
}

/// UNAVAILABLE with `google.rpc.RetryInfo` advising `delay`.
fn retry_later(message: &str, delay: Duration) -> Status {
    Status::with_error_details(
        Code::Unavailable,
        message,
        ErrorDetails::with_retry_info(Some(delay)),
    )
}

/// INVALID_ARGUMENT with `google.rpc.BadRequest` field violations.
pub(crate) fn bad_request(message: &str, violations: Vec<FieldViolation>) -> Status {
    let violations: Vec<tonic_types::FieldViolation> = violations
        .into_iter()
        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
        .collect();
    let details = ErrorDetails::with_bad_request(violations);
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// INVALID_ARGUMENT naming one field: `<field>: <description>`.
pub(crate) fn invalid_field(field: &str, description: &str) -> Status {
    bad_request(
        &format!("{field}: {description}"),
        vec![FieldViolation {
            field: field.to_owned(),
            description: description.to_owned(),
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_store_error_gets_its_code() {
        let busy = store_status(StoreError::Busy {
            what: "no turn to write",
        });
        assert_eq!(busy.code(), Code::Unavailable);
        let retry = busy.get_details_retry_info().expect("retry advice");
        assert_eq!(retry.retry_delay, Some(BUSY_RETRY));
        let corrupt = store_status(StoreError::Corrupt("leaf 3 is missing".into()));
        assert_eq!(corrupt.code(), Code::Internal);
        assert!(
            !corrupt.message().contains("leaf 3"),
            "internals stay in the log"
        );
        let late = store_status(StoreError::DeadlineExceeded);
        assert_eq!(late.code(), Code::DeadlineExceeded);
        let grouped = store_status(StoreError::Group(std::sync::Arc::new(StoreError::Busy {
            what: "a database lock",
        })));
        assert_eq!(grouped.code(), Code::Unavailable, "the cause decides");
    }

    #[test]
    fn refusals_are_named_and_failures_are_not() {
        assert_eq!(
            refusal_name(Code::PermissionDenied),
            Some("permission_denied")
        );
        assert_eq!(
            refusal_name(Code::ResourceExhausted),
            Some("resource_exhausted")
        );
        for failure in [
            Code::Ok,
            Code::Internal,
            Code::Unavailable,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
        ] {
            assert_eq!(refusal_name(failure), None, "{failure:?}");
        }
    }

    #[test]
    fn one_field_is_named_in_message_and_details() {
        let status = invalid_field("nik", "must be 16 digits");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "nik: must be 16 digits");
        let details = status.get_details_bad_request().expect("details");
        assert_eq!(details.field_violations[0].field, "nik");
    }
}
