//! The cell-key method (the Australian Bureau of Statistics' TableBuilder; ONS, Census 2021):
//! every worker carries a pseudo-random key, a cell's key is a keyed hash of the sum of its
//! workers' keys, and a fixed table maps the cell key to a small noise added to the count. The
//! same set of workers always gets the same count, so asking again, or asking for the same
//! cell another way (grouped or as a filter), gains nothing.
//!
//! A cell of fewer workers than the threshold is never published, whatever its noise, and
//! neither is a count that the noise takes under the threshold: an absent cell may hold from
//! zero up to `threshold + max_noise - 1` workers. Zero is never moved.

use crate::CountsError;
use crate::index::ExactCell;

/// Largest noise a table may add: beyond it counts lose their use.
const MAX_NOISE: usize = 5;

/// A perturbation table: the weight of each noise from `-d` to `+d`, symmetric so that
/// perturbed counts are unbiased.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseTable {
    weights: Vec<u32>,
    /// Upper bounds of each noise's share of the 64-bit cell-key space, cumulative.
    bounds: Vec<u128>,
}

impl NoiseTable {
    /// The table of `weights` for noise `-d..=d` (an odd number of weights, symmetric, the
    /// middle and outer ones non-zero).
    pub fn new(weights: &[u32]) -> Result<Self, CountsError> {
        let invalid = |reason: &str| CountsError::NoiseTable(reason.to_owned());
        if weights.len().is_multiple_of(2) || weights.len() > 2 * MAX_NOISE + 1 {
            return Err(invalid(&format!(
                "an odd number of weights, at most {}, for noise -d..=d",
                2 * MAX_NOISE + 1
            )));
        }
        if weights.iter().ne(weights.iter().rev()) {
            return Err(invalid(
                "weights must be symmetric, so that counts stay unbiased",
            ));
        }
        let middle = weights.len() / 2;
        if weights[middle] == 0 || weights[0] == 0 {
            return Err(invalid(
                "the middle weight (no noise) and the outer ones (the largest noise) must not \
                 be zero: leave out noise that never occurs",
            ));
        }
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        let mut bounds = Vec::with_capacity(weights.len());
        let mut cumulative = 0u128;
        for &weight in weights {
            cumulative += u128::from(weight);
            bounds.push((cumulative << 64) / total);
        }
        Ok(Self {
            weights: weights.to_vec(),
            bounds,
        })
    }

    /// The largest noise, up or down.
    pub fn max_noise(&self) -> u32 {
        u32::try_from(self.weights.len() / 2).unwrap_or(u32::MAX)
    }

    /// The noise's variance.
    pub fn variance(&self) -> f64 {
        let d = self.weights.len() as f64 / 2.0 - 0.5;
        let total: f64 = self.weights.iter().map(|&w| f64::from(w)).sum();
        self.weights
            .iter()
            .enumerate()
            .map(|(i, &w)| f64::from(w) * (i as f64 - d).powi(2))
            .sum::<f64>()
            / total
    }

    /// The table's name, its weights: e.g. `weights 3,9,16,9,3`.
    pub fn name(&self) -> String {
        let weights: Vec<String> = self.weights.iter().map(u32::to_string).collect();
        format!("weights {}", weights.join(","))
    }

    /// The noise for `cell_key`.
    pub fn noise(&self, cell_key: u64) -> i64 {
        let at = u128::from(cell_key);
        let index = self
            .bounds
            .iter()
            .position(|&bound| at < bound)
            .unwrap_or(self.bounds.len() - 1);
        index as i64 - i64::from(self.max_noise())
    }
}

/// How counts are published: the noise table, the threshold under which nothing is, and the
/// fewest workers a whole filter must match before any cell of it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Perturbation {
    /// The noise table.
    pub table: NoiseTable,
    /// Counts (true or perturbed) under this are not published.
    pub threshold: u64,
    /// Fewest workers (perturbed) the whole filter must match before any cell is published.
    pub minimum_workers: u64,
}

impl Perturbation {
    /// The published count of `cell`, if any.
    pub fn publish(&self, cell: &ExactCell) -> Option<u64> {
        if cell.workers < self.threshold {
            return None;
        }
        let noise = self.table.noise(cell.cell_key);
        let perturbed = cell.workers.checked_add_signed(noise)?;
        (perturbed >= self.threshold).then_some(perturbed)
    }

    /// Whether cells of a filter whose total is `total` may be published.
    pub fn shows_cells_of(&self, total: &ExactCell) -> bool {
        self.publish(total)
            .is_some_and(|count| count >= self.minimum_workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(workers: u64, cell_key: u64) -> ExactCell {
        ExactCell {
            keys: Vec::new(),
            workers,
            cell_key,
        }
    }

    #[test]
    fn tables_must_be_odd_symmetric_and_bounded() {
        assert!(NoiseTable::new(&[3, 9, 16, 9, 3]).is_ok());
        assert!(NoiseTable::new(&[1, 2]).is_err());
        assert!(NoiseTable::new(&[1, 2, 3]).is_err());
        assert!(NoiseTable::new(&[0, 0, 0]).is_err());
        assert!(
            NoiseTable::new(&[0, 0, 1, 0, 0]).is_err(),
            "no noise, claiming ±2"
        );
        assert!(NoiseTable::new(&[1, 0, 1]).is_err(), "never the true count");
        assert!(NoiseTable::new(&[1]).is_ok(), "no noise, said as such");
        assert!(NoiseTable::new(&[1; 13]).is_err());
    }

    #[test]
    fn noise_follows_the_weights_over_the_key_space() {
        let table = NoiseTable::new(&[3, 9, 16, 9, 3]).expect("table");
        assert_eq!(table.max_noise(), 2);
        assert!((table.variance() - 1.05).abs() < 1e-9);
        assert_eq!(table.noise(0), -2);
        assert_eq!(table.noise(u64::MAX), 2);
        // Keys spread evenly give each noise its weight's share.
        let mut seen = [0u32; 5];
        for i in 0..40_000u64 {
            // The middle of the i-th of 40,000 equal spans of the key space.
            let key = u64::try_from((u128::from(2 * i + 1) << 63) / 40_000).expect("in range");
            seen[(table.noise(key) + 2) as usize] += 1;
        }
        assert_eq!(seen, [3_000, 9_000, 16_000, 9_000, 3_000]);
    }

    #[test]
    fn small_cells_are_never_published_and_zero_stays_unpublished() {
        let perturbation = Perturbation {
            table: NoiseTable::new(&[1, 1, 1, 1, 1]).expect("table"),
            threshold: 5,
            minimum_workers: 20,
        };
        for key in [0, u64::MAX / 2, u64::MAX] {
            for workers in 0..5 {
                assert_eq!(perturbation.publish(&cell(workers, key)), None);
            }
        }
        // At the threshold, noise down withholds; noise up publishes.
        assert_eq!(perturbation.publish(&cell(5, 0)), None);
        assert_eq!(perturbation.publish(&cell(5, u64::MAX)), Some(7));
        assert_eq!(perturbation.publish(&cell(100, u64::MAX / 2)), Some(100));
        assert!(!perturbation.shows_cells_of(&cell(19, u64::MAX / 2)));
        assert!(perturbation.shows_cells_of(&cell(20, u64::MAX / 2)));
    }
}
