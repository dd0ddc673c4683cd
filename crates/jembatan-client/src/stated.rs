//! The request context a caller states on every `jembatan.v1` call, as gRPC metadata.

use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::metadata;
use jembatan_proto::trace_context::{TRACEPARENT, TraceParent};
use ring::rand::{SecureRandom, SystemRandom};
use tonic::metadata::{MetadataMap, MetadataValue};

use crate::ClientError;

/// Purpose and lawful basis of a call, and optionally the caller's case reference and operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stated {
    /// Why the data is processed.
    pub purpose: Purpose,
    /// On which lawful basis (UU PDP Article 20).
    pub legal_basis: LegalBasis,
    /// The caller's case or letter number: 1 to 64 characters of `A-Z a-z 0-9 . / _ : -`
    /// (common.proto), so that it cannot carry personal data into the log.
    pub case_ref: Option<String>,
    /// The caller's pseudonymous id of the person acting, of the same characters as the case
    /// number.
    pub operator: Option<String>,
    /// The W3C trace id every request of this context carries in `traceparent` (each with a
    /// span id of its own), so that the exchange's audit leaves of one command share it.
    trace_id: [u8; 16],
}

impl Stated {
    /// A purpose and a basis, without case reference or operator.
    pub fn new(purpose: Purpose, legal_basis: LegalBasis) -> Self {
        Self {
            purpose,
            legal_basis,
            case_ref: None,
            operator: None,
            trace_id: random_id(),
        }
    }

    /// The trace id the requests carry, 32 lower-case hex digits, as audit leaves record it.
    pub fn trace_id(&self) -> String {
        self.trace_id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `message` as a request carrying this context.
    pub fn request<T>(&self, message: T) -> Result<tonic::Request<T>, ClientError> {
        let mut request = tonic::Request::new(message);
        self.apply(request.metadata_mut())?;
        Ok(request)
    }

    /// Writes this context into `metadata`.
    pub fn apply(&self, metadata: &mut MetadataMap) -> Result<(), ClientError> {
        let entries = [
            (metadata::PURPOSE, Some(self.purpose.code())),
            (metadata::LEGAL_BASIS, Some(self.legal_basis.code())),
            (metadata::CASE_REF, self.case_ref.as_deref()),
            (metadata::OPERATOR, self.operator.as_deref()),
        ];
        for (key, value) in entries {
            if let Some(value) = value {
                let value = MetadataValue::try_from(value)
                    .map_err(|_| ClientError::InvalidMetadata(key))?;
                metadata.insert(key, value);
            }
        }
        let parent = TraceParent {
            trace_id: self.trace_id,
            parent_id: random_id(),
            flags: 1,
        };
        let value = MetadataValue::try_from(parent.header())
            .map_err(|_| ClientError::InvalidMetadata(TRACEPARENT))?;
        metadata.insert(TRACEPARENT, value);
        Ok(())
    }
}

/// `N` random bytes, never all zero (which `traceparent` forbids).
fn random_id<const N: usize>() -> [u8; N] {
    let mut id = [0u8; N];
    if SystemRandom::new().fill(&mut id).is_err() || id == [0; N] {
        id[N - 1] = 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use jembatan_proto::convert::ShortCode;
    use jembatan_proto::v1;

    use super::*;

    #[test]
    fn the_codes_stated_are_the_contracts_in_its_order() {
        let purposes: Vec<&str> = Purpose::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(purposes, v1::Purpose::codes());
        let bases: Vec<&str> = LegalBasis::ALL.iter().map(|b| b.code()).collect();
        assert_eq!(bases, v1::LegalBasis::codes());
    }

    #[test]
    fn requests_of_one_context_share_a_trace_and_not_a_span() {
        let stated = Stated::new(Purpose::Audit, LegalBasis::LegalObligation);
        let header = |request: &tonic::Request<()>| {
            let value = request.metadata().get(TRACEPARENT).expect("traceparent");
            TraceParent::parse(value.to_str().expect("ascii")).expect("valid")
        };
        let (one, two) = (
            header(&stated.request(()).expect("request")),
            header(&stated.request(()).expect("request")),
        );
        assert_eq!(one.trace_id_hex(), stated.trace_id());
        assert_eq!(one.trace_id, two.trace_id);
        assert_ne!(one.parent_id, two.parent_id);
        let other = Stated::new(Purpose::Audit, LegalBasis::LegalObligation);
        assert_ne!(other.trace_id(), stated.trace_id());
    }

    #[test]
    fn metadata_carries_the_codes() {
        let stated = Stated::new(Purpose::Statistics, LegalBasis::PublicTask);
        let request = stated.request(()).expect("a request");
        let metadata = request.metadata();
        assert_eq!(
            metadata
                .get(metadata::PURPOSE)
                .and_then(|v| v.to_str().ok()),
            Some("STATISTICS")
        );
        assert_eq!(
            metadata
                .get(metadata::LEGAL_BASIS)
                .and_then(|v| v.to_str().ok()),
            Some("PUBLIC_TASK")
        );
    }
}
