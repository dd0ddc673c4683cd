//! The policy layer: decides each call of the contract from the caller, the method and the
//! stated purpose and legal basis, before the request body is read.
//!
//! - A call outside `jembatan.v1` (health, reflection) carries no data and passes.
//! - A method the policy schema does not declare is UNIMPLEMENTED, and never reaches a handler.
//! - A missing, repeated or unknown `jembatan-purpose` or `jembatan-legal-basis`, or an overlong
//!   `jembatan-case-ref` or `jembatan-operator`, is INVALID_ARGUMENT naming the key.
//! - A denial is PERMISSION_DENIED naming the caller, method, purpose and basis refused, after
//!   its audit leaf is committed; if the leaf cannot be written, UNAVAILABLE.
//! - An allowed call reaches its handler with a [`Caller`] in its extensions.
//!
//! Every response carries `jembatan-policy-set: sha256:<hex>`, the policy set that decided it,
//! and `jembatan-policy-refused: sha256:<hex>` while a newer folder has been refused.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use jembatan_audit::leaf::LeafEntry;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::Principal;
use jembatan_policy::{Engine, Policies, method_action};
use jembatan_store::Store;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderMap, HeaderValue};
use tower::{Layer, Service};

use jembatan_proto::metadata::{
    CASE_REF as CASE_REF_KEY, LEGAL_BASIS as LEGAL_BASIS_KEY, OPERATOR as OPERATOR_KEY,
    POLICY_REFUSED as POLICY_REFUSED_HEADER, POLICY_SET as POLICY_SET_HEADER,
    PURPOSE as PURPOSE_KEY,
};

use crate::call::{Caller, Stated};

/// Longest `jembatan-case-ref` or `jembatan-operator`, in characters.
const MAX_FREE_TEXT: usize = 128;

/// Adds [`PolicyCheck`] around a service.
#[derive(Debug, Clone)]
pub(crate) struct PolicyLayer {
    engine: Arc<Engine>,
    store: Store,
}

impl PolicyLayer {
    /// A layer deciding with `engine` and logging denials to `store`'s audit log.
    pub(crate) fn new(engine: Arc<Engine>, store: Store) -> Self {
        Self { engine, store }
    }
}

impl<S> Layer<S> for PolicyLayer {
    type Service = PolicyCheck<S>;

    fn layer(&self, inner: S) -> PolicyCheck<S> {
        PolicyCheck {
            inner,
            engine: Arc::clone(&self.engine),
            store: self.store.clone(),
        }
    }
}

/// Decides every contract call before its handler runs; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct PolicyCheck<S> {
    inner: S,
    engine: Arc<Engine>,
    store: Store,
}

/// What the check found, besides a request refused outright.
enum Checked {
    /// The call goes on to its handler.
    Allowed,
    /// The policies refused it: log the leaf, then answer the status.
    Denied(Box<LeafEntry>, tonic::Status),
}

impl<S, B> Service<http::Request<B>> for PolicyCheck<S>
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let policies = self.engine.current();
        let headers = PolicyHeaders::new(&policies, self.engine.refused());
        let checked = match method_action(request.uri().path()) {
            None => Ok(Checked::Allowed),
            Some(action) => {
                let action = action.to_owned();
                self.check(&mut request, &action, &policies)
            }
        };
        match checked {
            Err(status) => {
                let mut response = status.into_http();
                headers.apply(response.headers_mut());
                Box::pin(std::future::ready(Ok(response)))
            }
            Ok(Checked::Denied(leaf, status)) => {
                let store = self.store.clone();
                Box::pin(async move {
                    let mut response = super::logged_refusal(&store, *leaf, status)
                        .await
                        .into_http();
                    headers.apply(response.headers_mut());
                    Ok(response)
                })
            }
            Ok(Checked::Allowed) => {
                // The instance that was polled ready serves this call; the clone waits for the next.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let call = inner.call(request);
                Box::pin(async move {
                    let mut response = call.await?;
                    headers.apply(response.headers_mut());
                    Ok(response)
                })
            }
        }
    }
}

impl<S> PolicyCheck<S> {
    fn check<B>(
        &self,
        request: &mut http::Request<B>,
        action: &str,
        policies: &Arc<Policies>,
    ) -> Result<Checked, tonic::Status> {
        // Only methods are decided here; data-class reads (`read/…`) are for handlers.
        if action.starts_with("read/") || !policies.declares(action) {
            let shown: String = action.chars().take(64).collect();
            return Err(tonic::Status::unimplemented(format!(
                "method {shown} is not part of the jembatan.v1 contract"
            )));
        }
        let principal = request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| {
                tonic::Status::unauthenticated("connection carries no client identity")
            })?;
        let headers = request.headers();
        let stated = Stated {
            purpose: required(headers, PURPOSE_KEY, &Purpose::ALL)?,
            legal_basis: required(headers, LEGAL_BASIS_KEY, &LegalBasis::ALL)?,
            case_ref: free_text(headers, CASE_REF_KEY)?,
            operator: free_text(headers, OPERATOR_KEY)?,
            deadline: deadline(headers),
        };
        match Caller::admit(&self.engine, policies, principal, stated, action)? {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
            }
            Err((leaf, status)) => return Ok(Checked::Denied(Box::new(leaf), status)),
        }
        Ok(Checked::Allowed)
    }
}

/// The policy headers of one response, computed once per call.
struct PolicyHeaders {
    set: Option<HeaderValue>,
    refused: Option<HeaderValue>,
}

impl PolicyHeaders {
    fn new(policies: &Policies, refused: Option<Arc<str>>) -> Self {
        Self {
            set: HeaderValue::from_str(policies.hash()).ok(),
            refused: refused.and_then(|hash| HeaderValue::from_str(&hash).ok()),
        }
    }

    fn apply(self, headers: &mut HeaderMap) {
        if let Some(set) = self.set {
            headers.insert(POLICY_SET_HEADER, set);
        }
        if let Some(refused) = self.refused {
            headers.insert(POLICY_REFUSED_HEADER, refused);
        }
    }
}

/// When a call's caller stops waiting, from its `grpc-timeout` (a number of at most 8 digits
/// and a unit, `H`, `M`, `S`, `m`, `u` or `n`); none when absent or malformed.
fn deadline(headers: &HeaderMap) -> Option<tokio::time::Instant> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    tokio::time::Instant::now().checked_add(timeout)
}

/// The single value of metadata `key`, or None when absent.
fn single<'h>(headers: &'h HeaderMap, key: &str) -> Result<Option<&'h str>, tonic::Status> {
    let mut values = headers.get_all(key).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid(key, "is given more than once; state it once"));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| invalid(key, "is not printable ASCII"))
}

/// A required code, one of `all`: a purpose or a legal basis.
fn required<T>(headers: &HeaderMap, key: &str, all: &[T]) -> Result<T, tonic::Status>
where
    T: std::str::FromStr<Err = jembatan_domain::DomainError> + std::fmt::Display,
{
    let Some(value) = single(headers, key)? else {
        let codes: Vec<String> = all.iter().map(ToString::to_string).collect();
        return Err(invalid(
            key,
            &format!(
                "is missing; every jembatan.v1 method states one of {}",
                codes.join(", ")
            ),
        ));
    };
    value
        .parse()
        .map_err(|e: jembatan_domain::DomainError| invalid(key, &e.to_string()))
}

/// An optional free-text value of at most [`MAX_FREE_TEXT`] characters.
fn free_text(headers: &HeaderMap, key: &str) -> Result<Option<String>, tonic::Status> {
    let Some(value) = single(headers, key)? else {
        return Ok(None);
    };
    if value.chars().count() > MAX_FREE_TEXT {
        return Err(invalid(
            key,
            &format!("is longer than {MAX_FREE_TEXT} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(key, "holds control characters"));
    }
    Ok(Some(value.to_owned()))
}

fn invalid(key: &str, reason: &str) -> tonic::Status {
    tonic::Status::invalid_argument(format!("metadata {key}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "grpc-timeout",
            HeaderValue::from_str(value).expect("header"),
        );
        let at = deadline(&headers);
        at.map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    #[test]
    fn grpc_timeouts_give_deadlines_and_malformed_ones_none() {
        let seconds = timeout("5S").expect("5 s");
        assert!(seconds > Duration::from_secs(4) && seconds <= Duration::from_secs(5));
        let millis = timeout("250m").expect("250 ms");
        assert!(millis > Duration::from_millis(200) && millis <= Duration::from_millis(250));
        assert!(timeout("2H").expect("2 h") > Duration::from_secs(7000));
        for malformed in ["", "S", "5", "123456789S", "5s", "-5S", "5 S", "9x"] {
            assert_eq!(timeout(malformed), None, "{malformed:?}");
        }
        assert_eq!(deadline(&HeaderMap::new()), None);
    }
}
