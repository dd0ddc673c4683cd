//! An in-process OpenTelemetry collector for the telemetry tests, and the readers of what it
//! received. The collector has a CA of its own, serves OTLP/gRPC traces and metrics on
//! 127.0.0.1 over TLS 1.3 only, requires a client certificate from its CA, and keeps every
//! export request with the number of certificates its client presented. The readers flatten
//! the exports into spans, resources, metrics and data points, give attributes as text, total
//! a metric's series, and retry a check on what arrived until it passes ([`eventually`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, status};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use jembatan_tests::write_private;

/// How long the collector, or the server, is waited for: a deadline, not a measure.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The collector: its own CA, its server certificate, the exchange's client certificate.

/// The file name of the collector's CA certificate, in the test's folder.
pub(crate) const COLLECTOR_CA: &str = "collector-ca.pem";
/// The file name of the exchange's client certificate for the collector, in the test's folder.
pub(crate) const TELEMETRY_CERT: &str = "telemetry-client.pem";
/// The file name of that client certificate's key (mode 0600), in the test's folder.
pub(crate) const TELEMETRY_KEY: &str = "telemetry-client-key.pem";

/// The collector's CA and the certificates it issued; the exchange's side is written as PEM
/// files into a folder.
pub(crate) struct CollectorPki {
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: PrivatePkcs8KeyDer<'static>,
}

impl CollectorPki {
    /// Makes a CA, a server certificate for localhost and 127.0.0.1 and a client certificate,
    /// and writes the CA, the client certificate and its key (mode 0600) into `dir` as
    /// [`COLLECTOR_CA`], [`TELEMETRY_CERT`] and [`TELEMETRY_KEY`].
    pub(crate) fn new(dir: &Path) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Test OTLP collector CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");

        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        server_params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().expect("server key");
        let server = server_params
            .signed_by(&server_key, &ca)
            .expect("server certificate");

        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "jembatan exporter");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().expect("client key");
        let client = client_params
            .signed_by(&client_key, &ca)
            .expect("client certificate");

        std::fs::write(dir.join(COLLECTOR_CA), ca.pem()).expect("write CA");
        std::fs::write(dir.join(TELEMETRY_CERT), client.pem()).expect("write client cert");
        write_private(
            &dir.join(TELEMETRY_KEY),
            client_key.serialize_pem().as_bytes(),
        );
        Self {
            ca_der: ca.der().clone(),
            server_der: server.der().clone(),
            server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        }
    }

    /// TLS 1.3 only, h2, a client certificate from the CA required.
    fn server_config(&self) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("CA root");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .build()
        .expect("client verifier");
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.server_der.clone()],
                PrivateKeyDer::Pkcs8(self.server_key.clone_key()),
            )
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec()];
        config
    }
}

/// Everything the collector received, in order.
#[derive(Default)]
pub(crate) struct Received {
    traces: Mutex<Vec<ExportTraceServiceRequest>>,
    metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    /// Per export request: how many certificates the client presented (0: none).
    peer_certs: Mutex<Vec<usize>>,
}

impl Received {
    fn note_peer<T>(&self, request: &Request<T>) {
        let certs = request.peer_certs().map_or(0, |certs| certs.len());
        self.peer_certs.lock().expect("lock").push(certs);
    }

    /// The trace export requests received so far.
    pub(crate) fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        self.traces.lock().expect("lock").clone()
    }

    /// The metric export requests received so far.
    pub(crate) fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.metrics.lock().expect("lock").clone()
    }

    /// Per export request so far: how many certificates the client presented (0: none).
    pub(crate) fn peer_certs(&self) -> Vec<usize> {
        self.peer_certs.lock().expect("lock").clone()
    }
}

/// The collector's trace and metrics services, keeping what they receive.
#[derive(Clone)]
struct Sink(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.note_peer(&request);
        self.0
            .traces
            .lock()
            .expect("lock")
            .push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.note_peer(&request);
        self.0
            .metrics
            .lock()
            .expect("lock")
            .push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// An OTLP/gRPC collector on 127.0.0.1 over mutual TLS 1.3, keeping every request.
pub(crate) struct Collector {
    /// The port it listens on.
    pub(crate) port: u16,
    /// What it received.
    pub(crate) received: Arc<Received>,
}

impl Collector {
    /// Makes the collector's PKI (see [`CollectorPki::new`]), writing the exchange's side into
    /// `dir`, and starts the collector on a free port.
    pub(crate) async fn start(dir: &Path) -> Self {
        let pki = CollectorPki::new(dir);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config()));
        let (connections, incoming) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, connections) = (acceptor.clone(), connections.clone());
                // A handshake of its own per connection: one stalled client stalls no other.
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = connections.send(Ok::<_, std::io::Error>(tls)).await;
                    }
                });
            }
        });
        let received = Arc::new(Received::default());
        let sink = Sink(Arc::clone(&received));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(sink.clone()))
                .add_service(MetricsServiceServer::new(sink))
                .serve_with_incoming(ReceiverStream::new(incoming)),
        );
        Self { port, received }
    }
}

/// Retries `check` on what the collector has until it passes; panics with its last complaint.
pub(crate) async fn eventually<T>(
    received: &Received,
    mut check: impl FnMut(
        &[ExportTraceServiceRequest],
        &[ExportMetricsServiceRequest],
    ) -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let outcome = check(&received.traces(), &received.metrics());
        match outcome {
            Ok(value) => return value,
            Err(complaint) if Instant::now() >= deadline => {
                panic!("after {PATIENCE:?}: {complaint}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading what was exported.

/// An attribute's value (`None` when absent).
pub(crate) fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// A value as text.
fn text(value: &any_value::Value) -> String {
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// An attribute's value as text (`None` when absent).
pub(crate) fn str_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attr(attributes, key).map(text)
}

/// Every attribute, key to value as text.
pub(crate) fn attribute_map(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
            (kv.key.clone(), value.map(text).unwrap_or_default())
        })
        .collect()
}

/// Every span exported.
pub(crate) fn spans(traces: &[ExportTraceServiceRequest]) -> Vec<Span> {
    traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.iter().cloned())
        .collect()
}

/// The spans named `name` in trace `trace` (hex).
pub(crate) fn in_trace<'a>(spans: &'a [Span], trace: &str, name: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| hex::encode(&s.trace_id) == trace && s.name == name)
        .collect()
}

/// The spans of `trace` as (name, span id, parent id), for messages.
pub(crate) fn summary(spans: &[Span], trace: &str) -> Vec<(String, String, String)> {
    spans
        .iter()
        .filter(|s| hex::encode(&s.trace_id) == trace)
        .map(|s| {
            (
                s.name.clone(),
                hex::encode(&s.span_id),
                hex::encode(&s.parent_span_id),
            )
        })
        .collect()
}

/// Whether `span`'s status is ERROR.
pub(crate) fn status_is_error(span: &Span) -> bool {
    span.status
        .as_ref()
        .is_some_and(|s| s.code == status::StatusCode::Error as i32)
}

/// The resource of every trace and metric export, in order.
pub(crate) fn resources(
    traces: &[ExportTraceServiceRequest],
    metrics: &[ExportMetricsServiceRequest],
) -> Vec<Resource> {
    let of_traces = traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .map(|r| r.resource.clone());
    let of_metrics = metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .map(|r| r.resource.clone());
    of_traces
        .chain(of_metrics)
        .map(Option::unwrap_or_default)
        .collect()
}

/// Every metric exported, in order of export.
pub(crate) fn metrics(exports: &[ExportMetricsServiceRequest]) -> Vec<Metric> {
    exports
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| s.metrics.iter().cloned())
        .collect()
}

/// The kind of a metric's data, for messages.
pub(crate) fn kind(metric: &Metric) -> &'static str {
    match &metric.data {
        Some(metric::Data::Gauge(_)) => "gauge",
        Some(metric::Data::Sum(_)) => "sum",
        Some(metric::Data::Histogram(_)) => "histogram",
        Some(metric::Data::ExponentialHistogram(_)) => "exponential histogram",
        Some(metric::Data::Summary(_)) => "summary",
        None => "none",
    }
}

/// One data point: its attributes as text, its value (a histogram's count), and whether its
/// values are deltas.
pub(crate) struct Point {
    /// Its attributes, key to value as text.
    pub(crate) attributes: BTreeMap<String, String>,
    /// Its value; a histogram's count.
    pub(crate) value: f64,
    /// Whether its series' values are deltas rather than cumulative.
    delta: bool,
}

fn number(value: Option<&number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        #[allow(clippy::cast_precision_loss)]
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => f64::NAN,
    }
}

/// The data points of `metric` (a gauge, sum or histogram).
pub(crate) fn points(metric: &Metric) -> Vec<Point> {
    const DELTA: i32 = 1;
    match &metric.data {
        Some(metric::Data::Gauge(gauge)) => gauge
            .data_points
            .iter()
            .map(|p| Point {
                attributes: attribute_map(&p.attributes),
                value: number(p.value.as_ref()),
                delta: false,
            })
            .collect(),
        Some(metric::Data::Sum(sum)) => sum
            .data_points
            .iter()
            .map(|p| Point {
                attributes: attribute_map(&p.attributes),
                value: number(p.value.as_ref()),
                delta: sum.aggregation_temporality == DELTA,
            })
            .collect(),
        #[allow(clippy::cast_precision_loss)]
        Some(metric::Data::Histogram(histogram)) => histogram
            .data_points
            .iter()
            .map(|p| Point {
                attributes: attribute_map(&p.attributes),
                value: p.count as f64,
                delta: histogram.aggregation_temporality == DELTA,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The total of metric `name` over its series whose attributes include `filter`: the latest
/// value of each cumulative series (or gauge), the sum of each delta series; `None` if no
/// such series was exported.
pub(crate) fn total(metrics: &[Metric], name: &str, filter: &[(&str, &str)]) -> Option<f64> {
    let mut series: BTreeMap<BTreeMap<String, String>, f64> = BTreeMap::new();
    for metric in metrics.iter().filter(|m| m.name == name) {
        for point in points(metric) {
            let matches = filter
                .iter()
                .all(|(k, v)| point.attributes.get(*k).map(String::as_str) == Some(*v));
            if !matches {
                continue;
            }
            let entry = series.entry(point.attributes).or_insert(0.0);
            *entry = if point.delta {
                *entry + point.value
            } else {
                point.value
            };
        }
    }
    (!series.is_empty()).then(|| series.values().sum())
}

/// Every attribute of every span, span event, link, resource and metric data point, as
/// `key=value`.
pub(crate) fn every_attribute(
    traces: &[ExportTraceServiceRequest],
    exported: &[ExportMetricsServiceRequest],
) -> Vec<String> {
    let mut texts = Vec::new();
    let mut push = |attributes: &[KeyValue]| {
        texts.extend(
            attribute_map(attributes)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}")),
        );
    };
    for resource in resources(traces, exported) {
        push(&resource.attributes);
    }
    for span in spans(traces) {
        push(&span.attributes);
        for event in &span.events {
            push(&event.attributes);
        }
        for link in &span.links {
            push(&link.attributes);
        }
    }
    for metric in metrics(exported) {
        match &metric.data {
            Some(metric::Data::Gauge(g)) => g.data_points.iter().for_each(|p| push(&p.attributes)),
            Some(metric::Data::Sum(s)) => s.data_points.iter().for_each(|p| push(&p.attributes)),
            Some(metric::Data::Histogram(h)) => {
                h.data_points.iter().for_each(|p| push(&p.attributes))
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                h.data_points.iter().for_each(|p| push(&p.attributes))
            }
            Some(metric::Data::Summary(s)) => {
                s.data_points.iter().for_each(|p| push(&p.attributes))
            }
            None => {}
        }
    }
    texts
}
