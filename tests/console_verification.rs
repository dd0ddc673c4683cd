//! The auditors' console keeps what it verified: an operator who rewrites the log and signs it
//! anew with the log's own key makes a log that verifies on its own (a console started afresh
//! shows it as verified, which is the attack), but a console that verified the log before proves
//! every later pass against the checkpoint it verified, and shows the rewrite as FAILED, and
//! keeps showing it. The console runs in process over real mTLS; its pages are read over HTTP.
//! On SQLite and PostgreSQL.

use std::time::Duration;

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use jembatan_client::Stated;
use jembatan_console::{Console, ConsoleConfig};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_tests::tamper::{Bind, leaf_row, tamper};
use jembatan_tests::{RunningExchange, TestPki, config, denied_call, open_store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A console over `exchange` as the auditor, serving on a port of its own; its address and the
/// token a request must carry.
async fn console(exchange: &RunningExchange, pki: &TestPki) -> (std::net::SocketAddr, String) {
    let client = exchange
        .connect(pki.auditor("inspectorate"))
        .await
        .expect("connect")
        .audit(Stated::new(Purpose::Audit, LegalBasis::LegalObligation));
    let console = Console::bind(
        "127.0.0.1:0".parse().expect("addr"),
        client,
        ConsoleConfig {
            log_key: pki.log_verifier(),
            witnesses: Vec::new(),
            identity: "auditor".into(),
            server: exchange.url(),
        },
    )
    .await
    .expect("bind the console");
    let addr = console.local_addr().expect("addr");
    let token = console.token().to_owned();
    tokio::spawn(console.run());
    (addr, token)
}

/// The answer to an HTTP/1.1 request of `method` for `path` (under the console's token), head
/// and body.
async fn http((addr, token): &(std::net::SocketAddr, String), method: &str, path: &str) -> String {
    let path = format!("/{token}{path}");
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the console");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

/// The overview's verification once a pass has finished: its class and text.
async fn verification(console: &(std::net::SocketAddr, String)) -> (String, String) {
    for _ in 0..300 {
        let page = http(console, "GET", "/").await;
        let at = page
            .find("id=\"verification\" class=\"status ")
            .expect("the overview shows the verification");
        let rest = &page[at + "id=\"verification\" class=\"status ".len()..];
        let class = rest[..rest.find('"').expect("class")].to_owned();
        let text =
            rest[rest.find('>').expect(">") + 1..rest.find("</p>").expect("</p>")].to_owned();
        if class != "verifying" {
            return (class, text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the console's verification did not finish within 30 s");
}

/// Waits until the latest checkpoint signs every committed leaf.
async fn at_rest(exchange: &RunningExchange, pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let mut auditor = exchange
        .connect(pki.auditor("inspectorate"))
        .await
        .expect("connect")
        .audit(Stated::new(Purpose::Audit, LegalBasis::LegalObligation));
    for _ in 0..400 {
        let size = store.log_size().await.expect("size");
        if let Ok(latest) = auditor.checkpoint(0, &pki.log_verifier()).await
            && latest.checkpoint.size == size
        {
            store.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the log did not come to rest");
}

jembatan_tests::on_both_databases!(
    a_rewritten_and_re_signed_log_is_caught_by_a_console_that_verified_it_before,
);

/// Another user of the machine reaching the port without the printed address gets nothing: every
/// page lives under the token's path, and no cookie carries it (a browser would send a cookie
/// to any server on the host).
#[tokio::test]
async fn the_console_answers_only_under_its_token() {
    let pki = TestPki::new();
    let exchange = RunningExchange::start(&config(&pki, jembatan_tests::SQLITE_URL, "")).await;
    let (addr, token) = console(&exchange, &pki).await;
    let raw = |path: String| async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    };
    let wrong = "0".repeat(token.len());
    for path in [
        "/".to_owned(),
        "/entries.csv".to_owned(),
        "/static/console.css".to_owned(),
        format!("/{wrong}/"),
        format!("/{wrong}/entries"),
        format!("/?token={token}"),
        format!("/{token}"),
    ] {
        let answer = raw(path.clone()).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
    for path in ["", "entries", "static/console.css"] {
        let answer = raw(format!("/{token}/{path}")).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        assert!(
            !answer.to_ascii_lowercase().contains("set-cookie: jembatan"),
            "no cookie carries the token: {answer}"
        );
    }
    exchange.stop().await;
}

async fn a_rewritten_and_re_signed_log_is_caught_by_a_console_that_verified_it_before(
    pki: &TestPki,
    url: &str,
) {
    let mut config = config(pki, url, "");
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    for _ in 0..5 {
        denied_call(&exchange, pki, "kemendag", "export-portal").await;
    }
    at_rest(&exchange, pki, url).await;
    let watching = console(&exchange, pki).await;
    let (class, text) = verification(&watching).await;
    assert_eq!(class, "verified", "{text}");

    // The operator changes leaf 1, drops the tree and its checkpoints, and lets the exchange
    // sign the rewritten log anew with the log's own key, on the same address.
    let addr = exchange.addr;
    exchange.stop().await;
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
    config.server.listen = addr;
    let exchange = RunningExchange::start(&config).await;
    at_rest(&exchange, pki, url).await;

    // The attack: on its own, the rewritten log verifies.
    let afresh = console(&exchange, pki).await;
    let (class, text) = verification(&afresh).await;
    assert_eq!(
        class, "verified",
        "a re-signed log is consistent in itself: {text}"
    );

    // The console that verified the log before proves the new pass against what it verified.
    let answer = http(&watching, "POST", "/verify").await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (class, text) = verification(&watching).await;
    assert_eq!(class, "failed", "{text}");
    assert!(
        text.contains("FORK") || text.contains("not consistent") || text.contains("extend"),
        "the failure says the log is another history: {text}"
    );
    // And it stays: asking again finds the same.
    http(&watching, "POST", "/verify").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (class, _) = verification(&watching).await;
    assert_eq!(class, "failed");
    exchange.stop().await;
}
