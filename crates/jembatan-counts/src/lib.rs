//! Availability counts: how many workers match a filter, grouped, answered in a millisecond
//! from an in-memory index ([`Availability`]) and published the way statistical offices
//! publish tables on demand ([`Perturbation`], the cell-key method): the same set of workers
//! always gets the same perturbed count, and no count under the threshold is published.
//!
//! Filters follow fixed classifications ([`CountFilter`]): one value per classification, a
//! return period of whole calendar months. SECURITY.md ("Counts") says what this protects
//! against and what it does not.

#![forbid(unsafe_code)]

mod availability;
mod cell_keys;
mod error;
mod filter;
mod index;
mod perturbation;

pub use availability::Availability;
pub use cell_keys::CellKeys;
pub use error::CountsError;
pub use filter::CountFilter;
pub use index::{ExactCell, ExactCounts, Index};
pub use perturbation::{NoiseTable, Perturbation};
