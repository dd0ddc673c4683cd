//! Export programs end to end, on SQLite and PostgreSQL over real mutual TLS: Kemendag publishes
//! programs (validated, versioned), KP2MI lists them by date, kind and regency and enrols
//! workers whose consent covers capacity building (capacity respected, versioned), erasure and
//! withdrawal of consent reach enrolments, and Kemendag reads the outcomes as protected counts.

use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    self, Enrollment, EnrollmentStatus, ExportProgram, ListProgramsRequest, ProgramKind,
    QueryProgramOutcomesRequest, RecordOutcome,
};
use jembatan_store::Store;
use jembatan_tests::market::date;
use jembatan_tests::placements::{as_kp2mi, placement, placements, push, stated};
use jembatan_tests::programs::{
    enrol, enrollment, for_capacity_building, list_ids, on_consent, outcomes, program, programs,
    publish, stored_enrollments, stored_programs,
};
use jembatan_tests::{RunningExchange, TestPki, config, days_from_today, leaf_of, open_store};
use tonic::Code;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    each_invalid_program_is_rejected_naming_its_field,
    republished_programs_are_idempotent_and_versions_ordered,
    programs_are_listed_by_date_kind_and_regency_with_its_province_and_the_nation,
    enrolment_needs_a_placement_consenting_to_capacity_building,
    each_invalid_enrolment_is_rejected_naming_its_field,
    capacity_is_respected_and_a_dropped_enrolment_frees_its_place,
    enrolments_are_idempotent_and_versions_ordered,
    enrolments_are_recorded_on_consent_only,
    erasure_and_withdrawal_of_consent_reach_enrolments,
    a_placement_pushed_without_the_consent_ends_the_enrolments,
    an_enrolment_keeps_its_program_and_its_worker,
    a_worker_sees_their_enrolments_in_their_history,
    outcomes_are_perturbed_suppressed_and_stable,
    outcomes_by_province_and_dominated_deals,
    each_agency_is_held_to_its_side,
);

/// An exchange with the test config's count protection (the defaults: threshold 5, noise up to
/// ±2, the cell-key method).
async fn start(pki: &TestPki, url: &str) -> (RunningExchange, Store) {
    start_with(pki, url, |_| {}).await
}

/// An exchange whose counts have no noise, shown from 5 workers on: for tests that assert what
/// is counted, not how it is protected.
async fn start_exact(pki: &TestPki, url: &str) -> (RunningExchange, Store) {
    start_with(pki, url, |config| {
        config.placements.count_noise = vec![1];
        config.placements.count_minimum_workers = 5;
    })
    .await
}

async fn start_with(
    pki: &TestPki,
    url: &str,
    change: impl FnOnce(&mut jembatan_server::Config),
) -> (RunningExchange, Store) {
    let mut config = config(pki, url, "");
    change(&mut config);
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    (exchange, store)
}

async fn kemendag(exchange: &RunningExchange, pki: &TestPki) -> Client {
    exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect kemendag")
}

async fn kp2mi(exchange: &RunningExchange, pki: &TestPki) -> Client {
    exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi")
}

/// `program(n)` changed by `change`.
fn varied(n: u32, change: impl FnOnce(&mut ExportProgram)) -> ExportProgram {
    let mut record = program(n);
    change(&mut record);
    record
}

/// The NIK of worker `n` (of [`placement`]).
fn nik(n: u32) -> String {
    placement(n).nik
}

/// Worker `n`'s enrolment `n` in program `p` ([`program`]).
fn enrolled(n: u32, p: u32) -> Enrollment {
    enrollment(n, &program(p).program_id, &nik(n))
}

/// `enrollment` changed by `change`.
fn changed(mut record: Enrollment, change: impl FnOnce(&mut Enrollment)) -> Enrollment {
    change(&mut record);
    record
}

/// Asserts that `result` is REJECTED without a receipt, with a violation of `field` whose
/// reason says `reason`.
fn assert_rejected(result: &v1::RecordResult, field: &str, reason: &str) {
    if let Some(mismatch) = rejection_mismatch(result, field, reason) {
        panic!("{mismatch}");
    }
}

/// Unless `result` is REJECTED without a receipt, with a violation of `field` whose reason says
/// `reason`: what it is instead.
fn rejection_mismatch(result: &v1::RecordResult, field: &str, reason: &str) -> Option<String> {
    let said = result
        .violations
        .iter()
        .any(|v| v.field == field && v.description.to_lowercase().contains(reason));
    let rejected = result.outcome() == RecordOutcome::Rejected && result.receipt.is_none();
    (!(said && rejected)).then(|| {
        format!(
            "{field} saying {reason:?}: {:?} {:?}",
            result.outcome(),
            result.violations
        )
    })
}

/// Asserts that each of `results` is rejected as its case says: `(field after the record's
/// path, part of the reason)`.
fn assert_each_rejected<'a>(
    record: &str,
    results: &[v1::RecordResult],
    cases: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mismatches: Vec<String> = results
        .iter()
        .zip(cases)
        .enumerate()
        .filter_map(|(i, (result, (field, reason)))| {
            rejection_mismatch(result, &format!("{record}[{}].{field}", i + 1), reason)
        })
        .collect();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

async fn each_invalid_program_is_rejected_naming_its_field(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let cases = vec![
        (
            varied(1, |p| p.regency_codes = vec!["35.68".into()]),
            "regency_codes[0]",
            "regency",
        ),
        (
            varied(2, |p| p.regency_codes = vec!["35".into(), "10".into()]),
            "regency_codes[1]",
            "province",
        ),
        (
            varied(3, |p| {
                p.regency_codes = vec!["35.07".into(), "35.07".into()]
            }),
            "regency_codes[1]",
            "duplicate",
        ),
        (
            varied(4, |p| p.hs_chapters = vec!["77".into()]),
            "hs_chapters[0]",
            "chapter",
        ),
        (
            varied(5, |p| p.hs_chapters = vec!["09".into(), "0901".into()]),
            "hs_chapters[1]",
            "chapter",
        ),
        (
            varied(6, |p| p.hs_chapters = vec!["09".into(), "09".into()]),
            "hs_chapters[1]",
            "duplicate",
        ),
        (
            varied(7, |p| p.target_countries = vec!["XX".into()]),
            "target_countries[0]",
            "iso 3166",
        ),
        (
            varied(8, |p| p.target_countries = vec!["HK".into(), "HK".into()]),
            "target_countries[1]",
            "duplicate",
        ),
        (
            varied(9, |p| {
                p.starts_on = date(2026, 6, 1);
                p.ends_on = date(2026, 5, 31);
            }),
            "ends_on",
            "before",
        ),
        (
            varied(10, |p| p.starts_on = date(2026, 2, 30)),
            "starts_on",
            "no day 30",
        ),
        (varied(11, |p| p.kind = 0), "kind", "is required"),
        (varied(12, |p| p.name = String::new()), "name", "required"),
        (varied(13, |p| p.name = "n".repeat(201)), "name", "200"),
        (
            varied(14, |p| p.description = "d".repeat(4001)),
            "description",
            "4000",
        ),
        (
            varied(15, |p| p.organizer = String::new()),
            "organizer",
            "is required",
        ),
        (
            varied(16, |p| p.program_id = "PRG 16!".into()),
            "program_id",
            "letters, digits",
        ),
    ];
    let mut batch = vec![program(0)];
    batch.extend(cases.iter().map(|(record, _, _)| record.clone()));
    batch.push(program(99));
    let published = publish(&kemendag, batch).await;
    let summary = published.summary.expect("summary");
    assert_eq!(
        (summary.stored, summary.rejected),
        (2, cases.len() as u32),
        "{:#?}",
        published.results
    );
    for (result, (record, _, _)) in published.results[1..].iter().zip(&cases) {
        assert_eq!(result.record_id, record.program_id);
    }
    assert_each_rejected(
        "programs",
        &published.results[1..],
        cases.iter().map(|&(_, field, reason)| (field, reason)),
    );
    assert_eq!(
        stored_programs(&store).await,
        [program(0).program_id, program(99).program_id]
    );
    // Nationwide (no regency) and unlimited (capacity 0) programs are valid.
    let nationwide = varied(100, |p| {
        p.regency_codes = Vec::new();
        p.target_countries = Vec::new();
        p.starts_on = date(2026, 5, 1);
        p.ends_on = date(2026, 5, 1);
    });
    let published = publish(&kemendag, vec![nationwide]).await;
    assert_eq!(published.results[0].outcome(), RecordOutcome::Stored);
    exchange.stop().await;
}

async fn republished_programs_are_idempotent_and_versions_ordered(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let first = publish(&kemendag, vec![program(1)]).await;
    assert_eq!(first.results[0].outcome(), RecordOutcome::Stored);
    let again = publish(&kemendag, vec![program(1)]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Unchanged);
    assert!(again.results[0].receipt.is_some());
    let newer = varied(1, |p| {
        p.version = 2;
        p.capacity = 40;
    });
    let stored = publish(&kemendag, vec![newer.clone()]).await;
    assert_eq!(stored.results[0].outcome(), RecordOutcome::Stored);
    let stale = publish(&kemendag, vec![program(1)]).await;
    assert_eq!(stale.results[0].outcome(), RecordOutcome::Stale);
    assert!(stale.results[0].receipt.is_some());
    let conflicting = varied(1, |p| {
        p.version = 2;
        p.capacity = 50;
    });
    let refused = publish(&kemendag, vec![conflicting]).await;
    assert_rejected(&refused.results[0], "programs[0].version", "version");

    let listed = programs(&kp2mi)
        .list_programs(for_capacity_building(ListProgramsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.programs, [newer], "version 2 as sent");
    let mut keys = Vec::new();
    for result in [&first, &again, &stored, &stale].map(|r| &r.results[0]) {
        let leaf = leaf_of(&store, result.receipt.as_ref().expect("receipt")).await;
        assert_eq!(leaf.method, "ProgramService/PublishPrograms");
        assert_eq!(leaf.record_type, "program");
        keys.push(leaf.record_key);
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    exchange.stop().await;
}

/// A program of the listing test: `(n, areas, kind, first day, last day)`.
type ProgramSpec = (
    u32,
    &'static [&'static str],
    ProgramKind,
    (i32, i32, i32),
    (i32, i32, i32),
);

async fn programs_are_listed_by_date_kind_and_regency_with_its_province_and_the_nation(
    pki: &TestPki,
    url: &str,
) {
    use ProgramKind::{DesaBisaEkspor, TradeMission, Training, UmkmBisaEkspor};
    let (exchange, _store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let specs: [ProgramSpec; 7] = [
        (1, &["35.07"], DesaBisaEkspor, (2026, 1, 1), (2026, 12, 31)),
        (2, &["35"], UmkmBisaEkspor, (2026, 1, 1), (2026, 12, 31)),
        (3, &[], Training, (2026, 1, 1), (2026, 12, 31)),
        (4, &["33"], DesaBisaEkspor, (2026, 1, 1), (2026, 12, 31)),
        (5, &["35.73"], DesaBisaEkspor, (2026, 1, 1), (2026, 12, 31)),
        (6, &["35.07"], TradeMission, (2025, 1, 1), (2025, 6, 30)),
        (
            7,
            &["33.01", "35.07"],
            DesaBisaEkspor,
            (2026, 7, 1),
            (2026, 9, 30),
        ),
    ];
    let records = specs
        .iter()
        .map(|&(n, areas, kind, from, to)| {
            varied(n, |p| {
                p.regency_codes = areas.iter().map(|&a| a.to_owned()).collect();
                p.kind = kind.into();
                p.starts_on = date(from.0, from.1, from.2);
                p.ends_on = date(to.0, to.1, to.2);
            })
        })
        .collect();
    assert_eq!(
        publish(&kemendag, records)
            .await
            .summary
            .expect("summary")
            .stored,
        7
    );
    let ids = |numbers: &[u32]| -> Vec<String> {
        numbers.iter().map(|&n| program(n).program_id).collect()
    };
    let kinds = |kinds: &[ProgramKind]| kinds.iter().map(|&k| i32::from(k)).collect();
    let cases: Vec<(&str, ListProgramsRequest, Vec<String>)> = vec![
        (
            "everything",
            ListProgramsRequest::default(),
            ids(&[1, 2, 3, 4, 5, 6, 7]),
        ),
        (
            "a regency: its own, its province's and nationwide programs",
            ListProgramsRequest {
                regency_codes: vec!["35.07".into()],
                ..Default::default()
            },
            ids(&[1, 2, 3, 6, 7]),
        ),
        (
            "a regency of another province",
            ListProgramsRequest {
                regency_codes: vec!["33.01".into()],
                ..Default::default()
            },
            ids(&[3, 4, 7]),
        ),
        (
            "a regency with no program of its own",
            ListProgramsRequest {
                regency_codes: vec!["32.01".into()],
                ..Default::default()
            },
            ids(&[3]),
        ),
        (
            "regencies ORed",
            ListProgramsRequest {
                regency_codes: vec!["35.73".into(), "33.01".into()],
                ..Default::default()
            },
            ids(&[2, 3, 4, 5, 7]),
        ),
        (
            "running on a date",
            ListProgramsRequest {
                active_on: date(2026, 3, 1),
                ..Default::default()
            },
            ids(&[1, 2, 3, 4, 5]),
        ),
        (
            "running on a program's first and last days",
            ListProgramsRequest {
                active_on: date(2026, 9, 30),
                regency_codes: vec!["33.01".into()],
                ..Default::default()
            },
            ids(&[3, 4, 7]),
        ),
        (
            "a past date",
            ListProgramsRequest {
                active_on: date(2025, 1, 1),
                ..Default::default()
            },
            ids(&[6]),
        ),
        (
            "a kind",
            ListProgramsRequest {
                kinds: kinds(&[DesaBisaEkspor]),
                ..Default::default()
            },
            ids(&[1, 4, 5, 7]),
        ),
        (
            "filters ANDed",
            ListProgramsRequest {
                kinds: kinds(&[DesaBisaEkspor, Training]),
                regency_codes: vec!["35.07".into()],
                active_on: date(2026, 8, 1),
                ..Default::default()
            },
            ids(&[1, 3, 7]),
        ),
    ];
    for (name, request, expected) in cases {
        let mut listed = list_ids(&kp2mi, request).await;
        let count = listed.len();
        listed.sort_unstable();
        listed.dedup();
        assert_eq!(listed.len(), count, "{name}: no duplicates");
        assert_eq!(listed, expected, "{name}");
    }

    // Pages of 2 cover each program once, in the order of one page.
    let one_page = list_ids(&kp2mi, ListProgramsRequest::default()).await;
    let paged = list_ids(
        &kp2mi,
        ListProgramsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(paged, one_page);
    let first = programs(&kp2mi)
        .list_programs(for_capacity_building(ListProgramsRequest {
            page_size: 2,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.programs.len(), 2);
    assert!(!first.next_page_token.is_empty());

    for (name, request) in [
        (
            "a token the exchange did not make",
            ListProgramsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
        ),
        (
            "a province where a regency is asked for",
            ListProgramsRequest {
                regency_codes: vec!["35".into()],
                ..Default::default()
            },
        ),
        (
            "an unknown regency",
            ListProgramsRequest {
                regency_codes: vec!["35.68".into()],
                ..Default::default()
            },
        ),
    ] {
        let status = programs(&kp2mi)
            .list_programs(for_capacity_building(request))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
    }
    exchange.stop().await;
}

async fn enrolment_needs_a_placement_consenting_to_capacity_building(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let mut no_capacity_building = placement(2);
    if let Some(consent) = no_capacity_building.consent.as_mut() {
        consent.purposes = vec![v1::Purpose::BusinessMatching.into()];
    }
    push(&kp2mi, vec![placement(1), no_capacity_building]).await;
    publish(&kemendag, vec![program(1)]).await;

    let batch = vec![
        enrolled(1, 1),
        enrolled(2, 1),
        enrolled(3, 1), // worker 3 has no placement
        enrollment(4, "PRG-2026-9999", &nik(1)),
    ];
    let recorded = enrol(&kp2mi, batch).await;
    let summary = recorded.summary.expect("summary");
    assert_eq!((summary.stored, summary.rejected), (1, 3), "{recorded:#?}");
    let stored = &recorded.results[0];
    assert_eq!(stored.outcome(), RecordOutcome::Stored);
    assert_eq!(stored.record_id, "EN-2026-000001");
    let receipt = stored.receipt.as_ref().expect("receipt");
    let leaf = leaf_of(&store, receipt).await;
    assert_eq!(leaf.method, "ProgramService/RecordEnrollments");
    assert_eq!(leaf.record_type, "enrollment");
    assert_eq!(leaf.purpose, "CAPACITY_BUILDING");
    assert_eq!(leaf.legal_basis, "CONSENT");
    let text = String::from_utf8(
        store
            .leaf(receipt.leaf_index)
            .await
            .expect("leaf")
            .expect("leaf"),
    )
    .expect("utf-8");
    assert!(!text.contains(&nik(1)), "no NIK in the log");

    assert_rejected(&recorded.results[1], "enrollments[1].nik", "consent");
    assert_rejected(
        &recorded.results[1],
        "enrollments[1].nik",
        "capacity_building",
    );
    assert_rejected(&recorded.results[2], "enrollments[2].nik", "placement");
    assert_rejected(&recorded.results[3], "enrollments[3].program_id", "program");
    for result in &recorded.results[1..] {
        for violation in &result.violations {
            assert!(
                !violation.description.contains("3507"),
                "no NIK echoed: {violation:?}"
            );
        }
    }
    assert_eq!(stored_enrollments(&store).await, ["EN-2026-000001"]);

    // Once the worker's placement consents to capacity building, the enrolment is taken.
    let mut consents_now = placement(2);
    consents_now.version = 2;
    if let Some(consent) = consents_now.consent.as_mut() {
        consent.granted_at = Some(prost_types::Timestamp {
            seconds: time::OffsetDateTime::now_utc().unix_timestamp(),
            nanos: 0,
        });
    }
    push(&kp2mi, vec![consents_now]).await;
    let recorded = enrol(&kp2mi, vec![enrolled(2, 1)]).await;
    assert_eq!(recorded.results[0].outcome(), RecordOutcome::Stored);
    exchange.stop().await;
}

async fn each_invalid_enrolment_is_rejected_naming_its_field(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, (0..10).map(placement).collect()).await;
    publish(&kemendag, vec![program(1)]).await;
    let cases = [
        (
            changed(enrolled(1, 1), |e| e.nik = "3507014508900000".into()),
            "nik",
            "serial",
        ),
        (
            changed(enrolled(2, 1), |e| e.nik = "12345".into()),
            "nik",
            "16 digits",
        ),
        (
            changed(enrolled(3, 1), |e| e.enrolled_on = days_from_today(3)),
            "enrolled_on",
            "future",
        ),
        (
            changed(enrolled(4, 1), |e| e.status = 0),
            "status",
            "is required",
        ),
        (
            changed(enrolled(5, 1), |e| {
                e.status = EnrollmentStatus::Completed.into();
                e.export_deals_usd = 5_000;
            }),
            "export_deals_usd",
            "business_started",
        ),
        (
            changed(enrolled(6, 1), |e| e.enrollment_id = "EN 6!".into()),
            "enrollment_id",
            "letters, digits",
        ),
        (
            changed(enrolled(7, 1), |e| e.program_id = String::new()),
            "program_id",
            "1 to 64",
        ),
    ];
    let mut batch = vec![enrolled(0, 1)];
    batch.extend(cases.iter().map(|(record, _, _)| record.clone()));
    batch.push(enrolled(9, 1));
    let recorded = enrol(&kp2mi, batch).await;
    let summary = recorded.summary.expect("summary");
    assert_eq!(
        (summary.stored, summary.rejected),
        (2, cases.len() as u32),
        "{recorded:#?}"
    );
    assert_each_rejected(
        "enrollments",
        &recorded.results[1..],
        cases.iter().map(|&(_, field, reason)| (field, reason)),
    );
    for result in &recorded.results[1..] {
        for violation in &result.violations {
            assert!(
                !violation.description.contains("3507"),
                "no NIK echoed: {violation:?}"
            );
        }
    }
    assert_eq!(
        stored_enrollments(&store).await,
        ["EN-2026-000000", "EN-2026-000009"]
    );
    exchange.stop().await;
}

async fn capacity_is_respected_and_a_dropped_enrolment_frees_its_place(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, (0..5).map(placement).collect()).await;
    publish(&kemendag, vec![varied(1, |p| p.capacity = 2), program(2)]).await;

    let recorded = enrol(&kp2mi, vec![enrolled(0, 1), enrolled(1, 1), enrolled(2, 1)]).await;
    let outcomes: Vec<RecordOutcome> = recorded.results.iter().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes,
        [
            RecordOutcome::Stored,
            RecordOutcome::Stored,
            RecordOutcome::Rejected
        ]
    );
    assert_rejected(&recorded.results[2], "enrollments[2].program_id", "is full");

    // A re-send of a place held is not a new place.
    let again = enrol(&kp2mi, vec![enrolled(1, 1)]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Unchanged);
    // The same worker in the same program under another id is refused.
    let twice = enrol(
        &kp2mi,
        vec![enrollment(50, &program(1).program_id, &nik(0))],
    )
    .await;
    assert_rejected(&twice.results[0], "enrollments[0].nik", "already");
    // A completed enrolment keeps its place.
    let completed = changed(enrolled(1, 1), |e| {
        e.version = 2;
        e.status = EnrollmentStatus::Completed.into();
    });
    assert_eq!(
        enrol(&kp2mi, vec![completed]).await.results[0].outcome(),
        RecordOutcome::Stored
    );
    assert_rejected(
        &enrol(&kp2mi, vec![enrolled(3, 1)]).await.results[0],
        "enrollments[0].program_id",
        "is full",
    );
    // A dropped one frees it, for one more worker only.
    let dropped = changed(enrolled(0, 1), |e| {
        e.version = 2;
        e.status = EnrollmentStatus::Dropped.into();
    });
    assert_eq!(
        enrol(&kp2mi, vec![dropped]).await.results[0].outcome(),
        RecordOutcome::Stored
    );
    let recorded = enrol(&kp2mi, vec![enrolled(2, 1), enrolled(3, 1)]).await;
    assert_eq!(recorded.results[0].outcome(), RecordOutcome::Stored);
    assert_rejected(&recorded.results[1], "enrollments[1].program_id", "is full");
    // A dropped worker coming back needs a free place like anyone else.
    let back = changed(enrolled(0, 1), |e| e.version = 3);
    assert_rejected(
        &enrol(&kp2mi, vec![back]).await.results[0],
        "enrollments[0].program_id",
        "is full",
    );
    // A program without a limit takes them all; the limit is per program.
    let recorded = enrol(
        &kp2mi,
        (0..5)
            .map(|n| {
                changed(enrolled(n, 2), |e| {
                    e.enrollment_id = format!("EN-2026-P2-{n}");
                })
            })
            .collect(),
    )
    .await;
    assert_eq!(recorded.summary.expect("summary").stored, 5);
    assert_eq!(
        stored_enrollments(&store).await.len(),
        3 + 5,
        "workers 0 (dropped), 1 and 2 in program 1, five in program 2"
    );
    exchange.stop().await;
}

async fn enrolments_are_idempotent_and_versions_ordered(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, vec![placement(1)]).await;
    publish(&kemendag, vec![program(1)]).await;
    let original = enrolled(1, 1);
    let first = enrol(&kp2mi, vec![original.clone()]).await;
    assert_eq!(first.results[0].outcome(), RecordOutcome::Stored);
    let again = enrol(&kp2mi, vec![original.clone()]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Unchanged);
    assert!(again.results[0].receipt.is_some(), "a re-send is logged");
    let newer = changed(original.clone(), |e| {
        e.version = 2;
        e.status = EnrollmentStatus::Completed.into();
        e.business_started = true;
        e.export_deals_usd = 12_500;
    });
    let stored = enrol(&kp2mi, vec![newer]).await;
    assert_eq!(stored.results[0].outcome(), RecordOutcome::Stored);
    let stale = enrol(&kp2mi, vec![original.clone()]).await;
    assert_eq!(stale.results[0].outcome(), RecordOutcome::Stale);
    assert!(stale.results[0].receipt.is_some(), "a stale send is logged");
    let conflicting = changed(original, |e| {
        e.version = 2;
        e.status = EnrollmentStatus::Dropped.into();
    });
    let refused = enrol(&kp2mi, vec![conflicting]).await;
    assert_rejected(&refused.results[0], "enrollments[0].version", "version");
    let mut keys = Vec::new();
    for result in [&first, &again, &stored, &stale].map(|r| &r.results[0]) {
        let leaf = leaf_of(&store, result.receipt.as_ref().expect("receipt")).await;
        assert_eq!(leaf.method, "ProgramService/RecordEnrollments");
        keys.push(leaf.record_key);
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    assert_eq!(stored_enrollments(&store).await, ["EN-2026-000001"]);
    exchange.stop().await;
}

async fn enrolments_are_recorded_on_consent_only(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, vec![placement(1)]).await;
    publish(&kemendag, vec![program(1)]).await;
    for basis in [
        LegalBasis::PublicTask,
        LegalBasis::LegalObligation,
        LegalBasis::Contract,
    ] {
        let status = programs(&kp2mi)
            .record_enrollments(stated(
                Purpose::CapacityBuilding,
                basis,
                v1::RecordEnrollmentsRequest {
                    enrollments: vec![enrolled(1, 1)],
                },
            ))
            .await
            .expect_err("consent only");
        assert_eq!(status.code(), Code::PermissionDenied, "{basis:?}");
    }
    assert!(stored_enrollments(&store).await.is_empty());
    // Program monitoring on consent is allowed as well.
    let recorded = programs(&kp2mi)
        .record_enrollments(stated(
            Purpose::ProgramMonitoring,
            LegalBasis::Consent,
            v1::RecordEnrollmentsRequest {
                enrollments: vec![enrolled(1, 1)],
            },
        ))
        .await
        .expect("record")
        .into_inner();
    assert_eq!(recorded.results[0].outcome(), RecordOutcome::Stored);
    exchange.stop().await;
}

/// The outcome of program `p` in `answer`, if it has one.
fn outcome_of(answer: &v1::QueryProgramOutcomesResponse, p: u32) -> Option<&v1::ProgramOutcome> {
    answer
        .outcomes
        .iter()
        .find(|o| o.program_id == program(p).program_id)
}

async fn erasure_and_withdrawal_of_consent_reach_enrolments(pki: &TestPki, url: &str) {
    let (exchange, store) = start_exact(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, (0..9).map(placement).collect()).await;
    publish(&kemendag, vec![program(1), program(2)]).await;
    let mut batch: Vec<Enrollment> = (0..9).map(|n| enrolled(n, 1)).collect();
    batch.push(enrollment(100, &program(2).program_id, &nik(0)));
    assert_eq!(
        enrol(&kp2mi, batch).await.summary.expect("summary").stored,
        10
    );
    let enrolled_in_1 = |kemendag: Client| async move {
        let answer = outcomes(&kemendag, QueryProgramOutcomesRequest::default()).await;
        outcome_of(&answer, 1).and_then(|o| o.enrolled)
    };
    assert_eq!(enrolled_in_1(kemendag.clone()).await, Some(9));

    // Erasure: both of worker 0's enrolments go with the placement.
    let erased = placements(&kp2mi)
        .erase_personal_data(as_kp2mi(v1::ErasePersonalDataRequest {
            nik: nik(0),
            request_ref: "PDP/2026/0107".into(),
        }))
        .await
        .expect("erase")
        .into_inner();
    assert_eq!(
        (erased.placements_erased, erased.enrollments_erased),
        (1, 2)
    );
    let left = stored_enrollments(&store).await;
    assert!(!left.contains(&"EN-2026-000000".to_owned()), "{left:?}");
    assert!(!left.contains(&"EN-2026-000100".to_owned()), "{left:?}");
    assert_eq!(left.len(), 8);
    assert_eq!(enrolled_in_1(kemendag.clone()).await, Some(8));
    let answer = outcomes(&kemendag, QueryProgramOutcomesRequest::default()).await;
    assert!(
        outcome_of(&answer, 2).is_none(),
        "program 2 has no enrolment left"
    );

    // Withdrawing capacity building takes the worker's enrolments out.
    let withdraw = |n: u32, purposes: Vec<v1::Purpose>| {
        let kp2mi = kp2mi.clone();
        async move {
            placements(&kp2mi)
                .withdraw_consent(as_kp2mi(v1::WithdrawConsentRequest {
                    nik: nik(n),
                    purposes: purposes.into_iter().map(i32::from).collect(),
                    withdrawn_at: None,
                }))
                .await
                .expect("withdraw")
                .into_inner()
        }
    };
    withdraw(1, vec![v1::Purpose::CapacityBuilding]).await;
    assert!(
        !stored_enrollments(&store)
            .await
            .contains(&"EN-2026-000001".to_owned())
    );
    assert_eq!(enrolled_in_1(kemendag.clone()).await, Some(7));
    // Withdrawing another purpose leaves them.
    withdraw(2, vec![v1::Purpose::BusinessMatching]).await;
    assert!(
        stored_enrollments(&store)
            .await
            .contains(&"EN-2026-000002".to_owned())
    );
    assert_eq!(enrolled_in_1(kemendag.clone()).await, Some(7));
    // Withdrawing everything does too.
    withdraw(3, Vec::new()).await;
    assert_eq!(stored_enrollments(&store).await.len(), 6);
    assert_eq!(enrolled_in_1(kemendag.clone()).await, Some(6));

    // A worker who withdrew cannot be enrolled again until they consent again.
    let refused = enrol(&kp2mi, vec![enrolled(1, 1)]).await;
    assert_rejected(&refused.results[0], "enrollments[0].nik", "consent");
    // Nor can an erased one.
    let refused = enrol(&kp2mi, vec![enrolled(0, 1)]).await;
    assert_rejected(&refused.results[0], "enrollments[0].nik", "placement");
    exchange.stop().await;
}

/// An attack on the consent rule: KP2MI records a withdrawal in the placement itself (a new
/// version without CAPACITY_BUILDING), not through WithdrawConsent. Before the fix the worker's
/// enrolments stayed, and were counted in the outcomes.
async fn a_placement_pushed_without_the_consent_ends_the_enrolments(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, vec![placement(1), placement(2)]).await;
    publish(&kemendag, vec![program(1)]).await;
    let recorded = enrol(&kp2mi, vec![enrolled(1, 1), enrolled(2, 1)]).await;
    assert_eq!(recorded.summary.expect("summary").stored, 2);

    let mut narrowed = placement(1);
    narrowed.version += 1;
    if let Some(consent) = narrowed.consent.as_mut() {
        consent
            .purposes
            .retain(|p| *p != i32::from(v1::Purpose::CapacityBuilding));
    }
    let pushed = push(&kp2mi, vec![narrowed]).await;
    assert_eq!(pushed.summary.expect("summary").stored, 1);
    let left = stored_enrollments(&store).await;
    assert!(!left.contains(&enrolled(1, 1).enrollment_id), "{left:?}");
    assert!(left.contains(&enrolled(2, 1).enrollment_id), "{left:?}");
    // Nor can the worker be enrolled again on that placement.
    let refused = enrol(&kp2mi, vec![enrolled(1, 1)]).await;
    assert_rejected(&refused.results[0], "enrollments[0].nik", "consent");
    exchange.stop().await;
}

/// An attack on capacity and on workers' histories: a new version of an enrolment naming
/// another program and another worker. Before the fix it passed (the check looked for the
/// stored enrolment among the new worker's only), took a place in the other program and handed
/// the first worker's history to the second.
async fn an_enrolment_keeps_its_program_and_its_worker(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, vec![placement(1), placement(2)]).await;
    publish(&kemendag, vec![program(1), program(2)]).await;
    enrol(&kp2mi, vec![enrolled(1, 1)]).await;

    let moved = changed(enrolled(1, 1), |e| {
        e.version += 1;
        e.program_id = program(2).program_id;
        e.nik = nik(2);
    });
    let refused = enrol(&kp2mi, vec![moved]).await;
    assert_rejected(
        &refused.results[0],
        "enrollments[0].program_id",
        "cannot move",
    );
    let other_worker = changed(enrolled(1, 1), |e| {
        e.version += 1;
        e.nik = nik(2);
    });
    let refused = enrol(&kp2mi, vec![other_worker]).await;
    assert_rejected(
        &refused.results[0],
        "enrollments[0].nik",
        "cannot change worker",
    );
    assert_eq!(
        stored_enrollments(&store).await,
        [enrolled(1, 1).enrollment_id]
    );
    exchange.stop().await;
}

async fn a_worker_sees_their_enrolments_in_their_history(pki: &TestPki, url: &str) {
    let (exchange, _store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, vec![placement(1), placement(2)]).await;
    publish(&kemendag, vec![program(1)]).await;
    let recorded = enrol(&kp2mi, vec![enrolled(1, 1)]).await;
    let receipt = recorded.results[0].receipt.clone().expect("receipt");
    let history = |n: u32| {
        let kp2mi = kp2mi.clone();
        async move {
            v1::audit_service_client::AuditServiceClient::new(kp2mi.channel())
                .list_subject_accesses(stated(
                    Purpose::Audit,
                    LegalBasis::LegalObligation,
                    v1::ListSubjectAccessesRequest {
                        nik: nik(n),
                        ..Default::default()
                    },
                ))
                .await
                .expect("list subject accesses")
                .into_inner()
                .accesses
        }
    };
    let accesses = history(1).await;
    let enrolments: Vec<&v1::SubjectAccess> = accesses
        .iter()
        .filter(|a| a.method == "/jembatan.v1.ProgramService/RecordEnrollments")
        .collect();
    assert_eq!(enrolments.len(), 1, "{accesses:#?}");
    let access = enrolments[0];
    assert_eq!(access.leaf_index, receipt.leaf_index);
    assert_eq!(
        access.principal,
        "spiffe://test.jembatan.local/agency/kp2mi/siskop2mi"
    );
    assert_eq!(access.purpose(), v1::Purpose::CapacityBuilding);
    assert_eq!(access.legal_basis(), v1::LegalBasis::Consent);
    // Another worker's history holds no enrolment.
    assert!(
        history(2)
            .await
            .iter()
            .all(|a| a.method != "/jembatan.v1.ProgramService/RecordEnrollments")
    );
    // After erasure the log no longer links to the worker, enrolments included.
    placements(&kp2mi)
        .erase_personal_data(as_kp2mi(v1::ErasePersonalDataRequest {
            nik: nik(1),
            request_ref: "PDP/2026/0108".into(),
        }))
        .await
        .expect("erase");
    assert!(history(1).await.is_empty());
    exchange.stop().await;
}

/// Enrolments of workers `workers` in program `p`, with statuses in turn enrolled, completed
/// (with a business and `deals(n)` dollars of export deals) and dropped.
fn cohort(p: u32, workers: std::ops::Range<u32>, deals: impl Fn(u32) -> u64) -> Vec<Enrollment> {
    workers
        .map(|n| {
            let mut e = enrollment(1000 * p + n, &program(p).program_id, &nik(n));
            match n % 3 {
                0 => e.status = EnrollmentStatus::Enrolled.into(),
                1 => {
                    e.status = EnrollmentStatus::Completed.into();
                    e.business_started = true;
                    e.export_deals_usd = deals(n);
                }
                _ => e.status = EnrollmentStatus::Dropped.into(),
            }
            e
        })
        .collect()
}

/// Whether `published` is within `noise` of `truth`.
fn within(published: Option<u64>, truth: u64, noise: u64) -> bool {
    published.is_some_and(|p| p.abs_diff(truth) <= noise)
}

/// Whether `published` is a sum of export deals `truth` as published: moved by at most `noise`
/// quarters of the `largest` deal, and rounded to the nearest thousand dollars.
fn deals_within(published: Option<u64>, truth: u64, largest: u64, noise: u64) -> bool {
    published.is_some_and(|p| p % 1_000 == 0 && p.abs_diff(truth) <= noise * (largest / 4) + 500)
}

async fn outcomes_are_perturbed_suppressed_and_stable(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let noise = (config(pki, url, "").placements.count_noise.len() / 2) as u64;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    push(&kp2mi, (0..30).map(placement).collect()).await;
    publish(&kemendag, vec![program(1), program(2)]).await;
    // Program 1: 30 workers, 10 enrolled, 10 completed with a business, 10 dropped.
    // Program 2: 3 workers, under the threshold.
    let mut batch = cohort(1, 0..30, |n| 1_000 + 10 * u64::from(n));
    batch.extend(cohort(2, 0..3, |_| 2_000));
    assert_eq!(
        enrol(&kp2mi, batch).await.summary.expect("summary").stored,
        33
    );
    let deals_1: u64 = (0..30).filter(|n| n % 3 == 1).map(|n| 1_000 + 10 * n).sum();

    let before = store.log_size().await.expect("log size");
    let answer = outcomes(&kemendag, QueryProgramOutcomesRequest::default()).await;
    let after = store.log_size().await.expect("log size");
    assert_eq!(after - before, 1, "one leaf for the answer");
    let leaf = leaf_of(&store, answer.receipt.as_ref().expect("receipt")).await;
    assert_eq!(leaf.method, "ProgramService/QueryProgramOutcomes");
    assert_eq!(leaf.purpose, "PROGRAM_MONITORING");
    assert_eq!(answer.suppression_threshold, 5);
    assert_eq!(answer.outcomes.len(), 2, "{answer:#?}");

    let big = outcome_of(&answer, 1).expect("program 1");
    assert_eq!(big.origin_province, "");
    assert!(!big.suppressed, "{big:?}");
    assert!(within(big.enrolled, 30, noise), "{big:?}");
    assert!(within(big.completed, 10, noise), "{big:?}");
    assert!(within(big.dropped, 10, noise), "{big:?}");
    assert!(within(big.businesses_started, 10, noise), "{big:?}");
    assert!(
        deals_within(big.export_deals_usd, deals_1, 1_280, noise),
        "the sum of deals, {deals_1}, moved by at most its noise and rounded: {big:?}"
    );

    let small = outcome_of(&answer, 2).expect("program 2");
    assert!(small.suppressed, "{small:?}");
    assert_eq!(
        (
            small.enrolled,
            small.completed,
            small.dropped,
            small.businesses_started
        ),
        (None, None, None, None)
    );
    assert_eq!(
        small.export_deals_usd, None,
        "withheld with the enrolled count"
    );

    // The same workers give the same answer, however often asked.
    for _ in 0..3 {
        let again = outcomes(&kemendag, QueryProgramOutcomesRequest::default()).await;
        assert_eq!(again.outcomes, answer.outcomes);
    }
    // Asked for one program, the same figures.
    let one = outcomes(
        &kemendag,
        QueryProgramOutcomesRequest {
            program_ids: vec![program(1).program_id],
            by_origin_province: false,
        },
    )
    .await;
    assert_eq!(one.outcomes, std::slice::from_ref(big));
    exchange.stop().await;
}

async fn outcomes_by_province_and_dominated_deals(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let noise = (config(pki, url, "").placements.count_noise.len() / 2) as u64;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    // Workers 0-19 from Kabupaten Malang (35), 20-35 from Kabupaten Cilacap (33).
    let records = (0..36)
        .map(|n| {
            let mut p = placement(n);
            if n >= 20 {
                p.origin_regency_code = "33.01".into();
            }
            p
        })
        .collect();
    push(&kp2mi, records).await;
    publish(&kemendag, vec![program(1), program(2)]).await;
    // Program 1: all 36 workers. Program 2: 24 workers, one of whom closed most of the deals.
    let mut batch = cohort(1, 0..36, |_| 1_500);
    batch.extend(cohort(2, 0..24, |n| if n == 1 { 100_000 } else { 1_000 }));
    assert_eq!(
        enrol(&kp2mi, batch).await.summary.expect("summary").stored,
        60
    );

    let answer = outcomes(
        &kemendag,
        QueryProgramOutcomesRequest {
            program_ids: vec![program(1).program_id],
            by_origin_province: true,
        },
    )
    .await;
    let mut rows: Vec<(&str, &str)> = answer
        .outcomes
        .iter()
        .map(|o| (o.program_id.as_str(), o.origin_province.as_str()))
        .collect();
    rows.sort_unstable();
    let id = program(1).program_id;
    assert_eq!(rows, [(id.as_str(), "33"), (id.as_str(), "35")]);
    for (province, workers) in [("35", 20), ("33", 16)] {
        let row = answer
            .outcomes
            .iter()
            .find(|o| o.origin_province == province)
            .expect("row");
        assert!(within(row.enrolled, workers, noise), "{row:?}");
    }
    let leaf = leaf_of(&store, answer.receipt.as_ref().expect("receipt")).await;
    assert_eq!(leaf.method, "ProgramService/QueryProgramOutcomes");

    // Program 2: worker 1's 100,000 of 107,000 dollars: the sum would give it away.
    let answer = outcomes(
        &kemendag,
        QueryProgramOutcomesRequest {
            program_ids: vec![program(2).program_id],
            by_origin_province: false,
        },
    )
    .await;
    assert_eq!(answer.outcomes.len(), 1);
    let dominated = &answer.outcomes[0];
    assert!(within(dominated.enrolled, 24, noise), "{dominated:?}");
    assert_eq!(dominated.export_deals_usd, None, "one worker dominates");
    assert!(dominated.suppressed, "a figure is withheld");
    // Program 1 has no dominant worker: its sum is shown.
    let answer = outcomes(
        &kemendag,
        QueryProgramOutcomesRequest {
            program_ids: vec![program(1).program_id],
            by_origin_province: false,
        },
    )
    .await;
    assert!(
        deals_within(
            answer.outcomes[0].export_deals_usd,
            12 * 1_500,
            1_500,
            noise
        ),
        "{:?}",
        answer.outcomes[0]
    );
    exchange.stop().await;
}

async fn each_agency_is_held_to_its_side(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kemendag = kemendag(&exchange, pki).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let status = programs(&kp2mi)
        .publish_programs(for_capacity_building(v1::PublishProgramsRequest {
            programs: vec![program(1)],
        }))
        .await
        .expect_err("KP2MI does not publish");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(stored_programs(&store).await.is_empty());
    publish(&kemendag, vec![program(1)]).await;
    push(&kp2mi, vec![placement(1)]).await;
    let status = programs(&kemendag)
        .record_enrollments(on_consent(v1::RecordEnrollmentsRequest {
            enrollments: vec![enrolled(1, 1)],
        }))
        .await
        .expect_err("Kemendag does not enrol");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = programs(&kemendag)
        .list_programs(for_capacity_building(ListProgramsRequest::default()))
        .await
        .expect_err("Kemendag lists its programs elsewhere");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = programs(&kp2mi)
        .query_program_outcomes(stated(
            Purpose::ProgramMonitoring,
            LegalBasis::PublicTask,
            QueryProgramOutcomesRequest::default(),
        ))
        .await
        .expect_err("KP2MI does not read outcomes");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = programs(&kemendag)
        .query_program_outcomes(stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            QueryProgramOutcomesRequest::default(),
        ))
        .await
        .expect_err("not for business matching");
    assert_eq!(status.code(), Code::PermissionDenied);
    exchange.stop().await;
}
