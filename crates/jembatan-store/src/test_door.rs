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

impl Store {
    /// The pool behind this store, bypassing its write queue and the logged write.
    pub fn raw_pool(&self) -> RawPool<'_> {
        match &self.pool {
            Pool::Sqlite(pool) => RawPool::Sqlite(pool),
            Pool::Postgres(pool) => RawPool::Postgres(pool),
        }
    }
}
