//! Attacks on the counts' protection, as a Kemendag caller would make them, against the real
//! exchange with its default protection (cell-key noise weights 3,9,16,9,3; threshold 5; 20
//! workers under a filter) over a synthetic population. Each attack targets small cells: a
//! regency's workers of one occupation, in one country, returning in one month, 1 to 4 of
//! them. Each test prints the attacker's success rate (the estimate equal to the true count)
//! beside that of a blind guess, and fails if the attack does better than the guess by more
//! than a few points. SECURITY.md ("Counts") quotes these figures.

use std::collections::BTreeMap;

use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{self, AvailabilityFilter, GroupBy, QueryAvailabilityRequest};
use jembatan_store::{Dimension, PlacementFilter, Store};
use jembatan_tests::placements::{push, stated, workforce};
use jembatan_tests::{RunningExchange, TestPki, config, on_both_databases, open_store};
use tonic::Code;

/// Records in the population: about 1% of a year's placements, so small cells abound.
const POPULATION: usize = 12_000;
/// Most small cells attacked per test.
const TARGETS: usize = 40;
/// How much better than a blind guess an attack may do, in points of success rate: the
/// noise of a handful of targets.
const MARGIN: f64 = 0.15;

/// A cell attacked: `regency ∧ occupation ∧ country ∧ month`, and its true count.
#[derive(Debug, Clone)]
struct Target {
    regency: String,
    occupation: String,
    country: String,
    month: String,
    workers: u64,
}

impl Target {
    fn province(&self) -> &str {
        &self.regency[..2]
    }
}

/// The exchange, Kemendag's client and the store (for the truth); and, for comparison, a
/// second exchange on the same database that publishes exact counts (no noise, the same
/// threshold and minimum): what the attacks recover there, the noise takes away.
struct Setting {
    exchange: RunningExchange,
    kemendag: jembatan_client::Client,
    unprotected: RunningExchange,
    exact: jembatan_client::Client,
    store: Store,
    latest: u64,
}

/// Which exchange an attack asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counts {
    /// The exchange as configured by default.
    Perturbed,
    /// The comparison without noise.
    Exact,
}

async fn setting(pki: &TestPki, url: &str) -> Setting {
    let mut config = config(pki, url, "");
    // Counts follow changes when asked (min_change), not on a timer.
    config.placements.count_refresh_ms = 3_600_000;
    // The attacks ask thousands of questions in seconds; the per-caller rate limit would slow
    // them to 100 a second. What they recover is the perturbation's to bound, so the rate is
    // raised here: the figures hold for an attacker who asks for weeks.
    config.limits.read_per_sec = 1e6;
    config.limits.read_burst = 1_000_000;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("kp2mi");
    let today = time::macros::date!(2026 - 12 - 02);
    let mut generator = jembatan_demo::Generator::new(0x1d, 0.6, today);
    let mut latest = 0;
    for _ in 0..POPULATION / 1_000 {
        let batch: Vec<v1::Placement> = (0..1_000).map(|_| generator.placement()).collect();
        let pushed = push(&kp2mi, batch).await;
        for result in &pushed.results {
            if let Some(receipt) = &result.receipt {
                latest = latest.max(receipt.leaf_index);
            }
        }
    }
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("kemendag");
    config.placements.count_noise = vec![1];
    let unprotected = RunningExchange::start(&config).await;
    let exact = unprotected
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("kemendag, exact");
    let store = open_store(pki, url).await;
    Setting {
        exchange,
        kemendag,
        unprotected,
        exact,
        store,
        latest,
    }
}

/// The small cells to attack: 1 to 4 workers, in a province whose matching workers are many
/// enough (20) for cells of that province to be shown at all.
async fn targets(store: &Store) -> Vec<Target> {
    let all = PlacementFilter::default();
    let cells = store
        .count_workers(
            &all,
            &[
                Dimension::Regency,
                Dimension::Occupation,
                Dimension::DestinationCountry,
                Dimension::ReturnMonth,
            ],
        )
        .await
        .expect("cells");
    let provinces: BTreeMap<Vec<String>, u64> = store
        .count_workers(
            &all,
            &[
                Dimension::Province,
                Dimension::Occupation,
                Dimension::DestinationCountry,
                Dimension::ReturnMonth,
            ],
        )
        .await
        .expect("province cells")
        .into_iter()
        .collect();
    let mut targets: Vec<Target> = cells
        .into_iter()
        .filter(|(keys, workers)| (1..=4).contains(workers) && !keys[3].is_empty())
        .map(|(keys, workers)| Target {
            regency: keys[0].clone(),
            occupation: keys[1].clone(),
            country: keys[2].clone(),
            month: keys[3].clone(),
            workers,
        })
        .filter(|t| {
            let key = vec![
                t.province().to_owned(),
                t.occupation.clone(),
                t.country.clone(),
                t.month.clone(),
            ];
            provinces.get(&key).is_some_and(|&n| n >= 25)
        })
        .collect();
    // Spread over the population, not the first province in code order.
    targets.sort_by_key(|t| (t.workers, t.month.clone(), t.regency.clone()));
    let step = (targets.len() / TARGETS).max(1);
    let targets: Vec<Target> = targets.into_iter().step_by(step).take(TARGETS).collect();
    assert!(
        targets.len() >= 10,
        "only {} small cells to attack: the population is too small",
        targets.len()
    );
    targets
}

/// Small cells that are the only small one of their province's regencies (same occupation,
/// same country, or both; any return date), every other regency counting 5 or more: the
/// case complementary suppression was for, where on exact counts the province's total minus
/// its other regencies is the small cell.
async fn lonely_targets(store: &Store) -> Vec<Target> {
    let mut found = Vec::new();
    let shapes: [&[Dimension]; 3] = [
        &[Dimension::Occupation, Dimension::DestinationCountry],
        &[Dimension::Occupation],
        &[Dimension::DestinationCountry],
    ];
    for shape in shapes {
        let mut dimensions = vec![Dimension::Province];
        dimensions.extend_from_slice(shape);
        dimensions.push(Dimension::Regency);
        let cells = store
            .count_workers(&PlacementFilter::default(), &dimensions)
            .await
            .expect("cells");
        let mut margins: BTreeMap<Vec<String>, Vec<(String, u64)>> = BTreeMap::new();
        for (mut keys, workers) in cells {
            let regency = keys.pop().unwrap_or_default();
            margins.entry(keys).or_default().push((regency, workers));
        }
        for (margin, regencies) in margins {
            let total: u64 = regencies.iter().map(|(_, n)| n).sum();
            let small: Vec<&(String, u64)> = regencies.iter().filter(|(_, n)| *n < 5).collect();
            if let [(regency, workers)] = small[..]
                && total >= 25
            {
                let value = |dimension: Dimension| {
                    shape
                        .iter()
                        .position(|d| *d == dimension)
                        .map(|i| margin[i + 1].clone())
                        .unwrap_or_default()
                };
                found.push(Target {
                    regency: regency.clone(),
                    occupation: value(Dimension::Occupation),
                    country: value(Dimension::DestinationCountry),
                    month: String::new(),
                    workers: *workers,
                });
            }
        }
    }
    found.truncate(TARGETS);
    found
}

/// The first (or last) day of month `YYYY-MM`.
fn date(text: &str, last: bool) -> Option<v1::Date> {
    let (year, month) = text.split_once('-')?;
    let (year, month): (i32, i32) = (year.parse().ok()?, month.parse().ok()?);
    let day = if last {
        let next = time::Date::from_calendar_date(
            year + month / 12,
            time::Month::try_from((month % 12 + 1) as u8).ok()?,
            1,
        )
        .ok()?;
        i32::from(next.previous_day()?.day())
    } else {
        1
    };
    Some(v1::Date { year, month, day })
}

/// A filter of one month (`YYYY-MM`), quarter (`YYYY-Qn`) or year (`YYYY`); any time for
/// an empty period.
fn period(filter: AvailabilityFilter, period: &str) -> AvailabilityFilter {
    if period.is_empty() {
        return filter;
    }
    let (from, to) = if let Some((year, quarter)) = period.split_once("-Q") {
        let first: i32 = (quarter.parse::<i32>().unwrap_or(1) - 1) * 3 + 1;
        (
            format!("{year}-{first:02}"),
            format!("{year}-{:02}", first + 2),
        )
    } else if period.len() == 4 {
        (format!("{period}-01"), format!("{period}-12"))
    } else {
        (period.to_owned(), period.to_owned())
    };
    AvailabilityFilter {
        return_from: date(&from, false),
        return_to: date(&to, true),
        ..filter
    }
}

fn quarter_of(month: &str) -> String {
    let (year, m) = month.split_once('-').unwrap_or(("", "1"));
    let m: u32 = m.parse().unwrap_or(1);
    format!("{year}-Q{}", (m - 1) / 3 + 1)
}

/// An answer: the published cells by keys, and the published total.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    cells: BTreeMap<Vec<String>, u64>,
    total: Option<u64>,
}

impl Setting {
    async fn ask(
        &self,
        filter: AvailabilityFilter,
        group_by: &[GroupBy],
    ) -> Result<Answer, tonic::Status> {
        self.ask_of(Counts::Perturbed, filter, group_by).await
    }

    async fn ask_of(
        &self,
        counts: Counts,
        filter: AvailabilityFilter,
        group_by: &[GroupBy],
    ) -> Result<Answer, tonic::Status> {
        let client = match counts {
            Counts::Perturbed => &self.kemendag,
            Counts::Exact => &self.exact,
        };
        let response = workforce(client)
            .query_availability(stated(
                Purpose::Statistics,
                LegalBasis::PublicTask,
                QueryAvailabilityRequest {
                    filter: Some(filter),
                    group_by: group_by.iter().map(|g| i32::from(*g)).collect(),
                    min_change: self.latest,
                },
            ))
            .await?
            .into_inner();
        assert!(
            response.perturbation.is_some(),
            "answers say they are perturbed"
        );
        Ok(Answer {
            cells: response
                .cells
                .into_iter()
                .map(|cell| (cell.keys, cell.count))
                .collect(),
            total: response.total,
        })
    }

    async fn answer(&self, filter: AvailabilityFilter, group_by: &[GroupBy]) -> Answer {
        self.answer_of(Counts::Perturbed, filter, group_by).await
    }

    async fn answer_of(
        &self,
        counts: Counts,
        filter: AvailabilityFilter,
        group_by: &[GroupBy],
    ) -> Answer {
        self.ask_of(counts, filter, group_by)
            .await
            .expect("query availability")
    }

    async fn stop(self) {
        self.exchange.stop().await;
        self.unprotected.stop().await;
    }
}

/// Success rates of an attack on perturbed counts, on exact ones, and of the best blind guess
/// (the commonest true count); fails if the attack on perturbed counts beats the guess.
fn judge(attack: &str, targets: &[Target], estimates: &[Option<i64>], exact: &[Option<i64>]) {
    let exact_hits = targets
        .iter()
        .zip(exact)
        .filter(|(t, e)| **e == Some(t.workers as i64))
        .count();
    eprintln!(
        "{attack}, on exact counts: {exact_hits} of {} small cells recovered ({:.0}%)",
        targets.len(),
        exact_hits as f64 * 100.0 / targets.len() as f64
    );
    let hits = targets
        .iter()
        .zip(estimates)
        .filter(|(t, e)| **e == Some(t.workers as i64))
        .count();
    let made = estimates.iter().filter(|e| e.is_some()).count();
    let mut truths: BTreeMap<u64, usize> = BTreeMap::new();
    for t in targets {
        *truths.entry(t.workers).or_default() += 1;
    }
    let guess = truths.values().max().copied().unwrap_or(0);
    let n = targets.len() as f64;
    let (rate, blind) = (hits as f64 / n, guess as f64 / n);
    eprintln!(
        "{attack}: {hits} of {} small cells recovered exactly ({:.0}%; an estimate was possible \
         for {made}); a blind guess recovers {guess} ({:.0}%)",
        targets.len(),
        rate * 100.0,
        blind * 100.0
    );
    assert!(
        rate <= blind + MARGIN,
        "{attack}: {rate:.2} of small cells recovered, against {blind:.2} by guessing"
    );
}

/// The target's occupation and country (either empty: any).
fn base(target: &Target) -> AvailabilityFilter {
    let one = |value: &String| {
        (!value.is_empty())
            .then(|| value.clone())
            .into_iter()
            .collect()
    };
    AvailabilityFilter {
        occupation_codes: one(&target.occupation),
        destination_countries: one(&target.country),
        ..AvailabilityFilter::default()
    }
}

/// A union against one of its parts (count(A ∪ T) − count(A)), with 100 different parts A:
/// refused, since counts take one value per classification; with days, likewise.
async fn union_and_day_window_differencing_are_refused(pki: &TestPki, url: &str) {
    let setting = setting(pki, url).await;
    let targets = targets(&setting.store).await;
    let regencies: Vec<String> = jembatan_domain::Regency::all()
        .map(|r| r.code().to_owned())
        .take(100)
        .collect();
    let mut refused = 0;
    for target in targets.iter().take(3) {
        for other in &regencies {
            let union = AvailabilityFilter {
                origin_regency_codes: vec![other.clone(), target.regency.clone()],
                ..period(base(target), &target.month)
            };
            let status = setting
                .ask(union, &[])
                .await
                .expect_err("a union is refused");
            assert_eq!(status.code(), Code::InvalidArgument);
            refused += 1;
        }
        let days = AvailabilityFilter {
            origin_regency_codes: vec![target.regency.clone()],
            return_from: date(&target.month, false),
            return_to: date(&target.month, false),
            ..base(target)
        };
        let status = setting.ask(days, &[]).await.expect_err("a day is refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("filter"), "{status:?}");
    }
    eprintln!(
        "union differencing: {refused} of {refused} union queries refused (INVALID_ARGUMENT); \
         day windows refused; 0% recovered"
    );
    setting.stop().await;
}

impl Setting {
    /// A margin minus its other cells: the answer to `filter` grouped by `group_by`, its total
    /// less every shown cell but `value`'s (withheld cells count as zero: the attacker cannot
    /// know them). `None` when the total is not shown.
    async fn margin_minus_others(
        &self,
        counts: Counts,
        filter: AvailabilityFilter,
        group_by: GroupBy,
        value: &str,
    ) -> Option<i64> {
        let answer = self.answer_of(counts, filter, &[group_by]).await;
        let others: u64 = answer
            .cells
            .iter()
            .filter(|(keys, _)| keys[0] != value)
            .map(|(_, n)| n)
            .sum();
        answer.total.map(|total| total as i64 - others as i64)
    }

    /// For each target, its province's count minus the province's other regencies (same
    /// occupation, country and month), on perturbed counts and on exact ones.
    async fn province_minus_others(&self, targets: &[Target]) -> [Vec<Option<i64>>; 2] {
        let mut estimates = [Vec::new(), Vec::new()];
        for (i, counts) in [Counts::Perturbed, Counts::Exact].into_iter().enumerate() {
            for target in targets {
                let in_province = AvailabilityFilter {
                    origin_province_codes: vec![target.province().to_owned()],
                    ..period(base(target), &target.month)
                };
                estimates[i].push(
                    self.margin_minus_others(
                        counts,
                        in_province,
                        GroupBy::Regency,
                        &target.regency,
                    )
                    .await,
                );
            }
        }
        estimates
    }
}

/// The province's count minus those of its other regencies, and a grouped answer's total
/// minus its shown cells.
async fn margins_minus_shown_cells_do_not_recover_small_cells(pki: &TestPki, url: &str) {
    let setting = setting(pki, url).await;
    let targets = targets(&setting.store).await;
    let [province_minus, province_minus_exact] = setting.province_minus_others(&targets).await;
    let mut total_minus = [Vec::new(), Vec::new()];
    for (i, counts) in [Counts::Perturbed, Counts::Exact].into_iter().enumerate() {
        for target in &targets {
            // Every regency, grouped, against the ungrouped total of the same filter.
            let everywhere = period(base(target), &target.month);
            let grouped = setting
                .answer_of(counts, everywhere.clone(), &[GroupBy::Regency])
                .await;
            let ungrouped = setting.answer_of(counts, everywhere, &[]).await;
            assert_eq!(
                grouped.total, ungrouped.total,
                "the same workers get the same count, grouped or not"
            );
            total_minus[i].push(
                ungrouped
                    .total
                    .map(|total| total as i64 - grouped.cells.values().sum::<u64>() as i64),
            );
        }
    }
    let [total_minus, total_minus_exact] = total_minus;
    judge(
        "province total minus its other regencies",
        &targets,
        &province_minus,
        &province_minus_exact,
    );
    judge(
        "grouped against ungrouped totals",
        &targets,
        &total_minus,
        &total_minus_exact,
    );

    // Where the small cell is the only one of its margin, exact counts give it away.
    let lonely = lonely_targets(&setting.store).await;
    let estimates = setting.province_minus_others(&lonely).await;
    let recovered = |estimates: &[Option<i64>]| {
        lonely
            .iter()
            .zip(estimates)
            .filter(|(t, e)| **e == Some(t.workers as i64))
            .count()
    };
    assert!(
        lonely.len() >= 5,
        "only {} lonely small cells",
        lonely.len()
    );
    assert!(
        recovered(&estimates[1]) * 10 >= lonely.len() * 8,
        "the attack works on exact counts"
    );
    judge(
        "province total minus its other regencies, the small cell alone in its province",
        &lonely,
        &estimates[0],
        &estimates[1],
    );
    setting.stop().await;
}

/// Windows in time: the month's quarter (and year) minus its other months, in the target's
/// regency.
async fn period_differencing_does_not_recover_small_cells(pki: &TestPki, url: &str) {
    let setting = setting(pki, url).await;
    let targets = targets(&setting.store).await;
    let mut estimates = [Vec::new(), Vec::new()];
    for (i, counts) in [Counts::Perturbed, Counts::Exact].into_iter().enumerate() {
        for target in &targets {
            let mut found = Vec::new();
            for window in [quarter_of(&target.month), target.month[..4].to_owned()] {
                let filter = AvailabilityFilter {
                    origin_regency_codes: vec![target.regency.clone()],
                    ..period(base(target), &window)
                };
                found.extend(
                    setting
                        .margin_minus_others(counts, filter, GroupBy::ReturnMonth, &target.month)
                        .await,
                );
            }
            estimates[i].push(average(&found));
        }
    }
    judge(
        "date-window (month, quarter, year) differencing",
        &targets,
        &estimates[0],
        &estimates[1],
    );
    setting.stop().await;
}

fn average(estimates: &[i64]) -> Option<i64> {
    (!estimates.is_empty())
        .then(|| (estimates.iter().sum::<i64>() as f64 / estimates.len() as f64).round() as i64)
}

/// Every legal difference whose result is the target, averaged: the margins of each
/// classification (region, ISCO levels, country, period), each also narrowed by every
/// condition the attacker knows all of the target's workers meet (an attacker who knows
/// them: an upper bound), so that the pairs differ and their noise averages out.
async fn averaging_every_legal_pair_does_not_recover_small_cells(pki: &TestPki, url: &str) {
    let setting = setting(pki, url).await;
    let targets = targets(&setting.store).await;
    let mut estimates = [Vec::new(), Vec::new()];
    let mut pairs = 0;
    for (i, counts) in [Counts::Perturbed, Counts::Exact].into_iter().enumerate() {
        for target in &targets {
            let narrowings = narrowings(&setting.store, target).await;
            let mut found = Vec::new();
            for narrowing in &narrowings {
                // Margins: a coarser value of one classification, minus its other values.
                let cell = AvailabilityFilter {
                    origin_regency_codes: vec![target.regency.clone()],
                    ..period(narrow(base(target), narrowing), &target.month)
                };
                let margins: Vec<(AvailabilityFilter, GroupBy, &str)> = vec![
                    (
                        AvailabilityFilter {
                            origin_regency_codes: Vec::new(),
                            origin_province_codes: vec![target.province().to_owned()],
                            ..cell.clone()
                        },
                        GroupBy::Regency,
                        &target.regency,
                    ),
                    (
                        AvailabilityFilter {
                            destination_countries: Vec::new(),
                            ..cell.clone()
                        },
                        GroupBy::DestinationCountry,
                        &target.country,
                    ),
                    (
                        period(cell.clone(), &quarter_of(&target.month)),
                        GroupBy::ReturnMonth,
                        &target.month,
                    ),
                    (
                        AvailabilityFilter {
                            occupation_codes: vec![target.occupation[..3].to_owned()],
                            ..cell.clone()
                        },
                        GroupBy::Occupation,
                        &target.occupation,
                    ),
                    (
                        AvailabilityFilter {
                            occupation_codes: vec![target.occupation[..1].to_owned()],
                            ..cell.clone()
                        },
                        GroupBy::Occupation,
                        &target.occupation,
                    ),
                ];
                for (filter, group_by, value) in margins {
                    if let Some(estimate) = setting
                        .margin_minus_others(counts, filter, group_by, value)
                        .await
                    {
                        found.push(estimate);
                        pairs += usize::from(counts == Counts::Perturbed);
                    }
                }
            }
            estimates[i].push(average(&found));
        }
    }
    eprintln!(
        "averaging: {pairs} differences over {} targets ({:.1} a target)",
        targets.len(),
        pairs as f64 / targets.len() as f64
    );
    judge(
        "averaging every legal pair",
        &targets,
        &estimates[0],
        &estimates[1],
    );
    setting.stop().await;
}

/// Conditions every worker of `target` meets (and the empty one): status, wish to export,
/// a language, an HS chapter, a certificate scheme.
async fn narrowings(store: &Store, target: &Target) -> Vec<AvailabilityFilter> {
    let cell = PlacementFilter {
        occupation_codes: vec![target.occupation.clone()],
        origin_regencies: vec![target.regency.clone()],
        destination_countries: vec![target.country.clone()],
        return_from: Some(format!("{}-01", target.month)),
        return_to: Some(format!("{}-31", target.month)),
        ..PlacementFilter::default()
    };
    let mut found = vec![AvailabilityFilter::default()];
    let meets = |narrowed: PlacementFilter, as_filter: AvailabilityFilter| async move {
        let n = store
            .count_workers(&narrowed, &[])
            .await
            .expect("count")
            .first()
            .map_or(0, |(_, n)| *n);
        (n == target.workers).then_some(as_filter)
    };
    let statuses = ["RETURNED", "CONTRACT_ENDED", "WORKING", "DEPARTED"];
    for (status, code) in statuses.iter().zip([5, 4, 3, 2]) {
        let narrowed = PlacementFilter {
            statuses: vec![(*status).to_owned()],
            ..cell.clone()
        };
        let filter = AvailabilityFilter {
            statuses: vec![code],
            ..AvailabilityFilter::default()
        };
        found.extend(meets(narrowed, filter).await);
    }
    let narrowed = PlacementFilter {
        wants_to_export: true,
        ..cell.clone()
    };
    let filter = AvailabilityFilter {
        wants_to_export: true,
        ..AvailabilityFilter::default()
    };
    found.extend(meets(narrowed, filter).await);
    for language in ["en", "zh", "ms", "ja", "ko", "ar"] {
        let narrowed = PlacementFilter {
            languages: vec![language.to_owned()],
            ..cell.clone()
        };
        let filter = AvailabilityFilter {
            languages: vec![language.to_owned()],
            ..AvailabilityFilter::default()
        };
        found.extend(meets(narrowed, filter).await);
    }
    found
}

/// `filter` narrowed by the conditions of `narrowing`.
fn narrow(filter: AvailabilityFilter, narrowing: &AvailabilityFilter) -> AvailabilityFilter {
    AvailabilityFilter {
        statuses: narrowing.statuses.clone(),
        wants_to_export: narrowing.wants_to_export,
        languages: narrowing.languages.clone(),
        ..filter
    }
}

/// One question asked 1,000 times gets one answer: nothing to average.
async fn a_question_repeated_gets_one_answer(pki: &TestPki, url: &str) {
    let setting = setting(pki, url).await;
    let targets = targets(&setting.store).await;
    let target = &targets[0];
    let filter = AvailabilityFilter {
        origin_province_codes: vec![target.province().to_owned()],
        ..period(base(target), &target.month)
    };
    let first = setting.answer(filter.clone(), &[GroupBy::Regency]).await;
    for _ in 1..1_000 {
        assert_eq!(
            setting.answer(filter.clone(), &[GroupBy::Regency]).await,
            first
        );
    }
    let shown = first.cells.contains_key(&vec![target.regency.clone()]);
    assert!(!shown, "the small cell is not shown");
    eprintln!(
        "one question 1,000 times: 1 distinct answer; the small cell never shown; 0% recovered"
    );
    setting.stop().await;
}

on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    union_and_day_window_differencing_are_refused,
    margins_minus_shown_cells_do_not_recover_small_cells,
    period_differencing_does_not_recover_small_cells,
    averaging_every_legal_pair_does_not_recover_small_cells,
    a_question_repeated_gets_one_answer,
);
