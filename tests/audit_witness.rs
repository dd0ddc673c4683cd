//! Cosigning and the tamper cases that only someone outside the exchange can catch, end to end
//! over mutual TLS on both databases:
//!
//! - agencies' witnesses cosign checkpoints with registered keys; AddCosignature refuses
//!   unregistered keys, other roots, bad signatures;
//! - an operator who rewrites the log and re-signs it (a fork: two checkpoints of one size with
//!   different roots, then a longer one that does not extend what was witnessed) is refused by
//!   the witness, which signs nothing;
//! - a forged inclusion proof in a response (a stored node hash changed) does not prove;
//! - verification from the API names the first leaf that the signed tree does not hold.

use std::time::Duration;

use jembatan_audit::AuditError;
use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use jembatan_audit::note::SignerKey;
use jembatan_audit::witness::WitnessState;
use jembatan_client::audit::AuditClient;
use jembatan_client::{ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{AddCosignatureRequest, GetCheckpointRequest};
use jembatan_server::Config;
use jembatan_tests::tamper::{Bind, leaf_row, node_hash, tamper};
use jembatan_tests::{RunningExchange, TRUST_DOMAIN, TestPki, config, denied_call, open_store};
use tonic::Code;

jembatan_tests::on_both_databases!(
    witnesses_cosign_and_refuse_a_rewritten_log,
    forged_proofs_and_changed_leaves_do_not_verify,
);

fn audit() -> Stated {
    Stated::new(Purpose::Audit, LegalBasis::LegalObligation)
}

/// Witness keys of Kemendag and KP2MI, registered in the config.
struct Witnesses {
    kemendag: SignerKey,
    kp2mi: SignerKey,
}

fn exchange_config(pki: &TestPki, url: &str, witnesses: &Witnesses) -> Config {
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    for (agency, key) in [
        ("kemendag", &witnesses.kemendag),
        ("kp2mi", &witnesses.kp2mi),
    ] {
        config
            .audit
            .witnesses
            .insert(agency.into(), vec![key.verifier().to_text()]);
    }
    config
}

fn witnesses() -> Witnesses {
    let key = |agency: &str| {
        SignerKey::generate(&format!("{agency}.{TRUST_DOMAIN}/witness")).expect("witness key")
    };
    Witnesses {
        kemendag: key("kemendag"),
        kp2mi: key("kp2mi"),
    }
}

async fn audit_client(exchange: &RunningExchange, pki: &TestPki, agency: &str) -> AuditClient {
    let tls = if agency == "auditor" {
        pki.auditor("inspectorate")
    } else {
        pki.agency(agency, "witness")
    };
    exchange.connect(tls).await.expect("connect").audit(audit())
}

/// Waits until the signed checkpoint holds `size` leaves.
async fn checkpoint_at(client: &mut AuditClient, pki: &TestPki, size: u64) {
    for _ in 0..400 {
        if let Ok(checkpoint) = client.checkpoint(0, &pki.log_verifier()).await
            && checkpoint.checkpoint.size == size
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no checkpoint of {size} leaves within 10 s");
}

/// `n` denied calls, then waits for the checkpoint of `total` leaves.
async fn log_leaves(exchange: &RunningExchange, pki: &TestPki, n: usize, total: u64) {
    for _ in 0..n {
        denied_call(exchange, pki, "kemendag", "export-portal").await;
    }
    let mut auditor = audit_client(exchange, pki, "auditor").await;
    checkpoint_at(&mut auditor, pki, total).await;
}

fn refusal(result: Result<impl std::fmt::Debug, ClientError>) -> AuditError {
    match result {
        Err(ClientError::Proof(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn witnesses_cosign_and_refuse_a_rewritten_log(pki: &TestPki, url: &str) {
    let keys = witnesses();
    let config = exchange_config(pki, url, &keys);
    let log_key = pki.log_verifier();
    let exchange = RunningExchange::start(&config).await;
    log_leaves(&exchange, pki, 3, 3).await;

    // First use, then a consistent extension.
    let mut kemendag = audit_client(&exchange, pki, "kemendag").await;
    let first = kemendag
        .witness(None, &keys.kemendag, &log_key)
        .await
        .expect("first round");
    assert_eq!((first.previous, first.checkpoint.size), (None, 3));
    log_leaves(&exchange, pki, 2, 5).await;
    let second = kemendag
        .witness(Some(&first.state), &keys.kemendag, &log_key)
        .await
        .expect("second round");
    assert_eq!((second.previous, second.checkpoint.size), (Some(3), 5));
    let mut kp2mi = audit_client(&exchange, pki, "kp2mi").await;
    kp2mi
        .witness(None, &keys.kp2mi, &log_key)
        .await
        .expect("kp2mi");

    let mut auditor = audit_client(&exchange, pki, "auditor").await;
    let checkpoint = auditor.checkpoint(5, &log_key).await.expect("checkpoint");
    assert!(checkpoint.cosigned_by(&keys.kemendag.verifier()));
    assert!(checkpoint.cosigned_by(&keys.kp2mi.verifier()));
    let cosignatures = &checkpoint.message.cosignatures;
    assert_eq!(cosignatures.len(), 2);
    assert_eq!(
        cosignatures[0].principal,
        format!("spiffe://{TRUST_DOMAIN}/agency/kemendag/witness")
    );
    assert_eq!(
        cosignatures[0].witness_name,
        format!("kemendag.{TRUST_DOMAIN}/witness")
    );
    // The cosigned size-3 checkpoint keeps Kemendag's first cosignature.
    let three = auditor.checkpoint(3, &log_key).await.expect("checkpoint");
    assert!(three.cosigned_by(&keys.kemendag.verifier()));
    assert!(!three.cosigned_by(&keys.kp2mi.verifier()));

    // AddCosignature refuses what it must, naming why, and stores nothing.
    let text = checkpoint.note.text.clone();
    let root = checkpoint.checkpoint.root.to_vec();
    let add = |key: &SignerKey, size: u64, root: Vec<u8>, line: String| AddCosignatureRequest {
        tree_size: size,
        root_hash: root,
        signature_line: line,
        verifier_key: key.verifier().to_text(),
    };
    let cases = [
        (
            "kp2mi",
            add(&keys.kemendag, 5, root.clone(), keys.kemendag.sign(&text)),
            Code::PermissionDenied,
            "not registered for kp2mi",
        ),
        (
            "kemendag",
            add(&keys.kemendag, 5, vec![7; 32], keys.kemendag.sign(&text)),
            Code::FailedPrecondition,
            "the witness has seen another history",
        ),
        (
            "kemendag",
            add(
                &keys.kemendag,
                5,
                root.clone(),
                keys.kemendag.sign("other\n"),
            ),
            Code::InvalidArgument,
            "is not kemendag.test.jembatan.local/witness's signature",
        ),
        (
            "kemendag",
            add(&keys.kemendag, 999, root.clone(), keys.kemendag.sign(&text)),
            Code::NotFound,
            "no checkpoint of tree_size 999",
        ),
        (
            "auditor",
            add(&keys.kemendag, 5, root.clone(), keys.kemendag.sign(&text)),
            Code::PermissionDenied,
            "not registered for auditor/inspectorate",
        ),
    ];
    for (who, request, code, message) in cases {
        let mut client = audit_client(&exchange, pki, who).await;
        let status = client
            .inner()
            .add_cosignature(audit().request(request).expect("request"))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), code, "{message}: {status:?}");
        assert!(status.message().contains(message), "{status:?}");
    }
    let mut unregistered = add(&keys.kemendag, 5, root.clone(), String::new());
    unregistered.verifier_key = "garbage".into();
    let status = kemendag
        .inner()
        .add_cosignature(audit().request(unregistered).expect("request"))
        .await
        .expect_err("garbage key");
    assert_eq!(status.code(), Code::InvalidArgument);
    let checkpoint = auditor.checkpoint(5, &log_key).await.expect("checkpoint");
    assert_eq!(
        checkpoint.message.cosignatures.len(),
        2,
        "nothing was added"
    );
    exchange.stop().await;

    // The operator rewrites leaf 1 and re-signs the whole log with the log's own key.
    let store = open_store(pki, url).await;
    let (data, _) = leaf_row(&store, 1).await;
    let mut entry = LeafEntry::parse(&data).expect("leaf");
    entry.purpose = "AUDIT".into();
    let data = entry.to_bytes();
    let hash = merkle::leaf_hash(&data).to_vec();
    tamper(
        &store,
        &[
            ("DELETE FROM audit_cosignatures", vec![]),
            ("DELETE FROM audit_checkpoints", vec![]),
            ("DELETE FROM audit_nodes", vec![]),
            (
                "UPDATE audit_leaves SET data = $1, leaf_hash = $2 WHERE leaf_index = 1",
                vec![Bind::Bytes(data), Bind::Bytes(hash)],
            ),
        ],
    )
    .await;
    store.close().await;
    let exchange = RunningExchange::start(&config).await;
    let mut auditor = audit_client(&exchange, pki, "auditor").await;
    checkpoint_at(&mut auditor, pki, 5).await;

    // A fork: the checkpoint of 5 leaves now has another root, validly signed by the log.
    let mut kemendag = audit_client(&exchange, pki, "kemendag").await;
    let error = refusal(
        kemendag
            .witness(Some(&second.state), &keys.kemendag, &log_key)
            .await,
    );
    assert!(matches!(error, AuditError::Fork { size: 5 }), "{error}");
    assert!(error.to_string().starts_with("FORK: "), "{error}");

    // Longer, and still not an extension of what Kemendag cosigned.
    log_leaves(&exchange, pki, 2, 7).await;
    let error = refusal(
        kemendag
            .witness(Some(&second.state), &keys.kemendag, &log_key)
            .await,
    );
    assert!(
        matches!(error, AuditError::Inconsistent { from: 5, to: 7 }),
        "{error}"
    );
    let checkpoint = auditor.checkpoint(7, &log_key).await.expect("checkpoint");
    assert!(
        checkpoint.message.cosignatures.is_empty(),
        "the witness signed nothing"
    );
    // Handing the witness a state from another log is refused too.
    let foreign = WitnessState {
        note: jembatan_audit::checkpoint::Checkpoint {
            origin: "another.log/audit".into(),
            size: 1,
            root: [0; 32],
        }
        .sign(&keys.kp2mi)
        .to_string(),
    };
    let error = refusal(
        kemendag
            .witness(Some(&foreign), &keys.kemendag, &log_key)
            .await,
    );
    assert!(matches!(error, AuditError::BadSignature), "{error}");
    exchange.stop().await;
}

async fn forged_proofs_and_changed_leaves_do_not_verify(pki: &TestPki, url: &str) {
    let keys = witnesses();
    let exchange = RunningExchange::start(&exchange_config(pki, url, &keys)).await;
    let log_key = pki.log_verifier();
    log_leaves(&exchange, pki, 12, 12).await;
    let mut auditor = audit_client(&exchange, pki, "auditor").await;
    let proved = auditor.prove(5, None, 0, &log_key).await.expect("intact");
    assert_eq!(proved.checkpoint.checkpoint.size, 12);
    let receipt = proved.leaf_hash;
    auditor
        .verify_log(&log_key, |_, _| {})
        .await
        .expect("intact log");

    // A forged inclusion proof: the stored root of leaves 0..4, on leaf 5's path, has one bit
    // flipped, so the exchange serves a proof that does not lead to the signed root.
    let store = open_store(pki, url).await;
    let original = node_hash(&store, 2, 0).await;
    let mut hash = original.clone();
    hash[0] ^= 0x80;
    const SET_NODE: &str = "UPDATE audit_nodes SET hash = $1 WHERE level = 2 AND node_index = 0";
    tamper(&store, &[(SET_NODE, vec![Bind::Bytes(hash)])]).await;
    let error = refusal(auditor.prove(5, None, 0, &log_key).await);
    assert!(
        error.to_string().contains("does not lead to the root"),
        "{error}"
    );
    let mut kemendag = audit_client(&exchange, pki, "kemendag").await;
    let error = refusal(kemendag.prove(5, Some(receipt), 0, &log_key).await);
    assert!(
        error.to_string().contains("does not lead to the root"),
        "the receipt holder catches it too: {error}"
    );

    tamper(&store, &[(SET_NODE, vec![Bind::Bytes(original)])]).await;
    auditor
        .prove(5, None, 0, &log_key)
        .await
        .expect("proves again once the node is restored");

    // A changed leaf, rehashed so that it matches its own hash: verification from the API
    // recomputes the tree and names where it differs. Leaf 9 is changed; the signed tree
    // commits to the pair 8..10 only, so the proofs stop at leaf 8.
    let (data, _) = leaf_row(&store, 9).await;
    let mut entry = LeafEntry::parse(&data).expect("leaf");
    entry.legal_basis = "CONSENT".into();
    let data = entry.to_bytes();
    let hash = merkle::leaf_hash(&data).to_vec();
    tamper(
        &store,
        &[(
            "UPDATE audit_leaves SET data = $1, leaf_hash = $2 WHERE leaf_index = 9",
            vec![Bind::Bytes(data), Bind::Bytes(hash)],
        )],
    )
    .await;
    let error = auditor
        .verify_log(&log_key, |_, _| {})
        .await
        .expect_err("changed leaf");
    assert!(
        matches!(
            error,
            ClientError::LeafNotInCheckpoint { index: 8, size: 12 }
        ),
        "{error}"
    );
    // The checkpoint the exchange serves is still the one the log signed.
    let response = auditor
        .inner()
        .get_checkpoint(
            audit()
                .request(GetCheckpointRequest { tree_size: 0 })
                .expect("request"),
        )
        .await
        .expect("checkpoint");
    assert_eq!(
        response
            .into_inner()
            .checkpoint
            .expect("checkpoint")
            .tree_size,
        12
    );
    store.close().await;
    exchange.stop().await;
}
