//! A call's trace id: the one its caller's W3C `traceparent` header carries, or a new random one
//! when the header is absent, repeated or malformed (as the specification has a receiver start
//! a trace of its own). Every audit leaf of the call records it.
//!
//! The log can never be erased, so a caller's value must not be able to carry a NIK in clear
//! into it (as the case reference and operator cannot): a trace id with a run of 16 or more
//! decimal digits is not recorded, and the call gets one of the exchange's making. A random
//! trace id has such a run about once in a hundred; those calls lose only the link to the
//! caller's trace.

use jembatan_proto::trace_context::{TRACEPARENT, TraceParent};
use ring::rand::{SecureRandom, SystemRandom};
use tonic::codegen::http::{self, HeaderMap};

/// The trace id the telemetry layer gave a call, as a request extension; the call's leaves
/// record it.
#[derive(Debug, Clone)]
pub(crate) struct CallTrace(pub(crate) String);

/// The trace id of `request`: the one the telemetry layer gave it, else as [`trace_id`] says.
pub(crate) fn of<B>(request: &http::Request<B>) -> String {
    match request.extensions().get::<CallTrace>() {
        Some(CallTrace(id)) => id.clone(),
        None => trace_id(request.headers()),
    }
}

/// The trace id of a call with `headers`, 32 lower-case hex digits: the caller's, or new.
pub(crate) fn trace_id(headers: &HeaderMap) -> String {
    match given(headers) {
        Some(parent) => parent.trace_id_hex(),
        None => new_trace_id(),
    }
}

/// The caller's `traceparent`, when there is exactly one, it is valid, and its ids may be
/// recorded (see the module documentation; the parent id is exported as the call span's
/// parent, so the same rule holds for it).
pub(crate) fn given(headers: &HeaderMap) -> Option<TraceParent> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let given = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().and_then(TraceParent::parse),
        _ => None,
    };
    given.filter(|parent| {
        !could_be_a_nik(&parent.trace_id_hex()) && !could_be_a_nik(&hex::encode(parent.parent_id))
    })
}

/// Whether `hex` holds 16 decimal digits in a row, the length of a NIK.
fn could_be_a_nik(hex: &str) -> bool {
    hex.as_bytes()
        .split(|b| !b.is_ascii_digit())
        .any(|run| run.len() >= 16)
}

/// A new random trace id.
pub(crate) fn new_trace_id() -> String {
    let mut id = [0u8; 16];
    // The system's random source does not fail on the platforms the exchange runs on; should
    // it, the id is still unique enough to tell calls apart by the rest of the leaf.
    if SystemRandom::new().fill(&mut id).is_err() || id == [0; 16] {
        id[15] = 1;
    }
    hex::encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::codegen::http::HeaderValue;

    #[test]
    fn the_callers_trace_id_or_a_new_one() {
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(trace_id(&headers), "4bf92f3577b34da6a3ce929d0e0e4736");
        headers.append(
            TRACEPARENT,
            HeaderValue::from_static("00-11112f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let repeated = trace_id(&headers);
        assert_ne!(repeated, "4bf92f3577b34da6a3ce929d0e0e4736");
        let mut nik = HeaderMap::new();
        nik.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-abcd3171234567890123ef0123456789-00f067aa0ba902b7-01"),
        );
        assert!(
            !trace_id(&nik).contains("3171234567890123"),
            "a NIK is not logged"
        );
        assert!(!could_be_a_nik("4bf92f3577b34da6a3ce929d0e0e4736"));
        let mut nik_parent = HeaderMap::new();
        nik_parent.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-3171234567890123-01"),
        );
        assert!(
            given(&nik_parent).is_none(),
            "a parent id that could be a NIK is not followed (it would be exported)"
        );
        assert!(!trace_id(&nik_parent).contains("4bf92f3577b34da6"));
        let fresh = trace_id(&HeaderMap::new());
        assert_eq!(fresh.len(), 32);
        assert!(
            fresh
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(fresh, trace_id(&HeaderMap::new()));
    }
}
