//! Group commit on SQLite and PostgreSQL: writes queued behind a held writer are committed many
//! to a transaction, yet each gets gapless receipts in the order of its own leaves; a write that
//! fails, or returns no leaves, is rolled back alone; lanes take turns, so one caller's bulk load
//! does not push another caller's write behind it; and rows read outside a write are checked
//! again inside one.

use std::sync::{Arc, Mutex};

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use jembatan_store::{
    CandidateOrder, CandidateRow, LoggedWrite, PlacementFilter, Receipt, Store, StoreError, Work,
    WriteChain, WriteTicket,
};
use jembatan_tests::store::{
    WriteError, hold_writer, placement_id, placement_record, queue, store_placements,
    stored_placements, transactions_of_leaves,
};
use jembatan_tests::{TestPki, open_store, placement_leaf};
use tokio::task::JoinHandle;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    grouped_writes_get_gapless_receipts_in_order,
    a_write_failing_in_a_group_fails_alone,
    a_write_without_leaves_changes_nothing,
    lanes_take_turns_within_groups,
    rows_read_outside_a_write_are_checked_again_inside,
    a_write_that_panics_is_told_so_and_its_group_rolled_back,
    chained_writes_stop_at_the_first_failure,
);

/// The messages of one stream, queued ahead as a chain: in one group, the write after a failing
/// one fails with `EarlierWriteFailed` and stores nothing, while the write before it and an
/// unchained write of the same lane commit; in a later group too (the chain holds across
/// groups); and a chain whose first write waited past its deadline stores nothing at all.
async fn chained_writes_stop_at_the_first_failure(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let held = hold_writer(&store, 9_999).await;
    let chain = WriteChain::new();
    let chained = |n, ending, records| {
        let ticket = WriteTicket::new("kp2mi").records(records).chained(&chain);
        let store = store.clone();
        queue(async move { store.write(ticket, upsert(n, ending)).await })
    };
    // 1, 2 and 4 share a group; 3 (1,998 records by its ticket) cannot join it, so it runs in
    // the next group, after 2 has failed and been answered.
    let one = chained(1, Ending::Logged, 1);
    let two = chained(2, Ending::Refused, 1);
    let unchained = queue_upsert(&store, "kp2mi", 4, Ending::Logged);
    let three = chained(3, Ending::Logged, 1_998);
    assert_eq!(held.release().await.leaf_index, 0);
    let (first, _) = answer(one).await.expect("the write before the failure");
    assert_eq!(first, 1);
    assert!(
        matches!(answer(two).await, Err(WriteError::Refused(_))),
        "the failing write fails with its own error"
    );
    answer(unchained).await.expect("a write outside the chain");
    let error = answer(three)
        .await
        .expect_err("the write after the failure, in a later group");
    assert!(
        matches!(error, WriteError::Store(StoreError::EarlierWriteFailed)),
        "{error:?}"
    );
    assert_eq!(
        stored_placements(&store).await,
        [1, 4].map(placement_id),
        "nothing after the failing write of the chain"
    );
    assert_eq!(store.log_size().await.expect("size"), 3, "holder, 1 and 4");

    // A chain whose first write waits past its caller's deadline.
    let held = hold_writer(&store, 9_998).await;
    let late = WriteChain::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(50);
    let queue_late = |n, ticket: WriteTicket| {
        let store = store.clone();
        let ticket = ticket.chained(&late);
        queue(async move { store.write(ticket, upsert(n, Ending::Logged)).await })
    };
    let expired = queue_late(5, WriteTicket::new("kp2mi").until(Some(deadline)));
    let after = queue_late(6, WriteTicket::new("kp2mi"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    held.release().await;
    assert!(
        matches!(
            answer(expired).await,
            Err(WriteError::Store(StoreError::DeadlineExceeded))
        ),
        "the first waited past its deadline"
    );
    assert!(
        matches!(
            answer(after).await,
            Err(WriteError::Store(StoreError::EarlierWriteFailed))
        ),
        "the next did not run"
    );
    assert_eq!(stored_placements(&store).await, [1, 4].map(placement_id));
    store.close().await;
}

/// Three writes sharing one group, the second's work panicking: every one of them is answered
/// (none is left to think the store stopped), the panicking one with `Panicked`, the others
/// with their group's failure; nothing of the group is stored, and the next write commits.
async fn a_write_that_panics_is_told_so_and_its_group_rolled_back(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let held = hold_writer(&store, 9_999).await;
    let writes: Vec<_> = [
        (1, Ending::Logged),
        (2, Ending::Panics),
        (3, Ending::Logged),
    ]
    .into_iter()
    .map(|(n, ending)| (ending, queue_upsert(&store, "kp2mi", n, ending)))
    .collect();
    assert_eq!(held.release().await.leaf_index, 0);
    for (ending, write) in writes {
        let error = answer(write).await.expect_err("the group was rolled back");
        match ending {
            Ending::Panics => assert!(
                matches!(error, WriteError::Store(StoreError::Panicked)),
                "{error:?}"
            ),
            _ => assert!(
                matches!(&error, WriteError::Store(StoreError::Group(cause)) if matches!(**cause, StoreError::Panicked)),
                "{error:?}"
            ),
        }
    }
    assert_eq!(
        store.log_size().await.expect("size"),
        1,
        "the holder's leaf only"
    );
    assert!(stored_placements(&store).await.is_empty());
    let (first, _) = answer(queue_upsert(&store, "kp2mi", 4, Ending::Logged))
        .await
        .expect("the next write commits");
    assert_eq!(first, 1);
    store.close().await;
}

/// How a test write of placement `n` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Logged with `placement_leaf(n)`.
    Logged,
    /// Ok, but with no leaves.
    NoLeaves,
    /// The work's own error.
    Refused,
    /// A statement that fails in the database (no such table), its error propagated.
    FailingStatement,
    /// The work panics (a fault of the exchange).
    Panics,
}

/// Work that upserts `placement_record(n)` and ends as `ending`; it answers the index its first
/// leaf was to get.
fn upsert(
    n: u64,
    ending: Ending,
) -> impl for<'w> FnOnce(&'w mut LoggedWrite) -> Work<'w, u64, WriteError> + Send + 'static {
    move |write| {
        Box::pin(async move {
            write.upsert_placements(&[placement_record(n)]).await?;
            let first = write.first_leaf_index();
            match ending {
                Ending::Logged => Ok((first, vec![placement_leaf(n)])),
                Ending::NoLeaves => Ok((first, Vec::new())),
                Ending::Refused => Err(WriteError::Refused("the write's own check")),
                Ending::FailingStatement => {
                    write
                        .execute_raw("INSERT INTO no_such_table VALUES (1)")
                        .await?;
                    Ok((first, vec![placement_leaf(n)]))
                }
                Ending::Panics => panic!("a fault in the work of write {n}"),
            }
        })
    }
}

type Answer<T, E> = JoinHandle<Result<(T, Vec<Receipt>), E>>;

/// Queues the placement write of `n` in `lane`, ending as `ending`.
fn queue_upsert(store: &Store, lane: &str, n: u64, ending: Ending) -> Answer<u64, WriteError> {
    let store = store.clone();
    let ticket = WriteTicket::new(lane);
    queue(async move { store.write(ticket, upsert(n, ending)).await })
}

/// Queues a write in `ticket`'s lane logging `leaves`, with no data work; it answers the index
/// its first leaf was to get.
fn queue_leaves(
    store: &Store,
    ticket: WriteTicket,
    leaves: Vec<LeafEntry>,
) -> Answer<u64, StoreError> {
    let store = store.clone();
    queue(async move {
        store
            .write(ticket, move |write| {
                Box::pin(async move { Ok::<_, StoreError>((write.first_leaf_index(), leaves)) })
            })
            .await
    })
}

/// Waits for a queued write's answer.
async fn answer<T, E>(write: Answer<T, E>) -> Result<(T, Vec<Receipt>), E> {
    write.await.expect("write task")
}

/// Checks that `receipts` are the receipts of `leaves`, contiguous from `first`, and that the
/// log stores each leaf's bytes at its index.
async fn assert_stored(store: &Store, first: u64, leaves: &[LeafEntry], receipts: &[Receipt]) {
    assert_eq!(receipts.len(), leaves.len(), "one receipt per leaf");
    for (k, (receipt, leaf)) in receipts.iter().zip(leaves).enumerate() {
        let bytes = leaf.to_bytes();
        assert_eq!(
            receipt.leaf_index,
            first + k as u64,
            "receipts are contiguous"
        );
        assert_eq!(receipt.leaf_hash, merkle::leaf_hash(&bytes));
        assert_eq!(
            store.leaf(receipt.leaf_index).await.expect("read leaf"),
            Some(bytes),
            "leaf {} is not the one submitted",
            receipt.leaf_index
        );
    }
}

/// Forty writes of one to five leaves in four lanes, queued behind a held writer and committed
/// in several groups (their records bound a group): all receipts together are exactly
/// `0..total`, each write's are contiguous in the order of its leaves and start where it was
/// told, each index stores the leaf submitted, and each lane commits in its order of arrival.
async fn grouped_writes_get_gapless_receipts_in_order(pki: &TestPki, url: &str) {
    const WRITES: u64 = 40;
    const LANES: u64 = 4;
    let store = open_store(pki, url).await;
    let held = hold_writer(&store, 9_999).await;
    let mut writes = Vec::new();
    for i in 0..WRITES {
        let leaves: Vec<LeafEntry> = (0..1 + i % 5)
            .map(|j| placement_leaf(100 * i + j))
            .collect();
        // About 100 records a leaf: the forty writes need several groups of 2,000 records.
        let ticket = WriteTicket::new(format!("lane-{}", i % LANES)).records(100 * leaves.len());
        let write = queue_leaves(&store, ticket, leaves.clone());
        writes.push((leaves, write));
    }
    assert_eq!(held.release().await.leaf_index, 0);

    let mut indexes = vec![0];
    let mut firsts_by_lane = vec![Vec::new(); LANES as usize];
    for (i, (leaves, write)) in writes.into_iter().enumerate() {
        let (first, receipts) = answer(write).await.expect("a grouped write failed");
        assert_eq!(
            receipts.first().map(|r| r.leaf_index),
            Some(first),
            "write {i} was told where its first leaf goes"
        );
        assert_stored(&store, first, &leaves, &receipts).await;
        indexes.extend(receipts.iter().map(|r| r.leaf_index));
        firsts_by_lane[i % LANES as usize].push(first);
    }
    let total = indexes.len() as u64;
    assert_eq!(total, 1 + (0..WRITES).map(|i| 1 + i % 5).sum::<u64>());
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..total).collect::<Vec<_>>(),
        "receipts not gapless"
    );
    assert_eq!(store.log_size().await.expect("size"), total);
    for (lane, firsts) in firsts_by_lane.iter().enumerate() {
        assert!(
            firsts.is_sorted(),
            "lane-{lane} out of arrival order: {firsts:?}"
        );
    }
    if let Some(transactions) = transactions_of_leaves(&store, 1).await {
        // One transaction per group: more than one (the records' bound), far fewer than writes.
        assert!(
            (2..WRITES as i64 / 2).contains(&transactions),
            "{WRITES} writes committed in {transactions} transactions"
        );
    }
    store.close().await;
}

/// Five writes sharing one group: one fails by its own error after upserting, one by a failing
/// statement (on PostgreSQL that aborts the whole transaction unless the write's savepoint is
/// rolled back); each fails with its own error, with no leaves and no placement stored, and the
/// three others commit, gapless, with their placements. The store's commit observer (the
/// exchange's metrics) is told of exactly the leaves committed, in log order.
async fn a_write_failing_in_a_group_fails_alone(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let observed: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let observer = Arc::clone(&observed);
    assert!(store.observe_commits(Box::new(move |leaves| {
        let mut seen = observer.lock().expect("observed");
        seen.extend(leaves.iter().map(|leaf| leaf.to_bytes()));
    })));
    let held = hold_writer(&store, 9_999).await;
    // One lane: taken in order of arrival, and five small writes make one group.
    let endings = [
        (1, Ending::Logged),
        (2, Ending::Refused),
        (3, Ending::Logged),
        (4, Ending::FailingStatement),
        (5, Ending::Logged),
    ];
    let writes: Vec<_> = endings
        .iter()
        .map(|&(n, ending)| (n, ending, queue_upsert(&store, "kp2mi", n, ending)))
        .collect();
    assert_eq!(held.release().await.leaf_index, 0);

    let mut next = 1;
    for (n, ending, write) in writes {
        let answered = answer(write).await;
        match ending {
            Ending::Logged => {
                let (first, receipts) =
                    answered.unwrap_or_else(|e| panic!("write {n} failed with another: {e:?}"));
                assert_eq!(first, next, "write {n}");
                assert_stored(&store, next, &[placement_leaf(n)], &receipts).await;
                next += 1;
            }
            Ending::Refused => {
                let error = answered.expect_err("the refusing write");
                assert!(
                    matches!(error, WriteError::Refused("the write's own check")),
                    "write {n}: {error:?}"
                );
            }
            Ending::FailingStatement => {
                let error = answered.expect_err("the failing statement's write");
                assert!(
                    matches!(error, WriteError::Store(StoreError::Database(_))),
                    "write {n} fails with its own statement's error: {error:?}"
                );
            }
            Ending::NoLeaves | Ending::Panics => unreachable!(),
        }
    }
    assert_eq!(store.log_size().await.expect("size"), 4, "holder and three");
    assert_eq!(
        stored_placements(&store).await,
        [1, 3, 5].map(placement_id),
        "only the writes that committed stored their placements"
    );
    let listed = store
        .candidates(&PlacementFilter::default(), CandidateOrder::AfterId(0), 10)
        .await
        .expect("list");
    let keys: Vec<String> = listed.rows.into_iter().map(|r| r.record_key).collect();
    assert_eq!(keys, [1u64, 3, 5].map(|n| format!("{n:032x}")));
    if let Some(transactions) = transactions_of_leaves(&store, 1).await {
        assert_eq!(transactions, 1, "the three committed together");
    }
    let mut committed = Vec::new();
    for index in 0..4 {
        committed.push(store.leaf(index).await.expect("read").expect("leaf"));
    }
    assert_eq!(
        *observed.lock().expect("observed"),
        committed,
        "the observer saw the committed leaves, in order, and none of the failed writes"
    );
    store.close().await;
}

/// A write returning no leaves is rolled back: alone, and between two writes of a group that
/// commit.
async fn a_write_without_leaves_changes_nothing(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let (first, receipts) = answer(queue_upsert(&store, "kp2mi", 1, Ending::NoLeaves))
        .await
        .expect("a write without leaves is answered");
    assert_eq!((first, receipts.len()), (0, 0));
    assert!(
        stored_placements(&store).await.is_empty(),
        "stored unlogged"
    );
    assert_eq!(store.log_size().await.expect("size"), 0);

    let held = hold_writer(&store, 9_999).await;
    let before = queue_upsert(&store, "kp2mi", 2, Ending::Logged);
    let unlogged = queue_upsert(&store, "kp2mi", 3, Ending::NoLeaves);
    let after = queue_upsert(&store, "kp2mi", 4, Ending::Logged);
    assert_eq!(held.release().await.leaf_index, 0);
    let (_, receipts) = answer(before).await.expect("before");
    assert_stored(&store, 1, &[placement_leaf(2)], &receipts).await;
    let (first, receipts) = answer(unlogged).await.expect("unlogged");
    assert_eq!(first, 2, "told the index its leaf would have had");
    assert!(receipts.is_empty());
    let (_, receipts) = answer(after).await.expect("after");
    assert_stored(&store, 2, &[placement_leaf(4)], &receipts).await;
    assert_eq!(store.log_size().await.expect("size"), 3);
    assert_eq!(
        stored_placements(&store).await,
        [2, 4].map(placement_id),
        "the write without leaves stored its placement"
    );
    store.close().await;
}

/// Thirty bulk writes of 1,000 records each, then one erasure, queued behind a held writer: the
/// erasure is in the first group after the holder (a group holds about 4,000 records, so only
/// a few bulk writes come before it), not behind all thirty as a first-come queue would put it.
async fn lanes_take_turns_within_groups(pki: &TestPki, url: &str) {
    const BULK: u64 = 30;
    let store = open_store(pki, url).await;
    let held = hold_writer(&store, 9_999).await;
    let bulk: Vec<_> = (0..BULK)
        .map(|n| {
            let ticket = WriteTicket::new("bulk").records(1_000);
            queue_leaves(&store, ticket, vec![placement_leaf(n)])
        })
        .collect();
    let erasure = queue_leaves(
        &store,
        WriteTicket::new("erasure"),
        vec![placement_leaf(500)],
    );
    assert_eq!(held.release().await.leaf_index, 0);

    let mut bulk_indexes = Vec::new();
    for (n, write) in (0..BULK).zip(bulk) {
        let (first, receipts) = answer(write).await.expect("bulk");
        assert_stored(&store, first, &[placement_leaf(n)], &receipts).await;
        bulk_indexes.push(first);
    }
    let (erased_at, receipts) = answer(erasure).await.expect("erasure");
    assert_stored(&store, erased_at, &[placement_leaf(500)], &receipts).await;
    assert!(
        bulk_indexes.is_sorted(),
        "bulk out of order: {bulk_indexes:?}"
    );
    assert!(
        erased_at < bulk_indexes[4],
        "the erasure (leaf {erased_at}) waited behind the bulk load: {bulk_indexes:?}"
    );
    let mut all = bulk_indexes.clone();
    all.push(erased_at);
    all.sort_unstable();
    assert_eq!(all, (1..=BULK + 1).collect::<Vec<_>>(), "gapless");
    store.close().await;
}

/// Whether `rows` are still as read, checked in a write (which logs nothing).
async fn still_as_read(store: &Store, rows: &[CandidateRow]) -> bool {
    let rows = rows.to_vec();
    let (as_read, receipts) = store
        .write(WriteTicket::new("kemendag"), move |write| {
            Box::pin(async move {
                let as_read = write.still_as_read(&rows, "BUSINESS_MATCHING").await?;
                Ok::<_, StoreError>((as_read, Vec::new()))
            })
        })
        .await
        .expect("check the rows");
    assert!(receipts.is_empty());
    as_read
}

/// Commits `work` (which logs one leaf) in lane `kp2mi`.
async fn logged<F>(store: &Store, work: F)
where
    F: for<'w> FnOnce(&'w mut LoggedWrite) -> Work<'w, (), StoreError> + Send + 'static,
{
    let ((), receipts) = store
        .write(WriteTicket::new("kp2mi"), work)
        .await
        .expect("logged write");
    assert_eq!(receipts.len(), 1);
}

/// The placement number of a row listed from [`placement_record`]s.
fn number(row: &CandidateRow) -> u64 {
    u64::from_str_radix(&row.record_key, 16).expect("record key")
}

/// A page read outside any write, then changed by another write before it is shared: the
/// check inside the sharing write sees a withdrawal of consent, an erasure and a record pushed
/// again; rows left as read pass.
async fn rows_read_outside_a_write_are_checked_again_inside(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    store_placements(&store, 1..7).await;
    let filter = PlacementFilter {
        consented_to: Some("BUSINESS_MATCHING".into()),
        ..PlacementFilter::default()
    };
    let page = async || {
        let page = store
            .candidates(&filter, CandidateOrder::AfterId(0), 10)
            .await
            .expect("page");
        assert_eq!(page.resume_after, None, "the table was read to its end");
        page.rows
    };
    let rows = page().await;
    assert_eq!(
        rows.iter().map(number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert!(still_as_read(&store, &rows).await, "nothing changed");

    // Consent withdrawn for placement 3 in a write between the read and the check.
    logged(&store, |write| {
        Box::pin(async move {
            write.set_consent(&placement_id(3), &[], false).await?;
            Ok(((), vec![placement_leaf(103)]))
        })
    })
    .await;
    assert!(
        !still_as_read(&store, &rows).await,
        "the withdrawal was missed"
    );
    let others: Vec<CandidateRow> = rows.iter().filter(|r| number(r) != 3).cloned().collect();
    assert!(
        still_as_read(&store, &others).await,
        "the other rows are as read"
    );

    let rows = page().await;
    assert_eq!(rows.iter().map(number).collect::<Vec<_>>(), [1, 2, 4, 5, 6]);
    assert!(still_as_read(&store, &rows).await);
    // The worker of placement 5 erased.
    let subject = placement_record(5).subject_key;
    logged(&store, move |write| {
        Box::pin(async move {
            let change = write.first_leaf_index();
            write
                .erase_subject(&subject, "2026-11-22T09:00:00Z", change)
                .await?;
            Ok(((), vec![placement_leaf(105)]))
        })
    })
    .await;
    assert!(
        !still_as_read(&store, &rows).await,
        "the erasure was missed"
    );
    assert!(!stored_placements(&store).await.contains(&placement_id(5)));

    let rows = page().await;
    assert_eq!(rows.iter().map(number).collect::<Vec<_>>(), [1, 2, 4, 6]);
    assert!(still_as_read(&store, &rows).await);
    // Placement 6 pushed again: a new version at a new change.
    logged(&store, |write| {
        Box::pin(async move {
            let again = jembatan_store::PlacementRecord {
                version: 2,
                change_seq: 1_000,
                ..placement_record(6)
            };
            write.upsert_placements(&[again]).await?;
            Ok(((), vec![placement_leaf(106)]))
        })
    })
    .await;
    assert!(
        !still_as_read(&store, &rows).await,
        "the new version was missed"
    );
    store.close().await;
}
