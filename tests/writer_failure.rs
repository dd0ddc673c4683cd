//! A fault in the store's writer (a panic outside any write's own work), on SQLite and
//! PostgreSQL: the exchange stops with `WriterFailed`, to be started again by its supervisor,
//! instead of answering every write UNAVAILABLE while its health check says SERVING; what was
//! acknowledged before the fault stays stored, a write staged in the group the fault breaks is
//! rolled back, and writes sent to the failed writer are told that the writer has stopped.

use std::time::Duration;

use jembatan_server::{Exchange, ServerError};
use jembatan_store::{StoreError, WriteTicket};
use jembatan_tests::placements::{placement, push};
use jembatan_tests::store::{hold_writer, placement_record, queue, stored_placements};
use jembatan_tests::{TestPki, config, open_store, placement_leaf};

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    an_exchange_whose_writer_fails_stops_to_be_started_again,
);

async fn an_exchange_whose_writer_fails_stops_to_be_started_again(pki: &TestPki, url: &str) {
    let exchange = Exchange::bind(&config(pki, url, "")).await.expect("bind");
    let addr = exchange.local_addr();
    let store = exchange.store().clone();
    let serving = tokio::spawn(exchange.serve(std::future::pending()));
    let kp2mi = jembatan_client::Client::connect(
        &format!("https://{addr}"),
        pki.agency("kp2mi", "siskop2mi"),
    )
    .await
    .expect("connect");
    let pushed = push(&kp2mi, vec![placement(1)]).await;
    assert!(pushed.results[0].receipt.is_some(), "{pushed:?}");

    // The fault comes in a group where another caller's write has staged its record: that
    // write is rolled back with the group and told that the writer stopped.
    let held = hold_writer(&store, 1_000).await;
    let record = placement_record(100);
    let staged_id = record.placement_id.clone();
    let writing = store.clone();
    let staged = queue(async move {
        writing
            .write(WriteTicket::new("kemendag"), move |write| {
                Box::pin(async move {
                    write
                        .upsert_placements(std::slice::from_ref(&record))
                        .await?;
                    Ok::<_, StoreError>(((), vec![placement_leaf(100)]))
                })
            })
            .await
    });
    store.break_writer();
    held.release().await;
    let staged = staged.await.expect("staged write");
    assert!(matches!(staged, Err(StoreError::Stopped)), "{staged:?}");

    let served = tokio::time::timeout(Duration::from_secs(60), serving)
        .await
        .expect("the exchange stops by itself once its writer failed")
        .expect("serve task");
    assert!(
        matches!(served, Err(ServerError::WriterFailed)),
        "{served:?}"
    );
    let after = store
        .log(WriteTicket::new("kp2mi"), vec![placement_leaf(2)])
        .await;
    assert!(matches!(after, Err(StoreError::Stopped)), "{after:?}");

    // Started again, the exchange's store holds what was acknowledged, and writes.
    let reopened = open_store(pki, url).await;
    let stored = stored_placements(&reopened).await;
    assert_eq!(
        stored.len(),
        1,
        "only the push acknowledged before: {stored:?}"
    );
    assert!(!stored.contains(&staged_id), "{stored:?}");
    reopened
        .log(WriteTicket::new("kp2mi"), vec![placement_leaf(2)])
        .await
        .expect("a write once started again");
    reopened.close().await;
}
