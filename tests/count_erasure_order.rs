//! No QueryAvailability answer drawn from a worker's data is logged after that worker's
//! erasure, on SQLite and PostgreSQL over real mutual TLS.
//!
//! The attack: a count is read from the in-memory index while the worker's erasure waits for
//! its turn to write, and the count's leaf then commits after the erasure's, in a later group
//! or in the same group behind it. The test stages that race deterministically: a second store
//! on the exchange's database holds the log's head (`hold_writer`), so the exchange's writer
//! waits with the erasure as its group; counts are read meanwhile (the index still holds the
//! worker) and queue their leaves behind it; a second erasure queues among them, so that some
//! counts are in its group, after it. Then the hold is released.
//!
//! For every count: the counts being noise-free, its total is exactly the workers not erased
//! before it in the log, so a count logged after an erasure (a greater leaf index) reflects it.

use std::time::Duration;

use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{self, AvailabilityFilter, GroupBy, QueryAvailabilityRequest};
use jembatan_store::Store;
use jembatan_store::test_door::RawPool;
use jembatan_tests::placements::{as_kp2mi, placement, placements, push, stated, workforce};
use jembatan_tests::store::hold_writer;
use jembatan_tests::{RunningExchange, TestPki, config, open_store};
use tokio::task::JoinHandle;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    no_count_drawn_from_a_worker_is_logged_after_the_workers_erasure,
);

/// Workers pushed.
const WORKERS: u32 = 24;
/// Rounds of the attack, each erasing two workers.
const ROUNDS: u32 = 3;
/// The questions asked in each round: each before the round's second erasure, and again
/// after it. Different groupings, so that each is counted, not answered from the last count.
const GROUPINGS: [&[GroupBy]; 4] = [
    &[],
    &[GroupBy::Province],
    &[GroupBy::Sex],
    &[GroupBy::DestinationCountry, GroupBy::Occupation],
];
/// Time for calls made to the exchange to reach its writer's queue (their reads are in
/// memory), where they wait while the writer is held.
const SETTLE: Duration = Duration::from_millis(250);

/// A count as answered: where its leaf landed, the change it reflects, its total.
#[derive(Debug, Clone, Copy)]
struct Count {
    round: u32,
    leaf: u64,
    change: u64,
    total: Option<u64>,
}

/// An erasure as answered: the worker and where its leaf landed.
#[derive(Debug, Clone, Copy)]
struct Erasure {
    round: u32,
    worker: u32,
    leaf: u64,
}

/// Counts without noise, shown from 5 workers on, following changes when a count asks for
/// them, not on a timer (as in tests/placements.rs).
fn exact_counts(config: &mut jembatan_server::Config) {
    config.placements.count_noise = vec![1];
    config.placements.count_minimum_workers = 5;
    config.placements.count_refresh_ms = 3_600_000;
}

/// Starts a count of every worker grouped by `group_by`, from the index as it is
/// (`min_change` 0).
fn start_count(
    kemendag: &jembatan_client::Client,
    round: u32,
    group_by: &[GroupBy],
) -> JoinHandle<Count> {
    let mut client = workforce(kemendag);
    let request = stated(
        Purpose::Statistics,
        LegalBasis::PublicTask,
        QueryAvailabilityRequest {
            filter: Some(AvailabilityFilter::default()),
            group_by: group_by.iter().copied().map(i32::from).collect(),
            min_change: 0,
        },
    );
    tokio::spawn(async move {
        let counted = client
            .query_availability(request)
            .await
            .expect("query availability")
            .into_inner();
        Count {
            round,
            leaf: counted.receipt.expect("a count's receipt").leaf_index,
            change: counted.change,
            total: counted.total,
        }
    })
}

/// Starts the erasure of worker `worker`.
fn start_erasure(kp2mi: &jembatan_client::Client, round: u32, worker: u32) -> JoinHandle<Erasure> {
    let mut client = placements(kp2mi);
    let request = as_kp2mi(v1::ErasePersonalDataRequest {
        nik: placement(worker).nik,
        request_ref: format!("PDP/2026/{worker:04}"),
    });
    tokio::spawn(async move {
        let erased = client
            .erase_personal_data(request)
            .await
            .expect("erase personal data")
            .into_inner();
        assert_eq!(erased.placements_erased, 1, "worker {worker}");
        Erasure {
            round,
            worker,
            leaf: erased.receipt.expect("an erasure's receipt").leaf_index,
        }
    })
}

/// Waits until a write of the exchange waits for the log's head that `store` holds: on
/// PostgreSQL, a session of the database waiting for a lock; SQLite does not say, so there a
/// while.
async fn until_a_write_waits(store: &Store) {
    const WAITING: &str = "SELECT COUNT(*) FROM pg_stat_activity \
                           WHERE datname = current_database() AND wait_event_type = 'Lock'";
    match store.raw_pool() {
        RawPool::Sqlite(_) => tokio::time::sleep(SETTLE).await,
        RawPool::Postgres(pool) => {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let waiting: i64 = sqlx::query_scalar(WAITING)
                    .fetch_one(pool)
                    .await
                    .expect("read pg_stat_activity");
                if waiting > 0 {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no write of the exchange waited for the held log"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

async fn no_count_drawn_from_a_worker_is_logged_after_the_workers_erasure(
    pki: &TestPki,
    url: &str,
) {
    let mut config = config(pki, url, "");
    exact_counts(&mut config);
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi");
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect kemendag");
    let pushed = push(&kp2mi, (0..WORKERS).map(placement).collect()).await;
    assert_eq!(pushed.summary.expect("summary").stored, WORKERS);
    // The index reflects the push before the attack starts.
    let before = start_count(&kemendag, 0, &[]).await.expect("count task");
    assert_eq!(before.total, Some(u64::from(WORKERS)));

    let mut counts = Vec::new();
    let mut erasures = Vec::new();
    for round in 0..ROUNDS {
        let held = hold_writer(&store, u64::from(round)).await;
        // The first erasure is the exchange's next group, waiting for the held log.
        let first = start_erasure(&kp2mi, round, 2 * round);
        until_a_write_waits(&store).await;
        // Counts read now still count both workers; their leaves queue behind the erasure...
        let mut asked: Vec<JoinHandle<Count>> = GROUPINGS
            .iter()
            .map(|group_by| start_count(&kemendag, round, group_by))
            .collect();
        tokio::time::sleep(SETTLE).await;
        // ...and the second erasure queues among them: the next group takes the queued writes
        // lane by lane, so counts follow it in its own transaction.
        let second = start_erasure(&kp2mi, round, 2 * round + 1);
        tokio::time::sleep(SETTLE).await;
        asked.extend(
            GROUPINGS
                .iter()
                .map(|group_by| start_count(&kemendag, round, group_by)),
        );
        tokio::time::sleep(SETTLE).await;
        held.release().await;
        for erasure in [first, second] {
            erasures.push(erasure.await.expect("erasure task"));
        }
        for count in asked {
            counts.push(count.await.expect("count task"));
        }
    }

    // The race was staged: every count of a round, read before the round's first erasure
    // committed, was queued behind it.
    for count in &counts {
        let first = erasures
            .iter()
            .find(|e| e.round == count.round && e.worker == 2 * count.round)
            .expect("the round's first erasure");
        assert!(
            count.leaf > first.leaf,
            "the race was not staged: {count:?} was logged before {first:?}"
        );
    }
    // The property: no count logged after an erasure is drawn from data the erasure removed.
    // The counts are noise-free, so a count reflects exactly the erasures before it in the log.
    // (Its `change` may be lower than such an erasure's leaf: this exchange's own erasures are
    // applied to its index at once, ahead of the changes it has followed.)
    for count in &counts {
        assert!(
            count.change < count.leaf,
            "{count:?} claims to reflect a change at or after its own leaf"
        );
        let erased_before = erasures.iter().filter(|e| e.leaf < count.leaf).count();
        assert_eq!(
            count.total,
            Some(u64::from(WORKERS) - erased_before as u64),
            "{count:?} counts a worker erased before it in the log ({erasures:?})"
        );
    }
    exchange.stop().await;
}
