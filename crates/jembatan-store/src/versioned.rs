//! What is stored of a versioned record (a market report, a program, an enrolment) to judge a
//! new version of it: new, unchanged, stale or conflicting.

use sqlx::QueryBuilder;

use crate::write::on_tx;
use crate::{LoggedWrite, StoreError};

/// Ids per lookup statement.
const LOOKUP_CHUNK: usize = 500;

/// A table of versioned records, keyed by the sender's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionedTable {
    /// `market_reports`, by `report_id`.
    MarketReports,
    /// `programs`, by `program_id`.
    Programs,
    /// `enrollments`, by `enrollment_id`.
    Enrollments,
}

impl VersionedTable {
    fn table_and_id(self) -> (&'static str, &'static str) {
        match self {
            VersionedTable::MarketReports => ("market_reports", "report_id"),
            VersionedTable::Programs => ("programs", "program_id"),
            VersionedTable::Enrollments => ("enrollments", "enrollment_id"),
        }
    }
}

/// The stored version of one record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRecord {
    /// The sender's id of the record.
    pub record_id: String,
    /// The record's pseudonymous key in the audit log.
    pub record_key: String,
    /// Salt of its digests.
    pub salt: Vec<u8>,
    /// Salted digest of the stored version.
    pub digest: Vec<u8>,
    /// The sender's version.
    pub version: i64,
}

impl LoggedWrite {
    /// The stored versions of the records of `table` among `ids`.
    pub async fn stored_records(
        &mut self,
        table: VersionedTable,
        ids: &[String],
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let (table, id) = table.table_and_id();
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let rows: Vec<StoredRecord> = on_tx!(&mut self.tx.conn, conn => {
                let mut query = QueryBuilder::new(format!(
                    "SELECT {id} AS record_id, record_key, salt, digest, version FROM {table} \
                     WHERE {id} IN ("
                ));
                let mut list = query.separated(", ");
                for value in chunk {
                    list.push_bind(value.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut **conn).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }
}
