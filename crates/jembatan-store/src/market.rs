//! Market reports: written in the same transaction as their audit leaves, read back newest
//! first (QueryMarketReports) and counted by country, HS chapter and kind
//! (SummarizeMarketReports).
//!
//! Full-text search runs on SQLite's FTS5 (`market_reports_text`) and on PostgreSQL's
//! `tsvector` with the `simple` configuration; both match whole words, case-insensitively, or
//! a word's prefix. The store takes words already reduced to letters and digits
//! ([`TextQuery`]), so nothing a caller types reaches either query language.

use std::collections::BTreeMap;

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::audit::to_i64;
use crate::placements::{contains_pattern, join_codes, split_codes};
use crate::write::on_tx;
use crate::{Backend, LoggedWrite, Store, StoreError, on_pool};

/// Rows per multi-row statement (12 columns each).
const UPSERT_CHUNK: usize = 500;

/// Most reports one digest reads.
pub const MAX_DIGEST_READ: i64 = 1_000_000;

/// One market report as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketReportRecord {
    /// KP2MI's report id.
    pub report_id: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of the record's digests.
    pub salt: Vec<u8>,
    /// Salted SHA-256 of the report as sent.
    pub digest: Vec<u8>,
    /// KP2MI's version.
    pub version: u64,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Opportunity kind code, e.g. `DEMAND`.
    pub kind: String,
    /// HS codes, 2 to 8 digits.
    pub hs_codes: Vec<String>,
    /// Their chapters, without duplicates.
    pub hs_chapters: Vec<String>,
    /// Title and summary as words for search ([`search_text`]).
    pub search_text: String,
    /// `YYYY-MM-DD`.
    pub observed_on: String,
    /// The report as sent (jembatan.v1.MarketReport, protobuf).
    pub report: Vec<u8>,
    /// Audit leaf index of the submission that stored this version.
    pub change_seq: u64,
}

/// The words of `texts` as they are searched: runs of letters and digits, lower-cased, one
/// space between them. Both engines index this text, so they split words alike.
pub fn search_text<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut words = String::new();
    for text in texts {
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if !words.is_empty() {
                words.push(' ');
            }
            words.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    words
}

/// Words to search for, as [`search_text`] makes them; all must match, a word marked as a
/// prefix matches any word it begins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextQuery {
    /// (word, is a prefix).
    pub words: Vec<(String, bool)>,
}

impl TextQuery {
    /// The FTS5 query: `"w1" "w2"*` (implicitly ANDed phrases).
    fn fts5(&self) -> String {
        self.words
            .iter()
            .map(|(word, prefix)| format!("\"{word}\"{}", if *prefix { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The PostgreSQL tsquery: `w1 & w2:*`.
    fn tsquery(&self) -> String {
        self.words
            .iter()
            .map(|(word, prefix)| format!("{word}{}", if *prefix { ":*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// Which reports match: empty lists match everything, lists are ORed within and ANDed across.
/// Codes must be validated by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Countries.
    pub countries: Vec<String>,
    /// HS code prefixes (a report matches when one of its codes starts with one).
    pub hs_prefixes: Vec<String>,
    /// Kind codes.
    pub kinds: Vec<String>,
    /// Earliest observation date, inclusive, `YYYY-MM-DD`.
    pub observed_from: Option<String>,
    /// Latest observation date, inclusive.
    pub observed_to: Option<String>,
    /// Words in the title or summary.
    pub text: Option<TextQuery>,
}

/// A report as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportRow {
    /// Row id, with `observed_on` the position for paging.
    pub id: i64,
    /// `YYYY-MM-DD`.
    pub observed_on: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of its digests.
    pub salt: Vec<u8>,
    /// The report as sent.
    pub report: Vec<u8>,
}

/// Reports of one country, chapter and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCount {
    /// Country.
    pub country: String,
    /// HS chapter.
    pub hs_chapter: String,
    /// Kind code.
    pub kind: String,
    /// Reports.
    pub reports: u64,
}

/// Appends ` AND …` conditions of `filter` for `backend`.
fn push_filter<DB>(query: &mut QueryBuilder<DB>, filter: &ReportFilter, backend: Backend)
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    for (column, values) in [("country", &filter.countries), ("kind", &filter.kinds)] {
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
    if !filter.hs_prefixes.is_empty() {
        query.push(" AND (");
        for (i, prefix) in filter.hs_prefixes.iter().enumerate() {
            if i > 0 {
                query.push(" OR ");
            }
            // `%|p|%` without its last `|%`: an element that starts with p.
            let element = contains_pattern(prefix);
            let starts = format!("{}%", &element[..element.len() - 2]);
            query
                .push("hs_codes LIKE ")
                .push_bind(starts)
                .push(" ESCAPE '\\'");
        }
        query.push(")");
    }
    if let Some(from) = &filter.observed_from {
        query.push(" AND observed_on >= ").push_bind(from.clone());
    }
    if let Some(to) = &filter.observed_to {
        query.push(" AND observed_on <= ").push_bind(to.clone());
    }
    if let Some(text) = filter.text.as_ref().filter(|t| !t.words.is_empty()) {
        match backend {
            Backend::Sqlite => query
                .push(" AND id IN (SELECT rowid FROM market_reports_text WHERE market_reports_text MATCH ")
                .push_bind(text.fts5())
                .push(")"),
            Backend::Postgres => query
                .push(" AND text_search @@ to_tsquery('simple', ")
                .push_bind(text.tsquery())
                .push(")"),
        };
    }
}

impl LoggedWrite {
    /// Inserts or replaces `records` (one per report id).
    pub async fn upsert_market_reports(
        &mut self,
        records: &[MarketReportRecord],
    ) -> Result<(), StoreError> {
        for chunk in records.chunks(UPSERT_CHUNK) {
            on_tx!(&mut self.tx.conn, conn => {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO market_reports (report_id, record_key, salt, digest, version, \
                     country, kind, hs_codes, hs_chapters, search_text, observed_on, report, \
                     change_seq) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(r.report_id.clone())
                        .push_bind(r.record_key.clone())
                        .push_bind(r.salt.clone())
                        .push_bind(r.digest.clone())
                        .push_bind(to_i64(r.version))
                        .push_bind(r.country.clone())
                        .push_bind(r.kind.clone())
                        .push_bind(join_codes(&r.hs_codes))
                        .push_bind(join_codes(&r.hs_chapters))
                        .push_bind(r.search_text.clone())
                        .push_bind(r.observed_on.clone())
                        .push_bind(r.report.clone())
                        .push_bind(to_i64(r.change_seq));
                });
                insert.push(
                    " ON CONFLICT (report_id) DO UPDATE SET digest = excluded.digest, \
                     version = excluded.version, country = excluded.country, \
                     kind = excluded.kind, hs_codes = excluded.hs_codes, \
                     hs_chapters = excluded.hs_chapters, search_text = excluded.search_text, \
                     observed_on = excluded.observed_on, \
                     report = excluded.report, change_seq = excluded.change_seq",
                );
                insert.build().execute(&mut **conn).await?;
            });
        }
        Ok(())
    }
}

impl Store {
    /// Up to `limit` reports matching `filter`, newest observation first (then newest row),
    /// after the position `before` (`observed_on`, row id) of the previous page's last report.
    pub async fn market_reports(
        &self,
        filter: &ReportFilter,
        before: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let backend = self.backend();
        let rows = on_pool!(self, pool => {
            let mut query = QueryBuilder::new(
                "SELECT id, observed_on, record_key, salt, report FROM market_reports WHERE 1 = 1",
            );
            if let Some((observed_on, id)) = before {
                query
                    .push(" AND (observed_on < ")
                    .push_bind(observed_on.clone())
                    .push(" OR (observed_on = ")
                    .push_bind(observed_on)
                    .push(" AND id < ")
                    .push_bind(id)
                    .push("))");
            }
            push_filter(&mut query, filter, backend);
            query
                .push(" ORDER BY observed_on DESC, id DESC LIMIT ")
                .push_bind(i64::from(limit));
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The reports matching `filter` counted by country, HS chapter and kind (a report counts
    /// once in each of its chapters, or with HS prefixes in each chapter of the prefixes), in
    /// that order, and how many distinct reports matched.
    /// Reads at most [`MAX_DIGEST_READ`] reports; more is [`StoreError::TooMany`].
    pub async fn count_market_reports(
        &self,
        filter: &ReportFilter,
    ) -> Result<(Vec<ReportCount>, u64), StoreError> {
        let backend = self.backend();
        let rows: Vec<(String, String, String)> = on_pool!(self, pool => {
            let mut query = QueryBuilder::new(
                "SELECT country, kind, hs_chapters FROM market_reports WHERE 1 = 1",
            );
            push_filter(&mut query, filter, backend);
            query.push(" LIMIT ").push_bind(MAX_DIGEST_READ + 1);
            query.build_query_as().fetch_all(pool).await?
        });
        if rows.len() as i64 > MAX_DIGEST_READ {
            return Err(StoreError::TooMany {
                what: "market reports in one digest",
                limit: MAX_DIGEST_READ as u64,
            });
        }
        let reports = rows.len() as u64;
        // With HS prefixes, a report counts under the chapters asked for, not under the other
        // chapters of its codes.
        let asked: Vec<&str> = filter
            .hs_prefixes
            .iter()
            .map(|p| &p[..2.min(p.len())])
            .collect();
        let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for (country, kind, chapters) in rows {
            for chapter in split_codes(&chapters) {
                if !asked.is_empty() && !asked.contains(&chapter.as_str()) {
                    continue;
                }
                *counts
                    .entry((country.clone(), chapter, kind.clone()))
                    .or_default() += 1;
            }
        }
        let counts = counts
            .into_iter()
            .map(|((country, hs_chapter, kind), reports)| ReportCount {
                country,
                hs_chapter,
                kind,
                reports,
            })
            .collect();
        Ok((counts, reports))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_queries_are_written_for_each_engine() {
        let query = TextQuery {
            words: vec![("kopi".to_owned(), false), ("arab".to_owned(), true)],
        };
        assert_eq!(query.fts5(), "\"kopi\" \"arab\"*");
        assert_eq!(query.tsquery(), "kopi & arab:*");
    }

    #[test]
    fn search_text_is_lower_case_words_split_at_everything_else() {
        assert_eq!(
            search_text(["Kopi ARABIKA: HS 0901.11.10", "e-mail? Ékspor!"]),
            "kopi arabika hs 0901 11 10 e mail ékspor"
        );
        assert_eq!(search_text(["", "  --  "]), "");
    }
}
