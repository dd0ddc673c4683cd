//! SQLite on a disk that fills up while KP2MI pushes: the push that no longer fits fails with
//! UNAVAILABLE and a message that says nothing was stored; nothing is half-written (every
//! stored placement has its leaf, every acknowledged push is stored whole, no push's leaf
//! without its records); the exchange keeps answering health checks (every read of data is
//! logged, so reads fail closed with writes while the disk is full); and once space returns,
//! the refused push goes through without a restart and the log verifies.
//!
//! The disk is a tmpfs the test mounts (the test runs as root, as CI does).

use std::path::{Path, PathBuf};
use std::process::Command;

use jembatan_audit::leaf::LeafEntry;
use jembatan_client::{Client, ServingStatus};
use jembatan_proto::v1::PushPlacementsRequest;
use jembatan_store::{LeafFilter, StoreError, WriteTicket};
use jembatan_tests::placements::{as_kp2mi, placement, placements};
use jembatan_tests::store::placement_record;
use jembatan_tests::{RunningExchange, TestPki, config, placement_leaf};
use tonic::Code;

/// Records per push.
const BATCH: u32 = 100;
/// Pushes at most, so that a disk that never fills ends the test (and fails it).
const MAX_PUSHES: u32 = 500;

/// A tmpfs mounted for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            dir,
        );
        Tmpfs(dir.to_owned())
    }

    fn resize(&self, size: &str) {
        run("mount", &["-o", &format!("remount,size={size}")], &self.0);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let status = Command::new(program)
        .args(args)
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        status.success(),
        "{program} {args:?} {}: {status} (this test mounts a tmpfs and must run as root)",
        dir.display()
    );
}

/// Pushes placements `first..first + BATCH`: their receipts' leaf indexes, or the status.
async fn push(client: &Client, first: u32) -> Result<Vec<u64>, tonic::Status> {
    let answer = placements(client)
        .push_placements(as_kp2mi(PushPlacementsRequest {
            placements: (first..first + BATCH).map(placement).collect(),
            all_or_nothing: true,
        }))
        .await?
        .into_inner();
    Ok(answer
        .results
        .iter()
        .map(|result| {
            result
                .receipt
                .as_ref()
                .expect("a receipt per record")
                .leaf_index
        })
        .collect())
}

async fn serving(client: &Client) -> bool {
    matches!(client.health("").await, Ok(ServingStatus::Serving))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_whole_and_they_resume_when_space_returns() {
    let pki = TestPki::new();
    let disk = Tmpfs::mount(&pki.dir.path().join("disk"), "3M");
    let url = format!("sqlite://{}", disk.0.join("jembatan.db").display());
    let mut config = config(&pki, &url, "");
    // The store is under test, not the rates: pushes follow one another as fast as answered.
    config.limits.write_per_sec = 10_000.0;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");

    // Push until the disk is full.
    let mut acknowledged: Vec<(u32, Vec<u64>)> = Vec::new();
    let mut refused = None;
    for k in 0..MAX_PUSHES {
        let first = 1 + k * BATCH;
        match push(&kp2mi, first).await {
            Ok(leaves) => acknowledged.push((first, leaves)),
            Err(status) => {
                refused = Some((first, status));
                break;
            }
        }
    }
    let (refused_first, status) = refused.expect("the disk filled up");
    assert!(!acknowledged.is_empty(), "some pushes fit");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("nothing was stored"),
        "the caller is told nothing was taken: {}",
        status.message()
    );
    assert!(serving(&kp2mi).await, "the exchange still answers");

    // Space returns: the same push goes through, without a restart.
    disk.resize("64M");
    let retried = push(&kp2mi, refused_first)
        .await
        .expect("the refused push, once space is back");
    acknowledged.push((refused_first, retried));
    let after = refused_first + BATCH;
    acknowledged.push((after, push(&kp2mi, after).await.expect("and the next")));
    exchange.stop().await;

    // Nothing half-written: each acknowledged record is stored with the leaf its receipt
    // names; no placement leaf exists beyond them.
    let store = jembatan_tests::open_store(&pki, &url).await;
    let leaves: Vec<(u64, LeafEntry)> = store
        .list_leaves(&LeafFilter::default(), None, u64::MAX, 1_000_000)
        .await
        .expect("leaves")
        .into_iter()
        .map(|(index, bytes)| (index, LeafEntry::parse(&bytes).expect("leaf")))
        .collect();
    let pushed_leaves: Vec<u64> = leaves
        .iter()
        .filter(|(_, leaf)| {
            leaf.method == "PlacementService/PushPlacements" && leaf.status.is_empty()
        })
        .map(|(index, _)| *index)
        .collect();
    let mut receipted: Vec<u64> = acknowledged.iter().flat_map(|(_, l)| l.clone()).collect();
    receipted.sort_unstable();
    assert_eq!(
        pushed_leaves, receipted,
        "the push leaves are exactly the receipted ones: none of the refused push's first try"
    );
    let stored = jembatan_tests::store::stored_placements(&store).await;
    assert_eq!(
        stored.len(),
        acknowledged.len() * BATCH as usize,
        "every acknowledged record is stored, nothing else"
    );
    let size = store.log_size().await.expect("size");
    assert_eq!(size, leaves.len() as u64, "no gap in the log");
    let verified = jembatan_tests::verify_exported(&store, &pki).await;
    assert_eq!(verified.leaves, size);
    store.close().await;
}

/// The store alone: writes fail while the disk is full and succeed once it is not. Before
/// the store closed connections left inside a failed transaction, SQLite's own rollback of
/// the full transaction left the writer's one connection unable to begin another: every later
/// write failed until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_writes_again_once_space_returns() {
    let pki = TestPki::new();
    let disk = Tmpfs::mount(&pki.dir.path().join("disk"), "3M");
    let url = format!("sqlite://{}", disk.0.join("jembatan.db").display());
    let store = jembatan_tests::open_store(&pki, &url).await;
    let write = |n: u64| {
        let store = store.clone();
        async move {
            store
                .write(WriteTicket::new("kp2mi"), move |write| {
                    Box::pin(async move {
                        let records: Vec<_> = (n..n + 100).map(placement_record).collect();
                        write.upsert_placements(&records).await?;
                        let leaves = (n..n + 100).map(placement_leaf).collect();
                        Ok::<_, StoreError>(((), leaves))
                    })
                })
                .await
                .map(drop)
        }
    };
    let mut next = 0;
    let full = loop {
        assert!(next < 100_000, "the disk never filled");
        match write(next).await {
            Ok(()) => next += 100,
            Err(error) => break error,
        }
    };
    assert!(
        full.to_string().contains("full"),
        "the error says the disk is full: {full}"
    );
    assert!(write(next).await.is_err(), "still full");
    disk.resize("64M");
    write(next)
        .await
        .expect("space is back: the store writes again");
    write(next + 100).await.expect("and goes on");
    store.close().await;
}
