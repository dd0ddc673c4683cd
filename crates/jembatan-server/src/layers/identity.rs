//! The identity layer: turns the connection's [`PeerInfo`] into a [`Principal`] request
//! extension, or answers UNAUTHENTICATED before anything else runs.
//!
//! A call of the contract (`/jembatan.v1.…`) refused here is logged: a certificate our CA
//! issued that names no acceptable identity is someone's, and the audit log says whose
//! (fingerprint, and the identity it claimed, in the leaf's `claimed`). The leaf's principal is
//! [`UNIDENTIFIED`], which matches no agency: what a certificate claims does not make the leaf
//! that agency's, in its filters or its proofs. Health and reflection are refused without a
//! leaf, as they carry no data. A client without a valid certificate never gets this far: the
//! TLS handshake refuses it, and the server log (not the audit log) records the address.

use std::task::{Context, Poll};

use futures_util::future::{BoxFuture, Either, Ready, ready};
use jembatan_audit::leaf::{CallFacts, LeafEntry, UNIDENTIFIED, timestamp};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::{IdentityError, Principal};
use jembatan_policy::method_action;
use jembatan_store::Store;
use time::OffsetDateTime;
use tonic::body::Body;
use tonic::codegen::http;
use tower::{Layer, Service};

use crate::transport::PeerInfo;

/// Longest claimed identity a leaf of a refused caller records, in characters.
const MAX_CLAIM: usize = 256;

/// Adds [`Identity`] around a service.
#[derive(Debug, Clone)]
pub(crate) struct IdentityLayer {
    store: Store,
}

impl IdentityLayer {
    /// Refusals of contract calls are logged in `store`.
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }
}

impl<S> Layer<S> for IdentityLayer {
    type Service = Identity<S>;

    fn layer(&self, inner: S) -> Identity<S> {
        Identity {
            inner,
            store: self.store.clone(),
        }
    }
}

/// Requires a caller identity on every request and hands handlers a [`Principal`].
#[derive(Debug, Clone)]
pub(crate) struct Identity<S> {
    inner: S,
    store: Store,
}

type Refused<E> = Either<
    Ready<Result<http::Response<Body>, E>>,
    BoxFuture<'static, Result<http::Response<Body>, E>>,
>;

impl<S, B> Service<http::Request<B>> for Identity<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<Refused<S::Error>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let Some(peer) = request.extensions().get::<PeerInfo>().cloned() else {
            return Either::Left(Either::Left(ready(Ok(tonic::Status::unauthenticated(
                "connection carries no client identity",
            )
            .into_http()))));
        };
        match peer.identity {
            Ok(principal) => {
                request.extensions_mut().insert::<Principal>(principal);
                Either::Right(self.inner.call(request))
            }
            Err(error) => {
                let status = tonic::Status::unauthenticated(error.to_string());
                let Some(method) = method_action(request.uri().path()) else {
                    return Either::Left(Either::Left(ready(Ok(status.into_http()))));
                };
                let leaf = refused_leaf(&error, peer.cert_fingerprint, method, &request);
                let store = self.store.clone();
                Either::Left(Either::Right(Box::pin(async move {
                    Ok(super::refusal_response(&store, leaf, status).await)
                })))
            }
        }
    }
}

/// The leaf of a contract call refused for its identity.
fn refused_leaf<B>(
    error: &IdentityError,
    cert_fingerprint: Option<String>,
    method: &str,
    request: &http::Request<B>,
) -> LeafEntry {
    let claimed: String = match error {
        IdentityError::Malformed { uri, .. } | IdentityError::ForeignTrustDomain { uri, .. } => {
            uri.chars().take(MAX_CLAIM).collect()
        }
        _ => String::new(),
    };
    // Only known codes are recorded: whatever else the caller sent is its own text.
    let header = |key: &str| {
        request
            .headers()
            .get(key)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let purpose = header(jembatan_proto::metadata::PURPOSE)
        .and_then(|code| code.parse::<Purpose>().ok())
        .map(|p| p.code().to_owned());
    let legal_basis = header(jembatan_proto::metadata::LEGAL_BASIS)
        .and_then(|code| code.parse::<LegalBasis>().ok())
        .map(|b| b.code().to_owned());
    CallFacts::new(
        timestamp(OffsetDateTime::now_utc()),
        UNIDENTIFIED.to_owned(),
        cert_fingerprint.unwrap_or_default(),
        super::policy::loggable_method(method).to_owned(),
    )
    .claimed(&claimed)
    .stated(
        purpose.as_deref().unwrap_or_default(),
        legal_basis.as_deref().unwrap_or_default(),
        "",
        "",
    )
    .traced(&crate::trace::of(request))
    .refused("unauthenticated")
}
