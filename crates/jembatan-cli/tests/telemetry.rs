//! The exchange's OpenTelemetry, end to end: a real `jembatan serve` process exports the spans
//! and metrics of real calls over OTLP/gRPC to an in-process collector that serves TLS 1.3 and
//! requires a client certificate from its own CA. A call's span is in the caller's trace (or,
//! without a `traceparent`, in the trace its audit leaves name), carries the RPC semantic
//! conventions' attributes, the caller, purpose, legal basis and decision, and has the policy
//! and store spans as children; a method not served is `_OTHER`, an error of the server's only
//! when it is one. Call durations, records pushed, leaves appended, the log's size and lag,
//! checkpoints signed and denials arrive as metrics with their attributes and counts.
//! Nothing exported and no log line holds a NIK, a name, a contact, a subject key or a
//! pseudonym. A collector that refuses connections or stalls the handshake never fails a call.
//! A streaming call's span lasts as long as its stream and holds the stream's writes. A
//! configuration that cannot export as asked (another protocol than gRPC, an https collector
//! without its CA, half a client identity) stops the server with a message naming the key;
//! `OTEL_*` variables without an endpoint, or with `OTEL_SDK_DISABLED=true`, leave it off.

mod otlp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jembatan_client::convert::status_name;
use jembatan_client::v1::{
    self, AvailabilityFilter, ListCandidatesRequest, ListSubjectAccessesRequest, Placement,
    PushPlacementsRequest, RecordOutcome, WatchAvailabilityRequest,
};
use jembatan_client::{Client, ServingStatus};
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_store::Store;
use jembatan_tests::placements::{as_kp2mi, placement, placements, stated, workforce};
use jembatan_tests::{SQLITE_URL, TestPki, config_toml, leaf_of, open_store};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use otlp::{
    COLLECTOR_CA, Collector, CollectorPki, PATIENCE, TELEMETRY_CERT, TELEMETRY_KEY, attr,
    attribute_map, eventually, every_attribute, in_trace, kind, metrics, points, resources, spans,
    status_is_error, str_attr, summary, total,
};
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request};

const BIN: &str = env!("CARGO_BIN_EXE_jembatan");
/// The push method as spans and metrics name it.
const PUSH: &str = "jembatan.v1.PlacementService/PushPlacements";
/// The trace of the traced push, and the span it is called from.
const GIVEN_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const GIVEN_PARENT: &str = "00f067aa0ba902b7";
/// The trace of the denied call.
const DENIED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const DENIED_PARENT: &str = "b7ad6b7169203331";
/// The trace of the call of a method that does not exist.
const OTHER_TRACE: &str = "5b8efff798038103d269b633813fc60c";
const OTHER_PARENT: &str = "eee19b7ec3c1b174";

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

// ---------------------------------------------------------------------------------------------
// The exchange process.

/// The environment that points the exchange at a collector on `port` through the standard
/// variables, with the collector PKI files of `dir` and quick exports.
fn otel_env(dir: &Path, port: u16, metric_interval_ms: u32) -> Vec<(&'static str, String)> {
    let path = |name: &str| dir.join(name).display().to_string();
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("https://localhost:{port}"),
        ),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(COLLECTOR_CA)),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(TELEMETRY_CERT),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(TELEMETRY_KEY)),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        (
            "OTEL_METRIC_EXPORT_INTERVAL",
            metric_interval_ms.to_string(),
        ),
    ]
}

/// `jembatan serve` on `config` written into the PKI folder, logging JSON to a piped stderr,
/// with `env` and no other `OTEL_*` variable.
fn serve_command(pki: &TestPki, config: &str, env: &[(&str, String)]) -> Command {
    let path = pki.dir.path().join("jembatan.toml");
    std::fs::write(&path, config).expect("config");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--config"])
        .arg(&path)
        .env("JEMBATAN_LOG_FORMAT", "json")
        .env("JEMBATAN_AUDIT_CHECKPOINT_INTERVAL_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("OTEL_")) {
        command.env_remove(key);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// Runs `jembatan serve` on the SQLite config with `env` (see [`serve_command`]), which must
/// refuse to start: asserts it exits with a failure, without ever serving, and returns what it
/// wrote to stderr.
fn refused_start(pki: &TestPki, env: &[(&str, String)]) -> String {
    let mut child = serve_command(pki, &config_toml(SQLITE_URL, ""), env)
        .spawn()
        .expect("spawn jembatan serve");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).expect("read stderr");
        text
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "jembatan serve still runs after {PATIENCE:?}:\n{}",
                reader.join().expect("stderr reader")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = reader.join().expect("stderr reader");
    assert!(
        !status.success(),
        "jembatan serve exited with {status}:\n{stderr}"
    );
    assert!(
        !stderr.contains("\"serving\""),
        "jembatan serve served before it exited:\n{stderr}"
    );
    stderr
}

/// A `jembatan serve` process, killed when dropped, and every line it wrote to stderr.
struct Server {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `jembatan serve` (see [`serve_command`]) and returns once it says where it serves.
    fn start(pki: &TestPki, config: &str, env: &[(&str, String)]) -> Self {
        let mut child = serve_command(pki, config, env)
            .spawn()
            .expect("spawn jembatan serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!(
                    "jembatan serve did not say where it serves:\n{}",
                    stderr.lock().expect("lock").join("\n")
                );
            };
            let event = serde_json::from_str::<serde_json::Value>(&line).ok();
            stderr.lock().expect("lock").push(line);
            if let Some(event) = event
                && event["fields"]["message"] == "serving"
            {
                break event["fields"]["addr"].as_str().expect("addr").to_owned();
            }
        };
        // Keep reading, so that the server never blocks on a full pipe, and keep every line.
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().expect("lock").push(line);
            }
        });
        Self {
            child,
            addr,
            stderr,
        }
    }

    async fn connect(&self, tls: jembatan_client::ClientTls) -> Client {
        Client::connect(&format!("https://{}", self.addr), tls)
            .await
            .expect("connect")
    }

    /// A client of KP2MI's system `siskop2mi`.
    async fn kp2mi(&self, pki: &TestPki) -> Client {
        self.connect(pki.agency("kp2mi", "siskop2mi")).await
    }

    /// A client of Kemendag's system `export-portal`.
    async fn kemendag(&self, pki: &TestPki) -> Client {
        self.connect(pki.agency("kemendag", "export-portal")).await
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("lock").clone()
    }

    /// The event in which the server said where it serves.
    fn serving(&self) -> serde_json::Value {
        self.stderr()
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|event| event["fields"]["message"] == "serving")
            .expect("the serving event")
    }

    /// Asserts the process runs and logged no panic.
    fn assert_alive(&mut self) {
        let exited = self.child.try_wait().expect("try_wait");
        let log = self.stderr();
        assert!(
            exited.is_none(),
            "the server exited ({exited:?}):\n{}",
            log.join("\n")
        );
        let panics: Vec<_> = log.iter().filter(|l| l.contains("panicked")).collect();
        assert!(panics.is_empty(), "the server panicked: {panics:#?}");
    }
}

/// `jembatan serve` on the SQLite config, exporting to a collector at `port` on localhost
/// (see [`otel_env`]), with the variables of `also` too.
fn serve_exporting_to(
    pki: &TestPki,
    port: u16,
    metric_interval_ms: u32,
    also: &[(&'static str, String)],
) -> Server {
    let mut env = otel_env(pki.dir.path(), port, metric_interval_ms);
    env.extend_from_slice(also);
    Server::start(pki, &config_toml(SQLITE_URL, ""), &env)
}

/// A collector of its own for `pki`'s folder, and `jembatan serve` exporting to it (see
/// [`serve_exporting_to`]).
async fn serve_with_collector(
    pki: &TestPki,
    metric_interval_ms: u32,
    also: &[(&'static str, String)],
) -> (Collector, Server) {
    let collector = Collector::start(pki.dir.path()).await;
    let server = serve_exporting_to(pki, collector.port, metric_interval_ms, also);
    (collector, server)
}

// ---------------------------------------------------------------------------------------------
// Calls.

/// Asserts `client`'s health check answers SERVING.
async fn assert_serving(client: &Client) {
    assert_eq!(
        client.health("").await.expect("health"),
        ServingStatus::Serving
    );
}

/// Sets `traceparent` on `request`, or removes it (the client sets one of its own) when `None`.
fn with_traceparent<T>(mut request: Request<T>, value: Option<&str>) -> Request<T> {
    match value {
        Some(value) => {
            let value = MetadataValue::try_from(value).expect("ascii");
            request.metadata_mut().insert("traceparent", value);
        }
        None => {
            request.metadata_mut().remove("traceparent");
        }
    }
    request
}

/// Pushes `records` as KP2MI with `traceparent`; the trace ids of the leaves of its receipts.
async fn push_traced(
    client: &Client,
    store: &Store,
    records: Vec<Placement>,
    traceparent: Option<&str>,
) -> Vec<String> {
    let request = as_kp2mi(PushPlacementsRequest {
        placements: records,
        all_or_nothing: false,
    });
    let answer = placements(client)
        .push_placements(with_traceparent(request, traceparent))
        .await
        .expect("push")
        .into_inner();
    let mut ids = Vec::new();
    for result in &answer.results {
        assert_eq!(result.outcome(), RecordOutcome::Stored, "{result:?}");
        let receipt = result.receipt.as_ref().expect("a receipt per record");
        ids.push(leaf_of(store, receipt).await.trace_id);
    }
    ids
}

/// Kemendag pushing placements, which it may not, with `traceparent`.
async fn denied_push(client: &Client, traceparent: &str) {
    let request = as_kp2mi(PushPlacementsRequest::default());
    let refused = placements(client)
        .push_placements(with_traceparent(request, Some(traceparent)))
        .await
        .expect_err("kemendag may not push");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
}

/// Calls `path`, which the exchange does not serve, as `client` stating a purpose, with
/// `traceparent`; the code it is answered with.
async fn unknown_call(client: &Client, path: &str, traceparent: &str) -> Code {
    let mut metadata =
        jembatan_tests::raw_call::stated(Purpose::Statistics, LegalBasis::PublicTask);
    metadata.push(("traceparent", traceparent.to_owned()));
    jembatan_tests::raw_call::call_path(client.channel(), path, &metadata)
        .await
        .expect_err("no such method")
        .code()
}

/// Whether `code` is a failure of the server's, which alone makes a span's status ERROR.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

// ---------------------------------------------------------------------------------------------
// Checks of what the collector received.

/// Fails with `message` unless `condition` holds: the checks below are retried until the
/// collector has everything or the deadline passes.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// The one span named `name` in `trace` whose parent is `parent`.
fn child<'a>(
    spans: &'a [Span],
    trace: &str,
    name: &str,
    parent: &[u8],
) -> Result<&'a Span, String> {
    let found: Vec<_> = in_trace(spans, trace, name)
        .into_iter()
        .filter(|s| s.parent_span_id == parent)
        .collect();
    ensure!(
        found.len() == 1,
        "{} spans {name:?} in trace {trace} under span {}; spans of the trace: {:?}",
        found.len(),
        hex::encode(parent),
        summary(spans, trace)
    );
    Ok(found[0])
}

/// Checks a call span's attributes against `expected` (key, value as text).
fn has_attributes(span: &Span, expected: &[(&str, &str)]) -> Result<(), String> {
    for (key, value) in expected {
        ensure!(
            str_attr(&span.attributes, key).as_deref() == Some(*value),
            "span {} ({}): {key} is {:?}, not {value:?}; attributes: {:?}",
            span.name,
            hex::encode(&span.span_id),
            str_attr(&span.attributes, key),
            attribute_map(&span.attributes)
        );
    }
    Ok(())
}

/// The traced push: its span, in the given trace under the given parent, with its attributes
/// and children.
fn check_traced_push(spans: &[Span]) -> Result<(), String> {
    let parent = hex::decode(GIVEN_PARENT).expect("hex");
    let push = child(spans, GIVEN_TRACE, PUSH, &parent)?;
    ensure!(
        push.kind == span::SpanKind::Server as i32,
        "the push's span is of kind {}, not SERVER",
        push.kind
    );
    has_attributes(
        push,
        &[
            ("rpc.system", "grpc"),
            ("rpc.system.name", "grpc"),
            ("rpc.service", "jembatan.v1.PlacementService"),
            ("rpc.method", PUSH),
            ("rpc.response.status_code", "OK"),
            ("jembatan.agency", "kp2mi"),
            ("jembatan.system", "siskop2mi"),
            ("jembatan.purpose", Purpose::ProgramMonitoring.code()),
            ("jembatan.legal_basis", LegalBasis::LegalObligation.code()),
            ("jembatan.decision", "allow"),
        ],
    )?;
    ensure!(
        matches!(
            attr(&push.attributes, "rpc.grpc.status_code"),
            Some(any_value::Value::IntValue(0))
        ),
        "rpc.grpc.status_code of the push is {:?}, not the integer 0",
        attr(&push.attributes, "rpc.grpc.status_code")
    );
    ensure!(
        !status_is_error(push),
        "the push's span status is ERROR: {:?}",
        push.status
    );
    ensure!(
        attr(&push.attributes, "error.type").is_none(),
        "an OK push has error.type {:?}",
        attr(&push.attributes, "error.type")
    );
    child(spans, GIVEN_TRACE, "policy.decide", &push.span_id)?;
    let write = child(spans, GIVEN_TRACE, "store.write", &push.span_id)?;
    child(spans, GIVEN_TRACE, "store.work", &write.span_id)?;
    child(spans, GIVEN_TRACE, "store.commit", &write.span_id)?;
    Ok(())
}

/// The untraced push: a span of its own in the trace its leaves name, with no parent.
fn check_untraced_push(spans: &[Span], leaf_trace: &str) -> Result<(), String> {
    let found = in_trace(spans, leaf_trace, PUSH);
    ensure!(
        found.len() == 1,
        "{} push spans in trace {leaf_trace}, the trace id of the untraced push's leaves; \
         push spans exported: {:?}",
        found.len(),
        spans
            .iter()
            .filter(|s| s.name == PUSH)
            .map(|s| hex::encode(&s.trace_id))
            .collect::<Vec<_>>()
    );
    ensure!(
        found[0].parent_span_id.is_empty(),
        "the untraced push's span has parent {}",
        hex::encode(&found[0].parent_span_id)
    );
    has_attributes(found[0], &[("rpc.response.status_code", "OK")])
}

/// The denied call: PERMISSION_DENIED and a deny decision, not an error of the server's.
fn check_denial(spans: &[Span]) -> Result<(), String> {
    let parent = hex::decode(DENIED_PARENT).expect("hex");
    let denied = child(spans, DENIED_TRACE, PUSH, &parent)?;
    has_attributes(
        denied,
        &[
            ("rpc.response.status_code", "PERMISSION_DENIED"),
            ("rpc.grpc.status_code", "7"),
            ("jembatan.agency", "kemendag"),
            ("jembatan.system", "export-portal"),
            ("jembatan.decision", "deny"),
        ],
    )?;
    ensure!(
        !status_is_error(denied),
        "a denial is the caller's fault, yet its span status is ERROR: {:?}",
        denied.status
    );
    child(spans, DENIED_TRACE, "policy.decide", &denied.span_id)?;
    Ok(())
}

/// The call of a method not served: `_OTHER`, its path unrecorded, answered `code`; status
/// ERROR and error.type (on the span and the duration) only if `code` is the server's failure.
fn check_other(spans: &[Span], metrics: &[Metric], code: Code) -> Result<(), String> {
    let parent = hex::decode(OTHER_PARENT).expect("hex");
    let other = child(spans, OTHER_TRACE, "_OTHER", &parent)?;
    let name = status_name(code).to_owned();
    let server_error = is_server_error(code);
    has_attributes(
        other,
        &[
            ("rpc.method", "_OTHER"),
            ("rpc.response.status_code", &name),
            ("rpc.grpc.status_code", &(code as i32).to_string()),
        ],
    )?;
    ensure!(
        status_is_error(other) == server_error,
        "the span of a call answered {name} has status {:?}",
        other.status
    );
    let error_type = str_attr(&other.attributes, "error.type");
    ensure!(
        error_type == server_error.then(|| name.clone()),
        "the span of a call answered {name} has error.type {error_type:?}"
    );
    let mut filter = vec![
        ("rpc.method", "_OTHER"),
        ("rpc.response.status_code", name.as_str()),
    ];
    if server_error {
        filter.push(("error.type", name.as_str()));
    }
    check_total(metrics, DURATION, &filter, 1.0).map(drop)
}

/// service.name and service.version on every resource exported.
fn check_resources(resources: &[Resource]) -> Result<(), String> {
    ensure!(!resources.is_empty(), "no resource exported");
    for resource in resources {
        let name = str_attr(&resource.attributes, "service.name");
        ensure!(
            name.as_deref() == Some("jembatan"),
            "service.name is {name:?}; resource: {:?}",
            attribute_map(&resource.attributes)
        );
        let version = str_attr(&resource.attributes, "service.version").unwrap_or_default();
        ensure!(!version.is_empty(), "no service.version");
    }
    Ok(())
}

/// A metric named `name` exists, of `expected_kind` and `unit` (when given).
fn check_metric(
    metrics: &[Metric],
    name: &str,
    expected_kind: &str,
    unit: Option<&str>,
) -> Result<(), String> {
    let found: Vec<_> = metrics.iter().filter(|m| m.name == name).collect();
    ensure!(
        !found.is_empty(),
        "no metric {name}; exported: {:?}",
        metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect::<std::collections::BTreeSet<_>>()
    );
    for metric in found {
        ensure!(
            kind(metric) == expected_kind,
            "{name} is a {}, not a {expected_kind}",
            kind(metric)
        );
        if let Some(unit) = unit {
            ensure!(
                metric.unit == unit,
                "{name} has unit {:?}, not {unit:?}",
                metric.unit
            );
        }
    }
    Ok(())
}

/// `total` of `name` over `filter` is at least `at_least`.
fn check_total(
    metrics: &[Metric],
    name: &str,
    filter: &[(&str, &str)],
    at_least: f64,
) -> Result<f64, String> {
    let value = total(metrics, name, filter);
    ensure!(
        value.is_some_and(|v| v >= at_least),
        "{name} {filter:?} totals {value:?}, not at least {at_least}; its points: {:?}",
        metrics
            .iter()
            .filter(|m| m.name == name)
            .flat_map(points)
            .map(|p| (p.attributes, p.value))
            .collect::<Vec<_>>()
    );
    Ok(value.unwrap_or_default())
}

/// Every complaint of `checks`, or `Ok` when there is none.
fn all_of(checks: Vec<Result<(), String>>) -> Result<(), String> {
    let complaints: Vec<String> = checks.into_iter().filter_map(Result::err).collect();
    if complaints.is_empty() {
        Ok(())
    } else {
        Err(format!("\n- {}", complaints.join("\n- ")))
    }
}

const DURATION: &str = "rpc.server.call.duration";

/// The call duration histogram after 2 OK pushes and a denied one.
fn check_duration(metrics: &[Metric]) -> Result<(), String> {
    check_metric(metrics, DURATION, "histogram", Some("s"))?;
    let ok = [
        ("rpc.system.name", "grpc"),
        ("rpc.method", PUSH),
        ("rpc.response.status_code", "OK"),
    ];
    check_total(metrics, DURATION, &ok, 2.0)?;
    let denied = [
        ("rpc.system.name", "grpc"),
        ("rpc.method", PUSH),
        ("rpc.response.status_code", "PERMISSION_DENIED"),
    ];
    check_total(metrics, DURATION, &denied, 1.0)?;
    for metric in metrics.iter().filter(|m| m.name == DURATION) {
        for point in points(metric) {
            let code = point.attributes.get("rpc.response.status_code");
            let client_side = matches!(code.map(String::as_str), Some("OK" | "PERMISSION_DENIED"));
            ensure!(
                !(client_side && point.attributes.contains_key("error.type")),
                "{DURATION} has error.type on a call that is no server error: {:?}",
                point.attributes
            );
        }
    }
    Ok(())
}

/// Exactly `pushed` records counted as pushed by KP2MI.
fn check_pushed(metrics: &[Metric], pushed: f64) -> Result<(), String> {
    const PUSHED: &str = "jembatan.records.pushed";
    check_metric(metrics, PUSHED, "sum", None)?;
    let kp2mi = [
        ("jembatan.agency", "kp2mi"),
        ("rpc.method", PUSH),
        ("jembatan.purpose", Purpose::ProgramMonitoring.code()),
    ];
    let value = check_total(metrics, PUSHED, &kp2mi, pushed)?;
    ensure!(
        value == pushed,
        "{PUSHED} counts {value} records, {pushed} were pushed"
    );
    Ok(())
}

/// The metrics an operator watches most, after 2 OK pushes of `pushed` records in all and 1
/// denial.
fn check_metrics(metrics: &[Metric], pushed: f64) -> Result<(), String> {
    const APPENDED: &str = "jembatan.log.leaves.appended";
    const SIGNED: &str = "jembatan.checkpoints.signed";
    const DENIALS: &str = "jembatan.denials";
    all_of(vec![
        check_duration(metrics),
        check_pushed(metrics, pushed),
        check_metric(metrics, APPENDED, "sum", None),
        // A leaf per record pushed, and the denial's.
        check_total(metrics, APPENDED, &[], pushed + 1.0).map(drop),
        check_metric(metrics, "jembatan.log.size", "gauge", None),
        check_metric(metrics, "jembatan.log.leaves.pending", "gauge", None),
        check_metric(metrics, "jembatan.checkpoint.age", "gauge", Some("s")),
        check_metric(metrics, SIGNED, "sum", None),
        check_total(metrics, SIGNED, &[], 1.0).map(drop),
        check_metric(metrics, DENIALS, "sum", None),
        check_total(
            metrics,
            DENIALS,
            &[("jembatan.reason", "permission_denied")],
            1.0,
        )
        .map(drop),
    ])
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_of_real_calls_reach_the_collector_over_mtls() {
    let pki = TestPki::new();
    let (collector, mut server) = serve_with_collector(&pki, 500, &[]).await;
    let store = open_store(&pki, SQLITE_URL).await;
    let kp2mi = server.kp2mi(&pki).await;
    let kemendag = server.kemendag(&pki).await;

    let given = traceparent(GIVEN_TRACE, GIVEN_PARENT);
    let traced = push_traced(
        &kp2mi,
        &store,
        (0..3).map(placement).collect(),
        Some(&given),
    )
    .await;
    assert_eq!(
        traced,
        vec![GIVEN_TRACE; 3],
        "the leaves carry the caller's trace id"
    );
    let untraced = push_traced(&kp2mi, &store, (10..13).map(placement).collect(), None).await;
    let leaf_trace = untraced[0].clone();
    assert!(untraced.iter().all(|id| id == &leaf_trace), "{untraced:?}");
    assert!(
        leaf_trace.len() == 32 && leaf_trace != GIVEN_TRACE,
        "{leaf_trace:?}"
    );
    denied_push(&kemendag, &traceparent(DENIED_TRACE, DENIED_PARENT)).await;
    let other_code = unknown_call(
        &kp2mi,
        "/jembatan.v1.PlacementService/NoSuchMethod",
        &traceparent(OTHER_TRACE, OTHER_PARENT),
    )
    .await;

    eventually(&collector.received, |traces, exported| {
        let spans = spans(traces);
        all_of(vec![
            check_traced_push(&spans),
            check_untraced_push(&spans, &leaf_trace),
            check_denial(&spans),
            check_other(&spans, &metrics(exported), other_code),
            check_resources(&resources(traces, exported)),
            check_metrics(&metrics(exported), 6.0),
        ])
    })
    .await;

    let peers = collector.received.peer_certs();
    assert!(!peers.is_empty(), "no export received");
    assert!(
        peers.iter().all(|&certs| certs > 0),
        "an export came without a client certificate: {peers:?}"
    );
    server.assert_alive();
    store.close().await;
}

/// The watch method as spans and metrics name it.
const WATCH: &str = "jembatan.v1.WorkforceService/WatchAvailability";
/// The trace of the watch, and the span it is called from.
const WATCH_TRACE: &str = "c3a5e1f2b7d94e6a8f0b2c4d6e8fa1b3";
const WATCH_PARENT: &str = "53995c3f42cd8ad8";
/// How long the watch is kept open after its first event.
const WATCH_OPEN: Duration = Duration::from_secs(1);
/// The least the watch's span must last: not a speed, but proof that it did not end when the
/// response headers went out.
const WATCH_SPAN_AT_LEAST: Duration = Duration::from_millis(800);

/// The watch's span: in the given trace under the given parent, lasting (almost) as long as
/// the stream, with the watch's writes as its children; the span itself.
fn check_watch(spans: &[Span]) -> Result<Span, String> {
    let parent = hex::decode(WATCH_PARENT).expect("hex");
    let call = child(spans, WATCH_TRACE, WATCH, &parent)?;
    let lasted = Duration::from_nanos(
        call.end_time_unix_nano
            .saturating_sub(call.start_time_unix_nano),
    );
    ensure!(
        lasted >= WATCH_SPAN_AT_LEAST,
        "the watch's span lasted {lasted:?}, the stream at least {WATCH_OPEN:?}: it ended \
         before the stream did"
    );
    let writes = in_trace(spans, WATCH_TRACE, "store.write");
    ensure!(
        !writes.is_empty(),
        "no store.write span in the watch's trace; spans of the trace: {:?}",
        summary(spans, WATCH_TRACE)
    );
    ensure!(
        writes.iter().all(|w| w.parent_span_id == call.span_id),
        "a store.write span of the watch's trace is not the call span's child; spans of the \
         trace: {:?}",
        summary(spans, WATCH_TRACE)
    );
    Ok(call.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streams_span_lasts_as_long_as_its_stream() {
    let pki = TestPki::new();
    let (collector, mut server) = serve_with_collector(&pki, 500, &[]).await;
    let store = open_store(&pki, SQLITE_URL).await;
    let kp2mi = server.kp2mi(&pki).await;
    let kemendag = server.kemendag(&pki).await;

    let request = stated(
        Purpose::BusinessMatching,
        LegalBasis::Consent,
        WatchAvailabilityRequest::default(),
    );
    let given = traceparent(WATCH_TRACE, WATCH_PARENT);
    let mut stream = workforce(&kemendag)
        .watch_availability(with_traceparent(request, Some(&given)))
        .await
        .expect("watch")
        .into_inner();
    // A change to watch, pushed once the watch has its headers (it watches from then on).
    jembatan_tests::placements::push(&kp2mi, vec![placement(0)]).await;
    let event = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("an event in time")
        .expect("an event, not an error")
        .expect("the stream open");
    let receipt = event.receipt.as_ref().expect("the event's receipt");
    assert_eq!(
        leaf_of(&store, receipt).await.trace_id,
        WATCH_TRACE,
        "the event's leaf is in the watch's trace"
    );
    tokio::time::sleep(WATCH_OPEN).await;
    drop(stream);

    let call = eventually(&collector.received, |traces, _| check_watch(&spans(traces))).await;
    has_attributes(
        &call,
        &[
            ("jembatan.agency", "kemendag"),
            ("jembatan.purpose", Purpose::BusinessMatching.code()),
            ("jembatan.decision", "allow"),
        ],
    )
    .expect("the watch's attributes");
    // The client went away: the server may see it as CANCELLED or as OK, never as its error.
    let code = str_attr(&call.attributes, "rpc.response.status_code");
    eprintln!(
        "the dropped watch's span: rpc.response.status_code {code:?}, status {:?}",
        call.status
    );
    assert!(
        matches!(code.as_deref(), Some("CANCELLED" | "OK")),
        "a watch the client dropped ends {code:?}"
    );
    assert!(
        !status_is_error(&call),
        "a watch the client dropped is no error of the server's: {:?}",
        call.status
    );
    server.assert_alive();
    store.close().await;
}

/// Records of distinct workers whose personal data a scan can find: NIK, name, phone, e-mail.
fn personal_records(first: u32, count: u32) -> Vec<Placement> {
    (first..first + count)
        .map(|n| {
            let mut record = placement(n);
            record.full_name = format!("Ratna Kusumawati Telemetri {n}");
            record.contact = Some(v1::Contact {
                phone: format!("+62813{n:08}"),
                email: format!("ratna.telemetri.{n}@example.id"),
            });
            record
        })
        .collect()
}

/// The personal data of `records`: NIK, name, phone and e-mail of each.
fn personal_data(records: &[Placement]) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| {
            let contact = r.contact.clone().unwrap_or_default();
            [
                r.nik.clone(),
                r.full_name.clone(),
                contact.phone,
                contact.email,
            ]
        })
        .collect()
}

/// Which of `needles` occur in any of `haystacks`, with the first line holding each.
fn found_in<'a>(needles: &'a [String], haystacks: &[String]) -> Vec<(&'a str, String)> {
    needles
        .iter()
        .filter_map(|needle| {
            haystacks
                .iter()
                .find(|h| h.contains(needle.as_str()))
                .map(|h| (needle.as_str(), h.chars().take(400).collect()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_telemetry() {
    let pki = TestPki::new();
    let collector = Collector::start(pki.dir.path()).await;
    // This time through the config's [telemetry] section, paths relative to the config file.
    let config = format!(
        "{}\n[telemetry]\nendpoint = \"https://localhost:{}\"\nca = \"{COLLECTOR_CA}\"\n\
         cert = \"{TELEMETRY_CERT}\"\nkey = \"{TELEMETRY_KEY}\"\n",
        config_toml(SQLITE_URL, ""),
        collector.port
    );
    let env = [
        // A name of the operator's own is kept.
        ("OTEL_SERVICE_NAME", "jembatan-dc1".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500".to_owned()),
    ];
    let mut server = Server::start(&pki, &config, &env);
    let kp2mi = server.kp2mi(&pki).await;
    let kemendag = server.kemendag(&pki).await;

    // Five valid records, and one invalid one (a destination that is no country) whose
    // personal data must not leak through its rejection either.
    let mut records = personal_records(100, 6);
    records[5].destination_country = "XX".into();
    let answer = jembatan_tests::placements::push(&kp2mi, records.clone()).await;
    let outcomes: Vec<_> = answer.results.iter().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes,
        [
            [RecordOutcome::Stored; 5].as_slice(),
            &[RecordOutcome::Rejected]
        ]
        .concat(),
        "{answer:?}"
    );

    // Kemendag gets the workers under its pseudonyms; KP2MI asks for a worker's history by NIK.
    let listed = workforce(&kemendag)
        .list_candidates(stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            ListCandidatesRequest {
                filter: Some(AvailabilityFilter {
                    destination_countries: vec!["HK".into()],
                    ..Default::default()
                }),
                page_size: 100,
                page_token: String::new(),
            },
        ))
        .await
        .expect("list candidates")
        .into_inner();
    let pseudonyms: Vec<String> = listed
        .candidates
        .iter()
        .map(|c| c.pseudonym.clone())
        .collect();
    assert_eq!(pseudonyms.len(), 5, "{pseudonyms:?}");
    assert!(
        listed
            .candidates
            .iter()
            .all(|c| c.full_name.contains("Telemetri")),
        "business matching shows the names pushed"
    );
    v1::audit_service_client::AuditServiceClient::new(kp2mi.channel())
        .list_subject_accesses(stated(
            Purpose::Audit,
            LegalBasis::LegalObligation,
            ListSubjectAccessesRequest {
                nik: records[0].nik.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("list subject accesses");
    // A path is the caller's free text: one holding a NIK.
    let path = format!("/jembatan.v1.PlacementService/{}", records[1].nik);
    unknown_call(&kp2mi, &path, &traceparent(OTHER_TRACE, OTHER_PARENT)).await;

    // What must never appear: the personal data pushed, the subject keys the exchange keeps,
    // the pseudonyms it handed out.
    let key_text = std::fs::read_to_string(pki.dir.path().join("keys/personal-data.key"))
        .expect("personal-data key");
    let key = PersonalDataKey::parse(&key_text).expect("personal-data key");
    let mut secrets = personal_data(&records);
    secrets.extend(records.iter().map(|r| key.subject_key(&r.nik)));
    secrets.extend(pseudonyms.iter().cloned());
    // The scan can fail: the data is in what was pushed, and a scan of it finds it.
    let pushed_text = vec![format!("{records:?}")];
    assert_eq!(
        found_in(&personal_data(&records), &pushed_text).len(),
        personal_data(&records).len(),
        "the scan finds every NIK, name and contact in what was pushed"
    );
    let first_pseudonym = key.pseudonym("kemendag", &key.subject_key(&records[0].nik));
    assert!(
        pseudonyms.contains(&first_pseudonym),
        "the subject keys and pseudonyms scanned for are the exchange's"
    );

    // Wait until the calls' spans and metrics are in.
    let methods = [
        PUSH,
        "jembatan.v1.WorkforceService/ListCandidates",
        "jembatan.v1.AuditService/ListSubjectAccesses",
    ];
    eventually(&collector.received, |traces, exported| {
        let spans = spans(traces);
        for method in methods {
            ensure!(
                spans.iter().any(|s| s.name == method),
                "no span of {method}; spans: {:?}",
                spans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()
            );
        }
        ensure!(
            spans
                .iter()
                .any(|s| hex::encode(&s.trace_id) == OTHER_TRACE),
            "no span of the call of {path}"
        );
        check_total(&metrics(exported), "jembatan.records.pushed", &[], 5.0)?;
        Ok(())
    })
    .await;
    // One more round of exports, so that what the last calls left is in too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.assert_alive();

    let traces = collector.received.traces();
    let exported = collector.received.metrics();
    let attributes = every_attribute(&traces, &exported);
    assert!(
        attributes.iter().any(|a| a == "jembatan.agency=kemendag")
            && attributes.iter().any(|a| a.starts_with("service.version="))
            && attributes
                .iter()
                .any(|a| a.starts_with("db.client.connection.state=")),
        "the scan sees the attributes exported: {attributes:?}"
    );
    let mut haystacks = attributes;
    // Every field of every export too (names, events, status messages), and every log line.
    haystacks.extend(traces.iter().map(|t| format!("{t:?}")));
    haystacks.extend(exported.iter().map(|m| format!("{m:?}")));
    haystacks.extend(server.stderr());
    let leaked = found_in(&secrets, &haystacks);
    assert!(
        leaked.is_empty(),
        "personal data in telemetry or logs: {leaked:#?}"
    );
    for resource in resources(&traces, &exported) {
        let name = str_attr(&resource.attributes, "service.name");
        assert_eq!(name.as_deref(), Some("jembatan-dc1"), "OTEL_SERVICE_NAME");
    }
}

/// 50 pushes as KP2MI: all succeed, the server stays healthy.
async fn calls_go_on(server: &mut Server, pki: &TestPki) {
    let kp2mi = server.kp2mi(pki).await;
    for n in 0..50 {
        let answer = jembatan_tests::placements::push(&kp2mi, vec![placement(n)]).await;
        assert_eq!(
            answer.results[0].outcome(),
            RecordOutcome::Stored,
            "push {n}: {answer:?}"
        );
    }
    assert_serving(&kp2mi).await;
    server.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_on_when_the_collector_is_down() {
    let pki = TestPki::new();
    // The CA and client identity the exchange is given; no collector of that CA answers.
    CollectorPki::new(pki.dir.path());
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a: SocketAddr| a.port())
        .expect("free port");
    let mut server = serve_exporting_to(&pki, port, 200, &[]);
    calls_go_on(&mut server, &pki).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_on_when_the_collector_stalls() {
    let pki = TestPki::new();
    // The CA and client identity the exchange is given; no collector of that CA answers.
    CollectorPki::new(pki.dir.path());
    // A listener that accepts and never answers: the exporter's TLS handshake stalls.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            held.push(socket);
        }
    });
    let mut server = serve_exporting_to(&pki, port, 200, &[]);
    // The calls run while the exporter waits on the stalled collector.
    let deadline = Instant::now() + PATIENCE;
    while accepted.load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "the exporter never connected to the collector at {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    calls_go_on(&mut server, &pki).await;
}

// ---------------------------------------------------------------------------------------------
// Configuration: what the exchange refuses, and what it leaves alone.

/// An endpoint where nothing listens: the configurations below stop before connecting.
const NO_COLLECTOR: &str = "https://localhost:1";

/// The collector CA's path in `pki`'s folder, written there.
fn collector_ca(pki: &TestPki) -> String {
    CollectorPki::new(pki.dir.path());
    pki.dir.path().join(COLLECTOR_CA).display().to_string()
}

/// Asserts `stderr` names every one of `names`.
fn assert_names(stderr: &str, names: &[&str]) {
    for name in names {
        assert!(
            stderr.contains(name),
            "stderr does not name {name}:\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_variables_without_an_endpoint_leave_telemetry_off() {
    let pki = TestPki::new();
    let env = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
    ];
    let mut server = Server::start(&pki, &config_toml(SQLITE_URL, ""), &env);
    assert_eq!(
        server.serving()["fields"]["telemetry"],
        false,
        "no endpoint: telemetry is off"
    );
    let kp2mi = server.kp2mi(&pki).await;
    assert_serving(&kp2mi).await;
    server.assert_alive();
}

#[test]
fn an_otlp_protocol_other_than_grpc_stops_the_server() {
    let pki = TestPki::new();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", NO_COLLECTOR.to_owned()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", collector_ca(&pki)),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
    ];
    let stderr = refused_start(&pki, &env);
    assert_names(&stderr, &["OTEL_EXPORTER_OTLP_PROTOCOL"]);
}

#[test]
fn an_https_collector_without_a_ca_stops_the_server() {
    let pki = TestPki::new();
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", NO_COLLECTOR.to_owned())];
    let stderr = refused_start(&pki, &env);
    assert_names(&stderr, &["telemetry.ca", "OTEL_EXPORTER_OTLP_CERTIFICATE"]);
}

#[test]
fn a_client_certificate_without_its_key_stops_the_server() {
    let pki = TestPki::new();
    let ca = collector_ca(&pki);
    let cert = pki.dir.path().join(TELEMETRY_CERT).display().to_string();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", NO_COLLECTOR.to_owned()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert),
    ];
    let stderr = refused_start(&pki, &env);
    assert_names(
        &stderr,
        &[
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_disabled_exports_nothing() {
    let pki = TestPki::new();
    let disabled = [("OTEL_SDK_DISABLED", "true".to_owned())];
    let (collector, mut server) = serve_with_collector(&pki, 200, &disabled).await;
    assert_eq!(server.serving()["fields"]["telemetry"], false);
    let kp2mi = server.kp2mi(&pki).await;
    for n in 0..3 {
        jembatan_tests::placements::push(&kp2mi, vec![placement(n)]).await;
    }
    assert_serving(&kp2mi).await;
    // Several metric intervals and span batches: an absence, not a speed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let traces = collector.received.traces();
    let exported = collector.received.metrics();
    assert!(
        traces.is_empty() && exported.is_empty(),
        "OTEL_SDK_DISABLED=true, yet the collector received {} span and {} metric exports",
        traces.len(),
        exported.len()
    );
    server.assert_alive();
}
