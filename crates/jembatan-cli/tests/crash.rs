//! A `jembatan serve` process killed with SIGKILL while its sequencer integrates a backlog,
//! callers are being logged and KP2MI's pushes of new placements are being group-committed:
//! after a restart the log verifies with no gap and no fork, the checkpoint seen before the kill
//! is still the log's, every committed leaf is integrated, every acknowledged record is stored
//! with the leaf its receipt names, and no placement is stored without its leaf nor a push's
//! leaf committed without its placement. On SQLite and PostgreSQL.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::verify::verify_log;
use jembatan_client::Client;
use jembatan_client::v1::{PushPlacementsRequest, RecordOutcome};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_store::{Store, WriteTicket};
use jembatan_tests::placements::{as_kp2mi, placement, placements};
use jembatan_tests::raw_call::{call, stated};
use jembatan_tests::store::{leaf_rows_from, placement_rows};
use jembatan_tests::{TestPki, config_toml, open_store, placement_leaf};
use tokio::sync::Notify;
use tonic::Code;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    killed_while_sequencing_recovers,
);

const BIN: &str = env!("CARGO_BIN_EXE_jembatan");
const ORIGIN: &str = "jembatan.test.jembatan.local/audit";
/// Leaves waiting for the sequencer at start: many of its rounds.
const BACKLOG: u64 = 150_000;
/// The method of pushes, and of the denied calls.
const PUSH: &str = "PlacementService/PushPlacements";
/// KP2MI clients pushing new placements while the process dies.
const PUSHERS: u32 = 4;
/// Records per pushed batch.
const BATCH: u32 = 200;
/// Placements a pusher may number: pusher `p` pushes `placement(p * PER_PUSHER + i)`.
const PER_PUSHER: u32 = 100_000;
/// Batches acknowledged before the kill, at least.
const ACKED_BEFORE_KILL: u32 = 8;

/// A server process, killed when dropped, so that a failing test leaves none behind.
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `jembatan serve` on the config in the PKI folder; returns it and its address.
fn serve(pki: &TestPki) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(pki.dir.path().join("jembatan.toml"))
        .env("JEMBATAN_LOG_FORMAT", "json")
        .env("JEMBATAN_AUDIT_CHECKPOINT_INTERVAL_MS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jembatan serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("jembatan serve did not say where it serves:\n{seen}"))
            .expect("read stderr");
        seen.push_str(&line);
        seen.push('\n');
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["fields"]["message"] == "serving" {
            break event["fields"]["addr"].as_str().expect("addr").to_owned();
        }
    };
    // Keep draining, so that the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), addr)
}

async fn preload(store: &Store) {
    let mut next = 0;
    while next < BACKLOG {
        let end = (next + 10_000).min(BACKLOG);
        let entries: Vec<LeafEntry> = (next..end).map(placement_leaf).collect();
        store
            .log(WriteTicket::new("preload"), entries)
            .await
            .expect("append");
        next = end;
    }
}

/// A batch of new placements pushed while the process dies.
struct PushedBatch {
    /// The placement ids of its records, in request order.
    ids: Vec<String>,
    /// If it was acknowledged (answered OK): each record's receipt, leaf index and leaf hash,
    /// in request order.
    receipts: Option<Vec<(u64, Vec<u8>)>>,
}

/// What the pushers share: how many batches were acknowledged, a wake-up at each, how many
/// are sent and not yet answered, and when to stop sending.
#[derive(Default)]
struct Pushes {
    acked: AtomicU32,
    acknowledged: Notify,
    in_flight: AtomicU32,
    stop: AtomicBool,
}

/// Pushes batches of new placements as KP2MI, one after another, until told to stop; every
/// batch it sent, acknowledged or not.
async fn push_until_stopped(client: Client, pusher: u32, pushes: Arc<Pushes>) -> Vec<PushedBatch> {
    let mut service = placements(&client);
    let mut pushed = Vec::new();
    let mut first = pusher * PER_PUSHER;
    while !pushes.stop.load(Ordering::Relaxed) {
        assert!(
            first + BATCH <= (pusher + 1) * PER_PUSHER,
            "pusher {pusher} ran out of placement numbers"
        );
        let records: Vec<_> = (first..first + BATCH).map(placement).collect();
        first += BATCH;
        let ids: Vec<String> = records.iter().map(|r| r.placement_id.clone()).collect();
        pushes.in_flight.fetch_add(1, Ordering::Relaxed);
        let answer = service
            .push_placements(as_kp2mi(PushPlacementsRequest {
                placements: records,
                all_or_nothing: true,
            }))
            .await;
        pushes.in_flight.fetch_sub(1, Ordering::Relaxed);
        let receipts = match answer {
            Ok(response) => {
                let results = response.into_inner().results;
                assert_eq!(results.len(), ids.len(), "one result per record");
                let receipts = results
                    .iter()
                    .zip(&ids)
                    .map(|(result, id)| {
                        assert_eq!(&result.record_id, id, "results in request order");
                        assert_eq!(result.outcome(), RecordOutcome::Stored, "{id} is new");
                        let receipt = result.receipt.as_ref().expect("a stored record's receipt");
                        (receipt.leaf_index, receipt.leaf_hash.clone())
                    })
                    .collect();
                pushes.acked.fetch_add(1, Ordering::Relaxed);
                pushes.acknowledged.notify_waiters();
                Some(receipts)
            }
            // A refusal of the push itself is the test's fault, not the kill's.
            Err(status)
                if matches!(
                    status.code(),
                    Code::InvalidArgument | Code::PermissionDenied | Code::Unauthenticated
                ) =>
            {
                panic!("push refused: {status:?}")
            }
            // Unanswered by the killed process, or failed: not acknowledged.
            Err(_) => None,
        };
        pushed.push(PushedBatch { ids, receipts });
    }
    pushed
}

async fn killed_while_sequencing_recovers(pki: &TestPki, url: &str) {
    std::fs::write(pki.dir.path().join("jembatan.toml"), config_toml(url, "")).expect("config");
    let store = open_store(pki, url).await;
    preload(&store).await;

    let (mut server, addr) = serve(pki);
    // Callers keep being logged while the process dies.
    let denied = Arc::new(AtomicU32::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let client = Client::connect(
            &format!("https://{addr}"),
            pki.agency("kemendag", "export-portal"),
        )
        .await
        .expect("connect");
        let (denied, killed) = (Arc::clone(&denied), Arc::clone(&killed));
        // Until the server is killed, counting the calls refused (and so logged) as they should be.
        callers.push(tokio::spawn(async move {
            while !killed.load(Ordering::Relaxed) {
                let result = call(
                    client.channel(),
                    "PlacementService/PushPlacements",
                    &stated(Purpose::Statistics, LegalBasis::PublicTask),
                )
                .await;
                if matches!(result, Err(status) if status.code() == Code::PermissionDenied) {
                    denied.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // KP2MI pushes new placements meanwhile, so that group commits are in flight at the kill.
    let pushes = Arc::new(Pushes::default());
    let mut pushers = Vec::new();
    for pusher in 0..PUSHERS {
        let client = Client::connect(&format!("https://{addr}"), pki.agency("kp2mi", "siskop2mi"))
            .await
            .expect("connect");
        pushers.push(tokio::spawn(push_until_stopped(
            client,
            pusher,
            Arc::clone(&pushes),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    // Kill once a checkpoint is signed, callers are being logged and pushes acknowledged.
    let before = loop {
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && denied.load(Ordering::Relaxed) >= 4
            && pushes.acked.load(Ordering::Relaxed) >= ACKED_BEFORE_KILL - 1
        {
            break checkpoint;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint, no denials or too few pushes acknowledged ({} of {ACKED_BEFORE_KILL})",
            pushes.acked.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    // At an acknowledgement, when the group that answered may still be committing, and while
    // another push is sent and not answered: its write is queued, running or committing.
    loop {
        tokio::time::timeout_at(deadline.into(), pushes.acknowledged.notified())
            .await
            .expect("no push acknowledged while another was in flight");
        if pushes.in_flight.load(Ordering::Relaxed) > 0 {
            break;
        }
    }
    // No push sent after the kill: those not acknowledged were in flight when it landed.
    pushes.stop.store(true, Ordering::Relaxed);
    server.kill(); // SIGKILL
    killed.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.expect("caller");
    }
    let mut pushed = Vec::new();
    for pusher in pushers {
        pushed.extend(pusher.await.expect("pusher"));
    }
    let denied = denied.load(Ordering::Relaxed);
    let at_kill = store
        .checkpoint(None)
        .await
        .expect("read")
        .expect("checkpoint");
    assert!(
        at_kill.size < BACKLOG,
        "the kill must land while the backlog is being integrated (at {} of {BACKLOG})",
        at_kill.size
    );

    let (mut server, _) = serve(pki);
    let verified = loop {
        let mut export = Vec::new();
        store.export(ORIGIN, &mut export).await.expect("export");
        let (origin, contents) = jembatan_audit::export::read(export.as_slice()).expect("read");
        let verified = verify_log(&contents, &pki.log_verifier(), &origin)
            .unwrap_or_else(|finding| panic!("after the restart: {finding}"));
        if verified.integrated == verified.leaves {
            break verified;
        }
        assert!(
            Instant::now() < deadline,
            "backlog not integrated after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        verified.leaves >= BACKLOG + u64::from(denied),
        "every denial answered was logged ({} leaves, {denied} denials)",
        verified.leaves
    );
    let kept = store
        .checkpoint(Some(before.size))
        .await
        .expect("read")
        .expect("the checkpoint seen before the kill is kept");
    assert_eq!(kept.root, before.root, "no fork");
    pushes_kept_whole(&store, &pushed).await;
    server.kill();
    store.close().await;
}

/// Checks the pushes of `pushed` against what `store` holds after the restart: every
/// acknowledged record is stored with the leaf its receipt names, every stored placement has
/// its leaf, every push's leaf has its placement, and each batch is stored whole or not at all.
async fn pushes_kept_whole(store: &Store, pushed: &[PushedBatch]) {
    let acked = pushed.iter().filter(|b| b.receipts.is_some()).count();
    let unanswered = pushed.len() - acked;
    let rows = placement_rows(store).await;
    // Every leaf the server committed: the preloaded backlog, with no placements, comes before.
    let leaves: HashMap<i64, _> = leaf_rows_from(store, BACKLOG)
        .await
        .into_iter()
        .map(|leaf| (leaf.leaf_index, leaf))
        .collect();
    let by_id: HashMap<&str, _> = rows.iter().map(|r| (r.placement_id.as_str(), r)).collect();
    let by_key: HashMap<&str, _> = rows.iter().map(|r| (r.record_key.as_str(), r)).collect();
    assert_eq!(by_key.len(), rows.len(), "record keys are distinct");

    // 1. No acknowledged record lost: stored, changed last by the leaf its receipt names.
    for batch in pushed {
        let Some(receipts) = &batch.receipts else {
            continue;
        };
        for (id, (leaf_index, leaf_hash)) in batch.ids.iter().zip(receipts) {
            let row = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("acknowledged {id} (leaf {leaf_index}) is not stored"));
            assert_eq!(
                u64::try_from(row.change_seq).ok(),
                Some(*leaf_index),
                "acknowledged {id}: its change is not the leaf of its receipt"
            );
            let leaf = leaves.get(&row.change_seq).unwrap_or_else(|| {
                panic!("acknowledged {id}: no leaf at its receipt's index {leaf_index}")
            });
            assert_eq!(
                &leaf.leaf_hash, leaf_hash,
                "acknowledged {id}: the leaf at {leaf_index} is not the one receipted"
            );
        }
    }

    // 2. No record without its leaf: each stored placement's change names its push's leaf.
    for row in &rows {
        let leaf = leaves.get(&row.change_seq).unwrap_or_else(|| {
            panic!(
                "{} is stored without its leaf (no leaf at {})",
                row.placement_id, row.change_seq
            )
        });
        assert_eq!(
            (
                leaf.method.as_str(),
                leaf.outcome.as_str(),
                leaf.record_type.as_str()
            ),
            (PUSH, "allow", "placement"),
            "{}: the leaf at {} is not its push's",
            row.placement_id,
            row.change_seq
        );
        assert_eq!(
            leaf.record_key, row.record_key,
            "{}: the leaf at {} logs another record",
            row.placement_id, row.change_seq
        );
    }

    // 3. No leaf without its record: every pushed record is new and stays, so each leaf of a
    // push (not the denied calls' leaves) has its placement stored.
    let push_leaves: Vec<_> = leaves
        .values()
        .filter(|leaf| leaf.method == PUSH && leaf.outcome == "allow")
        .collect();
    for leaf in &push_leaves {
        assert!(
            by_key.contains_key(leaf.record_key.as_str()),
            "leaf {} logs record {} that is not stored",
            leaf.leaf_index,
            leaf.record_key
        );
    }
    assert_eq!(
        push_leaves.len(),
        rows.len(),
        "one push leaf per stored placement"
    );

    // Each batch, in one write of one group, is stored whole or not at all.
    let mut stored_unanswered = 0;
    for batch in pushed {
        let stored = batch
            .ids
            .iter()
            .filter(|id| by_id.contains_key(id.as_str()))
            .count();
        assert!(
            stored == 0 || stored == batch.ids.len(),
            "{stored} of the {} records of the batch from {} are stored",
            batch.ids.len(),
            batch.ids[0]
        );
        if batch.receipts.is_none() && stored > 0 {
            stored_unanswered += 1;
        }
    }
    eprintln!(
        "{} batches pushed: {acked} acknowledged, {unanswered} not ({stored_unanswered} of them \
         committed); {} placements stored",
        pushed.len(),
        rows.len()
    );
}
