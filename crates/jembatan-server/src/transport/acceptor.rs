//! The TLS acceptor: accepts TCP connections and runs their handshakes concurrently, so that
//! no client, with or without a certificate, can hold the door shut for others:
//! - a client has `client_hello_timeout` to send its ClientHello and `handshake_timeout` for the
//!   whole handshake;
//! - one IP address (an IPv6 /64) holds at most `max_handshakes_per_address` of the
//!   `max_concurrent_handshakes` slots; a connection finding no slot waits `handshake_queue` for
//!   one (no more connections of an address wait than it may hold), and is closed after;
//! - a caller (one certificate identity) has at most `max_connections_per_caller` connections
//!   open; one more is closed after its handshake;
//! - a TLS session is never resumed ([`jembatan_pki::tls::server_config`]), and every
//!   `recheck_interval` an open connection's certificate is verified again against the CA
//!   bundle and CRLs in force: a revoked or expired certificate's connection is closed.
//!
//! A connection that completes the handshake carries the caller's identity (or why it has none)
//! as tonic connect info.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use jembatan_pki::{IdentityError, Principal, TrustDomain, certificate_fingerprint};
use rustls::pki_types::{CertificateDer, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::tls::ServerTlsState;

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
    recheck: Option<Recheck>,
    _place: ConnectionPlace,
}

/// Connections open per caller (principal, or certificate fingerprint when it names none).
#[derive(Debug, Default)]
struct Established {
    open: Mutex<HashMap<String, usize>>,
}

/// One open connection of a caller, given back when the connection is dropped.
struct ConnectionPlace {
    established: Arc<Established>,
    caller: String,
}

impl Established {
    /// A place for one more connection of `caller`, if it has fewer than `max` open.
    fn take(self: &Arc<Self>, caller: String, max: usize) -> Option<ConnectionPlace> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(caller.clone()).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionPlace {
            established: Arc::clone(self),
            caller,
        })
    }
}

impl Drop for ConnectionPlace {
    fn drop(&mut self) {
        let mut open = self
            .established
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

/// The periodic verification of an open connection's certificate.
struct Recheck {
    tls: Arc<ServerTlsState>,
    chain: Vec<CertificateDer<'static>>,
    ticks: Interval,
    /// Why the certificate no longer passes, once it has failed.
    failed: Option<String>,
}

impl Recheck {
    /// Err once the certificate fails verification against the material in force; checked
    /// at each tick, so a connection polled for reading or writing is closed within one
    /// interval of a revocation or of its certificate's expiry.
    fn poll_valid(&mut self, cx: &mut Context<'_>, remote_addr: SocketAddr) -> io::Result<()> {
        while self.failed.is_none() && self.ticks.poll_tick(cx).is_ready() {
            let Some((end_entity, intermediates)) = self.chain.split_first() else {
                return Ok(());
            };
            let verifier = self.tls.current().client_verifier;
            if let Err(error) =
                verifier.verify_client_cert(end_entity, intermediates, UnixTime::now())
            {
                tracing::warn!(
                    %remote_addr,
                    %error,
                    "client certificate no longer valid; connection closed"
                );
                self.failed = Some(error.to_string());
            }
        }
        match &self.failed {
            None => Ok(()),
            Some(reason) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("client certificate no longer valid: {reason}"),
            )),
        }
    }
}

impl AuthenticatedConnection {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match &mut self.recheck {
            Some(recheck) => recheck.poll_valid(cx, self.peer.remote_addr),
            None => Ok(()),
        }
    }
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
        self.check(cx)?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for AuthenticatedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
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
        self.check(cx)?;
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
    /// Time a client has to send its ClientHello after connecting.
    pub client_hello_timeout: Duration,
    /// Handshakes in progress at once.
    pub max_concurrent_handshakes: usize,
    /// Handshakes in progress at once from one IP address.
    pub max_handshakes_per_address: usize,
    /// Time a connection waits for a handshake slot before it is closed.
    pub handshake_queue: Duration,
    /// Time between verifications of an open connection's certificate; `None` for never.
    pub recheck_interval: Option<Duration>,
    /// Connections open at once per caller; a handshaken connection beyond is closed.
    pub max_connections_per_caller: usize,
}

/// The stream of handshaken connections, and the task that feeds it. Dropping the stream makes
/// the task stop accepting.
pub struct Incoming {
    /// Connections ready for HTTP/2.
    pub connections: ReceiverStream<Result<AuthenticatedConnection, io::Error>>,
    /// The accept loop.
    pub task: JoinHandle<()>,
}

/// Handshake slots, in all and per address, and the connections waiting for one.
struct Slots {
    limits: AcceptorLimits,
    usage: Mutex<Usage>,
    freed: Notify,
}

#[derive(Default)]
struct Usage {
    total: usize,
    /// Per address: (handshakes in progress, connections waiting).
    by_address: HashMap<IpAddr, (usize, usize)>,
}

/// A handshake slot, given back when dropped.
struct Slot {
    slots: Arc<Slots>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.update(self.address, |usage, (held, _)| {
            *held -= 1;
            usage.total -= 1;
        });
        self.slots.freed.notify_waiters();
    }
}

impl Slots {
    /// Applies `change` to the usage of `address`, forgetting addresses that hold nothing.
    fn update<T>(
        &self,
        address: IpAddr,
        change: impl FnOnce(&mut Usage, &mut (usize, usize)) -> T,
    ) -> T {
        let mut usage = self
            .usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut entry = usage.by_address.remove(&address).unwrap_or_default();
        let result = change(&mut usage, &mut entry);
        if entry != (0, 0) {
            usage.by_address.insert(address, entry);
        }
        result
    }

    /// A slot for `address` now, if one is free for it.
    fn try_take(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let limits = self.limits;
        let taken = self.update(address, |usage, (held, _)| {
            let free = usage.total < limits.max_concurrent_handshakes
                && *held < limits.max_handshakes_per_address;
            if free {
                usage.total += 1;
                *held += 1;
            }
            free
        });
        taken.then(|| Slot {
            slots: Arc::clone(self),
            address,
        })
    }

    /// A slot for `address`, waiting at most the queue time; `None` when the address already
    /// has as many connections waiting as it may hold, or the wait is over.
    async fn take(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        if let Some(slot) = self.try_take(address) {
            return Some(slot);
        }
        let limit = self.limits.max_handshakes_per_address;
        let queued = self.update(address, |_, (_, waiting)| {
            let room = *waiting < limit;
            if room {
                *waiting += 1;
            }
            room
        });
        if !queued {
            return None;
        }
        let until = Instant::now() + self.limits.handshake_queue;
        let slot = loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(slot) = self.try_take(address) {
                break Some(slot);
            }
            if tokio::time::timeout_at(until, freed).await.is_err() {
                break self.try_take(address);
            }
        };
        self.update(address, |_, (_, waiting)| *waiting -= 1);
        slot
    }
}

/// Starts accepting on `listener`, with the TLS material of `tls`.
pub fn spawn(
    listener: TcpListener,
    tls: Arc<ServerTlsState>,
    trust_domain: TrustDomain,
    limits: AcceptorLimits,
) -> Incoming {
    let (tx, rx) = mpsc::channel(limits.max_concurrent_handshakes.clamp(1, 1024));
    let slots = Arc::new(Slots {
        limits,
        usage: Mutex::default(),
        freed: Notify::new(),
    });
    let trust_domain = Arc::new(trust_domain);
    let established = Arc::new(Established::default());
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
            let (slots, tls, tx, trust_domain, established) = (
                slots.clone(),
                tls.clone(),
                tx.clone(),
                trust_domain.clone(),
                established.clone(),
            );
            tokio::spawn(async move {
                let Some(slot) = slots.take(share_of(remote_addr.ip())).await else {
                    tracing::warn!(%remote_addr, "no handshake slot for this address; connection closed");
                    return;
                };
                let _ = tcp.set_nodelay(true);
                let handshake = handshake(tcp, &tls, limits).await;
                drop(slot);
                let stream = match handshake {
                    Ok(stream) => stream,
                    Err((kind, reason)) => {
                        tracing::info!(%remote_addr, %reason, "tls handshake failed");
                        crate::telemetry::metrics::metrics()
                            .handshake_failures
                            .add(1, &[opentelemetry::KeyValue::new("error.type", kind)]);
                        return;
                    }
                };
                let chain: Vec<CertificateDer<'static>> = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
                    .unwrap_or_default();
                let (identity, cert_fingerprint) = match chain.first() {
                    Some(leaf) => (
                        Principal::from_certificate(leaf, &trust_domain),
                        Some(certificate_fingerprint(leaf)),
                    ),
                    None => (Err(IdentityError::NoCertificate), None),
                };
                if let Err(error) = &identity {
                    tracing::warn!(%remote_addr, %error, "client certificate names no caller");
                }
                let caller = match (&identity, &cert_fingerprint) {
                    (Ok(principal), _) => principal.to_string(),
                    (Err(_), fingerprint) => {
                        format!("unidentified:{}", fingerprint.as_deref().unwrap_or("none"))
                    }
                };
                let Some(place) = established.take(caller, limits.max_connections_per_caller)
                else {
                    tracing::warn!(
                        %remote_addr,
                        max = limits.max_connections_per_caller,
                        "the caller has its most connections open; connection closed"
                    );
                    return;
                };
                let recheck = limits.recheck_interval.map(|every| {
                    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
                    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    Recheck {
                        tls,
                        chain,
                        ticks,
                        failed: None,
                    }
                });
                let connection = AuthenticatedConnection {
                    stream,
                    peer: PeerInfo {
                        remote_addr,
                        identity,
                        cert_fingerprint,
                    },
                    recheck,
                    _place: place,
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

/// The address whose share of handshake slots a connection from `ip` takes: an IPv6 address's
/// /64, which one host or one customer of a provider commonly has whole (an IPv4-mapped address
/// is its IPv4 address).
fn share_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The TLS handshake of `tcp` with the material in force, within the acceptor's deadlines.
async fn handshake(
    tcp: TcpStream,
    tls: &ServerTlsState,
    limits: AcceptorLimits,
) -> Result<TlsStream<TcpStream>, (&'static str, String)> {
    let started = Instant::now();
    let hello = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let start = match tokio::time::timeout(limits.client_hello_timeout, hello).await {
        Ok(Ok(start)) => start,
        Ok(Err(error)) => return Err((failure_kind(&error), error.to_string())),
        Err(_) => return Err(("client_hello_timeout", "no ClientHello in time".into())),
    };
    let accept = start.into_stream(tls.current().config);
    match tokio::time::timeout_at(started + limits.handshake_timeout, accept).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err((failure_kind(&error), error.to_string())),
        Err(_) => Err(("handshake_timeout", "handshake timed out".into())),
    }
}

/// What kind of failure a failed handshake's error is, for the handshake failure metric.
fn failure_kind(error: &std::io::Error) -> &'static str {
    use rustls::{CertificateError, Error};
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
    else {
        return "io";
    };
    match tls {
        Error::NoCertificatesPresented => "no_certificate",
        Error::InvalidCertificate(CertificateError::Revoked) => "certificate_revoked",
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "certificate_expired",
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => "unknown_issuer",
        Error::InvalidCertificate(
            CertificateError::ExpiredRevocationList
            | CertificateError::ExpiredRevocationListContext { .. },
        ) => "crl_expired",
        Error::InvalidCertificate(_) => "bad_certificate",
        Error::PeerIncompatible(_) => "incompatible",
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => "invalid_message",
        _ => "tls_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_slash_64_shares_one_address_and_ipv4_stays_itself() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(share_of(a), share_of(b));
        assert_ne!(share_of(a), share_of(other));
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(share_of(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(share_of(mapped), v4);
    }
}
