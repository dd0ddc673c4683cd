//! The audit log's storage on SQLite and PostgreSQL: leaves appended in the caller's
//! transaction, a sequencer that stores subtree roots once and signs checkpoints, proofs served
//! from stored hashes, and tables that refuse UPDATE and DELETE.

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle::{self, Hash};
use jembatan_audit::note::SignerKey;
use jembatan_store::test_door::RawPool;
use std::time::Duration;

use jembatan_store::{Store, StoreError, StoreLocation, StoreOptions, WriteTicket};
use jembatan_tests::store::{WriteError, hold_writer, placement_record, queue, stored_placements};
use jembatan_tests::{PgDatabase, TestPki, open_store, placement_leaf, store_location};

const ORIGIN: &str = "jembatan.test.jembatan.local/audit";

jembatan_tests::on_both_databases!(
    leaves_integrate_into_signed_checkpoints_with_proofs,
    writers_take_turns_in_order_and_give_up_after_the_timeout,
    audit_tables_refuse_update_and_delete,
    a_head_behind_its_leaves_is_corruption_not_a_conflict,
    a_clock_that_jumps_back_never_dates_a_checkpoint_before_the_last,
    leaves_are_found_by_hash_in_every_bucket,
);

/// The leaf-hash index is keyed by bucket of 4,096 leaves (migration 0009): a leaf is found by
/// its hash in the first bucket, in a middle one and in the last, partly filled one; a hash
/// logged twice gives its first leaf; an unknown hash none. On SQLite the lookup must go
/// through the index (a by-hash proof that scans the log would let any auditor load the
/// exchange); PostgreSQL's plan depends on its statistics and was checked on a million leaves.
async fn leaves_are_found_by_hash_in_every_bucket(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    assert_eq!(
        store.leaf_index(&leaf_hashes(1)[0]).await.expect("lookup"),
        None,
        "an empty log"
    );
    append(&store, 0, 5_000).await;
    append(&store, 5_000, 4_000).await;
    // Leaf 9,000 is leaf 4,100 logged again, in the third bucket.
    append(&store, 4_100, 1).await;
    let hashes = leaf_hashes(9_000);
    for index in [0, 4_095, 4_096, 8_191, 8_192, 8_999] {
        assert_eq!(
            store.leaf_index(&hashes[index]).await.expect("lookup"),
            Some(index as u64),
            "leaf {index}"
        );
    }
    assert_eq!(
        store.leaf_index(&hashes[4_100]).await.expect("lookup"),
        Some(4_100),
        "the first of two equal leaves"
    );
    assert_eq!(
        store.leaf_index(&[7u8; 32]).await.expect("lookup"),
        None,
        "a hash never logged"
    );
    if let RawPool::Sqlite(pool) = store.raw_pool() {
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            jembatan_store::test_door::LEAF_BY_HASH
        )))
        .bind(vec![7u8; 32])
        .fetch_all(pool)
        .await
        .expect("plan");
        assert!(
            plan.iter()
                .any(|(_, _, _, step)| step.contains("USING COVERING INDEX audit_leaves_hash")),
            "the lookup searches the bucketed index: {plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|(_, _, _, step)| step.starts_with("SCAN audit_leaves")),
            "the lookup scans no leaves: {plan:?}"
        );
    }
    store.close().await;
}

/// The wall clock jumps back an hour between two checkpoints (an NTP step, a VM restored):
/// the later checkpoint is recorded at the earlier one's time, never before it; once the clock
/// has caught up, checkpoints take its time again.
async fn a_clock_that_jumps_back_never_dates_a_checkpoint_before_the_last(
    pki: &TestPki,
    url: &str,
) {
    let store = open_store(pki, url).await;
    let log = SignerKey::generate(ORIGIN).expect("key");
    let noon =
        time::OffsetDateTime::from_unix_timestamp(1_796_212_800).expect("2026-12-02 12:00 UTC");
    let first = store
        .integrate_at(&log, ORIGIN, 1000, noon)
        .await
        .expect("integrate")
        .expect("the empty tree");
    assert_eq!(first.signed_at, "2026-12-02T12:00:00.000Z");
    append(&store, 0, 3).await;
    let behind = store
        .integrate_at(&log, ORIGIN, 1000, noon - time::Duration::hours(1))
        .await
        .expect("integrate")
        .expect("three leaves");
    assert_eq!(
        behind.signed_at, first.signed_at,
        "not dated before the checkpoint it follows"
    );
    append(&store, 3, 2).await;
    let caught_up = store
        .integrate_at(&log, ORIGIN, 1000, noon + time::Duration::minutes(1))
        .await
        .expect("integrate")
        .expect("two more");
    assert_eq!(caught_up.signed_at, "2026-12-02T12:01:00.000Z");
    let stored = store
        .checkpoint(Some(3))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.signed_at, first.signed_at, "as stored");
    store.close().await;
}

/// An operator who winds the log's head back cannot make the exchange overwrite or retry into
/// stored leaves: the next write fails as corruption, for the operator to see, and stores nothing.
async fn a_head_behind_its_leaves_is_corruption_not_a_conflict(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    append(&store, 0, 3).await;
    let rewind = "UPDATE audit_head SET next_index = 1 WHERE singleton = 1";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query(rewind).execute(pool).await.map(|_| ()),
        RawPool::Postgres(pool) => sqlx::query(rewind).execute(pool).await.map(|_| ()),
    }
    .expect("rewind the head");
    let error = store
        .log(WriteTicket::new("kp2mi"), vec![placement_leaf(9)])
        .await
        .expect_err("a leaf index is taken");
    // The group holding the write failed as a whole; its cause is the corruption.
    let cause = match &error {
        StoreError::Group(cause) => cause.as_ref(),
        other => other,
    };
    assert!(matches!(cause, StoreError::Corrupt(_)), "{error}");
    assert_eq!(
        store.log_size().await.expect("size"),
        1,
        "nothing was written"
    );
    store.close().await;
}

async fn postgres() -> (PgDatabase, Store) {
    let db = PgDatabase::create().await;
    let location = StoreLocation::parse(&db.url).expect("location");
    let store = Store::open(&location, StoreOptions::default())
        .await
        .expect("open");
    (db, store)
}

/// Writers arriving one after another take the log in the order they arrived, however long
/// each holds the writer; writes queued behind a held writer commit after it, in turn per lane
/// and in order of arrival within one; one still queued past the store's timeout gives up as
/// busy, one past its caller's deadline as such, and neither is done.
async fn writers_take_turns_in_order_and_give_up_after_the_timeout(pki: &TestPki, url: &str) {
    let location = store_location(pki, url);
    let options = StoreOptions {
        max_connections: 3,
        acquire_timeout: Duration::from_secs(3),
    };
    let store = Store::open(&location, options).await.expect("open");
    let mut writers = Vec::new();
    for n in 0..12u64 {
        let store = store.clone();
        writers.push(queue(async move {
            store
                .write(WriteTicket::new("kp2mi"), move |write| {
                    Box::pin(async move {
                        let first = write.first_leaf_index();
                        tokio::time::sleep(Duration::from_millis(40)).await;
                        Ok::<_, StoreError>((first, vec![placement_leaf(n)]))
                    })
                })
                .await
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut indexes = Vec::new();
    for writer in writers {
        let (first, receipts) = writer.await.expect("writer task").expect("a writer failed");
        assert_eq!(receipts.len(), 1);
        assert_eq!(
            receipts[0].leaf_index, first,
            "the write was told its index"
        );
        indexes.push(first);
    }
    assert_eq!(indexes, (0..12).collect::<Vec<u64>>(), "turns out of order");

    // Two lanes queued behind a held writer, interleaved: each lane in its order of arrival.
    let held = hold_writer(&store, 99).await;
    let lanes = [
        "kp2mi", "kp2mi", "kemendag", "kp2mi", "kemendag", "kemendag", "kp2mi",
    ];
    let mut writers = Vec::new();
    for (n, lane) in (100u64..).zip(lanes) {
        let store = store.clone();
        writers.push((
            lane,
            queue(async move {
                store
                    .log(WriteTicket::new(lane), vec![placement_leaf(n)])
                    .await
            }),
        ));
    }
    assert_eq!(held.release().await.leaf_index, 12);
    let mut by_lane: Vec<(&str, u64)> = Vec::new();
    for (lane, writer) in writers {
        let receipts = writer.await.expect("writer task").expect("a writer failed");
        by_lane.push((lane, receipts[0].leaf_index));
    }
    let mut all: Vec<u64> = by_lane.iter().map(|(_, index)| *index).collect();
    for lane in ["kp2mi", "kemendag"] {
        let indexes: Vec<u64> = by_lane
            .iter()
            .filter(|(l, _)| *l == lane)
            .map(|(_, index)| *index)
            .collect();
        assert!(indexes.is_sorted(), "{lane} out of order: {indexes:?}");
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (13..20).collect::<Vec<u64>>(),
        "gapless after the holder"
    );
    store.close().await;

    let impatient = StoreOptions {
        max_connections: 3,
        acquire_timeout: Duration::from_millis(200),
    };
    let store = Store::open(&location, impatient).await.expect("open");
    let size = store.log_size().await.expect("size");
    let held = hold_writer(&store, 200).await;
    let waited = std::time::Instant::now();
    let busy = {
        let store = store.clone();
        queue(async move {
            store
                .log(WriteTicket::new("kp2mi"), vec![placement_leaf(201)])
                .await
        })
    };
    let late = {
        let store = store.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        queue(async move {
            store
                .write(
                    WriteTicket::new("kemendag").until(Some(deadline)),
                    |write| {
                        Box::pin(async move {
                            write.upsert_placements(&[placement_record(202)]).await?;
                            Ok::<_, StoreError>(((), vec![placement_leaf(202)]))
                        })
                    },
                )
                .await
        })
    };
    // The holder keeps the writer past both the store's timeout and the caller's deadline.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(held.release().await.leaf_index, size, "the holder commits");
    let refused = busy
        .await
        .expect("writer task")
        .expect_err("a queued writer got a turn past the timeout");
    assert!(
        matches!(refused, StoreError::Busy { .. }),
        "a writer without a turn is told the store is busy: {refused}"
    );
    let late = late
        .await
        .expect("writer task")
        .expect_err("a queued writer got a turn past its deadline");
    assert!(
        matches!(late, StoreError::DeadlineExceeded),
        "a writer past its deadline is told so: {late}"
    );
    assert!(waited.elapsed() < Duration::from_secs(2));
    assert_eq!(
        store.log_size().await.expect("size"),
        size + 1,
        "only the holder's leaf"
    );
    assert!(
        stored_placements(&store).await.is_empty(),
        "the late write's data work was not done"
    );
    let receipts = store
        .log(WriteTicket::new("kp2mi"), vec![placement_leaf(203)])
        .await
        .expect("a turn after the holder ended");
    assert_eq!(receipts[0].leaf_index, size + 1);
    store.close().await;
}

/// Appends `count` leaves numbered from `from` in one committed transaction.
async fn append(store: &Store, from: u64, count: u64) -> Vec<jembatan_store::Receipt> {
    let entries: Vec<LeafEntry> = (from..from + count).map(placement_leaf).collect();
    store
        .log(WriteTicket::new("kp2mi").records(entries.len()), entries)
        .await
        .expect("append")
}

fn leaf_hashes(count: u64) -> Vec<Hash> {
    (0..count)
        .map(|n| merkle::leaf_hash(&placement_leaf(n).to_bytes()))
        .collect()
}

async fn leaves_integrate_into_signed_checkpoints_with_proofs(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let log = SignerKey::generate(ORIGIN).expect("key");
    let empty = store
        .integrate(&log, ORIGIN, 1000)
        .await
        .expect("integrate")
        .expect("first");
    assert_eq!((empty.size, empty.root), (0, merkle::empty_root()));
    assert!(
        store
            .integrate(&log, ORIGIN, 1000)
            .await
            .expect("integrate")
            .is_none(),
        "nothing new"
    );

    let receipts = append(&store, 0, 700).await;
    assert_eq!(receipts[699].leaf_index, 699);
    assert_eq!(receipts[5].leaf_hash, leaf_hashes(6)[5]);
    // A write that fails leaves no leaf and no gap.
    let failed = store
        .write(WriteTicket::new("kp2mi"), |write| {
            Box::pin(async move {
                let first = write.first_leaf_index();
                Err::<((), _), _>(WriteError::Refused(if first == 700 {
                    "at 700"
                } else {
                    "elsewhere"
                }))
            })
        })
        .await
        .expect_err("the write failed");
    assert!(
        matches!(failed, WriteError::Refused("at 700")),
        "the write was told its first leaf's index: {failed:?}"
    );
    append(&store, 700, 300).await;

    // At most 600 leaves per round: two rounds reach 1000.
    let first = store
        .integrate(&log, ORIGIN, 600)
        .await
        .expect("integrate")
        .expect("new");
    let second = store
        .integrate(&log, ORIGIN, 600)
        .await
        .expect("integrate")
        .expect("new");
    assert_eq!((first.size, second.size), (600, 1000));
    let hashes = leaf_hashes(1000);
    assert_eq!(
        second.root,
        merkle::root(hashes.as_slice(), 1000).expect("root")
    );
    let latest = store.checkpoint(None).await.expect("read").expect("latest");
    assert_eq!(latest, second);
    let checkpoint = latest
        .note
        .verify_checkpoint(&log.verifier())
        .expect("signature");
    assert_eq!((checkpoint.size, checkpoint.root), (1000, second.root));

    for index in [0, 1, 599, 600, 777, 999] {
        let proof = store.inclusion_proof(index, 1000).await.expect("proof");
        merkle::verify_inclusion(index, 1000, &hashes[index as usize], &proof, &second.root)
            .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
    }
    let proof = store.consistency_proof(600, 1000).await.expect("proof");
    merkle::verify_consistency(600, 1000, &first.root, &second.root, &proof).expect("consistent");
    assert!(
        store.inclusion_proof(1000, 1000).await.is_err(),
        "outside the tree"
    );
    store.close().await;
}

async fn audit_tables_refuse_update_and_delete(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let log = SignerKey::generate(ORIGIN).expect("key");
    append(&store, 0, 4).await;
    store.integrate(&log, ORIGIN, 100).await.expect("integrate");
    let pool_sql = [
        "UPDATE audit_leaves SET purpose = 'AUDIT' WHERE leaf_index = 1",
        "DELETE FROM audit_leaves WHERE leaf_index = 3",
        "UPDATE audit_nodes SET hash = hash WHERE level = 1",
        "DELETE FROM audit_nodes",
        "UPDATE audit_checkpoints SET note = '' WHERE tree_size = 4",
        "DELETE FROM audit_checkpoints",
    ];
    for sql in pool_sql {
        let result = match store.raw_pool() {
            RawPool::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            RawPool::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        };
        let error = result.expect_err(sql).to_string();
        assert!(error.contains("insert-only"), "{sql}: {error}");
    }
    store.close().await;
}

#[tokio::test]
async fn postgres_one_sequencer_at_a_time() {
    let (_db, store) = postgres().await;
    let log = SignerKey::generate(ORIGIN).expect("key");
    append(&store, 0, 10).await;
    // Hold the sequencer's lock in another session, as a second server process would.
    let RawPool::Postgres(pool) = store.raw_pool() else {
        unreachable!()
    };
    let mut other = pool.begin().await.expect("begin");
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(0x6a65_6d62_6175_6474_i64)
        .fetch_one(&mut *other)
        .await
        .expect("lock");
    assert!(held);
    assert!(
        store
            .integrate(&log, ORIGIN, 100)
            .await
            .expect("integrate")
            .is_none()
    );
    other.rollback().await.expect("release");
    let checkpoint = store
        .integrate(&log, ORIGIN, 100)
        .await
        .expect("integrate")
        .expect("new");
    assert_eq!(checkpoint.size, 10);
    store.close().await;
}
