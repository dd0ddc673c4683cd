//! The placement exchange end to end, on SQLite and PostgreSQL over real mutual TLS: KP2MI
//! pushes placements (validated, idempotent, versioned), Kemendag counts and lists consented
//! workers under pseudonyms and watches for new ones, and every record pushed or returned has
//! its audit leaf.

use std::time::Duration;

use futures_util::StreamExt;
use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    self, AvailabilityFilter, GroupBy, ListCandidatesRequest, QueryAvailabilityRequest,
    RecordOutcome, WatchAvailabilityRequest,
};
use jembatan_store::{LeafFilter, Store};
use jembatan_tests::placements::{as_kp2mi, placement, placements, push, stated, workforce};
use jembatan_tests::store::{hold_writer, stored_placements};
use jembatan_tests::{PgDatabase, RunningExchange, TestPki, config, open_store};
use tonic::Code;
use tonic_types::StatusExt;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_valid_batch_is_stored_counted_and_listed,
    invalid_records_are_rejected_with_their_fields_and_nothing_of_them_stored,
    repushes_are_idempotent_and_versions_ordered,
    small_counts_are_never_published,
    withdrawal_and_erasure_remove_a_worker_from_later_answers,
    a_watch_resumes_without_loss_or_duplicates,
    a_bulk_stream_is_stored_and_summed_up,
    a_bad_message_ends_a_stream_after_the_messages_before_it,
);

async fn start(pki: &TestPki, url: &str) -> (RunningExchange, Store) {
    let mut config = config(pki, url, "");
    config.placements.watch_interval_ms = 20;
    exact_counts(&mut config);
    let exchange = RunningExchange::start(&config).await;
    let store = open_store(pki, url).await;
    (exchange, store)
}

async fn kemendag(exchange: &RunningExchange, pki: &TestPki) -> jembatan_client::Client {
    exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect kemendag")
}

async fn kp2mi(exchange: &RunningExchange, pki: &TestPki) -> jembatan_client::Client {
    exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi")
}

/// Every candidate of a listing for `purpose` on consent, following pages.
async fn candidates(
    client: &jembatan_client::Client,
    purpose: Purpose,
    filter: AvailabilityFilter,
) -> Vec<(v1::Candidate, v1::Receipt)> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = workforce(client)
            .list_candidates(stated(
                purpose,
                LegalBasis::Consent,
                ListCandidatesRequest {
                    filter: Some(filter.clone()),
                    page_size: 4,
                    page_token,
                },
            ))
            .await
            .expect("list candidates")
            .into_inner();
        assert_eq!(page.candidates.len(), page.receipts.len());
        all.extend(page.candidates.into_iter().zip(page.receipts));
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// Counts without noise, and cells shown from 5 workers on, so that tests of what is counted
/// can assert exact figures; the counts' protection has tests of its own (count_attacks).
/// The index follows changes when a count asks for them, not on a timer, so that a test sees
/// exactly what it asked for.
fn exact_counts(config: &mut jembatan_server::Config) {
    config.placements.count_noise = vec![1];
    config.placements.count_minimum_workers = 5;
    config.placements.count_refresh_ms = 3_600_000;
}

/// Counts that reflect every change stored so far in `store` (the exchange's own database):
/// the exchange follows its changes every `count_refresh_ms`, and a caller reads its own
/// writes by asking for their change.
async fn count(
    store: &Store,
    client: &jembatan_client::Client,
    filter: AvailabilityFilter,
    group_by: Vec<GroupBy>,
) -> v1::QueryAvailabilityResponse {
    let latest = store.log_size().await.expect("log size").saturating_sub(1);
    count_from(client, filter, group_by, latest).await
}

/// Counts from an index that reflects at least change `min_change`.
async fn count_from(
    client: &jembatan_client::Client,
    filter: AvailabilityFilter,
    group_by: Vec<GroupBy>,
    min_change: u64,
) -> v1::QueryAvailabilityResponse {
    workforce(client)
        .query_availability(stated(
            Purpose::Statistics,
            LegalBasis::PublicTask,
            QueryAvailabilityRequest {
                filter: Some(filter),
                group_by: group_by.into_iter().map(i32::from).collect(),
                min_change,
            },
        ))
        .await
        .expect("query availability")
        .into_inner()
}

/// A worker's processing history as KP2MI asks for it.
async fn subject_accesses(client: &jembatan_client::Client, nik: &str) -> Vec<v1::SubjectAccess> {
    v1::audit_service_client::AuditServiceClient::new(client.channel())
        .list_subject_accesses(stated(
            Purpose::Audit,
            LegalBasis::LegalObligation,
            v1::ListSubjectAccessesRequest {
                nik: nik.to_owned(),
                ..Default::default()
            },
        ))
        .await
        .expect("list subject accesses")
        .into_inner()
        .accesses
}

/// The stored leaf of `receipt`, checked against its hash.
async fn leaf_of(store: &Store, receipt: &v1::Receipt) -> LeafEntry {
    let data = store
        .leaf(receipt.leaf_index)
        .await
        .expect("leaf")
        .expect("leaf is stored");
    assert_eq!(merkle::leaf_hash(&data).to_vec(), receipt.leaf_hash);
    LeafEntry::parse(&data).expect("parses")
}

async fn a_valid_batch_is_stored_counted_and_listed(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let records: Vec<_> = (0..10).map(placement).collect();
    let pushed = push(&kp2mi, records.clone()).await;
    let summary = pushed.summary.expect("summary");
    assert_eq!((summary.stored, summary.rejected), (10, 0));
    for (i, result) in pushed.results.iter().enumerate() {
        assert_eq!(result.index as usize, i);
        assert_eq!(result.record_id, records[i].placement_id);
        assert_eq!(result.outcome(), RecordOutcome::Stored);
        let leaf = leaf_of(&store, result.receipt.as_ref().expect("receipt")).await;
        assert_eq!(leaf.method, "PlacementService/PushPlacements");
        assert_eq!(leaf.record_type, "placement");
        assert_eq!(leaf.purpose, "PROGRAM_MONITORING");
        assert_eq!(leaf.data_classes, ["profile", "contact"]);
        assert_eq!(leaf.record_digest.len(), 64);
        let text = String::from_utf8(
            store
                .leaf(result.receipt.as_ref().map_or(0, |r| r.leaf_index))
                .await
                .expect("leaf")
                .expect("leaf"),
        )
        .expect("utf-8");
        assert!(!text.contains(&records[i].nik), "no NIK in the log");
        assert!(!text.contains("Siti"), "no name in the log");
    }

    let kemendag = kemendag(&exchange, pki).await;
    let counted = count(
        &store,
        &kemendag,
        AvailabilityFilter::default(),
        vec![GroupBy::Province],
    )
    .await;
    assert_eq!(counted.total, Some(10));
    assert_eq!(counted.cells.len(), 1);
    assert_eq!(counted.cells[0].keys, ["35"]);
    assert_eq!(counted.cells[0].count, 10);
    let leaf = leaf_of(&store, counted.receipt.as_ref().expect("receipt")).await;
    assert_eq!(
        (leaf.record_type.as_str(), leaf.data_classes.as_slice()),
        ("aggregate", &["aggregate".to_owned()][..])
    );

    let matching = AvailabilityFilter {
        occupation_codes: vec!["5322".into()],
        destination_countries: vec!["HK".into()],
        languages: vec!["zh".into()],
        return_from: Some(v1::Date {
            year: 2026,
            month: 12,
            day: 1,
        }),
        return_to: Some(v1::Date {
            year: 2027,
            month: 1,
            day: 31,
        }),
        ..Default::default()
    };
    let listed = candidates(&kemendag, Purpose::BusinessMatching, matching.clone()).await;
    assert_eq!(listed.len(), 10, "pages of 4 cover every worker once");
    let mut pseudonyms: Vec<&str> = listed.iter().map(|(c, _)| c.pseudonym.as_str()).collect();
    pseudonyms.sort_unstable();
    pseudonyms.dedup();
    assert_eq!(pseudonyms.len(), 10);
    for (candidate, receipt) in &listed {
        assert!(
            candidate.full_name.starts_with("Siti Aminah"),
            "business matching shows names"
        );
        assert!(candidate.contact.is_some());
        assert_eq!(candidate.occupation_code, "5322");
        assert_eq!(candidate.birth_year, 1990);
        let leaf = leaf_of(&store, receipt).await;
        assert_eq!(leaf.method, "WorkforceService/ListCandidates");
        assert_eq!(leaf.data_classes, ["profile", "contact"]);
        assert!(!leaf.record_key.is_empty());
    }
    let none = AvailabilityFilter {
        destination_countries: vec!["TW".into()],
        ..Default::default()
    };
    assert!(
        candidates(&kemendag, Purpose::BusinessMatching, none)
            .await
            .is_empty()
    );

    // Capacity building: profiles, never names or contact details.
    let profiles = candidates(&kemendag, Purpose::CapacityBuilding, matching).await;
    assert_eq!(profiles.len(), 10);
    for (candidate, receipt) in &profiles {
        assert!(candidate.full_name.is_empty() && candidate.contact.is_none());
        assert_eq!(leaf_of(&store, receipt).await.data_classes, ["profile"]);
    }

    // One leaf per record pushed or returned: 10 pushed, 10 + 10 listed.
    let leaves = store
        .list_leaves(
            &LeafFilter {
                record_type: Some("placement".into()),
                ..Default::default()
            },
            None,
            u64::MAX >> 1,
            1000,
        )
        .await
        .expect("leaves");
    assert_eq!(leaves.len(), 30);
    exchange.stop().await;
}

async fn invalid_records_are_rejected_with_their_fields_and_nothing_of_them_stored(
    pki: &TestPki,
    url: &str,
) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let mut bad = Vec::new();
    let mut expected = Vec::new();
    let mut vary = |n: u32, field: &str, change: &dyn Fn(&mut v1::Placement)| {
        let mut record = placement(n);
        change(&mut record);
        bad.push(record);
        expected.push(format!("placements[{}].{field}", bad.len()));
    };
    vary(1, "nik", &|p| p.nik = "3507014508900000".into()); // serial 0000
    vary(2, "nik", &|p| p.nik = "1007014508900001".into()); // no province 10
    vary(3, "origin_regency_code", &|p| {
        p.origin_regency_code = "35.68".into()
    });
    vary(4, "occupation_code", &|p| p.occupation_code = "9999".into());
    vary(5, "destination_country", &|p| {
        p.destination_country = "XX".into()
    });
    vary(6, "contract_end", &|p| {
        p.contract_end = Some(v1::Date {
            year: 2024,
            month: 6,
            day: 1,
        })
    });
    vary(7, "sex", &|p| p.sex = 0);
    vary(8, "birth_date", &|p| {
        p.birth_date = Some(v1::Date {
            year: 1990,
            month: 2,
            day: 30,
        })
    });
    vary(9, "languages[0]", &|p| p.languages = vec!["xx".into()]);
    vary(10, "nik", &|p| p.sex = v1::Sex::Male.into()); // a woman's NIK, day + 40
    let mut batch = vec![placement(0)];
    batch.extend(bad.clone());
    let pushed = push(&kp2mi, batch).await;
    let summary = pushed.summary.expect("summary");
    assert_eq!((summary.stored, summary.rejected), (1, bad.len() as u32));
    for (result, field) in pushed.results[1..].iter().zip(&expected) {
        assert_eq!(result.outcome(), RecordOutcome::Rejected, "{field}");
        assert!(result.receipt.is_none());
        let fields: Vec<&str> = result.violations.iter().map(|v| v.field.as_str()).collect();
        assert!(
            fields.contains(&field.as_str()),
            "{field} not in {fields:?}"
        );
        for violation in &result.violations {
            assert!(
                !violation.description.contains("3507"),
                "no NIK echoed: {violation:?}"
            );
        }
    }
    let counted = count(&store, &kemendag, AvailabilityFilter::default(), vec![]).await;
    assert!(
        counted.cells.is_empty() && counted.total.is_none(),
        "one worker is under the threshold"
    );

    // All or nothing: one bad record refuses the batch with field violations, storing none.
    let status = placements(&kp2mi)
        .push_placements(as_kp2mi(v1::PushPlacementsRequest {
            placements: vec![placement(20), bad[0].clone()],
            all_or_nothing: true,
        }))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status
        .get_details_bad_request()
        .expect("BadRequest details");
    assert_eq!(details.field_violations[0].field, "placements[1].nik");
    let listed = candidates(
        &kemendag,
        Purpose::BusinessMatching,
        AvailabilityFilter::default(),
    )
    .await;
    assert_eq!(listed.len(), 1, "placement 20 was not stored");

    // A batch over 1,000 records is refused whole.
    let status = placements(&kp2mi)
        .push_placements(as_kp2mi(v1::PushPlacementsRequest {
            placements: vec![placement(0); 1001],
            all_or_nothing: false,
        }))
        .await
        .expect_err("too many");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("at most 1000"),
        "{}",
        status.message()
    );
    exchange.stop().await;
}

async fn repushes_are_idempotent_and_versions_ordered(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let original = placement(1);
    push(&kp2mi, vec![original.clone()]).await;
    let again = push(&kp2mi, vec![original.clone()]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Unchanged);
    assert!(
        again.results[0].receipt.is_some(),
        "a re-push is logged too"
    );

    let mut newer = original.clone();
    newer.version = 2;
    newer.status = v1::PlacementStatus::Returned.into();
    newer.return_date = Some(v1::Date {
        year: 2026,
        month: 12,
        day: 3,
    });
    newer.return_date_kind = v1::ReturnDateKind::Actual.into();
    let mut older = original.clone();
    older.version = 0;
    older.job_title = "Older title".into();
    let mut conflicting = original.clone();
    conflicting.job_title = "Same version, other content".into();
    let refused = push(&kp2mi, vec![conflicting.clone()]).await;
    assert_eq!(refused.results[0].outcome(), RecordOutcome::Rejected);
    assert_eq!(
        refused.results[0].violations[0].field,
        "placements[0].version"
    );
    // All or nothing holds for a conflict too; a version beyond the store's range is refused.
    let mut huge = placement(2);
    huge.version = u64::MAX;
    let status = placements(&kp2mi)
        .push_placements(as_kp2mi(v1::PushPlacementsRequest {
            placements: vec![placement(3), conflicting],
            all_or_nothing: true,
        }))
        .await
        .expect_err("all or nothing");
    assert_eq!(status.code(), Code::InvalidArgument);
    let refused = push(&kp2mi, vec![huge]).await;
    assert_eq!(
        refused.results[0].violations[0].field,
        "placements[0].version"
    );
    // In one batch, the newer version is stored and then the older one is stale against it.
    let pushed = push(&kp2mi, vec![newer, older]).await;
    let outcomes: Vec<RecordOutcome> = pushed.results.iter().map(|r| r.outcome()).collect();
    assert_eq!(outcomes, [RecordOutcome::Stored, RecordOutcome::Stale]);

    let listed = candidates(
        &kemendag,
        Purpose::BusinessMatching,
        AvailabilityFilter::default(),
    )
    .await;
    assert_eq!(
        listed.len(),
        1,
        "one placement: placements 2 and 3 were refused"
    );
    assert_eq!(listed[0].0.status(), v1::PlacementStatus::Returned);
    assert_eq!(listed[0].0.job_title, "Caregiver");
    // The same record kept its pseudonymous key across versions.
    let mut keys = Vec::new();
    for result in [&again.results[0], &pushed.results[0], &pushed.results[1]] {
        let receipt = result.receipt.as_ref().expect("receipt");
        keys.push(leaf_of(&store, receipt).await.record_key);
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    exchange.stop().await;
}

async fn small_counts_are_never_published(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    // 8 workers in Hong Kong, 3 in Taiwan, 6 in Malaysia.
    let mut records = Vec::new();
    for n in 0..17 {
        let mut p = placement(n);
        p.destination_country = match n {
            0..8 => "HK",
            8..11 => "TW",
            _ => "MY",
        }
        .into();
        records.push(p);
    }
    push(&kp2mi, records).await;
    let counted = count(
        &store,
        &kemendag,
        AvailabilityFilter::default(),
        vec![GroupBy::DestinationCountry],
    )
    .await;
    let cells: Vec<(&str, u64)> = counted
        .cells
        .iter()
        .map(|c| (c.keys[0].as_str(), c.count))
        .collect();
    assert_eq!(cells, [("HK", 8), ("MY", 6)], "TW's 3 < 5 is left out");
    assert_eq!(
        counted.total,
        Some(17),
        "the total is a cell like any other"
    );
    assert_eq!(counted.suppression_threshold, 5);
    assert_eq!(counted.minimum_workers, 5);

    // A filter matching fewer workers than the minimum shows no cell at all.
    let taiwan = AvailabilityFilter {
        destination_countries: vec!["TW".into()],
        ..AvailabilityFilter::default()
    };
    let counted = count(&store, &kemendag, taiwan, vec![GroupBy::Sex]).await;
    assert!(counted.cells.is_empty() && counted.total.is_none());
    exchange.stop().await;
}

async fn withdrawal_and_erasure_remove_a_worker_from_later_answers(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    push(&kp2mi, (0..6).map(placement).collect()).await;

    // A purpose named twice is withdrawn once.
    let withdrawn = placements(&kp2mi)
        .withdraw_consent(as_kp2mi(v1::WithdrawConsentRequest {
            nik: placement(0).nik,
            purposes: vec![
                v1::Purpose::BusinessMatching.into(),
                v1::Purpose::BusinessMatching.into(),
            ],
            withdrawn_at: None,
        }))
        .await
        .expect("withdraw")
        .into_inner();
    assert_eq!(withdrawn.placements_changed, 1);
    assert_eq!(
        withdrawn.remaining_purposes,
        [i32::from(v1::Purpose::CapacityBuilding)]
    );
    let leaf = leaf_of(&store, withdrawn.receipt.as_ref().expect("receipt")).await;
    assert_eq!(leaf.record_type, "consent");

    let matching = candidates(
        &kemendag,
        Purpose::BusinessMatching,
        AvailabilityFilter::default(),
    )
    .await;
    assert_eq!(
        matching.len(),
        5,
        "withdrawn from business matching at once"
    );
    let building = candidates(
        &kemendag,
        Purpose::CapacityBuilding,
        AvailabilityFilter::default(),
    )
    .await;
    assert_eq!(building.len(), 6, "still consenting to capacity building");

    // UU PDP Article 32: who received what about worker 0, and about worker 1.
    let history = subject_accesses(&kp2mi, &placement(0).nik).await;
    let methods: Vec<&str> = history.iter().map(|a| a.method.as_str()).collect();
    assert_eq!(methods[0], "/jembatan.v1.PlacementService/PushPlacements");
    assert!(methods.contains(&"/jembatan.v1.PlacementService/WithdrawConsent"));
    let received: Vec<_> = history
        .iter()
        .filter(|a| a.method == "/jembatan.v1.WorkforceService/ListCandidates")
        .collect();
    assert_eq!(
        received.len(),
        1,
        "listed once, for capacity building, after the withdrawal"
    );
    assert_eq!(
        received[0].principal,
        "spiffe://test.jembatan.local/agency/kemendag/export-portal"
    );
    assert_eq!(received[0].purpose(), v1::Purpose::CapacityBuilding);
    assert_eq!(received[0].data_classes, ["profile"]);
    let history = subject_accesses(&kp2mi, &placement(1).nik).await;
    let purposes: Vec<v1::Purpose> = history.iter().map(|a| a.purpose()).collect();
    assert_eq!(
        purposes,
        [
            v1::Purpose::ProgramMonitoring, // pushed
            v1::Purpose::BusinessMatching,  // listed
            v1::Purpose::CapacityBuilding,  // listed
            v1::Purpose::Audit,             // this lookup
        ]
    );
    let lookup = history.last().expect("the lookup");
    assert_eq!(
        lookup.method,
        "/jembatan.v1.AuditService/ListSubjectAccesses"
    );
    assert_eq!(
        lookup.principal,
        "spiffe://test.jembatan.local/agency/kp2mi/siskop2mi"
    );

    let before = count(&store, &kemendag, AvailabilityFilter::default(), vec![]).await;
    assert_eq!(before.total, Some(6));
    let erased = placements(&kp2mi)
        .erase_personal_data(as_kp2mi(v1::ErasePersonalDataRequest {
            nik: placement(1).nik,
            request_ref: "PDP/2026/0042".into(),
        }))
        .await
        .expect("erase")
        .into_inner();
    assert_eq!(erased.placements_erased, 1);
    let building = candidates(
        &kemendag,
        Purpose::CapacityBuilding,
        AvailabilityFilter::default(),
    )
    .await;
    assert_eq!(building.len(), 5, "erased at once");
    assert!(
        subject_accesses(&kp2mi, &placement(1).nik).await.is_empty(),
        "after erasure the log no longer links to the worker"
    );
    // Without asking for the erasure's change, and with no refresh due: the exchange that
    // erased took the worker out of its counts at once.
    let all = count_from(&kemendag, AvailabilityFilter::default(), vec![], 0).await;
    assert_eq!(all.total, Some(5));

    let status = placements(&kp2mi)
        .erase_personal_data(as_kp2mi(v1::ErasePersonalDataRequest {
            nik: placement(1).nik,
            request_ref: String::new(),
        }))
        .await
        .expect_err("nothing left");
    assert_eq!(status.code(), Code::NotFound);
    let status = placements(&kp2mi)
        .withdraw_consent(as_kp2mi(v1::WithdrawConsentRequest {
            nik: "12345".into(),
            purposes: vec![],
            withdrawn_at: None,
        }))
        .await
        .expect_err("bad nik");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status
            .get_details_bad_request()
            .expect("details")
            .field_violations[0]
            .field,
        "nik"
    );

    // A stale sync cannot bring erased data back; a record changed after the erasure can.
    let again = push(&kp2mi, vec![placement(1)]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Rejected);
    assert_eq!(
        again.results[0].violations[0].field,
        "placements[0].updated_at"
    );
    let mut registered_again = placement(1);
    registered_again.updated_at = Some(prost_types::Timestamp {
        seconds: time::OffsetDateTime::now_utc().unix_timestamp() + 1,
        nanos: 0,
    });
    let again = push(&kp2mi, vec![registered_again]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Stored);

    // A stale sync cannot restore a withdrawn purpose either; consent given again can.
    let business_matching = |kemendag: jembatan_client::Client| async move {
        candidates(
            &kemendag,
            Purpose::BusinessMatching,
            AvailabilityFilter::default(),
        )
        .await
        .len()
    };
    let before = business_matching(kemendag.clone()).await;
    let mut stale_consent = placement(0);
    stale_consent.version = 2;
    assert_eq!(
        push(&kp2mi, vec![stale_consent.clone()]).await.results[0].outcome(),
        RecordOutcome::Stored
    );
    assert_eq!(
        business_matching(kemendag.clone()).await,
        before,
        "still withdrawn"
    );
    let mut consents_again = stale_consent;
    consents_again.version = 3;
    if let Some(consent) = consents_again.consent.as_mut() {
        consent.granted_at = Some(prost_types::Timestamp {
            seconds: time::OffsetDateTime::now_utc().unix_timestamp() + 1,
            nanos: 0,
        });
    }
    push(&kp2mi, vec![consents_again]).await;
    assert_eq!(
        business_matching(kemendag.clone()).await,
        before + 1,
        "consented again"
    );
    exchange.stop().await;
}

/// The next event of a watch, within 10 s.
async fn next_event(
    stream: &mut tonic::Streaming<v1::WatchAvailabilityResponse>,
) -> v1::WatchAvailabilityResponse {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("event")
}

async fn a_watch_resumes_without_loss_or_duplicates(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    push(&kp2mi, vec![placement(0)]).await; // before the watch: not "new"
    let watch = |cursor: String| {
        let client = kemendag.clone();
        async move {
            workforce(&client)
                .watch_availability(stated(
                    Purpose::BusinessMatching,
                    LegalBasis::Consent,
                    WatchAvailabilityRequest {
                        filter: Some(AvailabilityFilter {
                            occupation_codes: vec!["5322".into()],
                            ..Default::default()
                        }),
                        resume_cursor: cursor,
                    },
                ))
                .await
                .expect("watch")
                .into_inner()
        }
    };
    let mut stream = watch(String::new()).await;
    let mut other = placement(100);
    other.occupation_code = "9111".into(); // not watched
    push(&kp2mi, vec![placement(1), other, placement(2)]).await;
    let first = next_event(&mut stream).await;
    let second = next_event(&mut stream).await;
    let seen: Vec<String> = [&first, &second]
        .iter()
        .map(|e| e.candidate.as_ref().expect("candidate").pseudonym.clone())
        .collect();
    assert_ne!(seen[0], seen[1]);
    let leaf = leaf_of(&store, first.receipt.as_ref().expect("receipt")).await;
    assert_eq!(leaf.method, "WorkforceService/WatchAvailability");
    drop(stream); // disconnect

    push(&kp2mi, vec![placement(3), placement(4)]).await;
    let mut resumed = watch(first.cursor.clone()).await;
    let mut after = Vec::new();
    for _ in 0..3 {
        after.push(
            next_event(&mut resumed)
                .await
                .candidate
                .expect("candidate")
                .pseudonym,
        );
    }
    assert_eq!(after[0], seen[1], "resumed right after the first event");
    let mut unique = after.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 3, "no duplicates: {after:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), resumed.next())
            .await
            .is_err(),
        "nothing more"
    );
    let status = workforce(&kemendag)
        .watch_availability(stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            WatchAvailabilityRequest {
                filter: None,
                resume_cursor: "forged".into(),
            },
        ))
        .await
        .expect_err("forged cursor");
    assert_eq!(status.code(), Code::InvalidArgument);

    // Shutting down ends an open watch with OK (its client resumes elsewhere), not at the end
    // of the grace period with a broken connection.
    let stopped = tokio::spawn(exchange.stop());
    let end = tokio::time::timeout(Duration::from_secs(15), resumed.next())
        .await
        .expect("the watch ends");
    assert!(end.is_none(), "ended with OK: {end:?}");
    stopped.await.expect("stopped");
}

/// A watch ends with OK when its lifetime is over; the client goes on from its cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_after_its_lifetime() {
    let pki = TestPki::new();
    let mut config = config(&pki, "sqlite://jembatan.db", "");
    config.placements.watch_interval_ms = 20;
    config.placements.watch_max_secs = 1;
    let exchange = RunningExchange::start(&config).await;
    let kemendag = kemendag(&exchange, &pki).await;
    let started = std::time::Instant::now();
    let mut stream = workforce(&kemendag)
        .watch_availability(stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            WatchAvailabilityRequest::default(),
        ))
        .await
        .expect("watch")
        .into_inner();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("ended within 10 s");
    assert!(end.is_none(), "ended with OK, not an error: {end:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    exchange.stop().await;
}

/// Kemendag's systems share one pseudonym per worker; another agency, allowed by a policy of
/// its own, sees other pseudonyms for the same workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pseudonyms_are_stable_per_agency_and_differ_across_agencies() {
    let pki = TestPki::new();
    let policies = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(jembatan_tests::repo_path("deploy/policies")).expect("policies")
    {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, policies.path().join(path.file_name().expect("name"))).expect("copy");
    }
    std::fs::write(
        policies.path().join("bappenas.cedar"),
        r#"@id("bappenas-capacity-building")
permit (
  principal in Jembatan::Agency::"bappenas",
  action in [
    Jembatan::Action::"WorkforceService/ListCandidates",
    Jembatan::Action::"read/profile"
  ],
  resource
)
when { context.purpose == Jembatan::Purpose::"CAPACITY_BUILDING" };
"#,
    )
    .expect("policy");
    let mut config = config(&pki, "sqlite://jembatan.db", "");
    config.policy.dir = policies.path().to_path_buf();
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = kp2mi(&exchange, &pki).await;
    push(&kp2mi, (0..5).map(placement).collect()).await;

    let mut views = Vec::new();
    for (agency, system) in [
        ("kemendag", "export-portal"),
        ("kemendag", "itpc-dashboard"),
        ("kemendag", "export-portal"),
        ("bappenas", "satu-data"),
    ] {
        let client = exchange
            .connect(pki.agency(agency, system))
            .await
            .expect("connect");
        let listed = candidates(
            &client,
            Purpose::CapacityBuilding,
            AvailabilityFilter::default(),
        )
        .await;
        views.push(
            listed
                .into_iter()
                .map(|(c, _)| c.pseudonym)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(views[0].len(), 5);
    assert_eq!(views[0], views[1], "one agency, one pseudonym per worker");
    assert_eq!(views[0], views[2], "stable across calls");
    for (kemendag, bappenas) in views[0].iter().zip(&views[3]) {
        assert_ne!(kemendag, bappenas, "unlinkable across agencies");
    }
    exchange.stop().await;
}

/// Two exchange processes on one PostgreSQL database push and answer at once: every record is
/// stored once, both answer the same counts, and the one audit log verifies with a leaf for
/// every record pushed and returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_exchanges_on_one_postgres_agree_and_keep_one_log() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    let mut config = config(&pki, &db.url, "");
    config.audit.checkpoint_interval_ms = 20;
    exact_counts(&mut config);
    let first = RunningExchange::start(&config).await;
    let second = RunningExchange::start(&config).await;
    let clients = [kp2mi(&first, &pki).await, kp2mi(&second, &pki).await];
    // Both push 200 records each in batches of 20, half of them the same records.
    let pushes = clients.iter().enumerate().map(|(i, client)| {
        let client = client.clone();
        async move {
            let mut leaves = 0;
            for batch in 0..10u32 {
                let offset = if batch % 2 == 0 {
                    0
                } else {
                    1000 * (i as u32 + 1)
                };
                let records = (0..20)
                    .map(|n| placement(offset + batch * 20 + n))
                    .collect();
                let pushed = push(&client, records).await;
                leaves += pushed
                    .results
                    .iter()
                    .filter(|r| r.receipt.is_some())
                    .count();
            }
            leaves
        }
    });
    let pushed_leaves: usize = futures_util::future::join_all(pushes)
        .await
        .into_iter()
        .sum();
    assert_eq!(pushed_leaves, 400, "every record pushed has its leaf");

    // 100 shared records and 100 of each exchange's own: 300 workers.
    // Each exchange's counts follow the other's pushes: asked for the latest change, each
    // answers from an index that reflects it.
    let latest = open_store(&pki, &db.url)
        .await
        .log_size()
        .await
        .expect("log size")
        - 1;
    let mut totals = Vec::new();
    let mut listed = 0;
    for exchange in [&first, &second] {
        let client = kemendag(exchange, &pki).await;
        let counted = count_from(&client, AvailabilityFilter::default(), vec![], latest).await;
        assert!(counted.change >= latest);
        totals.push(counted.total);
        listed += candidates(
            &client,
            Purpose::CapacityBuilding,
            AvailabilityFilter::default(),
        )
        .await
        .len();
    }
    assert_eq!(totals, [Some(300), Some(300)]);
    assert_eq!(listed, 600);

    let store = open_store(&pki, &db.url).await;
    let expected = (400 + 600 + 2) as u64; // pushes, listings, the two counts
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let verified = jembatan_tests::verify_exported(&store, &pki).await;
        assert_eq!(verified.leaves, expected);
        if verified.integrated == expected {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not integrated in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.stop().await;
    second.stop().await;
}

/// Messages of a stream are queued ahead of their commits (the writer is held while they
/// arrive); a message of more records than allowed then ends the stream with
/// INVALID_ARGUMENT naming it, but only once the messages before it are stored, and nothing
/// after it is.
async fn a_bad_message_ends_a_stream_after_the_messages_before_it(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let message = |numbers: std::ops::Range<u32>| v1::StreamPlacementsRequest {
        placements: numbers.map(placement).collect(),
    };
    let messages = vec![
        message(0..2),
        message(2..4),
        message(4..6),
        message(100..1_101),
        message(6..8),
    ];
    let held = hold_writer(&store, 9_999).await;
    let stream = tokio::spawn(async move {
        placements(&kp2mi)
            .stream_placements(as_kp2mi(tokio_stream::iter(messages)))
            .await
    });
    // Not a timed assertion: time for the messages to arrive while the writer is held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.release().await;
    let status = stream
        .await
        .expect("stream task")
        .expect_err("a message of 1,001 records");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("1001 records in one message"),
        "{status:?}"
    );
    assert_eq!(
        stored_placements(&store).await.len(),
        6,
        "the three messages before the bad one, and nothing after it"
    );
    exchange.stop().await;
}

async fn a_bulk_stream_is_stored_and_summed_up(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let mut bad = placement(7);
    bad.destination_country = "hk".into();
    let messages = vec![
        v1::StreamPlacementsRequest {
            placements: (0..5).map(placement).collect(),
        },
        v1::StreamPlacementsRequest {
            placements: vec![placement(5), placement(6), bad, placement(0)],
        },
    ];
    let summary = placements(&kp2mi)
        .stream_placements(as_kp2mi(tokio_stream::iter(messages)))
        .await
        .expect("stream")
        .into_inner();
    assert_eq!(summary.messages, 2);
    let totals = summary.summary.expect("summary");
    assert_eq!(
        (
            totals.stored,
            totals.unchanged,
            totals.stale,
            totals.rejected
        ),
        (7, 1, 0, 1)
    );
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].index, 7, "counted across the stream");
    assert_eq!(
        summary.rejected[0].violations[0].field,
        "placements[7].destination_country"
    );
    let kemendag = kemendag(&exchange, pki).await;
    assert_eq!(
        count(&store, &kemendag, AvailabilityFilter::default(), vec![])
            .await
            .total,
        Some(7)
    );
    let leaves = store
        .list_leaves(
            &LeafFilter {
                method: Some("PlacementService/StreamPlacements".into()),
                ..Default::default()
            },
            None,
            u64::MAX >> 1,
            100,
        )
        .await
        .expect("leaves");
    assert_eq!(leaves.len(), 8, "a leaf per record stored or unchanged");
    exchange.stop().await;
}
