//! The OTLP/gRPC exporters and the SDK's providers: what [`Telemetry::start`] sets up.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tokio::runtime::Handle;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::ServerError;
use crate::config::TelemetrySection;

/// How long shutting down waits for the last exports.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The running exporters; [`Telemetry::shutdown`] sends what is pending.
#[derive(Debug)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
}

/// One signal of the two.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    /// `OTEL_<NAME>_EXPORTER`.
    fn exporter_variable(self) -> &'static str {
        match self {
            Self::Traces => "OTEL_TRACES_EXPORTER",
            Self::Metrics => "OTEL_METRICS_EXPORTER",
        }
    }

    /// `OTEL_EXPORTER_OTLP_<NAME>_ENDPOINT`.
    fn endpoint_variable(self) -> &'static str {
        match self {
            Self::Traces => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            Self::Metrics => "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        }
    }

    /// `OTEL_EXPORTER_OTLP_<NAME>_PROTOCOL`.
    fn protocol_variable(self) -> &'static str {
        match self {
            Self::Traces => "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            Self::Metrics => "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        }
    }
}

impl Telemetry {
    /// Starts the exporters that `section` and the `OTEL_*` environment ask for, and makes the
    /// exchange's instruments report to them; `None` when no collector is named. Call it
    /// inside the Tokio runtime that is to carry the exports, before the exchange starts.
    pub fn start(section: &TelemetrySection) -> Result<Option<Self>, ServerError> {
        if variable("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let traces = Destination::of(section, Signal::Traces)?;
        let metrics = Destination::of(section, Signal::Metrics)?;
        if traces.is_none() && metrics.is_none() {
            return Ok(None);
        }
        let timeout = export_timeout();
        let runtime = Handle::try_current().map_err(|_| {
            ServerError::Telemetry("must be started inside the Tokio runtime".into())
        })?;
        let tls = ExporterTls::of(section)?;
        let resource = resource();
        let traces = match traces {
            Some(destination) => {
                let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
                if let Some(endpoint) = &destination.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(config) = tls.config_for(&destination)? {
                    builder = builder.with_tls_config(config);
                }
                let exporter = builder.build().map_err(|e| exporter_error("traces", &e))?;
                Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(OnRuntime::new(exporter, runtime.clone(), timeout))
                        .with_resource(resource.clone())
                        .build(),
                )
            }
            None => None,
        };
        let metrics = match metrics {
            Some(destination) => {
                let mut builder = opentelemetry_otlp::MetricExporter::builder().with_tonic();
                if let Some(endpoint) = &destination.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(config) = tls.config_for(&destination)? {
                    builder = builder.with_tls_config(config);
                }
                let exporter = builder.build().map_err(|e| exporter_error("metrics", &e))?;
                let reader =
                    PeriodicReader::builder(OnRuntime::new(exporter, runtime, timeout)).build();
                let provider = SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource)
                    .build();
                opentelemetry::global::set_meter_provider(provider.clone());
                super::metrics::mark_exported();
                Some(provider)
            }
            None => None,
        };
        Ok(Some(Self { traces, metrics }))
    }

    /// The layer of a `tracing` subscriber that exports the exchange's spans (those of its own
    /// crates, never their events); `None` when traces are off.
    pub fn layer<S>(&self) -> Option<Box<dyn Layer<S> + Send + Sync + 'static>>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let provider = self.traces.as_ref()?;
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("jembatan"))
            // What is exported is what the exchange records; not where in the code, nor
            // which thread, nor how long a span sat idle.
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span() && meta.target().starts_with("jembatan")
            }));
        Some(Box::new(layer))
    }

    /// Exports what is pending (waiting a few seconds at most, both signals at once) and
    /// stops.
    pub async fn shutdown(self) {
        let traces = self.traces.map(|traces| {
            tokio::task::spawn_blocking(move || traces.shutdown_with_timeout(SHUTDOWN_WAIT))
        });
        let metrics = self.metrics.map(|metrics| {
            tokio::task::spawn_blocking(move || metrics.shutdown_with_timeout(SHUTDOWN_WAIT))
        });
        for (what, stopping) in [("spans", traces), ("metrics", metrics)] {
            let Some(stopping) = stopping else { continue };
            match stopping.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "the last {what} were not exported"),
                Err(_) => tracing::warn!("the {what} exporter did not stop cleanly"),
            }
        }
    }
}

/// Where one signal goes: the configured endpoint (else the SDK reads the environment).
#[derive(Debug)]
struct Destination {
    /// `[telemetry] endpoint`, when set; it takes precedence over the environment.
    endpoint: Option<String>,
    /// Whether the endpoint that will be used is `https`.
    https: bool,
}

impl Destination {
    /// The destination of `signal`, or `None` when no collector is named for it or its
    /// exporter is `none`.
    fn of(section: &TelemetrySection, signal: Signal) -> Result<Option<Self>, ServerError> {
        match variable(signal.exporter_variable()).as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(other) => {
                return Err(ServerError::Telemetry(format!(
                    "{}={other}: only otlp and none are supported",
                    signal.exporter_variable()
                )));
            }
        }
        let configured = (!section.endpoint.is_empty()).then(|| section.endpoint.clone());
        let used = configured.clone().or_else(|| {
            variable(signal.endpoint_variable()).or_else(|| variable("OTEL_EXPORTER_OTLP_ENDPOINT"))
        });
        let Some(used) = used else {
            return Ok(None);
        };
        // The signal's own variable, else the general one, as the specification reads them.
        let protocol = [signal.protocol_variable(), "OTEL_EXPORTER_OTLP_PROTOCOL"]
            .into_iter()
            .find_map(|name| variable(name).map(|value| (name, value)));
        if let Some((name, protocol)) = protocol.filter(|(_, p)| p != "grpc") {
            return Err(ServerError::Telemetry(format!(
                "{name}={protocol}: the exchange exports OTLP over gRPC only (grpc)"
            )));
        }
        let https = if used.starts_with("https://") {
            true
        } else if used.starts_with("http://") {
            false
        } else {
            return Err(ServerError::Telemetry(format!(
                "endpoint {used:?} must start with https:// (or http:// for a collector on the \
                 same host)"
            )));
        };
        Ok(Some(Self {
            endpoint: configured,
            https,
        }))
    }
}

/// The exporters' TLS material: the collector's CA, and the exchange's client identity.
#[derive(Debug, Default)]
struct ExporterTls {
    ca: Option<(String, PathBuf)>,
    identity: Option<(PathBuf, PathBuf)>,
}

impl ExporterTls {
    fn of(section: &TelemetrySection) -> Result<Self, ServerError> {
        let path = |configured: &Option<PathBuf>, key: &str, env: &str| {
            configured
                .clone()
                .map(|path| (format!("telemetry.{key}"), path))
                .or_else(|| variable(env).map(|path| (env.to_owned(), PathBuf::from(path))))
        };
        let ca = path(&section.ca, "ca", "OTEL_EXPORTER_OTLP_CERTIFICATE");
        let cert = path(
            &section.cert,
            "cert",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        );
        let key = path(&section.key, "key", "OTEL_EXPORTER_OTLP_CLIENT_KEY");
        let identity = match (cert, key) {
            (Some((_, cert)), Some((_, key))) => Some((cert, key)),
            (None, None) => None,
            (Some((named, _)), None) | (None, Some((named, _))) => {
                return Err(ServerError::Telemetry(format!(
                    "{named} needs its pair: a client certificate and its key \
                     (telemetry.cert and telemetry.key, or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE \
                     and OTEL_EXPORTER_OTLP_CLIENT_KEY)"
                )));
            }
        };
        Ok(Self { ca, identity })
    }

    /// The TLS config for `destination`: `None` for plain `http`.
    fn config_for(
        &self,
        destination: &Destination,
    ) -> Result<Option<ClientTlsConfig>, ServerError> {
        if !destination.https {
            return Ok(None);
        }
        let Some((_, ca)) = &self.ca else {
            return Err(ServerError::Telemetry(
                "an https collector needs the CA its certificate chains to: telemetry.ca or \
                 OTEL_EXPORTER_OTLP_CERTIFICATE"
                    .into(),
            ));
        };
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        Ok(Some(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path)
        .map_err(|e| ServerError::Telemetry(format!("cannot read {}: {e}", path.display())))
}

/// A variable of the environment, when set and not empty.
fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn exporter_error(signal: &str, error: &dyn std::error::Error) -> ServerError {
    ServerError::Telemetry(format!("the {signal} exporter: {error}"))
}

/// The resource the SDK reads from the environment, named `jembatan` unless the environment
/// names it, with the exchange's version.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&"service.name".into())
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    let mut builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if !named {
        builder = builder.with_service_name("jembatan");
    }
    builder.build()
}

/// How long one export may take in all, connecting included: `OTEL_EXPORTER_OTLP_TIMEOUT`
/// (milliseconds) or 10 s. The exporter bounds each request by it, but not the connection to
/// a collector that drops packets.
fn export_timeout() -> Duration {
    variable("OTEL_EXPORTER_OTLP_TIMEOUT")
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// An exporter whose exports run with the Tokio runtime entered (the SDK exports from threads
/// of its own, and the gRPC channel needs the runtime's reactor and timers), each given up
/// after `timeout`.
#[derive(Debug)]
struct OnRuntime<E> {
    inner: E,
    runtime: Handle,
    timeout: Duration,
}

impl<E> OnRuntime<E> {
    fn new(inner: E, runtime: Handle, timeout: Duration) -> Self {
        Self {
            inner,
            runtime,
            timeout,
        }
    }

    /// `export`, polled with the runtime entered, or a timeout error after `timeout`.
    fn run<F>(&self, export: F) -> impl Future<Output = OTelSdkResult> + Send
    where
        F: Future<Output = OTelSdkResult> + Send,
    {
        let timeout = self.timeout;
        let runtime = self.runtime.clone();
        let mut export = Box::pin(async move {
            tokio::time::timeout(timeout, export)
                .await
                .unwrap_or(Err(OTelSdkError::Timeout(timeout)))
        });
        std::future::poll_fn(move |cx| {
            let _entered = runtime.enter();
            export.as_mut().poll(cx)
        })
    }
}

impl<E: SpanExporter> SpanExporter for OnRuntime<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.run(self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for OnRuntime<E> {
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        self.run(self.inner.export(metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
