//! The telemetry layer: one span per call, named and attributed by the OpenTelemetry RPC
//! semantic conventions, in the caller's trace when its `traceparent` may be followed (see
//! [`crate::trace`]); the call's duration by method and status code; and the call's trace id
//! as a request extension ([`CallTrace`]) for its audit leaves. With telemetry exported, that
//! id is the exported span's: an auditor goes from a leaf to its trace.
//!
//! The span lasts until the call's status is sent (for a stream, its end). Its attributes are
//! the method (`_OTHER` for a path outside what is served: a path is the caller's free text,
//! and is never recorded), the status code, and once the policy layer has them, the caller's
//! agency and system, the purpose, the legal basis and the decision.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::future::BoxFuture;
use http_body::{Frame, SizeHint};
use jembatan_proto::trace_context::TraceParent;
use opentelemetry::KeyValue;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use prost::Message as _;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderMap};
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::telemetry::metrics::metrics;
use crate::trace::CallTrace;

/// What `rpc.method` says of a path outside what the exchange serves.
const OTHER: &str = "_OTHER";

/// `package.Service/Method` of every method the exchange serves: the contract's (from its
/// descriptors), health checks and reflection.
static SERVED: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut served: HashSet<String> = [
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    if let Ok(files) = prost_types::FileDescriptorSet::decode(jembatan_proto::FILE_DESCRIPTOR_SET) {
        for file in files.file {
            for service in &file.service {
                for method in &service.method {
                    served.insert(format!(
                        "{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    served
});

/// Adds [`CallSpan`] around a service.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TelemetryLayer;

impl<S> Layer<S> for TelemetryLayer {
    type Service = CallSpan<S>;

    fn layer(&self, inner: S) -> CallSpan<S> {
        CallSpan { inner }
    }
}

/// Gives every call its span, duration and trace id; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct CallSpan<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for CallSpan<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = method_name(request.uri().path());
        let service = method.split_once('/').map_or(OTHER, |(service, _)| service);
        let span = tracing::info_span!(
            target: "jembatan_server::call",
            "call",
            otel.name = method,
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.system.name = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            rpc.response.status_code = Empty,
            error.type = Empty,
            jembatan.agency = Empty,
            jembatan.system = Empty,
            jembatan.purpose = Empty,
            jembatan.legal_basis = Empty,
            jembatan.decision = Empty,
        );
        let given = crate::trace::given(request.headers());
        if let Some(parent) = &given {
            // Fails only when spans are not exported; the id below is then the caller's.
            let _ = span.set_parent(remote_parent(parent));
        }
        let exported = span.context().span().span_context().clone();
        let trace_id = if exported.is_valid() {
            exported.trace_id().to_string()
        } else {
            given.map_or_else(crate::trace::new_trace_id, |p| p.trace_id_hex())
        };
        request.extensions_mut().insert(CallTrace(trace_id));
        let call = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let mut end = CallEnd {
            span: span.clone(),
            method,
            started,
            done: false,
        };
        Box::pin(async move {
            let response = call.instrument(span).await?;
            // A status in the headers is a trailers-only answer: the call ends here.
            Ok(match grpc_status(response.headers()) {
                Some(code) => {
                    end.finish(code);
                    response
                }
                None => response.map(|body| Body::new(Observed { inner: body, end })),
            })
        })
    }
}

/// `rpc.method` of a request path: `package.Service/Method` when served, else `_OTHER`.
fn method_name(path: &str) -> &'static str {
    let name = path.strip_prefix('/').unwrap_or(path);
    match SERVED.get(name) {
        Some(served) => served.as_str(),
        None => OTHER,
    }
}

/// The context of the caller's span, as its `traceparent` gives it.
fn remote_parent(parent: &TraceParent) -> opentelemetry::Context {
    let span = SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.parent_id),
        TraceFlags::new(parent.flags & 1),
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(span)
}

/// The `grpc-status` in `headers`, when there is one.
fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

/// The end of a call: records its status and duration once, when the status is known or the
/// answer is dropped unfinished (the caller went away: CANCELLED).
struct CallEnd {
    span: tracing::Span,
    method: &'static str,
    started: Instant,
    done: bool,
}

impl CallEnd {
    fn finish(&mut self, code: i32) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let code = tonic::Code::from_i32(code);
        let name = jembatan_proto::convert::status_name(code);
        let server_error = matches!(
            code,
            tonic::Code::Unknown
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Unimplemented
                | tonic::Code::Internal
                | tonic::Code::Unavailable
                | tonic::Code::DataLoss
        );
        self.span.record("rpc.grpc.status_code", code as i32);
        self.span.record("rpc.response.status_code", name);
        let mut attributes = vec![
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", self.method),
            KeyValue::new("rpc.response.status_code", name),
        ];
        if server_error {
            self.span.record("otel.status_code", "error");
            self.span.record("error.type", name);
            attributes.push(KeyValue::new("error.type", name));
        }
        metrics()
            .call_duration
            .record(self.started.elapsed().as_secs_f64(), &attributes);
    }
}

impl Drop for CallEnd {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled as i32);
    }
}

/// A response body that ends its call's span when its trailers pass.
struct Observed {
    inner: Body,
    end: CallEnd,
}

impl http_body::Body for Observed {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        // Entered while the answer streams: the span ends when the call does.
        let polled = {
            let _entered = this.end.span.enter();
            Pin::new(&mut this.inner).poll_frame(cx)
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.end.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => this.end.finish(status.code() as i32),
            Poll::Ready(None) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_are_named_and_other_paths_are_not_recorded() {
        assert_eq!(
            method_name("/jembatan.v1.PlacementService/PushPlacements"),
            "jembatan.v1.PlacementService/PushPlacements"
        );
        assert_eq!(
            method_name("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check"
        );
        assert_eq!(
            method_name("/jembatan.v1.PlacementService/3171234567890123"),
            OTHER
        );
        assert_eq!(method_name("/"), OTHER);
    }
}
