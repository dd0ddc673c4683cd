//! A `jembatan serve` process killed with SIGKILL while its sequencer integrates a backlog and
//! callers are being logged: after a restart the log verifies with no gap and no fork, the
//! checkpoint seen before the kill is still the log's, and every committed leaf is integrated.
//! On SQLite and PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::verify::verify_log;
use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_store::{Store, WriteTicket};
use jembatan_tests::raw_call::{call, stated};
use jembatan_tests::{TestPki, config_toml, open_store, placement_leaf};
use tonic::Code;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    killed_while_sequencing_recovers,
);

const BIN: &str = env!("CARGO_BIN_EXE_jembatan");
const ORIGIN: &str = "jembatan.test.jembatan.local/audit";
/// Leaves waiting for the sequencer at start: many of its rounds.
const BACKLOG: u64 = 150_000;

/// A server process, killed when dropped, so that a failing test leaves none behind.
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `jembatan serve` on the config in the PKI folder; returns it and its address.
fn serve(pki: &TestPki) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(pki.dir.path().join("jembatan.toml"))
        .env("JEMBATAN_LOG_FORMAT", "json")
        .env("JEMBATAN_AUDIT_CHECKPOINT_INTERVAL_MS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jembatan serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("jembatan serve did not say where it serves:\n{seen}"))
            .expect("read stderr");
        seen.push_str(&line);
        seen.push('\n');
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["fields"]["message"] == "serving" {
            break event["fields"]["addr"].as_str().expect("addr").to_owned();
        }
    };
    // Keep draining, so that the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), addr)
}

async fn preload(store: &Store) {
    let mut next = 0;
    while next < BACKLOG {
        let end = (next + 10_000).min(BACKLOG);
        let entries: Vec<LeafEntry> = (next..end).map(placement_leaf).collect();
        store
            .log(WriteTicket::new("preload"), entries)
            .await
            .expect("append");
        next = end;
    }
}

async fn killed_while_sequencing_recovers(pki: &TestPki, url: &str) {
    std::fs::write(pki.dir.path().join("jembatan.toml"), config_toml(url, "")).expect("config");
    let store = open_store(pki, url).await;
    preload(&store).await;

    let (mut server, addr) = serve(pki);
    // Callers keep being logged while the process dies.
    let denied = Arc::new(AtomicU32::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let client = Client::connect(
            &format!("https://{addr}"),
            pki.agency("kemendag", "export-portal"),
        )
        .await
        .expect("connect");
        let (denied, killed) = (Arc::clone(&denied), Arc::clone(&killed));
        // Until the server is killed, counting the calls refused (and so logged) as they should be.
        callers.push(tokio::spawn(async move {
            while !killed.load(Ordering::Relaxed) {
                let result = call(
                    client.channel(),
                    "PlacementService/PushPlacements",
                    &stated(Purpose::Statistics, LegalBasis::PublicTask),
                )
                .await;
                if matches!(result, Err(status) if status.code() == Code::PermissionDenied) {
                    denied.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    // Kill once a checkpoint is signed and callers are being logged.
    let before = loop {
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && denied.load(Ordering::Relaxed) >= 4
        {
            break checkpoint;
        }
        assert!(Instant::now() < deadline, "no checkpoint and no denials");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    server.kill(); // SIGKILL
    killed.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.expect("caller");
    }
    let denied = denied.load(Ordering::Relaxed);
    let at_kill = store
        .checkpoint(None)
        .await
        .expect("read")
        .expect("checkpoint");
    assert!(
        at_kill.size < BACKLOG,
        "the kill must land while the backlog is being integrated (at {} of {BACKLOG})",
        at_kill.size
    );

    let (mut server, _) = serve(pki);
    let verified = loop {
        let mut export = Vec::new();
        store.export(ORIGIN, &mut export).await.expect("export");
        let (origin, contents) = jembatan_audit::export::read(export.as_slice()).expect("read");
        let verified = verify_log(&contents, &pki.log_verifier(), &origin)
            .unwrap_or_else(|finding| panic!("after the restart: {finding}"));
        if verified.integrated == verified.leaves {
            break verified;
        }
        assert!(
            Instant::now() < deadline,
            "backlog not integrated after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        verified.leaves >= BACKLOG + u64::from(denied),
        "every denial answered was logged ({} leaves, {denied} denials)",
        verified.leaves
    );
    let kept = store
        .checkpoint(Some(before.size))
        .await
        .expect("read")
        .expect("the checkpoint seen before the kill is kept");
    assert_eq!(kept.root, before.root, "no fork");
    server.kill();
    store.close().await;
}
