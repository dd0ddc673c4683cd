//! The Jembatan exchange server.
//!
//! A request's way through: TCP accept → TLS 1.3 handshake with a required client certificate
//! ([`acceptor`]) → the caller's identity from its URI SAN ([`identity_layer`]) → the decision
//! of the access policies on method, purpose and legal basis ([`policy_layer`]) → the tonic
//! services. [`Exchange`] puts these together with the store and serves until shut down,
//! reloading the policies on SIGHUP and when their files change.

#![forbid(unsafe_code)]

pub mod acceptor;
mod audit_service;
mod caller;
pub mod config;
mod denial;
mod error;
mod exchange;
pub mod identity_layer;
mod pending;
mod placement_input;
mod placement_service;
pub mod policy_layer;
mod policy_reload;
mod position;
mod sequencer;
mod suppression;
mod witnesses;
mod workforce_service;

pub use config::Config;
pub use error::ServerError;
pub use exchange::{Exchange, tls_acceptor};
