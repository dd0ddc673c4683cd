//! The TLS acceptor: accepts TCP connections and runs their handshakes concurrently, each
//! bounded by a timeout, so that a client that never sends a ClientHello cannot stall anyone.
//! A connection that completes the handshake carries the caller's identity (or why it has none)
//! as tonic connect info.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use jembatan_pki::{IdentityError, Principal, TrustDomain, certificate_fingerprint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

/// Who is on the other end of a connection, as learned from its TLS handshake.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The caller's principal, or why its certificate names none.
    pub identity: Result<Principal, IdentityError>,
    /// SHA-256 of the client certificate (DER), hex; `None` without one.
    pub cert_fingerprint: Option<String>,
}

/// A connection whose TLS handshake is complete.
pub struct AuthenticatedConnection {
    stream: TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl Connected for AuthenticatedConnection {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for AuthenticatedConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for AuthenticatedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Limits of the acceptor.
#[derive(Debug, Clone, Copy)]
pub struct AcceptorLimits {
    /// Time a client has to complete its handshake.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once; connections beyond are closed at once.
    pub max_concurrent_handshakes: usize,
}

/// The stream of handshaken connections, and the task that feeds it. Dropping the stream makes
/// the task stop accepting.
pub struct Incoming {
    /// Connections ready for HTTP/2.
    pub connections: ReceiverStream<Result<AuthenticatedConnection, io::Error>>,
    /// The accept loop.
    pub task: JoinHandle<()>,
}

/// Starts accepting on `listener`.
pub fn spawn(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    trust_domain: TrustDomain,
    limits: AcceptorLimits,
) -> Incoming {
    let (tx, rx) = mpsc::channel(limits.max_concurrent_handshakes.clamp(1, 1024));
    let acceptor = TlsAcceptor::from(tls);
    let handshakes = Arc::new(Semaphore::new(limits.max_concurrent_handshakes));
    let trust_domain = Arc::new(trust_domain);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, remote_addr) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = tx.closed() => return,
            };
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                tracing::warn!(%remote_addr, "too many handshakes in progress; connection closed");
                continue;
            };
            let (acceptor, tx, trust_domain) = (acceptor.clone(), tx.clone(), trust_domain.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let handshake =
                    tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await;
                drop(permit);
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::info!(%remote_addr, %error, "tls handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%remote_addr, "tls handshake timed out");
                        return;
                    }
                };
                let (identity, cert_fingerprint) = match stream.get_ref().1.peer_certificates() {
                    Some([leaf, ..]) => (
                        Principal::from_certificate(leaf, &trust_domain),
                        Some(certificate_fingerprint(leaf)),
                    ),
                    _ => (Err(IdentityError::NoCertificate), None),
                };
                if let Err(error) = &identity {
                    tracing::warn!(%remote_addr, %error, "client certificate names no caller");
                }
                let connection = AuthenticatedConnection {
                    stream,
                    peer: PeerInfo {
                        remote_addr,
                        identity,
                        cert_fingerprint,
                    },
                };
                let _ = tx.send(Ok(connection)).await;
            });
        }
    });
    Incoming {
        connections: ReceiverStream::new(rx),
        task,
    }
}
