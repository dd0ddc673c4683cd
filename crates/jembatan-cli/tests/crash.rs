//! A `jembatan serve` process killed with SIGKILL, on SQLite and PostgreSQL; after a restart on
//! the same config the log verifies with no gap and no fork, and the checkpoint seen before the
//! kill is still the log's and extends into the later ones.
//!
//! - Killed while its sequencer integrates a backlog, callers are being logged and KP2MI's
//!   pushes of new placements are being group-committed: every committed leaf is integrated,
//!   every acknowledged record is stored with the leaf its receipt names, and no placement is
//!   stored without its leaf nor a push's leaf committed without its placement.
//! - Killed while KP2MI erases workers' personal data, several erasures at once, and pushes new
//!   placements: every acknowledged erasure is done (the worker's placement deleted, the erasure
//!   remembered at its change) with the erasure leaf its receipt names, no worker is erased
//!   without an erasure leaf nor an erasure leaf committed without its erasure, and every
//!   acknowledged push is stored, or erased after its leaf.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::verify::{Verified, verify_log};
use jembatan_client::Client;
use jembatan_client::v1::placement_service_client::PlacementServiceClient;
use jembatan_client::v1::{ErasePersonalDataRequest, PushPlacementsRequest, RecordOutcome};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_store::{Store, StoreError, StoredCheckpoint, WriteTicket};
use jembatan_tests::placements::{as_kp2mi, placement, placements};
use jembatan_tests::raw_call::{call, stated};
use jembatan_tests::store::{LeafRow, PlacementRow, leaf_rows_from, placement_rows};
use jembatan_tests::{TestPki, config_toml, open_store, placement_leaf};
use tokio::sync::Notify;
use tonic::transport::Channel;
use tonic::{Code, Status};

mod served;

use served::serve;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    killed_while_sequencing_recovers,
    killed_while_erasing_recovers,
);

const ORIGIN: &str = "jembatan.test.jembatan.local/audit";
/// Leaves waiting for the sequencer at start: many of its rounds.
const BACKLOG: u64 = 150_000;
/// The method of pushes, and of the denied calls.
const PUSH: &str = "PlacementService/PushPlacements";
/// The method of erasures.
const ERASE: &str = "PlacementService/ErasePersonalData";
/// KP2MI clients pushing new placements while the process dies.
const PUSHERS: u32 = 4;
/// Records per pushed batch.
const BATCH: u32 = 200;
/// Placements a pusher may number: pusher `p` pushes `placement(p * PER_PUSHER + i)`.
const PER_PUSHER: u32 = 100_000;
/// Batches acknowledged before the kill, at least.
const ACKED_BEFORE_KILL: u32 = 8;
/// Workers pushed, and acknowledged, before the erasures start: placements `0..WORKERS`, the
/// numbers of pusher 0, which therefore does not push in the erasure test.
const WORKERS: u32 = 3_000;
/// KP2MI clients erasing workers, one after another, while the process dies: eraser `e`
/// erases workers `e`, `e + ERASERS`, `e + 2 * ERASERS`…
const ERASERS: u32 = 4;
/// KP2MI clients pushing new placements while the erasures run.
const ERASE_TEST_PUSHERS: Range<u32> = 1..3;
/// Erasures acknowledged before the kill, at least.
const ERASED_BEFORE_KILL: u32 = 32;
/// Acknowledged erasures asked again of the restarted exchange.
const ERASED_ASKED_AGAIN: usize = 16;

/// A client of the exchange at `addr` as KP2MI's placement system.
async fn kp2mi(pki: &TestPki, addr: &str) -> Client {
    Client::connect(&format!("https://{addr}"), pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi")
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

/// What the clients making one kind of call share: how many calls were acknowledged, a
/// wake-up at each, the greatest leaf index acknowledged, how many calls are sent and not yet
/// answered, and when to stop sending.
#[derive(Default)]
struct Progress {
    acked: AtomicU32,
    acknowledged: Notify,
    last_leaf: AtomicU64,
    in_flight: AtomicU32,
    stop: AtomicBool,
}

impl Progress {
    /// A call is sent.
    fn sent(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A call sent is answered: `acknowledged` with the greatest leaf index of its receipts,
    /// or not (`None`).
    fn answered(&self, acknowledged: Option<u64>) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some(leaf) = acknowledged {
            self.last_leaf.fetch_max(leaf, Ordering::Relaxed);
            self.acked.fetch_add(1, Ordering::Relaxed);
            self.acknowledged.notify_waiters();
        }
    }

    fn acked(&self) -> u32 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits for an acknowledgement while another call is sent and not answered: then the
    /// group that answered may still be committing, and the other call's write is queued,
    /// running or committing.
    async fn until_acknowledged_with_another_in_flight(&self, deadline: Instant) {
        loop {
            tokio::time::timeout_at(deadline.into(), self.acknowledged.notified())
                .await
                .expect("no call acknowledged while another was in flight");
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                return;
            }
        }
    }
}

/// A refusal of the call itself, which is the test's fault, not the kill's.
fn refused(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::InvalidArgument | Code::PermissionDenied | Code::Unauthenticated | Code::NotFound
    )
}

/// Pushes the new placements `numbers` as KP2MI in one all-or-nothing batch.
async fn push_batch(
    service: &mut PlacementServiceClient<Channel>,
    numbers: Range<u32>,
    progress: &Progress,
) -> PushedBatch {
    let records: Vec<_> = numbers.map(placement).collect();
    let ids: Vec<String> = records.iter().map(|r| r.placement_id.clone()).collect();
    progress.sent();
    let answer = service
        .push_placements(as_kp2mi(PushPlacementsRequest {
            placements: records,
            all_or_nothing: true,
        }))
        .await;
    let receipts: Option<Vec<(u64, Vec<u8>)>> = match answer {
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
            Some(receipts)
        }
        Err(status) if refused(&status) => panic!("push refused: {status:?}"),
        // Unanswered by the killed process, or failed: not acknowledged.
        Err(_) => None,
    };
    progress.answered(
        receipts
            .as_ref()
            .and_then(|r| r.iter().map(|(leaf, _)| *leaf).max()),
    );
    PushedBatch { ids, receipts }
}

/// Pushes batches of new placements as KP2MI, one after another, until told to stop; every
/// batch it sent, acknowledged or not.
async fn push_until_stopped(
    client: Client,
    pusher: u32,
    pushes: Arc<Progress>,
) -> Vec<PushedBatch> {
    let mut service = placements(&client);
    let mut pushed = Vec::new();
    let mut first = pusher * PER_PUSHER;
    while !pushes.stop.load(Ordering::Relaxed) {
        assert!(
            first + BATCH <= (pusher + 1) * PER_PUSHER,
            "pusher {pusher} ran out of placement numbers"
        );
        pushed.push(push_batch(&mut service, first..first + BATCH, &pushes).await);
        first += BATCH;
    }
    pushed
}

/// An erasure asked for while the process dies.
struct AskedErasure {
    /// The worker, whose placement is `placement(worker)`.
    worker: u32,
    /// If it was acknowledged: its receipt, leaf index and leaf hash.
    receipt: Option<(u64, Vec<u8>)>,
}

/// Erases workers as KP2MI, one after another, until told to stop; every erasure it asked
/// for, acknowledged or not.
async fn erase_until_stopped(
    client: Client,
    eraser: u32,
    erasures: Arc<Progress>,
) -> Vec<AskedErasure> {
    let mut service = placements(&client);
    let mut asked = Vec::new();
    let mut workers = (eraser..WORKERS).step_by(ERASERS as usize);
    while !erasures.stop.load(Ordering::Relaxed) {
        let worker = workers
            .next()
            .unwrap_or_else(|| panic!("eraser {eraser} ran out of workers"));
        erasures.sent();
        let answer = service
            .erase_personal_data(as_kp2mi(ErasePersonalDataRequest {
                nik: placement(worker).nik,
                request_ref: format!("PDP/2026/{worker:05}"),
            }))
            .await;
        let receipt = match answer {
            Ok(response) => {
                let erased = response.into_inner();
                assert_eq!(erased.placements_erased, 1, "worker {worker}'s placement");
                let receipt = erased.receipt.expect("an erasure's receipt");
                Some((receipt.leaf_index, receipt.leaf_hash))
            }
            Err(status) if refused(&status) => panic!("erasure of {worker} refused: {status:?}"),
            // Unanswered by the killed process, or failed: not acknowledged.
            Err(_) => None,
        };
        erasures.answered(receipt.as_ref().map(|(leaf, _)| *leaf));
        asked.push(AskedErasure { worker, receipt });
    }
    asked
}

/// Verifies the log as exported from `store`, once the sequencer of the restarted exchange has
/// integrated every committed leaf: no gap, no fork, consecutive checkpoints consistent.
async fn verified_once_integrated(store: &Store, pki: &TestPki, deadline: Instant) -> Verified {
    loop {
        let mut export = Vec::new();
        store.export(ORIGIN, &mut export).await.expect("export");
        let (origin, contents) = jembatan_audit::export::read(export.as_slice()).expect("read");
        let verified = verify_log(&contents, &pki.log_verifier(), &origin)
            .unwrap_or_else(|finding| panic!("after the restart: {finding}"));
        if verified.integrated == verified.leaves {
            return verified;
        }
        assert!(
            Instant::now() < deadline,
            "committed leaves not integrated after the restart ({} of {})",
            verified.integrated,
            verified.leaves
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that `before`, the checkpoint seen before the kill, is still the log's: stored with
/// its root, so that, `verified` having checked each checkpoint consistent with the next, it
/// extends into every later one.
async fn checkpoint_kept(store: &Store, before: &StoredCheckpoint, verified: &Verified) {
    let kept = store
        .checkpoint(Some(before.size))
        .await
        .expect("read")
        .expect("the checkpoint seen before the kill is kept");
    assert_eq!(kept.root, before.root, "no fork");
    assert!(
        verified.integrated >= before.size,
        "the log shrank: {} leaves integrated, {} before the kill",
        verified.integrated,
        before.size
    );
}

async fn killed_while_sequencing_recovers(pki: &TestPki, url: &str) {
    std::fs::write(pki.dir.path().join("jembatan.toml"), config_toml(url, "")).expect("config");
    let store = open_store(pki, url).await;
    preload(&store).await;

    let (mut server, addr) = serve(pki, &[]);
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
    let pushes = Arc::new(Progress::default());
    let mut pushers = Vec::new();
    for pusher in 0..PUSHERS {
        let client = kp2mi(pki, &addr).await;
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
            && pushes.acked() >= ACKED_BEFORE_KILL - 1
        {
            break checkpoint;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint, no denials or too few pushes acknowledged ({} of {ACKED_BEFORE_KILL})",
            pushes.acked()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    // At an acknowledgement, when the group that answered may still be committing, and while
    // another push is sent and not answered: its write is queued, running or committing.
    pushes
        .until_acknowledged_with_another_in_flight(deadline)
        .await;
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

    let (mut server, _) = serve(pki, &[]);
    let verified = verified_once_integrated(&store, pki, deadline).await;
    assert!(
        verified.leaves >= BACKLOG + u64::from(denied),
        "every denial answered was logged ({} leaves, {denied} denials)",
        verified.leaves
    );
    checkpoint_kept(&store, &before, &verified).await;
    pushes_kept_whole(&store, &pushed, BACKLOG).await;
    server.kill();
    store.close().await;
}

async fn killed_while_erasing_recovers(pki: &TestPki, url: &str) {
    std::fs::write(pki.dir.path().join("jembatan.toml"), config_toml(url, "")).expect("config");
    let store = open_store(pki, url).await;
    let (mut server, addr) = serve(pki, &[]);

    // The workers to erase, acknowledged.
    let mut pushed = Vec::new();
    {
        let client = kp2mi(pki, &addr).await;
        let mut service = placements(&client);
        let progress = Progress::default();
        for first in (0..WORKERS).step_by(BATCH as usize) {
            let batch =
                push_batch(&mut service, first..(first + BATCH).min(WORKERS), &progress).await;
            assert!(batch.receipts.is_some(), "workers from {first} not stored");
            pushed.push(batch);
        }
    }

    // KP2MI erases workers, several at once, and pushes new placements meanwhile, so that
    // erasures are in flight at the kill, in groups with pushes.
    let erasures = Arc::new(Progress::default());
    let mut erasers = Vec::new();
    for eraser in 0..ERASERS {
        let client = kp2mi(pki, &addr).await;
        erasers.push(tokio::spawn(erase_until_stopped(
            client,
            eraser,
            Arc::clone(&erasures),
        )));
    }
    let pushes = Arc::new(Progress::default());
    let mut pushers = Vec::new();
    for pusher in ERASE_TEST_PUSHERS {
        let client = kp2mi(pki, &addr).await;
        pushers.push(tokio::spawn(push_until_stopped(
            client,
            pusher,
            Arc::clone(&pushes),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    // Kill once erasures and pushes were acknowledged and a checkpoint signed that holds an
    // acknowledged erasure.
    while erasures.acked() < ERASED_BEFORE_KILL || pushes.acked() < 2 {
        assert!(
            Instant::now() < deadline,
            "too few erasures ({} of {ERASED_BEFORE_KILL}) or pushes ({} of 2) acknowledged",
            erasures.acked(),
            pushes.acked()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let erased_leaf = erasures.last_leaf.load(Ordering::Relaxed);
    let before = loop {
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && checkpoint.size > erased_leaf
        {
            break checkpoint;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint holds the erasure at {erased_leaf}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    // At an erasure's acknowledgement, when its group may still be committing, and while
    // another erasure is asked and not answered: its write is queued, running or committing.
    erasures
        .until_acknowledged_with_another_in_flight(deadline)
        .await;
    // Nothing asked after the kill: what was not acknowledged was in flight when it landed.
    erasures.stop.store(true, Ordering::Relaxed);
    pushes.stop.store(true, Ordering::Relaxed);
    server.kill(); // SIGKILL
    let mut asked = Vec::new();
    for eraser in erasers {
        asked.extend(eraser.await.expect("eraser"));
    }
    for pusher in pushers {
        pushed.extend(pusher.await.expect("pusher"));
    }

    let (mut server, addr) = serve(pki, &[]);
    let deadline = Instant::now() + Duration::from_secs(180);
    let verified = verified_once_integrated(&store, pki, deadline).await;
    checkpoint_kept(&store, &before, &verified).await;
    let acknowledged = erasures.last_leaf.load(Ordering::Relaxed);
    assert!(
        verified.leaves > acknowledged,
        "the erasure acknowledged at {acknowledged} is not in the log of {} leaves",
        verified.leaves
    );
    pushes_kept_whole(&store, &pushed, 0).await;
    erasures_kept(&store, &pushed[..WORKERS.div_ceil(BATCH) as usize], &asked).await;

    // The restarted exchange agrees: a worker whose erasure was acknowledged is not found
    // again, and a worker not asked for is erased, after the kill's leaves.
    let client = kp2mi(pki, &addr).await;
    let mut service = placements(&client);
    for erasure in asked
        .iter()
        .filter(|erasure| erasure.receipt.is_some())
        .take(ERASED_ASKED_AGAIN)
    {
        let status = service
            .erase_personal_data(as_kp2mi(ErasePersonalDataRequest {
                nik: placement(erasure.worker).nik,
                request_ref: String::new(),
            }))
            .await
            .expect_err("erased before the kill");
        assert_eq!(status.code(), Code::NotFound, "worker {}", erasure.worker);
    }
    let never_asked = (0..WORKERS)
        .rev()
        .find(|worker| asked.iter().all(|erasure| erasure.worker != *worker))
        .expect("a worker not asked for");
    let erased = service
        .erase_personal_data(as_kp2mi(ErasePersonalDataRequest {
            nik: placement(never_asked).nik,
            request_ref: String::new(),
        }))
        .await
        .expect("erase after the restart")
        .into_inner();
    assert_eq!(erased.placements_erased, 1);
    let receipt = erased.receipt.expect("an erasure's receipt");
    assert!(
        receipt.leaf_index >= verified.leaves,
        "erased after the restart at {}, within the {} leaves before it",
        receipt.leaf_index,
        verified.leaves
    );
    server.kill();
    store.close().await;
}

/// The erasure leaves committed, by record key: each leaf's index.
fn erasure_leaves<'a>(leaves: impl IntoIterator<Item = &'a LeafRow>) -> HashMap<&'a str, i64> {
    let mut erased = HashMap::new();
    for leaf in leaves {
        if leaf.method == ERASE && leaf.outcome == "allow" {
            assert_eq!(leaf.record_type, "erasure", "leaf {}", leaf.leaf_index);
            let earlier = erased.insert(leaf.record_key.as_str(), leaf.leaf_index);
            assert!(
                earlier.is_none(),
                "record {} erased twice, at {earlier:?} and {}",
                leaf.record_key,
                leaf.leaf_index
            );
        }
    }
    erased
}

/// Checks the pushes of `pushed` against what `store` holds after the restart, every leaf the
/// server committed being from `from` on: every acknowledged record is stored with the leaf its
/// receipt names, or was erased by a later leaf; every stored placement has its leaf; every
/// push's leaf has its placement, or its erasure; each batch not acknowledged is stored whole or
/// not at all.
async fn pushes_kept_whole(store: &Store, pushed: &[PushedBatch], from: u64) {
    let acked = pushed.iter().filter(|b| b.receipts.is_some()).count();
    let unanswered = pushed.len() - acked;
    let rows = placement_rows(store).await;
    let leaves: HashMap<i64, _> = leaf_rows_from(store, from)
        .await
        .into_iter()
        .map(|leaf| (leaf.leaf_index, leaf))
        .collect();
    let erased = erasure_leaves(leaves.values());
    let by_id: HashMap<&str, _> = rows.iter().map(|r| (r.placement_id.as_str(), r)).collect();
    let by_key: HashMap<&str, _> = rows.iter().map(|r| (r.record_key.as_str(), r)).collect();
    assert_eq!(by_key.len(), rows.len(), "record keys are distinct");

    // 1. No acknowledged record lost: stored, changed last by the leaf its receipt names, or
    // erased after it.
    for batch in pushed {
        let Some(receipts) = &batch.receipts else {
            continue;
        };
        for (id, (leaf_index, leaf_hash)) in batch.ids.iter().zip(receipts) {
            let index = i64::try_from(*leaf_index).expect("index");
            let leaf = leaves.get(&index).unwrap_or_else(|| {
                panic!("acknowledged {id}: no leaf at its receipt's index {leaf_index}")
            });
            assert_eq!(
                &leaf.leaf_hash, leaf_hash,
                "acknowledged {id}: the leaf at {leaf_index} is not the one receipted"
            );
            match by_id.get(id.as_str()) {
                Some(row) => assert_eq!(
                    row.change_seq, index,
                    "acknowledged {id}: its change is not the leaf of its receipt"
                ),
                None => {
                    let erasure = erased.get(leaf.record_key.as_str()).unwrap_or_else(|| {
                        panic!("acknowledged {id} (leaf {leaf_index}) is neither stored nor erased")
                    });
                    assert!(
                        *erasure > index,
                        "acknowledged {id} (leaf {leaf_index}) erased before it, at {erasure}"
                    );
                }
            }
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
        assert!(
            !erased.contains_key(row.record_key.as_str()),
            "{} is stored, and erased at {:?}",
            row.placement_id,
            erased.get(row.record_key.as_str())
        );
    }

    // 3. No leaf without its record: every pushed record is new and stays unless erased, so
    // each leaf of a push (not the denied calls' leaves) has its placement stored, or its
    // erasure after it.
    let push_leaves: Vec<_> = leaves
        .values()
        .filter(|leaf| leaf.method == PUSH && leaf.outcome == "allow")
        .collect();
    let mut of_erased = 0;
    for leaf in &push_leaves {
        if by_key.contains_key(leaf.record_key.as_str()) {
            continue;
        }
        let erasure = erased.get(leaf.record_key.as_str()).unwrap_or_else(|| {
            panic!(
                "leaf {} logs record {} that is neither stored nor erased",
                leaf.leaf_index, leaf.record_key
            )
        });
        assert!(
            *erasure > leaf.leaf_index,
            "leaf {} logs record {} erased before it, at {erasure}",
            leaf.leaf_index,
            leaf.record_key
        );
        of_erased += 1;
    }
    assert_eq!(
        push_leaves.len() - of_erased,
        rows.len(),
        "one push leaf per stored placement"
    );

    // Each batch, in one write of one group, is stored whole or not at all (an acknowledged
    // one is whole, by 1.).
    let mut stored_unanswered = 0;
    for batch in pushed.iter().filter(|batch| batch.receipts.is_none()) {
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
        if stored > 0 {
            stored_unanswered += 1;
        }
    }
    eprintln!(
        "{} batches pushed: {acked} acknowledged, {unanswered} not ({stored_unanswered} of them \
         committed); {} placements stored, {of_erased} erased",
        pushed.len(),
        rows.len()
    );
}

/// The changes remembered for erasures (`erased_subjects`), ascending, read through the
/// store's own query in a write that logs nothing, and so is rolled back. Leaf 0, a push's,
/// is no erasure's.
async fn remembered_erasures(store: &Store) -> Vec<i64> {
    let (changes, receipts) = store
        .write(WriteTicket::new("test-read"), |write| {
            Box::pin(async move {
                let changes = write.erased_after(0, u32::MAX).await?;
                Ok::<_, StoreError>((changes, Vec::new()))
            })
        })
        .await
        .expect("read the erasures remembered");
    assert!(receipts.is_empty(), "the read logged nothing");
    changes
        .into_iter()
        .map(|change| i64::try_from(change).expect("change"))
        .collect()
}

/// Checks the erasures of `asked`, of the workers pushed in `workers` (placements
/// `0..WORKERS`, acknowledged), against what `store` holds after the restart: every
/// acknowledged erasure is done, its worker's placement deleted and the erasure remembered at
/// its change, the leaf its receipt names; each erasure leaf erases a worker asked for, whose
/// placement is gone, after its push's leaf, and is remembered; each erasure remembered has its
/// leaf; every worker not asked for is stored.
async fn erasures_kept(store: &Store, workers: &[PushedBatch], asked: &[AskedErasure]) {
    let rows = placement_rows(store).await;
    let leaves: HashMap<i64, LeafRow> = leaf_rows_from(store, 0)
        .await
        .into_iter()
        .map(|leaf| (leaf.leaf_index, leaf))
        .collect();
    let erased = erasure_leaves(leaves.values());
    let remembered = remembered_erasures(store).await;
    let by_id: HashMap<&str, &PlacementRow> =
        rows.iter().map(|r| (r.placement_id.as_str(), r)).collect();
    // Each worker's record key and push leaf, from its receipt.
    let mut worker_of_key: HashMap<&str, (u32, i64)> = HashMap::new();
    for (worker, (id, (leaf_index, _))) in (0..WORKERS).zip(workers.iter().flat_map(|batch| {
        let receipts = batch
            .receipts
            .as_ref()
            .expect("the workers are acknowledged");
        batch.ids.iter().zip(receipts)
    })) {
        assert_eq!(*id, placement(worker).placement_id, "workers in order");
        let index = i64::try_from(*leaf_index).expect("index");
        let leaf = &leaves[&index];
        worker_of_key.insert(leaf.record_key.as_str(), (worker, index));
    }
    assert_eq!(
        worker_of_key.len(),
        WORKERS as usize,
        "one record key per worker"
    );
    let asked_workers: HashSet<u32> = asked.iter().map(|erasure| erasure.worker).collect();
    assert_eq!(asked_workers.len(), asked.len(), "each worker asked once");

    // Every acknowledged erasure is done, with the leaf its receipt names.
    for erasure in asked {
        let Some((leaf_index, leaf_hash)) = &erasure.receipt else {
            continue;
        };
        let worker = erasure.worker;
        let index = i64::try_from(*leaf_index).expect("index");
        let leaf = leaves.get(&index).unwrap_or_else(|| {
            panic!("acknowledged erasure of {worker}: no leaf at its receipt's index {index}")
        });
        assert_eq!(
            &leaf.leaf_hash, leaf_hash,
            "acknowledged erasure of {worker}: the leaf at {index} is not the one receipted"
        );
        assert_eq!(
            (leaf.method.as_str(), leaf.outcome.as_str()),
            (ERASE, "allow"),
            "acknowledged erasure of {worker}: the leaf at {index} is not an erasure's"
        );
        assert_eq!(
            worker_of_key.get(leaf.record_key.as_str()).map(|(w, _)| *w),
            Some(worker),
            "acknowledged erasure of {worker}: the leaf at {index} erases another record"
        );
        assert!(
            !by_id.contains_key(placement(worker).placement_id.as_str()),
            "acknowledged erasure of {worker} (leaf {index}): its placement is still stored"
        );
        assert!(
            remembered.binary_search(&index).is_ok(),
            "acknowledged erasure of {worker} (leaf {index}) is not remembered"
        );
    }

    // No erasure leaf without its erasure: of a worker asked for, whose placement is gone,
    // after its push's leaf, remembered at the leaf's index.
    for (record_key, &index) in &erased {
        let &(worker, pushed_at) = worker_of_key
            .get(record_key)
            .unwrap_or_else(|| panic!("the erasure leaf {index} erases record {record_key}"));
        assert!(
            asked_workers.contains(&worker),
            "worker {worker} erased at {index}, never asked for"
        );
        assert!(
            pushed_at < index,
            "worker {worker} erased at {index}, before its push at {pushed_at}"
        );
        assert!(
            !by_id.contains_key(placement(worker).placement_id.as_str()),
            "worker {worker} erased at {index}: its placement is still stored"
        );
        assert!(
            remembered.binary_search(&index).is_ok(),
            "worker {worker} erased at {index}: the erasure is not remembered"
        );
    }
    // No erasure without its leaf: each remembered one is at an erasure leaf, one each.
    let mut erasure_indexes: Vec<i64> = erased.values().copied().collect();
    erasure_indexes.sort_unstable();
    assert_eq!(
        remembered, erasure_indexes,
        "the erasures remembered are not those of the erasure leaves"
    );
    // No worker erased without an erasure leaf: a worker whose placement is gone has its leaf
    // (which, above, it was asked for).
    for (record_key, &(worker, _)) in &worker_of_key {
        if !by_id.contains_key(placement(worker).placement_id.as_str()) {
            assert!(
                erased.contains_key(record_key),
                "worker {worker}'s placement is gone without an erasure leaf"
            );
        }
    }

    let acknowledged = asked.iter().filter(|e| e.receipt.is_some()).count();
    let done_unanswered = asked
        .iter()
        .filter(|e| e.receipt.is_none())
        .filter(|e| !by_id.contains_key(placement(e.worker).placement_id.as_str()))
        .count();
    eprintln!(
        "{} erasures asked: {acknowledged} acknowledged, {} not ({done_unanswered} of them \
         committed); {} erasure leaves",
        asked.len(),
        asked.len() - acknowledged,
        erased.len()
    );
}
