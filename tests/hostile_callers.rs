//! The exchange under a hostile caller, end to end on loopback: silent connections do not shut
//! the door on others; a caller over its rate is refused with advice on when to retry, others
//! are not, and the refusals are logged in aggregate; watches, stream lengths and message sizes
//! are bounded.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use jembatan_audit::leaf::LeafEntry;
use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    PushPlacementsRequest, QueryAvailabilityRequest, StreamPlacementsRequest,
    WatchAvailabilityRequest,
};
use jembatan_store::LeafFilter;
use jembatan_tests::placements::{as_kp2mi, placement, placements, stated, workforce};
use jembatan_tests::{RunningExchange, TestPki, config, open_store};
use tonic::Code;
use tonic_types::StatusExt;

/// Longer than any answer should take.
const PATIENCE: Duration = Duration::from_secs(15);

fn query() -> tonic::Request<QueryAvailabilityRequest> {
    stated(
        Purpose::Statistics,
        LegalBasis::PublicTask,
        QueryAvailabilityRequest::default(),
    )
}

#[tokio::test]
async fn silent_connections_from_one_address_do_not_shut_the_door() {
    let pki = TestPki::new();
    let mut config = config(&pki, "sqlite://jembatan.db", "");
    config.server.client_hello_timeout_ms = 1000;
    config.server.handshake_queue_ms = 500;
    let exchange = RunningExchange::start(&config).await;
    let tls = pki.agency("kemendag", "export-portal");

    // 2,000 connections from 127.0.0.1 that never say a word.
    let mut silent = Vec::with_capacity(2000);
    for _ in 0..2000 {
        silent.push(
            tokio::net::TcpStream::connect(exchange.addr)
                .await
                .expect("silent connection"),
        );
    }

    // Another address gets in at once.
    let elsewhere = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let started = Instant::now();
    let client = Client::connect_from(&exchange.url(), tls.clone(), Some(elsewhere))
        .await
        .expect("a client from another address connects");
    client.health("").await.expect("and is answered");
    let other_address = started.elapsed();

    // The same address gets in once the silent connections have had their time.
    let started = Instant::now();
    let same = loop {
        match Client::connect(&exchange.url(), tls.clone()).await {
            Ok(client) => break client,
            Err(_) if started.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("no connection from the busy address in {PATIENCE:?}: {error}"),
        }
    };
    same.health("").await.expect("answered");
    println!(
        "with 2,000 silent connections: another address in {other_address:?}, the same one in {:?}",
        started.elapsed()
    );
    assert!(other_address < Duration::from_secs(2), "{other_address:?}");
    drop(silent);
    exchange.stop().await;
}

#[tokio::test]
async fn a_caller_holds_a_bounded_number_of_connections() {
    let pki = TestPki::new();
    let mut config = config(&pki, "sqlite://jembatan.db", "");
    config.server.max_connections_per_caller = 3;
    let exchange = RunningExchange::start(&config).await;
    let tls = pki.agency("kemendag", "export-portal");
    let mut open = Vec::new();
    for _ in 0..3 {
        let client = exchange.connect(tls.clone()).await.expect("connect");
        client.health("").await.expect("answered");
        open.push(client);
    }
    // A fourth connection of the same caller is closed after its handshake.
    let fourth = match exchange.connect(tls.clone()).await {
        Err(_) => false,
        Ok(client) => matches!(
            tokio::time::timeout(Duration::from_secs(5), client.health("")).await,
            Ok(Ok(_))
        ),
    };
    assert!(!fourth, "a fourth connection was served");
    // Another caller is not held to it.
    let other = exchange
        .connect(pki.agency("kemendag", "statistics"))
        .await
        .expect("another caller connects");
    other.health("").await.expect("and is answered");
    // A closed connection gives its place back.
    drop(open.pop());
    let started = Instant::now();
    loop {
        if let Ok(client) = exchange.connect(tls.clone()).await
            && client.health("").await.is_ok()
        {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the closed connection's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    exchange.stop().await;
}

/// The audit leaves the exchange wrote, parsed.
async fn logged(pki: &TestPki, url: &str) -> Vec<LeafEntry> {
    let store = open_store(pki, url).await;
    let leaves = store
        .list_leaves(&LeafFilter::default(), None, u64::MAX, 10_000)
        .await
        .expect("leaves");
    store.close().await;
    leaves
        .into_iter()
        .map(|(_, bytes)| LeafEntry::parse(&bytes).expect("leaf"))
        .collect()
}

async fn a_caller_over_its_rate_is_refused_and_others_are_not(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.limits.read_per_sec = 5.0;
    config.limits.read_burst = 5;
    config.limits.refusal_window_secs = 1;
    let exchange = RunningExchange::start(&config).await;
    let flooder = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let other = exchange
        .connect(pki.agency("kemendag", "statistics"))
        .await
        .expect("connect");

    // Ten times the rate for a second: the burst passes, the rest is refused with advice.
    let (mut answered, mut refused) = (0, 0);
    for _ in 0..50 {
        match workforce(&flooder).query_availability(query()).await {
            Ok(_) => answered += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let retry = status
                    .get_details_retry_info()
                    .and_then(|info| info.retry_delay)
                    .expect("retry advice");
                assert!(
                    retry > Duration::ZERO && retry <= Duration::from_millis(200),
                    "{retry:?}"
                );
                refused += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("at ten times its rate: {answered} answered, {refused} refused");
    assert!(refused >= 30, "{refused} of 50 refused");
    assert!((5..=15).contains(&answered), "{answered} answered");

    // Another caller of the same agency has a bucket of its own.
    for _ in 0..5 {
        workforce(&other)
            .query_availability(query())
            .await
            .expect("another caller is not held to the flooder's rate");
    }

    // The refusals are on the record, as one leaf (or a few, one per window), not fifty.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let leaves = logged(pki, url).await;
    let throttled: Vec<&LeafEntry> = leaves
        .iter()
        .filter(|leaf| leaf.status == "resource_exhausted")
        .collect();
    assert!(!throttled.is_empty(), "no leaf of the refused calls");
    assert!(
        throttled.len() <= 3,
        "{} leaves for one flood",
        throttled.len()
    );
    assert!(throttled.iter().all(
        |leaf| leaf.principal.ends_with("/agency/kemendag/export-portal")
            && leaf.method == "limits/read"
    ));
    // A leaf of one refused call records no count (absent means one).
    let counted: u64 = throttled.iter().map(|leaf| leaf.refused_calls.max(1)).sum();
    assert_eq!(counted, refused, "every refused call counted");
    exchange.stop().await;
}

async fn watches_per_caller_are_bounded(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.limits.max_watches_per_principal = 2;
    let exchange = RunningExchange::start(&config).await;
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let watch = || {
        let mut client = workforce(&kemendag);
        async move {
            client
                .watch_availability(stated(
                    Purpose::BusinessMatching,
                    LegalBasis::Consent,
                    WatchAvailabilityRequest::default(),
                ))
                .await
        }
    };
    let first = watch().await.expect("first watch");
    let second = watch().await.expect("second watch");
    let third = watch().await.expect_err("a third watch is over the limit");
    assert_eq!(third.code(), Code::ResourceExhausted, "{third:?}");
    drop(first);
    // The closed watch gives its place back once the server sees the stream reset.
    let started = Instant::now();
    loop {
        match watch().await {
            Ok(_) => break,
            Err(status) if started.elapsed() < PATIENCE => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("the closed watch's place never came back: {status:?}"),
        }
    }
    drop(second);
    exchange.stop().await;
}

async fn a_stream_of_records_is_bounded_in_time_and_messages(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.limits.stream_max_secs = 1;
    config.limits.stream_max_messages = 3;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");

    // A stream that never ends is ended by the exchange.
    let (tx, rx) = tokio::sync::mpsc::channel::<StreamPlacementsRequest>(4);
    tx.send(StreamPlacementsRequest {
        placements: vec![placement(1)],
    })
    .await
    .expect("send");
    let started = Instant::now();
    let status = tokio::time::timeout(
        PATIENCE,
        placements(&kp2mi)
            .stream_placements(as_kp2mi(tokio_stream::wrappers::ReceiverStream::new(rx))),
    )
    .await
    .expect("ended by the exchange")
    .expect_err("a stream past its time");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(tx);

    // A stream of more messages than allowed is refused, naming the limit.
    let messages: Vec<StreamPlacementsRequest> = (0..5)
        .map(|n| StreamPlacementsRequest {
            placements: vec![placement(100 + n)],
        })
        .collect();
    let status = placements(&kp2mi)
        .stream_placements(as_kp2mi(tokio_stream::iter(messages)))
        .await
        .expect_err("too many messages");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains('3'), "{}", status.message());
    exchange.stop().await;
}

async fn an_oversized_message_is_refused_and_changes_nothing(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.limits.max_placement_message_bytes = 64 * 1024;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    let records: Vec<_> = (0..1000).map(placement).collect();
    let status = placements(&kp2mi)
        .push_placements(as_kp2mi(PushPlacementsRequest {
            placements: records,
            ..Default::default()
        }))
        .await
        .expect_err("over the message size");
    assert!(
        matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{status:?}"
    );
    let shared = logged(pki, url)
        .await
        .into_iter()
        .filter(|leaf| leaf.method == "PlacementService/PushPlacements" && leaf.status.is_empty())
        .count();
    assert_eq!(shared, 0, "no record was taken");
    exchange.stop().await;
}

jembatan_tests::on_both_databases!(
    a_caller_over_its_rate_is_refused_and_others_are_not,
    watches_per_caller_are_bounded,
    a_stream_of_records_is_bounded_in_time_and_messages,
    an_oversized_message_is_refused_and_changes_nothing,
);
