//! Batches of versioned records (market reports, programs, enrolments): each record validated
//! on its own, then judged in the logged write against its stored version, and answered with
//! one result per record, in request order.
//!
//! A record is keyed by its sender's id: a higher version replaces the stored one, the same
//! version with the same content changes nothing, a lower one is stale, and the same version
//! with other content is refused on `version`. Every record stored, unchanged or stale gets a
//! leaf; a refused one gets none and changes nothing.

use std::collections::HashMap;

use jembatan_audit::leaf::{LeafEntry, record_digest};
use jembatan_policy::DataClass;
use jembatan_proto::v1::{BatchSummary, FieldViolation, RecordOutcome, RecordResult};
use jembatan_store::{LoggedWrite, Receipt, StoreError, StoredRecord, VersionedTable};
use prost::Message;
use time::OffsetDateTime;
use tonic::Status;

use crate::call::Caller;
use crate::services::receipt;
use crate::services::record_keys::{new_record_key, random_bytes};

/// Most records in one message.
pub(crate) const MAX_BATCH: usize = 1000;

/// What becomes of a sent version that is not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// New, or newer than the stored one: stored.
    Store,
    /// The stored version, again: nothing changes.
    Unchanged,
    /// Older than the stored one: nothing changes.
    Stale,
}

impl Verdict {
    /// What the verdict is called in the contract.
    pub(crate) fn outcome(self) -> RecordOutcome {
        match self {
            Verdict::Store => RecordOutcome::Stored,
            Verdict::Unchanged => RecordOutcome::Unchanged,
            Verdict::Stale => RecordOutcome::Stale,
        }
    }
}

/// A message of a batch: its sender's id and version.
pub(crate) trait Versioned: Message {
    /// The sender's id of the record.
    fn id(&self) -> &str;
    /// The sender's version.
    fn version(&self) -> u64;
}

/// A valid record of a batch, with what can be made of it before its turn to write.
pub(crate) struct Prepared<T> {
    /// Its position in the message.
    pub(crate) position: usize,
    /// The sender's id.
    pub(crate) id: String,
    /// The sender's version.
    pub(crate) version: i64,
    /// The record as sent, encoded: what its digest is of, and what is kept.
    pub(crate) encoded: Vec<u8>,
    /// The validated record.
    pub(crate) value: T,
    /// Salt and key if the record is new (a stored one keeps its own).
    fresh_salt: Vec<u8>,
    fresh_key: String,
}

/// A record judged against its stored version, with its leaf's index.
pub(crate) struct Judged {
    /// Salt of its digests.
    pub(crate) salt: Vec<u8>,
    /// Its pseudonymous key in the audit log.
    pub(crate) record_key: String,
    /// Its salted digest, hex.
    pub(crate) digest: String,
    /// What becomes of it.
    pub(crate) verdict: Verdict,
    /// The index its leaf will get.
    pub(crate) leaf_index: u64,
}

/// One message's records: the valid ones on their way in, each record's result once known.
pub(crate) struct Batch<M, T> {
    /// The records as sent.
    pub(crate) messages: Vec<M>,
    /// What the records are called in field paths, e.g. `reports`.
    what: &'static str,
    valid: Vec<Prepared<T>>,
    results: Vec<Option<RecordResult>>,
    /// Records logged: position and verdict, in leaf order.
    logged: Vec<(usize, Verdict)>,
}

impl<M: Versioned, T> Batch<M, T> {
    /// Validates every record of `messages` (at most [`MAX_BATCH`]) with `convert`, which is
    /// given each record and its field path (`reports[3]`).
    pub(crate) fn validate(
        messages: Vec<M>,
        what: &'static str,
        now: OffsetDateTime,
        convert: impl Fn(&M, &str) -> Result<T, Vec<FieldViolation>>,
    ) -> Result<Self, Status> {
        if messages.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "{what}: {} records in one message; at most {MAX_BATCH}",
                messages.len()
            )));
        }
        let mut valid = Vec::with_capacity(messages.len());
        let mut results = vec![None; messages.len()];
        for (position, message) in messages.iter().enumerate() {
            let prefix = format!("{what}[{position}]");
            let violations = match (convert(message, &prefix), i64::try_from(message.version())) {
                (Ok(value), Ok(version)) => {
                    valid.push(Prepared {
                        position,
                        id: message.id().to_owned(),
                        version,
                        encoded: message.encode_to_vec(),
                        value,
                        fresh_salt: random_bytes::<16>()?.to_vec(),
                        fresh_key: new_record_key(now)?,
                    });
                    continue;
                }
                (Ok(_), Err(_)) => vec![too_high(&prefix)],
                (Err(mut found), version) => {
                    if version.is_err() {
                        found.push(too_high(&prefix));
                    }
                    found
                }
            };
            results[position] = Some(rejected(position, message.id(), violations));
        }
        Ok(Self {
            messages,
            what,
            valid,
            results,
            logged: Vec::new(),
        })
    }

    /// The valid records.
    pub(crate) fn valid(&self) -> &[Prepared<T>] {
        &self.valid
    }

    /// Judges every valid record against its stored version in `table`, in `write`, and asks
    /// `keep` about each one not refused: a violation (a field of the record and why) refuses
    /// it; otherwise it gets its leaf, shared with `caller` as `record_type` of `class`, and a
    /// row `keep` gives is stored (the last one for each id). Returns the rows to store and the
    /// leaves.
    pub(crate) async fn judge<R>(
        &mut self,
        write: &mut LoggedWrite,
        table: VersionedTable,
        (caller, record_type, class): (&Caller, &str, DataClass),
        mut keep: impl FnMut(&Prepared<T>, &Judged) -> Result<Option<R>, (String, String)>,
    ) -> Result<(Vec<R>, Vec<LeafEntry>), StoreError> {
        let ids: Vec<String> = self.valid.iter().map(|r| r.id.clone()).collect();
        let mut stored: HashMap<String, StoredRecord> = write
            .stored_records(table, &ids)
            .await?
            .into_iter()
            .map(|r| (r.record_id.clone(), r))
            .collect();
        let first_leaf = write.first_leaf_index();
        let mut leaves = Vec::with_capacity(self.valid.len());
        let mut rows: Vec<(String, R)> = Vec::new();
        let valid = std::mem::take(&mut self.valid);
        for record in &valid {
            let old = stored.get(&record.id);
            let (salt, record_key, digest) = match old {
                Some(old) => (
                    old.salt.clone(),
                    old.record_key.clone(),
                    record_digest(&old.salt, &record.encoded),
                ),
                None => (
                    record.fresh_salt.clone(),
                    record.fresh_key.clone(),
                    record_digest(&record.fresh_salt, &record.encoded),
                ),
            };
            let verdict = match old {
                None => Verdict::Store,
                Some(old) if record.version > old.version => Verdict::Store,
                Some(old) if record.version < old.version => Verdict::Stale,
                Some(old) if old.digest == digest.as_bytes() => Verdict::Unchanged,
                Some(_) => {
                    self.refuse(
                        record.position,
                        "version",
                        "this version is stored with other content; send a higher version",
                    );
                    continue;
                }
            };
            let judged = Judged {
                salt,
                record_key,
                digest,
                verdict,
                leaf_index: first_leaf + leaves.len() as u64,
            };
            match keep(record, &judged) {
                Err((field, reason)) => {
                    self.refuse(record.position, &field, &reason);
                    continue;
                }
                Ok(row) => {
                    if let Some(row) = row {
                        rows.retain(|(id, _)| id != &record.id);
                        rows.push((record.id.clone(), row));
                    }
                }
            }
            leaves.push(caller.shared(
                record_type,
                &judged.record_key,
                &[class],
                judged.digest.clone(),
            ));
            self.logged.push((record.position, verdict));
            if verdict == Verdict::Store {
                stored.insert(
                    record.id.clone(),
                    StoredRecord {
                        record_id: record.id.clone(),
                        record_key: judged.record_key,
                        salt: judged.salt,
                        digest: judged.digest.into_bytes(),
                        version: record.version,
                    },
                );
            }
        }
        self.valid = valid;
        Ok((rows.into_iter().map(|(_, row)| row).collect(), leaves))
    }

    /// Refuses the record at `position` on `field` for `reason`.
    fn refuse(&mut self, position: usize, field: &str, reason: &str) {
        let violation = FieldViolation {
            field: format!("{}[{position}].{field}", self.what),
            description: reason.to_owned(),
        };
        let id = self.messages[position].id();
        self.results[position] = Some(rejected(position, id, vec![violation]));
    }

    /// Every record's result, the logged ones with their `receipts` (in leaf order).
    pub(crate) fn results(self, receipts: &[Receipt]) -> Vec<RecordResult> {
        let Self {
            messages,
            mut results,
            logged,
            ..
        } = self;
        for ((position, verdict), receipt_of) in logged.into_iter().zip(receipts) {
            results[position] = Some(RecordResult {
                index: u32::try_from(position).unwrap_or(u32::MAX),
                record_id: messages[position].id().to_owned(),
                outcome: verdict.outcome().into(),
                violations: Vec::new(),
                receipt: Some(receipt(receipt_of)),
            });
        }
        results.into_iter().flatten().collect()
    }
}

fn too_high(prefix: &str) -> FieldViolation {
    FieldViolation {
        field: format!("{prefix}.version"),
        description: format!("must be at most {}", i64::MAX),
    }
}

/// The result of a refused record.
pub(crate) fn rejected(position: usize, id: &str, violations: Vec<FieldViolation>) -> RecordResult {
    RecordResult {
        index: u32::try_from(position).unwrap_or(u32::MAX),
        record_id: id.chars().take(64).collect(),
        outcome: RecordOutcome::Rejected.into(),
        violations,
        receipt: None,
    }
}

/// Totals of `results` by outcome.
pub(crate) fn summary(results: &[RecordResult]) -> BatchSummary {
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
