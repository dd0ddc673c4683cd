//! Health with details: a health check that carries the request header
//! `jembatan-health-details` is answered with response headers on the state of the exchange,
//! for `jembatan health --details` and an operator's monitoring: the store, the log's committed
//! size against its latest checkpoint (the sequencer's lag), when the server certificate
//! expires and when the CRLs are next due, as loaded and in force. The policy set in force is in every answer already.
//! Nothing in them is personal data; a failing store is reported as `unavailable` only (its
//! error, which may name the database, goes to the log).

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use jembatan_audit::leaf::timestamp;
use jembatan_proto::metadata;
use jembatan_store::Store;
use time::OffsetDateTime;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderValue};
use tonic::server::NamedService;
use tower::Service;

use crate::transport::ServerTlsState;

/// `service` (the health service), answering checks that ask for them with details.
#[derive(Debug, Clone)]
pub(crate) struct WithDetails<S> {
    inner: S,
    store: Store,
    tls: Arc<ServerTlsState>,
}

impl<S> WithDetails<S> {
    pub(crate) fn new(inner: S, store: Store, tls: Arc<ServerTlsState>) -> Self {
        Self { inner, store, tls }
    }
}

impl<S: NamedService> NamedService for WithDetails<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for WithDetails<S>
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
        let wanted = request.headers().contains_key(metadata::HEALTH_DETAILS);
        // The clone that was made ready serves this call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (store, tls) = (self.store.clone(), Arc::clone(&self.tls));
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            if wanted {
                let headers = response.headers_mut();
                for (key, value) in details(&store, &tls).await {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(key, value);
                    }
                }
            }
            Ok(response)
        })
    }
}

/// The details, as (header, value).
async fn details(store: &Store, tls: &ServerTlsState) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match (store.log_size().await, store.checkpoint(None).await) {
        (Ok(size), Ok(checkpoint)) => {
            out.push((metadata::HEALTH_STORE, "ok".to_owned()));
            out.push((metadata::HEALTH_LOG_SIZE, size.to_string()));
            if let Some(checkpoint) = checkpoint {
                out.push((
                    metadata::HEALTH_CHECKPOINT_SIZE,
                    checkpoint.size.to_string(),
                ));
                out.push((metadata::HEALTH_CHECKPOINT_SIGNED_AT, checkpoint.signed_at));
            }
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "health details: the store does not answer");
            out.push((metadata::HEALTH_STORE, "unavailable".to_owned()));
        }
    }
    let dates = tls.material_dates();
    let at = |seconds: i64| {
        OffsetDateTime::from_unix_timestamp(seconds)
            .map(timestamp)
            .unwrap_or_default()
    };
    out.push((
        metadata::HEALTH_SERVER_CERT_NOT_AFTER,
        at(dates.server_cert_not_after),
    ));
    if let Some(oldest) = dates.crls.iter().map(|(this, _)| *this).min() {
        out.push((metadata::HEALTH_CRL_THIS_UPDATE, at(oldest)));
    }
    if let Some(due) = dates.crls.iter().filter_map(|(_, next)| *next).min() {
        out.push((metadata::HEALTH_CRL_NEXT_UPDATE, at(due)));
    }
    out
}
