//! Small-cell suppression of grouped counts.
//!
//! A cell counting fewer workers than the threshold is suppressed (primary suppression). So
//! that no suppressed cell can be recovered by subtracting the others from a margin (the same
//! query grouped by one dimension less, which the caller can ask for), every line of cells that
//! differ in one dimension only holds either no suppressed cell or at least two: where a line
//! holds exactly one, its smallest other cell is suppressed too (complementary suppression),
//! until that holds everywhere. The total is withheld whenever any cell is suppressed.

use std::collections::HashMap;

/// One cell: its keys, its count, and whether the count is withheld.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cell {
    /// The cell's value for each dimension.
    pub(crate) keys: Vec<String>,
    /// Distinct workers.
    pub(crate) count: u64,
    /// The count is withheld.
    pub(crate) suppressed: bool,
}

/// Suppresses `cells` (each with one key per dimension) for `threshold`; returns whether any
/// cell is suppressed, in which case the total must be withheld.
pub(crate) fn suppress(cells: &mut [Cell], threshold: u64) -> bool {
    for cell in cells.iter_mut() {
        cell.suppressed = cell.count < threshold;
    }
    let dimensions = cells.first().map_or(0, |cell| cell.keys.len());
    loop {
        let mut changed = false;
        for dimension in 0..dimensions {
            let mut lines: HashMap<Vec<&str>, Vec<usize>> = HashMap::new();
            for (i, cell) in cells.iter().enumerate() {
                let line: Vec<&str> = cell
                    .keys
                    .iter()
                    .enumerate()
                    .filter(|(d, _)| *d != dimension)
                    .map(|(_, key)| key.as_str())
                    .collect();
                lines.entry(line).or_default().push(i);
            }
            let mut lines: Vec<Vec<usize>> = lines.into_values().collect();
            lines.sort_unstable();
            for members in lines {
                let hidden = members.iter().filter(|&&i| cells[i].suppressed).count();
                if hidden != 1 {
                    continue;
                }
                let partner = members
                    .iter()
                    .copied()
                    .filter(|&i| !cells[i].suppressed)
                    .min_by(|&a, &b| {
                        cells[a]
                            .count
                            .cmp(&cells[b].count)
                            .then_with(|| cells[a].keys.cmp(&cells[b].keys))
                    });
                if let Some(partner) = partner {
                    cells[partner].suppressed = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    cells.iter().any(|cell| cell.suppressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(keys: &[&str], count: u64) -> Cell {
        Cell {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            count,
            suppressed: false,
        }
    }

    fn hidden(cells: &[Cell]) -> Vec<Vec<String>> {
        cells
            .iter()
            .filter(|c| c.suppressed)
            .map(|c| c.keys.clone())
            .collect()
    }

    #[test]
    fn nothing_under_the_threshold_hides_nothing() {
        let mut cells = vec![cell(&["35"], 10), cell(&["33"], 5)];
        assert!(!suppress(&mut cells, 5));
        assert!(hidden(&cells).is_empty());
    }

    #[test]
    fn one_small_cell_takes_the_smallest_other_of_its_line_with_it() {
        let mut cells = vec![cell(&["35"], 40), cell(&["33"], 3), cell(&["32"], 9)];
        assert!(suppress(&mut cells, 5));
        assert_eq!(
            hidden(&cells),
            vec![vec!["33".to_owned()], vec!["32".to_owned()]]
        );
    }

    #[test]
    fn two_small_cells_in_a_line_need_no_partner() {
        let mut cells = vec![cell(&["35"], 40), cell(&["33"], 3), cell(&["32"], 1)];
        suppress(&mut cells, 5);
        assert_eq!(hidden(&cells).len(), 2);
    }

    #[test]
    fn every_line_in_every_dimension_hides_zero_or_at_least_two() {
        // Province × sex. Suppressing (33, MALE) alone would be recoverable from the province
        // margin (33 grouped by province) and from the sex margin.
        let mut cells = vec![
            cell(&["35", "FEMALE"], 50),
            cell(&["35", "MALE"], 30),
            cell(&["33", "FEMALE"], 20),
            cell(&["33", "MALE"], 2),
            cell(&["32", "FEMALE"], 25),
            cell(&["32", "MALE"], 12),
        ];
        suppress(&mut cells, 5);
        for dimension in 0..2 {
            let mut lines: HashMap<String, usize> = HashMap::new();
            for c in &cells {
                let line = c.keys[1 - dimension].clone();
                *lines.entry(line).or_default() += usize::from(c.suppressed);
            }
            for (line, count) in lines {
                assert_ne!(count, 1, "line {line} in dimension {dimension}: {cells:?}");
            }
        }
        assert!(hidden(&cells).contains(&vec!["33".to_owned(), "MALE".to_owned()]));
    }

    #[test]
    fn a_single_total_cell_is_hidden_when_small() {
        let mut cells = vec![cell(&[], 3)];
        assert!(suppress(&mut cells, 5));
        let mut cells = vec![cell(&[], 7)];
        assert!(!suppress(&mut cells, 5));
    }
}
