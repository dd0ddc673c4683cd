//! Leaves, checkpoints and cosignatures as the contract shows them, from what the store holds.

use jembatan_audit::leaf::{LeafEntry, Outcome, timestamp};
use jembatan_audit::merkle;
use jembatan_proto::v1::{self, AuditEntry};
use jembatan_store::StoredCosignature;
use tonic::Status;

pub(super) fn parse_leaf(index: u64, data: &[u8]) -> Result<LeafEntry, Status> {
    LeafEntry::parse(data).map_err(|error| {
        tracing::error!(index, %error, "stored audit leaf does not parse");
        Status::internal(format!("audit leaf {index} is malformed"))
    })
}

/// An entry as the contract shows it, from the stored bytes.
pub(super) fn entry_message(index: u64, data: &[u8]) -> Result<AuditEntry, Status> {
    let leaf = parse_leaf(index, data)?;
    let purpose = v1::Purpose::from_str_name(&format!("PURPOSE_{}", leaf.purpose))
        .unwrap_or(v1::Purpose::Unspecified);
    let legal_basis = v1::LegalBasis::from_str_name(&format!("LEGAL_BASIS_{}", leaf.legal_basis))
        .unwrap_or(v1::LegalBasis::Unspecified);
    Ok(AuditEntry {
        index,
        time: Some(proto_time(&leaf.time)),
        principal: leaf.principal,
        cert_fingerprint: leaf.cert_fingerprint,
        method: format!("/jembatan.v1.{}", leaf.method),
        purpose: purpose as i32,
        legal_basis: legal_basis as i32,
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
        received_at: Some(proto_time(&stored.received_at)),
    }
}

/// `PURPOSE_STATISTICS` → `STATISTICS`.
pub(super) fn code_of(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

pub(super) fn proto_time(text: &str) -> prost_types::Timestamp {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    prost_types::Timestamp {
        seconds: parsed.unix_timestamp(),
        nanos: i32::try_from(parsed.nanosecond()).unwrap_or(0),
    }
}

/// A filter time in the form leaves record, so that text order is time order.
/// A request's `from_time` and `to_time`, as leaves record times.
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
    let nanos = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(timestamp)
        .map_err(|_| Status::invalid_argument(format!("{field} is out of range")))
}
