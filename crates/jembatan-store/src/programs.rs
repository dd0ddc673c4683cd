//! Export programs and workers' enrolments in them: written in the same transaction as their
//! audit leaves, programs listed for KP2MI, enrolments read back as outcomes for Kemendag.
//!
//! An enrolment keeps the worker only as a subject key (never the NIK) and the worker's
//! province of origin, and goes with the worker's erasure or withdrawal of consent for capacity
//! building ([`LoggedWrite::erase_enrollments`]).

use std::collections::HashMap;

use sqlx::QueryBuilder;

use crate::audit::to_i64;
use crate::placements::{contains_pattern, join_codes};
use crate::write::on_tx;
use crate::{LoggedWrite, Store, StoreError, on_pool};

/// Rows per multi-row statement (13 to 14 columns each), and keys per lookup.
const CHUNK: usize = 500;

/// The status of an enrolment that holds no place in its program.
pub const DROPPED: &str = "DROPPED";

/// The status of an enrolment whose worker completed the program.
pub const COMPLETED: &str = "COMPLETED";

/// One program as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramRecord {
    /// Kemendag's program id.
    pub program_id: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of the record's digests.
    pub salt: Vec<u8>,
    /// Salted SHA-256 of the program as sent.
    pub digest: Vec<u8>,
    /// Kemendag's version.
    pub version: u64,
    /// Program kind code, e.g. `DESA_BISA_EKSPOR`.
    pub kind: String,
    /// Province (`PP`) and regency (`PP.KK`) codes where it runs; empty for nationwide.
    pub areas: Vec<String>,
    /// First day, `YYYY-MM-DD`.
    pub starts_on: String,
    /// Last day.
    pub ends_on: String,
    /// Places; 0 for unlimited.
    pub capacity: u32,
    /// The program as sent (jembatan.v1.ExportProgram, protobuf).
    pub program: Vec<u8>,
    /// Audit leaf index of the call that stored this version.
    pub change_seq: u64,
}

/// Which programs match: empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramFilter {
    /// Only programs running on this day, `YYYY-MM-DD`.
    pub active_on: Option<String>,
    /// Kind codes.
    pub kinds: Vec<String>,
    /// (regency `PP.KK`, its province `PP`): programs of the regency, of its province, or
    /// nationwide.
    pub regencies: Vec<(String, String)>,
}

/// A program as a listing returns it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProgramRow {
    /// Row id, the position for paging.
    pub id: i64,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of its digests.
    pub salt: Vec<u8>,
    /// The program as sent.
    pub program: Vec<u8>,
}

/// What an enrolment needs to know of its program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramPlaces {
    /// Places; 0 for unlimited.
    pub capacity: u32,
    /// Last day, `YYYY-MM-DD`.
    pub ends_on: String,
    /// Places held: enrolments not dropped.
    pub taken: u64,
}

/// A stored enrolment's program, worker and status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEnrollment {
    /// KP2MI's enrolment id.
    pub enrollment_id: String,
    /// The program.
    pub program_id: String,
    /// Keyed hash of the worker's NIK.
    pub subject_key: String,
    /// Status code.
    pub status: String,
}

/// One enrolment as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRecord {
    /// KP2MI's enrolment id.
    pub enrollment_id: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of the record's digests.
    pub salt: Vec<u8>,
    /// Salted SHA-256 of the enrolment as sent.
    pub digest: Vec<u8>,
    /// KP2MI's version.
    pub version: u64,
    /// The program.
    pub program_id: String,
    /// Keyed hash of the worker's NIK.
    pub subject_key: String,
    /// The worker's province of origin, 2 digits.
    pub origin_province: String,
    /// `YYYY-MM-DD`.
    pub enrolled_on: String,
    /// Status code, e.g. `COMPLETED`.
    pub status: String,
    /// The worker started a business.
    pub business_started: bool,
    /// Export deals in US dollars.
    pub export_deals_usd: u64,
    /// Audit leaf index of the call that stored this version.
    pub change_seq: u64,
}

/// An enrolment as outcomes count it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutcomeRow {
    /// The program.
    pub program_id: String,
    /// The worker's province of origin.
    pub origin_province: String,
    /// Keyed hash of the worker's NIK.
    pub subject_key: String,
    /// Status code.
    pub status: String,
    /// The worker started a business.
    pub business_started: bool,
    /// Export deals in US dollars.
    pub export_deals_usd: i64,
}

impl LoggedWrite {
    /// Inserts or replaces `records` (one per program id).
    pub async fn upsert_programs(&mut self, records: &[ProgramRecord]) -> Result<(), StoreError> {
        for chunk in records.chunks(CHUNK) {
            on_tx!(&mut self.tx.conn, conn => {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO programs (program_id, record_key, salt, digest, version, kind, \
                     areas, starts_on, ends_on, capacity, program, change_seq) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(r.program_id.clone())
                        .push_bind(r.record_key.clone())
                        .push_bind(r.salt.clone())
                        .push_bind(r.digest.clone())
                        .push_bind(to_i64(r.version))
                        .push_bind(r.kind.clone())
                        .push_bind(join_codes(&r.areas))
                        .push_bind(r.starts_on.clone())
                        .push_bind(r.ends_on.clone())
                        .push_bind(i64::from(r.capacity))
                        .push_bind(r.program.clone())
                        .push_bind(to_i64(r.change_seq));
                });
                insert.push(
                    " ON CONFLICT (program_id) DO UPDATE SET digest = excluded.digest, \
                     version = excluded.version, kind = excluded.kind, areas = excluded.areas, \
                     starts_on = excluded.starts_on, ends_on = excluded.ends_on, \
                     capacity = excluded.capacity, program = excluded.program, \
                     change_seq = excluded.change_seq",
                );
                insert.build().execute(&mut **conn).await?;
            });
        }
        Ok(())
    }

    /// The programs among `program_ids` that are stored, with their capacity, last day and
    /// places held, as this transaction sees them.
    pub async fn program_places(
        &mut self,
        program_ids: &[String],
    ) -> Result<HashMap<String, ProgramPlaces>, StoreError> {
        let mut found: HashMap<String, ProgramPlaces> = HashMap::new();
        for chunk in program_ids.chunks(CHUNK) {
            let programs: Vec<(String, i64, String, i64)> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT program_id, capacity, ends_on, (SELECT COUNT(*) FROM enrollments e \
                     WHERE e.program_id = programs.program_id AND e.status <> ",
                );
                query.push_bind(DROPPED).push(") FROM programs WHERE program_id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            for (program_id, capacity, ends_on, taken) in programs {
                found.insert(
                    program_id,
                    ProgramPlaces {
                        capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
                        ends_on,
                        taken: u64::try_from(taken).unwrap_or(0),
                    },
                );
            }
        }
        Ok(found)
    }

    /// The stored enrolments among `enrollment_ids`, by id.
    pub async fn stored_enrollments(
        &mut self,
        enrollment_ids: &[String],
    ) -> Result<HashMap<String, StoredEnrollment>, StoreError> {
        let mut found = HashMap::new();
        for chunk in enrollment_ids.chunks(CHUNK) {
            let rows: Vec<StoredEnrollment> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT enrollment_id, program_id, subject_key, status FROM enrollments \
                     WHERE enrollment_id IN (",
                );
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            found.extend(rows.into_iter().map(|row| (row.enrollment_id.clone(), row)));
        }
        Ok(found)
    }

    /// The workers among `subject_keys` with a stored placement whose consent covers `purpose`
    /// (a code), each with the province of origin of their latest such placement.
    pub async fn consenting_workers(
        &mut self,
        subject_keys: &[String],
        purpose: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut found = HashMap::new();
        for chunk in subject_keys.chunks(CHUNK) {
            let rows: Vec<(String, String)> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT subject_key, origin_province FROM placements WHERE subject_key IN (",
                );
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.clone());
                }
                query
                    .push(") AND consent_purposes LIKE ")
                    .push_bind(contains_pattern(purpose))
                    .push(" ESCAPE '\\' ORDER BY change_seq");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            // In change order: the latest placement's province stays.
            found.extend(rows);
        }
        Ok(found)
    }

    /// The enrolments of the workers among `subject_keys`: (program id, subject key) →
    /// enrolment id, to keep one enrolment per worker and program.
    pub async fn enrollments_of(
        &mut self,
        subject_keys: &[String],
    ) -> Result<HashMap<(String, String), String>, StoreError> {
        let mut found = HashMap::new();
        for chunk in subject_keys.chunks(CHUNK) {
            let rows: Vec<(String, String, String)> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT program_id, subject_key, enrollment_id FROM enrollments \
                     WHERE subject_key IN (",
                );
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            found.extend(
                rows.into_iter()
                    .map(|(program, subject, enrollment)| ((program, subject), enrollment)),
            );
        }
        Ok(found)
    }

    /// Inserts or replaces `records` (one per enrolment id).
    pub async fn upsert_enrollments(
        &mut self,
        records: &[EnrollmentRecord],
    ) -> Result<(), StoreError> {
        for chunk in records.chunks(CHUNK) {
            on_tx!(&mut self.tx.conn, conn => {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO enrollments (enrollment_id, record_key, salt, digest, version, \
                     program_id, subject_key, origin_province, enrolled_on, status, \
                     business_started, export_deals_usd, change_seq) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(r.enrollment_id.clone())
                        .push_bind(r.record_key.clone())
                        .push_bind(r.salt.clone())
                        .push_bind(r.digest.clone())
                        .push_bind(to_i64(r.version))
                        .push_bind(r.program_id.clone())
                        .push_bind(r.subject_key.clone())
                        .push_bind(r.origin_province.clone())
                        .push_bind(r.enrolled_on.clone())
                        .push_bind(r.status.clone())
                        .push_bind(r.business_started)
                        .push_bind(to_i64(r.export_deals_usd))
                        .push_bind(to_i64(r.change_seq));
                });
                insert.push(
                    " ON CONFLICT (enrollment_id) DO UPDATE SET digest = excluded.digest, \
                     version = excluded.version, program_id = excluded.program_id, \
                     subject_key = excluded.subject_key, \
                     origin_province = excluded.origin_province, \
                     enrolled_on = excluded.enrolled_on, status = excluded.status, \
                     business_started = excluded.business_started, \
                     export_deals_usd = excluded.export_deals_usd, \
                     change_seq = excluded.change_seq",
                );
                insert.build().execute(&mut **conn).await?;
            });
        }
        Ok(())
    }

    /// Deletes the enrolments of the workers among `subject_keys` who have no stored placement
    /// whose consent covers `purpose` (a code) any more: a placement pushed with the consent
    /// withdrawn, narrowed, or moved to another worker ends the enrolments it allowed. Returns
    /// how many.
    pub async fn erase_unconsented_enrollments(
        &mut self,
        subject_keys: &[String],
        purpose: &str,
    ) -> Result<u64, StoreError> {
        let mut erased = 0;
        for chunk in subject_keys.chunks(CHUNK) {
            erased += on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new("DELETE FROM enrollments WHERE subject_key IN (");
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.clone());
                }
                query
                    .push(") AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.subject_key = \
                           enrollments.subject_key AND p.consent_purposes LIKE ")
                    .push_bind(contains_pattern(purpose))
                    .push(" ESCAPE '\\')");
                query.build().execute(&mut **conn).await?.rows_affected()
            });
        }
        Ok(erased)
    }

    /// The pseudonymous record keys of the enrolments of the worker with `subject_key`.
    pub async fn enrollment_keys(&mut self, subject_key: &str) -> Result<Vec<String>, StoreError> {
        const SQL: &str =
            "SELECT record_key FROM enrollments WHERE subject_key = $1 ORDER BY enrollment_id";
        Ok(on_tx!(&mut self.tx.conn, conn => {
            sqlx::query_scalar(SQL).bind(subject_key).fetch_all(&mut **conn).await?
        }))
    }

    /// Deletes every enrolment of the worker with `subject_key` (an erasure, or consent for
    /// capacity building withdrawn); returns how many.
    pub async fn erase_enrollments(&mut self, subject_key: &str) -> Result<u64, StoreError> {
        const DELETE: &str = "DELETE FROM enrollments WHERE subject_key = $1";
        Ok(on_tx!(&mut self.tx.conn, conn => {
            sqlx::query(DELETE).bind(subject_key).execute(&mut **conn).await?.rows_affected()
        }))
    }

    /// Every enrolment in the programs among `program_ids` (empty: in every program), as
    /// outcomes count them, by program, as this transaction sees them: an answer logged in the
    /// same write reflects every erasure logged before it.
    pub async fn outcome_rows(
        &mut self,
        program_ids: &[String],
    ) -> Result<Vec<OutcomeRow>, StoreError> {
        let rows = on_tx!(&mut self.tx.conn, conn => {
            let mut query = QueryBuilder::new(
                "SELECT program_id, origin_province, subject_key, status, business_started, \
                 export_deals_usd FROM enrollments",
            );
            if !program_ids.is_empty() {
                query.push(" WHERE program_id IN (");
                let mut list = query.separated(", ");
                for id in program_ids {
                    list.push_bind(id.clone());
                }
                query.push(")");
            }
            query.push(" ORDER BY program_id");
            query.build_query_as().fetch_all(&mut **conn).await?
        });
        Ok(rows)
    }
}

impl Store {
    /// Up to `limit` programs matching `filter`, by row id after `after`.
    pub async fn programs(
        &self,
        filter: &ProgramFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ProgramRow>, StoreError> {
        let rows = on_pool!(self, pool => {
            let mut query = QueryBuilder::new(
                "SELECT id, record_key, salt, program FROM programs WHERE id > ",
            );
            query.push_bind(after);
            if let Some(day) = &filter.active_on {
                query
                    .push(" AND starts_on <= ")
                    .push_bind(day.clone())
                    .push(" AND ends_on >= ")
                    .push_bind(day.clone());
            }
            if !filter.kinds.is_empty() {
                query.push(" AND kind IN (");
                let mut list = query.separated(", ");
                for kind in &filter.kinds {
                    list.push_bind(kind.clone());
                }
                query.push(")");
            }
            if !filter.regencies.is_empty() {
                query.push(" AND (areas = ''");
                for (regency, province) in &filter.regencies {
                    for code in [regency, province] {
                        query
                            .push(" OR areas LIKE ")
                            .push_bind(contains_pattern(code))
                            .push(" ESCAPE '\\'");
                    }
                }
                query.push(")");
            }
            query.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }
}
