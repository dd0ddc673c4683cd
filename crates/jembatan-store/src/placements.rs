//! Placement records: written in the same transaction as their audit leaves, read back as
//! counts (grouped, for QueryAvailability) and as candidates (for ListCandidates and
//! WatchAvailability).
//!
//! The store knows columns, not rules: the server validates records, decides what may be kept
//! (name and contact only with consent for business matching) and builds the stored profile.
//! Multi-valued codes are stored as `|a|b|` and matched with `LIKE '%|a|%'` (escaped), alike on
//! both engines.

use std::collections::HashMap;

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::audit::{to_i64, to_u64};
use crate::write::{Conn, on_tx};
use crate::{LoggedWrite, Store, StoreError, on_pool};

/// Rows per multi-row statement (24 columns each: below SQLite's 32,766 bound parameters).
const UPSERT_CHUNK: usize = 500;

/// The start of the placements' upsert: its columns.
macro_rules! upsert_columns {
    () => {
        "INSERT INTO placements (placement_id, subject_key, record_key, \
     salt, digest, version, updated_at, profile, sex, origin_province, origin_regency, \
     occupation_code, destination_country, status, return_date, wants_to_export, \
     certificate_schemes, languages, hs_chapters, consent_purposes, full_name, phone, email, \
     change_seq) "
    };
}
const UPSERT_COLUMNS: &str = upsert_columns!();

/// The end of the placements' upsert: a placement stored already is replaced, keeping its record
/// key and salt.
macro_rules! upsert_conflict {
    () => {
        " ON CONFLICT (placement_id) DO UPDATE SET \
     subject_key = excluded.subject_key, digest = excluded.digest, \
     version = excluded.version, updated_at = excluded.updated_at, \
     profile = excluded.profile, sex = excluded.sex, \
     origin_province = excluded.origin_province, \
     origin_regency = excluded.origin_regency, \
     occupation_code = excluded.occupation_code, \
     destination_country = excluded.destination_country, \
     status = excluded.status, return_date = excluded.return_date, \
     wants_to_export = excluded.wants_to_export, \
     certificate_schemes = excluded.certificate_schemes, \
     languages = excluded.languages, hs_chapters = excluded.hs_chapters, \
     consent_purposes = excluded.consent_purposes, \
     full_name = excluded.full_name, phone = excluded.phone, \
     email = excluded.email, change_seq = excluded.change_seq"
    };
}
const UPSERT_CONFLICT: &str = upsert_conflict!();

/// The placements' upsert on PostgreSQL: one array per column, whatever the number of records.
/// A multi-row VALUES list binds 24 parameters a record, and PostgreSQL folds every one of them
/// into the plan at each call: planning took 11% of the machine's time during a push of batches
/// of 1,000 (`perf`, see BENCHMARKS.md), about as much as inserting the rows into the indexes.
const UPSERT_POSTGRES: &str = concat!(
    upsert_columns!(),
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], \
     $6::bigint[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::text[], $12::text[], \
     $13::text[], $14::text[], $15::text[], $16::boolean[], $17::text[], $18::text[], \
     $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::bigint[])",
    upsert_conflict!()
);

/// One placement as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRecord {
    /// KP2MI's placement id.
    pub placement_id: String,
    /// Keyed hash of the worker's NIK, hex.
    pub subject_key: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of the record's digests.
    pub salt: Vec<u8>,
    /// Salted SHA-256 of the record as pushed.
    pub digest: Vec<u8>,
    /// KP2MI's version.
    pub version: u64,
    /// KP2MI's update time, RFC 3339 UTC, or empty.
    pub updated_at: String,
    /// What Kemendag may see of the worker, encoded by the server.
    pub profile: Vec<u8>,
    /// `FEMALE` or `MALE`.
    pub sex: String,
    /// Province of origin, 2 digits.
    pub origin_province: String,
    /// Regency of origin, `PP.KK`.
    pub origin_regency: String,
    /// KBJI/ISCO-08 code.
    pub occupation_code: String,
    /// ISO 3166-1 alpha-2.
    pub destination_country: String,
    /// Placement status code, e.g. `RETURNED`.
    pub status: String,
    /// Return date, `YYYY-MM-DD`.
    pub return_date: Option<String>,
    /// The worker wants to export.
    pub wants_to_export: bool,
    /// BNSP scheme codes held.
    pub certificate_schemes: Vec<String>,
    /// ISO 639-1 codes.
    pub languages: Vec<String>,
    /// HS chapters of interest.
    pub hs_chapters: Vec<String>,
    /// Purpose codes the worker's consent covers now.
    pub consent_purposes: Vec<String>,
    /// Full name, only with consent for business matching.
    pub full_name: Option<String>,
    /// Phone, only with consent for business matching.
    pub phone: Option<String>,
    /// E-mail, only with consent for business matching.
    pub email: Option<String>,
    /// Audit leaf index of the push that stored this version.
    pub change_seq: u64,
}

/// What is stored of a placement to decide whether a push is new, unchanged or stale.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredVersion {
    /// KP2MI's placement id.
    pub placement_id: String,
    /// Keyed hash of the worker's NIK.
    pub subject_key: String,
    /// The record's pseudonymous key.
    pub record_key: String,
    /// Salt of its digests.
    pub salt: Vec<u8>,
    /// Salted digest of the stored version.
    pub digest: Vec<u8>,
    /// KP2MI's version.
    pub version: i64,
    /// KP2MI's update time, or empty.
    pub updated_at: String,
}

/// One of a worker's stored placements, as consent changes see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubjectPlacement {
    /// KP2MI's placement id.
    pub placement_id: String,
    /// The record's pseudonymous key.
    pub record_key: String,
    /// Purpose codes the consent covers, `|a|b|`.
    pub consent_purposes: String,
}

impl SubjectPlacement {
    /// The purpose codes the consent covers.
    pub fn purposes(&self) -> Vec<String> {
        split_codes(&self.consent_purposes)
    }
}

/// A stored placement as a candidate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CandidateRow {
    /// Row id, the position for paging.
    pub id: i64,
    /// Audit leaf index of the push that stored this version.
    pub change_seq: i64,
    /// Keyed hash of the NIK, for the recipient's pseudonym.
    pub subject_key: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of its digests.
    pub salt: Vec<u8>,
    /// The stored profile.
    pub profile: Vec<u8>,
    /// Full name, if kept.
    pub full_name: Option<String>,
    /// Phone, if kept.
    pub phone: Option<String>,
    /// E-mail, if kept.
    pub email: Option<String>,
}

/// Which placements match: empty lists match everything, lists are ORed within and ANDed
/// across. Codes must be validated by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementFilter {
    /// KBJI/ISCO-08 codes.
    pub occupation_codes: Vec<String>,
    /// BNSP scheme codes.
    pub certificate_schemes: Vec<String>,
    /// Province codes.
    pub origin_provinces: Vec<String>,
    /// Regency codes.
    pub origin_regencies: Vec<String>,
    /// Countries.
    pub destination_countries: Vec<String>,
    /// Languages.
    pub languages: Vec<String>,
    /// Status codes.
    pub statuses: Vec<String>,
    /// Earliest return date, inclusive, `YYYY-MM-DD`.
    pub return_from: Option<String>,
    /// Latest return date, inclusive.
    pub return_to: Option<String>,
    /// Only workers who want to export.
    pub wants_to_export: bool,
    /// HS chapters of interest.
    pub hs_chapters: Vec<String>,
    /// Only workers whose consent covers this purpose code.
    pub consented_to: Option<String>,
}

/// A dimension of grouped counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Province of origin.
    Province,
    /// Regency of origin.
    Regency,
    /// Occupation code.
    Occupation,
    /// Destination country.
    DestinationCountry,
    /// Month of return, `YYYY-MM` (empty when no return date is known).
    ReturnMonth,
    /// Sex.
    Sex,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Dimension::Province => "origin_province",
            Dimension::Regency => "origin_regency",
            Dimension::Occupation => "occupation_code",
            Dimension::DestinationCountry => "destination_country",
            Dimension::ReturnMonth => "COALESCE(substr(return_date, 1, 7), '')",
            Dimension::Sex => "sex",
        }
    }
}

/// Where a candidate listing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateOrder {
    /// By row id, after this id (pages of ListCandidates).
    AfterId(i64),
    /// By change, after this audit leaf index (WatchAvailability).
    AfterChange(i64),
}

/// `|a|b|` of `codes`.
pub(crate) fn join_codes(codes: &[String]) -> String {
    if codes.is_empty() {
        return String::new();
    }
    format!("|{}|", codes.join("|"))
}

pub(crate) fn split_codes(joined: &str) -> Vec<String> {
    joined
        .split('|')
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A LIKE pattern matching `code` as one element of a `|a|b|` column.
pub(crate) fn contains_pattern(code: &str) -> String {
    let mut pattern = String::from("%|");
    for c in code.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str("|%");
    pattern
}

/// Records of a listing's order read by one query of [`Store::candidates`].
const LISTING_WINDOW: i64 = 10_000;

/// Most records one call of [`Store::candidates`] reads: a filter that matches few records
/// gets a short (or empty) page and a position to go on from, not a walk of the whole table.
pub const MAX_LISTING_READ: i64 = 5 * LISTING_WINDOW;

/// A page of candidates and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidatePage {
    /// The candidates, in the listing's order.
    pub rows: Vec<CandidateRow>,
    /// The position (row id or change) after which the listing goes on; `None` once the
    /// table has been read to its end.
    pub resume_after: Option<i64>,
}

/// How a listing compares return dates: as an expression no index covers. A listing walks
/// the table in its own order (row id or change) and stops after a page; through the
/// return-date index the database would instead fetch and sort every record in the range for
/// each page (on 1,000,000 records, a 90-day range is 125,000 of them: about half a second a
/// page). `NULL || ''` is NULL on both engines, so records without a return date stay out.
const UNINDEXED_RETURN_DATE: &str = "(return_date || '')";

/// Appends ` AND …` conditions of `filter`, comparing return dates as `return_date` says.
fn push_filter<DB>(query: &mut QueryBuilder<DB>, filter: &PlacementFilter, return_date: &str)
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
{
    let exact: [(&str, &Vec<String>); 5] = [
        ("occupation_code", &filter.occupation_codes),
        ("origin_province", &filter.origin_provinces),
        ("origin_regency", &filter.origin_regencies),
        ("destination_country", &filter.destination_countries),
        ("status", &filter.statuses),
    ];
    for (column, values) in exact {
        if values.is_empty() {
            continue;
        }
        query.push(format!(" AND {column} IN ("));
        let mut list = query.separated(", ");
        for value in values {
            list.push_bind(value.clone());
        }
        query.push(")");
    }
    let contained: [(&str, &Vec<String>); 3] = [
        ("certificate_schemes", &filter.certificate_schemes),
        ("languages", &filter.languages),
        ("hs_chapters", &filter.hs_chapters),
    ];
    for (column, values) in contained {
        if values.is_empty() {
            continue;
        }
        query.push(" AND (");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                query.push(" OR ");
            }
            query
                .push(format!("{column} LIKE "))
                .push_bind(contains_pattern(value))
                .push(" ESCAPE '\\'");
        }
        query.push(")");
    }
    if let Some(from) = &filter.return_from {
        query
            .push(format!(" AND {return_date} >= "))
            .push_bind(from.clone());
    }
    if let Some(to) = &filter.return_to {
        query
            .push(format!(" AND {return_date} <= "))
            .push_bind(to.clone());
    }
    if filter.wants_to_export {
        query.push(" AND wants_to_export = ").push_bind(true);
    }
    if let Some(purpose) = &filter.consented_to {
        query
            .push(" AND consent_purposes LIKE ")
            .push_bind(contains_pattern(purpose))
            .push(" ESCAPE '\\'");
    }
}

impl LoggedWrite {
    /// The stored versions of the placements among `ids`.
    pub async fn placement_versions(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(UPSERT_CHUNK) {
            let rows: Vec<StoredVersion> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT placement_id, subject_key, record_key, salt, digest, version, \
                     updated_at FROM placements WHERE placement_id IN (",
                );
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Inserts or replaces `records` (one per placement id).
    pub async fn upsert_placements(
        &mut self,
        records: &[PlacementRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        match &mut self.tx.conn {
            Conn::Sqlite(conn) => {
                for chunk in records.chunks(UPSERT_CHUNK) {
                    let mut insert = QueryBuilder::new(UPSERT_COLUMNS);
                    insert.push_values(chunk, |mut row, r| {
                        row.push_bind(r.placement_id.clone())
                            .push_bind(r.subject_key.clone())
                            .push_bind(r.record_key.clone())
                            .push_bind(r.salt.clone())
                            .push_bind(r.digest.clone())
                            .push_bind(to_i64(r.version))
                            .push_bind(r.updated_at.clone())
                            .push_bind(r.profile.clone())
                            .push_bind(r.sex.clone())
                            .push_bind(r.origin_province.clone())
                            .push_bind(r.origin_regency.clone())
                            .push_bind(r.occupation_code.clone())
                            .push_bind(r.destination_country.clone())
                            .push_bind(r.status.clone())
                            .push_bind(r.return_date.clone())
                            .push_bind(r.wants_to_export)
                            .push_bind(join_codes(&r.certificate_schemes))
                            .push_bind(join_codes(&r.languages))
                            .push_bind(join_codes(&r.hs_chapters))
                            .push_bind(join_codes(&r.consent_purposes))
                            .push_bind(r.full_name.clone())
                            .push_bind(r.phone.clone())
                            .push_bind(r.email.clone())
                            .push_bind(to_i64(r.change_seq));
                    });
                    insert.push(UPSERT_CONFLICT);
                    insert.build().execute(&mut **conn).await?;
                }
            }
            Conn::Postgres(conn) => {
                let column = |field: fn(&PlacementRecord) -> &str| -> Vec<&str> {
                    records.iter().map(field).collect()
                };
                let optional = |field: fn(&PlacementRecord) -> Option<&str>| -> Vec<Option<&str>> {
                    records.iter().map(field).collect()
                };
                let bytes = |field: fn(&PlacementRecord) -> &[u8]| -> Vec<&[u8]> {
                    records.iter().map(field).collect()
                };
                let codes = |field: fn(&PlacementRecord) -> &[String]| -> Vec<String> {
                    records.iter().map(|r| join_codes(field(r))).collect()
                };
                sqlx::query(UPSERT_POSTGRES)
                    .bind(column(|r| &r.placement_id))
                    .bind(column(|r| &r.subject_key))
                    .bind(column(|r| &r.record_key))
                    .bind(bytes(|r| &r.salt))
                    .bind(bytes(|r| &r.digest))
                    .bind(
                        records
                            .iter()
                            .map(|r| to_i64(r.version))
                            .collect::<Vec<_>>(),
                    )
                    .bind(column(|r| &r.updated_at))
                    .bind(bytes(|r| &r.profile))
                    .bind(column(|r| &r.sex))
                    .bind(column(|r| &r.origin_province))
                    .bind(column(|r| &r.origin_regency))
                    .bind(column(|r| &r.occupation_code))
                    .bind(column(|r| &r.destination_country))
                    .bind(column(|r| &r.status))
                    .bind(optional(|r| r.return_date.as_deref()))
                    .bind(
                        records
                            .iter()
                            .map(|r| r.wants_to_export)
                            .collect::<Vec<_>>(),
                    )
                    .bind(codes(|r| &r.certificate_schemes))
                    .bind(codes(|r| &r.languages))
                    .bind(codes(|r| &r.hs_chapters))
                    .bind(codes(|r| &r.consent_purposes))
                    .bind(optional(|r| r.full_name.as_deref()))
                    .bind(optional(|r| r.phone.as_deref()))
                    .bind(optional(|r| r.email.as_deref()))
                    .bind(
                        records
                            .iter()
                            .map(|r| to_i64(r.change_seq))
                            .collect::<Vec<_>>(),
                    )
                    .execute(&mut **conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// The stored placements of the worker with `subject_key`, by placement id.
    pub async fn subject_placements(
        &mut self,
        subject_key: &str,
    ) -> Result<Vec<SubjectPlacement>, StoreError> {
        const SQL: &str = "SELECT placement_id, record_key, consent_purposes FROM placements \
                           WHERE subject_key = $1 ORDER BY placement_id";
        Ok(on_tx!(&mut self.tx.conn, conn => {
            sqlx::query_as(SQL).bind(subject_key).fetch_all(&mut **conn).await?
        }))
    }

    /// Sets the purposes a placement's consent covers; without business matching, its name and
    /// contact are erased.
    pub async fn set_consent(
        &mut self,
        placement_id: &str,
        purposes: &[String],
        keep_contact: bool,
    ) -> Result<(), StoreError> {
        const KEEP: &str = "UPDATE placements SET consent_purposes = $1 WHERE placement_id = $2";
        const DROP: &str = "UPDATE placements SET consent_purposes = $1, full_name = NULL, \
                            phone = NULL, email = NULL WHERE placement_id = $2";
        let sql = if keep_contact { KEEP } else { DROP };
        on_tx!(&mut self.tx.conn, conn => {
            sqlx::query(sql)
                .bind(join_codes(purposes))
                .bind(placement_id)
                .execute(&mut **conn)
                .await?;
        });
        Ok(())
    }

    /// The changes (leaf indexes) of erasures later than `change`, as this transaction sees the
    /// store, ascending, at most `limit`: a count read through `change` that is logged now must
    /// reflect each of them, or the log would place an answer drawn from erased data after the
    /// erasure.
    pub async fn erased_after(&mut self, change: u64, limit: u32) -> Result<Vec<u64>, StoreError> {
        const LATER: &str = "SELECT change_seq FROM erased_subjects WHERE change_seq > $1 \
                             ORDER BY change_seq LIMIT $2";
        let later: Vec<i64> = on_tx!(&mut self.tx.conn, conn => {
            sqlx::query_scalar(LATER)
                .bind(to_i64(change))
                .bind(i64::from(limit))
                .fetch_all(&mut **conn)
                .await?
        });
        Ok(later.into_iter().map(to_u64).collect())
    }

    /// Deletes every placement of the worker with `subject_key`, salts included, and remembers
    /// the erasure at `erased_at` (RFC 3339 UTC) and at `change` (the audit leaf index of the
    /// erasure, which counts follow); returns how many placements were deleted.
    pub async fn erase_subject(
        &mut self,
        subject_key: &str,
        erased_at: &str,
        change: u64,
    ) -> Result<u64, StoreError> {
        const DELETE: &str = "DELETE FROM placements WHERE subject_key = $1";
        const REMEMBER: &str = "INSERT INTO erased_subjects (subject_key, erased_at, change_seq) \
                                VALUES ($1, $2, $3) ON CONFLICT (subject_key) \
                                DO UPDATE SET erased_at = excluded.erased_at, \
                                change_seq = excluded.change_seq";
        let deleted = on_tx!(&mut self.tx.conn, conn => {
            sqlx::query(REMEMBER)
                .bind(subject_key)
                .bind(erased_at)
                .bind(to_i64(change))
                .execute(&mut **conn)
                .await?;
            sqlx::query(DELETE).bind(subject_key).execute(&mut **conn).await?.rows_affected()
        });
        Ok(deleted)
    }

    /// Remembers that the worker with `subject_key` withdrew consent for `purposes` (codes) at
    /// `withdrawn_at` (RFC 3339 UTC).
    pub async fn remember_withdrawal(
        &mut self,
        subject_key: &str,
        purposes: &[String],
        withdrawn_at: &str,
    ) -> Result<(), StoreError> {
        if purposes.is_empty() {
            return Ok(());
        }
        on_tx!(&mut self.tx.conn, conn => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO consent_withdrawals (subject_key, purpose, withdrawn_at) ",
            );
            insert.push_values(purposes, |mut row, purpose| {
                row.push_bind(subject_key.to_owned())
                    .push_bind(purpose.clone())
                    .push_bind(withdrawn_at.to_owned());
            });
            insert.push(
                " ON CONFLICT (subject_key, purpose) DO UPDATE SET withdrawn_at = excluded.withdrawn_at",
            );
            insert.build().execute(&mut **conn).await?;
        });
        Ok(())
    }

    /// The consent withdrawals of the workers among `subject_keys`: (purpose code, time) each.
    pub async fn withdrawals(
        &mut self,
        subject_keys: &[String],
    ) -> Result<HashMap<String, Vec<(String, String)>>, StoreError> {
        let mut found: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for chunk in subject_keys.chunks(UPSERT_CHUNK) {
            let rows: Vec<(String, String, String)> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT subject_key, purpose, withdrawn_at FROM consent_withdrawals \
                     WHERE subject_key IN (",
                );
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            for (subject_key, purpose, at) in rows {
                found.entry(subject_key).or_default().push((purpose, at));
            }
        }
        Ok(found)
    }

    /// When the data of each worker among `subject_keys` was last erased, for those erased.
    pub async fn erasures(
        &mut self,
        subject_keys: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut found = HashMap::new();
        for chunk in subject_keys.chunks(UPSERT_CHUNK) {
            let rows: Vec<(String, String)> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT subject_key, erased_at FROM erased_subjects WHERE subject_key IN (",
                );
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Whether `rows`, read outside this write, are still as they were read: stored, of the
    /// same version and contact details, and consented to `purpose` (a code). A worker who
    /// withdrew consent or was erased since, or a record pushed again, makes it false.
    pub async fn still_as_read(
        &mut self,
        rows: &[CandidateRow],
        purpose: &str,
    ) -> Result<bool, StoreError> {
        let mut current: HashMap<i64, CurrentRow> = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(UPSERT_CHUNK) {
            let found: Vec<CurrentRow> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(
                    "SELECT id, change_seq, full_name, phone, email FROM placements WHERE id IN (",
                );
                let mut list = query.separated(", ");
                for row in chunk {
                    list.push_bind(row.id);
                }
                query
                    .push(") AND consent_purposes LIKE ")
                    .push_bind(contains_pattern(purpose))
                    .push(" ESCAPE '\\'");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            current.extend(found.into_iter().map(|row| (row.id, row)));
        }
        Ok(rows.iter().all(|row| {
            current.get(&row.id).is_some_and(|now| {
                now.change_seq == row.change_seq
                    && now.full_name == row.full_name
                    && now.phone == row.phone
                    && now.email == row.email
            })
        }))
    }
}

/// What [`LoggedWrite::still_as_read`] compares of a candidate.
#[derive(sqlx::FromRow)]
struct CurrentRow {
    id: i64,
    change_seq: i64,
    full_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

impl Store {
    /// Up to `limit` placements matching `filter`, from `order`, reading at most
    /// [`MAX_LISTING_READ`] records whatever the filter, outside any write: the page, and where
    /// the next one starts.
    ///
    /// The table is read in windows of [`LISTING_WINDOW`] records in the listing's order, one
    /// after another, until the page is full or the table ends: whatever a planner estimates
    /// for the filter, a query then walks a bounded range of the primary key (or of
    /// `change_seq`) and stops at the page's end. Without the windows PostgreSQL, estimating a
    /// return-date and consent filter to match one row in a million, scanned the whole table
    /// and sorted the matches for every page (570 ms a page on 1,000,000 records). A window's
    /// end is found by counting records, not positions, so gaps in ids or in the log's indexes
    /// cost nothing.
    pub async fn candidates(
        &self,
        filter: &PlacementFilter,
        order: CandidateOrder,
        limit: u32,
    ) -> Result<CandidatePage, StoreError> {
        let (column, after) = match order {
            CandidateOrder::AfterId(id) => ("id", id),
            CandidateOrder::AfterChange(seq) => ("change_seq", seq),
        };
        let window_end = format!(
            "SELECT MAX({column}) FROM (SELECT {column} FROM placements WHERE {column} > $1 \
             ORDER BY {column} LIMIT $2) AS window_records"
        );
        let mut found: Vec<CandidateRow> = Vec::new();
        let mut from = after;
        let mut read = 0;
        loop {
            if found.len() == limit as usize {
                let last = found.last().map(|row| match order {
                    CandidateOrder::AfterId(_) => row.id,
                    CandidateOrder::AfterChange(_) => row.change_seq,
                });
                return Ok(CandidatePage {
                    rows: found,
                    resume_after: last,
                });
            }
            if read >= MAX_LISTING_READ {
                return Ok(CandidatePage {
                    rows: found,
                    resume_after: Some(from),
                });
            }
            let to: Option<i64> = on_pool!(self, pool => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(window_end.as_str()))
                    .bind(from)
                    .bind(LISTING_WINDOW)
                    .fetch_one(pool)
                    .await?
            });
            let Some(to) = to else {
                return Ok(CandidatePage {
                    rows: found,
                    resume_after: None,
                });
            };
            let wanted = i64::from(limit) - found.len() as i64;
            let rows: Vec<CandidateRow> = on_pool!(self, pool => {
                let mut query = QueryBuilder::new(
                    "SELECT id, change_seq, subject_key, record_key, salt, profile, full_name, \
                     phone, email FROM placements WHERE ",
                );
                query
                    .push(format!("{column} > "))
                    .push_bind(from)
                    .push(format!(" AND {column} <= "))
                    .push_bind(to);
                push_filter(&mut query, filter, UNINDEXED_RETURN_DATE);
                query
                    .push(format!(" ORDER BY {column} LIMIT "))
                    .push_bind(wanted);
                query.build_query_as().fetch_all(pool).await?
            });
            found.extend(rows);
            from = to;
            read += LISTING_WINDOW;
        }
    }

    /// Distinct workers matching `filter`, grouped by `group_by` (no grouping: one cell, the
    /// total), each cell as its keys (in `group_by` order) and count; empty cells are left out.
    /// The definition of the counts in SQL: the exchange answers from its in-memory index
    /// (jembatan-counts), and tests check that index against this.
    pub async fn count_workers(
        &self,
        filter: &PlacementFilter,
        group_by: &[Dimension],
    ) -> Result<Vec<(Vec<String>, u64)>, StoreError> {
        macro_rules! cells {
            ($pool:expr) => {{
                let mut query = QueryBuilder::new("SELECT ");
                for dimension in group_by {
                    query.push(dimension.column()).push(", ");
                }
                query.push("COUNT(DISTINCT subject_key) FROM placements WHERE 1 = 1");
                push_filter(&mut query, filter, "return_date");
                if !group_by.is_empty() {
                    query.push(" GROUP BY ");
                    let columns: Vec<&str> = group_by.iter().map(|d| d.column()).collect();
                    query.push(columns.join(", "));
                }
                let mut cells = Vec::new();
                for row in query.build().fetch_all($pool).await? {
                    use sqlx::Row;
                    let mut keys = Vec::with_capacity(group_by.len());
                    for i in 0..group_by.len() {
                        keys.push(row.try_get::<String, _>(i)?);
                    }
                    let count: i64 = row.try_get(group_by.len())?;
                    if count > 0 {
                        cells.push((keys, to_u64(count)));
                    }
                }
                cells
            }};
        }
        Ok(on_pool!(self, pool => cells!(pool)))
    }

    /// The change position of the latest stored placement version, if any.
    pub async fn latest_change(&self) -> Result<Option<u64>, StoreError> {
        const SQL: &str = "SELECT MAX(change_seq) FROM placements";
        let latest: Option<i64> =
            on_pool!(self, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(latest.map(to_u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_join_split_and_match_as_elements() {
        let codes = vec!["en".to_owned(), "zh".to_owned()];
        assert_eq!(join_codes(&codes), "|en|zh|");
        assert_eq!(split_codes("|en|zh|"), codes);
        assert_eq!(join_codes(&[]), "");
        assert!(split_codes("").is_empty());
        assert_eq!(contains_pattern("a_b%"), "%|a\\_b\\%|%");
    }
}
