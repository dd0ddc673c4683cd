//! A door for tests only (feature `test-door`): the raw pools behind a store, for tests that
//! play an operator with database access rewriting history, or that read rows directly. The
//! exchange never enables it.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use crate::{Pool, Store};

/// The pool behind a store.
#[derive(Debug, Clone, Copy)]
pub enum RawPool<'a> {
    /// An SQLite store's pool.
    Sqlite(&'a SqlitePool),
    /// A PostgreSQL store's pool.
    Postgres(&'a PgPool),
}

/// The query that finds a leaf by its hash, for tests of its plan.
pub const LEAF_BY_HASH: &str = crate::audit::LEAF_BY_HASH;

/// The PostgreSQL query that reads a batch of changed placements for the count index (`$1`
/// after, `$2` the log's size, `$3` the batch's size), for tests of its plan.
pub const PLACEMENT_CHANGES_POSTGRES: &str = crate::counted::POSTGRES_PLACEMENTS;

impl Store {
    /// The pool behind this store, bypassing its write queue and the logged write.
    pub fn raw_pool(&self) -> RawPool<'_> {
        match &self.pool {
            Pool::Sqlite(pool) => RawPool::Sqlite(pool),
            Pool::Postgres(pool) => RawPool::Postgres(pool),
        }
    }

    /// Makes the store's writer panic outside any write's own work, as a fault of the exchange
    /// there would.
    pub fn break_writer(&self) {
        let job = crate::write::group::Job::new(
            crate::WriteTicket::new("test-door"),
            std::time::Duration::from_secs(5),
            false,
            Box::new(PanicsWhenTaken),
            tracing::Span::none(),
        );
        let _ = self.writer.send(job);
    }
}

/// Queued work whose check for its caller, which the writer makes outside the write's own
/// work, panics.
struct PanicsWhenTaken;

impl crate::write::QueuedWork for PanicsWhenTaken {
    fn run<'w>(
        self: Box<Self>,
        _: &'w mut crate::LoggedWrite,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Option<crate::write::Staged>> + Send + 'w>,
    > {
        Box::pin(std::future::ready(None))
    }

    fn fail(self: Box<Self>, _: crate::StoreError) {}

    fn abandoned(&self) -> bool {
        panic!("a fault in the writer, made by the test door")
    }
}

impl crate::LoggedWrite {
    /// The one text value `sql` gives in this write's transaction on PostgreSQL, e.g. of
    /// `SHOW plan_cache_mode`.
    pub async fn postgres_text(&mut self, sql: &str) -> Result<String, crate::StoreError> {
        let crate::write::Conn::Postgres(conn) = &mut self.tx.conn else {
            return Err(crate::StoreError::Corrupt("not a PostgreSQL store".into()));
        };
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        Ok(sqlx::query_scalar(sql).fetch_one(&mut **conn).await?)
    }

    /// Runs `sql` in this write's transaction, e.g. a statement that fails, to see a write fail
    /// inside a group.
    pub async fn execute_raw(&mut self, sql: &str) -> Result<(), crate::StoreError> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        crate::write::on_tx!(&mut self.tx.conn, conn => {
            sqlx::query(sql).execute(&mut **conn).await?;
        });
        Ok(())
    }
}
