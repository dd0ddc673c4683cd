//! The audit log behind the running exchange: a denied call leaves a leaf, the sequencer signs a
//! checkpoint that proves it, and a call whose leaf cannot be written is refused. On SQLite and
//! PostgreSQL, over real mutual TLS.

use jembatan_store::test_door::RawPool;
use std::time::Duration;

use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_audit::merkle;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::Validity;
use jembatan_store::{Store, StoredCheckpoint};
use jembatan_tests::raw_call::{call, stated};
use jembatan_tests::{RunningExchange, TestPki, config, denied_call, open_store};
use tonic::Code;

jembatan_tests::on_both_databases!(
    a_denied_call_is_logged_and_proved,
    a_caller_refused_for_its_identity_is_logged,
);

/// Waits for a checkpoint of at least `size` leaves.
async fn checkpoint_of(store: &Store, size: u64) -> StoredCheckpoint {
    for _ in 0..200 {
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && checkpoint.size >= size
        {
            return checkpoint;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no checkpoint of {size} leaves within 5 s");
}

async fn stored_leaf(store: &Store, index: i64) -> Vec<u8> {
    const SQL: &str = "SELECT data FROM audit_leaves WHERE leaf_index = $1";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_scalar(SQL).bind(index).fetch_one(pool).await,
        RawPool::Postgres(pool) => sqlx::query_scalar(SQL).bind(index).fetch_one(pool).await,
    }
    .expect("leaf")
}

async fn a_denied_call_is_logged_and_proved(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    let client = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let mut metadata = stated(Purpose::Statistics, LegalBasis::PublicTask);
    metadata.push(("jembatan-case-ref", "ND.12/PEN/2026".to_owned()));
    let status = call(
        client.channel(),
        "PlacementService/PushPlacements",
        &metadata,
    )
    .await
    .expect_err("kemendag may not push placements");
    assert_eq!(status.code(), Code::PermissionDenied);

    let checkpoint = checkpoint_of(&store, 1).await;
    let checkpoint_body = checkpoint
        .note
        .verify_checkpoint(&pki.log_verifier())
        .expect("signed by the log");
    assert_eq!(checkpoint_body.origin, "jembatan.test.jembatan.local/audit");
    let data = stored_leaf(&store, 0).await;
    let leaf = LeafEntry::parse(&data).expect("leaf");
    assert_eq!(leaf.outcome, Outcome::Deny);
    assert_eq!(
        leaf.principal,
        "spiffe://test.jembatan.local/agency/kemendag/export-portal"
    );
    assert_eq!(leaf.method, "PlacementService/PushPlacements");
    assert_eq!(
        (leaf.purpose.as_str(), leaf.legal_basis.as_str()),
        ("STATISTICS", "PUBLIC_TASK")
    );
    assert_eq!(leaf.case_ref, "ND.12/PEN/2026");
    assert_eq!(leaf.record_type, "request");
    assert!(leaf.policy_ids.is_empty(), "denied by default");
    let policy_set = status
        .metadata()
        .get("jembatan-policy-set")
        .and_then(|v| v.to_str().ok());
    assert_eq!(Some(leaf.policy_set.as_str()), policy_set);
    assert_eq!(leaf.cert_fingerprint.len(), 64);

    let proof = store
        .inclusion_proof(0, checkpoint.size)
        .await
        .expect("proof");
    merkle::verify_inclusion(
        0,
        checkpoint.size,
        &merkle::leaf_hash(&data),
        &proof,
        &checkpoint.root,
    )
    .expect("the denial is in the signed tree");
    store.close().await;
    exchange.stop().await;
}

async fn a_caller_refused_for_its_identity_is_logged(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    // Issued by the exchange's own CA, so the handshake succeeds, but for another trust domain.
    let claimed = "spiffe://other.example/agency/kemendag/export-portal";
    let client = exchange
        .connect(pki.with_uris(&[claimed], Validity::days(1)))
        .await
        .expect("connect");
    let status = client.health("").await.expect_err("health is refused");
    assert!(
        matches!(&status, jembatan_client::ClientError::Status(s) if s.code() == Code::Unauthenticated),
        "{status:?}"
    );
    let status = call(
        client.channel(),
        "PlacementService/PushPlacements",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("not in trust domain"),
        "{status:?}"
    );

    let checkpoint = checkpoint_of(&store, 1).await;
    assert_eq!(
        checkpoint.size, 1,
        "one leaf: the contract call, not the health check"
    );
    let leaf = LeafEntry::parse(&stored_leaf(&store, 0).await).expect("leaf");
    assert_eq!(leaf.outcome, Outcome::Deny);
    assert_eq!(
        leaf.principal,
        jembatan_audit::leaf::UNIDENTIFIED,
        "no agency's principal"
    );
    assert_eq!(
        leaf.claimed, claimed,
        "the identity the certificate claimed"
    );
    assert_eq!(leaf.cert_fingerprint.len(), 64);
    assert_eq!(leaf.method, "PlacementService/PushPlacements");
    assert_eq!(
        (leaf.purpose.as_str(), leaf.legal_basis.as_str()),
        ("STATISTICS", "PUBLIC_TASK")
    );
    assert_eq!(leaf.record_type, "request");
    store.close().await;
    exchange.stop().await;
}

#[tokio::test]
async fn a_call_whose_leaf_cannot_be_written_is_unavailable() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    let store = open_store(&pki, "sqlite://jembatan.db").await;
    let RawPool::Sqlite(pool) = store.raw_pool() else {
        unreachable!("sqlite")
    };
    sqlx::query(
        "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_leaves \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(pool)
    .await
    .expect("break the log");
    let client = exchange
        .connect(pki.agency("bappenas", "sipd"))
        .await
        .expect("connect");
    let status = call(
        client.channel(),
        "WorkforceService/QueryAvailability",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await
    .expect_err("refused");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        !status.message().contains("disk full"),
        "no internals: {}",
        status.message()
    );
    let head: i64 = sqlx::query_scalar("SELECT next_index FROM audit_head")
        .fetch_one(pool)
        .await
        .expect("head");
    assert_eq!(head, 0, "nothing half-written");
    store.close().await;
    exchange.stop().await;
}

mod audit_service {
    use super::*;
    use jembatan_audit::checkpoint::SignedNote;
    use jembatan_client::Stated;
    use jembatan_proto::v1::audit_service_client::AuditServiceClient;
    use jembatan_proto::v1::get_inclusion_proof_request::Leaf;
    use jembatan_proto::v1::{
        Decision, GetCheckpointRequest, GetConsistencyProofRequest, GetEntryRequest,
        GetInclusionProofRequest, ListEntriesRequest,
    };
    use tonic::transport::Channel;

    jembatan_tests::on_both_databases!(auditors_list_show_and_prove_entries);

    fn audit() -> Stated {
        Stated::new(Purpose::Audit, LegalBasis::LegalObligation)
    }

    async fn latest(
        client: &mut AuditServiceClient<Channel>,
        size: u64,
    ) -> jembatan_proto::v1::Checkpoint {
        for _ in 0..200 {
            let response = client
                .get_checkpoint(
                    audit()
                        .request(GetCheckpointRequest::default())
                        .expect("request"),
                )
                .await;
            if let Ok(response) = response {
                let checkpoint = response.into_inner().checkpoint.expect("checkpoint");
                if checkpoint.tree_size >= size {
                    return checkpoint;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no checkpoint of {size} leaves");
    }

    async fn auditors_list_show_and_prove_entries(pki: &TestPki, url: &str) {
        let mut config = config(pki, url, "");
        config.audit.checkpoint_interval_ms = 20;
        let exchange = RunningExchange::start(&config).await;
        let auditor = exchange
            .connect(pki.auditor("inspectorate"))
            .await
            .expect("connect");
        let mut audit_client = AuditServiceClient::new(auditor.channel());

        denied_call(&exchange, pki, "kemendag", "export-portal").await;
        let first = latest(&mut audit_client, 1).await;
        denied_call(&exchange, pki, "bappenas", "sipd").await;
        denied_call(&exchange, pki, "kemendag", "statistics").await;
        let checkpoint = latest(&mut audit_client, 3).await;
        let note = SignedNote::parse(&checkpoint.signed_note).expect("note");
        let body = note
            .verify_checkpoint(&pki.log_verifier())
            .expect("signed by the log");
        assert_eq!(
            (body.size, body.root.to_vec()),
            (3, checkpoint.root_hash.clone())
        );

        // Pages of two, then one; filters by agency and decision.
        let lister = audit_client.clone();
        let list = |request: ListEntriesRequest| {
            let mut client = lister.clone();
            async move {
                client
                    .list_entries(audit().request(request).expect("request"))
                    .await
            }
        };
        let page = list(ListEntriesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
        assert_eq!(
            page.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            [0, 1]
        );
        assert!(!page.next_page_token.is_empty());
        let rest = list(ListEntriesRequest {
            page_size: 2,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
        // Reading entries is itself on the record: the first page's read is leaf 3.
        assert_eq!(
            rest.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(rest.entries[1].record_type, "audit_entries");
        assert_eq!(
            rest.entries[1].method,
            "/jembatan.v1.AuditService/ListEntries"
        );
        let kemendag = list(ListEntriesRequest {
            agency: "kemendag".into(),
            decision: Decision::Deny as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
        assert_eq!(
            kemendag.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            [0, 2]
        );
        let entry = &kemendag.entries[1];
        assert_eq!(
            entry.principal,
            "spiffe://test.jembatan.local/agency/kemendag/statistics"
        );
        assert_eq!(entry.method, "/jembatan.v1.PlacementService/PushPlacements");
        assert_eq!(
            entry.purpose,
            jembatan_proto::v1::Purpose::Statistics as i32
        );

        // An entry with its proof, checked here against the signed root.
        let shown = audit_client
            .get_entry(
                audit()
                    .request(GetEntryRequest {
                        index: 1,
                        // The log has grown by the reads above; prove against the one signed.
                        tree_size: 3,
                    })
                    .expect("request"),
            )
            .await
            .expect("entry")
            .into_inner();
        let (entry, proof) = (shown.entry.expect("entry"), shown.proof.expect("proof"));
        merkle::verify_inclusion(1, 3, &entry.leaf_hash, &proof.hashes, &checkpoint.root_hash)
            .expect("entry 1 is in the signed tree");

        // A proof by leaf hash, and consistency with the earlier checkpoint.
        let by_hash = audit_client
            .get_inclusion_proof(
                audit()
                    .request(GetInclusionProofRequest {
                        leaf: Some(Leaf::LeafHash(entry.leaf_hash.clone())),
                        tree_size: 3,
                    })
                    .expect("request"),
            )
            .await
            .expect("proof")
            .into_inner()
            .proof
            .expect("proof");
        assert_eq!((by_hash.leaf_index, by_hash.hashes), (1, proof.hashes));
        let consistency = audit_client
            .get_consistency_proof(
                audit()
                    .request(GetConsistencyProofRequest {
                        from_size: first.tree_size,
                        to_size: 3,
                    })
                    .expect("request"),
            )
            .await
            .expect("consistency")
            .into_inner();
        merkle::verify_consistency(
            first.tree_size,
            3,
            &first.root_hash,
            &checkpoint.root_hash,
            &consistency.hashes,
        )
        .expect("the log only grew");

        // Bad requests are named.
        let status = list(ListEntriesRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .expect_err("too big");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("page_size"), "{status:?}");
        let status = list(ListEntriesRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad token");
        assert!(status.message().contains("page_token"), "{status:?}");

        // A witness proves its own agency's leaves only.
        let kemendag = exchange
            .connect(pki.agency("kemendag", "export-portal"))
            .await
            .expect("connect");
        let mut witness = AuditServiceClient::new(kemendag.channel());
        let prove = |index| {
            audit()
                .request(GetInclusionProofRequest {
                    leaf: Some(Leaf::LeafIndex(index)),
                    tree_size: 0,
                })
                .expect("request")
        };
        witness
            .get_inclusion_proof(prove(2))
            .await
            .expect("own leaf");
        let status = witness
            .get_inclusion_proof(prove(1))
            .await
            .expect_err("bappenas's leaf");
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(
            status.message().contains("not written for agency kemendag"),
            "{status:?}"
        );
        exchange.stop().await;
    }
}
