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
    /// The address given is every address of the machine: pages are served only at one
    /// address, which must be named.
    #[error(
        "cannot listen on {0}: give the one address the console is reached at (it refuses \
         requests for any other host name)"
    )]
    Unspecified(SocketAddr),
    /// The system's random source failed, so no token could be made.
    #[error("cannot make the console's token: the system's random source failed")]
    Random,
    /// Serving failed.
    #[error("the console stopped: {0}")]
    Serve(std::io::Error),
}
