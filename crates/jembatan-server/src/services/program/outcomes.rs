//! Program outcomes as published: per program (or per program and province of origin), counts
//! of workers perturbed and withheld as availability counts are (the cell-key method), and the
//! sum of export deals protected against disclosing one worker's deals.
//!
//! The sum of export deals is published only with the enrolled count, and only when no worker's
//! deals are more than half of it (the dominance rule of business statistics); it is moved by
//! the noise of its cell times a quarter of the largest deal and rounded to the nearest
//! thousand dollars, so that subtracting the sums of other cells from a total leaves an
//! estimate, not a worker's figure.

use std::collections::BTreeMap;

use jembatan_counts::{CellKeys, ExactCell, Perturbation};
use jembatan_proto::v1::ProgramOutcome;
use jembatan_store::programs::OutcomeRow;

/// Export deals are published rounded to this many dollars.
const DEALS_ROUNDING: u64 = 1000;

/// The enrolments of one program (and province).
#[derive(Default)]
struct Group<'a> {
    enrolled: Vec<&'a str>,
    completed: Vec<&'a str>,
    dropped: Vec<&'a str>,
    businesses: Vec<&'a str>,
    deals: Vec<(&'a str, u64)>,
}

/// The published outcomes of `rows`, per program, or per program and province of origin when
/// `by_province`, in program (then province) order.
pub(super) fn publish(
    rows: &[OutcomeRow],
    by_province: bool,
    keys: &CellKeys,
    perturbation: &Perturbation,
) -> Vec<ProgramOutcome> {
    let mut groups: BTreeMap<(&str, &str), Group<'_>> = BTreeMap::new();
    let mut programs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for row in rows {
        let province = if by_province {
            row.origin_province.as_str()
        } else {
            ""
        };
        let subject = row.subject_key.as_str();
        programs.entry(&row.program_id).or_default().push(subject);
        let group = groups.entry((&row.program_id, province)).or_default();
        group.enrolled.push(subject);
        match row.status.as_str() {
            "COMPLETED" => group.completed.push(subject),
            "DROPPED" => group.dropped.push(subject),
            _ => {}
        }
        if row.business_started {
            group.businesses.push(subject);
        }
        let deals = u64::try_from(row.export_deals_usd).unwrap_or(0);
        if deals > 0 {
            group.deals.push((subject, deals));
        }
    }
    groups
        .into_iter()
        .map(|((program_id, province), group)| {
            // A program's provinces are shown only when the program as a whole may be.
            let program_total = keys.cell_of(Vec::new(), programs[program_id].iter().copied());
            let shown = !by_province || perturbation.shows_cells_of(&program_total);
            let count = |workers: &[&str]| {
                shown
                    .then(|| {
                        perturbation.publish(&keys.cell_of(Vec::new(), workers.iter().copied()))
                    })
                    .flatten()
            };
            let enrolled = count(&group.enrolled);
            let export_deals_usd = enrolled.and_then(|_| deals(&group.deals, keys, perturbation));
            let completed = count(&group.completed);
            let dropped = count(&group.dropped);
            let businesses_started = count(&group.businesses);
            let suppressed = [
                enrolled,
                completed,
                dropped,
                businesses_started,
                export_deals_usd,
            ]
            .iter()
            .any(Option::is_none);
            ProgramOutcome {
                program_id: program_id.to_owned(),
                enrolled,
                completed,
                dropped,
                businesses_started,
                export_deals_usd,
                suppressed,
                origin_province: province.to_owned(),
            }
        })
        .collect()
}

/// The published sum of `deals` (worker, dollars), if it may be published.
fn deals(deals: &[(&str, u64)], keys: &CellKeys, perturbation: &Perturbation) -> Option<u64> {
    let sum: u64 = deals.iter().map(|(_, d)| *d).fold(0, u64::saturating_add);
    if sum == 0 {
        return Some(0);
    }
    let largest = deals.iter().map(|(_, d)| *d).max().unwrap_or(0);
    if largest > sum / 2 {
        return None;
    }
    let cell: ExactCell = keys.cell_of(Vec::new(), deals.iter().map(|(s, _)| *s));
    let noise = perturbation.table.noise(cell.cell_key);
    let moved = i128::from(sum) + i128::from(noise) * i128::from(largest / 4);
    let moved = u64::try_from(moved.max(0)).unwrap_or(u64::MAX);
    Some((moved + DEALS_ROUNDING / 2) / DEALS_ROUNDING * DEALS_ROUNDING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jembatan_counts::NoiseTable;

    fn row(program: &str, province: &str, n: u32, status: &str, deals: i64) -> OutcomeRow {
        OutcomeRow {
            program_id: program.to_owned(),
            origin_province: province.to_owned(),
            subject_key: format!("subject-{n}"),
            status: status.to_owned(),
            business_started: deals > 0,
            export_deals_usd: deals,
        }
    }

    fn perturbation() -> Perturbation {
        Perturbation {
            table: NoiseTable::new(&[1, 2, 1]).expect("table"),
            threshold: 5,
            minimum_workers: 5,
        }
    }

    #[test]
    fn counts_are_near_the_truth_small_ones_withheld() {
        let keys = CellKeys::new(&[3; 32]);
        let mut rows: Vec<OutcomeRow> = (0..40)
            .map(|n| {
                row(
                    "P1",
                    "33",
                    n,
                    if n < 30 { "COMPLETED" } else { "ENROLLED" },
                    0,
                )
            })
            .collect();
        rows.extend((100..103).map(|n| row("P2", "33", n, "DROPPED", 0)));
        let outcomes = publish(&rows, false, &keys, &perturbation());
        assert_eq!(outcomes.len(), 2);
        let p1 = &outcomes[0];
        assert!(p1.enrolled.is_some_and(|n| n.abs_diff(40) <= 1), "{p1:?}");
        assert!(p1.completed.is_some_and(|n| n.abs_diff(30) <= 1), "{p1:?}");
        assert_eq!(p1.dropped, None, "no one dropped: zero is not published");
        assert!(p1.suppressed);
        let p2 = &outcomes[1];
        assert_eq!((p2.enrolled, p2.dropped), (None, None), "3 workers");
        assert_eq!(
            p2.export_deals_usd, None,
            "withheld with the enrolled count"
        );
        // Asking again gives the same figures.
        assert_eq!(publish(&rows, false, &keys, &perturbation()), outcomes);
    }

    #[test]
    fn one_dominant_deal_withholds_the_sum() {
        let keys = CellKeys::new(&[3; 32]);
        let mut rows: Vec<OutcomeRow> = (0..20)
            .map(|n| row("P1", "33", n, "COMPLETED", 10_000))
            .collect();
        let spread = publish(&rows, false, &keys, &perturbation());
        let sum = spread[0].export_deals_usd.expect("published");
        assert!(sum.abs_diff(200_000) <= 6_000, "{sum}");
        assert_eq!(sum % DEALS_ROUNDING, 0);
        rows.push(row("P1", "33", 99, "COMPLETED", 1_000_000));
        let dominated = publish(&rows, false, &keys, &perturbation());
        assert_eq!(dominated[0].export_deals_usd, None);
        assert!(dominated[0].suppressed);
    }

    #[test]
    fn provinces_of_a_small_program_are_not_shown() {
        let keys = CellKeys::new(&[3; 32]);
        let rows: Vec<OutcomeRow> = (0..3).map(|n| row("P1", "33", n, "ENROLLED", 0)).collect();
        let outcomes = publish(&rows, true, &keys, &perturbation());
        assert_eq!(outcomes[0].origin_province, "33");
        assert_eq!(outcomes[0].enrolled, None);
    }
}
