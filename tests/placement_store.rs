//! Placement listings in the store on SQLite and PostgreSQL: pages read the table window by
//! window, so a sparse filter over a table larger than one window still lists every match once,
//! in order, by row id and by change.

use jembatan_store::{
    CandidateOrder, LoggedWrite, PlacementFilter, Receipt, StoreError, WriteTicket,
};
use jembatan_tests::store::{
    HeldWriter, WriteError, hold_writer, placement_record as record, queue, store_placements,
    stored_placements,
};
use jembatan_tests::{TestPki, open_store, placement_leaf};

/// More than two of the store's listing windows (10,000 positions each).
const RECORDS: u64 = 25_000;

jembatan_tests::on_both_databases!(
    sparse_filters_list_every_match_across_windows,
    data_work_is_committed_only_with_its_leaves,
);

async fn sparse_filters_list_every_match_across_windows(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    // Placements are stored only with their leaves: one per record, as a push logs them.
    let receipts = store_placements(&store, 0..RECORDS).await;
    assert_eq!(receipts.len(), RECORDS as usize);

    let filter = PlacementFilter {
        return_to: Some("2026-12-31".into()),
        consented_to: Some("BUSINESS_MATCHING".into()),
        ..PlacementFilter::default()
    };
    let expected: Vec<String> = (0..RECORDS)
        .filter(|n| n.is_multiple_of(997))
        .map(|n| format!("{n:032x}"))
        .collect();
    assert_eq!(expected.len(), 26);

    for by_change in [false, true] {
        let mut listed = Vec::new();
        let mut position = 0;
        let mut pages = 0;
        loop {
            let order = if by_change {
                CandidateOrder::AfterChange(position)
            } else {
                CandidateOrder::AfterId(position)
            };
            let page = store.candidates(&filter, order, 10).await.expect("page");
            assert!(page.rows.len() <= 10);
            listed.extend(page.rows.into_iter().map(|row| row.record_key));
            pages += 1;
            assert!(pages < 100, "the listing does not end");
            match page.resume_after {
                Some(next) => {
                    assert!(next > position, "the listing goes on from where it was");
                    position = next;
                }
                None => break,
            }
        }
        assert_eq!(listed, expected, "by change: {by_change}");
    }
    store.close().await;
}

/// A placement write of `record(n)` in lane `kp2mi`, logged with `placement_leaf(n)` when
/// `logged`, else returning no leaves; it answers the index its first leaf was to get.
fn upsert(
    n: u64,
    logged: bool,
) -> impl for<'w> FnOnce(&'w mut LoggedWrite) -> jembatan_store::Work<'w, u64, WriteError> + Send + 'static
{
    move |write| {
        Box::pin(async move {
            write.upsert_placements(&[record(n)]).await?;
            let leaves = if logged {
                vec![placement_leaf(n)]
            } else {
                Vec::new()
            };
            Ok((write.first_leaf_index(), leaves))
        })
    }
}

/// The one logged write: placements written without leaves, by a write that fails, or by one
/// whose caller gave up before it ran, are not stored; with their leaves they are, at the
/// indexes the write foretold.
async fn data_work_is_committed_only_with_its_leaves(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let ticket = || WriteTicket::new("kp2mi");

    let (_, receipts) = store
        .write(ticket(), upsert(1, false))
        .await
        .expect("a write without leaves is answered");
    assert!(receipts.is_empty(), "{receipts:?}");
    let refused = store
        .write(ticket(), |write| {
            Box::pin(async move {
                write.upsert_placements(&[record(3)]).await?;
                Err::<(u64, _), _>(WriteError::Refused("the write's own check"))
            })
        })
        .await
        .expect_err("the write refused");
    assert!(
        matches!(refused, WriteError::Refused("the write's own check")),
        "{refused:?}"
    );
    // A write whose caller gives up before its turn is never run.
    let held: HeldWriter = hold_writer(&store, 100).await;
    let abandoned = {
        let store = store.clone();
        queue(async move { store.write(ticket(), upsert(2, true)).await })
    };
    abandoned.abort();
    assert!(
        abandoned.await.expect_err("aborted").is_cancelled(),
        "the caller gave up"
    );
    let holder: Receipt = held.release().await;
    assert_eq!(holder.leaf_index, 0);
    assert!(
        stored_placements(&store).await.is_empty(),
        "unlogged work was stored"
    );
    let everything = store
        .candidates(&PlacementFilter::default(), CandidateOrder::AfterId(0), 100)
        .await
        .expect("list");
    assert!(everything.rows.is_empty());
    assert_eq!(
        store.log_size().await.expect("size"),
        1,
        "the holder's leaf"
    );

    let (first, receipts) = store
        .write(ticket(), upsert(4, true))
        .await
        .expect("logged");
    assert_eq!(first, 1, "the write was told where its leaf goes");
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].leaf_index, 1);
    assert_eq!(stored_placements(&store).await, vec!["P-000004".to_owned()]);
    let (next, receipts) = store
        .write(ticket(), |write| {
            Box::pin(async move { Ok::<_, StoreError>((write.first_leaf_index(), Vec::new())) })
        })
        .await
        .expect("a look at the head");
    assert!(receipts.is_empty());
    assert_eq!(next, 2, "the next write starts after the log");
    store.close().await;
}
