//! Counts of the audit log's leaves per day (SummarizeEntries): one grouped query over the
//! leaves of a time range, so that the auditors' charts need not page through every entry.

use jembatan_audit::leaf::Outcome;

use crate::audit::to_u64;
use crate::{Backend, Store, StoreError, on_pool};

/// The most groups one summary reads; more is [`StoreError::TooMany`].
/// (About 150 bytes each in an answer: 20,000 stay well inside the 4 MiB a gRPC client takes by
/// default.)
pub const MAX_LEAF_COUNTS: u64 = 20_000;

/// The leaves of one day that share a principal, method, purpose, record type, outcome and
/// refusal reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The caller's SPIFFE ID, as the leaves record it.
    pub principal: String,
    /// `<Service>/<Method>`.
    pub method: String,
    /// Purpose code.
    pub purpose: String,
    /// Record type.
    pub record_type: String,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// A refusal's gRPC code in snake case; empty for allowed leaves.
    pub reason: String,
    /// Allowed: leaves. Denied: calls (an aggregate refusal leaf counts its `refused_calls`).
    pub count: u64,
}

/// SQLite: the leaf's JSON read as text (a BLOB would be taken for JSONB).
const SQLITE: &str = "\
SELECT substr(time, 1, 10) AS day, principal, method, purpose, record_type, outcome, \
       CASE WHEN outcome = 'deny' \
            THEN COALESCE(json_extract(CAST(data AS TEXT), '$.status'), '') ELSE '' END AS reason, \
       CAST(SUM(CASE WHEN outcome = 'deny' \
            THEN MAX(COALESCE(json_extract(CAST(data AS TEXT), '$.refused_calls'), 1), 1) \
            ELSE 1 END) AS BIGINT) AS count \
FROM audit_leaves \
WHERE time >= $1 AND time < $2 AND substr(principal, 1, length($3)) = $3 AND leaf_index < $5 \
GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 LIMIT $4";

/// PostgreSQL: the same, with jsonb.
const POSTGRES: &str = "\
SELECT substr(time, 1, 10) AS day, principal, method, purpose, record_type, outcome, \
       CASE WHEN outcome = 'deny' \
            THEN COALESCE(convert_from(data, 'UTF8')::jsonb ->> 'status', '') ELSE '' END AS reason, \
       CAST(SUM(CASE WHEN outcome = 'deny' \
            THEN GREATEST(COALESCE((convert_from(data, 'UTF8')::jsonb ->> 'refused_calls')::bigint, 1), 1) \
            ELSE 1 END) AS BIGINT) AS count \
FROM audit_leaves \
WHERE time >= $1 AND time < $2 AND substr(principal, 1, length($3)) = $3 AND leaf_index < $5 \
GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 LIMIT $4";

type Row = (String, String, String, String, String, String, String, i64);

impl Store {
    /// Counts of the leaves logged from `from` (inclusive) to `to` (exclusive), RFC 3339 UTC as
    /// leaves record time, of principals starting with `principal_prefix` (empty for all),
    /// among the first `below` leaves of the log (a size read before, so that the counts are
    /// those of that size whatever commits meanwhile).
    pub async fn count_leaves(
        &self,
        from: &str,
        to: &str,
        principal_prefix: &str,
        below: u64,
    ) -> Result<Vec<LeafCount>, StoreError> {
        let limit = i64::try_from(MAX_LEAF_COUNTS + 1).unwrap_or(i64::MAX);
        let sql = match self.backend() {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        };
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(from)
                .bind(to)
                .bind(principal_prefix)
                .bind(limit)
                .bind(crate::audit::to_i64(below))
                .fetch_all(pool)
                .await?
        });
        if rows.len() as u64 > MAX_LEAF_COUNTS {
            return Err(StoreError::TooMany {
                what: "groups of log entries in one summary",
                limit: MAX_LEAF_COUNTS,
            });
        }
        Ok(rows
            .into_iter()
            .map(
                |(day, principal, method, purpose, record_type, outcome, reason, count)| {
                    LeafCount {
                        day,
                        principal,
                        method,
                        purpose,
                        record_type,
                        outcome: if outcome == "deny" {
                            Outcome::Deny
                        } else {
                            Outcome::Allow
                        },
                        reason,
                        count: to_u64(count),
                    }
                },
            )
            .collect())
    }
}
