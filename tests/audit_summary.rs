//! SummarizeEntries, the counts behind the auditors' charts: per day, caller, method, purpose,
//! record type, decision and refusal reason, counted by the store on both databases exactly as
//! the leaves say (an aggregate refusal leaf counts every call it stands for); answered to
//! auditors only, for a bounded range, and logged like every read of the log.

use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_client::Stated;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::audit_service_client::AuditServiceClient;
use jembatan_proto::v1::{self, EntryCount, SummarizeEntriesRequest};
use jembatan_store::{LeafCount, LeafFilter, WriteTicket};
use jembatan_tests::placements::{placement, push};
use jembatan_tests::{RunningExchange, TRUST_DOMAIN, TestPki, config, open_store, placement_leaf};
use tonic::Code;

jembatan_tests::on_both_databases!(
    the_store_counts_leaves_per_day_as_they_say,
    auditors_get_the_counts_of_what_crossed_and_what_was_refused,
);

fn leaf(time: &str, principal: &str, method: &str, outcome: Outcome, status: &str) -> LeafEntry {
    LeafEntry {
        time: time.into(),
        principal: principal.into(),
        method: method.into(),
        outcome,
        status: status.into(),
        record_type: if outcome == Outcome::Deny {
            "request".into()
        } else {
            "candidate".into()
        },
        purpose: "BUSINESS_MATCHING".into(),
        ..placement_leaf(0)
    }
}

async fn the_store_counts_leaves_per_day_as_they_say(pki: &TestPki, url: &str) {
    let store = open_store(pki, url).await;
    let kp2mi = format!("spiffe://{TRUST_DOMAIN}/agency/kp2mi/siskop2mi");
    let kemendag = format!("spiffe://{TRUST_DOMAIN}/agency/kemendag/export-portal");
    let bappenas = format!("spiffe://{TRUST_DOMAIN}/agency/bappenas/sipd");
    let candidates = "WorkforceService/ListCandidates";
    let mut leaves: Vec<LeafEntry> = (0..3).map(placement_leaf).collect(); // 2026-11-22, kp2mi
    leaves.extend([
        leaf(
            "2026-11-23T01:00:00.000Z",
            &kemendag,
            candidates,
            Outcome::Allow,
            "",
        ),
        leaf(
            "2026-11-23T23:59:59.999Z",
            &kemendag,
            candidates,
            Outcome::Allow,
            "",
        ),
        LeafEntry {
            refused_calls: 5,
            ..leaf(
                "2026-11-23T10:00:00.000Z",
                &bappenas,
                candidates,
                Outcome::Deny,
                "permission_denied",
            )
        },
        leaf(
            "2026-11-23T11:00:00.000Z",
            "unidentified",
            candidates,
            Outcome::Deny,
            "unauthenticated",
        ),
        // Outside the range asked for.
        leaf(
            "2026-11-24T00:00:00.000Z",
            &kemendag,
            candidates,
            Outcome::Allow,
            "",
        ),
        leaf(
            "2026-11-21T23:59:59.999Z",
            &kemendag,
            candidates,
            Outcome::Allow,
            "",
        ),
    ]);
    store
        .log(WriteTicket::new("test").records(leaves.len()), leaves)
        .await
        .expect("log");

    let counts = store
        .count_leaves(
            "2026-11-22T00:00:00.000Z",
            "2026-11-24T00:00:00.000Z",
            "",
            u64::MAX,
        )
        .await
        .expect("count");
    let count = |day: &str,
                 principal: &str,
                 method: &str,
                 record_type: &str,
                 outcome,
                 reason: &str,
                 count| {
        LeafCount {
            day: day.into(),
            principal: principal.to_owned(),
            method: method.into(),
            purpose: if record_type == "placement" {
                "PLACEMENT_PROTECTION".into()
            } else {
                "BUSINESS_MATCHING".into()
            },
            record_type: record_type.into(),
            outcome,
            reason: reason.into(),
            count,
        }
    };
    // Ordered by day, then principal, method, …
    assert_eq!(
        counts,
        vec![
            count(
                "2026-11-22",
                &kp2mi,
                "PlacementService/PushPlacements",
                "placement",
                Outcome::Allow,
                "",
                3
            ),
            count(
                "2026-11-23",
                &bappenas,
                candidates,
                "request",
                Outcome::Deny,
                "permission_denied",
                5
            ),
            count(
                "2026-11-23",
                &kemendag,
                candidates,
                "candidate",
                Outcome::Allow,
                "",
                2
            ),
            count(
                "2026-11-23",
                "unidentified",
                candidates,
                "request",
                Outcome::Deny,
                "unauthenticated",
                1
            ),
        ]
    );

    let only_kemendag = store
        .count_leaves(
            "2026-11-01T00:00:00.000Z",
            "2026-12-01T00:00:00.000Z",
            &format!("spiffe://{TRUST_DOMAIN}/agency/kemendag/"),
            u64::MAX,
        )
        .await
        .expect("count");
    assert_eq!(
        only_kemendag
            .iter()
            .map(|c| (c.day.as_str(), c.count))
            .collect::<Vec<_>>(),
        [("2026-11-21", 1), ("2026-11-23", 2), ("2026-11-24", 1)]
    );
    // Counted at a size: leaves from index 2 on are left out, whatever commits meanwhile.
    let at_two = store
        .count_leaves(
            "2026-11-01T00:00:00.000Z",
            "2026-12-01T00:00:00.000Z",
            "",
            2,
        )
        .await
        .expect("count");
    assert_eq!(
        at_two.iter().map(|c| c.count).collect::<Vec<_>>(),
        [2],
        "{at_two:?}"
    );
    store.close().await;
}

fn audit<T>(message: T) -> tonic::Request<T> {
    Stated::new(Purpose::Audit, LegalBasis::LegalObligation)
        .request(message)
        .expect("request")
}

/// From yesterday to tomorrow, UTC: today's calls, whenever the test runs.
fn around_today() -> SummarizeEntriesRequest {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let day = 86_400;
    let midnight = now - now.rem_euclid(day);
    SummarizeEntriesRequest {
        from_time: Some(prost_types::Timestamp {
            seconds: midnight - day,
            nanos: 0,
        }),
        to_time: Some(prost_types::Timestamp {
            seconds: midnight + 2 * day,
            nanos: 0,
        }),
        agency: String::new(),
    }
}

fn find<'a>(
    counts: &'a [EntryCount],
    agency: &str,
    method: &str,
    decision: v1::Decision,
) -> Vec<&'a EntryCount> {
    counts
        .iter()
        .filter(|c| c.agency == agency && c.method == method && c.decision == decision as i32)
        .collect()
}

async fn auditors_get_the_counts_of_what_crossed_and_what_was_refused(pki: &TestPki, url: &str) {
    let exchange = RunningExchange::start(&config(pki, url, "")).await;
    let store = open_store(pki, url).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    let pushed = push(&kp2mi, (0..4).map(placement).collect()).await;
    assert_eq!(pushed.results.len(), 4);
    jembatan_tests::denied_call(&exchange, pki, "bappenas", "sipd").await;

    // Agencies may not: the counts tell who received what, which is the auditors' to see.
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    let refused = AuditServiceClient::new(kemendag.channel())
        .summarize_entries(audit(around_today()))
        .await
        .expect_err("kemendag may not summarize the log");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    let auditor = exchange
        .connect(pki.auditor("inspectorate"))
        .await
        .expect("connect");
    let mut client = AuditServiceClient::new(auditor.channel());
    let answer = client
        .summarize_entries(audit(around_today()))
        .await
        .expect("summarize")
        .into_inner();
    let counts = &answer.counts;
    let pushes = find(
        counts,
        "kp2mi",
        "/jembatan.v1.PlacementService/PushPlacements",
        v1::Decision::Allow,
    );
    assert_eq!(pushes.len(), 1, "{counts:#?}");
    assert_eq!(
        (pushes[0].count, pushes[0].record_type.as_str()),
        (4, "placement")
    );
    assert_eq!(pushes[0].purpose, v1::Purpose::ProgramMonitoring as i32);
    let denials = counts
        .iter()
        .filter(|c| c.decision == v1::Decision::Deny as i32)
        .map(|c| {
            (
                c.agency.as_str(),
                c.method.as_str(),
                c.reason.as_str(),
                c.count,
            )
        })
        .collect::<Vec<_>>();
    assert!(
        denials.contains(&(
            "kemendag",
            "/jembatan.v1.AuditService/SummarizeEntries",
            "permission_denied",
            1
        )),
        "{denials:?}"
    );
    assert!(
        denials
            .iter()
            .any(|d| d.0 == "bappenas" && d.2 == "permission_denied"),
        "{denials:?}"
    );
    // Every leaf of the log so far is counted once: none was aggregated.
    assert_eq!(
        counts.iter().map(|c| c.count).sum::<u64>(),
        answer.tree_size
    );

    // The look is itself on the record.
    let size = store.log_size().await.expect("size");
    let last = store
        .list_leaves(&LeafFilter::default(), Some(size - 2), u64::MAX, 10)
        .await
        .expect("leaves");
    let leaf = LeafEntry::parse(&last.last().expect("a leaf").1).expect("leaf");
    assert_eq!(
        (leaf.method.as_str(), leaf.record_type.as_str()),
        ("AuditService/SummarizeEntries", "audit_summary")
    );

    // One agency's counts only.
    let kp2mi_only = client
        .summarize_entries(audit(SummarizeEntriesRequest {
            agency: "kp2mi".into(),
            ..around_today()
        }))
        .await
        .expect("summarize")
        .into_inner();
    assert!(!kp2mi_only.counts.is_empty());
    assert!(
        kp2mi_only.counts.iter().all(|c| c.agency == "kp2mi"),
        "{kp2mi_only:?}"
    );

    // 366 days is the longest range.
    let longest = SummarizeEntriesRequest {
        to_time: Some(prost_types::Timestamp {
            seconds: around_today().from_time.expect("from").seconds + 366 * 86_400,
            nanos: 0,
        }),
        ..around_today()
    };
    client
        .summarize_entries(audit(longest))
        .await
        .expect("366 days are answered");

    // Bad ranges and names are refused naming the field; no summary is answered (the refusal
    // is logged as refusals are, but no audit_summary leaf).
    let summaries = |store: &jembatan_store::Store| {
        let store = store.clone();
        async move {
            store
                .list_leaves(
                    &LeafFilter {
                        record_type: Some("audit_summary".into()),
                        ..LeafFilter::default()
                    },
                    None,
                    u64::MAX,
                    1000,
                )
                .await
                .expect("leaves")
                .len()
        }
    };
    let before = summaries(&store).await;
    let too_long = SummarizeEntriesRequest {
        to_time: Some(prost_types::Timestamp {
            seconds: around_today().from_time.expect("from").seconds + 400 * 86_400,
            nanos: 0,
        }),
        ..around_today()
    };
    for (request, field) in [
        (SummarizeEntriesRequest::default(), "from_time"),
        (too_long, "to_time"),
        (
            SummarizeEntriesRequest {
                agency: "kp2mi/../kemendag".into(),
                ..around_today()
            },
            "agency",
        ),
    ] {
        let status = client
            .summarize_entries(audit(request))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    }
    assert_eq!(summaries(&store).await, before);
    exchange.stop().await;
}
