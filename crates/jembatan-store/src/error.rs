/// Errors of the store.
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
    /// The audit log's data does not hold together (a missing or malformed stored hash).
    #[error("audit log store is inconsistent: {0}")]
    Corrupt(String),
    /// A proof or checkpoint could not be made or read.
    #[error("audit log: {0}")]
    Audit(jembatan_audit::AuditError),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
