//! What can stop the console.

use std::net::SocketAddr;

/// Errors of the console itself (errors of the exchange are shown on its pages).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The address could not be bound.
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        /// The address asked for.
        listen: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("the console stopped: {0}")]
    Serve(std::io::Error),
}
