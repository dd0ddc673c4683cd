//! What the in-memory availability index follows: the columns counts filter and group by, of
//! every placement changed after a position in the change sequence (the audit log's leaf
//! indexes), and the workers erased since, read together from one snapshot.

use sqlx::{Acquire, Executor};

use crate::audit::{to_i64, to_u64};
use crate::placements::split_codes;
use crate::{Pool, Store, StoreError};

/// A placement as counts see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CountedPlacement {
    /// Row id: stable while the placement is stored (a new version keeps it).
    pub id: i64,
    /// Keyed hash of the worker's NIK, hex.
    pub subject_key: String,
    /// `FEMALE` or `MALE`.
    pub sex: String,
    /// Province of origin, 2 digits.
    pub origin_province: String,
    /// Regency of origin, `PP.KK`.
    pub origin_regency: String,
    /// KBJI/ISCO-08 unit group, 4 digits.
    pub occupation_code: String,
    /// ISO 3166-1 alpha-2.
    pub destination_country: String,
    /// Placement status code.
    pub status: String,
    /// Return date, `YYYY-MM-DD`.
    pub return_date: Option<String>,
    /// The worker wants to export.
    pub wants_to_export: bool,
    certificate_schemes: String,
    languages: String,
    hs_chapters: String,
    /// Audit leaf index of the push that stored this version.
    pub change_seq: i64,
}

impl CountedPlacement {
    /// BNSP scheme codes held.
    pub fn certificate_schemes(&self) -> Vec<String> {
        split_codes(&self.certificate_schemes)
    }

    /// ISO 639-1 codes spoken.
    pub fn languages(&self) -> Vec<String> {
        split_codes(&self.languages)
    }

    /// HS chapters of interest.
    pub fn hs_chapters(&self) -> Vec<String> {
        split_codes(&self.hs_chapters)
    }
}

/// Changes after a position, as of one snapshot of the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementChanges {
    /// Subject keys of the workers erased after the position, up to `through`: apply first.
    pub erased: Vec<String>,
    /// Placements stored after the position, up to `through`, as they are now, in change order.
    pub placements: Vec<CountedPlacement>,
    /// The position these changes bring a follower to: every change up to it is reflected.
    /// `None` while the log is empty.
    pub through: Option<u64>,
    /// More changes follow `through` already.
    pub more: bool,
}

const PLACEMENTS: &str = "SELECT id, subject_key, sex, origin_province, origin_regency, \
                          occupation_code, destination_country, status, return_date, \
                          wants_to_export, certificate_schemes, languages, hs_chapters, change_seq \
                          FROM placements WHERE change_seq > $1 ORDER BY change_seq LIMIT $2";
const ERASED: &str = "SELECT subject_key FROM erased_subjects \
                      WHERE change_seq > $1 AND change_seq <= $2 ORDER BY change_seq";
const LOG_SIZE: &str = "SELECT next_index FROM audit_head WHERE singleton = 1";

/// Reads one batch of changes inside a snapshot transaction.
macro_rules! read_changes {
    ($tx:expr, $after:expr, $limit:expr) => {{
        let size: i64 = sqlx::query_scalar(LOG_SIZE).fetch_one(&mut *$tx).await?;
        let placements: Vec<CountedPlacement> = sqlx::query_as(PLACEMENTS)
            .bind($after)
            .bind($limit)
            .fetch_all(&mut *$tx)
            .await?;
        let more = placements.len() as i64 == $limit;
        // Placements commit with their leaves, so in this snapshot every change before the
        // log's size is visible; a full batch reflects the log only up to its last record.
        let through = match placements.last() {
            Some(last) if more => last.change_seq,
            _ => size - 1,
        };
        let erased: Vec<String> = if through > $after {
            sqlx::query_scalar(ERASED)
                .bind($after)
                .bind(through)
                .fetch_all(&mut *$tx)
                .await?
        } else {
            Vec::new()
        };
        (erased, placements, through, more)
    }};
}

impl Store {
    /// Up to `limit` placements changed after `after` (`None`: from the start) and the
    /// workers erased in the same span, read from one snapshot, outside any write.
    pub async fn placement_changes(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<PlacementChanges, StoreError> {
        let after = after.map_or(-1, to_i64);
        let limit = i64::from(limit.max(1));
        let (erased, placements, through, more) = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // A deferred transaction's first read fixes its snapshot (WAL).
                let mut tx = conn.begin().await?;
                let read = read_changes!(tx, after, limit);
                tx.rollback().await?;
                read
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?;
                let read = read_changes!(tx, after, limit);
                tx.rollback().await?;
                read
            }
        };
        Ok(PlacementChanges {
            erased,
            placements,
            through: (through >= 0).then(|| to_u64(through)),
            more,
        })
    }
}
