//! Errors of counts.

use jembatan_store::StoreError;

/// What can go wrong with counts.
#[derive(Debug, thiserror::Error)]
pub enum CountsError {
    /// The store could not be read.
    #[error("reading the placements to count: {0}")]
    Store(#[from] StoreError),
    /// Reading changes stopped before it ended (the exchange is shutting down).
    #[error("reading the placements to count was interrupted")]
    Interrupted,
    /// A noise table is not usable.
    #[error("noise table: {0}")]
    NoiseTable(String),
    /// The caller asked for a change the exchange has not seen.
    #[error(
        "change {wanted} is not reflected yet; the counts reflect changes up to {}",
        .reflected.map_or_else(|| "none (the log is empty)".to_owned(), |c| c.to_string())
    )]
    NotYet {
        /// The change asked for.
        wanted: u64,
        /// The latest change the counts reflect.
        reflected: Option<u64>,
    },
}
