//! `jembatan placements push` of a 20,000-record file to a `jembatan serve` on PostgreSQL, with
//! PostgreSQL restarted (`pg_ctlcluster … restart`) while the push is under way: the push goes
//! on (a batch the exchange could not take is sent again), exits 0 with every record stored or
//! unchanged and none rejected, and the store holds each record once, each with its push leaf,
//! in a log that verifies.
//!
//! It restarts the machine's PostgreSQL (root or the postgres user, as CI runs): it is the only
//! test of its binary, and cargo runs test binaries one after another.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jembatan_tests::store::{leaf_rows_from, placement_rows};
use jembatan_tests::{PgDatabase, TestPki, config_toml, open_store, write_private};

mod served;

use served::{BIN, Killed, serve};

/// Records in the pushed file.
const RECORDS: usize = 20_000;
/// Records per call.
const BATCH: &str = "200";
/// How long the push may take, restart included.
const PUSH_PATIENCE: Duration = Duration::from_secs(300);
/// How long the test waits for anything else.
const PATIENCE: Duration = Duration::from_secs(60);

/// The placement ids of a JSON Lines placements file, in line order.
fn placement_ids(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .expect("read placements file")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("a json line");
            record["placement_id"]
                .as_str()
                .expect("a placement id")
                .to_owned()
        })
        .collect()
}

/// Reads all of `pipe` on a thread of its own, so that the child never blocks on it.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_goes_on_across_a_postgres_restart_and_stores_each_record_once() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    std::fs::write(
        pki.dir.path().join("jembatan.toml"),
        config_toml(&db.url, ""),
    )
    .expect("config");
    // The push is under test, not the rates.
    let (server, addr) = serve(&pki, &[("JEMBATAN_LIMITS_WRITE_PER_SEC", "10000")]);

    // KP2MI's placement system, as files the command reads.
    let tls = pki.agency("kp2mi", "siskop2mi");
    let (cert, key) = tls.identity.expect("a client identity");
    let cert_file = pki.dir.path().join("kp2mi.pem");
    let key_file = pki.dir.path().join("kp2mi-key.pem");
    std::fs::write(&cert_file, cert).expect("write cert");
    write_private(&key_file, &key);
    let ca_file = pki.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &tls.ca_pem).expect("write ca");

    let file = pki.dir.path().join("placements.jsonl");
    let seeded = Command::new(BIN)
        .args([
            "demo",
            "seed",
            "--records",
            &RECORDS.to_string(),
            "--seed",
            "5",
        ])
        .arg("--out")
        .arg(&file)
        .output()
        .expect("demo seed --out");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let ids = placement_ids(&file);
    assert_eq!(ids.len(), RECORDS, "the file holds {RECORDS} records");
    let ids: HashSet<String> = ids.into_iter().collect();
    assert_eq!(ids.len(), RECORDS, "each record has an id of its own");

    let mut push = Command::new(BIN)
        .args(["placements", "push", "--file"])
        .arg(&file)
        .args(["--server", &format!("https://{addr}"), "--ca"])
        .arg(&ca_file)
        .arg("--cert")
        .arg(&cert_file)
        .arg("--key")
        .arg(&key_file)
        .args(["--batch", BATCH, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jembatan placements push");
    let stdout = drain(push.stdout.take().expect("stdout"));
    let stderr = drain(push.stderr.take().expect("stderr"));
    let mut push = Killed(push);

    // Wait until the push has made progress: some placements are stored.
    let store = open_store(&pki, &db.url).await;
    let until = Instant::now() + PATIENCE;
    loop {
        let stored = placement_rows(&store).await.len();
        if stored > 0 {
            eprintln!("{stored} placements stored before the restart");
            break;
        }
        assert!(
            push.0.try_wait().expect("try_wait").is_none(),
            "the push ended before it stored anything: {}",
            stderr.join().expect("stderr")
        );
        assert!(
            Instant::now() < until,
            "placements stored within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;

    assert!(
        push.0.try_wait().expect("try_wait").is_none(),
        "the push is still under way when PostgreSQL restarts"
    );
    jembatan_tests::restart_postgres(&db.url).await;

    let until = Instant::now() + PUSH_PATIENCE;
    let status = loop {
        if let Some(status) = push.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < until,
            "the push ends within {PUSH_PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (out, err) = (
        stdout.join().expect("stdout"),
        stderr.join().expect("stderr"),
    );
    eprintln!("push stderr:\n{err}");
    assert!(status.success(), "push: {status}\n{out}{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json summary");
    let count = |name: &str| summary[name].as_u64().expect("a count");
    assert_eq!(count("records"), RECORDS as u64, "{summary}");
    assert_eq!(
        count("stored") + count("unchanged"),
        RECORDS as u64,
        "{summary}"
    );
    assert_eq!(count("rejected"), 0, "{summary}");

    // The store: each record once, each with a push leaf naming it; the log verifies.
    let store = open_store(&pki, &db.url).await;
    let size = store.log_size().await.expect("size");
    jembatan_tests::wait_for_checkpoint(&store, size).await;
    drop(server);
    let rows = placement_rows(&store).await;
    assert_eq!(rows.len(), RECORDS, "each record stored once");
    let stored_ids: HashSet<String> = rows.iter().map(|row| row.placement_id.clone()).collect();
    assert_eq!(stored_ids, ids, "the file's records, and nothing else");
    let leaves = leaf_rows_from(&store, 0).await;
    let pushed_keys: HashSet<&str> = leaves
        .iter()
        .filter(|leaf| leaf.method == "PlacementService/PushPlacements" && leaf.outcome == "allow")
        .map(|leaf| leaf.record_key.as_str())
        .collect();
    let stored_keys: HashSet<&str> = rows.iter().map(|row| row.record_key.as_str()).collect();
    assert_eq!(
        stored_keys.len(),
        RECORDS,
        "each placement has a key of its own"
    );
    assert_eq!(
        pushed_keys, stored_keys,
        "every stored placement has its push leaf, and every push leaf its placement"
    );
    let verified = jembatan_tests::verify_exported(&store, &pki).await;
    assert_eq!(verified.leaves, size);
    store.close().await;
}
