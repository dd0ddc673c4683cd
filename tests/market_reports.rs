//! Market intelligence end to end, on SQLite and PostgreSQL over real mutual TLS: KP2MI submits
//! market reports (validated field by field, personal data refused, idempotent and versioned),
//! Kemendag queries them (filters, newest first, pages, full-text search) and counts them by
//! country, HS chapter and kind; every report stored or returned, and every digest, has its
//! audit leaf.

use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    self, MarketReport, OpportunityKind, QueryMarketReportsRequest, RecordOutcome,
    SummarizeMarketReportsRequest,
};
use jembatan_store::Store;
use jembatan_tests::market::{
    date, for_market_intelligence, market, query, query_ids, report, stored_reports, submit,
};
use jembatan_tests::placements::stated;
use jembatan_tests::{RunningExchange, TestPki, config, days_from_today, leaf_of, open_store};
use tonic::Code;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    each_invalid_report_is_rejected_naming_its_field_and_nothing_of_it_stored,
    personal_data_in_a_title_or_summary_is_refused,
    a_batch_over_a_thousand_reports_is_refused_whole,
    resubmissions_are_idempotent_and_versions_ordered,
    queries_filter_sort_newest_first_and_page,
    full_text_search_matches_whole_words_prefixes_in_any_case,
    every_report_stored_or_returned_has_its_leaf,
    the_digest_counts_reports_by_country_chapter_and_kind,
    each_agency_is_held_to_its_side,
);

async fn start(pki: &TestPki, url: &str) -> (RunningExchange, Store) {
    let exchange = RunningExchange::start(&config(pki, url, "")).await;
    let store = open_store(pki, url).await;
    (exchange, store)
}

async fn kemendag(exchange: &RunningExchange, pki: &TestPki) -> Client {
    exchange
        .connect(pki.agency("kemendag", "itpc-dashboard"))
        .await
        .expect("connect kemendag")
}

async fn kp2mi(exchange: &RunningExchange, pki: &TestPki) -> Client {
    exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi")
}

/// `report(n)` changed by `change`.
fn varied(n: u32, change: impl FnOnce(&mut MarketReport)) -> MarketReport {
    let mut record = report(n);
    change(&mut record);
    record
}

/// Submits `report(0)`, the `cases` (each a report, the field its violation must name after
/// `reports[i].`, and a part of its reason) and `report(99)`: both valid ones are stored, each
/// case is rejected without a receipt naming its field, and nothing of it is stored.
async fn expect_rejections(
    client: &Client,
    store: &Store,
    cases: Vec<(MarketReport, &str, &str)>,
) -> Vec<v1::RecordResult> {
    let mut batch = vec![report(0)];
    batch.extend(cases.iter().map(|(record, _, _)| record.clone()));
    batch.push(report(99));
    let submitted = submit(client, batch).await;
    let summary = submitted.summary.expect("summary");
    assert_eq!(
        (summary.stored, summary.rejected),
        (2, cases.len() as u32),
        "{:#?}",
        submitted.results
    );
    assert_eq!(submitted.results[0].outcome(), RecordOutcome::Stored);
    assert_eq!(
        submitted.results.last().map(|r| r.outcome()),
        Some(RecordOutcome::Stored)
    );
    let results = submitted.results[1..=cases.len()].to_vec();
    let mut mismatches = Vec::new();
    for (i, (result, (record, field, reason))) in results.iter().zip(&cases).enumerate() {
        let path = format!("reports[{}].{field}", i + 1);
        assert_eq!(result.index as usize, i + 1);
        assert_eq!(result.record_id, record.report_id);
        assert_eq!(result.outcome(), RecordOutcome::Rejected, "{path}");
        assert!(result.receipt.is_none(), "{path}: no receipt");
        let said = result
            .violations
            .iter()
            .any(|v| v.field == path && v.description.to_lowercase().contains(reason));
        if !said {
            mismatches.push(format!("{path} saying {reason:?}: {:?}", result.violations));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert_eq!(
        stored_reports(store).await,
        [report(0).report_id, report(99).report_id],
        "only the valid reports are stored"
    );
    results
}

async fn each_invalid_report_is_rejected_naming_its_field_and_nothing_of_it_stored(
    pki: &TestPki,
    url: &str,
) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let cases = vec![
        (
            varied(1, |r| r.country = "XX".into()),
            "country",
            "iso 3166",
        ),
        (
            varied(2, |r| r.country = "hk".into()),
            "country",
            "upper case",
        ),
        (
            varied(3, |r| r.hs_codes = vec!["77".into()]),
            "hs_codes[0]",
            "chapter",
        ),
        (
            varied(4, |r| r.hs_codes = vec!["0901".into(), "0919".into()]),
            "hs_codes[1]",
            "heading",
        ),
        (
            varied(5, |r| r.hs_codes = vec!["090113".into()]),
            "hs_codes[0]",
            "subheading",
        ),
        (
            varied(6, |r| r.hs_codes = vec!["09019900".into()]),
            "hs_codes[0]",
            "subheading",
        ),
        (
            varied(7, |r| r.hs_codes = vec!["090".into()]),
            "hs_codes[0]",
            "digits",
        ),
        (varied(8, |r| r.hs_codes = Vec::new()), "hs_codes", "1"),
        (
            varied(9, |r| r.hs_codes = vec!["0901".into(); 21]),
            "hs_codes",
            "20",
        ),
        (varied(10, |r| r.kind = 0), "kind", "required"),
        (
            varied(11, |r| r.observed_on = days_from_today(3)),
            "observed_on",
            "future",
        ),
        (
            varied(12, |r| r.observed_on = None),
            "observed_on",
            "required",
        ),
        (varied(13, |r| r.title = "a".repeat(201)), "title", "200"),
        (varied(14, |r| r.title = String::new()), "title", "required"),
        (
            varied(15, |r| r.summary = "a".repeat(4001)),
            "summary",
            "4000",
        ),
        (varied(16, |r| r.city = "a".repeat(101)), "city", "100"),
        (
            varied(17, |r| r.report_id = "MR 2026/17!".into()),
            "report_id",
            "letters, digits",
        ),
        (
            varied(18, |r| r.reporter_ref = String::new()),
            "reporter_ref",
            "1 to 64",
        ),
    ];
    expect_rejections(&kp2mi, &store, cases).await;
    exchange.stop().await;
}

async fn personal_data_in_a_title_or_summary_is_refused(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let secrets = [
        "3507014508900001",
        "+62 812-3456-7890",
        "0812 3456 7890",
        "siti.aminah@example.id",
        "agus_buyer@mail.example.hk",
    ];
    let cases = vec![
        (
            varied(1, |r| {
                r.summary = format!("Reported by the worker with NIK {}, Kowloon.", secrets[0])
            }),
            "summary",
            "personal data",
        ),
        (
            varied(2, |r| r.title = format!("NIK{} buyer lead", secrets[0])),
            "title",
            "personal data",
        ),
        (
            varied(3, |r| r.title = format!("Call {} for samples", secrets[1])),
            "title",
            "phone",
        ),
        (
            varied(4, |r| {
                r.summary = format!("The importer asks for a call back on {}.", secrets[2])
            }),
            "summary",
            "phone",
        ),
        (
            varied(5, |r| r.title = format!("Buyer lead: {}", secrets[3])),
            "title",
            "e-mail",
        ),
        (
            varied(6, |r| {
                r.summary = format!("Write to {} for the price list.", secrets[4])
            }),
            "summary",
            "e-mail",
        ),
    ];
    let results = expect_rejections(&kp2mi, &store, cases).await;
    for result in &results {
        for violation in &result.violations {
            for secret in secrets {
                assert!(
                    !violation.description.contains(secret)
                        && !violation.description.contains("3456"),
                    "personal data echoed: {violation:?}"
                );
            }
        }
    }
    // Numbers that are not personal data pass: an order number, an HS code, prices, weights.
    let fine = varied(7, |r| {
        r.summary = "Order 48213 asks for 0901.21 at USD 4.20/kg, 2,000 kg in 2026.".into()
    });
    let submitted = submit(&kp2mi, vec![fine]).await;
    assert_eq!(
        submitted.results[0].outcome(),
        RecordOutcome::Stored,
        "{:?}",
        submitted.results[0].violations
    );
    exchange.stop().await;
}

async fn a_batch_over_a_thousand_reports_is_refused_whole(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let status = market(&kp2mi)
        .submit_market_reports(for_market_intelligence(v1::SubmitMarketReportsRequest {
            reports: (0..1001).map(report).collect(),
        }))
        .await
        .expect_err("too many");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("at most 1000"),
        "{}",
        status.message()
    );
    assert!(stored_reports(&store).await.is_empty(), "nothing stored");
    exchange.stop().await;
}

async fn resubmissions_are_idempotent_and_versions_ordered(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let original = report(1);
    let first = submit(&kp2mi, vec![original.clone()]).await;
    assert_eq!(first.results[0].outcome(), RecordOutcome::Stored);

    let again = submit(&kp2mi, vec![original.clone()]).await;
    assert_eq!(again.results[0].outcome(), RecordOutcome::Unchanged);
    assert!(
        again.results[0].receipt.is_some(),
        "a re-send is logged too"
    );
    let summary = again.summary.expect("summary");
    assert_eq!((summary.stored, summary.unchanged), (0, 1));

    let newer = varied(1, |r| {
        r.version = 2;
        r.title = "Cafes in Kowloon now want green beans".into();
    });
    let stored = submit(&kp2mi, vec![newer.clone()]).await;
    assert_eq!(stored.results[0].outcome(), RecordOutcome::Stored);

    let stale = submit(&kp2mi, vec![original.clone()]).await;
    assert_eq!(stale.results[0].outcome(), RecordOutcome::Stale);
    assert!(stale.results[0].receipt.is_some(), "a stale send is logged");
    assert_eq!(stale.summary.expect("summary").stale, 1);

    let conflicting = varied(1, |r| {
        r.version = 2;
        r.summary = "Same version, other content.".into();
    });
    let refused = submit(&kp2mi, vec![conflicting]).await;
    assert_eq!(refused.results[0].outcome(), RecordOutcome::Rejected);
    assert!(refused.results[0].receipt.is_none());
    assert_eq!(refused.results[0].violations[0].field, "reports[0].version");
    assert!(
        refused.results[0].violations[0]
            .description
            .contains("version"),
        "{:?}",
        refused.results[0].violations
    );

    // What is stored is version 2 as sent, but for the reporter: Kemendag gets its own
    // pseudonym of KP2MI's reporter id, the same on every answer.
    let page = query(&kemendag, QueryMarketReportsRequest::default()).await;
    let mut answered = page.reports.clone();
    assert_eq!(answered.len(), 1);
    let pseudonym = std::mem::take(&mut answered[0].reporter_ref);
    assert_eq!(pseudonym.len(), 32, "{pseudonym}");
    assert_ne!(pseudonym, newer.reporter_ref);
    let mut sent = newer.clone();
    sent.reporter_ref = String::new();
    assert_eq!(answered, [sent]);
    let again_page = query(&kemendag, QueryMarketReportsRequest::default()).await;
    assert_eq!(again_page.reports[0].reporter_ref, pseudonym);
    // Every send of the report names it by one key in the log.
    let mut keys = Vec::new();
    for result in [&first, &again, &stored, &stale].map(|r| &r.results[0]) {
        let leaf = leaf_of(&store, result.receipt.as_ref().expect("receipt")).await;
        assert_eq!(leaf.method, "MarketIntelService/SubmitMarketReports");
        keys.push(leaf.record_key);
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    exchange.stop().await;
}

/// A report of the filter and paging test: `(n, country, codes, kind, (month, day))`.
type ReportSpec = (
    u32,
    &'static str,
    &'static [&'static str],
    OpportunityKind,
    (i32, i32),
);

/// The reports of the filter and paging test.
fn filter_reports() -> Vec<MarketReport> {
    use OpportunityKind::{BuyerLead, Competition, Demand, Price, Regulation};
    let mut reports = Vec::new();
    let specs: [ReportSpec; 12] = [
        (1, "HK", &["0901"], Demand, (3, 1)),
        (2, "HK", &["090111"], Price, (3, 5)),
        (3, "TW", &["09011100"], Demand, (3, 10)),
        (4, "TW", &["4409"], BuyerLead, (4, 1)),
        (5, "MY", &["1511", "151110"], Regulation, (4, 15)),
        (6, "SA", &["0902"], Demand, (5, 1)),
        (7, "HK", &["2101"], Competition, (6, 1)),
        (8, "JP", &["0901"], Demand, (7, 1)),
        (9, "JP", &["0901"], Demand, (7, 2)),
        (10, "JP", &["0901"], Demand, (7, 3)),
        (11, "JP", &["0901"], Demand, (7, 4)),
        (12, "JP", &["0901"], Demand, (7, 5)),
    ];
    for (n, country, codes, kind, (month, day)) in specs {
        reports.push(varied(n, |r| {
            r.country = country.into();
            r.hs_codes = codes.iter().map(|&c| c.to_owned()).collect();
            r.kind = kind.into();
            r.observed_on = date(2026, month, day);
        }));
    }
    reports
}

/// The ids of reports `numbers`.
fn ids(numbers: &[u32]) -> Vec<String> {
    numbers.iter().map(|&n| report(n).report_id).collect()
}

async fn queries_filter_sort_newest_first_and_page(pki: &TestPki, url: &str) {
    let (exchange, _store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let submitted = submit(&kp2mi, filter_reports()).await;
    assert_eq!(submitted.summary.expect("summary").stored, 12);
    let all_newest_first = ids(&[12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let kinds = |kinds: &[OpportunityKind]| kinds.iter().map(|&k| i32::from(k)).collect();
    let cases: Vec<(&str, QueryMarketReportsRequest, Vec<String>)> = vec![
        (
            "everything",
            QueryMarketReportsRequest::default(),
            all_newest_first.clone(),
        ),
        (
            "one country",
            QueryMarketReportsRequest {
                countries: vec!["HK".into()],
                ..Default::default()
            },
            ids(&[7, 2, 1]),
        ),
        (
            "countries ORed",
            QueryMarketReportsRequest {
                countries: vec!["HK".into(), "TW".into()],
                ..Default::default()
            },
            ids(&[7, 4, 3, 2, 1]),
        ),
        (
            "a heading's prefix matches its subheadings and BTKI codes",
            QueryMarketReportsRequest {
                hs_prefixes: vec!["0901".into()],
                ..Default::default()
            },
            ids(&[12, 11, 10, 9, 8, 3, 2, 1]),
        ),
        (
            "a chapter",
            QueryMarketReportsRequest {
                hs_prefixes: vec!["09".into()],
                ..Default::default()
            },
            ids(&[12, 11, 10, 9, 8, 6, 3, 2, 1]),
        ),
        (
            "a subheading",
            QueryMarketReportsRequest {
                hs_prefixes: vec!["090111".into()],
                ..Default::default()
            },
            ids(&[3, 2]),
        ),
        (
            "prefixes ORed",
            QueryMarketReportsRequest {
                hs_prefixes: vec!["15".into(), "44".into()],
                ..Default::default()
            },
            ids(&[5, 4]),
        ),
        (
            "a kind",
            QueryMarketReportsRequest {
                kinds: kinds(&[OpportunityKind::Demand]),
                ..Default::default()
            },
            ids(&[12, 11, 10, 9, 8, 6, 3, 1]),
        ),
        (
            "a date range, both ends inclusive",
            QueryMarketReportsRequest {
                observed_from: date(2026, 3, 5),
                observed_to: date(2026, 4, 15),
                ..Default::default()
            },
            ids(&[5, 4, 3, 2]),
        ),
        (
            "from a date on",
            QueryMarketReportsRequest {
                observed_from: date(2026, 6, 1),
                ..Default::default()
            },
            ids(&[12, 11, 10, 9, 8, 7]),
        ),
        (
            "filters ANDed",
            QueryMarketReportsRequest {
                countries: vec!["HK".into(), "SA".into()],
                kinds: kinds(&[OpportunityKind::Demand, OpportunityKind::Price]),
                observed_to: date(2026, 4, 30),
                ..Default::default()
            },
            ids(&[2, 1]),
        ),
        (
            "nothing matches",
            QueryMarketReportsRequest {
                countries: vec!["JP".into()],
                kinds: kinds(&[OpportunityKind::Regulation]),
                ..Default::default()
            },
            Vec::new(),
        ),
    ];
    for (name, request, expected) in cases {
        assert_eq!(query_ids(&kemendag, request).await, expected, "{name}");
    }

    // Pages of 5 cover every report once, in the order of one page, and end.
    let mut pages = Vec::new();
    let mut request = QueryMarketReportsRequest {
        page_size: 5,
        ..Default::default()
    };
    loop {
        let page = query(&kemendag, request.clone()).await;
        pages.push(page.reports.len());
        request.page_token = page.next_page_token;
        if request.page_token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, [5, 5, 2]);
    let paged = query_ids(
        &kemendag,
        QueryMarketReportsRequest {
            page_size: 5,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(paged, all_newest_first);
    // Pages of a filter follow the filter.
    let paged = query_ids(
        &kemendag,
        QueryMarketReportsRequest {
            hs_prefixes: vec!["0901".into()],
            page_size: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(paged, ids(&[12, 11, 10, 9, 8, 3, 2, 1]));

    // Reports observed on the same day are paged without loss or repetition.
    let same_day: Vec<MarketReport> = (20..27)
        .map(|n| {
            varied(n, |r| {
                r.country = "NZ".into();
                r.observed_on = date(2026, 8, 1);
            })
        })
        .collect();
    submit(&kp2mi, same_day).await;
    let new_zealand = |page_size| QueryMarketReportsRequest {
        countries: vec!["NZ".into()],
        page_size,
        ..Default::default()
    };
    let one_page = query_ids(&kemendag, new_zealand(0)).await;
    assert_eq!(one_page.len(), 7);
    assert_eq!(query_ids(&kemendag, new_zealand(2)).await, one_page);

    let invalid = [
        (
            "a token the exchange did not make",
            QueryMarketReportsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
        ),
        (
            "a token of base64 noise",
            QueryMarketReportsRequest {
                page_token: "eyJpZCI6MX0".into(),
                ..Default::default()
            },
        ),
        (
            "a one-digit prefix",
            QueryMarketReportsRequest {
                hs_prefixes: vec!["9".into()],
                ..Default::default()
            },
        ),
        (
            "a prefix with a wildcard",
            QueryMarketReportsRequest {
                hs_prefixes: vec!["0%".into()],
                ..Default::default()
            },
        ),
        (
            "an unknown country",
            QueryMarketReportsRequest {
                countries: vec!["XX".into()],
                ..Default::default()
            },
        ),
        (
            "a page over 1,000",
            QueryMarketReportsRequest {
                page_size: 1001,
                ..Default::default()
            },
        ),
        (
            "a search over 200 characters",
            QueryMarketReportsRequest {
                text: "kopi ".repeat(41),
                ..Default::default()
            },
        ),
    ];
    for (name, request) in invalid {
        let status = market(&kemendag)
            .query_market_reports(for_market_intelligence(request))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
    }
    exchange.stop().await;
}

async fn full_text_search_matches_whole_words_prefixes_in_any_case(pki: &TestPki, url: &str) {
    let (exchange, _store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let texts = [
        (
            "Arabica coffee wanted by Kowloon cafes",
            "Roasted beans from Java, two tonnes a month.",
        ),
        (
            "Coffee prices rise in Taipei",
            "Robusta sells for less than Arabica this season.",
        ),
        (
            "Rempah untuk restoran Indonesia",
            "Restoran di Riyadh mencari bumbu dari Sulawesi.",
        ),
        (
            "Teak furniture buyers at the Dubai fair",
            "Importers ask for garden furniture from Jepara.",
        ),
        (
            "Coffeehouse chains expand in Kuala Lumpur",
            "Chains plan forty new outlets.",
        ),
    ];
    let reports: Vec<MarketReport> = texts
        .iter()
        .enumerate()
        .map(|(i, (title, summary))| {
            varied(i as u32 + 1, |r| {
                r.title = (*title).into();
                r.summary = (*summary).into();
            })
        })
        .collect();
    assert_eq!(
        submit(&kp2mi, reports)
            .await
            .summary
            .expect("summary")
            .stored,
        5
    );
    let search = |text: &'static str| {
        let kemendag = kemendag.clone();
        async move {
            query_ids(
                &kemendag,
                QueryMarketReportsRequest {
                    text: text.into(),
                    ..Default::default()
                },
            )
            .await
        }
    };
    // Reports n are observed on 1 + n March: newest first is the highest n first.
    for (text, expected) in [
        ("coffee", ids(&[2, 1])),
        ("COFFEE", ids(&[2, 1])),
        ("ArAbIcA", ids(&[2, 1])),
        ("arabica robusta", ids(&[2])),
        ("kowloon arabica", ids(&[1])),
        ("coffee durian", Vec::new()),
        ("coffee*", ids(&[5, 2, 1])),
        ("furnit*", ids(&[4])),
        ("jepara", ids(&[4])),
        ("restoran", ids(&[3])),
        ("durian", Vec::new()),
    ] {
        assert_eq!(search(text).await, expected, "{text:?}");
    }
    // The search language of neither database leaks through: operators are words or refused.
    for text in [
        "coffee OR durian",
        "\"arabica\" NEAR(coffee)",
        "coffee & !durian",
        "-coffee",
        "title:coffee",
        "*",
        "coffee'); --",
    ] {
        let answer = market(&kemendag)
            .query_market_reports(for_market_intelligence(QueryMarketReportsRequest {
                text: text.into(),
                ..Default::default()
            }))
            .await;
        match answer {
            Ok(page) => {
                let found: Vec<String> = page
                    .into_inner()
                    .reports
                    .into_iter()
                    .map(|r| r.report_id)
                    .collect();
                assert!(
                    found.len() <= 2 && found.iter().all(|id| ids(&[1, 2]).contains(id)),
                    "{text:?} found {found:?}"
                );
            }
            Err(status) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{text:?}: {status:?}")
            }
        }
    }
    // The digest searches alike.
    let digest = market(&kemendag)
        .summarize_market_reports(for_market_intelligence(SummarizeMarketReportsRequest {
            text: "coffee".into(),
            ..Default::default()
        }))
        .await
        .expect("summarize")
        .into_inner();
    assert_eq!(digest.reports, 2);
    exchange.stop().await;
}

async fn every_report_stored_or_returned_has_its_leaf(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let reports: Vec<MarketReport> = (1..=3).map(report).collect();
    let submitted = submit(&kp2mi, reports.clone()).await;
    let mut keys = std::collections::BTreeMap::new();
    for (result, record) in submitted.results.iter().zip(&reports) {
        let leaf = leaf_of(&store, result.receipt.as_ref().expect("receipt")).await;
        assert_eq!(leaf.method, "MarketIntelService/SubmitMarketReports");
        assert_eq!(leaf.record_type, "market_report");
        assert_eq!(leaf.purpose, "MARKET_INTELLIGENCE");
        assert_eq!(
            leaf.principal,
            "spiffe://test.jembatan.local/agency/kp2mi/siskop2mi"
        );
        assert_eq!(leaf.record_digest.len(), 64);
        assert!(!leaf.record_key.is_empty());
        keys.insert(record.report_id.clone(), leaf.record_key);
    }

    let before = store.log_size().await.expect("log size");
    let page = query(&kemendag, QueryMarketReportsRequest::default()).await;
    let after = store.log_size().await.expect("log size");
    assert_eq!(page.reports.len(), 3);
    assert_eq!(page.receipts.len(), 3, "one receipt per report returned");
    assert_eq!(after - before, 3, "one leaf per report returned, no other");
    let mut indices = Vec::new();
    for (returned, receipt) in page.reports.iter().zip(&page.receipts) {
        let leaf = leaf_of(&store, receipt).await;
        assert_eq!(leaf.method, "MarketIntelService/QueryMarketReports");
        assert_eq!(leaf.record_type, "market_report");
        assert_eq!(
            leaf.principal,
            "spiffe://test.jembatan.local/agency/kemendag/itpc-dashboard"
        );
        assert_eq!(
            leaf.record_key, keys[&returned.report_id],
            "names the report returned"
        );
        assert!(receipt.leaf_index >= before);
        indices.push(receipt.leaf_index);
    }
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), 3, "three leaves, not one thrice");

    // A query that returns nothing shares nothing and logs no report.
    let before = store.log_size().await.expect("log size");
    let none = query(
        &kemendag,
        QueryMarketReportsRequest {
            countries: vec!["NZ".into()],
            ..Default::default()
        },
    )
    .await;
    assert!(none.reports.is_empty() && none.receipts.is_empty());
    let leaves = jembatan_tests::store::leaf_rows_from(&store, before).await;
    assert!(
        leaves.iter().all(|l| l.record_type != "market_report"),
        "{leaves:?}"
    );
    exchange.stop().await;
}

async fn the_digest_counts_reports_by_country_chapter_and_kind(pki: &TestPki, url: &str) {
    use OpportunityKind::{BuyerLead, Demand, Price};
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let specs: [(u32, &str, &[&str], OpportunityKind); 5] = [
        (1, "HK", &["0901"], Demand),
        (2, "HK", &["090111"], Demand),
        (3, "HK", &["0901", "2101", "210111"], Demand),
        (4, "HK", &["0901"], Price),
        (5, "TW", &["4409"], BuyerLead),
    ];
    let reports = specs
        .iter()
        .map(|&(n, country, codes, kind)| {
            varied(n, |r| {
                r.country = country.into();
                r.hs_codes = codes.iter().map(|&c| c.to_owned()).collect();
                r.kind = kind.into();
            })
        })
        .collect();
    submit(&kp2mi, reports).await;

    let summarize = |request: SummarizeMarketReportsRequest| {
        let kemendag = kemendag.clone();
        async move {
            market(&kemendag)
                .summarize_market_reports(stated(
                    Purpose::Statistics,
                    LegalBasis::PublicTask,
                    request,
                ))
                .await
                .expect("summarize")
                .into_inner()
        }
    };
    let before = store.log_size().await.expect("log size");
    let digest = summarize(SummarizeMarketReportsRequest::default()).await;
    let after = store.log_size().await.expect("log size");
    let counts: Vec<(&str, &str, &str, &str, OpportunityKind, u64)> = digest
        .counts
        .iter()
        .map(|c| {
            (
                c.country.as_str(),
                c.country_name.as_str(),
                c.hs_chapter.as_str(),
                c.hs_chapter_name.as_str(),
                c.kind(),
                c.reports,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            (
                "HK",
                "Hong Kong",
                "09",
                "Coffee, tea, mate and spices",
                Demand,
                3
            ),
            (
                "HK",
                "Hong Kong",
                "09",
                "Coffee, tea, mate and spices",
                Price,
                1
            ),
            (
                "HK",
                "Hong Kong",
                "21",
                "Miscellaneous edible preparations",
                Demand,
                1
            ),
            (
                "TW",
                "Taiwan, Province of China",
                "44",
                "Wood and articles of wood; wood charcoal",
                BuyerLead,
                1
            ),
        ],
        "report 3 counts once in chapter 09 and once in 21"
    );
    assert_eq!(digest.reports, 5, "distinct reports");
    assert_eq!(after - before, 1, "one leaf for the answer");
    let leaf = leaf_of(&store, digest.receipt.as_ref().expect("receipt")).await;
    assert_eq!(leaf.method, "MarketIntelService/SummarizeMarketReports");
    assert_eq!(leaf.purpose, "STATISTICS");

    // Filters narrow the digest as they narrow queries.
    let digest = summarize(SummarizeMarketReportsRequest {
        countries: vec!["HK".into()],
        kinds: vec![Demand.into()],
        ..Default::default()
    })
    .await;
    let counts: Vec<(&str, u64)> = digest
        .counts
        .iter()
        .map(|c| (c.hs_chapter.as_str(), c.reports))
        .collect();
    assert_eq!(counts, [("09", 3), ("21", 1)]);
    assert_eq!(digest.reports, 3);
    let digest = summarize(SummarizeMarketReportsRequest {
        observed_from: date(2027, 1, 1),
        ..Default::default()
    })
    .await;
    assert!(digest.counts.is_empty());
    assert_eq!(digest.reports, 0);
    assert!(digest.receipt.is_some(), "an empty answer is logged too");
    exchange.stop().await;
}

async fn each_agency_is_held_to_its_side(pki: &TestPki, url: &str) {
    let (exchange, store) = start(pki, url).await;
    let kp2mi = kp2mi(&exchange, pki).await;
    let kemendag = kemendag(&exchange, pki).await;
    let status = market(&kemendag)
        .submit_market_reports(for_market_intelligence(v1::SubmitMarketReportsRequest {
            reports: vec![report(1)],
        }))
        .await
        .expect_err("Kemendag does not submit");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = market(&kp2mi)
        .submit_market_reports(stated(
            Purpose::Statistics,
            LegalBasis::PublicTask,
            v1::SubmitMarketReportsRequest {
                reports: vec![report(1)],
            },
        ))
        .await
        .expect_err("not for statistics");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(stored_reports(&store).await.is_empty());

    submit(&kp2mi, vec![report(1)]).await;
    let status = market(&kp2mi)
        .query_market_reports(for_market_intelligence(QueryMarketReportsRequest::default()))
        .await
        .expect_err("KP2MI does not query");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = market(&kp2mi)
        .summarize_market_reports(for_market_intelligence(
            SummarizeMarketReportsRequest::default(),
        ))
        .await
        .expect_err("KP2MI does not summarize");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = market(&kemendag)
        .query_market_reports(stated(
            Purpose::BusinessMatching,
            LegalBasis::Consent,
            QueryMarketReportsRequest::default(),
        ))
        .await
        .expect_err("not for business matching");
    assert_eq!(status.code(), Code::PermissionDenied);
    exchange.stop().await;
}
