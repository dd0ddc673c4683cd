//! Program outcomes as published: per program (or per program and province of origin), counts
//! of workers perturbed and withheld as availability counts are (the cell-key method), and the
//! sum of export deals protected against disclosing one worker's deals.
//!
//! The sum of export deals is a magnitude and is protected as business statistics protect
//! turnover: published only with the enrolled count, from at least as many workers with deals
//! as the threshold, when no worker's deals are more than half of it and the rest less the two
//! largest is at least a tenth of the largest (dominance and p% rules); moved by up to half the
//! largest deal (a key of its workers and of the sum decides how much) and rounded to the
//! nearest thousand dollars. Where a province's deals of a program are withheld, every province's
//! are, so that the program's total less the others does not give them.

use std::collections::BTreeMap;

use jembatan_counts::{CellKeys, ExactCell, Perturbation};
use jembatan_proto::v1::ProgramOutcome;
use jembatan_store::programs::{COMPLETED, DROPPED, OutcomeRow};

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
            COMPLETED => group.completed.push(subject),
            DROPPED => group.dropped.push(subject),
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
    let mut outcomes: Vec<ProgramOutcome> = groups
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
        .collect();
    // Secondary suppression: where one province's deals of a program are withheld, so are the
    // others', or the program's total less them would give the withheld one.
    if by_province {
        let withheld: Vec<String> = outcomes
            .iter()
            .filter(|o| o.export_deals_usd.is_none())
            .map(|o| o.program_id.clone())
            .collect();
        for outcome in &mut outcomes {
            if withheld.contains(&outcome.program_id) {
                outcome.export_deals_usd = None;
                outcome.suppressed = true;
            }
        }
    }
    outcomes
}

/// Makes the key of a cell's deals distinct from the keys of its counts.
const DEALS_KEY: u64 = 0x6465_616c_735f_7573;

/// The published sum of `deals` (worker, dollars), if it may be published: from at least
/// `threshold` workers, none more than half of it, and the sum less the two largest at least a
/// tenth of the largest (the p% rule); moved by up to half the largest deal, from a key of the
/// workers and the sum, and rounded to [`DEALS_ROUNDING`].
fn deals(deals: &[(&str, u64)], keys: &CellKeys, perturbation: &Perturbation) -> Option<u64> {
    if (deals.len() as u64) < perturbation.threshold.max(1) {
        return None;
    }
    let mut amounts: Vec<u128> = deals.iter().map(|(_, d)| u128::from(*d)).collect();
    amounts.sort_unstable_by(|a, b| b.cmp(a));
    let sum: u128 = amounts.iter().sum();
    let (largest, second) = (amounts[0], amounts.get(1).copied().unwrap_or(0));
    if largest * 2 > sum || (sum - largest - second) * 10 < largest {
        return None;
    }
    let cell: ExactCell = keys.cell_of(Vec::new(), deals.iter().map(|(s, _)| *s));
    let sum_word = u64::try_from(sum).unwrap_or(u64::MAX);
    let key = keys.cell(cell.cell_key ^ DEALS_KEY ^ sum_word.rotate_left(32));
    // A share of the largest deal from -1/2 to +1/2, uniform over the key.
    let share = (key >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    let moved = sum as f64 + share * largest as f64;
    let rounded = (moved.max(0.0) / DEALS_ROUNDING as f64).round() * DEALS_ROUNDING as f64;
    // Below 2^64 as the sums of at most u32::MAX enrolments of at most 10^11 dollars are.
    Some(rounded.min(u64::MAX as f64) as u64)
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

    #[test]
    fn deals_of_few_workers_or_of_two_big_ones_are_withheld() {
        let keys = CellKeys::new(&[3; 32]);
        let few: Vec<OutcomeRow> = (0..20)
            .map(|n| row("P1", "33", n, "COMPLETED", if n < 4 { 10_000 } else { 0 }))
            .collect();
        assert_eq!(
            publish(&few, false, &keys, &perturbation())[0].export_deals_usd,
            None
        );
        // Two deals of 40,000 and a tail of 1,000 each: the tail is under a tenth of the
        // largest, so either big one would learn the other's figure.
        let two_big: Vec<OutcomeRow> = (0..20)
            .map(|n| {
                let deals = match n {
                    0 | 1 => 40_000,
                    2..=4 => 1_000,
                    _ => 0,
                };
                row("P1", "33", n, "COMPLETED", deals)
            })
            .collect();
        assert_eq!(
            publish(&two_big, false, &keys, &perturbation())[0].export_deals_usd,
            None
        );
    }

    #[test]
    fn a_withheld_province_withholds_the_other_provinces_deals() {
        let keys = CellKeys::new(&[3; 32]);
        let mut rows: Vec<OutcomeRow> = (0..30)
            .map(|n| row("P1", "33", n, "COMPLETED", 10_000))
            .collect();
        rows.extend((100..102).map(|n| row("P1", "35", n, "COMPLETED", 25_000)));
        let outcomes = publish(&rows, true, &keys, &perturbation());
        assert_eq!(outcomes.len(), 2);
        assert!(
            outcomes
                .iter()
                .all(|o| o.export_deals_usd.is_none() && o.suppressed)
        );
        assert!(
            outcomes[0].enrolled.is_some(),
            "the large province's counts stay"
        );
        // Per program, the total is published.
        assert!(
            publish(&rows, false, &keys, &perturbation())[0]
                .export_deals_usd
                .is_some()
        );
    }
}
