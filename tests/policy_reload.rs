//! Policy reload while serving: a broken folder is refused and the set in force keeps deciding;
//! a valid change takes effect without a restart. Real server, real mutual TLS.

use std::time::Duration;

use jembatan_client::{Client, PolicyStatus};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_policy::PolicySource;
use jembatan_tests::raw_call::{call, stated};
use jembatan_tests::{RunningExchange, TestPki, config};
use tonic::Code;

/// Waits until the exchange's policy status satisfies `done`, or fails after 10 s.
async fn wait_for(
    client: &Client,
    what: &str,
    done: impl Fn(&PolicyStatus) -> bool,
) -> PolicyStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = client.policy_status().await.expect("policy status");
        if done(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The code of a kemendag call of QueryAvailability for STATISTICS.
async fn availability_code(client: &Client) -> Code {
    let result = call(
        client.channel(),
        "WorkforceService/QueryAvailability",
        &stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await;
    result.map_or_else(|status| status.code(), |_| Code::Ok)
}

const FREEZE: &str = "@id(\"freeze-availability\")\n\
    forbid (principal, action == Jembatan::Action::\"WorkforceService/QueryAvailability\", resource);\n";

#[tokio::test]
async fn a_broken_policy_file_is_refused_while_the_old_set_serves() {
    let pki = TestPki::new();
    let folder = tempfile::tempdir().expect("tempdir");
    jembatan_policy::schema::write_defaults(folder.path()).expect("defaults");
    let mut config = config(&pki, "sqlite://jembatan.db", "");
    config.policy.dir = folder.path().to_path_buf();
    config.policy.watch_interval_ms = 25;
    let exchange = RunningExchange::start(&config).await;
    let client = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");

    let initial = client.policy_status().await.expect("status");
    let hash_of = || PolicySource::read_dir(folder.path()).expect("read").hash;
    assert_eq!(initial.policy_set.as_deref(), Some(hash_of().as_str()));
    assert_eq!(initial.refused, None);
    assert_eq!(
        availability_code(&client).await,
        Code::Ok,
        "allowed and answered"
    );

    // A valid rule and a syntax error in one file: the whole folder is refused.
    let freeze = folder.path().join("freeze.cedar");
    std::fs::write(
        &freeze,
        format!("{FREEZE}permit (principal action resource);\n"),
    )
    .expect("write");
    let broken = hash_of();
    let status = wait_for(&client, "refusal", |s| s.refused.is_some()).await;
    assert_eq!(status.refused.as_deref(), Some(broken.as_str()));
    assert_eq!(
        status.policy_set, initial.policy_set,
        "the old set stays in force"
    );
    assert_eq!(
        availability_code(&client).await,
        Code::Ok,
        "still decided by the old set"
    );

    // Fixed: the new set takes effect and the refusal is cleared.
    std::fs::write(&freeze, FREEZE).expect("write");
    let fixed = hash_of();
    let status = wait_for(&client, "reload", |s| s.policy_set != initial.policy_set).await;
    assert_eq!(status.policy_set.as_deref(), Some(fixed.as_str()));
    assert_eq!(status.refused, None);
    assert_eq!(availability_code(&client).await, Code::PermissionDenied);

    // A folder that vanishes (a ConfigMap being swapped) leaves the set in force alone.
    let moved = folder.path().with_extension("moved");
    std::fs::rename(folder.path(), &moved).expect("move away");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(availability_code(&client).await, Code::PermissionDenied);
    // Back without the freeze: the default set again.
    std::fs::remove_file(moved.join("freeze.cedar")).expect("remove");
    std::fs::rename(&moved, folder.path()).expect("move back");
    let status = wait_for(&client, "restore", |s| s.policy_set == initial.policy_set).await;
    assert_eq!(status.refused, None);
    assert_eq!(availability_code(&client).await, Code::Ok);
    exchange.stop().await;
}
