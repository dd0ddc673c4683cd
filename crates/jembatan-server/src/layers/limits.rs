//! The limits layer: what one caller may ask of the exchange, so that no caller starves
//! another. It runs first, before identity, so that a certificate refused for its identity is
//! held to limits too (keyed by its fingerprint), and before anything is logged.
//!
//! - A rate and burst per principal and class of method (writes, reads, audit, health and
//!   reflection): a token bucket each.
//! - Calls in progress at once per principal, and WatchAvailability streams per principal; a
//!   call holds its place until its response body ends.
//! - Calls in progress at once in the whole exchange: beyond, calls are shed at once.
//! - A deadline on every call (the client's `grpc-timeout`, which tonic honours, may be
//!   shorter): `call_deadline_secs`, or `stream_max_secs` for StreamPlacements, until its
//!   answer starts; and `stream_max_secs` for a streamed answer (a health watch, reflection).
//!
//! A refused call is RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` saying when to try again,
//! and is counted in [`RefusalTally`]; `background::refusal_log` writes one audit leaf per
//! principal, class of method and window with the number refused (its `method` is
//! `limits/<class>`), so a flood cannot flood the log: at most four leaves per caller and
//! window.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use jembatan_policy::method_action;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::body::Body;
use tonic::codegen::http;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::config::LimitsSection;
use crate::transport::PeerInfo;

/// The method whose calls are bounded by `stream_max_secs` instead of `call_deadline_secs`.
const STREAM_PLACEMENTS: &str = "/jembatan.v1.PlacementService/StreamPlacements";

/// Classes of methods, each with its own rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Methods that write: pushes, streams, erasures, consent, reports, programs.
    Write,
    /// Methods that read workers' data or counts.
    Read,
    /// The audit service.
    Audit,
    /// Everything outside the contract: health and reflection.
    Other,
}

impl Class {
    const ALL: [Class; 4] = [Class::Write, Class::Read, Class::Audit, Class::Other];

    fn of(path: &str) -> Self {
        let Some(action) = method_action(path) else {
            return Class::Other;
        };
        let (service, method) = action.split_once('/').unwrap_or((action, ""));
        match service {
            "PlacementService" => Class::Write,
            "AuditService" => Class::Audit,
            "MarketIntelService" if method.starts_with("Submit") => Class::Write,
            "ProgramService" if method.starts_with("Publish") || method.starts_with("Record") => {
                Class::Write
            }
            _ => Class::Read,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The `method` of the leaf of a window's refusals of this class. The class, not the
    /// method: a caller naming a new path on every call would otherwise get a leaf for each.
    fn logged_as(self) -> &'static str {
        match self {
            Class::Write => "limits/write",
            Class::Read => "limits/read",
            Class::Audit => "limits/audit",
            Class::Other => "limits/other",
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `rate` a second.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until one is there.
    fn take(&mut self, (rate, burst): (f64, f64), now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::try_from_secs_f64((1.0 - self.tokens) / rate).unwrap_or(Duration::MAX))
        }
    }
}

/// One principal's buckets and places.
#[derive(Debug)]
struct Caller {
    buckets: [Bucket; 4],
    calls: Arc<Semaphore>,
    watches: Arc<Semaphore>,
}

/// The limits in force and every caller's state.
#[derive(Debug)]
struct Limits {
    /// (rate, burst) per class.
    rates: [(f64, f64); 4],
    calls_per_principal: usize,
    watches_per_principal: usize,
    call_deadline: Duration,
    stream_deadline: Duration,
    in_flight: Arc<Semaphore>,
    callers: Mutex<HashMap<String, Caller>>,
    tally: RefusalTally,
}

/// Calls refused for a limit since the last window, per (principal, class of method, as
/// `limits/write`, `limits/read`, `limits/audit` or `limits/other`): what
/// `background::refusal_log` writes, one leaf each.
#[derive(Debug, Clone, Default)]
pub struct RefusalTally {
    counts: Arc<Mutex<HashMap<(String, String), Refused>>>,
}

/// The calls of one principal and class refused in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The certificate's fingerprint (of the last refused call).
    pub cert_fingerprint: String,
    /// Calls refused.
    pub calls: u64,
    /// Whether the certificate named a principal; `false` when it was refused for its
    /// identity as well, and the principal is its fingerprint.
    pub identified: bool,
}

impl RefusalTally {
    fn count(&self, principal: &str, method: &str, peer: &PeerInfo) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = counts
            .entry((principal.to_owned(), method.to_owned()))
            .or_insert_with(|| Refused {
                cert_fingerprint: String::new(),
                calls: 0,
                identified: peer.identity.is_ok(),
            });
        entry.calls += 1;
        entry
            .cert_fingerprint
            .clone_from(peer.cert_fingerprint.as_ref().unwrap_or(&String::new()));
    }

    /// Adds `taken` back, when its leaves could not be written.
    pub(crate) fn restore(&self, taken: HashMap<(String, String), Refused>) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, refused) in taken {
            counts
                .entry(key)
                .and_modify(|now| now.calls += refused.calls)
                .or_insert(refused);
        }
    }

    /// The refusals counted since the last call, keyed by (principal, class); the tally
    /// starts again empty.
    pub fn take(&self) -> HashMap<(String, String), Refused> {
        std::mem::take(
            &mut *self
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Adds [`Limited`] around a service.
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    limits: Arc<Limits>,
}

impl LimitsLayer {
    /// The limits of `section`; refused calls are counted in `tally`.
    pub fn new(section: &LimitsSection, tally: RefusalTally) -> Self {
        let rate =
            |per_sec: f64, burst: u32| (per_sec.max(f64::MIN_POSITIVE), f64::from(burst.max(1)));
        Self {
            limits: Arc::new(Limits {
                rates: [
                    rate(section.write_per_sec, section.write_burst),
                    rate(section.read_per_sec, section.read_burst),
                    rate(section.audit_per_sec, section.audit_burst),
                    rate(section.other_per_sec, section.other_burst),
                ],
                calls_per_principal: section.max_calls_per_principal.max(1) as usize,
                watches_per_principal: section.max_watches_per_principal.max(1) as usize,
                call_deadline: Duration::from_secs(section.call_deadline_secs.max(1)),
                stream_deadline: Duration::from_secs(section.stream_max_secs.max(1)),
                in_flight: Arc::new(Semaphore::new(section.max_calls_in_flight.max(1) as usize)),
                callers: Mutex::default(),
                tally,
            }),
        }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited {
            inner,
            limits: Arc::clone(&self.limits),
        }
    }
}

/// Holds every call to the limits; see the module documentation.
#[derive(Debug, Clone)]
pub struct Limited<S> {
    inner: S,
    limits: Arc<Limits>,
}

/// The places a call holds until its response body ends.
#[derive(Debug)]
struct Places {
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Limits {
    /// The places of a call of `path` by `peer`, or the status refusing it.
    fn admit(&self, path: &str, peer: &PeerInfo) -> Result<Places, tonic::Status> {
        let principal = match &peer.identity {
            Ok(principal) => principal.to_string(),
            Err(_) => format!(
                "unidentified:{}",
                peer.cert_fingerprint.as_deref().unwrap_or("none")
            ),
        };
        let class = Class::of(path);
        let now = Instant::now();
        let admitted = self.take(&principal, class, path, now);
        if admitted.is_err() {
            self.tally.count(&principal, class.logged_as(), peer);
            crate::telemetry::metrics::metrics().limits_refusals.add(
                1,
                &[opentelemetry::KeyValue::new(
                    "jembatan.limit",
                    class.logged_as(),
                )],
            );
        }
        admitted
    }

    fn take(
        &self,
        principal: &str,
        class: Class,
        path: &str,
        now: Instant,
    ) -> Result<Places, tonic::Status> {
        let (calls, watches) = {
            let mut callers = self
                .callers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let caller = callers
                .entry(principal.to_owned())
                .or_insert_with(|| Caller {
                    buckets: Class::ALL.map(|class| Bucket {
                        tokens: self.rates[class.index()].1,
                        at: now,
                    }),
                    calls: Arc::new(Semaphore::new(self.calls_per_principal)),
                    watches: Arc::new(Semaphore::new(self.watches_per_principal)),
                });
            caller.buckets[class.index()]
                .take(self.rates[class.index()], now)
                .map_err(|wait| {
                    exhausted(
                        &format!("{} calls over the rate of {principal}", class_name(class)),
                        wait,
                    )
                })?;
            (Arc::clone(&caller.calls), Arc::clone(&caller.watches))
        };
        let retry = Duration::from_secs(1);
        let mut places = Vec::with_capacity(3);
        places.push(
            Arc::clone(&self.in_flight)
                .try_acquire_owned()
                .map_err(|_| {
                    exhausted("the exchange is at its limit of calls in progress", retry)
                })?,
        );
        places.push(calls.try_acquire_owned().map_err(|_| {
            exhausted(
                &format!(
                    "{principal} has {} calls in progress, its limit",
                    self.calls_per_principal
                ),
                retry,
            )
        })?);
        if path == "/jembatan.v1.WorkforceService/WatchAvailability" {
            places.push(watches.try_acquire_owned().map_err(|_| {
                exhausted(
                    &format!(
                        "{principal} has {} watches open, its limit",
                        self.watches_per_principal
                    ),
                    retry,
                )
            })?);
        }
        Ok(Places { _permits: places })
    }
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Write => "writing",
        Class::Read => "reading",
        Class::Audit => "audit",
        Class::Other => "health and reflection",
    }
}

/// RESOURCE_EXHAUSTED saying what limit and, in `google.rpc.RetryInfo`, when to retry.
fn exhausted(what: &str, retry: Duration) -> tonic::Status {
    let retry = retry.max(Duration::from_millis(1));
    tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!("{what}; retry in {} ms", retry.as_millis()),
        ErrorDetails::with_retry_info(Some(retry)),
    )
}

impl<S, B> Service<http::Request<B>> for Limited<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let admitted = match request.extensions().get::<PeerInfo>() {
            Some(peer) => self.limits.admit(path, peer).map(Some),
            // No connection info: the identity layer refuses it.
            None => Ok(None),
        };
        let places = match admitted {
            Ok(places) => places,
            Err(status) => return Box::pin(std::future::ready(Ok(status.into_http()))),
        };
        let deadline = if path == STREAM_PLACEMENTS {
            self.limits.stream_deadline
        } else {
            self.limits.call_deadline
        };
        let stream_deadline = self.limits.stream_deadline;
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let call = inner.call(request);
        Box::pin(async move {
            let response = match tokio::time::timeout(deadline, call).await {
                Ok(response) => response?,
                Err(_) => {
                    return Ok(tonic::Status::deadline_exceeded(format!(
                        "the call took longer than the exchange allows ({} s)",
                        deadline.as_secs()
                    ))
                    .into_http());
                }
            };
            Ok(match places {
                Some(places) => response.map(|body| {
                    Body::new(HoldingBody {
                        body,
                        until: Box::pin(tokio::time::sleep(stream_deadline)),
                        ended: false,
                        _places: places,
                    })
                }),
                None => response,
            })
        })
    }
}

/// A response body that holds its call's places until it ends, and ends, with
/// DEADLINE_EXCEEDED in its trailers, once it has streamed for `stream_max_secs`: no stream
/// (a health watch, reflection) holds its places for ever.
struct HoldingBody {
    body: Body,
    until: Pin<Box<tokio::time::Sleep>>,
    ended: bool,
    _places: Places,
}

impl tonic::codegen::Body for HoldingBody {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.until.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.ended = true;
        let mut trailers = http::HeaderMap::new();
        trailers.insert(
            "grpc-status",
            http::HeaderValue::from(tonic::Code::DeadlineExceeded as i32),
        );
        trailers.insert(
            "grpc-message",
            http::HeaderValue::from_static("the stream lasted longer than the exchange allows"),
        );
        Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_fall_in_their_classes() {
        assert_eq!(
            Class::of("/jembatan.v1.PlacementService/PushPlacements"),
            Class::Write
        );
        assert_eq!(Class::of(STREAM_PLACEMENTS), Class::Write);
        assert_eq!(
            Class::of("/jembatan.v1.WorkforceService/QueryAvailability"),
            Class::Read
        );
        assert_eq!(
            Class::of("/jembatan.v1.AuditService/ListEntries"),
            Class::Audit
        );
        assert_eq!(
            Class::of("/jembatan.v1.ProgramService/RecordEnrollments"),
            Class::Write
        );
        assert_eq!(
            Class::of("/jembatan.v1.ProgramService/ListPrograms"),
            Class::Read
        );
        assert_eq!(Class::of("/grpc.health.v1.Health/Check"), Class::Other);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: 3.0,
            at: start,
        };
        let limits = (10.0, 3.0);
        for _ in 0..3 {
            assert!(bucket.take(limits, start).is_ok());
        }
        let wait = bucket.take(limits, start).expect_err("burst spent");
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(
            bucket
                .take(limits, start + Duration::from_millis(100))
                .is_ok()
        );
        assert!(
            bucket
                .take(limits, start + Duration::from_millis(100))
                .is_err()
        );
        // Idle time refills only up to the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.take(limits, later).is_ok());
        }
        assert!(bucket.take(limits, later).is_err());
    }
}
