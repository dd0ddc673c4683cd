//! The PlacementService: KP2MI pushes placement records and a worker's consent withdrawals and
//! erasure requests.
//!
//! A batch is validated record by record ([`crate::placement_input`]); the valid records are
//! stored in one transaction with one audit leaf each, unless the request is all-or-nothing and
//! a record is invalid. A record is keyed by its placement id: a higher (version, updated_at)
//! replaces the stored one, the same one with the same content changes nothing, a lower one is
//! stale. The NIK is kept only as its subject key; name and contact only while the worker's
//! consent covers business matching.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use jembatan_audit::leaf::{record_digest, timestamp};
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_domain::{Placement, Purpose};
use jembatan_policy::DataClass;
use jembatan_proto::v1::{
    self, BatchSummary, ErasePersonalDataRequest, ErasePersonalDataResponse, FieldViolation,
    PushPlacementsRequest, PushPlacementsResponse, RecordOutcome, RecordResult,
    StreamPlacementsRequest, StreamPlacementsResponse, WithdrawConsentRequest,
    WithdrawConsentResponse, placement_service_server::PlacementService,
};
use jembatan_store::{PlacementRecord, Store, StoreTx, StoredVersion, SubjectPlacement};
use prost::Message;
use time::OffsetDateTime;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::{ErrorDetails, StatusExt};

use crate::caller::{Caller, data_store_status, random_bytes, receipt};
use crate::placement_input::placement_from_proto;

/// Most records in one message.
const MAX_BATCH: usize = 1000;

/// Most rejected records a stream's summary lists; its totals count them all.
const MAX_STREAM_REJECTED: usize = 1000;

/// Longest `request_ref` of an erasure, in characters.
const MAX_REQUEST_REF: usize = 128;

/// The PlacementService over the store.
#[derive(Debug, Clone)]
pub(crate) struct PlacementApi {
    store: Store,
    key: Arc<PersonalDataKey>,
}

/// A valid record of a batch, on its way into the store.
struct Incoming<'a> {
    index: usize,
    message: &'a v1::Placement,
    placement: Placement,
}

impl PlacementApi {
    pub(crate) fn new(store: Store, key: Arc<PersonalDataKey>) -> Self {
        Self { store, key }
    }

    /// Validates and stores one batch; `first_index` numbers its records (non-zero in streams).
    async fn push(
        &self,
        caller: &Caller,
        placements: &[v1::Placement],
        all_or_nothing: bool,
        first_index: u64,
    ) -> Result<Vec<RecordResult>, Status> {
        if placements.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "placements: {} records in one message; at most {MAX_BATCH}",
                placements.len()
            )));
        }
        let now = OffsetDateTime::now_utc();
        let mut results: Vec<Option<RecordResult>> = vec![None; placements.len()];
        let mut valid = Vec::with_capacity(placements.len());
        let mut violations = Vec::new();
        for (i, message) in placements.iter().enumerate() {
            let index = first_index + i as u64;
            match placement_from_proto(message, &format!("placements[{index}]"), now) {
                Ok(placement) if i64::try_from(placement.version).is_err() => {
                    let found = vec![FieldViolation {
                        field: format!("placements[{index}].version"),
                        description: format!("must be at most {}", i64::MAX),
                    }];
                    violations.extend(found.iter().cloned());
                    results[i] = Some(rejected(index, message, found));
                }
                Ok(placement) => valid.push(Incoming {
                    index: i,
                    message,
                    placement,
                }),
                Err(found) => {
                    violations.extend(found.iter().cloned());
                    results[i] = Some(rejected(index, message, found));
                }
            }
        }
        if all_or_nothing && !violations.is_empty() {
            return Err(bad_request(
                &format!(
                    "{} of {} records are invalid; nothing was stored",
                    placements.len() - valid.len(),
                    placements.len()
                ),
                violations,
            ));
        }

        let mut tx = self.store.begin().await.map_err(data_store_status)?;
        tx.lock_log().await.map_err(data_store_status)?;
        let ids: Vec<String> = valid
            .iter()
            .map(|r| r.placement.placement_id.clone())
            .collect();
        let mut stored: HashMap<String, StoredVersion> = tx
            .placement_versions(&ids)
            .await
            .map_err(data_store_status)?
            .into_iter()
            .map(|v| (v.placement_id.clone(), v))
            .collect();
        let subject_keys: Vec<String> = valid
            .iter()
            .map(|r| self.key.subject_key(r.placement.nik.as_str()))
            .collect();
        let erasures = tx
            .erasures(&subject_keys)
            .await
            .map_err(data_store_status)?;
        let withdrawals = tx
            .withdrawals(&subject_keys)
            .await
            .map_err(data_store_status)?;

        let mut leaves = Vec::with_capacity(valid.len());
        let mut logged = Vec::with_capacity(valid.len());
        let mut writes: Vec<(usize, PlacementRecord)> = Vec::new();
        for (position, record) in valid.iter().enumerate() {
            let index = first_index + record.index as u64;
            let p = &record.placement;
            let (salt, record_key) = match stored.get(&p.placement_id) {
                Some(old) => (old.salt.clone(), old.record_key.clone()),
                None => (random_bytes::<16>()?.to_vec(), new_record_key(now)?),
            };
            let digest = record_digest(&salt, &record.message.encode_to_vec());
            let updated_at = p.updated_at.map(timestamp).unwrap_or_default();
            let version = i64::try_from(p.version).unwrap_or(i64::MAX); // checked above
            let subject_key = &subject_keys[position];
            let outcome = match stored.get(&p.placement_id) {
                None => Ok(RecordOutcome::Stored),
                Some(old) => {
                    match (version, updated_at.as_str()).cmp(&(old.version, &old.updated_at)) {
                        std::cmp::Ordering::Greater => Ok(RecordOutcome::Stored),
                        std::cmp::Ordering::Less => Ok(RecordOutcome::Stale),
                        std::cmp::Ordering::Equal if old.digest == digest.as_bytes() => {
                            Ok(RecordOutcome::Unchanged)
                        }
                        std::cmp::Ordering::Equal => Err(FieldViolation {
                            field: format!("placements[{index}].version"),
                            description: "this version and update time are stored with other \
                                          content; send a higher version"
                                .into(),
                        }),
                    }
                }
            };
            let erased_after = erasures
                .get(subject_key)
                .filter(|erased_at| updated_at.as_str() <= erased_at.as_str());
            let outcome = match (outcome, erased_after) {
                (Ok(RecordOutcome::Stored), Some(erased_at)) => Err(FieldViolation {
                    field: format!("placements[{index}].updated_at"),
                    description: format!(
                        "the worker's personal data was erased at {erased_at}; only a record \
                         updated after that is accepted"
                    ),
                }),
                (outcome, _) => outcome,
            };
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(violation) if all_or_nothing => {
                    let _ = tx.rollback().await;
                    return Err(bad_request(
                        &format!(
                            "{}: {}; nothing was stored",
                            violation.field, violation.description
                        ),
                        vec![violation],
                    ));
                }
                Err(violation) => {
                    results[record.index] = Some(rejected(index, record.message, vec![violation]));
                    continue;
                }
            };
            let consent_purposes = consented(p, withdrawals.get(subject_key));
            let keep_contact = consent_purposes
                .iter()
                .any(|code| code == Purpose::BusinessMatching.code());
            let classes: &[DataClass] = if keep_contact {
                &[DataClass::Profile, DataClass::Contact]
            } else {
                &[DataClass::Profile]
            };
            leaves.push(caller.leaf("placement", &record_key, classes, digest.clone()));
            logged.push((record.index, index, outcome));
            if outcome == RecordOutcome::Stored {
                stored.insert(
                    p.placement_id.clone(),
                    StoredVersion {
                        placement_id: p.placement_id.clone(),
                        record_key: record_key.clone(),
                        salt: salt.clone(),
                        digest: digest.as_bytes().to_vec(),
                        version,
                        updated_at: updated_at.clone(),
                    },
                );
                writes.push((
                    leaves.len() - 1,
                    record_to_store(
                        record,
                        Kept {
                            subject_key: subject_key.clone(),
                            record_key,
                            salt,
                            digest,
                            updated_at,
                            consent_purposes,
                            keep_contact,
                        },
                    ),
                ));
            }
        }
        let receipts = tx.append_leaves(&leaves).await.map_err(data_store_status)?;
        // A placement pushed twice in one batch is written once, as its last stored version.
        let mut last: HashMap<String, PlacementRecord> = HashMap::new();
        for (leaf, mut write) in writes {
            write.change_seq = receipts[leaf].leaf_index;
            last.insert(write.placement_id.clone(), write);
        }
        let mut writes: Vec<PlacementRecord> = last.into_values().collect();
        writes.sort_by_key(|w| w.change_seq);
        tx.upsert_placements(&writes)
            .await
            .map_err(data_store_status)?;
        tx.commit().await.map_err(data_store_status)?;

        for ((position, index, outcome), receipt_of) in logged.into_iter().zip(&receipts) {
            results[position] = Some(RecordResult {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                record_id: placements[position].placement_id.clone(),
                outcome: outcome.into(),
                violations: Vec::new(),
                receipt: Some(receipt(receipt_of)),
            });
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// A write transaction holding the log, and the worker's stored placements (at least one;
    /// else NOT_FOUND saying `nothing_done`).
    async fn subject_records(
        &self,
        subject_key: &str,
        nothing_done: &str,
    ) -> Result<(StoreTx, Vec<SubjectPlacement>), Status> {
        let mut tx = self.store.begin().await.map_err(data_store_status)?;
        tx.lock_log().await.map_err(data_store_status)?;
        let placements = tx
            .subject_placements(subject_key)
            .await
            .map_err(data_store_status)?;
        if placements.is_empty() {
            let _ = tx.rollback().await;
            return Err(Status::not_found(format!(
                "no placement of this worker is stored; {nothing_done}"
            )));
        }
        Ok((tx, placements))
    }

    /// The worker's subject key from a request's `nik`, or INVALID_ARGUMENT naming the field.
    fn subject_key(&self, nik: &str) -> Result<String, Status> {
        let nik = jembatan_domain::Nik::parse(nik).map_err(|reason| {
            bad_request(
                &format!("nik: {reason}"),
                vec![FieldViolation {
                    field: "nik".into(),
                    description: reason,
                }],
            )
        })?;
        Ok(self.key.subject_key(nik.as_str()))
    }
}

/// A new record's pseudonymous key in the audit log, 32 hex digits: the time in milliseconds
/// (48 bits) then 80 random bits. It derives from nothing about the worker, so erasing the
/// placement unlinks it; the time in front (which the record's first leaf shows anyway) makes
/// new keys arrive at the end of the log's record-key index instead of on a random page of it,
/// which on a large log is a page written per record.
fn new_record_key(now: OffsetDateTime) -> Result<String, Status> {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut key = [0u8; 16];
    key[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    key[6..].copy_from_slice(&random_bytes::<10>()?);
    Ok(hex(&key))
}

/// What is stored of a valid record, besides its own fields.
struct Kept {
    subject_key: String,
    record_key: String,
    salt: Vec<u8>,
    digest: String,
    updated_at: String,
    consent_purposes: Vec<String>,
    keep_contact: bool,
}

/// What is stored of a valid record.
fn record_to_store(record: &Incoming<'_>, kept: Kept) -> PlacementRecord {
    let Kept {
        subject_key,
        record_key,
        salt,
        digest,
        updated_at,
        consent_purposes,
        keep_contact,
    } = kept;
    let p = &record.placement;
    let m = record.message;
    let profile = v1::Candidate {
        pseudonym: String::new(),
        sex: m.sex,
        birth_year: p.birth_date.year(),
        origin_regency_code: p.origin_regency.code().to_owned(),
        education: m.education,
        occupation_code: p.occupation.code().to_owned(),
        job_title: p.job_title.clone(),
        certificates: m.certificates.clone(),
        languages: p.languages.iter().map(|l| l.code().to_owned()).collect(),
        destination_countries: vec![p.destination_country.code().to_owned()],
        status: m.status,
        return_date: p.return_date.map(|_| m.return_date.unwrap_or_default()),
        return_date_kind: if p.return_date.is_some() {
            m.return_date_kind
        } else {
            0
        },
        business_interest: m.business_interest.clone(),
        full_name: String::new(),
        contact: None,
    };
    let contact = p.contact.as_ref().filter(|_| keep_contact);
    PlacementRecord {
        placement_id: p.placement_id.clone(),
        subject_key,
        record_key,
        salt,
        digest: digest.into_bytes(),
        version: p.version,
        updated_at,
        profile: profile.encode_to_vec(),
        sex: p.sex.code().to_owned(),
        origin_province: p.origin_regency.province().to_owned(),
        origin_regency: p.origin_regency.code().to_owned(),
        occupation_code: p.occupation.code().to_owned(),
        destination_country: p.destination_country.code().to_owned(),
        status: p.status.code().to_owned(),
        return_date: p.return_date.map(|(date, _)| date_text(date)),
        wants_to_export: p.business_interest.wants_to_export,
        certificate_schemes: p
            .certificates
            .iter()
            .map(|c| c.scheme_code.clone())
            .collect(),
        languages: p.languages.iter().map(|l| l.code().to_owned()).collect(),
        hs_chapters: p.business_interest.hs_chapters.clone(),
        consent_purposes,
        full_name: keep_contact.then(|| p.full_name.clone()),
        phone: contact.and_then(|c| c.phone.clone()),
        email: contact.and_then(|c| c.email.clone()),
        change_seq: 0,
    }
}

/// The time of a withdrawal as given: not in the future (5 minutes of clock skew allowed).
fn withdrawal_time(t: &prost_types::Timestamp) -> Result<String, Status> {
    let invalid = |description: &str| {
        bad_request(
            &format!("withdrawn_at: {description}"),
            vec![FieldViolation {
                field: "withdrawn_at".into(),
                description: description.to_owned(),
            }],
        )
    };
    let nanos = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    let at =
        OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid("is out of range"))?;
    if at > OffsetDateTime::now_utc() + jembatan_domain::placement::CLOCK_SKEW {
        return Err(invalid("is in the future"));
    }
    Ok(timestamp(at))
}

/// The purpose codes a record's consent covers now: none once withdrawn in the record, and
/// none withdrawn through WithdrawConsent after the record's consent was granted.
fn consented(p: &Placement, withdrawals: Option<&Vec<(String, String)>>) -> Vec<String> {
    if p.consent.withdrawn_at.is_some() {
        return Vec::new();
    }
    let granted_at = p.consent.granted_at.map(timestamp).unwrap_or_default();
    let withdrawn_since = |code: &str| {
        withdrawals.is_some_and(|all| {
            all.iter()
                .any(|(purpose, at)| purpose == code && granted_at.as_str() <= at.as_str())
        })
    };
    p.consent
        .purposes
        .iter()
        .map(|purpose| purpose.code())
        .filter(|code| !withdrawn_since(code))
        .map(str::to_owned)
        .collect()
}

fn rejected(index: u64, message: &v1::Placement, violations: Vec<FieldViolation>) -> RecordResult {
    RecordResult {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        record_id: message.placement_id.chars().take(64).collect(),
        outcome: RecordOutcome::Rejected.into(),
        violations,
        receipt: None,
    }
}

/// INVALID_ARGUMENT with google.rpc.BadRequest field violations.
pub(crate) fn bad_request(message: &str, violations: Vec<FieldViolation>) -> Status {
    let violations: Vec<tonic_types::FieldViolation> = violations
        .into_iter()
        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
        .collect();
    let details = ErrorDetails::with_bad_request(violations);
    Status::with_error_details(Code::InvalidArgument, message, details)
}

fn summary(results: &[RecordResult]) -> BatchSummary {
    let mut summary = BatchSummary::default();
    for result in results {
        match result.outcome() {
            RecordOutcome::Stored => summary.stored += 1,
            RecordOutcome::Unchanged => summary.unchanged += 1,
            RecordOutcome::Stale => summary.stale += 1,
            RecordOutcome::Rejected => summary.rejected += 1,
            RecordOutcome::Unspecified => {}
        }
    }
    summary
}

/// `YYYY-MM-DD`.
pub(crate) fn date_text(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl PlacementService for PlacementApi {
    async fn push_placements(
        &self,
        request: Request<PushPlacementsRequest>,
    ) -> Result<Response<PushPlacementsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let results = self
            .push(&caller, &request.placements, request.all_or_nothing, 0)
            .await?;
        Ok(Response::new(PushPlacementsResponse {
            summary: Some(summary(&results)),
            results,
        }))
    }

    async fn stream_placements(
        &self,
        request: Request<Streaming<StreamPlacementsRequest>>,
    ) -> Result<Response<StreamPlacementsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut stream = request.into_inner();
        let mut total = BatchSummary::default();
        let mut rejected = Vec::new();
        let mut messages = 0u64;
        let mut next_index = 0u64;
        while let Some(message) = stream.next().await {
            let message = message?;
            messages += 1;
            let results = self
                .push(&caller, &message.placements, false, next_index)
                .await?;
            next_index += message.placements.len() as u64;
            let batch = summary(&results);
            total.stored += batch.stored;
            total.unchanged += batch.unchanged;
            total.stale += batch.stale;
            total.rejected += batch.rejected;
            let room = MAX_STREAM_REJECTED.saturating_sub(rejected.len());
            rejected.extend(
                results
                    .into_iter()
                    .filter(|r| r.outcome() == RecordOutcome::Rejected)
                    .take(room),
            );
        }
        Ok(Response::new(StreamPlacementsResponse {
            summary: Some(total),
            rejected,
            messages,
        }))
    }

    async fn withdraw_consent(
        &self,
        request: Request<WithdrawConsentRequest>,
    ) -> Result<Response<WithdrawConsentResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let subject_key = self.subject_key(&request.nik)?;
        let mut withdrawn = Vec::new();
        for (i, code) in request.purposes.iter().enumerate() {
            match v1::Purpose::try_from(*code) {
                Ok(purpose) if purpose != v1::Purpose::Unspecified => {
                    withdrawn.push(
                        purpose
                            .as_str_name()
                            .trim_start_matches("PURPOSE_")
                            .to_owned(),
                    );
                }
                _ => {
                    let field = format!("purposes[{i}]");
                    return Err(bad_request(
                        &format!("{field}: not a purpose"),
                        vec![FieldViolation {
                            field,
                            description: "not a purpose".into(),
                        }],
                    ));
                }
            }
        }
        let withdrawn_at = match &request.withdrawn_at {
            None => timestamp(OffsetDateTime::now_utc()),
            Some(t) => withdrawal_time(t)?,
        };
        let (mut tx, placements) = self
            .subject_records(&subject_key, "no consent changed")
            .await?;
        let remembered: Vec<String> = if withdrawn.is_empty() {
            Purpose::ALL
                .iter()
                .filter(|p| p.is_mou_scope())
                .map(|p| p.code().to_owned())
                .collect()
        } else {
            withdrawn.clone()
        };
        tx.remember_withdrawal(&subject_key, &remembered, &withdrawn_at)
            .await
            .map_err(data_store_status)?;
        let leaf = caller.leaf("consent", &placements[0].record_key, &[], String::new());
        let mut changed = 0u32;
        let mut remaining_all: Vec<String> = Vec::new();
        for placement in &placements {
            let current = placement.purposes();
            let remaining: Vec<String> = current
                .iter()
                .filter(|code| !withdrawn.is_empty() && !withdrawn.contains(code))
                .cloned()
                .collect();
            if remaining != current {
                changed += 1;
                let keep_contact = remaining
                    .iter()
                    .any(|c| c == Purpose::BusinessMatching.code());
                tx.set_consent(&placement.placement_id, &remaining, keep_contact)
                    .await
                    .map_err(data_store_status)?;
            }
            for code in remaining {
                if !remaining_all.contains(&code) {
                    remaining_all.push(code);
                }
            }
        }
        let receipts = tx
            .append_leaves(std::slice::from_ref(&leaf))
            .await
            .map_err(data_store_status)?;
        tx.commit().await.map_err(data_store_status)?;
        let remaining_purposes = Purpose::ALL
            .iter()
            .filter(|p| remaining_all.iter().any(|c| c == p.code()))
            .filter_map(|p| v1::Purpose::from_str_name(&format!("PURPOSE_{}", p.code())))
            .map(i32::from)
            .collect();
        Ok(Response::new(WithdrawConsentResponse {
            placements_changed: changed,
            remaining_purposes,
            receipt: receipts.first().map(receipt),
        }))
    }

    async fn erase_personal_data(
        &self,
        request: Request<ErasePersonalDataRequest>,
    ) -> Result<Response<ErasePersonalDataResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let subject_key = self.subject_key(&request.nik)?;
        if request.request_ref.chars().count() > MAX_REQUEST_REF
            || request.request_ref.chars().any(char::is_control)
        {
            let description =
                format!("at most {MAX_REQUEST_REF} characters without control characters");
            return Err(bad_request(
                &format!("request_ref: {description}"),
                vec![FieldViolation {
                    field: "request_ref".into(),
                    description,
                }],
            ));
        }
        let (mut tx, placements) = self
            .subject_records(&subject_key, "nothing was erased")
            .await?;
        let leaf = caller.leaf("erasure", &placements[0].record_key, &[], String::new());
        let erased = tx
            .erase_subject(&subject_key, &timestamp(OffsetDateTime::now_utc()))
            .await
            .map_err(data_store_status)?;
        let receipts = tx
            .append_leaves(std::slice::from_ref(&leaf))
            .await
            .map_err(data_store_status)?;
        tx.commit().await.map_err(data_store_status)?;
        Ok(Response::new(ErasePersonalDataResponse {
            placements_erased: u32::try_from(erased).unwrap_or(u32::MAX),
            enrollments_erased: 0,
            receipt: receipts.first().map(receipt),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_sort_by_time_and_differ_within_a_millisecond() {
        let earlier = OffsetDateTime::from_unix_timestamp(1_764_000_000).expect("time");
        let later = earlier + time::Duration::milliseconds(1);
        let (a, b) = (
            new_record_key(earlier).expect("key"),
            new_record_key(earlier).expect("key"),
        );
        let c = new_record_key(later).expect("key");
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|ch| ch.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(a[..12], b[..12]);
        assert!(a < c && b < c);
    }
}
