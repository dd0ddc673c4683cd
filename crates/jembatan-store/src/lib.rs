//! The exchange's database: SQLite (WAL, the embedded default) or PostgreSQL behind one API.
//!
//! Data work is committed only with its audit leaves: [`Store::write`] runs the work in a
//! [`LoggedWrite`] with the log's head locked and commits its leaves with it, or nothing at
//! all; concurrent writes are group-committed, many to a transaction, in turn per caller.
//! Leaves with no data work (refusals, aggregate answers) go through [`Store::log`].
//!
//! Migrations are embedded per backend (`migrations/sqlite`, `migrations/postgres`) and applied
//! when the store opens, or, for a role that may not change the schema, by the owner with
//! [`migrate`] beforehand (see [`Migrations`]); applying them again is a no-op. [`grants`] says
//! what such a role may do on PostgreSQL. Queries are built at run time, so no database is
//! needed to build.

#![forbid(unsafe_code)]

pub mod audit;
mod audit_counts;
mod counted;
mod error;
pub mod grants;
mod location;
pub mod market;
mod migrations;
pub mod placements;
pub mod programs;
#[cfg(unix)]
mod sqlite_file_mode;
#[cfg(feature = "test-door")]
pub mod test_door;
mod versioned;
mod write;

use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

pub use audit::{LeafFilter, Receipt, StoredCheckpoint, StoredCosignature};
pub use audit_counts::{LeafCount, MAX_LEAF_COUNTS};
pub use counted::{CountedPlacement, PlacementChanges};
pub use error::StoreError;
pub use location::StoreLocation;
pub use migrations::{Migrations, MigrationsPending, migrate};
pub use placements::{
    CandidateOrder, CandidatePage, CandidateRow, Dimension, MAX_LISTING_READ, PlacementFilter,
    PlacementRecord, StoredVersion, SubjectPlacement,
};
pub use versioned::{StoredRecord, VersionedTable};
pub use write::{LoggedWrite, Work, WriteChain, WriteTicket};

/// KiB of page cache of the SQLite connection that writes: random keys (leaf hashes, subject
/// keys) touch pages all over their indexes, and every page kept saves a read and, within a
/// transaction, a second write to the WAL.
const SQLITE_WRITE_CACHE_KIB: u32 = 64 * 1024;

/// KiB of page cache per SQLite connection that reads (the operating system caches the file
/// too).
const SQLITE_READ_CACHE_KIB: u32 = 8 * 1024;

/// WAL pages (4 KiB each) after which a commit copies the WAL back into the database file.
/// SQLite's default, 1,000, copied after nearly every push of 1,000 records, writing the hot
/// index pages again each time; 16,384 (64 MiB) writes them once for several pushes.
const SQLITE_WAL_CHECKPOINT_PAGES: u32 = 16_384;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The turn to write of an open store (one per [`Store::open`]): its group-committing writer
/// and, on SQLite, the sequencer take it in turn, first come first served, each for at most the
/// store's acquire timeout.
///
/// Writers are serialized anyway: SQLite lets one transaction write at a time, and on
/// PostgreSQL every writer of leaves waits for the log's head row. But an SQLite writer that
/// finds the lock taken sleeps and retries on a backoff, not in turn, and a PostgreSQL writer
/// waits holding a pooled connection; under steady load one unlucky writer waits past the
/// busy or pool timeout and fails while later ones get through, and readers find no
/// connection. Writers of one store therefore queue here, in order, before they take a
/// connection; the database's own locks are left to order the processes sharing it. A writer
/// that does not get its turn within the timeout fails as if the pool had none to give
/// (`UNAVAILABLE` to callers): an overloaded exchange sheds load instead of piling it up.
#[derive(Clone)]
pub(crate) struct WriteQueue {
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    pub(crate) timeout: Duration,
    /// Told of the leaves of every committed group (see [`Store::observe_commits`]).
    pub(crate) observer: std::sync::Arc<std::sync::OnceLock<CommitObserver>>,
}

/// What [`Store::observe_commits`] calls with the leaves of each committed transaction.
pub type CommitObserver = Box<dyn Fn(&[&jembatan_audit::leaf::LeafEntry]) + Send + Sync>;

impl std::fmt::Debug for WriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueue")
            .field("timeout", &self.timeout)
            .field("observed", &self.observer.get().is_some())
            .finish_non_exhaustive()
    }
}

impl WriteQueue {
    fn new(timeout: Duration) -> Self {
        Self {
            turn: std::sync::Arc::default(),
            timeout,
            observer: std::sync::Arc::default(),
        }
    }

    /// Waits for this writer's turn, which lasts until the guard is dropped.
    pub(crate) async fn turn(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, StoreError> {
        tokio::time::timeout(self.timeout, std::sync::Arc::clone(&self.turn).lock_owned())
            .await
            .map_err(|_| StoreError::Busy {
                what: "no turn to write",
            })
    }
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Maximum open connections.
    pub max_connections: u32,
    /// How long to wait for a connection, for a turn to write, or for an SQLite lock.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The name and age of the database, as the first migration recorded them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Instance {
    /// Random id given to the database when it was created, 32 hex digits.
    pub instance_id: String,
    /// When the database was created, RFC 3339 UTC.
    pub created_at: String,
}

fn pool_options<DB: sqlx::Database>(options: StoreOptions) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        // A connection still counted as inside a transaction when it is taken again is left
        // over from a failure, never reused: SQLite rolls a transaction back by itself on some
        // errors (a full disk: SQLITE_FULL), the driver's own ROLLBACK then fails and it keeps
        // counting the transaction, and every later BEGIN on that connection would fail (the
        // writer's one connection: no write would succeed again until a restart).
        .before_acquire(|connection, _| {
            let stale = sqlx::Connection::is_in_transaction(connection);
            if stale {
                tracing::warn!("a database connection left inside a failed transaction is closed");
            }
            Box::pin(std::future::ready(Ok(!stale)))
        })
}

/// An open, migrated store.
#[derive(Debug, Clone)]
pub struct Store {
    /// Connections that read (on PostgreSQL, the same as `writes`).
    pool: Pool,
    /// Connections that write in turn: the writer's and the sequencer's.
    writes: Pool,
    /// The queue of this store's writers (see [`WriteQueue`]).
    queue: WriteQueue,
    /// The store's writer, which group-commits logged writes (see [`Store::write`]).
    writer: tokio::sync::mpsc::UnboundedSender<write::group::Job>,
    /// Turns true if the writer fails (see [`Store::writer_failed`]).
    writer_failed: tokio::sync::watch::Receiver<bool>,
}

/// The connection pool of either engine.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body on either backend's pool.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Connections of a store's pools, for its operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// Open and in use.
    pub used: u32,
    /// Open and idle.
    pub idle: u32,
}

impl Store {
    /// Has `observer` called, after each commit of logged writes, with the leaves committed (in
    /// log order; never with leaves of a transaction that failed). The first observer set
    /// stays; returns whether this one was set.
    pub fn observe_commits(&self, observer: CommitObserver) -> bool {
        self.queue.observer.set(observer).is_ok()
    }

    /// The connections of the store's pools now.
    pub fn connections(&self) -> Connections {
        let mut pools = vec![&self.pool];
        if !self.shares_pools() {
            pools.push(&self.writes);
        }
        let mut connections = Connections { used: 0, idle: 0 };
        for pool in pools {
            let (size, idle) = match pool {
                Pool::Sqlite(pool) => (pool.size(), pool.num_idle()),
                Pool::Postgres(pool) => (pool.size(), pool.num_idle()),
            };
            let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
            connections.used += size - idle;
            connections.idle += idle;
        }
        connections
    }

    /// Whether reads and writes share one pool (PostgreSQL).
    fn shares_pools(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Opens the store (creating an SQLite file if missing) and applies pending migrations.
    /// On Unix an SQLite file is created with mode 0600 (its `-wal` and `-shm` files take that
    /// mode), and an existing one that others may read is set to 0600, with a warning.
    pub async fn open(location: &StoreLocation, options: StoreOptions) -> Result<Self, StoreError> {
        Self::open_with(location, options, Migrations::Apply).await
    }

    /// Opens the store as [`Store::open`] does, applying pending migrations or requiring them
    /// applied already as `migrations` says. With [`Migrations::Require`] a store whose
    /// migrations are pending is refused with [`StoreError::Connect`], its source a
    /// [`MigrationsPending`] naming them and `jembatan migrate`; on SQLite as on PostgreSQL.
    pub async fn open_with(
        location: &StoreLocation,
        options: StoreOptions,
        migrations: Migrations,
    ) -> Result<Self, StoreError> {
        Ok(Self::open_migrating(location, options, migrations).await?.0)
    }

    /// [`Store::open_with`], also returning the versions of the migrations applied now.
    async fn open_migrating(
        location: &StoreLocation,
        options: StoreOptions,
        migrations: Migrations,
    ) -> Result<(Self, Vec<i64>), StoreError> {
        let connect_error = |source| StoreError::Connect {
            location: location.to_string(),
            source,
        };
        let (reads, writes, applied) = match location {
            StoreLocation::Sqlite(path) => {
                #[cfg(unix)]
                sqlite_file_mode::make_private(path)
                    .map_err(|e| connect_error(sqlx::Error::Io(e)))?;
                let connect = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(options.acquire_timeout)
                    .pragma(
                        "wal_autocheckpoint",
                        SQLITE_WAL_CHECKPOINT_PAGES.to_string(),
                    );
                // SQLite writes one transaction at a time: one connection, with a large cache,
                // for the writer and the sequencer; the others read.
                let write_options = StoreOptions {
                    max_connections: 1,
                    ..options
                };
                let write_connect = connect
                    .clone()
                    .pragma("cache_size", format!("-{SQLITE_WRITE_CACHE_KIB}"));
                // Migrations run on a connection of their own, whose sorts (an index built
                // over every audit leaf) may spill to temporary files.
                let migrating = pool_options(write_options)
                    .connect_with(write_connect.clone())
                    .await
                    .map_err(connect_error)?;
                let applied =
                    migrations::prepare(&Pool::Sqlite(migrating.clone()), location, migrations)
                        .await;
                migrating.close().await;
                let applied = applied?;
                // Each write of a group runs in a savepoint, whose journal keeps the first
                // image of every page the write changes (at most the pages of one write of
                // 1,000 records): in memory, not in a temporary file that every page was
                // written to through the kernel (9% of the exchange's time in an SQLite push).
                let writes = pool_options(write_options)
                    .connect_with(write_connect.pragma("temp_store", "memory"))
                    .await
                    .map_err(connect_error)?;
                let writes = Pool::Sqlite(writes);
                let reads = pool_options(options)
                    .connect_with(connect.pragma("cache_size", format!("-{SQLITE_READ_CACHE_KIB}")))
                    .await
                    .map_err(connect_error)?;
                (Pool::Sqlite(reads), writes, applied)
            }
            StoreLocation::Postgres(url) => {
                let connect: PgConnectOptions = url.parse().map_err(connect_error)?;
                let pool = pool_options(options)
                    .connect_with(connect)
                    .await
                    .map_err(connect_error)?;
                let pool = Pool::Postgres(pool);
                let applied = migrations::prepare(&pool, location, migrations).await?;
                (pool.clone(), pool, applied)
            }
        };
        let queue = WriteQueue::new(options.acquire_timeout);
        let (writer, writer_failed) = write::spawn_writer(writes.clone(), queue.clone());
        let store = Self {
            writer,
            writer_failed,
            pool: reads,
            writes,
            queue,
        };
        Ok((store, applied))
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database's instance row.
    pub async fn instance(&self) -> Result<Instance, StoreError> {
        const SQL: &str = "SELECT instance_id, created_at FROM instance WHERE singleton = 1";
        let instance = on_pool!(self, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
        Ok(instance)
    }

    /// Versions of the migrations applied, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let versions = on_pool!(self, pool => sqlx::query_scalar(SQL).fetch_all(pool).await?);
        Ok(versions)
    }

    /// Versions of the migrations embedded in this build for this store's backend.
    pub fn known_migrations(&self) -> Vec<i64> {
        migrations::migrator(&self.pool)
            .iter()
            .map(|m| m.version)
            .collect()
    }

    /// Resolves if the store's writer fails while the store is open: it panicked outside a
    /// write's own work, a fault of the exchange. Every logged write fails with
    /// [`StoreError::Stopped`] from then on, so whoever serves from the store should stop and
    /// be started again (nothing acknowledged is lost: every acknowledged write is committed).
    pub async fn writer_failed(&self) {
        let mut failed = self.writer_failed.clone();
        let seen = failed.wait_for(|failed| *failed).await.is_ok();
        if !seen && !*failed.borrow() {
            // The writer ended without failing: its store is closed, and it never fails now.
            std::future::pending::<()>().await;
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
        match &self.writes {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}
