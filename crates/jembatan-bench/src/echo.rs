//! The baseline: a tonic service that answers with as many bytes as it is asked for, behind the exchange's own
//! TLS configuration and acceptor (mutual TLS 1.3, the same certificates and limits), with no
//! identity or policy layer, no store and no audit log.

use std::future::Future;

use jembatan_pki::TrustDomain;
use jembatan_server::transport::{acceptor, tls_acceptor};
use jembatan_server::{Config, LimitsLayer, RefusalTally};
use tonic::transport::Server;
use tonic::{Request, Response, Status};

/// The generated code of `proto/echo.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod pb {
    tonic::include_proto!("jembatan.bench");
}

pub(crate) use pb::EchoMessage;
pub(crate) use pb::echo_client::EchoClient;
use pb::echo_server::{Echo, EchoServer};

struct Service;

#[tonic::async_trait]
impl Echo for Service {
    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        let size = request.into_inner().reply_size as usize;
        Ok(Response::new(EchoMessage {
            payload: vec![0x5a; size].into(),
            reply_size: 0,
        }))
    }
}

/// Serves the echo service on `config`'s address and TLS until `shutdown` completes; behind
/// the exchange's limits layer with `config`'s limits when `limited`.
pub(crate) async fn serve(
    config: &Config,
    limited: bool,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (tls, limits) = tls_acceptor(config)?;
    let trust_domain = TrustDomain::new(&config.identity.trust_domain)?;
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    println!("{}{}", crate::server::LISTENING, listener.local_addr()?);
    let incoming = acceptor::spawn(listener, tls, trust_domain, limits);
    if limited {
        Server::builder()
            .layer(LimitsLayer::new(&config.limits, RefusalTally::default()))
            .add_service(EchoServer::new(Service))
            .serve_with_incoming_shutdown(incoming.connections, shutdown)
            .await?;
    } else {
        Server::builder()
            .add_service(EchoServer::new(Service))
            .serve_with_incoming_shutdown(incoming.connections, shutdown)
            .await?;
    }
    incoming.task.abort();
    Ok(())
}
