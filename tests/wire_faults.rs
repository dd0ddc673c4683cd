//! A caller with a valid certificate that sends what no gRPC client sends, end to end over
//! mutual TLS: a frame of garbage bytes, a frame marked compressed (the exchange accepts no
//! compression), a frame cut short, a frame declaring a 4 GiB message, thousands of metadata
//! entries, and bytes that are not HTTP/2 at all. Each gets a clear status or a closed
//! connection, stores nothing, and leaves the exchange answering its other callers (and the
//! same caller on a new connection) as before.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::Body as _;
use jembatan_audit::leaf::LeafEntry;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::PushPlacementsRequest;
use jembatan_store::LeafFilter;
use jembatan_tests::placements::{as_kp2mi, placement, placements};
use jembatan_tests::{RunningExchange, TestPki, open_store};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::Bytes;
use tonic::codegen::http;
use tonic::transport::Channel;
use tower::Service as _;

const PUSH: &str = "/jembatan.v1.PlacementService/PushPlacements";

/// The status a call of `PUSH` with `body` as its request body (and `extra` headers) ends
/// with: from the headers of a trailers-only answer, else from the trailers.
async fn push_raw(
    channel: &mut Channel,
    body: Vec<u8>,
    extra: &[(String, String)],
) -> Result<(Code, String), String> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(PUSH)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("jembatan-purpose", Purpose::ProgramMonitoring.code())
        .header("jembatan-legal-basis", LegalBasis::LegalObligation.code());
    for (name, value) in extra {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Body::new(OneFrame(Some(Bytes::from(body)))))
        .map_err(|e| e.to_string())?;
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| e.to_string())?;
    let response = channel.call(request).await.map_err(|e| e.to_string())?;
    if let Some(status) = status_of(response.headers()) {
        return Ok(status);
    }
    let mut body = response.into_body();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            Some(Ok(frame)) => {
                if let Some(status) = frame.trailers_ref().and_then(status_of) {
                    return Ok(status);
                }
            }
            Some(Err(status)) => return Ok((status.code(), status.message().to_owned())),
            None => return Err("the answer ended without a status".into()),
        }
    }
}

/// A request body of one data frame.
struct OneFrame(Option<Bytes>);

impl http_body::Body for OneFrame {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        Poll::Ready(self.0.take().map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

fn status_of(headers: &http::HeaderMap) -> Option<(Code, String)> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Some((Code::from_i32(code), message))
}

/// A gRPC frame: `flag`, the declared length, then `payload`.
fn frame(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![flag];
    bytes.extend_from_slice(&declared.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A push of placement `n`, encoded as a message.
fn push_message(n: u32) -> Vec<u8> {
    PushPlacementsRequest {
        placements: vec![placement(n)],
        ..Default::default()
    }
    .encode_to_vec()
}

/// A push that must work: a good call after a fault.
async fn push_ok(exchange: &RunningExchange, pki: &TestPki, n: u32) {
    let client = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    placements(&client)
        .push_placements(as_kp2mi(PushPlacementsRequest {
            placements: vec![placement(n)],
            ..Default::default()
        }))
        .await
        .unwrap_or_else(|status| panic!("a good push after a fault: {status:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_a_clear_status_and_change_nothing() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    let mut channel = kp2mi.channel();

    // The baseline: the raw call works when its frame is right.
    let good = push_message(1);
    let (code, message) = push_raw(
        &mut channel,
        frame(0, u32::try_from(good.len()).expect("small"), &good),
        &[],
    )
    .await
    .expect("a status");
    assert_eq!(code, Code::Ok, "{message}");

    let garbage: Vec<u8> = (0..200u32)
        .map(|i| u8::try_from(i * 37 % 251).expect("byte"))
        .collect();
    let faults: Vec<(&str, Vec<u8>)> = vec![
        ("garbage bytes", garbage.clone()),
        ("a frame of garbage", frame(0, 200, &garbage)),
        ("a frame marked compressed", frame(1, 8, &good[..8])),
        (
            "a frame cut short",
            frame(0, 1000, &good[..good.len().min(10)]),
        ),
        ("a 4 GiB message declared", frame(0, u32::MAX, &good)),
        ("a frame header cut short", vec![0, 0, 0]),
    ];
    for (what, body) in faults {
        let (code, message) = push_raw(&mut channel, body, &[])
            .await
            .unwrap_or_else(|e| panic!("{what}: no status: {e}"));
        assert_ne!(code, Code::Ok, "{what} was accepted");
        assert!(
            matches!(
                code,
                Code::InvalidArgument
                    | Code::Internal
                    | Code::Unimplemented
                    | Code::ResourceExhausted
                    | Code::OutOfRange
            ),
            "{what}: {code:?} {message}"
        );
        assert!(!message.is_empty(), "{what}: the status says why");
    }

    // Thousands of metadata entries: refused before any handler (the header list is bounded),
    // or answered; never a crash.
    let many: Vec<(String, String)> = (0..5000)
        .map(|i| (format!("x-junk-{i}"), "y".repeat(20)))
        .collect();
    let answered = push_raw(&mut channel, frame(0, 0, &[]), &many).await;
    if let Ok((code, message)) = &answered {
        assert_ne!(*code, Code::Ok, "{message}");
    }

    // Only the good push stored anything; the exchange answers as before, on this connection
    // (if the server kept it) and on new ones.
    push_ok(&exchange, &pki, 2).await;
    let store = open_store(&pki, jembatan_tests::SQLITE_URL).await;
    let stored = store
        .list_leaves(&LeafFilter::default(), None, u64::MAX, 1000)
        .await
        .expect("leaves")
        .into_iter()
        .map(|(_, bytes)| LeafEntry::parse(&bytes).expect("leaf"))
        .filter(|leaf| leaf.method == "PlacementService/PushPlacements" && leaf.status.is_empty())
        .count();
    store.close().await;
    assert_eq!(stored, 2, "the two good pushes, nothing of the faults");
    exchange.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_http2_close_the_connection_alone() {
    let pki = TestPki::new();
    let exchange = RunningExchange::sqlite(&pki).await;
    let connector = jembatan_tests::tls_connector(&pki.agency("kp2mi", "siskop2mi"));
    let mut stream = jembatan_tests::tls_connect(&connector, exchange.addr).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\x13garbage")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the exchange closes the connection");
    // Closed, with or without an HTTP/2 GOAWAY first; a TLS close may end in an error.
    drop(read);
    assert!(
        answer.len() < 1024,
        "no more than a GOAWAY comes back: {} bytes",
        answer.len()
    );
    push_ok(&exchange, &pki, 1).await;
    exchange.stop().await;
}
