//! Tampering with the stored audit log, as an operator with database access might, and the
//! offline verification that catches each case: store → export → verify, on both databases.

use jembatan_audit::checkpoint::Checkpoint;
use jembatan_audit::leaf::{LEAF_VERSION, LeafEntry, Outcome};
use jembatan_audit::note::SignerKey;
use jembatan_audit::verify::{Finding, verify_log};
use jembatan_store::{Store, StoreLocation, StoreOptions, WriteTicket};
use jembatan_tests::tamper::{Bind, leaf_row, node_hash, tamper};
use jembatan_tests::{Engine, PgDatabase};

const ORIGIN: &str = "jembatan.test.jembatan.local/audit";

jembatan_tests::on_both_databases!(engine: each_tampering_is_detected);

/// Where a test log lives; the PostgreSQL database or SQLite folder is dropped with it.
struct Place {
    _sqlite: Option<tempfile::TempDir>,
    _postgres: Option<PgDatabase>,
}

impl Place {
    async fn new(engine: Engine) -> (Self, Store) {
        let (place, url) = if engine == Engine::Postgres {
            let db = PgDatabase::create().await;
            let url = db.url.clone();
            (
                Place {
                    _sqlite: None,
                    _postgres: Some(db),
                },
                url,
            )
        } else {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}/audit.db", dir.path().display());
            (
                Place {
                    _sqlite: Some(dir),
                    _postgres: None,
                },
                url,
            )
        };
        let location = StoreLocation::parse(&url).expect("location");
        let store = Store::open(&location, StoreOptions::default())
            .await
            .expect("open");
        (place, store)
    }
}

fn entry(n: u64) -> LeafEntry {
    LeafEntry {
        v: LEAF_VERSION,
        time: format!("2026-11-22T08:30:{:02}.000Z", n % 60),
        principal: "spiffe://test.jembatan.local/agency/kemendag/export-portal".into(),
        cert_fingerprint: "ab".repeat(32),
        method: "WorkforceService/ListCandidates".into(),
        purpose: "BUSINESS_MATCHING".into(),
        legal_basis: "CONSENT".into(),
        case_ref: String::new(),
        operator: String::new(),
        record_type: "candidate".into(),
        record_key: format!("{n:032x}"),
        data_classes: vec!["profile".into()],
        record_digest: "cd".repeat(32),
        outcome: Outcome::Allow,
        policy_ids: vec!["kemendag-candidate-profiles".into()],
        policy_set: format!("sha256:{}", "01".repeat(32)),
        trace_id: String::new(),
        status: String::new(),
        claimed: String::new(),
        refused_calls: 0,
    }
}

/// A log of 40 leaves with checkpoints at 25 and 40.
async fn build(store: &Store, key: &SignerKey) {
    for (from, to) in [(0, 25), (25, 40)] {
        let entries: Vec<LeafEntry> = (from..to).map(entry).collect();
        store
            .log(WriteTicket::new("auditor"), entries)
            .await
            .expect("append");
        store
            .integrate(key, ORIGIN, 1000)
            .await
            .expect("integrate")
            .expect("checkpoint");
    }
}

async fn verify(store: &Store, key: &SignerKey) -> Result<u64, Finding> {
    let mut export = Vec::new();
    store.export(ORIGIN, &mut export).await.expect("export");
    let (origin, contents) = jembatan_audit::export::read(export.as_slice()).expect("read export");
    assert_eq!(origin, ORIGIN);
    verify_log(&contents, &key.verifier(), ORIGIN).map(|verified| verified.leaves)
}

async fn each_tampering_is_detected(engine: Engine) {
    let key = SignerKey::generate(ORIGIN).expect("key");

    let (_place, store) = Place::new(engine).await;
    build(&store, &key).await;
    assert_eq!(verify(&store, &key).await, Ok(40), "an intact log verifies");

    // A changed leaf field: the purpose of leaf 7, rewritten in its stored bytes.
    let (data, _) = leaf_row(&store, 7).await;
    let mut changed = LeafEntry::parse(&data).expect("leaf");
    changed.purpose = "STATISTICS".into();
    tamper(
        &store,
        &[(
            "UPDATE audit_leaves SET data = $1 WHERE leaf_index = 7",
            vec![Bind::Bytes(changed.to_bytes())],
        )],
    )
    .await;
    assert_eq!(
        verify(&store, &key).await,
        Err(Finding::LeafHashMismatch(7))
    );
    drop(store);

    let (_place, store) = Place::new(engine).await;
    build(&store, &key).await;
    tamper(
        &store,
        &[("DELETE FROM audit_leaves WHERE leaf_index = 12", vec![])],
    )
    .await;
    assert_eq!(verify(&store, &key).await, Err(Finding::MissingLeaf(12)));
    drop(store);

    // Two leaves swapped, each with its own hash, so that every leaf still matches its hash.
    let (_place, store) = Place::new(engine).await;
    build(&store, &key).await;
    let ((data3, hash3), (data8, hash8)) = (leaf_row(&store, 3).await, leaf_row(&store, 8).await);
    tamper(
        &store,
        &[
            (
                "UPDATE audit_leaves SET data = $1, leaf_hash = $2 WHERE leaf_index = 3",
                vec![Bind::Bytes(data8), Bind::Bytes(hash8)],
            ),
            (
                "UPDATE audit_leaves SET data = $1, leaf_hash = $2 WHERE leaf_index = 8",
                vec![Bind::Bytes(data3), Bind::Bytes(hash3)],
            ),
        ],
    )
    .await;
    assert_eq!(
        verify(&store, &key).await,
        Err(Finding::NodeMismatch { level: 1, index: 1 })
    );
    drop(store);

    // One bit flipped in a stored node hash.
    let (_place, store) = Place::new(engine).await;
    build(&store, &key).await;
    let mut hash = node_hash(&store, 2, 3).await;
    hash[31] ^= 0x01;
    tamper(
        &store,
        &[(
            "UPDATE audit_nodes SET hash = $1 WHERE level = 2 AND node_index = 3",
            vec![Bind::Bytes(hash)],
        )],
    )
    .await;
    assert_eq!(
        verify(&store, &key).await,
        Err(Finding::NodeMismatch { level: 2, index: 3 })
    );
    drop(store);

    // A checkpoint signed by another key, with the right root.
    let (_place, store) = Place::new(engine).await;
    build(&store, &key).await;
    let latest = store
        .checkpoint(None)
        .await
        .expect("read")
        .expect("checkpoint");
    let impostor = SignerKey::generate(ORIGIN).expect("key");
    let forged = Checkpoint {
        origin: ORIGIN.into(),
        size: latest.size,
        root: latest.root,
    }
    .sign(&impostor);
    tamper(
        &store,
        &[(
            "UPDATE audit_checkpoints SET note = $1 WHERE tree_size = 40",
            vec![Bind::Text(forged.to_string())],
        )],
    )
    .await;
    assert_eq!(
        verify(&store, &key).await,
        Err(Finding::BadCheckpointSignature("40".into()))
    );
}
