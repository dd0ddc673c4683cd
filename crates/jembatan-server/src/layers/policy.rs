//! The policy layer: decides each call of the contract from the caller, the method and the
//! stated purpose and legal basis, before the request body is read.
//!
//! - Health checks and reflection (`health/check`, `reflection/read`) are decided without a
//!   purpose: allowed to the callers the policies name, else PERMISSION_DENIED. Any other path
//!   outside `jembatan.v1` is UNIMPLEMENTED. These are not contract calls: their refusals go to
//!   the server's log, not the audit log.
//! - A method the policy schema does not declare is UNIMPLEMENTED, and never reaches a handler.
//! - A missing, repeated or unknown `jembatan-purpose` or `jembatan-legal-basis`, or a
//!   `jembatan-case-ref` or `jembatan-operator` outside [`FREE_TEXT_PATTERN`], is
//!   INVALID_ARGUMENT naming the key (never echoing the value).
//! - A denial is PERMISSION_DENIED naming the caller, method, purpose and basis refused.
//! - An allowed call reaches its handler with a [`Caller`] in its extensions; a refusal by the
//!   handler is logged on the way back (see [`super::refusals`]).
//!
//! Every refusal of a contract call here is logged before it is answered, with its code and
//! what was validly stated (a value that was refused is not recorded); if the leaf cannot be
//! written, UNAVAILABLE.
//!
//! Every response carries `jembatan-policy-set: sha256:<hex>`, the policy set that decided it,
//! and `jembatan-policy-refused: sha256:<hex>` while a newer folder has been refused.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use jembatan_audit::leaf::{CallFacts, LeafEntry, timestamp};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::{Principal, PrincipalKind};
use jembatan_policy::{Engine, Policies, ServiceQuery, method_action, service_action};
use jembatan_store::Store;
use time::OffsetDateTime;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderMap, HeaderValue};
use tower::{Layer, Service};
use tracing::field::Empty;

use jembatan_proto::metadata::{
    CASE_REF as CASE_REF_KEY, LEGAL_BASIS as LEGAL_BASIS_KEY, OPERATOR as OPERATOR_KEY,
    POLICY_REFUSED as POLICY_REFUSED_HEADER, POLICY_SET as POLICY_SET_HEADER,
    PURPOSE as PURPOSE_KEY,
};

use crate::call::{Caller, Stated};
use crate::status::refusal_name;

/// What `jembatan-case-ref` and `jembatan-operator` may hold, as their refusal says. The log
/// cannot be erased, so these values must not be able to hold personal data: a NIK is 16
/// digits (however separated) and an e-mail address needs `@`.
pub(crate) const FREE_TEXT_PATTERN: &str = "1 to 64 characters of A-Z a-z 0-9 . / _ : -, \
     starting with a letter or digit, with at most 15 digits in all (never a NIK) and no '@' \
     (never an e-mail address), e.g. B-1234/PK.01.01/X/2026";

/// Longest `jembatan-case-ref` or `jembatan-operator`, in characters.
const MAX_FREE_TEXT: usize = 64;

/// Most digits a `jembatan-case-ref` or `jembatan-operator` holds: fewer than a NIK's 16.
const MAX_FREE_TEXT_DIGITS: usize = 15;

/// Longest method name a refusal leaf records of a path not in the contract.
const MAX_LOGGED_METHOD: usize = 128;

/// What a refusal leaf records as the method of a path that names none.
const NOT_A_METHOD: &str = "(not a method name)";

/// Adds [`PolicyCheck`] around a service.
#[derive(Debug, Clone)]
pub(crate) struct PolicyLayer {
    engine: Arc<Engine>,
    store: Store,
}

impl PolicyLayer {
    /// A layer deciding with `engine` and logging refusals to `store`'s audit log.
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

/// Decides every call before its handler runs; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct PolicyCheck<S> {
    inner: S,
    engine: Arc<Engine>,
    store: Store,
}

/// What the check found.
enum Checked {
    /// A contract call goes on to its handler as this caller.
    Contract(Box<Caller>),
    /// A health or reflection call goes on to its service.
    Service,
    /// Refused, and logged with this leaf before it is answered.
    Logged(Box<LeafEntry>, tonic::Status),
    /// Refused, not a contract call: answered at once.
    Unlogged(tonic::Status),
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
        let path = request.uri().path().to_owned();
        let checked = match (method_action(&path), service_action(&path)) {
            (Some(action), _) => self.check(&mut request, action, &policies),
            (None, Some(action)) => self.check_service(&request, action, &policies),
            (None, None) => {
                let shown: String = path.chars().take(64).collect();
                // The path is the caller's free text: logged only if it looks like a method.
                let method = loggable_method(path.strip_prefix('/').unwrap_or(&path));
                tracing::info!(method, "call of a path outside the contract refused");
                Checked::Unlogged(tonic::Status::unimplemented(format!(
                    "{shown} is not served here"
                )))
            }
        };
        let store = self.store.clone();
        match checked {
            Checked::Unlogged(status) => {
                let mut response = status.into_http();
                headers.apply(response.headers_mut());
                Box::pin(std::future::ready(Ok(response)))
            }
            Checked::Logged(leaf, status) => Box::pin(async move {
                let mut response = super::refusal_response(&store, *leaf, status).await;
                headers.apply(response.headers_mut());
                Ok(response)
            }),
            Checked::Contract(caller) => {
                let call = self.call_inner(request);
                Box::pin(async move {
                    let response = call.await?;
                    let mut response =
                        super::refusals::logged_after_handler(&store, &caller, response).await;
                    headers.apply(response.headers_mut());
                    Ok(response)
                })
            }
            Checked::Service => {
                let call = self.call_inner(request);
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
    /// Calls the inner service: the instance that was polled ready serves this call, and a
    /// clone waits for the next.
    fn call_inner<B>(&mut self, request: http::Request<B>) -> S::Future
    where
        S: Service<http::Request<B>> + Clone,
    {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        inner.call(request)
    }

    /// Decides a contract call of `action`.
    fn check<B>(
        &self,
        request: &mut http::Request<B>,
        action: &str,
        policies: &Arc<Policies>,
    ) -> Checked {
        let Some(principal) = request.extensions().get::<Principal>().cloned() else {
            return Checked::Unlogged(tonic::Status::unauthenticated(
                "connection carries no client identity",
            ));
        };
        let trace_id = crate::trace::of(request);
        let refused = |status: tonic::Status| {
            let leaf = early_refusal(
                &principal,
                action,
                (request.headers(), &trace_id),
                policies,
                &status,
            );
            Checked::Logged(Box::new(leaf), status)
        };
        // Only methods are decided here; data-class reads (`read/…`) are for handlers.
        if action.starts_with("read/") || !policies.declares(action) {
            let shown: String = action.chars().take(64).collect();
            return refused(tonic::Status::unimplemented(format!(
                "method {shown} is not part of the jembatan.v1 contract"
            )));
        }
        let stated = match stated(request.headers(), &trace_id) {
            Ok(stated) => stated,
            Err(status) => return refused(status),
        };
        let call = tracing::Span::current();
        record_caller(&call, &principal, &stated);
        let admitted =
            tracing::info_span!("policy.decide", jembatan.decision = Empty).in_scope(|| {
                let admitted =
                    Caller::admit(&self.engine, policies, principal.clone(), stated, action);
                let decision = match &admitted {
                    Ok(Ok(_)) => "allow",
                    Ok(Err(_)) => "deny",
                    Err(_) => "error",
                };
                tracing::Span::current().record("jembatan.decision", decision);
                call.record("jembatan.decision", decision);
                admitted
            });
        match admitted {
            Ok(Ok(caller)) => {
                request.extensions_mut().insert(caller.clone());
                Checked::Contract(Box::new(caller))
            }
            Ok(Err((leaf, status))) => Checked::Logged(Box::new(leaf), status),
            // The engine failed: INTERNAL, a failure of ours, not a refusal of the caller.
            Err(status) => Checked::Unlogged(status),
        }
    }

    /// Decides a health or reflection call: no purpose, no audit leaf.
    fn check_service<B>(
        &self,
        request: &http::Request<B>,
        action: &str,
        policies: &Policies,
    ) -> Checked {
        let Some(principal) = request.extensions().get::<Principal>() else {
            return Checked::Unlogged(tonic::Status::unauthenticated(
                "connection carries no client identity",
            ));
        };
        let query = ServiceQuery {
            principal: principal.kind(),
            action,
            time: OffsetDateTime::now_utc(),
        };
        match self.engine.decide_service_with(policies, &query) {
            Ok(decision) if decision.allowed => Checked::Service,
            Ok(_) => {
                tracing::info!(%principal, action, "call denied by policy");
                Checked::Unlogged(tonic::Status::permission_denied(format!(
                    "{principal} may not use {action}"
                )))
            }
            Err(error) => {
                tracing::error!(action, %error, "policy decision failed");
                Checked::Unlogged(tonic::Status::internal(format!(
                    "policy decision for {action} failed"
                )))
            }
        }
    }
}

/// Records who called and what they stated on the call's span (see
/// [`super::telemetry`]): agencies and systems, never people.
fn record_caller(span: &tracing::Span, principal: &Principal, stated: &Stated) {
    let (agency, system) = match principal.kind() {
        PrincipalKind::Agency { agency, system } => (agency.as_str(), system.as_str()),
        PrincipalKind::Auditor { office } => ("auditor", office.as_str()),
    };
    span.record("jembatan.agency", agency);
    span.record("jembatan.system", system);
    span.record("jembatan.purpose", stated.purpose.code());
    span.record("jembatan.legal_basis", stated.legal_basis.code());
}

/// What a contract call states in its metadata, or INVALID_ARGUMENT naming the key.
fn stated(headers: &HeaderMap, trace_id: &str) -> Result<Stated, tonic::Status> {
    Ok(Stated {
        trace_id: trace_id.to_owned(),
        purpose: required(headers, PURPOSE_KEY, &Purpose::ALL)?,
        legal_basis: required(headers, LEGAL_BASIS_KEY, &LegalBasis::ALL)?,
        case_ref: free_text(headers, CASE_REF_KEY)?,
        operator: free_text(headers, OPERATOR_KEY)?,
        deadline: deadline(headers),
    })
}

/// The leaf of a contract call refused before it was decided (`status`: INVALID_ARGUMENT or
/// UNIMPLEMENTED). It records what was validly stated; a refused value is left out.
fn early_refusal(
    principal: &Principal,
    action: &str,
    (headers, trace_id): (&HeaderMap, &str),
    policies: &Policies,
    status: &tonic::Status,
) -> LeafEntry {
    let valid = |key: &str| -> Option<String> {
        let value = single(headers, key).ok().flatten()?;
        match key {
            PURPOSE_KEY => value.parse::<Purpose>().ok().map(|p| p.code().to_owned()),
            LEGAL_BASIS_KEY => value
                .parse::<LegalBasis>()
                .ok()
                .map(|b| b.code().to_owned()),
            _ => free_text(headers, key).ok().flatten(),
        }
    };
    let method = if policies.declares(action) || fits_method_name(action) {
        action
    } else {
        NOT_A_METHOD
    };
    CallFacts::new(
        timestamp(OffsetDateTime::now_utc()),
        principal.to_string(),
        principal.cert_fingerprint.clone(),
        method.to_owned(),
    )
    .stated(
        &valid(PURPOSE_KEY).unwrap_or_default(),
        &valid(LEGAL_BASIS_KEY).unwrap_or_default(),
        &valid(CASE_REF_KEY).unwrap_or_default(),
        &valid(OPERATOR_KEY).unwrap_or_default(),
    )
    .traced(trace_id)
    .decided(Vec::new(), policies.hash().to_string())
    .refused(refusal_name(status.code()).unwrap_or("invalid_argument"))
}

/// `action` as a refusal leaf may record it: as called if it looks like a method name, else
/// [`NOT_A_METHOD`] (a path is the caller's free text, and the log cannot be erased).
pub(crate) fn loggable_method(action: &str) -> &str {
    if fits_method_name(action) {
        action
    } else {
        NOT_A_METHOD
    }
}

/// Whether a path not in the contract may be recorded as it was called: `<Service>/<Method>`
/// of letters, digits, `_` and `.`, short, and with too few digits to hold a NIK.
fn fits_method_name(action: &str) -> bool {
    let Some((service, method)) = action.split_once('/') else {
        return false;
    };
    let name = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    action.len() <= MAX_LOGGED_METHOD
        && name(service)
        && name(method)
        && action.bytes().filter(u8::is_ascii_digit).count() <= MAX_FREE_TEXT_DIGITS
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

/// An optional `jembatan-case-ref` or `jembatan-operator`: [`FREE_TEXT_PATTERN`], or
/// INVALID_ARGUMENT naming the key and the pattern (not the value). Empty is not given.
fn free_text(headers: &HeaderMap, key: &str) -> Result<Option<String>, tonic::Status> {
    let Some(value) = single(headers, key)? else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    match free_text_problem(value) {
        None => Ok(Some(value.to_owned())),
        Some(problem) => Err(invalid(
            key,
            &format!("{problem}; it must be {FREE_TEXT_PATTERN}"),
        )),
    }
}

/// What keeps `value` from fitting [`FREE_TEXT_PATTERN`], if anything.
fn free_text_problem(value: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | ':' | '-');
    if value.chars().count() > MAX_FREE_TEXT {
        return Some(format!("is longer than {MAX_FREE_TEXT} characters"));
    }
    if value.contains('@') {
        return Some("holds '@'".to_owned());
    }
    if !value.chars().all(allowed) {
        return Some("holds a character outside the pattern".to_owned());
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("does not start with a letter or digit".to_owned());
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if digits > MAX_FREE_TEXT_DIGITS {
        return Some(format!("holds {digits} digits"));
    }
    None
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
    fn letter_numbers_fit_the_free_text_pattern_and_personal_data_does_not() {
        for fits in [
            "B-1234/PK.01.01/X/2026",
            "ND-77/KP2MI/2026",
            "ND.12/PEN/2026",
            "UND-0045/DJPEN/2026",
            "op-7",
            "ticket:2026-11-22:0042",
            "123456789012345",
        ] {
            assert_eq!(free_text_problem(fits), None, "{fits}");
        }
        for refused in [
            "3175014101900001",
            "3175-0141-0190-0001",
            "NIK.3175.0141.0190.0001",
            "B-1234/PK.01.01/X/2026/3175",
            "siti@kemendag.go.id",
            "siti rahma",
            "-B/12",
            "/ND",
            "Bu_Siti\u{e9}",
            &"A".repeat(65),
        ] {
            assert!(free_text_problem(refused).is_some(), "{refused}");
        }
    }

    #[test]
    fn only_method_like_paths_are_recorded_as_called() {
        assert!(fits_method_name("WorkforceService/DumpEverything"));
        assert!(fits_method_name("read/contact"));
        assert!(!fits_method_name("WorkforceService/Nik3175014101900001"));
        assert!(!fits_method_name(&"X".repeat(4000)));
        assert!(!fits_method_name("Workforce Service/x"));
        assert!(!fits_method_name("NoSlash"));
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
