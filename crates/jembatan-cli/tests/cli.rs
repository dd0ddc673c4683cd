//! The `jembatan` binary as an operator meets it: config errors that name the key, `pki`,
//! `jembatan dev` made once and reused, `health --dev`, `policy check|explain|status`, policy
//! reload on SIGHUP, and shutdown on SIGTERM within its grace.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod support;

use support::{BIN, Dev, ok, stderr, stdout};

fn jembatan(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run jembatan")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write file");
}

/// Asserts that a command failed saying `why` on standard error.
fn refused(out: &Output, why: &str) {
    let stderr = stderr(out);
    assert!(!out.status.success(), "exited 0: {why}");
    assert!(stderr.contains(why), "{why:?} not in: {stderr}");
}

#[test]
fn a_config_with_an_unknown_or_badly_typed_key_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jembatan.toml");
    let path_arg = path.to_str().expect("utf-8 path");
    let cases = [
        (
            "[identity]\ntrust_domain = \"x.local\"\n[server]\nlisten_port = 1\n",
            "server.listen_port",
        ),
        (
            "[identity]\ntrust_domain = \"x.local\"\n[server]\nshutdown_grace_secs = \"soon\"\n",
            "server.shutdown_grace_secs",
        ),
        (
            "[identity]\ntrust_domain = \"x.local\"\n[tls]\nallow_tls12 = \"yes\"\n",
            "tls.allow_tls12",
        ),
        (
            "[identity]\ntrust_domain = \"x.local\"\nverbose = true\n",
            "verbose",
        ),
    ];
    for (text, key) in cases {
        write(&path, text);
        refused(&jembatan(&["serve", "--config", path_arg]), key);
    }

    write(&path, "[identity]\ntrust_domain = \"x.local\"\n");
    let out = Command::new(BIN)
        .args(["serve", "--config", path_arg])
        .env("JEMBATAN_SERVER_LISTEN", "not-an-address")
        .output()
        .expect("run");
    refused(&out, "server.listen (set by JEMBATAN_SERVER_LISTEN)");
}

#[test]
fn pki_init_and_issue_write_the_named_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    let pki_arg = pki.to_str().expect("utf-8");
    ok(&jembatan(&[
        "pki",
        "init",
        "--dir",
        pki_arg,
        "--trust-domain",
        "exchange.example.go.id",
    ]));
    let issued = ok(&jembatan(&[
        "pki",
        "issue",
        "--dir",
        pki_arg,
        "--agency",
        "kemendag",
        "--system",
        "export-portal",
    ]));
    assert!(
        issued.contains("spiffe://exchange.example.go.id/agency/kemendag/export-portal"),
        "{issued}"
    );
    let issue_bpk = [
        "pki",
        "issue",
        "--dir",
        pki_arg,
        "--auditor",
        "bpk",
        "--name",
        "bpk",
    ];
    ok(&jembatan(&issue_bpk));
    for file in [
        "ca.pem",
        "ca-key.pem",
        "server.pem",
        "server-key.pem",
        "kemendag-export-portal.pem",
        "kemendag-export-portal-key.pem",
        "bpk.pem",
        "bpk-key.pem",
    ] {
        assert!(pki.join(file).is_file(), "{file}");
    }
    // Issuing over an existing name, or an identity that is not one, changes nothing.
    let before = std::fs::read(pki.join("bpk.pem")).expect("read");
    refused(&jembatan(&issue_bpk), "exists already");
    assert_eq!(std::fs::read(pki.join("bpk.pem")).expect("read"), before);
    let out = jembatan(&[
        "pki", "issue", "--dir", pki_arg, "--agency", "Kemendag", "--system", "x",
    ]);
    refused(&out, "agency \"Kemendag\"");
}

impl Dev {
    /// `jembatan dev` in `root` that reloads its policies on SIGHUP only, so that a test sees
    /// which did it, and signs a checkpoint every 50 ms.
    fn sighup_only(root: &Path) -> Dev {
        Dev::start(
            root,
            &[
                ("JEMBATAN_POLICY_WATCH_INTERVAL_MS", "0"),
                ("JEMBATAN_AUDIT_CHECKPOINT_INTERVAL_MS", "50"),
            ],
        )
    }

    fn health(&self, identity: &str) -> Output {
        self.run(&["health"], &["--as", identity])
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal}");
    }

    /// A client of this exchange with the dev folder's CA and the identity `name`.
    async fn client(&self, name: &str) -> jembatan_client::Client {
        let pki = self.dir.join("pki");
        let tls = jembatan_client::ClientTls::from_files(
            &pki.join("ca.pem"),
            &pki.join(format!("{name}.pem")),
            &pki.join(format!("{name}-key.pem")),
        )
        .expect("dev identity");
        jembatan_client::Client::connect(&self.url, tls)
            .await
            .expect("connect")
    }

    fn policy_status(&self) -> Output {
        self.run(&["policy", "status"], &[])
    }

    /// Sends SIGTERM and waits for the exit, returning it and how long it took.
    fn terminate(mut self) -> (std::process::ExitStatus, Duration) {
        self.signal("-TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn dev_makes_the_folder_once_serves_it_and_reuses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("exchange");
    let dev = Dev::sighup_only(&root);
    for file in [
        "jembatan.toml",
        "jembatan.db",
        "pki/ca.pem",
        "pki/ca-key.pem",
        "pki/server.pem",
        "pki/server-key.pem",
        "pki/kemendag.pem",
        "pki/kemendag-key.pem",
        "pki/kp2mi.pem",
        "pki/kp2mi-key.pem",
        "pki/auditor.pem",
        "pki/auditor-key.pem",
        "audit/log.key",
        "audit/log.pub",
        "audit/witness-kemendag.key",
        "audit/witness-kemendag.pub",
        "audit/witness-kp2mi.key",
        "audit/witness-kp2mi.pub",
        "policies/jembatan.cedarschema",
        "policies/kemendag.cedar",
        "policies/kp2mi.cedar",
        "policies/auditors.cedar",
        "policies/individual-data.cedar",
    ] {
        assert!(root.join(file).is_file(), "{file} missing");
    }
    let log_pub = std::fs::read_to_string(root.join("audit/log.pub")).expect("log.pub");
    assert!(
        log_pub.starts_with("jembatan.dev.jembatan.local/audit+"),
        "{log_pub}"
    );
    for identity in ["kemendag", "kp2mi", "auditor"] {
        assert_eq!(ok(&dev.health(identity)).trim(), "SERVING", "{identity}");
    }
    let (status, _) = dev.terminate();
    assert!(status.success(), "exit after SIGTERM: {status:?}");

    let ca_before = std::fs::read(root.join("pki/ca.pem")).expect("ca");
    let key_before = std::fs::read(root.join("audit/log.key")).expect("log.key");
    let dev = Dev::sighup_only(&root);
    assert_eq!(
        std::fs::read(root.join("pki/ca.pem")).expect("ca"),
        ca_before,
        "CA was remade"
    );
    assert_eq!(
        std::fs::read(root.join("audit/log.key")).expect("key"),
        key_before,
        "log key was remade"
    );
    assert_eq!(ok(&dev.health("kp2mi")).trim(), "SERVING");

    // With --details: what the exchange reports of its store, log, policies and TLS material.
    let details = ok(&dev.run(&["health"], &["--details"]));
    let line = |name: &str| {
        details
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line: {details}"))
            .to_owned()
    };
    assert_eq!(details.lines().next(), Some("SERVING"), "{details}");
    assert!(line("policy set").contains("sha256:"), "{details}");
    assert!(line("store").ends_with(" ok"), "{details}");
    assert!(
        line("audit log").contains("leaves; the latest checkpoint signs"),
        "{details}"
    );
    // `pki init` issues the server certificate for 397 days; the dev CRL is due in 7.
    assert!(line("server cert").contains("(in 39"), "{details}");
    assert!(
        line("CRLs").contains("next due") && line("CRLs").contains("(in "),
        "{details}"
    );
    drop(dev);
}

#[test]
fn sigterm_ends_the_server_within_its_grace_even_with_a_call_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("exchange");
    let dev = Dev::sighup_only(&root);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // A health watch is a call that never ends by itself.
    let mut watch = runtime.block_on(async {
        let client = dev.client("kemendag").await;
        let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel());
        let mut stream = health
            .watch(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("watch")
            .into_inner();
        let first = stream
            .message()
            .await
            .expect("message")
            .expect("first status");
        assert_eq!(first.status(), jembatan_client::ServingStatus::Serving);
        stream
    });
    let (status, took) = dev.terminate();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} with a 1 s grace"
    );
    // The watcher was told the server stopped serving, or its stream ended.
    let next = runtime.block_on(watch.message());
    if let Ok(Some(message)) = next {
        assert_eq!(message.status(), jembatan_client::ServingStatus::NotServing);
    }
}

/// The `policy set sha256:…` that `jembatan policy check` prints for `dir`.
fn checked_hash(dir: &Path) -> String {
    let text = ok(&jembatan(&[
        "policy",
        "check",
        "--dir",
        dir.to_str().expect("utf-8"),
    ]));
    let hash = text
        .lines()
        .find_map(|line| line.strip_prefix("policy set "))
        .expect("policy set line");
    hash.to_owned()
}

#[test]
fn policy_check_validates_a_folder_and_names_each_problem() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policies");
    let checked = ok(&jembatan(&[
        "policy",
        "check",
        "--dir",
        deploy.to_str().expect("utf-8"),
    ]));
    assert!(
        checked.starts_with("ok: 19 policies in 4 files"),
        "{checked}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&deploy).expect("deploy/policies") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    write(
        &dir.path().join("typo.cedar"),
        "@id(\"typo\")\npermit (principal, action, resource)\n\
         when { context.purpose == Jembatan::Purpose::\"STATISTIK\" };\n",
    );
    let out = jembatan(&[
        "policy",
        "check",
        "--dir",
        dir.path().to_str().expect("utf-8"),
    ]);
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("typo.cedar:3:"), "{stderr}");
    assert!(stderr.contains("policy typo:"), "{stderr}");
    assert!(stderr.contains("STATISTIK"), "{stderr}");
}

/// `jembatan policy explain` on deploy/policies.
fn explain(principal: &str, action: &str, purpose: &str, more: &[&str]) -> Output {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policies");
    let mut args = vec![
        "policy",
        "explain",
        "--dir",
        deploy.to_str().expect("utf-8"),
        "--principal",
        principal,
        "--action",
        action,
        "--purpose",
        purpose,
    ];
    args.extend_from_slice(more);
    jembatan(&args)
}

#[test]
fn policy_explain_prints_the_decision_and_the_deciding_policies() {
    let out = explain(
        "kemendag/export-portal",
        "ListCandidates",
        "BUSINESS_MATCHING",
        &[],
    );
    let text = ok(&out);
    assert!(
        text.contains("action       WorkforceService/ListCandidates"),
        "{text}"
    );
    let line = |basis: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{basis} ")))
            .unwrap_or_else(|| panic!("no {basis} line in {text}"))
    };
    assert!(
        line("CONSENT").contains("ALLOW")
            && line("CONSENT").contains("kemendag-candidate-profiles (kemendag.cedar:"),
        "{text}"
    );
    assert!(
        line("PUBLIC_TASK").contains("DENY")
            && line("PUBLIC_TASK").contains("individual-data-needs-consent"),
        "{text}"
    );

    let out = explain(
        "bappenas/sipd",
        "QueryAvailability",
        "STATISTICS",
        &["--legal-basis", "PUBLIC_TASK"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("PUBLIC_TASK          DENY     none permits it (deny by default)"),
        "{text}"
    );

    let out = explain(
        "kemendag/export-portal",
        "DumpEverything",
        "STATISTICS",
        &[],
    );
    refused(&out, "action \"DumpEverything\" is not declared");
}

#[test]
fn sighup_reloads_the_policies_and_policy_status_shows_the_set_in_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("exchange");
    let policies = root.join("policies");
    let dev = Dev::sighup_only(&root);
    let wait_for = |what: &str, done: &dyn Fn(&Output) -> bool| -> Output {
        let start = Instant::now();
        loop {
            let out = dev.policy_status();
            if done(&out) {
                return out;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: {}",
                stdout(&out)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let initial = checked_hash(&policies);
    assert_eq!(
        ok(&dev.policy_status()).trim(),
        format!("policy set in force  {initial}")
    );

    write(
        &policies.join("freeze.cedar"),
        // Freezes the contract's writes; health, from which `policy status` reads the set in
        // force, stays permitted.
        "@id(\"freeze\")\nforbid (principal, action == Jembatan::Action::\"PlacementService/PushPlacements\", resource);\n",
    );
    let frozen = checked_hash(&policies);
    dev.signal("-HUP");
    let out = wait_for("reload on SIGHUP", &|out| stdout(out).contains(&frozen));
    assert!(out.status.success());

    write(
        &policies.join("broken.cedar"),
        "permit (principal action resource);\n",
    );
    dev.signal("-HUP");
    let out = wait_for("refusal on SIGHUP", &|out| stdout(out).contains("refused"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused folder is worth a non-zero exit"
    );
    assert!(
        stdout(&out).contains(&format!("policy set in force  {frozen}")),
        "{}",
        stdout(&out)
    );
    let (status, _) = dev.terminate();
    assert!(status.success());
}

#[test]
fn pki_revoke_and_sighup_refuse_a_certificate_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("exchange");
    // TLS files are looked at on SIGHUP only, so that the test sees which did it.
    let dev = Dev::start(&root, &[("JEMBATAN_TLS_RELOAD_INTERVAL_MS", "0")]);
    assert!(dev.health("kp2mi").status.success(), "kp2mi before");
    let pki = root.join("pki");
    let pki_arg = pki.to_str().expect("utf-8");
    let out = jembatan(&[
        "pki",
        "revoke",
        "--dir",
        pki_arg,
        "--name",
        "kp2mi",
        "--reason",
        "key-compromise",
    ]);
    ok(&out);
    assert!(
        dev.health("kp2mi").status.success(),
        "nothing changes before the reload"
    );
    dev.signal("-HUP");
    let start = Instant::now();
    while dev.health("kp2mi").status.success() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the revoked certificate still works after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(dev.health("kemendag").status.success(), "others stay");
    let out = jembatan(&["pki", "revoke", "--dir", pki_arg, "--name", "kp2mi"]);
    refused(&out, "already revoked");
    let (status, _) = dev.terminate();
    assert!(status.success());
}

#[test]
fn auditors_read_prove_and_verify_the_log_and_agencies_cosign_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("exchange");
    let dev = Dev::sighup_only(&root);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = dev.client("kemendag").await;
        let mut placements =
            jembatan_client::v1::placement_service_client::PlacementServiceClient::new(
                client.channel(),
            );
        let stated = jembatan_client::Stated::new(
            jembatan_domain::Purpose::Statistics,
            jembatan_domain::LegalBasis::PublicTask,
        );
        for _ in 0..3 {
            let request = stated
                .request(jembatan_client::v1::PushPlacementsRequest::default())
                .expect("request");
            let status = placements
                .push_placements(request)
                .await
                .expect_err("denied");
            assert_eq!(status.code(), tonic::Code::PermissionDenied);
        }
    });
    // The sequencer signs within its 50 ms interval.
    std::thread::sleep(Duration::from_millis(500));
    let audit = |args: &[&str]| dev.run(&[&["audit"], args].concat(), &[]);

    let listed = ok(&audit(&["list"]));
    assert!(listed.starts_with("   INDEX  TIME"), "{listed}");
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.contains("agency/kemendag/export-portal")
                && l.contains("PlacementService/PushPlacements")
                && l.contains(" deny "))
            .count(),
        3,
        "{listed}"
    );
    let json = ok(&audit(&[
        "list",
        "--json",
        "--decision",
        "deny",
        "--limit",
        "2",
    ]));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[1]["index"], 1);
    assert_eq!(lines[1]["leaf"]["purpose"], "STATISTICS");
    let leaf_hash = lines[1]["leaf_hash"].as_str().expect("hash").to_owned();

    let shown = ok(&audit(&["show", "1"]));
    assert!(
        shown.contains(&format!("leaf hash      {leaf_hash}")),
        "{shown}"
    );
    assert!(shown.contains("legal basis    PUBLIC_TASK"), "{shown}");
    let tail = ok(&audit(&["tail", "-n", "1"]));
    assert_eq!(tail.lines().count(), 2, "header and one entry: {tail}");

    let proved = ok(&audit(&["prove", "1"]));
    assert!(
        proved.starts_with(&format!(
            "proved: leaf 1 (hash {leaf_hash}) is in the checkpoint of"
        )),
        "{proved}"
    );
    // Kemendag proves its own receipt without reading the entry.
    let proved = ok(&audit(&[
        "prove",
        "1",
        "--leaf-hash",
        &leaf_hash,
        "--as",
        "kemendag",
    ]));
    assert!(proved.starts_with("proved: leaf 1"), "{proved}");
    let forged = audit(&[
        "prove",
        "1",
        "--leaf-hash",
        &"ab".repeat(32),
        "--as",
        "kemendag",
    ]);
    assert_eq!(
        forged.status.code(),
        Some(2),
        "a wrong leaf hash does not prove"
    );
    let refusal = stderr(&forged);
    assert!(
        refusal.contains("FAILED: the audit log does not verify"),
        "{refusal}"
    );

    // Both agencies witness the log; the checkpoints they cosigned carry their cosignatures.
    // Each cosignature is itself logged, so the log grows by a leaf after each round.
    let state = |agency: &str| dir.path().join(format!("{agency}-witness.json"));
    let cosigned_size = |out: &str| -> String {
        let line = out
            .lines()
            .find(|line| line.starts_with("cosigned: "))
            .unwrap_or_else(|| panic!("no cosigned line: {out}"));
        line.split_whitespace().nth(2).expect("size").to_owned()
    };
    let mut sizes = Vec::new();
    for agency in ["kemendag", "kp2mi"] {
        let state = state(agency);
        let out = ok(&audit(&[
            "witness",
            "--as",
            agency,
            "--state",
            state.to_str().expect("utf-8"),
        ]));
        assert!(out.starts_with("first use: trusting"), "{out}");
        assert!(
            out.contains(&format!("as {agency}.dev.jembatan.local/witness")),
            "{out}"
        );
        sizes.push(cosigned_size(&out));
    }
    for (agency, size) in ["kemendag", "kp2mi"].iter().zip(&sizes) {
        let key = root.join(format!("audit/witness-{agency}.pub"));
        let checkpoint = ok(&audit(&[
            "checkpoint",
            "--size",
            size,
            "--witness",
            key.to_str().expect("utf-8"),
        ]));
        assert!(
            checkpoint.contains("signature  verified with jembatan.dev.jembatan.local/audit"),
            "{checkpoint}"
        );
        assert!(
            checkpoint.contains(&format!("cosigned by {agency}.dev.jembatan.local/witness")),
            "{checkpoint}"
        );
    }
    // Kemendag's next round finds the log grown (by the cosignatures' leaves, at least) and
    // cosigns only once it has checked that the new checkpoint extends the one it cosigned.
    let again = ok(&audit(&[
        "witness",
        "--as",
        "kemendag",
        "--state",
        state("kemendag").to_str().expect("utf-8"),
    ]));
    assert!(
        again.starts_with("the checkpoint of")
            && again.contains(&format!(
                "extends the one of {} leaves verified before",
                sizes[0]
            )),
        "{again}"
    );

    let verified = ok(&audit(&["verify"]));
    assert!(
        verified.starts_with("ok: jembatan.dev.jembatan.local/audit:"),
        "{verified}"
    );

    let (status, _) = dev.terminate();
    assert!(status.success());

    let export = dir.path().join("audit.jsonl");
    let config = root.join("jembatan.toml");
    let out = jembatan(&[
        "audit",
        "export",
        "--config",
        config.to_str().expect("utf-8"),
        "--out",
        export.to_str().expect("utf-8"),
    ]);
    let exported = ok(&out);
    assert!(
        exported.starts_with("exported ")
            && exported.contains(" leaves of jembatan.dev.jembatan.local/audit"),
        "{exported}"
    );
    let key = root.join("audit/log.pub");
    let verify = |export: &Path| {
        jembatan(&[
            "audit",
            "verify",
            "--export",
            export.to_str().expect("utf-8"),
            "--log-key",
            key.to_str().expect("utf-8"),
        ])
    };
    let verified = ok(&verify(&export));
    assert!(
        verified.starts_with("ok: jembatan.dev.jembatan.local/audit: "),
        "{verified}"
    );
    assert!(
        verified
            .contains("cosigned by kemendag.dev.jembatan.local/witness up to the checkpoint of")
            && verified.contains("cosigned by kp2mi.dev.jembatan.local/witness"),
        "{verified}"
    );

    let text = std::fs::read_to_string(&export).expect("export");
    let without_leaf_1: String = text
        .lines()
        .filter(|line| !line.starts_with("{\"type\":\"leaf\",\"index\":1,"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without_leaf_1, text);
    let tampered = dir.path().join("tampered.jsonl");
    write(&tampered, &without_leaf_1);
    let out = verify(&tampered);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    assert!(stderr.contains("FAILED: leaf 1 is missing"), "{stderr}");
}
