//! Placement listings in the store on SQLite and PostgreSQL: pages read the table window by
//! window, so a sparse filter over a table larger than one window still lists every match once,
//! in order, by row id and by change.

use jembatan_store::{CandidateOrder, PlacementFilter, PlacementRecord, Store};
use jembatan_tests::{TestPki, open_store};

/// More than two of the store's listing windows (10,000 positions each).
const RECORDS: u64 = 25_000;

jembatan_tests::on_both_databases!(
    sparse_filters_list_every_match_across_windows,
    data_work_is_committed_only_with_its_leaves,
);

/// Every 997th record returns in December 2026; the others in 2027.
fn record(n: u64) -> PlacementRecord {
    let sparse = n.is_multiple_of(997);
    PlacementRecord {
        placement_id: format!("P-{n:06}"),
        subject_key: format!("{n:064x}"),
        record_key: format!("{n:032x}"),
        salt: vec![0; 16],
        digest: vec![0; 32],
        version: 1,
        updated_at: "2026-01-01T00:00:00Z".into(),
        profile: Vec::new(),
        sex: "FEMALE".into(),
        origin_province: "35".into(),
        origin_regency: "35.07".into(),
        occupation_code: "5322".into(),
        destination_country: "TW".into(),
        status: "WORKING".into(),
        return_date: Some(if sparse { "2026-12-01" } else { "2027-06-01" }.into()),
        wants_to_export: false,
        certificate_schemes: Vec::new(),
        languages: Vec::new(),
        hs_chapters: Vec::new(),
        consent_purposes: vec!["BUSINESS_MATCHING".into()],
        full_name: None,
        phone: None,
        email: None,
        // Changes spread wider than ids, as pushes interleave with other leaves.
        change_seq: 3 * n + 7,
    }
}

async fn sparse_filters_list_every_match_across_windows(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let records: Vec<PlacementRecord> = (0..RECORDS).map(record).collect();
    // Placements are stored only with their leaves: one per record, as a push logs them.
    let mut write = store.logged_write().await.expect("begin");
    write.upsert_placements(&records).await.expect("insert");
    let leaves: Vec<_> = (0..RECORDS).map(jembatan_tests::placement_leaf).collect();
    write.commit(&leaves).await.expect("commit");

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
        loop {
            let order = if by_change {
                CandidateOrder::AfterChange(position)
            } else {
                CandidateOrder::AfterId(position)
            };
            let mut write = store.logged_write().await.expect("begin");
            let page = write.candidates(&filter, order, 10).await.expect("page");
            write.rollback().await;
            let Some(last) = page.last() else { break };
            position = if by_change { last.change_seq } else { last.id };
            let full = page.len() == 10;
            listed.extend(page.into_iter().map(|row| row.record_key));
            if !full {
                break;
            }
        }
        assert_eq!(listed, expected, "by change: {by_change}");
    }
    store.close().await;
}

/// The one logged write: placements written without leaves, or in a write that is dropped or
/// rolled back, are not stored; with their leaves they are, at the indexes the write foretold.
async fn data_work_is_committed_only_with_its_leaves(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let stored = |store: Store| async move {
        let mut write = store.logged_write().await.expect("begin");
        let rows = write
            .candidates(&PlacementFilter::default(), CandidateOrder::AfterId(0), 100)
            .await
            .expect("list");
        write.rollback().await;
        rows.len()
    };

    let mut unlogged = store.logged_write().await.expect("begin");
    unlogged
        .upsert_placements(&[record(1)])
        .await
        .expect("insert");
    assert!(unlogged.commit(&[]).await.expect("commit").is_empty());
    let mut dropped = store.logged_write().await.expect("begin");
    dropped
        .upsert_placements(&[record(2)])
        .await
        .expect("insert");
    drop(dropped);
    let mut rolled_back = store.logged_write().await.expect("begin");
    rolled_back
        .upsert_placements(&[record(3)])
        .await
        .expect("insert");
    rolled_back.rollback().await;
    assert_eq!(stored(store.clone()).await, 0, "unlogged work was stored");
    assert_eq!(store.log_size().await.expect("size"), 0);

    let mut logged = store.logged_write().await.expect("begin");
    assert_eq!(logged.first_leaf_index(), 0);
    logged
        .upsert_placements(&[record(4)])
        .await
        .expect("insert");
    let receipts = logged
        .commit(&[jembatan_tests::placement_leaf(4)])
        .await
        .expect("commit");
    assert_eq!(receipts[0].leaf_index, 0);
    assert_eq!(stored(store.clone()).await, 1);
    let next = store.logged_write().await.expect("begin");
    assert_eq!(
        next.first_leaf_index(),
        1,
        "the next write starts after the log"
    );
    next.rollback().await;
    store.close().await;
}
