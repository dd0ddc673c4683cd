//! The one logged write: data work and its audit leaves in one transaction, or nothing.
//!
//! A [`LoggedWrite`] begins with the writer's turn in the store's queue, a transaction, and the
//! log's head row locked (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `SELECT … FOR UPDATE`), so its
//! reads and writes are serialized with every other writer of leaves and it knows at once the
//! index its first leaf will get. Its data work runs on it; [`LoggedWrite::commit`] appends the
//! leaves and commits. Dropping it, rolling it back, or committing no leaves leaves the store as
//! it was. This is where group commit of concurrent writers goes.

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};

use crate::audit::{INSERT_CHUNK, Receipt, outcome_name, to_i64, to_u64};
use crate::{Pool, Store, StoreError};

/// A transaction, holding its turn in the store's write queue (if it took one) until it ends.
#[derive(Debug)]
pub(crate) struct Tx {
    pub(crate) conn: Conn,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// A transaction of either engine.
#[derive(Debug)]
pub(crate) enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same body on either backend's transaction (a [`Conn`], by value or reference).
macro_rules! on_tx {
    ($conn_value:expr, $conn:ident => $body:expr) => {
        match $conn_value {
            $crate::write::Conn::Sqlite($conn) => $body,
            $crate::write::Conn::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_tx;

impl Tx {
    /// Begins a transaction after waiting for a turn in the write queue (`queued`), or at once.
    /// On SQLite the write lock is taken at once (`BEGIN IMMEDIATE`).
    pub(crate) async fn begin(store: &Store, queued: bool) -> Result<Self, StoreError> {
        let turn = if queued {
            Some(store.queue.turn().await?)
        } else {
            None
        };
        let conn = match &store.pool {
            Pool::Sqlite(pool) => Conn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => Conn::Postgres(pool.begin().await?),
        };
        Ok(Tx { conn, _turn: turn })
    }

    /// Commits, then gives up the turn.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        on_tx!(self.conn, tx => tx.commit().await?);
        Ok(())
    }
}

/// Data work and its audit leaves, committed together or not at all; see the module docs.
#[derive(Debug)]
pub struct LoggedWrite {
    pub(crate) tx: Tx,
    /// The log's size when the head was locked: the index of this write's first leaf.
    first_index: u64,
}

impl Store {
    /// Begins a logged write: waits for this store's turn to write (at most the store's
    /// timeout, then [`StoreError::Busy`]), begins a transaction and locks the log's head.
    pub async fn logged_write(&self) -> Result<LoggedWrite, StoreError> {
        let mut tx = Tx::begin(self, true).await?;
        const HEAD: &str = "SELECT next_index FROM audit_head WHERE singleton = 1";
        const LOCKED_HEAD: &str =
            "SELECT next_index FROM audit_head WHERE singleton = 1 FOR UPDATE";
        let head: i64 = match &mut tx.conn {
            Conn::Sqlite(conn) => sqlx::query_scalar(HEAD).fetch_one(&mut **conn).await?,
            Conn::Postgres(conn) => {
                sqlx::query_scalar(LOCKED_HEAD)
                    .fetch_one(&mut **conn)
                    .await?
            }
        };
        Ok(LoggedWrite {
            tx,
            first_index: to_u64(head),
        })
    }

    /// Commits `leaves` with no data work (refused calls, aggregate answers) and returns their
    /// receipts.
    pub async fn log(&self, leaves: &[LeafEntry]) -> Result<Vec<Receipt>, StoreError> {
        self.logged_write().await?.commit(leaves).await
    }
}

impl LoggedWrite {
    /// The index the first leaf of this write will get when it commits.
    pub fn first_leaf_index(&self) -> u64 {
        self.first_index
    }

    /// Appends one leaf per entry, in order, from [`Self::first_leaf_index`], and commits them
    /// with the data work done in this write; returns their receipts. With no leaves nothing is
    /// committed: data work is never stored unlogged.
    pub async fn commit(mut self, leaves: &[LeafEntry]) -> Result<Vec<Receipt>, StoreError> {
        if leaves.is_empty() {
            self.rollback().await;
            return Ok(Vec::new());
        }
        let first = self.first_index;
        let next = first + leaves.len() as u64;
        let rows: Vec<(u64, Vec<u8>, merkle::Hash, &LeafEntry)> = leaves
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let data = entry.to_bytes();
                let hash = merkle::leaf_hash(&data);
                (first + i as u64, data, hash, entry)
            })
            .collect();
        let moved = on_tx!(&mut self.tx.conn, conn => {
            sqlx::query(
                "UPDATE audit_head SET next_index = $1 WHERE singleton = 1 AND next_index = $2",
            )
            .bind(to_i64(next))
            .bind(to_i64(first))
            .execute(&mut **conn)
            .await?
            .rows_affected()
        });
        if moved != 1 {
            return Err(StoreError::Corrupt(format!(
                "the log's head moved from {first} while this write held it"
            )));
        }
        for chunk in rows.chunks(INSERT_CHUNK) {
            on_tx!(&mut self.tx.conn, conn => {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO audit_leaves (leaf_index, leaf_hash, data, time, principal, \
                     method, purpose, outcome, record_type, record_key) ",
                );
                insert.push_values(chunk, |mut row, (index, data, hash, entry)| {
                    row.push_bind(to_i64(*index))
                        .push_bind(hash.to_vec())
                        .push_bind(data.clone())
                        .push_bind(entry.time.clone())
                        .push_bind(entry.principal.clone())
                        .push_bind(entry.method.clone())
                        .push_bind(entry.purpose.clone())
                        .push_bind(outcome_name(entry.outcome))
                        .push_bind(entry.record_type.clone())
                        .push_bind(entry.record_key.clone());
                });
                insert.build().execute(&mut **conn).await.map_err(|error| {
                    match StoreError::from(error) {
                        // The head is held, so a taken index means the head is behind its leaves.
                        StoreError::Conflict(error) => StoreError::Corrupt(format!(
                            "leaf indexes from {first} are taken: the log's head is behind its \
                             leaves ({error})"
                        )),
                        other => other,
                    }
                })?;
            });
        }
        self.tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(leaf_index, _, leaf_hash, _)| Receipt {
                leaf_index,
                leaf_hash,
            })
            .collect())
    }

    /// Rolls everything back, as dropping the write does; a failure to roll back is logged
    /// (the database rolls back an abandoned transaction itself).
    pub async fn rollback(self) {
        if let Err(error) = on_tx!(self.tx.conn, tx => tx.rollback().await) {
            tracing::warn!(%error, "rollback of a logged write failed");
        }
    }
}
