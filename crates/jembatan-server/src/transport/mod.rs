//! The transport, where a call begins: TCP accept and the TLS 1.3 handshake with a required
//! client certificate, checked against the CA bundle and CRLs ([`acceptor`]), with the TLS
//! configuration of [`tls_acceptor`], reloaded while serving ([`ServerTlsState`]). A connection that completes its handshake carries its
//! [`PeerInfo`] to the layers.

pub mod acceptor;
mod tls;

pub use acceptor::PeerInfo;
pub use tls::{ServerTlsState, tls_acceptor};
