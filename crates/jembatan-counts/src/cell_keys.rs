//! The keys of the cell-key method: every worker's pseudo-random key, and a cell's key from the
//! sum of its workers' keys, both keyed by the exchange's count secret so that no caller can
//! compute them.

use std::collections::HashSet;
use std::hash::Hasher;

use siphasher::sip::SipHasher13;

use crate::index::ExactCell;

/// The keyed hashes of workers and cells.
#[derive(Debug, Clone)]
pub struct CellKeys {
    worker: (u64, u64),
    cell: (u64, u64),
}

fn words(bytes: &[u8]) -> (u64, u64) {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    (word(0), word(8))
}

impl CellKeys {
    /// The keys derived from `secret`.
    pub fn new(secret: &[u8; 32]) -> Self {
        Self {
            worker: words(&secret[..16]),
            cell: words(&secret[16..]),
        }
    }

    /// The key of the worker with `subject_key`.
    pub fn worker(&self, subject_key: &str) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.worker.0, self.worker.1);
        hasher.write(subject_key.as_bytes());
        hasher.finish()
    }

    /// The key of a cell whose workers' keys sum (wrapping) to `sum`.
    pub fn cell(&self, sum: u64) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.cell.0, self.cell.1);
        hasher.write_u64(sum);
        hasher.finish()
    }

    /// The exact cell of the distinct workers among `subject_keys`, labelled `keys`.
    pub fn cell_of<'a>(
        &self,
        keys: Vec<String>,
        subject_keys: impl IntoIterator<Item = &'a str>,
    ) -> ExactCell {
        let distinct: HashSet<&str> = subject_keys.into_iter().collect();
        let sum = distinct
            .iter()
            .fold(0u64, |sum, subject| sum.wrapping_add(self.worker(subject)));
        ExactCell {
            keys,
            workers: distinct.len() as u64,
            cell_key: self.cell(sum),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_workers_make_the_same_cell_however_listed() {
        let keys = CellKeys::new(&[7; 32]);
        let a = keys.cell_of(Vec::new(), ["s1", "s2", "s3"]);
        let b = keys.cell_of(Vec::new(), ["s3", "s1", "s2", "s1"]);
        assert_eq!(a, b);
        assert_eq!(a.workers, 3);
        assert_ne!(a.cell_key, keys.cell_of(Vec::new(), ["s1", "s2"]).cell_key);
        let other = CellKeys::new(&[8; 32]);
        assert_ne!(
            a.cell_key,
            other.cell_of(Vec::new(), ["s1", "s2", "s3"]).cell_key
        );
    }
}
