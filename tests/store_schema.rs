//! The SQLite and PostgreSQL migrations build the same schema: the same tables, the same columns
//! per table, the same indexes and the same insert-only protection of the audit log, read from
//! each database's own catalog after a fresh store has migrated it.
//!
//! Not compared: column types and constraints (the engines spell them differently), the
//! indexes that each engine makes for primary keys and UNIQUE constraints by itself, and the
//! full-text search of market reports, which each engine builds its own way (SQLite: the FTS5
//! table `market_reports_text`, its shadow tables and the triggers that feed it; PostgreSQL:
//! the generated column `market_reports.text_search` and its index `market_reports_text`). The
//! test checks that each has its own.

use std::collections::{BTreeMap, BTreeSet};

use jembatan_store::{Store, StoreLocation, StoreOptions};
use jembatan_tests::PgDatabase;
use sqlx::Connection;

/// What the test compares of one database.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// Columns by table.
    tables: BTreeMap<String, BTreeSet<String>>,
    /// Indexes made by `CREATE INDEX`, as (table, index).
    indexes: BTreeSet<(String, String)>,
    /// Statements refused by an insert-only trigger, as (table, `UPDATE` or `DELETE`).
    insert_only: BTreeSet<(String, String)>,
    /// The engine's own parts of full-text search: tables, columns, indexes and triggers.
    search: BTreeSet<String>,
}

/// The name every part of the full-text search of market reports starts with.
const SEARCH: &str = "market_reports_text";

impl Schema {
    fn column(&mut self, table: String, column: String) {
        self.tables.entry(table).or_default().insert(column);
    }

    /// Tables refused both UPDATE and DELETE.
    fn insert_only_tables(&self) -> BTreeSet<&str> {
        let refused = |table: &str, event: &str| {
            self.insert_only
                .contains(&(table.to_owned(), event.to_owned()))
        };
        self.insert_only
            .iter()
            .map(|(table, _)| table.as_str())
            .filter(|table| refused(table, "UPDATE") && refused(table, "DELETE"))
            .collect()
    }
}

/// The migration bookkeeping of sqlx, not part of the exchange's schema.
const SQLX_TABLE: &str = "_sqlx_migrations";

async fn migrate(url: &str) {
    let location = StoreLocation::parse(url).expect("location");
    let store = Store::open(&location, StoreOptions::default())
        .await
        .expect("open store");
    store.close().await;
}

async fn sqlite_schema(path: &std::path::Path) -> Schema {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connect to SQLite");
    let mut schema = Schema::default();

    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, c.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut db)
    .await
    .expect("SQLite columns");
    for (table, column) in columns {
        if table.starts_with(SEARCH) {
            schema.search.insert(table);
        } else {
            schema.column(table, column);
        }
    }

    // origin 'c': made by CREATE INDEX, not for a PRIMARY KEY ('pk') or UNIQUE ('u') constraint.
    schema.indexes = sqlx::query_as(
        "SELECT m.name, i.name FROM sqlite_master AS m, pragma_index_list(m.name) AS i \
         WHERE m.type = 'table' AND i.origin = 'c'",
    )
    .fetch_all(&mut db)
    .await
    .expect("SQLite indexes")
    .into_iter()
    .collect();

    // SQLite keeps a trigger's event only in its text: `... BEFORE UPDATE ON t BEGIN ... END`.
    let triggers: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut db)
            .await
            .expect("SQLite triggers");
    for (name, table, sql) in triggers {
        if name.starts_with(SEARCH) {
            schema.search.insert(format!("trigger {name}"));
            continue;
        }
        let words: Vec<String> = sql.split_whitespace().map(str::to_uppercase).collect();
        let event = words
            .windows(2)
            .find(|pair| pair[0] == "BEFORE")
            .map(|pair| pair[1].clone());
        match event {
            Some(event) if sql.contains("insert-only") => {
                schema.insert_only.insert((table, event));
            }
            _ => panic!("SQLite trigger {name} is not an insert-only trigger: {sql}"),
        }
    }
    db.close().await.expect("close SQLite");
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut db = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to PostgreSQL");
    let mut schema = Schema::default();

    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text \
         FROM information_schema.columns AS c \
         JOIN information_schema.tables AS t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut db)
    .await
    .expect("PostgreSQL columns");
    for (table, column) in columns {
        if table == "market_reports" && column == "text_search" {
            schema.search.insert(format!("column {column}"));
        } else {
            schema.column(table, column);
        }
    }

    // Without the indexes behind PRIMARY KEY and UNIQUE constraints (`*_pkey`, `*_key`).
    schema.indexes = sqlx::query_as(
        "SELECT i.tablename::text, i.indexname::text FROM pg_indexes AS i \
         WHERE i.schemaname = 'public' AND NOT EXISTS ( \
             SELECT 1 FROM pg_constraint AS c \
             WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass \
               AND c.contype IN ('p', 'u'))",
    )
    .fetch_all(&mut db)
    .await
    .expect("PostgreSQL indexes")
    .into_iter()
    .collect();
    if schema
        .indexes
        .remove(&("market_reports".to_owned(), SEARCH.to_owned()))
    {
        schema.search.insert(format!("index {SEARCH}"));
    }

    // One row per trigger and event.
    let triggers: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT trigger_name::text, event_object_table::text, action_timing::text, \
                event_manipulation::text, action_statement::text \
         FROM information_schema.triggers WHERE trigger_schema = 'public'",
    )
    .fetch_all(&mut db)
    .await
    .expect("PostgreSQL triggers");
    for (name, table, timing, event, action) in triggers {
        assert!(
            timing == "BEFORE" && action.contains("audit_insert_only()"),
            "PostgreSQL trigger {name} is not an insert-only trigger: {timing} {event} {action}"
        );
        schema.insert_only.insert((table, event));
    }
    db.close().await.expect("close PostgreSQL");
    schema
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("schema.db");
    migrate(&format!("sqlite://{}", path.display())).await;
    let mut sqlite = sqlite_schema(&path).await;

    let pg = PgDatabase::create().await;
    migrate(&pg.url).await;
    let mut postgres = postgres_schema(&pg.url).await;

    for schema in [&mut sqlite, &mut postgres] {
        assert!(
            schema.tables.remove(SQLX_TABLE).is_some(),
            "no {SQLX_TABLE}: the catalog query misses tables"
        );
        schema.indexes.retain(|(table, _)| table != SQLX_TABLE);
    }

    let names = |schema: &Schema| schema.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&sqlite),
        names(&postgres),
        "tables (SQLite, PostgreSQL)"
    );
    for (table, columns) in &sqlite.tables {
        assert_eq!(
            Some(columns),
            postgres.tables.get(table),
            "columns of {table} (SQLite, PostgreSQL)"
        );
    }
    assert_eq!(
        sqlite.indexes, postgres.indexes,
        "indexes (SQLite, PostgreSQL)"
    );
    assert_eq!(
        sqlite.insert_only, postgres.insert_only,
        "statements refused by insert-only triggers (SQLite, PostgreSQL)"
    );
    // Each engine has its full-text search of market reports, kept in step with the table.
    for part in [
        SEARCH.to_owned(),
        format!("trigger {SEARCH}_insert"),
        format!("trigger {SEARCH}_update"),
        format!("trigger {SEARCH}_delete"),
    ] {
        assert!(
            sqlite.search.contains(&part),
            "SQLite lacks {part}: {:?}",
            sqlite.search
        );
    }
    assert_eq!(
        postgres.search,
        BTreeSet::from(["column text_search".to_owned(), format!("index {SEARCH}")]),
        "PostgreSQL's search"
    );

    // The catalogs were read at all: the audit log is there and protected on both.
    assert!(sqlite.tables.contains_key("audit_leaves"), "{sqlite:?}");
    assert!(
        sqlite.insert_only_tables().contains("audit_leaves"),
        "{sqlite:?}"
    );
    assert!(!sqlite.indexes.is_empty(), "{sqlite:?}");
}
