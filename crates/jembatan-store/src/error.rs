/// Errors of the store, typed by what a caller can do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store location is not an `sqlite://` path or a `postgres://` URL.
    #[error("store url {0:?}: expected sqlite://PATH or postgres://…")]
    InvalidLocation(String),
    /// The database could not be opened or reached.
    #[error("cannot open store {location}: {source}")]
    Connect {
        /// The store, without credentials.
        location: String,
        /// The underlying error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store is working but too loaded to take this work now: no turn to write, no
    /// connection, or a lock, within the store's timeout. Nothing was changed; retrying later
    /// may succeed.
    #[error("store busy: {what}")]
    Busy {
        /// What could not be had, e.g. `no turn to write`.
        what: &'static str,
    },
    /// The database cannot be reached or cannot write now (connection lost, server shutting
    /// down, disk full). Nothing was changed; retrying later may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// The work collided with concurrent work (a unique key taken meanwhile, a serialization
    /// failure, a deadlock) and was rolled back; it may be retried as a whole.
    #[error("store conflict: {0}")]
    Conflict(sqlx::Error),
    /// The audit log's data does not hold together (a missing or malformed stored hash).
    #[error("audit log store is inconsistent: {0}")]
    Corrupt(String),
    /// A proof or checkpoint could not be made or read.
    #[error("audit log: {0}")]
    Audit(jembatan_audit::AuditError),
    /// The caller's deadline passed before its write had a turn; nothing was done.
    #[error("the caller's deadline passed before its turn to write")]
    DeadlineExceeded,
    /// The store's writer has stopped (the store is closing, or its runtime shut down);
    /// nothing was done.
    #[error("the store's writer has stopped")]
    Stopped,
    /// A logged write's own work panicked (a fault of the exchange); its group was rolled
    /// back.
    #[error("a logged write panicked; its group was rolled back")]
    Panicked,
    /// A write queued before this one in its [`crate::WriteChain`] failed, so this one did not
    /// run; nothing of it was done.
    #[error("a write queued before this one in its chain failed; this one did not run")]
    EarlierWriteFailed,
    /// The group commit holding this write failed as a whole; nothing of it was committed.
    #[error("group commit failed: {0}")]
    Group(std::sync::Arc<StoreError>),
    /// A query failed for another reason: a defect, not a condition to retry.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// More rows matched than one answer reads; nothing was read. A narrower filter is asked for.
    #[error("more than {limit} {what} match")]
    TooMany {
        /// What matched, e.g. `market reports in one digest`.
        what: &'static str,
        /// The most one answer reads.
        limit: u64,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match classify(&error) {
            Class::Busy(what) => StoreError::Busy { what },
            Class::Unavailable => StoreError::Unavailable(error),
            Class::Corrupt => StoreError::Corrupt(error.to_string()),
            Class::Conflict => StoreError::Conflict(error),
            Class::Other => StoreError::Database(error),
        }
    }
}

/// What kind of failure an sqlx error is.
enum Class {
    Busy(&'static str),
    Unavailable,
    Conflict,
    Corrupt,
    Other,
}

fn classify(error: &sqlx::Error) -> Class {
    match error {
        sqlx::Error::PoolTimedOut => Class::Busy("no database connection free"),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => Class::Unavailable,
        sqlx::Error::Database(database) => {
            let code = database.code();
            let code = code.as_deref().unwrap_or_default();
            if database
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .is_some()
            {
                sqlite_class(code)
            } else {
                postgres_class(code)
            }
        }
        _ => Class::Other,
    }
}

/// An SQLite error by its (extended) result code.
fn sqlite_class(code: &str) -> Class {
    match sqlite_primary(code) {
        // SQLITE_BUSY, SQLITE_LOCKED.
        Some(5 | 6) => Class::Busy("a database lock"),
        // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN.
        Some(8 | 10 | 13 | 14) => Class::Unavailable,
        // SQLITE_CORRUPT, SQLITE_NOTADB.
        Some(11 | 26) => Class::Corrupt,
        _ => match code {
            // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE: a key taken meanwhile.
            "1555" | "2067" => Class::Conflict,
            _ => Class::Other,
        },
    }
}

/// A PostgreSQL error by its SQLSTATE.
fn postgres_class(code: &str) -> Class {
    match code {
        // lock_not_available, too_many_connections.
        "55P03" | "53300" => Class::Busy("a database lock or connection"),
        // unique_violation, serialization_failure, deadlock_detected.
        "23505" | "40001" | "40P01" => Class::Conflict,
        // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled (statement
        // timeout), read_only_sql_transaction (a standby after failover).
        "57P01" | "57P02" | "57P03" | "57014" | "25006" => Class::Unavailable,
        // data_corrupted, index_corrupted.
        "XX001" | "XX002" => Class::Corrupt,
        // connection exceptions, insufficient resources (disk full, out of memory).
        _ if code.starts_with("08") || code.starts_with("53") => Class::Unavailable,
        _ => Class::Other,
    }
}

/// The primary result code of an SQLite error code (given as its decimal text), if it is one.
fn sqlite_primary(code: &str) -> Option<u32> {
    if code.len() > 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse::<u32>().ok().map(|extended| extended & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_read_as_primary_codes() {
        assert_eq!(sqlite_primary("5"), Some(5));
        assert_eq!(sqlite_primary("517"), Some(5), "SQLITE_BUSY_SNAPSHOT");
        assert_eq!(sqlite_primary("2067"), Some(19), "SQLITE_CONSTRAINT_UNIQUE");
        assert_eq!(sqlite_primary("40P01"), None);
        assert!(matches!(sqlite_class("517"), Class::Busy(_)));
        assert!(matches!(sqlite_class("13"), Class::Unavailable));
        assert!(matches!(sqlite_class("2067"), Class::Conflict));
        assert!(
            matches!(sqlite_class("1811"), Class::Other),
            "a trigger's abort is no conflict"
        );
        assert!(matches!(postgres_class("40001"), Class::Conflict));
        assert!(matches!(postgres_class("53100"), Class::Unavailable));
        assert!(matches!(postgres_class("57P01"), Class::Unavailable));
        assert!(matches!(postgres_class("42P01"), Class::Other));
        assert!(matches!(sqlite_class("11"), Class::Corrupt));
        assert!(matches!(postgres_class("XX002"), Class::Corrupt));
    }

    #[test]
    fn pool_timeouts_are_busy_and_lost_connections_unavailable() {
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Busy { .. }
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }
}
