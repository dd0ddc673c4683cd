//! The attacker with database access: SQL run on the store with the audit log's insert-only
//! triggers dropped first, as an operator who wants to rewrite history would.

use jembatan_store::Store;
use jembatan_store::test_door::RawPool;

/// A value bound into the attacker's SQL.
#[derive(Clone, Debug)]
pub enum Bind {
    /// A BLOB / BYTEA.
    Bytes(Vec<u8>),
    /// A TEXT.
    Text(String),
}

/// Drops the insert-only triggers, then runs `statements` in order; panics naming a statement
/// that fails.
pub async fn tamper(store: &Store, statements: &[(&str, Vec<Bind>)]) {
    let drops: &[&str] = match store.raw_pool() {
        RawPool::Sqlite(_) => &[
            "DROP TRIGGER IF EXISTS audit_leaves_no_update",
            "DROP TRIGGER IF EXISTS audit_leaves_no_delete",
            "DROP TRIGGER IF EXISTS audit_nodes_no_update",
            "DROP TRIGGER IF EXISTS audit_nodes_no_delete",
            "DROP TRIGGER IF EXISTS audit_checkpoints_no_update",
            "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete",
            "DROP TRIGGER IF EXISTS audit_cosignatures_no_update",
            "DROP TRIGGER IF EXISTS audit_cosignatures_no_delete",
        ],
        RawPool::Postgres(_) => &[
            "DROP TRIGGER IF EXISTS audit_leaves_insert_only ON audit_leaves",
            "DROP TRIGGER IF EXISTS audit_nodes_insert_only ON audit_nodes",
            "DROP TRIGGER IF EXISTS audit_checkpoints_insert_only ON audit_checkpoints",
            "DROP TRIGGER IF EXISTS audit_cosignatures_insert_only ON audit_cosignatures",
        ],
    };
    for sql in drops {
        run(store, sql, &[]).await;
    }
    for (sql, binds) in statements {
        run(store, sql, binds).await;
    }
}

async fn run(store: &Store, sql: &str, binds: &[Bind]) {
    macro_rules! execute {
        ($pool:expr) => {{
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for bind in binds {
                query = match bind {
                    Bind::Bytes(bytes) => query.bind(bytes.clone()),
                    Bind::Text(text) => query.bind(text.clone()),
                };
            }
            query.execute($pool).await.map(|_| ())
        }};
    }
    match store.raw_pool() {
        RawPool::Sqlite(pool) => execute!(pool),
        RawPool::Postgres(pool) => execute!(pool),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The stored bytes and leaf hash of leaf `index`.
pub async fn leaf_row(store: &Store, index: i64) -> (Vec<u8>, Vec<u8>) {
    const SQL: &str = "SELECT data, leaf_hash FROM audit_leaves WHERE leaf_index = $1";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_as(SQL).bind(index).fetch_one(pool).await,
        RawPool::Postgres(pool) => sqlx::query_as(SQL).bind(index).fetch_one(pool).await,
    }
    .expect("leaf")
}

/// The stored hash of the node at `level`, `index`.
pub async fn node_hash(store: &Store, level: i64, index: i64) -> Vec<u8> {
    const SQL: &str = "SELECT hash FROM audit_nodes WHERE level = $1 AND node_index = $2";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => {
            sqlx::query_scalar(SQL)
                .bind(level)
                .bind(index)
                .fetch_one(pool)
                .await
        }
        RawPool::Postgres(pool) => {
            sqlx::query_scalar(SQL)
                .bind(level)
                .bind(index)
                .fetch_one(pool)
                .await
        }
    }
    .expect("node")
}
