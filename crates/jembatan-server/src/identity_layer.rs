//! The identity layer: turns the connection's [`PeerInfo`] into a [`Principal`] request
//! extension, or answers UNAUTHENTICATED before anything else runs.

use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use jembatan_pki::Principal;
use tonic::body::Body;
use tonic::codegen::http;
use tower::{Layer, Service};

use crate::acceptor::PeerInfo;

/// Adds [`Identity`] around a service.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityLayer;

impl<S> Layer<S> for IdentityLayer {
    type Service = Identity<S>;

    fn layer(&self, inner: S) -> Identity<S> {
        Identity { inner }
    }
}

/// Requires a caller identity on every request and hands handlers a [`Principal`].
#[derive(Debug, Clone)]
pub struct Identity<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Identity<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<http::Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let identity = request
            .extensions()
            .get::<PeerInfo>()
            .map(|peer| peer.identity.clone());
        match identity {
            Some(Ok(principal)) => {
                request.extensions_mut().insert::<Principal>(principal);
                Either::Right(self.inner.call(request))
            }
            Some(Err(error)) => Either::Left(ready(Ok(tonic::Status::unauthenticated(
                error.to_string(),
            )
            .into_http()))),
            None => Either::Left(ready(Ok(tonic::Status::unauthenticated(
                "connection carries no client identity",
            )
            .into_http()))),
        }
    }
}
