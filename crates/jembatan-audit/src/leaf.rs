//! What one audit leaf records: who shared which record, how, why, and under which decision.
//! Never the payload and never personal data: records appear as pseudonymous keys and salted
//! digests, whose salt stays with the record (erasing it leaves the log verifiable and the
//! digest unlinkable).
//!
//! A leaf is stored as the exact bytes that were hashed: compact JSON of [`LeafEntry`] with its
//! fields in declaration order. Verification hashes the stored bytes; the fields are parsed only
//! to show and filter entries.

use serde::{Deserialize, Serialize};

use crate::AuditError;

/// The layout version written by this program. Version 1 grew the optional fields
/// [`LeafEntry::status`], [`LeafEntry::claimed`] and [`LeafEntry::refused_calls`]: they are left
/// out of the bytes when empty, so every leaf written before them keeps its exact bytes.
pub const LEAF_VERSION: u32 = 1;

/// The principal of a leaf whose caller has no acceptable identity: it matches no agency's
/// filters or proofs. What its certificate claimed is in [`LeafEntry::claimed`].
pub const UNIDENTIFIED: &str = "unidentified";

/// The outcome a leaf records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The record was shared (pushed in, returned, streamed).
    Allow,
    /// The request was refused; no record was shared.
    Deny,
}

/// One audit leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafEntry {
    /// Layout version, [`LEAF_VERSION`].
    pub v: u32,
    /// When, RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T08:30:00.123Z`.
    pub time: String,
    /// The caller's SPIFFE ID; [`UNIDENTIFIED`] for a caller refused for its identity (older
    /// leaves of such callers hold the URI their certificate claimed).
    pub principal: String,
    /// SHA-256 of the caller's certificate, hex.
    pub cert_fingerprint: String,
    /// The method, `<Service>/<Method>`.
    pub method: String,
    /// The stated purpose code.
    pub purpose: String,
    /// The stated lawful basis code.
    pub legal_basis: String,
    /// The caller's case or letter number; empty when not given.
    pub case_ref: String,
    /// The caller's pseudonymous id of the person acting; empty when not given.
    pub operator: String,
    /// What kind of record, e.g. `placement`; `request` for a refused request.
    pub record_type: String,
    /// Pseudonymous key of the record; empty for a refused request.
    pub record_key: String,
    /// Data classes disclosed, e.g. `profile`, `contact`.
    pub data_classes: Vec<String>,
    /// Salted SHA-256 of the record as shared, hex; empty for a refused request.
    pub record_digest: String,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Ids of the deciding policies.
    pub policy_ids: Vec<String>,
    /// `sha256:<hex>` of the policy set that decided.
    pub policy_set: String,
    /// The request's trace id, hex; empty when there is none.
    pub trace_id: String,
    /// The gRPC code of a refusal in snake case, e.g. `permission_denied`; empty for an
    /// allowed call, and in leaves written before refusals carried it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The identity a refused certificate claimed (its URI SAN, shortened), kept apart from
    /// `principal` so that it matches no filter or proof of the agency it names; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claimed: String,
    /// For an aggregate refusal leaf: how many calls of this principal and method were refused
    /// in its window. 0 (left out) is one call, the leaf's own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused_calls: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A time as leaves and checkpoints record it: RFC 3339 in UTC with milliseconds,
/// `2026-11-22T08:30:00.123Z`. Strings of this form sort by time.
pub fn timestamp(time: time::OffsetDateTime) -> String {
    let t = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The salted digest a leaf records of a record as shared: SHA-256 of `salt || record`, hex. The
/// salt stays with the record in the data store; once it is erased, the digest cannot be linked
/// to the record's content.
pub fn record_digest(salt: &[u8], record: &[u8]) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(salt);
    context.update(record);
    hex::encode(context.finish())
}

impl LeafEntry {
    /// The bytes that are hashed and stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain strings, vectors and enums cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("a leaf always serializes"))
    }

    /// Parses stored bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, AuditError> {
        serde_json::from_slice(bytes).map_err(|e| AuditError::MalformedLeaf(e.to_string()))
    }
}

/// What every leaf of one call records alike: who called, when, how, why, and under which
/// decision. The leaves of a call are made from it by [`CallFacts::refused`],
/// [`CallFacts::refused_many`], [`CallFacts::denied`], [`CallFacts::record_shared`] and
/// [`CallFacts::aggregate_answered`], the only ways the exchange makes leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    /// A leaf of the call with no record yet.
    template: LeafEntry,
}

impl CallFacts {
    /// A call of `method` (`<Service>/<Method>`) at `time` (as [`timestamp`] writes it) by
    /// `principal` (its SPIFFE ID; [`UNIDENTIFIED`] for a caller refused for its identity)
    /// with the certificate of fingerprint `cert_fingerprint`; nothing stated or decided yet.
    pub fn new(time: String, principal: String, cert_fingerprint: String, method: String) -> Self {
        Self {
            template: LeafEntry {
                v: LEAF_VERSION,
                time,
                principal,
                cert_fingerprint,
                method,
                purpose: String::new(),
                legal_basis: String::new(),
                case_ref: String::new(),
                operator: String::new(),
                record_type: String::new(),
                record_key: String::new(),
                data_classes: Vec::new(),
                record_digest: String::new(),
                outcome: Outcome::Allow,
                policy_ids: Vec::new(),
                policy_set: String::new(),
                trace_id: String::new(),
                status: String::new(),
                claimed: String::new(),
                refused_calls: 0,
            },
        }
    }

    /// The identity a certificate refused for its identity claimed; give [`UNIDENTIFIED`] as the
    /// principal to [`CallFacts::new`].
    pub fn claimed(mut self, claimed: &str) -> Self {
        claimed.clone_into(&mut self.template.claimed);
        self
    }

    /// What the call stated: purpose and legal basis codes (empty when none valid was stated),
    /// and the caller's case reference and operator (empty when not given).
    pub fn stated(
        mut self,
        purpose: &str,
        legal_basis: &str,
        case_ref: &str,
        operator: &str,
    ) -> Self {
        let leaf = &mut self.template;
        purpose.clone_into(&mut leaf.purpose);
        legal_basis.clone_into(&mut leaf.legal_basis);
        case_ref.clone_into(&mut leaf.case_ref);
        operator.clone_into(&mut leaf.operator);
        self
    }

    /// The call's W3C trace id, 32 lower-case hex digits.
    pub fn traced(mut self, trace_id: &str) -> Self {
        trace_id.clone_into(&mut self.template.trace_id);
        self
    }

    /// The decision: the deciding policies' ids and the policy set's `sha256:<hex>`.
    pub fn decided(mut self, policy_ids: Vec<String>, policy_set: String) -> Self {
        self.template.policy_ids = policy_ids;
        self.template.policy_set = policy_set;
        self
    }

    /// The leaf of a refused call: no record was shared.
    pub fn denied(&self) -> LeafEntry {
        LeafEntry {
            record_type: "request".to_owned(),
            outcome: Outcome::Deny,
            ..self.template.clone()
        }
    }

    /// The leaf of one refused call, with the refusal's gRPC code in snake case
    /// (`permission_denied`, `invalid_argument`, …; see [`CallFacts::refused_many`]).
    pub fn refused(&self, status: &str) -> LeafEntry {
        self.refused_many(status, 0)
    }

    /// The leaf of `calls` refused calls of this principal and method alike (for example all
    /// refused by a rate limit in one window): one leaf standing for them all. `calls` of 0 or
    /// 1 is the leaf of one call.
    pub fn refused_many(&self, status: &str, calls: u64) -> LeafEntry {
        LeafEntry {
            status: status.to_owned(),
            refused_calls: if calls > 1 { calls } else { 0 },
            ..self.denied()
        }
    }

    /// The leaf of one record shared (pushed in, returned, streamed, changed): its type, its
    /// pseudonymous key, the data classes disclosed and its salted digest (see
    /// [`record_digest`]; empty when no content was shared).
    pub fn record_shared(
        &self,
        record_type: &str,
        record_key: &str,
        data_classes: impl IntoIterator<Item = &'static str>,
        record_digest: String,
    ) -> LeafEntry {
        LeafEntry {
            record_type: record_type.to_owned(),
            record_key: record_key.to_owned(),
            data_classes: data_classes.into_iter().map(str::to_owned).collect(),
            record_digest,
            ..self.template.clone()
        }
    }

    /// The leaf of an aggregate answer (counts, no individual record): `answer` is the answer as
    /// sent, digested without salt so that the recipient can show which answer it got.
    pub fn aggregate_answered(&self, data_class: &'static str, answer: &[u8]) -> LeafEntry {
        self.record_shared("aggregate", "", [data_class], record_digest(&[], answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LeafEntry {
        LeafEntry {
            v: LEAF_VERSION,
            time: "2026-11-22T08:30:00.123Z".into(),
            principal: "spiffe://test.local/agency/kemendag/export-portal".into(),
            cert_fingerprint: "ab".repeat(32),
            method: "WorkforceService/ListCandidates".into(),
            purpose: "BUSINESS_MATCHING".into(),
            legal_basis: "CONSENT".into(),
            case_ref: "ND.12/PEN/2026".into(),
            operator: String::new(),
            record_type: "placement".into(),
            record_key: "cd".repeat(16),
            data_classes: vec!["profile".into(), "contact".into()],
            record_digest: "ef".repeat(32),
            outcome: Outcome::Allow,
            policy_ids: vec!["kemendag-candidate-contact".into()],
            policy_set: format!("sha256:{}", "01".repeat(32)),
            trace_id: String::new(),
            status: String::new(),
            claimed: String::new(),
            refused_calls: 0,
        }
    }

    /// A leaf as version 1 wrote it before refusals carried their status.
    const STORED_V1: &str = "{\"v\":1,\"time\":\"2026-11-22T08:30:00.123Z\",\
        \"principal\":\"spiffe://td/agency/kemendag/export-portal\",\"cert_fingerprint\":\"ab\",\
        \"method\":\"PlacementService/PushPlacements\",\"purpose\":\"STATISTICS\",\
        \"legal_basis\":\"PUBLIC_TASK\",\"case_ref\":\"\",\"operator\":\"\",\
        \"record_type\":\"request\",\"record_key\":\"\",\"data_classes\":[],\
        \"record_digest\":\"\",\"outcome\":\"deny\",\"policy_ids\":[],\
        \"policy_set\":\"sha256:00\",\"trace_id\":\"\"}";

    #[test]
    fn leaves_written_before_the_refusal_fields_parse_and_keep_their_bytes() {
        let leaf = LeafEntry::parse(STORED_V1.as_bytes()).expect("stored leaf parses");
        assert_eq!((leaf.status.as_str(), leaf.claimed.as_str()), ("", ""));
        assert_eq!(leaf.refused_calls, 0);
        assert_eq!(
            leaf.to_bytes(),
            STORED_V1.as_bytes(),
            "same bytes, same hash"
        );
    }

    #[test]
    fn refusals_say_what_was_refused_and_parse_back() {
        let call = CallFacts::new(
            "2026-11-22T08:30:00.123Z".into(),
            UNIDENTIFIED.into(),
            "ab".repeat(32),
            "WorkforceService/QueryAvailability".into(),
        )
        .claimed("spiffe://td/agency/kemendag/export-portal/x")
        .stated("STATISTICS", "", "", "");
        let leaf = call.refused("unauthenticated");
        assert_eq!(
            (
                leaf.outcome,
                leaf.record_type.as_str(),
                leaf.status.as_str()
            ),
            (Outcome::Deny, "request", "unauthenticated")
        );
        assert_eq!(leaf.principal, UNIDENTIFIED);
        assert_eq!(leaf.claimed, "spiffe://td/agency/kemendag/export-portal/x");
        assert_eq!(leaf.refused_calls, 0);
        let bytes = leaf.to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(
            text.ends_with(
                ",\"status\":\"unauthenticated\",\"claimed\":\"spiffe://td/agency/kemendag/export-portal/x\"}"
            ),
            "{text}"
        );
        assert_eq!(LeafEntry::parse(&bytes).expect("parse"), leaf);

        let many = call.refused_many("resource_exhausted", 40);
        assert_eq!(many.refused_calls, 40);
        assert_eq!(many.status, "resource_exhausted");
        let text = String::from_utf8(many.to_bytes()).expect("utf-8");
        assert!(text.ends_with(",\"refused_calls\":40}"), "{text}");
        assert_eq!(call.refused_many("resource_exhausted", 1).refused_calls, 0);
        // An allowed leaf carries none of the refusal fields.
        let shared = call.record_shared("placement", "k", ["profile"], "d".into());
        let text = String::from_utf8(shared.to_bytes()).expect("utf-8");
        assert!(!text.contains("\"status\""), "{text}");
    }

    #[test]
    fn bytes_are_stable_and_parse_back() {
        let bytes = entry().to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(
            text.starts_with("{\"v\":1,\"time\":\"2026-11-22T08:30:00.123Z\",\"principal\":"),
            "{text}"
        );
        assert_eq!(LeafEntry::parse(&bytes).expect("parse"), entry());
        assert_eq!(entry().to_bytes(), bytes, "same entry, same bytes");
    }

    #[test]
    fn a_call_makes_its_leaves_alike() {
        let call = CallFacts::new(
            "2026-11-22T08:30:00.123Z".into(),
            "spiffe://test.local/agency/kemendag/export-portal".into(),
            "ab".repeat(32),
            "WorkforceService/ListCandidates".into(),
        )
        .stated("BUSINESS_MATCHING", "CONSENT", "", "")
        .decided(vec!["p".into()], "sha256:00".into());
        let denied = call.denied();
        assert_eq!(
            (denied.outcome, denied.record_type.as_str()),
            (Outcome::Deny, "request")
        );
        assert!(denied.record_key.is_empty() && denied.record_digest.is_empty());
        let shared = call.record_shared("placement", "k", ["profile"], "d".into());
        assert_eq!(shared.outcome, Outcome::Allow);
        assert_eq!(shared.data_classes, ["profile"]);
        assert_eq!(
            (shared.time.as_str(), shared.purpose.as_str()),
            ("2026-11-22T08:30:00.123Z", "BUSINESS_MATCHING")
        );
        assert_eq!(shared.policy_ids, ["p"]);
        assert_eq!(denied.policy_set, shared.policy_set);
        let answer = call.aggregate_answered("aggregate", b"answer");
        assert_eq!(answer.record_type, "aggregate");
        assert_eq!(answer.record_digest, record_digest(&[], b"answer"));
    }

    #[test]
    fn record_digests_depend_on_salt_and_record() {
        let digest = record_digest(b"salt", b"record");
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, record_digest(b"salt", b"record"));
        assert_ne!(digest, record_digest(b"salt2", b"record"));
        assert_ne!(digest, record_digest(b"salt", b"record2"));
    }

    #[test]
    fn unknown_fields_and_garbage_are_refused() {
        let text = String::from_utf8(entry().to_bytes()).expect("utf-8");
        let extra = text.replacen("{\"v\":1,", "{\"v\":1,\"nik\":\"3175\",", 1);
        assert!(LeafEntry::parse(extra.as_bytes()).is_err());
        assert!(LeafEntry::parse(b"\xff\x00garbage").is_err());
    }
}
