//! PostgreSQL restarted (`pg_ctlcluster … restart`) while KP2MI pushes batches and Kemendag
//! lists candidates: each call completes (the pools reconnect; most calls only wait) or gets
//! UNAVAILABLE (or DEADLINE_EXCEEDED), never a wrong answer; the exchange recovers without a restart (pushes are acknowledged again);
//! every acknowledged record is stored and its receipt's leaf is in the log; no placement is
//! stored without a push leaf naming it, and no push leaf names a record that is not stored;
//! the log verifies. A call whose group commit failed is told why (it was once left
//! unanswered, which its caller saw as the exchange stopping).
//!
//! It restarts the machine's PostgreSQL (root or the postgres user, as CI runs): it is the only
//! test of its binary, and cargo runs test binaries one after another.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{ListCandidatesRequest, PushPlacementsRequest};
use jembatan_tests::placements::{as_kp2mi, placement, placements, stated, workforce};
use jembatan_tests::store::{leaf_rows_from, placement_rows};
use jembatan_tests::{PgDatabase, RunningExchange, TestPki, config, open_store};
use tonic::Code;

/// Records per push.
const BATCH: u32 = 50;
/// Pushes acknowledged before the restart, and again after it.
const ACKED_EACH_SIDE: u32 = 5;
/// How long the test waits for the exchange to take pushes again.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the pusher saw.
#[derive(Debug, Default)]
struct Pushed {
    /// Leaf indexes of every receipt of every acknowledged push.
    receipted: Vec<u64>,
    /// Codes of the pushes that failed.
    failures: Vec<(Code, String)>,
}

/// Pushes batches, each retried until acknowledged (as `jembatan placements push` does),
/// until `stop`.
async fn push_until(client: Client, stop: Arc<AtomicBool>, acked: Arc<AtomicU32>) -> Pushed {
    let mut pushed = Pushed::default();
    let mut batch = 0;
    while !stop.load(Ordering::Relaxed) {
        let first = 1 + batch * BATCH;
        let request = as_kp2mi(PushPlacementsRequest {
            placements: (first..first + BATCH).map(placement).collect(),
            all_or_nothing: true,
        });
        match placements(&client).push_placements(request).await {
            Ok(answer) => {
                for result in answer.into_inner().results {
                    let receipt = result.receipt.expect("a receipt per record");
                    pushed.receipted.push(receipt.leaf_index);
                }
                acked.fetch_add(1, Ordering::Relaxed);
                batch += 1;
            }
            Err(status) => {
                pushed
                    .failures
                    .push((status.code(), status.message().to_owned()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    pushed
}

/// Lists candidates until `stop`; the codes of the listings that failed.
async fn list_until(client: Client, stop: Arc<AtomicBool>) -> Vec<(Code, String)> {
    let mut failures = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let request = stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            ListCandidatesRequest {
                page_size: 20,
                ..Default::default()
            },
        );
        if let Err(status) = workforce(&client).list_candidates(request).await {
            failures.push((status.code(), status.message().to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    failures
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let until = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < until, "{what} within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_postgres_restart_and_nothing_acknowledged_is_lost() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    let mut config = config(&pki, &db.url, "");
    // The store is under test, not the rates: the pusher pushes as fast as it is answered.
    config.limits.write_per_sec = 10_000.0;
    config.limits.read_per_sec = 10_000.0;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU32::new(0));
    let pusher = tokio::spawn(push_until(kp2mi, Arc::clone(&stop), Arc::clone(&acked)));
    let lister = tokio::spawn(list_until(kemendag, Arc::clone(&stop)));

    wait_for("pushes acknowledged before the restart", || {
        acked.load(Ordering::Relaxed) >= ACKED_EACH_SIDE
    })
    .await;
    jembatan_tests::restart_postgres(&db.url).await;
    let after_restart = acked.load(Ordering::Relaxed);
    wait_for("pushes acknowledged again after the restart", || {
        acked.load(Ordering::Relaxed) >= after_restart + ACKED_EACH_SIDE
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let pushed = pusher.await.expect("pusher");
    let listing_failures = lister.await.expect("lister");

    eprintln!(
        "push failures: {:?}\nlisting failures: {:?}",
        pushed.failures, listing_failures
    );
    // Callers got their answer or UNAVAILABLE (DEADLINE_EXCEEDED while waiting for a turn),
    // never a wrong code.
    for (code, message) in pushed.failures.iter().chain(&listing_failures) {
        assert!(
            matches!(code, Code::Unavailable | Code::DeadlineExceeded),
            "{code:?}: {message}"
        );
        // A write whose group failed is answered with the store's error, not left unanswered
        // (which its caller would see as the exchange stopping).
        assert!(!message.contains("stopping"), "{code:?}: {message}");
    }
    // Let the sequencer integrate, then check the log and the records against each other.
    let store = open_store(&pki, &db.url).await;
    let size = store.log_size().await.expect("size");
    jembatan_tests::wait_for_checkpoint(&store, size).await;
    exchange.stop().await;
    let rows = placement_rows(&store).await;
    let leaves = leaf_rows_from(&store, 0).await;
    let indexes: HashSet<i64> = leaves.iter().map(|leaf| leaf.leaf_index).collect();
    for index in &pushed.receipted {
        let index = i64::try_from(*index).expect("index");
        assert!(
            indexes.contains(&index),
            "acknowledged leaf {index} is in the log"
        );
    }
    let pushed_keys: HashSet<&str> = leaves
        .iter()
        .filter(|leaf| leaf.method == "PlacementService/PushPlacements" && leaf.outcome == "allow")
        .map(|leaf| leaf.record_key.as_str())
        .collect();
    let stored_keys: HashSet<&str> = rows.iter().map(|row| row.record_key.as_str()).collect();
    assert_eq!(
        pushed_keys, stored_keys,
        "every stored placement has its push leaf, and every push leaf its placement"
    );
    let acknowledged_batches = acked.load(Ordering::Relaxed);
    assert_eq!(
        rows.len(),
        (acknowledged_batches * BATCH) as usize,
        "the acknowledged batches, each once, and nothing else"
    );

    let verified = jembatan_tests::verify_exported(&store, &pki).await;
    assert_eq!(verified.leaves, size);
    store.close().await;
}
