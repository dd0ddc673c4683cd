//! Cosigning and the tamper cases that only someone outside the exchange can catch, end to end
//! over mutual TLS on both databases:
//!
//! - agencies' witnesses cosign checkpoints with registered keys, and each cosignature taken is
//!   a leaf of the log itself (record type `cosignature`, keyed by the size cosigned);
//!   AddCosignature refuses unregistered keys, other roots, bad signatures, logging the refusal
//!   and storing no cosignature;
//! - an operator who rewrites the log and re-signs it (a fork: two checkpoints of one size with
//!   different roots, then a longer one that does not extend what was witnessed) is refused by
//!   the witness, which signs nothing;
//! - a forged inclusion proof in a response (a stored node hash changed) does not prove;
//! - verification from the API names the first leaf that the signed tree does not hold.
//!
//! A cosignature, a ListEntries, a GetEntry and a refused call each add a leaf, committed before
//! the caller has its answer; GetCheckpoint and the proofs add none. So the tests take sizes
//! from the log at rest (its latest signed checkpoint holds every leaf the store has committed),
//! read through the store and GetCheckpoint, and count the leaves their own calls add.

use std::time::Duration;

use jembatan_audit::AuditError;
use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_audit::merkle;
use jembatan_audit::note::{SignerKey, VerifierKey};
use jembatan_audit::witness::WitnessState;
use jembatan_client::audit::AuditClient;
use jembatan_client::{ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{AddCosignatureRequest, GetCheckpointRequest};
use jembatan_server::Config;
use jembatan_store::{LeafFilter, Store};
use jembatan_tests::tamper::{Bind, leaf_row, node_hash, tamper};
use jembatan_tests::{RunningExchange, TRUST_DOMAIN, TestPki, config, denied_call, open_store};
use tonic::Code;

jembatan_tests::on_both_databases!(
    witnesses_cosign_and_refuse_a_rewritten_log,
    forged_proofs_and_changed_leaves_do_not_verify,
);

const ADD_COSIGNATURE: &str = "AuditService/AddCosignature";

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

async fn audit_client(exchange: &RunningExchange, pki: &TestPki, who: &str) -> AuditClient {
    let tls = if who == "auditor" {
        pki.auditor("inspectorate")
    } else {
        pki.agency(who, "witness")
    };
    exchange.connect(tls).await.expect("connect").audit(audit())
}

/// The principal [`audit_client`] connects as.
fn principal(who: &str) -> String {
    if who == "auditor" {
        format!("spiffe://{TRUST_DOMAIN}/auditor/inspectorate")
    } else {
        format!("spiffe://{TRUST_DOMAIN}/agency/{who}/witness")
    }
}

/// The log as the test watches it, without adding to it: the committed size from the store,
/// the signed checkpoints through GetCheckpoint (ListEntries would log a leaf of its own).
struct Watch {
    auditor: AuditClient,
    store: Store,
    log_key: VerifierKey,
}

impl Watch {
    async fn new(exchange: &RunningExchange, pki: &TestPki, url: &str) -> Self {
        Self {
            auditor: audit_client(exchange, pki, "auditor").await,
            store: open_store(pki, url).await,
            log_key: pki.log_verifier(),
        }
    }

    /// The leaves committed.
    async fn size(&self) -> u64 {
        self.store.log_size().await.expect("log size")
    }

    /// Waits until the log is at rest, its latest signed checkpoint holding every committed
    /// leaf, and returns its size. Every call of these tests commits its leaf before it is
    /// answered, so once no call is running the size can only be waited for, not raced.
    async fn at_rest(&mut self) -> u64 {
        let mut last = None;
        for _ in 0..400 {
            let size = self.size().await;
            if let Ok(latest) = self.auditor.checkpoint(0, &self.log_key).await {
                if latest.checkpoint.size == size && self.size().await == size {
                    return size;
                }
                last = Some((latest.checkpoint.size, size));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the log did not come to rest within 10 s: (signed, committed) = {last:?}");
    }

    /// Every leaf, parsed from its stored bytes.
    async fn leaves(&self) -> Vec<(u64, LeafEntry)> {
        let rows = self
            .store
            .list_leaves(&LeafFilter::default(), None, u64::MAX, 1000)
            .await
            .expect("leaves");
        assert!(rows.len() < 1000, "more leaves than one page");
        rows.into_iter()
            .map(|(index, data)| (index, LeafEntry::parse(&data).expect("leaf")))
            .collect()
    }

    /// The leaves of cosignatures taken: index, principal and the size cosigned.
    async fn cosignatures(&self) -> Vec<(u64, String, u64)> {
        self.leaves()
            .await
            .into_iter()
            .filter(|(_, leaf)| leaf.record_type == "cosignature")
            .map(|(index, leaf)| {
                assert_eq!(
                    (leaf.method.as_str(), leaf.outcome),
                    (ADD_COSIGNATURE, Outcome::Allow),
                    "leaf {index}"
                );
                let size = leaf.record_key.parse().expect("the size cosigned");
                (index, leaf.principal, size)
            })
            .collect()
    }

    async fn close(self) {
        self.store.close().await;
    }
}

/// `n` denied calls, each logging one leaf before it is answered; then the size of the log at
/// rest.
async fn log_leaves(exchange: &RunningExchange, pki: &TestPki, watch: &mut Watch, n: u64) -> u64 {
    let before = watch.size().await;
    for _ in 0..n {
        denied_call(exchange, pki, "kemendag", "export-portal").await;
    }
    assert_eq!(watch.size().await, before + n, "one leaf per denied call");
    watch.at_rest().await
}

fn refusal(result: Result<impl std::fmt::Debug, ClientError>) -> AuditError {
    match result {
        Err(ClientError::Proof(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn add(key: &SignerKey, size: u64, root: Vec<u8>, line: String) -> AddCosignatureRequest {
    AddCosignatureRequest {
        tree_size: size,
        root_hash: root,
        signature_line: line,
        verifier_key: key.verifier().to_text(),
    }
}

async fn witnesses_cosign_and_refuse_a_rewritten_log(pki: &TestPki, url: &str) {
    let keys = witnesses();
    let config = exchange_config(pki, url, &keys);
    let log_key = pki.log_verifier();
    let exchange = RunningExchange::start(&config).await;
    let mut watch = Watch::new(&exchange, pki, url).await;
    let first_size = log_leaves(&exchange, pki, &mut watch, 3).await;

    // First use, then a consistent extension. Each cosignature taken adds its leaf right after
    // the size cosigned, which the next checkpoint then holds.
    let mut kemendag = audit_client(&exchange, pki, "kemendag").await;
    let first = kemendag
        .witness(None, &keys.kemendag, &log_key)
        .await
        .expect("first round");
    assert_eq!((first.previous, first.checkpoint.size), (None, first_size));
    assert_eq!(
        watch.at_rest().await,
        first_size + 1,
        "the cosignature's leaf"
    );
    assert_eq!(
        watch.cosignatures().await,
        [(first_size, principal("kemendag"), first_size)]
    );
    let second_size = log_leaves(&exchange, pki, &mut watch, 2).await;
    let second = kemendag
        .witness(Some(&first.state), &keys.kemendag, &log_key)
        .await
        .expect("second round");
    assert_eq!(
        (second.previous, second.checkpoint.size),
        (Some(first_size), second_size)
    );
    // KP2MI's first round once Kemendag's cosignature leaf is signed, so that which checkpoint
    // it is offered does not depend on the sequencer's timing.
    let third_size = watch.at_rest().await;
    assert_eq!(third_size, second_size + 1, "the cosignature's leaf");
    let mut kp2mi = audit_client(&exchange, pki, "kp2mi").await;
    let third = kp2mi
        .witness(None, &keys.kp2mi, &log_key)
        .await
        .expect("kp2mi");
    assert_eq!((third.previous, third.checkpoint.size), (None, third_size));
    // A witness may cosign any checkpoint the log signed, not only the latest: KP2MI cosigns
    // the one Kemendag cosigned last too.
    let mut auditor = audit_client(&exchange, pki, "auditor").await;
    let checkpoint = auditor
        .checkpoint(second_size, &log_key)
        .await
        .expect("checkpoint");
    let text = checkpoint.note.text.clone();
    let root = checkpoint.checkpoint.root.to_vec();
    kp2mi
        .inner()
        .add_cosignature(
            audit()
                .request(add(
                    &keys.kp2mi,
                    second_size,
                    root.clone(),
                    keys.kp2mi.sign(&text),
                ))
                .expect("request"),
        )
        .await
        .expect("an older checkpoint");
    assert_eq!(
        watch.at_rest().await,
        third_size + 2,
        "two cosignature leaves"
    );
    let cosigned = vec![
        (first_size, principal("kemendag"), first_size),
        (second_size, principal("kemendag"), second_size),
        (third_size, principal("kp2mi"), third_size),
        (third_size + 1, principal("kp2mi"), second_size),
    ];
    assert_eq!(watch.cosignatures().await, cosigned);

    let checkpoint = auditor
        .checkpoint(second_size, &log_key)
        .await
        .expect("checkpoint");
    assert!(checkpoint.cosigned_by(&keys.kemendag.verifier()));
    assert!(checkpoint.cosigned_by(&keys.kp2mi.verifier()));
    let cosignatures = &checkpoint.message.cosignatures;
    assert_eq!(cosignatures.len(), 2);
    assert_eq!(cosignatures[0].principal, principal("kemendag"));
    assert_eq!(
        cosignatures[0].witness_name,
        format!("kemendag.{TRUST_DOMAIN}/witness")
    );
    assert_eq!(cosignatures[1].principal, principal("kp2mi"));
    // The checkpoint Kemendag cosigned first keeps its cosignature alone; the one KP2MI was
    // offered has KP2MI's alone.
    let earlier = auditor
        .checkpoint(first_size, &log_key)
        .await
        .expect("checkpoint");
    assert!(earlier.cosigned_by(&keys.kemendag.verifier()));
    assert!(!earlier.cosigned_by(&keys.kp2mi.verifier()));
    let later = auditor
        .checkpoint(third_size, &log_key)
        .await
        .expect("checkpoint");
    assert!(later.cosigned_by(&keys.kp2mi.verifier()));
    assert!(!later.cosigned_by(&keys.kemendag.verifier()));

    // AddCosignature refuses what it must, naming why; it logs each refusal and stores nothing.
    let refused_from = watch.size().await;
    let cases = [
        (
            "kp2mi",
            add(
                &keys.kemendag,
                second_size,
                root.clone(),
                keys.kemendag.sign(&text),
            ),
            Code::PermissionDenied,
            "not registered for kp2mi",
        ),
        (
            "kemendag",
            add(
                &keys.kemendag,
                second_size,
                vec![7; 32],
                keys.kemendag.sign(&text),
            ),
            Code::FailedPrecondition,
            "the witness has seen another history",
        ),
        (
            "kemendag",
            add(
                &keys.kemendag,
                second_size,
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
            add(
                &keys.kemendag,
                second_size,
                root.clone(),
                keys.kemendag.sign(&text),
            ),
            Code::PermissionDenied,
            "not registered for auditor/inspectorate",
        ),
    ];
    let mut refused = Vec::new();
    for (who, request, code, message) in cases {
        let mut client = audit_client(&exchange, pki, who).await;
        let status = client
            .inner()
            .add_cosignature(audit().request(request).expect("request"))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), code, "{message}: {status:?}");
        assert!(status.message().contains(message), "{status:?}");
        refused.push((principal(who), code));
    }
    let mut unregistered = add(&keys.kemendag, second_size, root.clone(), String::new());
    unregistered.verifier_key = "garbage".into();
    let status = kemendag
        .inner()
        .add_cosignature(audit().request(unregistered).expect("request"))
        .await
        .expect_err("garbage key");
    assert_eq!(status.code(), Code::InvalidArgument);
    refused.push((principal("kemendag"), Code::InvalidArgument));
    let logged: Vec<_> = watch
        .leaves()
        .await
        .into_iter()
        .filter(|(index, _)| *index >= refused_from)
        .map(|(_, leaf)| {
            (
                leaf.principal,
                leaf.method,
                leaf.outcome,
                leaf.record_type,
                leaf.status,
            )
        })
        .collect();
    let expected: Vec<_> = refused
        .into_iter()
        .map(|(principal, code)| {
            let status = match code {
                Code::PermissionDenied => "permission_denied",
                Code::FailedPrecondition => "failed_precondition",
                Code::InvalidArgument => "invalid_argument",
                Code::NotFound => "not_found",
                other => panic!("no case is refused with {other:?}"),
            };
            (
                principal,
                ADD_COSIGNATURE.to_owned(),
                Outcome::Deny,
                "request".to_owned(),
                status.to_owned(),
            )
        })
        .collect();
    assert_eq!(logged, expected, "one refusal leaf per refused call");
    assert_eq!(watch.cosignatures().await, cosigned, "no cosignature leaf");
    let checkpoint = auditor
        .checkpoint(second_size, &log_key)
        .await
        .expect("checkpoint");
    assert_eq!(
        checkpoint.message.cosignatures.len(),
        2,
        "nothing was added"
    );
    watch.close().await;
    exchange.stop().await;

    // The operator rewrites leaf 1 and re-signs the log with the log's own key. The log has
    // grown past the size Kemendag cosigned last (the leaf of that cosignature is the next one),
    // so the operator also rolls it back to that size, dropping the later leaves: the log then
    // offers a checkpoint of the size Kemendag cosigned, with another root.
    let witnessed = second.checkpoint.size;
    let store = open_store(pki, url).await;
    let (data, _) = leaf_row(&store, 1).await;
    let mut entry = LeafEntry::parse(&data).expect("leaf");
    assert_ne!(entry.purpose, "AUDIT", "leaf 1 is one of the denied calls");
    entry.purpose = "AUDIT".into();
    let data = entry.to_bytes();
    let hash = merkle::leaf_hash(&data).to_vec();
    let drop_later = format!("DELETE FROM audit_leaves WHERE leaf_index >= {witnessed}");
    let roll_back = format!("UPDATE audit_head SET next_index = {witnessed} WHERE singleton = 1");
    tamper(
        &store,
        &[
            ("DELETE FROM audit_cosignatures", vec![]),
            ("DELETE FROM audit_checkpoints", vec![]),
            ("DELETE FROM audit_nodes", vec![]),
            (drop_later.as_str(), vec![]),
            (roll_back.as_str(), vec![]),
            (
                "UPDATE audit_leaves SET data = $1, leaf_hash = $2 WHERE leaf_index = 1",
                vec![Bind::Bytes(data), Bind::Bytes(hash)],
            ),
        ],
    )
    .await;
    store.close().await;
    let exchange = RunningExchange::start(&config).await;
    let mut watch = Watch::new(&exchange, pki, url).await;
    assert_eq!(watch.at_rest().await, witnessed, "re-signed");

    // A fork: the checkpoint of that size now has another root, validly signed by the log.
    let mut kemendag = audit_client(&exchange, pki, "kemendag").await;
    let error = refusal(
        kemendag
            .witness(Some(&second.state), &keys.kemendag, &log_key)
            .await,
    );
    assert!(
        matches!(error, AuditError::Fork { size } if size == witnessed),
        "{error}"
    );
    assert!(error.to_string().starts_with("FORK: "), "{error}");
    assert_eq!(
        watch.size().await,
        witnessed,
        "nothing cosigned, nothing logged"
    );

    // Longer, and still not an extension of what Kemendag cosigned.
    let longer = log_leaves(&exchange, pki, &mut watch, 2).await;
    let error = refusal(
        kemendag
            .witness(Some(&second.state), &keys.kemendag, &log_key)
            .await,
    );
    assert!(
        matches!(error, AuditError::Inconsistent { from, to } if (from, to) == (witnessed, longer)),
        "{error}"
    );
    let checkpoint = watch
        .auditor
        .checkpoint(longer, &log_key)
        .await
        .expect("checkpoint");
    assert!(
        checkpoint.message.cosignatures.is_empty(),
        "the witness signed nothing"
    );
    assert_eq!(
        watch.cosignatures().await,
        cosigned[..1],
        "none taken since Kemendag's first, whose leaf is below the size rolled back to"
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
    assert_eq!(
        watch.size().await,
        longer,
        "nothing cosigned, nothing logged"
    );
    watch.close().await;
    exchange.stop().await;
}

async fn forged_proofs_and_changed_leaves_do_not_verify(pki: &TestPki, url: &str) {
    let keys = witnesses();
    let exchange = RunningExchange::start(&exchange_config(pki, url, &keys)).await;
    let log_key = pki.log_verifier();
    let mut watch = Watch::new(&exchange, pki, url).await;
    let size = log_leaves(&exchange, pki, &mut watch, 12).await;
    let mut auditor = audit_client(&exchange, pki, "auditor").await;
    // GetEntry proves against the checkpoint it finds, then logs its own leaf after it.
    let proved = auditor.prove(5, None, 0, &log_key).await.expect("intact");
    assert_eq!(proved.checkpoint.checkpoint.size, size);
    assert_eq!(watch.size().await, size + 1, "the read's leaf");
    let receipt = proved.leaf_hash;
    auditor
        .verify_log(&log_key, |_, _| {})
        .await
        .expect("intact log");

    // A forged inclusion proof: the stored root of leaves 0..4, on leaf 5's path, has one bit
    // flipped, so the exchange serves a proof that does not lead to the signed root. (The
    // checkpoints signed meanwhile, over the reads' own leaves, are built on the subtree of
    // leaves 0..8, which holds the true hash, so their roots are the true ones.)
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
    // commits to the pair 8..10 only (the proofs of prefixes serve leaf 9's stored hash, the
    // changed one, beside leaf 8), so the proofs stop at leaf 8, whatever the size signed.
    let signed = watch.at_rest().await;
    let before = auditor
        .checkpoint(signed, &log_key)
        .await
        .expect("checkpoint");
    let (data, _) = leaf_row(&store, 9).await;
    let mut entry = LeafEntry::parse(&data).expect("leaf");
    assert_ne!(
        entry.legal_basis, "CONSENT",
        "leaf 9 is one of the denied calls"
    );
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
            ClientError::LeafNotInCheckpoint { index: 8, size } if size == signed
        ),
        "{error}"
    );
    // The verification's listing is the one leaf logged since, and the checkpoint the exchange
    // serves of the size verified is still the one the log signed before the change.
    assert_eq!(watch.at_rest().await, signed + 1, "the listing's leaf");
    let response = auditor
        .inner()
        .get_checkpoint(
            audit()
                .request(GetCheckpointRequest { tree_size: signed })
                .expect("request"),
        )
        .await
        .expect("checkpoint")
        .into_inner()
        .checkpoint
        .expect("checkpoint");
    assert_eq!(
        (response.tree_size, response.root_hash),
        (signed, before.checkpoint.root.to_vec())
    );
    store.close().await;
    watch.close().await;
    exchange.stop().await;
}
