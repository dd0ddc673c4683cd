//! End-to-end tests of the mutual-TLS front door: who gets in, who is refused, and that a
//! silent connection stalls nobody. Real server, real TLS on loopback, real gRPC clients.

use std::time::Duration;

use jembatan_client::{ClientError, ServingStatus};
use jembatan_pki::Validity;
use jembatan_tests::{RunningExchange, TestPki, config};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::Code;

/// A client call that should have answered long before this.
const PATIENCE: Duration = Duration::from_secs(10);

async fn health_of(
    exchange: &RunningExchange,
    tls: jembatan_client::ClientTls,
) -> Result<ServingStatus, ClientError> {
    let client = exchange.connect(tls).await?;
    tokio::time::timeout(PATIENCE, client.health(""))
        .await
        .expect("health answered in time")
}

fn assert_refused(result: Result<ServingStatus, ClientError>, what: &str) {
    match result {
        Ok(status) => panic!("{what}: expected refusal, got {status:?}"),
        Err(ClientError::Status(status)) => {
            assert_ne!(status.code(), Code::Ok, "{what}");
            assert_ne!(
                status.code(),
                Code::Unimplemented,
                "{what}: reached a service"
            );
        }
        Err(_) => {} // refused during connection set-up
    }
}

fn assert_unauthenticated(result: Result<ServingStatus, ClientError>, what: &str) {
    match result {
        Err(ClientError::Status(status)) => {
            assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
        }
        other => panic!("{what}: expected UNAUTHENTICATED, got {other:?}"),
    }
}

#[tokio::test]
async fn agencies_and_auditors_get_serving() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    for (what, tls) in [
        ("kemendag", pki.agency("kemendag", "export-portal")),
        ("kp2mi", pki.agency("kp2mi", "siskop2mi")),
        ("auditor", pki.auditor("inspectorate")),
    ] {
        assert_eq!(
            health_of(&exchange, tls).await.expect(what),
            ServingStatus::Serving,
            "{what}"
        );
    }
    let client = exchange.connect(pki.auditor("bpk")).await.expect("connect");
    let status = client
        .health("jembatan.v1.AuditService")
        .await
        .expect("per-service health");
    assert_eq!(status, ServingStatus::Serving);
    exchange.stop().await;
}

#[tokio::test]
async fn connections_without_a_trusted_valid_certificate_are_refused() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;

    let no_cert = jembatan_client::ClientTls {
        ca_pem: pki.ca_pem(),
        identity: None,
    };
    assert_refused(health_of(&exchange, no_cert).await, "no client certificate");

    let other_ca = TestPki::new();
    let mut foreign = other_ca.agency("kemendag", "export-portal");
    foreign.ca_pem = pki.ca_pem(); // trusts the server, but is signed by another CA
    assert_refused(
        health_of(&exchange, foreign).await,
        "certificate of another CA",
    );

    let now = time::OffsetDateTime::now_utc();
    let days = time::Duration::days;
    for (what, not_before, not_after) in [
        ("expired certificate", now - days(30), now - days(1)),
        ("certificate not yet valid", now + days(1), now + days(30)),
    ] {
        let tls = pki.with_uris(
            &["spiffe://test.jembatan.local/agency/kemendag/export-portal"],
            Validity {
                not_before,
                not_after,
            },
        );
        assert_refused(health_of(&exchange, tls).await, what);
    }

    // The exchange still serves the rightful caller afterwards.
    let status = health_of(&exchange, pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("kp2mi");
    assert_eq!(status, ServingStatus::Serving);
    exchange.stop().await;
}

#[tokio::test]
async fn a_revoked_certificate_is_refused_and_others_of_its_ca_are_not() {
    let pki = TestPki::new();
    let td = jembatan_tests::trust_domain();
    let id = |system: &str| jembatan_pki::SpiffeId::agency(&td, "kemendag", system).expect("id");
    let revoked = pki.ca.issue_client(&id("export-portal")).expect("issue");
    let kept = pki.ca.issue_client(&id("analytics")).expect("issue");
    let crl = jembatan_tests::pki_file(&pki, "revoked.crl.pem");
    std::fs::write(&crl, pki.ca.revocation_list(&[&revoked]).expect("crl")).expect("write crl");
    let mut config = config(&pki, "sqlite://jembatan.db", "");
    config.tls.crls = vec![crl];
    let exchange = RunningExchange::start(&config).await;

    assert_refused(
        health_of(&exchange, pki.client(&revoked)).await,
        "revoked certificate",
    );
    let status = health_of(&exchange, pki.client(&kept))
        .await
        .expect("certificate not revoked");
    assert_eq!(status, ServingStatus::Serving);
    exchange.stop().await;
}

#[tokio::test]
async fn certificates_of_the_right_ca_without_a_valid_identity_are_unauthenticated() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    let valid = Validity::days(1);
    let cases: &[(&str, &[&str])] = &[
        ("no URI SAN", &[]),
        (
            "malformed SAN: not spiffe",
            &["https://test.jembatan.local/agency/kemendag/export-portal"],
        ),
        (
            "malformed SAN: unknown path",
            &["spiffe://test.jembatan.local/operator/root"],
        ),
        (
            "malformed SAN: system missing",
            &["spiffe://test.jembatan.local/agency/kemendag"],
        ),
        (
            "malformed SAN: upper case",
            &["spiffe://test.jembatan.local/agency/KEMENDAG/export-portal"],
        ),
        (
            "another trust domain",
            &["spiffe://other.example/agency/kemendag/export-portal"],
        ),
        (
            "two URI SANs",
            &[
                "spiffe://test.jembatan.local/agency/kemendag/export-portal",
                "spiffe://test.jembatan.local/auditor/inspectorate",
            ],
        ),
    ];
    for (what, uris) in cases {
        let tls = pki.with_uris(uris, valid);
        assert_unauthenticated(health_of(&exchange, tls.clone()).await, what);

        // Every call, not only health: a contract method too.
        let client = exchange.connect(tls).await.expect("tls connects");
        let mut workforce =
            jembatan_proto::v1::workforce_service_client::WorkforceServiceClient::new(
                client.channel(),
            );
        let status = workforce
            .query_availability(jembatan_proto::v1::QueryAvailabilityRequest::default())
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
    }
    exchange.stop().await;
}

#[tokio::test]
async fn a_silent_connection_does_not_delay_another_client() {
    let pki = TestPki::new();
    // A handshake timeout far longer than the test's patience: if handshakes were serialised,
    // the silent connections would hold the good client past PATIENCE.
    let exchange = with_handshake_timeout(&pki, 600).await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(
            TcpStream::connect(exchange.addr)
                .await
                .expect("tcp connect"),
        );
    }
    let status = tokio::time::timeout(
        PATIENCE,
        health_of(&exchange, pki.agency("kemendag", "export-portal")),
    )
    .await
    .expect("served despite silent connections")
    .expect("health");
    assert_eq!(status, ServingStatus::Serving);
    drop(silent);
    exchange.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_handshake_timeout() {
    let pki = TestPki::new();
    let exchange = with_handshake_timeout(&pki, 1).await;
    let mut silent = TcpStream::connect(exchange.addr)
        .await
        .expect("tcp connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut buf))
        .await
        .expect("server closed the silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "expected EOF, got {read:?}");
    exchange.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_contract_health_and_reflection() {
    let pki = TestPki::new();
    let exchange =
        RunningExchange::start(&config(&pki, "sqlite://jembatan.db", "reflection = true")).await;
    let mut stream = list_services(&exchange, &pki)
        .await
        .expect("reflection")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("message")
        .expect("one response");
    let Some(
        tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(
            list,
        ),
    ) = response.message_response
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "jembatan.v1.AuditService",
            "jembatan.v1.MarketIntelService",
            "jembatan.v1.PlacementService",
            "jembatan.v1.ProgramService",
            "jembatan.v1.WorkforceService",
        ]
    );

    // Older tools (grpcurl before v1) ask v1alpha.
    let channel = exchange
        .connect(pki.auditor("inspectorate"))
        .await
        .expect("connect")
        .channel();
    let mut alpha =
        tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient::new(
            channel,
        );
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "jembatan.v1.PlacementService".into(),
            ),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("v1alpha reflection")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("message")
        .expect("one response");
    assert!(
        matches!(
            response.message_response,
            Some(tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref files))
                if !files.file_descriptor_proto.is_empty()
        ),
        "{response:?}"
    );
    exchange.stop().await;
}

#[tokio::test]
async fn reflection_is_off_unless_configured() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    let status = list_services(&exchange, &pki)
        .await
        .expect_err("no reflection by default");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    exchange.stop().await;
}

/// Asks the exchange's reflection service, as an auditor, for the services it serves.
async fn list_services(
    exchange: &RunningExchange,
    pki: &TestPki,
) -> Result<
    tonic::Response<tonic::Streaming<tonic_reflection::pb::v1::ServerReflectionResponse>>,
    tonic::Status,
> {
    let channel = exchange
        .connect(pki.auditor("inspectorate"))
        .await
        .expect("connect")
        .channel();
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
}

/// An exchange on SQLite whose TLS handshakes time out after `secs`.
async fn with_handshake_timeout(pki: &TestPki, secs: u64) -> RunningExchange {
    let server = format!("handshake_timeout_secs = {secs}");
    RunningExchange::start(&config(pki, "sqlite://jembatan.db", &server)).await
}
