//! Store bootstrap on both backends: migrations on an empty SQLite file and an empty
//! PostgreSQL database, and a second start that changes nothing.

use std::time::Duration;

use jembatan_store::test_door::RawPool;
use jembatan_store::{Backend, Store, StoreError, StoreLocation, StoreOptions, WriteTicket};
use jembatan_tests::{
    PgDatabase, RunningExchange, TestPki, config, open_store, pki_file, placement_leaf,
};

jembatan_tests::on_both_databases!(migrates_an_empty_database_and_restarts_without_change);

async fn migrates_an_empty_database_and_restarts_without_change(pki: &TestPki, url: &str) {
    let backend = match url.strip_prefix("sqlite://") {
        Some(path) => {
            std::fs::File::create(pki_file(pki, path)).expect("empty file");
            Backend::Sqlite
        }
        None => Backend::Postgres,
    };
    let first = open_store(pki, url).await;
    assert_eq!(first.backend(), backend);
    let applied = first.applied_migrations().await.expect("applied");
    assert!(!applied.is_empty(), "no migration applied");
    assert_eq!(
        applied,
        first.known_migrations(),
        "every embedded migration applied"
    );
    let instance = first.instance().await.expect("instance");
    assert_eq!(instance.instance_id.len(), 32, "{instance:?}");
    assert!(
        instance.instance_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{instance:?}"
    );
    first.close().await;

    let second = open_store(pki, url).await;
    assert_eq!(second.applied_migrations().await.expect("applied"), applied);
    assert_eq!(
        second.instance().await.expect("instance"),
        instance,
        "second start changed the database"
    );
    second.close().await;
}

#[tokio::test]
async fn the_exchange_serves_on_postgres_and_on_sqlite() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    for url in [db.url.as_str(), "sqlite://exchange.db"] {
        let exchange = RunningExchange::start(&config(&pki, url, "")).await;
        let client = exchange
            .connect(pki.agency("kp2mi", "siskop2mi"))
            .await
            .expect("connect");
        assert_eq!(
            client.health("").await.expect("health"),
            jembatan_client::ServingStatus::Serving,
            "{url}"
        );
        exchange.stop().await;
    }
    // The start left the database migrated to everything this build knows.
    let store = open_store(&pki, &db.url).await;
    assert_eq!(
        store.applied_migrations().await.expect("applied"),
        store.known_migrations()
    );
}

/// The exchange's logged writes on PostgreSQL plan each statement for its own parameters. With
/// the server's default, a prepared statement run a few times while a table is nearly empty
/// gets a generic plan that scans the whole table, and keeps it as the table grows: a new
/// exchange's push then read the placements table once per write for its first 100,000
/// records (see BENCHMARKS.md, "The PostgreSQL push of batches of 100"). Reads keep the
/// server's setting, and so does the connection once the write is over.
#[tokio::test]
async fn postgres_writes_are_planned_for_their_parameters() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    let store = open_store(&pki, &db.url).await;
    let ((mode, writer), _) = store
        .write(WriteTicket::new("kp2mi"), |write| {
            Box::pin(async move {
                let mode = write.postgres_text("SHOW plan_cache_mode").await?;
                let pid = write.postgres_text("SELECT pg_backend_pid()::text").await?;
                Ok::<_, StoreError>(((mode, pid), vec![placement_leaf(1)]))
            })
        })
        .await
        .expect("write");
    assert_eq!(mode, "force_custom_plan", "in a logged write");
    let RawPool::Postgres(pool) = store.raw_pool() else {
        panic!("a PostgreSQL store has a PostgreSQL pool");
    };
    // The connection the write ran on, back in the pool: held ones are not handed out again,
    // so taking as many as the pool holds reaches it.
    let mut held = Vec::new();
    let mut seen = Vec::new();
    while !seen.contains(&writer) {
        let mut conn = tokio::time::timeout(Duration::from_secs(10), pool.acquire())
            .await
            .unwrap_or_else(|_| panic!("the write's connection {writer} is not in {seen:?}"))
            .expect("connection");
        let (pid, mode, default): (String, String, String) = sqlx::query_as(
            "SELECT pg_backend_pid()::text, setting, reset_val FROM pg_settings \
             WHERE name = 'plan_cache_mode'",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("plan_cache_mode");
        assert_eq!(mode, default, "outside a write, on connection {pid}");
        seen.push(pid);
        held.push(conn);
    }
    drop(held);
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_or_unknown_store_is_a_clear_error() {
    let err = StoreLocation::parse("mysql://root@127.0.0.1/x").expect_err("mysql is not supported");
    assert!(
        err.to_string().contains("mysql://root@127.0.0.1/x"),
        "{err}"
    );
    let missing_dir = "sqlite:///nonexistent-dir-of-jembatan/x.db";
    let err = Store::open(
        &StoreLocation::parse(missing_dir).expect("location"),
        StoreOptions::default(),
    )
    .await
    .expect_err("no such directory");
    assert!(
        err.to_string()
            .contains("/nonexistent-dir-of-jembatan/x.db"),
        "{err}"
    );
}
