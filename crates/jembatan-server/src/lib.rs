//! The Jembatan exchange server, laid out the way a call travels:
//!
//! 1. [`transport`]: TCP accept, then the TLS 1.3 handshake with a required client certificate
//!    (CA bundle and CRLs, reloaded while serving), concurrent, bounded by timeouts and by a
//!    share of the slots per address; an open connection's certificate is checked again.
//! 2. `layers`: the telemetry layer (the call's span, duration and trace id; exported by
//!    [`telemetry`] when a collector is named), the limits layer (rates, calls in progress and deadlines per caller), the
//!    identity layer (the principal from the certificate's URI SAN, or
//!    UNAUTHENTICATED), then the policy layer (the stated purpose and legal basis, and the
//!    policies' decision on the method, before the body is read; refusals are logged).
//! 3. `call`: what a handler knows of its caller, and the one way to decide and to make leaves.
//! 4. `services`: one module per gRPC service; each does its data work in one logged write of
//!    the store (the work and its audit leaves, or nothing).
//! 5. `status`: the one mapping of failures to gRPC statuses.
//!
//! Beside the calls run the `background` tasks (sequencer, policy and TLS reload, count
//! refresh, the leaves of calls refused for a limit). [`config`] reads the
//! one TOML file; [`Exchange`] wires it all together and serves until shut down.

#![forbid(unsafe_code)]

mod background;
mod call;
pub mod config;
mod error;
mod exchange;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod health_details;
mod layers;
mod services;
mod status;
pub mod telemetry;
mod trace;
pub mod transport;

pub use config::Config;
pub use error::ServerError;
pub use exchange::Exchange;
pub use layers::limits::{LimitsLayer, RefusalTally};
pub use telemetry::Telemetry;
pub use transport::tls_acceptor;
