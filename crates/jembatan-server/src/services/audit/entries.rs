//! Leaves, checkpoints and cosignatures as the contract shows them, from what the store holds.

use jembatan_audit::leaf::{LeafEntry, Outcome, timestamp as leaf_time};
use jembatan_audit::merkle;
use jembatan_proto::convert::{ShortCode, timestamp};
use jembatan_proto::v1::{self, AuditEntry};
use jembatan_store::StoredCosignature;
use tonic::Status;

use crate::status::invalid_field;

pub(super) fn parse_leaf(index: u64, data: &[u8]) -> Result<LeafEntry, Status> {
    LeafEntry::parse(data).map_err(|error| {
        tracing::error!(index, %error, "stored audit leaf does not parse");
        Status::internal(format!("audit leaf {index} is malformed"))
    })
}

/// An entry as the contract shows it, from the stored bytes.
pub(super) fn entry_message(index: u64, data: &[u8]) -> Result<AuditEntry, Status> {
    let leaf = parse_leaf(index, data)?;
    let purpose = v1::Purpose::number_of_code(&leaf.purpose).unwrap_or(0);
    let legal_basis = v1::LegalBasis::number_of_code(&leaf.legal_basis).unwrap_or(0);
    Ok(AuditEntry {
        index,
        time: stored_time(&leaf.time),
        principal: leaf.principal,
        cert_fingerprint: leaf.cert_fingerprint,
        method: format!("/jembatan.v1.{}", leaf.method),
        purpose,
        legal_basis,
        case_ref: leaf.case_ref,
        operator: leaf.operator,
        record_type: leaf.record_type,
        record_key: leaf.record_key,
        data_classes: leaf.data_classes,
        record_digest: hex::decode(&leaf.record_digest).unwrap_or_default(),
        decision: match leaf.outcome {
            Outcome::Allow => v1::Decision::Allow,
            Outcome::Deny => v1::Decision::Deny,
        } as i32,
        policy_ids: leaf.policy_ids,
        policy_set_hash: hex::decode(leaf.policy_set.strip_prefix("sha256:").unwrap_or_default())
            .unwrap_or_default(),
        trace_id: leaf.trace_id,
        leaf_hash: merkle::leaf_hash(data).to_vec(),
        leaf_data: data.to_vec(),
    })
}

pub(super) fn cosignature_message(stored: &StoredCosignature) -> v1::Cosignature {
    v1::Cosignature {
        witness_name: stored.witness.clone(),
        key_id: stored
            .verifier_key
            .split('+')
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
        signature_line: stored.signature.clone(),
        principal: stored.principal.clone(),
        received_at: stored_time(&stored.received_at),
    }
}

/// A time the store recorded (RFC 3339), as the contract carries it; absent if malformed.
pub(super) fn stored_time(text: &str) -> Option<prost_types::Timestamp> {
    timestamp::from_rfc3339(text).ok()
}

/// A request's `from_time` and `to_time`, as leaves record times (so that text order is time
/// order).
pub(super) fn time_range(
    from: Option<prost_types::Timestamp>,
    to: Option<prost_types::Timestamp>,
) -> Result<(Option<String>, Option<String>), Status> {
    Ok((
        from.map(|t| timestamp_text("from_time", &t)).transpose()?,
        to.map(|t| timestamp_text("to_time", &t)).transpose()?,
    ))
}

fn timestamp_text(field: &str, t: &prost_types::Timestamp) -> Result<String, Status> {
    timestamp::from_proto(t)
        .map(leaf_time)
        .map_err(|error| invalid_field(field, &error.to_string()))
}
