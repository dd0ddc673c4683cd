//! What the in-memory availability index follows: the columns counts filter and group by, of
//! every placement changed after a position in the change sequence (the audit log's leaf
//! indexes), and the workers erased since, read together from one snapshot.

use sqlx::{Acquire, Executor};

use crate::audit::{to_i64, to_u64};
use crate::{Pool, Store, StoreError};

/// A placement as counts see it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The elements of a `|a|b|` column.
fn elements(joined: &str) -> impl Iterator<Item = &str> {
    joined.split('|').filter(|code| !code.is_empty())
}

impl CountedPlacement {
    /// BNSP scheme codes held.
    pub fn certificate_schemes(&self) -> impl Iterator<Item = &str> {
        elements(&self.certificate_schemes)
    }

    /// ISO 639-1 codes spoken.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        elements(&self.languages)
    }

    /// HS chapters of interest.
    pub fn hs_chapters(&self) -> impl Iterator<Item = &str> {
        elements(&self.hs_chapters)
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

/// The columns counts read, one line per placement, fields separated by tabs (codes hold no
/// tab or newline: the server validated them), in change order. sqlx decodes a row in about
/// 14 µs on SQLite whatever its size (1,200,000 placements as rows took 17 s; the engine reads
/// them in 0.9 s), so a batch comes as one text value.
macro_rules! placement_lines {
    ($tab:literal, $lines:literal) => {
        concat!(
            "SELECT ",
            $lines,
            " FROM (SELECT change_seq, id || ",
            $tab,
            " || change_seq || ",
            $tab,
            " || subject_key || ",
            $tab,
            " || sex || ",
            $tab,
            " || origin_province || ",
            $tab,
            " || origin_regency || ",
            $tab,
            " || occupation_code || ",
            $tab,
            " || destination_country || ",
            $tab,
            " || status || ",
            $tab,
            " || COALESCE(return_date, '') || ",
            $tab,
            " || (CASE WHEN wants_to_export THEN '1' ELSE '0' END) || ",
            $tab,
            " || certificate_schemes || ",
            $tab,
            " || languages || ",
            $tab,
            " || hs_chapters AS line \
             FROM placements WHERE change_seq > $1 AND change_seq < $2 \
             ORDER BY change_seq LIMIT $3) AS batch"
        )
    };
}
const SQLITE_PLACEMENTS: &str = placement_lines!(
    "char(9)",
    "group_concat(line, char(10) ORDER BY change_seq)"
);
pub(crate) const POSTGRES_PLACEMENTS: &str =
    placement_lines!("chr(9)", "string_agg(line, chr(10) ORDER BY change_seq)");

/// Fields of a line of [`placement_lines`].
const FIELDS: usize = 14;

/// The placements of a batch's lines.
fn parse_lines(lines: Option<String>) -> Result<Vec<CountedPlacement>, StoreError> {
    let Some(lines) = lines else {
        return Ok(Vec::new());
    };
    lines
        .split('\n')
        .map(|line| {
            let mut fields = line.splitn(FIELDS, '\t');
            let mut next = || {
                fields
                    .next()
                    .ok_or_else(|| StoreError::Corrupt(format!("a counted placement: {line:?}")))
            };
            let number = |text: &str| {
                text.parse::<i64>()
                    .map_err(|_| StoreError::Corrupt(format!("a counted placement: {line:?}")))
            };
            let id = number(next()?)?;
            let change_seq = number(next()?)?;
            Ok(CountedPlacement {
                id,
                change_seq,
                subject_key: next()?.to_owned(),
                sex: next()?.to_owned(),
                origin_province: next()?.to_owned(),
                origin_regency: next()?.to_owned(),
                occupation_code: next()?.to_owned(),
                destination_country: next()?.to_owned(),
                status: next()?.to_owned(),
                return_date: Some(next()?).filter(|d| !d.is_empty()).map(str::to_owned),
                wants_to_export: next()? == "1",
                certificate_schemes: next()?.to_owned(),
                languages: next()?.to_owned(),
                hs_chapters: next()?.to_owned(),
            })
        })
        .collect()
}

const ERASED: &str = "SELECT subject_key FROM erased_subjects \
                      WHERE change_seq > $1 AND change_seq <= $2 ORDER BY change_seq";
const LOG_SIZE: &str = "SELECT next_index FROM audit_head WHERE singleton = 1";

/// Reads one batch of changes inside a snapshot transaction.
macro_rules! read_changes {
    ($tx:expr, $placements:expr, $after:expr, $limit:expr) => {{
        let size: i64 = sqlx::query_scalar(LOG_SIZE).fetch_one(&mut *$tx).await?;
        // The upper bound is the log's size: every change in this snapshot is below it, so it
        // selects nothing more, but it makes the condition a range, which a planner without
        // statistics of the table (a new database, autovacuum off or not yet run) reckons
        // narrow: it walks the change index from `after`. With only `change_seq > after` it
        // reckoned a third of the table and read all of it, sorted, at every refresh until the
        // table held some 225,000 placements (see BENCHMARKS.md, "The PostgreSQL push of
        // batches of 100").
        let lines: Option<String> = sqlx::query_scalar($placements)
            .bind($after)
            .bind(size)
            .bind($limit)
            .fetch_one(&mut *$tx)
            .await?;
        let mut placements = parse_lines(lines)?;
        let more = placements.len() as i64 == $limit;
        // Placements commit with their leaves, so in this snapshot every change before the
        // log's size is visible; a full batch reflects the log only up to its last change. Each
        // stored version has a leaf of its own, so changes do not repeat; should they, the
        // batch ends before the last one, which the next batch reads whole.
        let through = match placements.last().map(|last| last.change_seq) {
            Some(last) if more => {
                let whole = placements
                    .iter()
                    .take_while(|p| p.change_seq < last)
                    .count();
                if whole > 0 {
                    placements.truncate(whole);
                    last - 1
                } else {
                    last
                }
            }
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
                let read = read_changes!(tx, SQLITE_PLACEMENTS, after, limit);
                tx.rollback().await?;
                read
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?;
                let read = read_changes!(tx, POSTGRES_PLACEMENTS, after, limit);
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
