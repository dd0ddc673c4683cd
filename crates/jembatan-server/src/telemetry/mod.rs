//! Traces and metrics over OTLP/gRPC, for the collector a ministry already runs.
//!
//! Off unless a collector is named: `[telemetry] endpoint`, or `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or its `_TRACES_` and `_METRICS_` forms, which turn on one signal each). The other standard
//! variables are read as the OpenTelemetry SDK reads them: `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `_ARG`, `OTEL_BSP_*`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `_HEADERS`, `_COMPRESSION`;
//! `OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none` and `OTEL_METRICS_EXPORTER=none` turn
//! them off.
//!
//! Exports run in the background, from bounded queues: a collector that is down or slow loses
//! telemetry, never a call (spans beyond the queue are dropped, and each export gives up after
//! its timeout).
//!
//! What is exported names callers, methods, purposes, codes and counts; never a NIK, name,
//! contact, subject key, pseudonym or free text (the case reference and operator stay in the
//! audit log). See `crate::layers::telemetry` for the span of a call and [`metrics`] for the
//! instruments.

mod export;
pub(crate) mod metrics;

pub use export::Telemetry;
