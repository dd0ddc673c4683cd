//! The PlacementService: KP2MI pushes placement records and a worker's consent withdrawals and
//! erasure requests.
//!
//! A batch is validated record by record ([`input`]) and its valid records judged against what
//! is stored by the transport-free rules of [`ingest`]; they are stored ([`record`]) in one
//! logged write with one audit leaf each, unless the request is all-or-nothing and a record is
//! refused. A record is keyed by its placement id: a higher (version, updated_at) replaces the
//! stored one, the same one with the same content changes nothing, a lower one is stale. The
//! NIK is kept only as its subject key; name and contact only while the worker's consent covers
//! business matching.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures_util::StreamExt;
use jembatan_audit::leaf::{LeafEntry, record_digest, timestamp};
use jembatan_counts::Availability;
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_domain::{Placement, Purpose};
use jembatan_policy::DataClass;
use jembatan_proto::convert::{self, ShortCode};
use jembatan_proto::v1::{
    self, BatchSummary, ErasePersonalDataRequest, ErasePersonalDataResponse, FieldViolation,
    PushPlacementsRequest, PushPlacementsResponse, RecordOutcome, RecordResult,
    StreamPlacementsRequest, StreamPlacementsResponse, WithdrawConsentRequest,
    WithdrawConsentResponse, placement_service_server::PlacementService,
};
use jembatan_store::{
    LoggedWrite, PlacementRecord, Store, StoredVersion, SubjectPlacement, WriteChain,
};
use prost::Message;
use time::OffsetDateTime;
use tonic::{Request, Response, Status, Streaming};

use crate::call::Caller;
use crate::services::receipt;
use crate::services::record_keys::{new_record_key, random_bytes};
use crate::services::versioned::summary;
use crate::status::{WriteFailed, bad_request, invalid_field};
use ingest::{Pushed, PushedConsent, Verdict};
use input::placement_from_proto;
use record::{Kept, record_to_store};

mod ingest;
pub(crate) mod input;
mod record;

/// Most records in one message.
const MAX_BATCH: usize = 1000;

/// Messages of one StreamPlacements call queued for the store ahead of the oldest one not yet
/// committed: the next messages are read and validated while the writer commits, and the
/// writer finds a stream's next message waiting to join its group. They are chained
/// ([`WriteChain`]), so a failing message still leaves none after it stored.
const STREAM_AHEAD: usize = 4;

/// Most rejected records a stream's summary lists; its totals count them all.
const MAX_STREAM_REJECTED: usize = 1000;

/// Longest `request_ref` of an erasure, in characters.
const MAX_REQUEST_REF: usize = 128;

/// The PlacementService over the store.
#[derive(Debug, Clone)]
pub(crate) struct PlacementApi {
    store: Store,
    key: Arc<PersonalDataKey>,
    /// The count index, from which an erased worker goes at once.
    availability: Arc<Availability>,
    /// Messages one StreamPlacements call may carry.
    max_stream_messages: u64,
}

/// A valid record of a batch, on its way into the store, with what can be made of it before
/// its turn to write.
struct Incoming {
    /// Its position in the message.
    index: usize,
    placement: Placement,
    /// Keyed hash of the worker's NIK.
    subject_key: String,
    /// The record as pushed, encoded: what its digest is of.
    encoded: Vec<u8>,
    /// Salt, key and digest of the record if it is new (a stored one keeps its own).
    fresh: Fresh,
}

/// A new record's salt, pseudonymous key and digest.
struct Fresh {
    salt: Vec<u8>,
    record_key: String,
    digest: String,
}

/// One message's records, validated: the valid ones on their way in, the others rejected
/// with their violations.
struct Batch {
    messages: Vec<v1::Placement>,
    /// The index of the message's first record in its call (non-zero in streams).
    first_index: u64,
    valid: Vec<Incoming>,
    /// Each record's result, by position in the message, once known.
    results: Vec<Option<RecordResult>>,
    violations: Vec<FieldViolation>,
}

/// A record logged by a push, waiting for its receipt: its position in the message, its index
/// in the call, and the verdict.
type Logged = (usize, u64, Verdict);

impl Batch {
    /// Validates every record of `messages`, each field on its own, and prepares the valid
    /// ones with `key`.
    fn validate(
        messages: Vec<v1::Placement>,
        first_index: u64,
        now: OffsetDateTime,
        key: &PersonalDataKey,
    ) -> Result<Self, Status> {
        let mut valid = Vec::with_capacity(messages.len());
        let mut results = vec![None; messages.len()];
        let mut violations = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let index = first_index + i as u64;
            let found = match placement_from_proto(message, &format!("placements[{index}]"), now) {
                Ok(placement) if i64::try_from(placement.version).is_ok() => {
                    let encoded = message.encode_to_vec();
                    let salt = random_bytes::<16>()?.to_vec();
                    let digest = record_digest(&salt, &encoded);
                    valid.push(Incoming {
                        index: i,
                        subject_key: key.subject_key(placement.nik.as_str()),
                        placement,
                        encoded,
                        fresh: Fresh {
                            salt,
                            record_key: new_record_key(now)?,
                            digest,
                        },
                    });
                    continue;
                }
                Ok(_) => vec![FieldViolation {
                    field: format!("placements[{index}].version"),
                    description: format!("must be at most {}", i64::MAX),
                }],
                Err(found) => found,
            };
            violations.extend(found.iter().cloned());
            results[i] = Some(rejected(index, message, found));
        }
        Ok(Batch {
            messages,
            first_index,
            valid,
            results,
            violations,
        })
    }
}

impl PlacementApi {
    pub(crate) fn new(
        store: Store,
        key: Arc<PersonalDataKey>,
        availability: Arc<Availability>,
        max_stream_messages: u64,
    ) -> Self {
        Self {
            store,
            key,
            availability,
            max_stream_messages,
        }
    }

    /// Validates one batch and queues its write at once, next in `chain` if given; the future
    /// answers the records' results once it is committed. `first_index` numbers its records
    /// (non-zero in streams).
    fn submit(
        &self,
        caller: &Caller,
        placements: Vec<v1::Placement>,
        all_or_nothing: bool,
        first_index: u64,
        chain: Option<&WriteChain>,
    ) -> Result<impl Future<Output = Result<Vec<RecordResult>, Status>> + Send + 'static, Status>
    {
        if placements.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "placements: {} records in one message; at most {MAX_BATCH}",
                placements.len()
            )));
        }
        let now = OffsetDateTime::now_utc();
        let count = placements.len();
        let mut batch = Batch::validate(placements, first_index, now, &self.key)?;
        if all_or_nothing && !batch.violations.is_empty() {
            return Err(bad_request(
                &format!(
                    "{} of {count} records are invalid; nothing was stored",
                    count - batch.valid.len(),
                ),
                std::mem::take(&mut batch.violations),
            ));
        }
        let mut ticket = caller.ticket(batch.valid.len());
        if let Some(chain) = chain {
            ticket = ticket.chained(chain);
        }
        let caller = caller.clone();
        let written = self.store.write(ticket, move |write| {
            Box::pin(store_valid(write, caller, batch, all_or_nothing))
        });
        let availability = Arc::clone(&self.availability);
        Ok(async move {
            let ((mut batch, logged), receipts) = written.await.map_err(Status::from)?;
            // Counts through this exchange reflect the push from now on.
            availability.mark_stale();
            for ((position, index, verdict), receipt_of) in logged.into_iter().zip(&receipts) {
                batch.results[position] = Some(RecordResult {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    record_id: batch.messages[position].placement_id.clone(),
                    outcome: verdict.outcome().into(),
                    violations: Vec::new(),
                    receipt: Some(receipt(receipt_of)),
                });
            }
            Ok(batch.results.into_iter().flatten().collect())
        })
    }

    /// The worker's subject key from a request's `nik`, or INVALID_ARGUMENT naming the field.
    fn subject_key(&self, nik: &str) -> Result<String, Status> {
        let nik =
            jembatan_domain::Nik::parse(nik).map_err(|reason| invalid_field("nik", &reason))?;
        Ok(self.key.subject_key(nik.as_str()))
    }
}

/// Judges the valid records of `batch` against what is stored, and stores those to be stored,
/// in `write`: the batch and its logged records, with a leaf for each record pushed.
async fn store_valid(
    write: &mut LoggedWrite,
    caller: Caller,
    mut batch: Batch,
    all_or_nothing: bool,
) -> Result<((Batch, Vec<Logged>), Vec<LeafEntry>), WriteFailed> {
    let ids: Vec<String> = batch
        .valid
        .iter()
        .map(|r| r.placement.placement_id.clone())
        .collect();
    let mut stored: HashMap<String, StoredVersion> = write
        .placement_versions(&ids)
        .await?
        .into_iter()
        .map(|v| (v.placement_id.clone(), v))
        .collect();
    let subject_keys: Vec<String> = batch.valid.iter().map(|r| r.subject_key.clone()).collect();
    let erasures = write.erasures(&subject_keys).await?;
    let withdrawals = write.withdrawals(&subject_keys).await?;

    // Workers whose placement this push gives to another NIK (a corrected NIK).
    let moved_from: Vec<String> = batch
        .valid
        .iter()
        .filter_map(|r| {
            stored
                .get(&r.placement.placement_id)
                .filter(|old| old.subject_key != r.subject_key)
                .map(|old| old.subject_key.clone())
        })
        .collect();
    let first_leaf = write.first_leaf_index();
    let mut leaves = Vec::with_capacity(batch.valid.len());
    let mut logged = Vec::with_capacity(batch.valid.len());
    // A placement pushed twice in one batch is written once, as its last stored version.
    let mut writes: HashMap<String, PlacementRecord> = HashMap::new();
    for record in std::mem::take(&mut batch.valid) {
        let index = batch.first_index + record.index as u64;
        let message = &batch.messages[record.index];
        let p = &record.placement;
        let old = stored.get(&p.placement_id);
        let (salt, record_key, digest) = match old {
            Some(old) => (
                old.salt.clone(),
                old.record_key.clone(),
                record_digest(&old.salt, &record.encoded),
            ),
            None => (
                record.fresh.salt.clone(),
                record.fresh.record_key.clone(),
                record.fresh.digest.clone(),
            ),
        };
        let updated_at = p.updated_at.map(timestamp).unwrap_or_default();
        let version = i64::try_from(p.version).unwrap_or(i64::MAX); // checked in validate
        let subject_key = &record.subject_key;
        let pushed = Pushed {
            version,
            updated_at: &updated_at,
            digest: digest.as_bytes(),
        };
        let verdict =
            match ingest::judge(&pushed, old, erasures.get(subject_key).map(String::as_str)) {
                Ok(verdict) => verdict,
                Err(refusal) => {
                    let violation = FieldViolation {
                        field: format!("placements[{index}].{}", refusal.field()),
                        description: refusal.description(),
                    };
                    if all_or_nothing {
                        return Err(bad_request(
                            &format!(
                                "{}: {}; nothing was stored",
                                violation.field, violation.description
                            ),
                            vec![violation],
                        )
                        .into());
                    }
                    batch.results[record.index] = Some(rejected(index, message, vec![violation]));
                    continue;
                }
            };
        let granted_at = p.consent.granted_at.map(timestamp).unwrap_or_default();
        let consent_purposes = ingest::consented(
            PushedConsent {
                purposes: &p.consent.purposes,
                granted_at: &granted_at,
                withdrawn: p.consent.withdrawn_at.is_some(),
            },
            withdrawals.get(subject_key).map_or(&[], Vec::as_slice),
        );
        let keep_contact = ingest::keeps_contact(&consent_purposes);
        let classes: &[DataClass] = if keep_contact {
            &[DataClass::Profile, DataClass::Contact]
        } else {
            &[DataClass::Profile]
        };
        let leaf_index = first_leaf + leaves.len() as u64;
        leaves.push(caller.shared("placement", &record_key, classes, digest.clone()));
        logged.push((record.index, index, verdict));
        if verdict != Verdict::Store {
            continue;
        }
        stored.insert(
            p.placement_id.clone(),
            StoredVersion {
                placement_id: p.placement_id.clone(),
                subject_key: subject_key.clone(),
                record_key: record_key.clone(),
                salt: salt.clone(),
                digest: digest.as_bytes().to_vec(),
                version,
                updated_at: updated_at.clone(),
            },
        );
        let mut kept = record_to_store(
            message,
            &record,
            Kept {
                subject_key: subject_key.clone(),
                record_key,
                salt,
                digest,
                updated_at,
                consent_purposes,
                keep_contact,
            },
        );
        kept.change_seq = leaf_index;
        writes.insert(kept.placement_id.clone(), kept);
    }
    let mut writes: Vec<PlacementRecord> = writes.into_values().collect();
    writes.sort_by_key(|w| w.change_seq);
    write.upsert_placements(&writes).await?;
    // Enrolments rest on consent for capacity building: a worker whose placements no longer
    // cover it (withdrawn or narrowed in the record, or the placement moved to another NIK)
    // loses them with this push.
    let capacity_building = Purpose::CapacityBuilding.code();
    let mut unconsented: Vec<String> = writes
        .iter()
        .filter(|w| !w.consent_purposes.iter().any(|p| p == capacity_building))
        .map(|w| w.subject_key.clone())
        .chain(moved_from)
        .collect();
    unconsented.sort();
    unconsented.dedup();
    write
        .erase_unconsented_enrollments(&unconsented, capacity_building)
        .await?;
    Ok(((batch, logged), leaves))
}

/// The stored placements of the worker with `subject_key` (at least one; else NOT_FOUND
/// saying `nothing_done`).
async fn subject_records(
    write: &mut LoggedWrite,
    subject_key: &str,
    nothing_done: &str,
) -> Result<Vec<SubjectPlacement>, WriteFailed> {
    let placements = write.subject_placements(subject_key).await?;
    if placements.is_empty() {
        return Err(Status::not_found(format!(
            "no placement of this worker is stored; {nothing_done}"
        ))
        .into());
    }
    Ok(placements)
}

/// Withdraws the worker's consent for `withdrawn` purpose codes (none: every purpose of the
/// agreement) at `withdrawn_at`, in `write`: how many placements changed, and the purposes
/// their consent still covers, with the leaf that logs the change.
async fn withdraw(
    write: &mut LoggedWrite,
    caller: Caller,
    subject_key: String,
    withdrawn: Vec<String>,
    withdrawn_at: String,
) -> Result<(Withdrawn, Vec<LeafEntry>), WriteFailed> {
    let placements = subject_records(write, &subject_key, "no consent changed").await?;
    let remembered: Vec<String> = if withdrawn.is_empty() {
        Purpose::ALL
            .iter()
            .filter(|p| p.is_mou_scope())
            .map(|p| p.code().to_owned())
            .collect()
    } else {
        withdrawn.clone()
    };
    write
        .remember_withdrawal(&subject_key, &remembered, &withdrawn_at)
        .await?;
    // Enrolments rest on consent for capacity building: they end with it.
    let capacity_building = Purpose::CapacityBuilding.code().to_owned();
    let enrollments_erased = if remembered.contains(&capacity_building) {
        write.erase_enrollments(&subject_key).await?
    } else {
        0
    };
    let leaf = caller.shared("consent", &placements[0].record_key, &[], String::new());
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
            let keep_contact = ingest::keeps_contact(&remaining);
            write
                .set_consent(&placement.placement_id, &remaining, keep_contact)
                .await?;
        }
        for code in remaining {
            if !remaining_all.contains(&code) {
                remaining_all.push(code);
            }
        }
    }
    Ok((
        Withdrawn {
            placements_changed: changed,
            remaining: remaining_all,
            enrollments_erased,
        },
        vec![leaf],
    ))
}

/// What a consent withdrawal changed.
struct Withdrawn {
    /// Placements whose consent changed.
    placements_changed: u32,
    /// Purpose codes the worker still consents to.
    remaining: Vec<String>,
    /// Enrolments erased.
    enrollments_erased: u64,
}

/// The time of a withdrawal as given: not in the future (5 minutes of clock skew allowed).
fn withdrawal_time(t: &prost_types::Timestamp) -> Result<String, Status> {
    let at = convert::timestamp::from_proto(t)
        .map_err(|error| invalid_field("withdrawn_at", &error.to_string()))?;
    if at > OffsetDateTime::now_utc() + jembatan_domain::placement::CLOCK_SKEW {
        return Err(invalid_field("withdrawn_at", "is in the future"));
    }
    Ok(timestamp(at))
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

/// A stream's results so far: its totals, and the rejected records it lists.
#[derive(Default)]
struct Tally {
    summary: BatchSummary,
    rejected: Vec<RecordResult>,
}

impl Tally {
    /// Counts one message's results.
    fn add(&mut self, results: Vec<RecordResult>) {
        let batch = summary(&results);
        self.summary.stored += batch.stored;
        self.summary.unchanged += batch.unchanged;
        self.summary.stale += batch.stale;
        self.summary.rejected += batch.rejected;
        let room = MAX_STREAM_REJECTED.saturating_sub(self.rejected.len());
        self.rejected.extend(
            results
                .into_iter()
                .filter(|r| r.outcome() == RecordOutcome::Rejected)
                .take(room),
        );
    }
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
            .submit(&caller, request.placements, request.all_or_nothing, 0, None)?
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
        let mut total = Tally::default();
        let mut messages = 0u64;
        let mut next_index = 0u64;
        let chain = WriteChain::new();
        let mut queued = VecDeque::with_capacity(STREAM_AHEAD);
        // Messages are queued up to STREAM_AHEAD ahead of their commits, chained: once one
        // fails, those queued after it fail without running, and the stream answers the first
        // failure, so nothing after a failing message is stored.
        let ended: Result<(), Status> = loop {
            let message = match stream.next().await {
                None => break Ok(()),
                Some(Err(status)) => break Err(status),
                Some(Ok(message)) => message,
            };
            if messages == self.max_stream_messages {
                break Err(Status::resource_exhausted(format!(
                    "StreamPlacements carries at most {messages} messages; those were \
                     answered and stored, open a new stream for the rest"
                )));
            }
            messages += 1;
            let count = message.placements.len() as u64;
            match self.submit(&caller, message.placements, false, next_index, Some(&chain)) {
                Ok(written) => queued.push_back(written),
                Err(status) => break Err(status),
            }
            next_index += count;
            if queued.len() == STREAM_AHEAD
                && let Some(oldest) = queued.pop_front()
            {
                total.add(oldest.await?);
            }
        };
        // What was queued before the end, or before a bad message, is answered first: the
        // first failure is the stream's answer, and a bad message follows only stored ones.
        for written in queued {
            total.add(written.await?);
        }
        ended?;
        let Tally { summary, rejected } = total;
        Ok(Response::new(StreamPlacementsResponse {
            summary: Some(summary),
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
                    // A purpose named twice is withdrawn once.
                    let code = purpose.code().to_owned();
                    if !withdrawn.contains(&code) {
                        withdrawn.push(code);
                    }
                }
                _ => return Err(invalid_field(&format!("purposes[{i}]"), "not a purpose")),
            }
        }
        let withdrawn_at = match &request.withdrawn_at {
            None => timestamp(OffsetDateTime::now_utc()),
            Some(t) => withdrawal_time(t)?,
        };
        let ticket = caller.ticket(1);
        let (withdrawn, receipts) = self
            .store
            .write(ticket, move |write| {
                Box::pin(withdraw(
                    write,
                    caller,
                    subject_key,
                    withdrawn,
                    withdrawn_at,
                ))
            })
            .await
            .map_err(Status::from)?;
        let remaining_purposes = Purpose::ALL
            .iter()
            .filter(|p| withdrawn.remaining.iter().any(|c| c == p.code()))
            .filter_map(|p| v1::Purpose::number_of_code(p.code()).ok())
            .collect();
        Ok(Response::new(WithdrawConsentResponse {
            placements_changed: withdrawn.placements_changed,
            remaining_purposes,
            receipt: receipts.first().map(receipt),
            enrollments_erased: u32::try_from(withdrawn.enrollments_erased).unwrap_or(u32::MAX),
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
            return Err(invalid_field(
                "request_ref",
                &format!("at most {MAX_REQUEST_REF} characters without control characters"),
            ));
        }
        let ticket = caller.ticket(1);
        let availability = Arc::clone(&self.availability);
        // Queued at once: the erasure runs even if the caller goes before its turn.
        let written = self.store.write(ticket, move |write| {
            Box::pin(async move {
                // A worker is known by a placement or, should one outlive its placements, an
                // enrolment: either is erased.
                let placements = write.subject_placements(&subject_key).await?;
                let enrollment_keys = write.enrollment_keys(&subject_key).await?;
                let Some(record_key) = placements
                    .first()
                    .map(|p| p.record_key.clone())
                    .or_else(|| enrollment_keys.first().cloned())
                else {
                    return Err(Status::not_found(
                        "no placement or enrolment of this worker is stored; nothing was erased",
                    )
                    .into());
                };
                let leaf = caller.shared("erasure", &record_key, &[], String::new());
                // The erasure's leaf is this write's only one.
                let change = write.first_leaf_index();
                let erased = write
                    .erase_subject(&subject_key, &timestamp(OffsetDateTime::now_utc()), change)
                    .await?;
                let enrollments = write.erase_enrollments(&subject_key).await?;
                // The worker leaves this process's counts before the erasure commits, so that
                // a count logged after it, in this group or a later one, can reflect it (should
                // the commit fail, the worker is missing from the counts until the next start:
                // the safe side).
                availability.erase(&subject_key, change);
                Ok::<_, WriteFailed>(((erased, enrollments), vec![leaf]))
            })
        });
        let ((erased, enrollments), receipts) = written.await.map_err(Status::from)?;
        Ok(Response::new(ErasePersonalDataResponse {
            placements_erased: u32::try_from(erased).unwrap_or(u32::MAX),
            enrollments_erased: u32::try_from(enrollments).unwrap_or(u32::MAX),
            receipt: receipts.first().map(receipt),
        }))
    }
}
