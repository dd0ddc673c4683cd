//! Candidate listings read outside the store's writer, a bounded number of records at a time:
//! a filter that matches nobody over a table larger than one call's read gets short pages that
//! go on, not a walk of the whole table, and no listing waits for (or holds up) a write.

use std::time::Duration;

use jembatan_store::{CandidateOrder, MAX_LISTING_READ, PlacementFilter, Store};
use jembatan_tests::store::{hold_writer, store_placements};
use jembatan_tests::{TestPki, open_store};

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_filter_matching_nobody_reads_the_table_in_bounded_steps,
    listings_run_while_the_writer_is_held,
);

/// More records than one call of `Store::candidates` reads.
const RECORDS: u64 = 60_000;

/// Stores `RECORDS` placements with their leaves, 10,000 a write.
async fn fill(store: &Store) {
    for from in (0..RECORDS).step_by(10_000) {
        store_placements(store, from..from + 10_000).await;
    }
}

/// Nobody returns in 2025 (the records return from December 2026).
fn nobody() -> PlacementFilter {
    PlacementFilter {
        return_to: Some("2025-12-31".into()),
        ..PlacementFilter::default()
    }
}

async fn a_filter_matching_nobody_reads_the_table_in_bounded_steps(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    fill(&store).await;
    for by_change in [false, true] {
        let mut position = -1;
        let mut calls = 0;
        loop {
            let order = if by_change {
                CandidateOrder::AfterChange(position)
            } else {
                CandidateOrder::AfterId(position)
            };
            let page = store.candidates(&nobody(), order, 100).await.expect("page");
            calls += 1;
            assert!(page.rows.is_empty(), "nobody matches");
            let Some(next) = page.resume_after else { break };
            assert!(
                next > position,
                "each call goes on from where the last stopped"
            );
            position = next;
            assert!(calls < 10, "the listing does not end");
        }
        let expected = RECORDS.div_ceil(MAX_LISTING_READ as u64);
        assert_eq!(
            calls, expected,
            "by change: {by_change}: one call per bounded read"
        );
    }
    store.close().await;
}

async fn listings_run_while_the_writer_is_held(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    fill(&store).await;
    let held = hold_writer(&store, RECORDS).await;
    // Not a timing: a listing that needed the writer would wait here until the holder ends,
    // which it does only after this.
    let page = tokio::time::timeout(
        Duration::from_secs(60),
        store.candidates(&nobody(), CandidateOrder::AfterId(-1), 100),
    )
    .await
    .expect("a listing waited for the writer")
    .expect("page");
    assert!(page.rows.is_empty() && page.resume_after.is_some());
    assert_eq!(held.release().await.leaf_index, RECORDS);
    store.close().await;
}
