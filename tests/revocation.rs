//! Revocation that bites, end to end: a certificate revoked with the same code as `jembatan pki
//! revoke` is refused on new connections and its open connections are closed within the
//! reload interval, without a restart; an expired certificate is refused on its open
//! connection; a CRL past its next update refuses everyone unless told otherwise.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jembatan_client::{Client, ClientTls};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::revocation::{self, Reason};
use jembatan_pki::{SpiffeId, Validity, pki_dir};
use jembatan_proto::v1::WatchAvailabilityRequest;
use jembatan_tests::placements::{stated, workforce};
use jembatan_tests::{RunningExchange, TestPki, config, trust_domain};

/// How often the exchange looks at its CRL and checks open connections, in these tests.
const RELOAD_MS: u64 = 200;

/// Longer than any reload and check should take.
const PATIENCE: Duration = Duration::from_secs(5);

fn exchange_config(pki: &TestPki, url: &str, tls_toml: &str) -> jembatan_server::Config {
    let mut config = config(pki, url, "");
    config.tls.crls = vec![pki.dir.path().join("crl.pem")];
    config.tls.reload_interval_ms = RELOAD_MS;
    if tls_toml.contains("enforce_crl_next_update = false") {
        config.tls.enforce_crl_next_update = false;
    }
    config
}

/// Issues `kemendag/<system>` into the PKI folder as `<system>.pem`, as `jembatan pki issue`
/// does, and returns its TLS material.
fn issue(pki: &TestPki, system: &str) -> ClientTls {
    let id = SpiffeId::agency(&trust_domain(), "kemendag", system).expect("id");
    pki_dir::issue(pki.dir.path(), &pki.ca, system, &id).expect("issue");
    let read = |name: String| std::fs::read(pki.dir.path().join(name)).expect("issued file");
    ClientTls {
        ca_pem: pki.ca_pem(),
        identity: Some((
            read(format!("{system}.pem")),
            read(format!("{system}-key.pem")),
        )),
    }
}

/// Whether a health check on `client` is answered within the patience.
async fn answered(client: &Client) -> bool {
    matches!(
        tokio::time::timeout(PATIENCE, client.health("")).await,
        Ok(Ok(_))
    )
}

/// Waits until `check` turns false, and says how long it took; None if it never did.
async fn until_refused<F, Fut>(mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if !check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn a_revoked_certificate_is_refused_on_open_and_new_connections_without_a_restart() {
    let pki = TestPki::new();
    let exchange = RunningExchange::start(&exchange_config(&pki, "sqlite://jembatan.db", "")).await;
    let revoked_tls = issue(&pki, "export-portal");
    let other_tls = issue(&pki, "statistics");
    let revoked = exchange
        .connect(revoked_tls.clone())
        .await
        .expect("connect");
    let other = exchange.connect(other_tls.clone()).await.expect("connect");
    assert!(answered(&revoked).await && answered(&other).await);

    // A watch is a call that stays open: it must end when its certificate is revoked.
    let mut watch = workforce(&revoked)
        .watch_availability(stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            WatchAvailabilityRequest::default(),
        ))
        .await
        .expect("watch opens")
        .into_inner();

    revocation::revoke(
        pki.dir.path(),
        &pki.ca,
        "export-portal",
        Reason::KeyCompromise,
        7,
    )
    .expect("revoke");
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match watch.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the open watch ends within the reload interval");
    assert!(
        matches!(ended, Some(Err(_)) | None),
        "the watch ended without an answer: {ended:?}"
    );
    // The channel's next calls (it reconnects by itself) are refused, and so is a new one.
    let took = until_refused(|| answered(&revoked)).await;
    assert!(
        took.is_some(),
        "the revoked certificate still answered after {PATIENCE:?}"
    );
    let fresh = match exchange.connect(revoked_tls).await {
        Err(_) => false,
        Ok(client) => answered(&client).await,
    };
    assert!(
        !fresh,
        "a new connection with the revoked certificate got in"
    );
    // Other certificates of the CA are untouched, on their open connection and new ones.
    assert!(
        answered(&other).await,
        "another certificate's open connection"
    );
    let again = exchange
        .connect(other_tls)
        .await
        .expect("another certificate connects");
    assert!(answered(&again).await);
    exchange.stop().await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused_on_its_open_connection() {
    let pki = TestPki::new();
    let exchange = RunningExchange::start(&exchange_config(&pki, "sqlite://jembatan.db", "")).await;
    let now = time::OffsetDateTime::now_utc();
    let expiring = pki.with_uris(
        &["spiffe://test.jembatan.local/agency/kemendag/export-portal"],
        Validity {
            not_before: now - time::Duration::hours(1),
            not_after: now + time::Duration::seconds(3),
        },
    );
    let client = exchange
        .connect(expiring)
        .await
        .expect("connect while valid");
    assert!(answered(&client).await, "valid at first");
    // Keep the connection busy until well past its certificate's end.
    let started = Instant::now();
    let mut refused_at = None;
    while started.elapsed() < Duration::from_secs(3) + PATIENCE {
        if !answered(&client).await {
            refused_at = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused_at = refused_at.expect("the expired certificate kept working on its connection");
    assert!(
        refused_at >= Duration::from_secs(2),
        "refused before it expired: {refused_at:?}"
    );
    exchange.stop().await;
}

#[tokio::test]
async fn a_crl_past_its_next_update_refuses_every_certificate_unless_configured_otherwise() {
    let pki = TestPki::new();
    let now = time::OffsetDateTime::now_utc();
    let stale = pki
        .ca
        .sign_crl(
            &[],
            1,
            now - time::Duration::days(2),
            now - time::Duration::days(1),
        )
        .expect("stale CRL");
    std::fs::write(pki.dir.path().join("crl.pem"), stale).expect("write CRL");
    let tls = pki.agency("kemendag", "export-portal");

    let strict = RunningExchange::start(&exchange_config(&pki, "sqlite://strict.db", "")).await;
    let refused = match strict.connect(tls.clone()).await {
        Err(_) => true,
        Ok(client) => !answered(&client).await,
    };
    assert!(refused, "a stale CRL was trusted");
    strict.stop().await;

    let lenient = RunningExchange::start(&exchange_config(
        &pki,
        "sqlite://lenient.db",
        "enforce_crl_next_update = false",
    ))
    .await;
    let client = lenient.connect(tls).await.expect("connect");
    assert!(
        answered(&client).await,
        "with enforcement off, the stale CRL is used"
    );
    lenient.stop().await;
}

#[tokio::test]
async fn tls_sessions_are_not_resumed() {
    // A resumed TLS 1.3 session restores a client certificate without checking it again. A
    // rustls client with its session cache connects twice: both handshakes must be full.
    use tokio::io::AsyncReadExt;

    let pki = TestPki::new();
    let exchange = RunningExchange::start(&exchange_config(&pki, "sqlite://jembatan.db", "")).await;
    let connector = jembatan_tests::tls_connector(&pki.agency("kemendag", "export-portal"));
    for attempt in ["first", "second"] {
        let mut stream = jembatan_tests::tls_connect(&connector, exchange.addr).await;
        assert_eq!(
            stream.get_ref().1.handshake_kind(),
            Some(rustls::HandshakeKind::Full),
            "{attempt} handshake"
        );
        // Read what the server sends after the handshake (tickets, if any, and HTTP/2
        // settings), so that the client would hold a ticket for the next connection.
        let mut buf = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
    }
    exchange.stop().await;
}
