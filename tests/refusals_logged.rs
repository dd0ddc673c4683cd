//! Every refusal of a contract call is in the audit log, committed before the caller has its
//! answer, and says what was refused: a policy's denial, the policy layer's INVALID_ARGUMENT
//! and UNIMPLEMENTED, a handler's refusal (a data class, a proof out of scope, an unregistered
//! witness), a certificate naming no acceptable identity. Audit reads and cosignatures are
//! logged too. Free text a caller states cannot carry a NIK into the log. On SQLite and
//! PostgreSQL, over real mutual TLS.
//!
//! The leaves are read as JSON from the store right after each answer: no waiting, so a leaf
//! written after the answer would be missed.

use std::path::Path;
use std::time::Duration;

use jembatan_client::Stated;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::Validity;
use jembatan_proto::v1::audit_service_client::AuditServiceClient;
use jembatan_proto::v1::get_inclusion_proof_request::Leaf;
use jembatan_proto::v1::workforce_service_client::WorkforceServiceClient;
use jembatan_proto::v1::{
    AddCosignatureRequest, GetCheckpointRequest, GetConsistencyProofRequest, GetEntryRequest,
    GetInclusionProofRequest, ListCandidatesRequest, ListEntriesRequest,
};
use jembatan_store::{LeafFilter, Store};
use jembatan_tests::raw_call::{call, call_path, stated};
use jembatan_tests::{RunningExchange, TRUST_DOMAIN, TestPki, config, open_store};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;

jembatan_tests::on_both_databases!(
    refusals_before_and_in_handlers_are_logged,
    audit_reads_and_cosignatures_are_logged,
    free_text_that_could_hold_a_nik_is_refused_and_not_logged,
    a_refused_certificate_is_logged_apart_from_the_agency_it_claims,
);

/// Every leaf in the store, parsed as JSON, in log order.
async fn leaves(store: &Store) -> Vec<(u64, Value, String)> {
    store
        .list_leaves(&LeafFilter::default(), None, u64::MAX, 1000)
        .await
        .expect("leaves")
        .into_iter()
        .map(|(index, data)| {
            let text = String::from_utf8(data).expect("utf-8");
            (index, serde_json::from_str(&text).expect("json"), text)
        })
        .collect()
}

/// The last leaf, which the call just answered must have left.
async fn last_leaf(store: &Store, method: &str) -> (Value, String) {
    let (_, leaf, text) = leaves(store).await.pop().expect("a leaf");
    assert_eq!(leaf["method"], method, "{text}");
    (leaf, text)
}

fn field<'a>(leaf: &'a Value, name: &str) -> &'a str {
    leaf[name].as_str().unwrap_or_default()
}

/// The last leaf is `method`'s refusal with `status`, by `principal` (`agency/system` or
/// `auditor/office`).
async fn assert_refusal_logged(store: &Store, method: &str, principal: &str, status: &str) {
    let (leaf, text) = last_leaf(store, method).await;
    assert_eq!(field(&leaf, "outcome"), "deny", "{text}");
    assert_eq!(field(&leaf, "record_type"), "request", "{text}");
    assert_eq!(field(&leaf, "status"), status, "{text}");
    assert_eq!(
        field(&leaf, "principal"),
        format!("spiffe://{TRUST_DOMAIN}/{}", principal_path(principal)),
        "{text}"
    );
}

fn principal_path(principal: &str) -> String {
    match principal.strip_prefix("auditor/") {
        Some(office) => format!("auditor/{office}"),
        None => format!("agency/{principal}"),
    }
}

fn audit() -> Stated {
    Stated::new(Purpose::Audit, LegalBasis::LegalObligation)
}

/// The default policies, and one more: Kemendag may call ListCandidates for STATISTICS, which
/// does not let it read the profiles the method returns: the handler refuses.
fn policies_with_a_method_but_not_its_class(dir: &Path) {
    jembatan_policy::schema::write_defaults(dir).expect("defaults");
    std::fs::write(
        dir.join("test-statistics.cedar"),
        r#"@id("test-candidates-for-statistics")
permit (
  principal in Jembatan::Agency::"kemendag",
  action == Jembatan::Action::"WorkforceService/ListCandidates",
  resource
)
when { context.purpose == Jembatan::Purpose::"STATISTICS" };
"#,
    )
    .expect("policy");
}

async fn channel(exchange: &RunningExchange, tls: jembatan_client::ClientTls) -> Channel {
    exchange.connect(tls).await.expect("connect").channel()
}

/// Waits for a checkpoint of at least `size` leaves.
async fn checkpoint_of(store: &Store, size: u64) -> u64 {
    for _ in 0..400 {
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && checkpoint.size >= size
        {
            return checkpoint.size;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no checkpoint of {size} leaves");
}

async fn refusals_before_and_in_handlers_are_logged(pki: &TestPki, url: &str) {
    let policies = tempfile::tempdir().expect("tempdir");
    policies_with_a_method_but_not_its_class(policies.path());
    let mut config = config(pki, url, "");
    config.policy.dir = policies.path().to_path_buf();
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    let kemendag = channel(&exchange, pki.agency("kemendag", "export-portal")).await;

    // A policy's denial (logged before this change too).
    let status = call(
        kemendag.clone(),
        "PlacementService/PushPlacements",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_refusal_logged(
        &store,
        "PlacementService/PushPlacements",
        "kemendag/export-portal",
        "permission_denied",
    )
    .await;

    // The policy layer: no purpose stated.
    let status = call(
        kemendag.clone(),
        "WorkforceService/QueryAvailability",
        &[("jembatan-legal-basis", "PUBLIC_TASK".to_owned())],
    )
    .await
    .expect_err("no purpose");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_refusal_logged(
        &store,
        "WorkforceService/QueryAvailability",
        "kemendag/export-portal",
        "invalid_argument",
    )
    .await;
    let (leaf, text) = last_leaf(&store, "WorkforceService/QueryAvailability").await;
    assert_eq!(
        (field(&leaf, "purpose"), field(&leaf, "legal_basis")),
        ("", "PUBLIC_TASK"),
        "{text}"
    );

    // The policy layer: a method not in the contract, by a raw path.
    let status = call_path(
        kemendag.clone(),
        "/jembatan.v1.WorkforceService/DumpEverything",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("unknown method");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_refusal_logged(
        &store,
        "WorkforceService/DumpEverything",
        "kemendag/export-portal",
        "unimplemented",
    )
    .await;

    // A handler: the method is allowed, the data class it returns is not.
    let request = Stated::new(Purpose::Statistics, LegalBasis::Consent)
        .request(ListCandidatesRequest::default())
        .expect("request");
    let status = WorkforceServiceClient::new(kemendag.clone())
        .list_candidates(request)
        .await
        .expect_err("profiles not for STATISTICS");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("read profile"), "{status:?}");
    assert_refusal_logged(
        &store,
        "WorkforceService/ListCandidates",
        "kemendag/export-portal",
        "permission_denied",
    )
    .await;
    let (leaf, text) = last_leaf(&store, "WorkforceService/ListCandidates").await;
    assert_eq!(
        leaf["policy_ids"],
        serde_json::json!(["test-candidates-for-statistics"]),
        "the method's decision: {text}"
    );

    // A handler: an argument out of range.
    let request = Stated::new(Purpose::BusinessMatching, LegalBasis::Consent)
        .request(ListCandidatesRequest {
            page_size: 1_000_000,
            ..Default::default()
        })
        .expect("request");
    let status = WorkforceServiceClient::new(kemendag.clone())
        .list_candidates(request)
        .await
        .expect_err("page too large");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_refusal_logged(
        &store,
        "WorkforceService/ListCandidates",
        "kemendag/export-portal",
        "invalid_argument",
    )
    .await;

    // The audit reader: an agency proves only its own leaves. Leaf 0 is Kemendag's; make one
    // of KP2MI's and ask to prove it as Kemendag.
    let kp2mi = channel(&exchange, pki.agency("kp2mi", "siskop2mi")).await;
    call(
        kp2mi,
        "WorkforceService/QueryAvailability",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("kp2mi may not count");
    let kp2mi_leaf = leaves(&store).await.last().expect("leaf").0;
    checkpoint_of(&store, kp2mi_leaf + 1).await;
    let mut kemendag_audit = AuditServiceClient::new(kemendag.clone());
    let status = kemendag_audit
        .get_inclusion_proof(
            audit()
                .request(GetInclusionProofRequest {
                    leaf: Some(Leaf::LeafIndex(kp2mi_leaf)),
                    tree_size: 0,
                })
                .expect("request"),
        )
        .await
        .expect_err("not kemendag's leaf");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_refusal_logged(
        &store,
        "AuditService/GetInclusionProof",
        "kemendag/export-portal",
        "permission_denied",
    )
    .await;

    // A witness key not registered for the caller.
    let unregistered = jembatan_audit::note::SignerKey::generate("stranger.test/witness")
        .expect("key")
        .verifier()
        .to_text();
    let status = kemendag_audit
        .add_cosignature(
            audit()
                .request(AddCosignatureRequest {
                    tree_size: 1,
                    root_hash: vec![0; 32],
                    signature_line: String::new(),
                    verifier_key: unregistered,
                })
                .expect("request"),
        )
        .await
        .expect_err("not registered");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_refusal_logged(
        &store,
        "AuditService/AddCosignature",
        "kemendag/export-portal",
        "permission_denied",
    )
    .await;

    // Every refusal above left exactly one leaf, all denials.
    let all = leaves(&store).await;
    let refusals = all
        .iter()
        .filter(|(_, leaf, _)| field(leaf, "outcome") == "deny")
        .count();
    assert_eq!(refusals, all.len(), "nothing else was logged");
    assert_eq!(refusals, 8);
    store.close().await;
    exchange.stop().await;
}

async fn audit_reads_and_cosignatures_are_logged(pki: &TestPki, url: &str) {
    let witness =
        jembatan_audit::note::SignerKey::generate(&format!("kemendag.{TRUST_DOMAIN}/witness"))
            .expect("key");
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    config
        .audit
        .witnesses
        .insert("kemendag".into(), vec![witness.verifier().to_text()]);
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    jembatan_tests::denied_call(&exchange, pki, "bappenas", "sipd").await;
    checkpoint_of(&store, 1).await;

    let auditor = channel(&exchange, pki.auditor("inspectorate")).await;
    let mut client = AuditServiceClient::new(auditor);
    // Reads that show what leaves hold are logged; checkpoints and proofs (hashes and signed
    // commitments, meant to be passed around) are not, or no witness would find the log at rest.
    let reads: Vec<(&str, bool, Result<(), tonic::Status>)> = vec![
        (
            "AuditService/ListEntries",
            true,
            client
                .list_entries(audit().request(ListEntriesRequest::default()).expect("r"))
                .await
                .map(drop),
        ),
        (
            "AuditService/GetCheckpoint",
            false,
            client
                .get_checkpoint(audit().request(GetCheckpointRequest::default()).expect("r"))
                .await
                .map(drop),
        ),
        (
            "AuditService/GetEntry",
            true,
            client
                .get_entry(
                    audit()
                        .request(GetEntryRequest {
                            index: 0,
                            tree_size: 0,
                        })
                        .expect("r"),
                )
                .await
                .map(drop),
        ),
        (
            "AuditService/GetInclusionProof",
            false,
            client
                .get_inclusion_proof(
                    audit()
                        .request(GetInclusionProofRequest {
                            leaf: Some(Leaf::LeafIndex(0)),
                            tree_size: 0,
                        })
                        .expect("r"),
                )
                .await
                .map(drop),
        ),
        (
            "AuditService/GetConsistencyProof",
            false,
            client
                .get_consistency_proof(
                    audit()
                        .request(GetConsistencyProofRequest {
                            from_size: 1,
                            to_size: 0,
                        })
                        .expect("r"),
                )
                .await
                .map(drop),
        ),
    ];
    let mut logged = leaves(&store).await.into_iter().skip(1);
    for (method, is_logged, result) in reads {
        result.unwrap_or_else(|status| panic!("{method}: {status:?}"));
        if !is_logged {
            continue;
        }
        let (_, leaf, text) = logged
            .next()
            .unwrap_or_else(|| panic!("{method} left no leaf"));
        assert_eq!(field(&leaf, "method"), method, "{text}");
        assert_eq!(field(&leaf, "outcome"), "allow", "{text}");
        assert_eq!(
            field(&leaf, "principal"),
            format!("spiffe://{TRUST_DOMAIN}/auditor/inspectorate"),
            "{text}"
        );
        assert_eq!(field(&leaf, "purpose"), "AUDIT", "{text}");
        assert_eq!(leaf["data_classes"], serde_json::json!(["audit_metadata"]));
        assert_eq!(
            field(&leaf, "record_digest").len(),
            64,
            "the answer's digest"
        );
        assert_eq!(field(&leaf, "status"), "", "{text}");
    }
    assert!(
        logged.next().is_none(),
        "checkpoints and proofs left leaves"
    );

    // A witness's cosignature.
    let kemendag = exchange
        .connect(pki.agency("kemendag", "witness"))
        .await
        .expect("connect");
    let before = leaves(&store).await.len();
    kemendag
        .audit(audit())
        .witness(None, &witness, &pki.log_verifier())
        .await
        .expect("witness round");
    let after = leaves(&store).await;
    let methods: Vec<&str> = after[before..]
        .iter()
        .map(|(_, leaf, _)| field(leaf, "method"))
        .collect();
    assert_eq!(methods, ["AuditService/AddCosignature"]);
    let (_, cosigned, text) = after.last().expect("leaf");
    assert_eq!(field(cosigned, "outcome"), "allow", "{text}");
    assert_eq!(field(cosigned, "record_type"), "cosignature", "{text}");
    store.close().await;
    exchange.stop().await;
}

async fn free_text_that_could_hold_a_nik_is_refused_and_not_logged(pki: &TestPki, url: &str) {
    let exchange = RunningExchange::start(&config(pki, url, "")).await;
    let store = open_store(pki, url).await;
    let kemendag = channel(&exchange, pki.agency("kemendag", "export-portal")).await;
    let method = "WorkforceService/QueryAvailability";
    let nik_digits = ["3175014101900001", "3175", "0141", "01900001"];
    let refused = [
        ("jembatan-case-ref", "3175014101900001"),
        ("jembatan-case-ref", "NIK-3175-0141-0190-0001"),
        ("jembatan-case-ref", "ND/3175.0141.0190.0001/2026"),
        ("jembatan-operator", "3175014101900001"),
        ("jembatan-operator", "siti.rahma@kemendag.go.id"),
        ("jembatan-case-ref", "catatan untuk bu siti"),
        ("jembatan-case-ref", "-B/12"),
    ];
    for (key, value) in refused {
        let mut metadata = stated(Purpose::Statistics, LegalBasis::PublicTask);
        metadata.push((key, value.to_owned()));
        let status = call(kemendag.clone(), method, &metadata)
            .await
            .expect_err(value);
        assert_eq!(status.code(), Code::InvalidArgument, "{value}: {status:?}");
        assert!(
            status.message().starts_with(&format!("metadata {key}: ")),
            "{value}: {status:?}"
        );
        assert!(
            status.message().contains("A-Z a-z 0-9 . / _ : -"),
            "names the pattern: {status:?}"
        );
        assert!(!status.message().contains(value), "echoed: {status:?}");
        let (leaf, text) = last_leaf(&store, method).await;
        assert_eq!(field(&leaf, "status"), "invalid_argument", "{text}");
        assert_eq!(field(&leaf, "purpose"), "STATISTICS", "{text}");
        assert_eq!(
            (field(&leaf, "case_ref"), field(&leaf, "operator")),
            ("", ""),
            "{text}"
        );
        for digits in nik_digits {
            assert!(
                !text.contains(digits),
                "{value}: the leaf holds {digits}: {text}"
            );
        }
        assert!(!text.contains("siti"), "{text}");
    }

    // Real letter numbers still fit, and are logged as given.
    for case_ref in [
        "B-1234/PK.01.01/X/2026",
        "ND-77/KP2MI/2026",
        "ND.12/PEN/2026",
        "UND-0045/DJPEN/2026",
    ] {
        let mut metadata = stated(Purpose::Statistics, LegalBasis::PublicTask);
        metadata.push(("jembatan-case-ref", case_ref.to_owned()));
        metadata.push(("jembatan-operator", "op-7".to_owned()));
        call(kemendag.clone(), method, &metadata)
            .await
            .unwrap_or_else(|status| panic!("{case_ref}: {status:?}"));
        let (leaf, text) = last_leaf(&store, method).await;
        assert_eq!(field(&leaf, "case_ref"), case_ref, "{text}");
        assert_eq!(field(&leaf, "operator"), "op-7", "{text}");
    }
    store.close().await;
    exchange.stop().await;
}

async fn a_refused_certificate_is_logged_apart_from_the_agency_it_claims(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    // Issued by the exchange's CA, within its trust domain, but not a valid identity: one path
    // segment too many. It starts like Kemendag's systems.
    let claimed = format!("spiffe://{TRUST_DOMAIN}/agency/kemendag/export-portal/extra");
    let refused = channel(
        &exchange,
        pki.with_uris(&[claimed.as_str()], Validity::days(1)),
    )
    .await;
    let status = call(
        refused,
        "WorkforceService/QueryAvailability",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let (leaf, text) = last_leaf(&store, "WorkforceService/QueryAvailability").await;
    assert_eq!(field(&leaf, "outcome"), "deny", "{text}");
    assert_eq!(field(&leaf, "status"), "unauthenticated", "{text}");
    assert_eq!(field(&leaf, "claimed"), claimed, "{text}");
    assert_eq!(field(&leaf, "principal"), "unidentified", "{text}");
    let index = leaves(&store).await.last().expect("leaf").0;
    checkpoint_of(&store, index + 1).await;

    // Kemendag's entries, as an auditor filters them, do not include it.
    let auditor = channel(&exchange, pki.auditor("inspectorate")).await;
    let listed = AuditServiceClient::new(auditor)
        .list_entries(
            audit()
                .request(ListEntriesRequest {
                    agency: "kemendag".into(),
                    ..Default::default()
                })
                .expect("request"),
        )
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.entries.iter().all(|entry| entry.index != index),
        "the refused certificate's leaf is listed as Kemendag's"
    );
    // Nor may Kemendag prove it as one of its own.
    let kemendag = channel(&exchange, pki.agency("kemendag", "export-portal")).await;
    let status = AuditServiceClient::new(kemendag)
        .get_inclusion_proof(
            audit()
                .request(GetInclusionProofRequest {
                    leaf: Some(Leaf::LeafIndex(index)),
                    tree_size: 0,
                })
                .expect("request"),
        )
        .await
        .expect_err("not kemendag's");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    store.close().await;
    exchange.stop().await;
}
