//! The count index against the SQL definition of the counts: for random filters and groupings,
//! its exact (unperturbed) counts equal `COUNT(DISTINCT subject_key)` over the stored
//! placements, after a load, new versions, erasures in this process and in another one, and
//! records pushed by another exchange process on the same database.

use jembatan_counts::{Availability, CountFilter, Index};
use jembatan_store::{
    Dimension, PlacementFilter, PlacementRecord, Receipt, Store, StoreError, WriteTicket,
};
use jembatan_tests::{TestPki, on_both_databases, open_store, placement_leaf};

/// A small deterministic generator (SplitMix64), so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn some(&mut self, items: &[&str]) -> Vec<String> {
        items
            .iter()
            .filter(|_| self.below(3) == 0)
            .map(|s| (*s).to_owned())
            .collect()
    }
}

const REGENCIES: &[&str] = &["35.07", "35.09", "33.01", "52.03", "73.08"];
const OCCUPATIONS: &[&str] = &["5322", "5321", "9111", "9112", "6111", "7112"];
const OCCUPATION_GROUPS: &[&str] = &["5", "53", "532", "9", "91", "6111", "7112"];
const COUNTRIES: &[&str] = &["TW", "HK", "MY", "JP"];
const STATUSES: &[&str] = &["WORKING", "RETURNED", "CONTRACT_ENDED"];
const SCHEMES: &[&str] = &["SKM-01", "SKM-02", "SKM-03"];
const LANGUAGES: &[&str] = &["en", "zh", "ja", "ms"];
const CHAPTERS: &[&str] = &["09", "21", "62"];
const DIMENSIONS: &[Dimension] = &[
    Dimension::Province,
    Dimension::Regency,
    Dimension::Occupation,
    Dimension::DestinationCountry,
    Dimension::ReturnMonth,
    Dimension::Sex,
];

/// Placement `n` of worker `worker`, its attributes drawn from `rng`.
fn record(rng: &mut Rng, n: u64, worker: u64) -> PlacementRecord {
    let regency = rng.pick(REGENCIES);
    let return_date = (rng.below(6) > 0).then(|| {
        format!(
            "{}-{:02}-{:02}",
            2026 + rng.below(2),
            1 + rng.below(12),
            1 + rng.below(28)
        )
    });
    PlacementRecord {
        placement_id: format!("P-{n:06}"),
        subject_key: format!("{worker:064x}"),
        record_key: format!("{n:032x}"),
        salt: vec![0; 16],
        digest: vec![0; 32],
        version: 1,
        updated_at: String::new(),
        profile: Vec::new(),
        sex: rng.pick(&["FEMALE", "MALE"]).to_owned(),
        origin_province: regency[..2].to_owned(),
        origin_regency: regency.to_owned(),
        occupation_code: rng.pick(OCCUPATIONS).to_owned(),
        destination_country: rng.pick(COUNTRIES).to_owned(),
        status: rng.pick(STATUSES).to_owned(),
        return_date,
        wants_to_export: rng.below(3) == 0,
        certificate_schemes: rng.some(SCHEMES),
        languages: rng.some(LANGUAGES),
        hs_chapters: rng.some(CHAPTERS),
        consent_purposes: Vec::new(),
        full_name: None,
        phone: None,
        email: None,
        change_seq: 0,
    }
}

/// Stores `records` in one logged write, each version's change its own leaf's index.
async fn push(store: &Store, mut records: Vec<PlacementRecord>) {
    let leaves = (0..records.len() as u64).map(placement_leaf).collect();
    let ticket = WriteTicket::new("kp2mi").records(records.len());
    store
        .write(ticket, move |write| {
            Box::pin(async move {
                let first = write.first_leaf_index();
                for (i, record) in records.iter_mut().enumerate() {
                    record.change_seq = first + i as u64;
                }
                write.upsert_placements(&records).await?;
                Ok::<_, StoreError>(((), leaves))
            })
        })
        .await
        .expect("push");
}

/// Erases worker `worker`; the erasure's receipt.
async fn erase(store: &Store, worker: u64) -> Receipt {
    let subject = format!("{worker:064x}");
    let ((), receipts) = store
        .write(WriteTicket::new("kp2mi"), move |write| {
            Box::pin(async move {
                let change = write.first_leaf_index();
                write
                    .erase_subject(&subject, "2026-12-02T00:00:00Z", change)
                    .await?;
                Ok::<_, StoreError>(((), vec![placement_leaf(0)]))
            })
        })
        .await
        .expect("erase");
    receipts[0]
}

/// A random count filter and grouping.
fn question(rng: &mut Rng) -> (CountFilter, Vec<Dimension>) {
    let maybe =
        |rng: &mut Rng, items: &[&str]| (rng.below(3) == 0).then(|| rng.pick(items).to_owned());
    let regency = maybe(rng, REGENCIES);
    let province = if regency.is_none() {
        maybe(rng, &["35", "33", "52", "73", "11"])
    } else {
        None
    };
    let return_months = match rng.below(4) {
        0 => vec![format!("{}-{:02}", 2026 + rng.below(2), 1 + rng.below(12))],
        1 => {
            let first = 1 + 3 * rng.below(4);
            (first..first + 3).map(|m| format!("2026-{m:02}")).collect()
        }
        2 => (1..=12).map(|m| format!("2027-{m:02}")).collect(),
        _ => Vec::new(),
    };
    let filter = CountFilter {
        occupation: maybe(rng, OCCUPATION_GROUPS),
        certificate_scheme: maybe(rng, SCHEMES),
        province,
        regency,
        country: maybe(rng, COUNTRIES),
        language: maybe(rng, LANGUAGES),
        status: maybe(rng, STATUSES),
        return_months,
        wants_to_export: rng.below(4) == 0,
        hs_chapter: maybe(rng, CHAPTERS),
    };
    let mut dimensions = Vec::new();
    for _ in 0..rng.below(4) {
        let dimension = DIMENSIONS[rng.below(DIMENSIONS.len())];
        if !dimensions.contains(&dimension) {
            dimensions.push(dimension);
        }
    }
    (filter, dimensions)
}

/// The SQL filter that means the same as `filter`.
fn as_sql(filter: &CountFilter) -> PlacementFilter {
    let one = |value: &Option<String>| value.iter().cloned().collect::<Vec<_>>();
    PlacementFilter {
        occupation_codes: match &filter.occupation {
            Some(group) => OCCUPATIONS
                .iter()
                .filter(|code| code.starts_with(group.as_str()))
                .map(|code| (*code).to_owned())
                .collect(),
            None => Vec::new(),
        },
        certificate_schemes: one(&filter.certificate_scheme),
        origin_provinces: one(&filter.province),
        origin_regencies: one(&filter.regency),
        destination_countries: one(&filter.country),
        languages: one(&filter.language),
        statuses: one(&filter.status),
        return_from: filter.return_months.first().map(|m| format!("{m}-01")),
        return_to: filter.return_months.last().map(|m| format!("{m}-31")),
        wants_to_export: filter.wants_to_export,
        hs_chapters: one(&filter.hs_chapter),
        consented_to: None,
    }
}

/// Asks `questions` random questions of the index and of SQL; they must agree.
async fn agree(availability: &Availability, store: &Store, rng: &mut Rng, questions: usize) {
    let mut non_empty = 0;
    for _ in 0..questions {
        let (filter, dimensions) = question(rng);
        let index = availability
            .count(&filter, &dimensions, None)
            .await
            .expect("count");
        let sql_filter = as_sql(&filter);
        let mut sql = store
            .count_workers(&sql_filter, &dimensions)
            .await
            .expect("sql");
        sql.sort();
        let cells: Vec<(Vec<String>, u64)> = index
            .cells
            .iter()
            .map(|cell| (cell.keys.clone(), cell.workers))
            .collect();
        assert_eq!(cells, sql, "{filter:?} by {dimensions:?}");
        let total = store
            .count_workers(&sql_filter, &[])
            .await
            .expect("sql total")
            .first()
            .map_or(0, |(_, count)| *count);
        assert_eq!(index.total.workers, total, "total of {filter:?}");
        non_empty += usize::from(total > 0);
    }
    assert!(
        non_empty * 3 > questions,
        "only {non_empty} of {questions} questions matched anyone: the test is too easy"
    );
}

async fn the_index_counts_what_sql_counts(pki: &TestPki, url: &str) {
    let seed = 0x6a65_6d62;
    let mut rng = Rng(seed);
    let store = open_store(pki, url).await;
    // About one worker in ten has two placements or more.
    let mut next = 0u64;
    let mut batch = |rng: &mut Rng, n: usize| -> Vec<PlacementRecord> {
        (0..n)
            .map(|_| {
                next += 1;
                let worker = if rng.below(10) == 0 && next > 1 {
                    rng.below(next as usize - 1) as u64 + 1
                } else {
                    next
                };
                record(rng, next, worker)
            })
            .collect()
    };
    push(&store, batch(&mut rng, 600)).await;
    // Small batches, so that loading and following take many.
    let availability = Availability::load_in_batches(store.clone(), &[7; 32], 7)
        .await
        .expect("load");
    agree(&availability, &store, &mut rng, 100).await;

    // New records, new versions of old ones (some moved to another worker), erasures.
    push(&store, batch(&mut rng, 400)).await;
    let mut again: Vec<u64> = (0..80).map(|_| rng.below(600) as u64 + 1).collect();
    again.sort_unstable();
    again.dedup();
    let again: Vec<PlacementRecord> = again
        .into_iter()
        .map(|n| {
            let worker = if rng.below(4) == 0 { 5_000 + n } else { n };
            record(&mut rng, n, worker)
        })
        .collect();
    push(&store, again).await;
    for worker in [3, 10, 11, 250, 599] {
        let erasure = erase(&store, worker).await;
        if worker % 2 == 1 {
            // Through this process: gone from counts at once.
            availability.erase(&format!("{worker:064x}"), erasure.leaf_index);
        }
    }
    // Another exchange process on the same database pushes and erases.
    let other = open_store(pki, url).await;
    push(&other, batch(&mut rng, 300)).await;
    erase(&other, 42).await;
    // A worker erased earlier comes back with a new placement.
    push(&other, vec![record(&mut rng, 9_999, 10)]).await;
    let through = availability.refresh().await.expect("refresh");
    assert_eq!(
        through,
        Some(store.log_size().await.expect("size") - 1),
        "the index reflects every change"
    );
    agree(&availability, &store, &mut rng, 300).await;
}

/// A refresh that read a worker's record before the worker was erased through this process
/// applies after the erasure: the worker stays out.
async fn a_refresh_read_before_a_local_erasure_does_not_bring_the_worker_back(
    pki: &TestPki,
    url: &str,
) {
    let store = open_store(pki, url).await;
    let mut rng = Rng(7);
    push(&store, (1..=30).map(|n| record(&mut rng, n, n)).collect()).await;
    let mut index = Index::new(&[7; 32]);
    index.apply(&store.placement_changes(None, 1_000).await.expect("changes"));
    let workers = |index: &Index| index.count(&CountFilter::default(), &[]).total.workers;
    assert_eq!(workers(&index), 30);

    // Worker 5 has a new version, which a refresh reads...
    push(&store, vec![record(&mut rng, 5, 5)]).await;
    let read = store
        .placement_changes(index.through(), 1_000)
        .await
        .expect("changes");
    assert_eq!(read.placements.len(), 1);
    // ...then the worker is erased through this process, which applies the erasure at once...
    let erasure = erase(&store, 5).await;
    index.erase(&format!("{:064x}", 5), erasure.leaf_index);
    assert_eq!(workers(&index), 29);
    // ...and only then does the refresh apply what it read.
    index.apply(&read);
    assert_eq!(workers(&index), 29, "the erased worker came back");
    index.apply(
        &store
            .placement_changes(index.through(), 1_000)
            .await
            .expect("changes"),
    );
    assert_eq!(workers(&index), 29);
    assert_eq!(index.through(), Some(erasure.leaf_index));
}

on_both_databases!(
    the_index_counts_what_sql_counts,
    a_refresh_read_before_a_local_erasure_does_not_bring_the_worker_back,
);
