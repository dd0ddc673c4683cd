//! A call's W3C trace id is in every audit leaf it leaves, so that an auditor can go from a
//! leaf to the call's trace: the caller's `traceparent` when it sends a valid one, otherwise
//! one the exchange makes for the call; refusals carry it too, and the Rust client sends one
//! trace per stated context. On SQLite and PostgreSQL, over real mutual TLS.

use jembatan_client::Stated;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::trace_context::TRACEPARENT;
use jembatan_proto::v1::{self, PushPlacementsRequest};
use jembatan_store::{LeafFilter, Store};
use jembatan_tests::placements::{as_kp2mi, placement, placements};
use jembatan_tests::{RunningExchange, TestPki, config, leaf_of, open_store};
use tonic::metadata::MetadataValue;

jembatan_tests::on_both_databases!(every_leaf_of_a_call_carries_its_trace_id);

const GIVEN: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A push of `records` placements from `first` with `traceparent` set as given (removed when
/// `None`): the trace ids of the leaves of its receipts.
async fn push_traced(
    exchange: &RunningExchange,
    pki: &TestPki,
    store: &Store,
    first: u32,
    traceparent: Option<&str>,
) -> Vec<String> {
    let client = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    let mut request = as_kp2mi(PushPlacementsRequest {
        placements: (first..first + 3).map(placement).collect(),
        all_or_nothing: false,
    });
    match traceparent {
        Some(value) => {
            request
                .metadata_mut()
                .insert(TRACEPARENT, MetadataValue::try_from(value).expect("ascii"));
        }
        None => {
            request.metadata_mut().remove(TRACEPARENT);
        }
    }
    let answer = placements(&client)
        .push_placements(request)
        .await
        .expect("push")
        .into_inner();
    let mut ids = Vec::new();
    for result in &answer.results {
        let receipt = result.receipt.as_ref().expect("a receipt per record");
        ids.push(leaf_of(store, receipt).await.trace_id);
    }
    ids
}

fn is_trace_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && id != "0".repeat(32)
}

async fn every_leaf_of_a_call_carries_its_trace_id(pki: &TestPki, url: &str) {
    let exchange = RunningExchange::start(&config(pki, url, "")).await;
    let store = open_store(pki, url).await;

    // The caller's trace id, in every leaf of its call.
    let given = push_traced(&exchange, pki, &store, 0, Some(GIVEN)).await;
    assert_eq!(given, vec!["4bf92f3577b34da6a3ce929d0e0e4736"; 3]);

    // None sent, or one that is not valid: the exchange makes one for the call, shared by its
    // leaves, and another for the next call.
    let made = push_traced(&exchange, pki, &store, 10, None).await;
    assert!(is_trace_id(&made[0]), "{made:?}");
    assert!(made.iter().all(|id| id == &made[0]), "{made:?}");
    let upper = GIVEN.to_uppercase();
    let replaced = push_traced(&exchange, pki, &store, 20, Some(&upper)).await;
    assert!(is_trace_id(&replaced[0]), "{replaced:?}");
    assert!(!replaced[0].eq_ignore_ascii_case("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_ne!(replaced[0], made[0]);
    // A trace id that could carry a NIK in clear is not put into the log.
    let nik = "00-abcd3171234567890123ef0123456789-00f067aa0ba902b7-01";
    let not_copied = push_traced(&exchange, pki, &store, 50, Some(nik)).await;
    assert!(is_trace_id(&not_copied[0]), "{not_copied:?}");
    assert!(
        !not_copied[0].contains("3171234567890123"),
        "{not_copied:?}"
    );

    // A refused call's leaf carries the trace id too.
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let mut request = as_kp2mi(PushPlacementsRequest::default());
    request
        .metadata_mut()
        .insert(TRACEPARENT, MetadataValue::from_static(GIVEN));
    let refused = placements(&kemendag)
        .push_placements(request)
        .await
        .expect_err("kemendag may not push");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let size = store.log_size().await.expect("size");
    let last = store
        .list_leaves(&LeafFilter::default(), Some(size - 2), u64::MAX, 1)
        .await
        .expect("leaf");
    let leaf = jembatan_audit::leaf::LeafEntry::parse(&last[0].1).expect("leaf");
    assert_eq!(
        (leaf.method.as_str(), leaf.trace_id.as_str()),
        (
            "PlacementService/PushPlacements",
            "4bf92f3577b34da6a3ce929d0e0e4736"
        )
    );

    // The Rust client: one trace per stated context, across its calls.
    let stated = Stated::new(Purpose::ProgramMonitoring, LegalBasis::LegalObligation);
    let client = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    for batch in [30u32, 40] {
        let answer = placements(&client)
            .push_placements(
                stated
                    .request(PushPlacementsRequest {
                        placements: (batch..batch + 2).map(placement).collect(),
                        all_or_nothing: false,
                    })
                    .expect("request"),
            )
            .await
            .expect("push")
            .into_inner();
        let receipt: &v1::Receipt = answer.results[0].receipt.as_ref().expect("receipt");
        assert_eq!(leaf_of(&store, receipt).await.trace_id, stated.trace_id());
    }
    exchange.stop().await;
}
