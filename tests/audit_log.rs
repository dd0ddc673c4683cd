//! The audit log behind the running exchange: a denied call leaves a leaf, the sequencer signs a
//! checkpoint that proves it, and a call whose leaf cannot be written is refused. On SQLite and
//! PostgreSQL, over real mutual TLS.

use std::time::Duration;

use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_audit::merkle;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_store::{Store, StoreLocation, StoreOptions, StoredCheckpoint};
use jembatan_tests::raw_call::{call, stated};
use jembatan_tests::{PgDatabase, RunningExchange, TestPki, config};
use tonic::Code;

async fn open(url: &str, pki: &TestPki) -> Store {
    let url = match url.strip_prefix("sqlite://") {
        Some(path) => format!("sqlite://{}", pki.dir.path().join(path).display()),
        None => url.to_owned(),
    };
    let location = StoreLocation::parse(&url).expect("location");
    Store::open(&location, StoreOptions::default())
        .await
        .expect("open")
}

/// Waits for a checkpoint of at least `size` leaves.
async fn checkpoint_of(store: &Store, size: u64) -> StoredCheckpoint {
    for _ in 0..200 {
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && checkpoint.size >= size
        {
            return checkpoint;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no checkpoint of {size} leaves within 5 s");
}

async fn stored_leaf(store: &Store, index: i64) -> Vec<u8> {
    const SQL: &str = "SELECT data FROM audit_leaves WHERE leaf_index = $1";
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(SQL).bind(index).fetch_one(pool).await,
        Store::Postgres(pool) => sqlx::query_scalar(SQL).bind(index).fetch_one(pool).await,
    }
    .expect("leaf")
}

async fn a_denied_call_is_logged_and_proved(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    let store = open(url, pki).await;
    let client = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let mut metadata = stated(Purpose::Statistics, LegalBasis::PublicTask);
    metadata.push(("jembatan-case-ref", "ND.12/PEN/2026".to_owned()));
    let status = call(
        client.channel(),
        "PlacementService/PushPlacements",
        &metadata,
    )
    .await
    .expect_err("kemendag may not push placements");
    assert_eq!(status.code(), Code::PermissionDenied);

    let checkpoint = checkpoint_of(&store, 1).await;
    let checkpoint_body = checkpoint
        .note
        .verify_checkpoint(&pki.log_verifier())
        .expect("signed by the log");
    assert_eq!(checkpoint_body.origin, "jembatan.test.jembatan.local/audit");
    let data = stored_leaf(&store, 0).await;
    let leaf = LeafEntry::parse(&data).expect("leaf");
    assert_eq!(leaf.outcome, Outcome::Deny);
    assert_eq!(
        leaf.principal,
        "spiffe://test.jembatan.local/agency/kemendag/export-portal"
    );
    assert_eq!(leaf.method, "PlacementService/PushPlacements");
    assert_eq!(
        (leaf.purpose.as_str(), leaf.legal_basis.as_str()),
        ("STATISTICS", "PUBLIC_TASK")
    );
    assert_eq!(leaf.case_ref, "ND.12/PEN/2026");
    assert_eq!(leaf.record_type, "request");
    assert!(leaf.policy_ids.is_empty(), "denied by default");
    let policy_set = status
        .metadata()
        .get("jembatan-policy-set")
        .and_then(|v| v.to_str().ok());
    assert_eq!(Some(leaf.policy_set.as_str()), policy_set);
    assert_eq!(leaf.cert_fingerprint.len(), 64);

    let proof = store
        .inclusion_proof(0, checkpoint.size)
        .await
        .expect("proof");
    merkle::verify_inclusion(
        0,
        checkpoint.size,
        &merkle::leaf_hash(&data),
        &proof,
        &checkpoint.root,
    )
    .expect("the denial is in the signed tree");
    store.close().await;
    exchange.stop().await;
}

#[tokio::test]
async fn sqlite_a_denied_call_is_logged_and_proved() {
    let pki = TestPki::new();
    a_denied_call_is_logged_and_proved(&pki, "sqlite://jembatan.db").await;
}

#[tokio::test]
async fn postgres_a_denied_call_is_logged_and_proved() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    a_denied_call_is_logged_and_proved(&pki, &db.url).await;
}

#[tokio::test]
async fn a_call_whose_leaf_cannot_be_written_is_unavailable() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    let store = open("sqlite://jembatan.db", &pki).await;
    let Store::Sqlite(pool) = &store else {
        unreachable!("sqlite")
    };
    sqlx::query(
        "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_leaves \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(pool)
    .await
    .expect("break the log");
    let client = exchange
        .connect(pki.agency("bappenas", "sipd"))
        .await
        .expect("connect");
    let status = call(
        client.channel(),
        "WorkforceService/QueryAvailability",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("refused");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        !status.message().contains("disk full"),
        "no internals: {}",
        status.message()
    );
    let head: i64 = sqlx::query_scalar("SELECT next_index FROM audit_head")
        .fetch_one(pool)
        .await
        .expect("head");
    assert_eq!(head, 0, "nothing half-written");
    store.close().await;
    exchange.stop().await;
}
