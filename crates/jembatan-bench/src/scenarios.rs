//! The calls each scenario sends, on the project's own client, and what counts as their items.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jembatan_client::v1::{
    self, audit_service_client::AuditServiceClient,
    market_intel_service_client::MarketIntelServiceClient,
    placement_service_client::PlacementServiceClient,
    workforce_service_client::WorkforceServiceClient,
};
use jembatan_client::{Client, ClientTls, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use prost::Message;
use time::Date;
use tokio::sync::mpsc;

use crate::echo::{EchoClient, EchoMessage};
use crate::load::{self, Bound, Plan, Report, Stop};

/// Calls in flight for the unary read scenarios and the echo baseline.
pub(crate) const READ_CONCURRENCY: usize = 16;

/// Calls in flight for pushes: KP2MI's sync jobs, a few at once.
pub(crate) const PUSH_CONCURRENCY: usize = 4;

/// Records generated at a time for a push made while it runs.
const PUSH_CHUNK: u64 = 100_000;

/// ErasePersonalData calls per second by KP2MI in the mixed scenario.
pub(crate) const MIXED_ERASURES_PER_SECOND: f64 = 20.0;

/// QueryAvailability calls per second by Kemendag in the mixed scenario.
pub(crate) const MIXED_QUERIES_PER_SECOND: f64 = 5.0;

/// Sizes of a call's request and answer, in bytes, for an echo that moves as much.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// The request.
    pub(crate) request: usize,
    /// The answer.
    pub(crate) answer: usize,
}

/// Echo calls of `sizes` for `duration`.
pub(crate) async fn echo(
    clients: &[Client],
    sizes: Sizes,
    concurrency: usize,
    duration: Duration,
) -> Report {
    let payload = prost::bytes::Bytes::from(vec![0x5a_u8; sizes.request]);
    let reply_size = u32::try_from(sizes.answer).unwrap_or(u32::MAX);
    on_clients(
        clients,
        for_duration(concurrency, duration),
        move |_, client| {
            let payload = payload.clone();
            async move {
                answer(EchoClient::new(client.channel()).echo(EchoMessage {
                    payload,
                    reply_size,
                }))
                .await
                .map(|_| 1)
            }
        },
    )
    .await
}

/// New connections, each with a full mutual TLS handshake and one call, for `duration`.
/// `echo` says which server is on the other end.
pub(crate) async fn handshakes(
    url: &str,
    tls: &ClientTls,
    echo: bool,
    duration: Duration,
) -> Report {
    let (url, tls) = (url.to_owned(), tls.clone());
    load::run(for_duration(4, duration), move |_| {
        let (url, tls) = (url.clone(), tls.clone());
        async move {
            let client = Client::connect(&url, tls)
                .await
                .map_err(|e| e.to_string())?;
            if echo {
                answer(EchoClient::new(client.channel()).echo(EchoMessage::default())).await?;
            } else {
                client.health("").await.map_err(|e| e.to_string())?;
            }
            Ok(1)
        }
    })
    .await
}

/// The messages of a push of `records` records from `generator` in batches of `batch`.
pub(crate) fn push_requests(
    generator: &mut jembatan_demo::Generator,
    records: u64,
    batch: usize,
) -> Vec<v1::PushPlacementsRequest> {
    let mut requests = Vec::new();
    let mut left = records;
    while left > 0 {
        let take = left.min(batch as u64);
        requests.push(v1::PushPlacementsRequest {
            placements: generator.by_ref().take(take as usize).collect(),
            all_or_nothing: false,
        });
        left -= take;
    }
    requests
}

/// Pushes `requests` as KP2MI, `PUSH_CONCURRENCY` at a time; items are records stored. A
/// record not stored is an error.
pub(crate) async fn push(clients: &[Client], requests: Vec<v1::PushPlacementsRequest>) -> Report {
    let calls = requests.len() as u64;
    let requests: Arc<[Mutex<Option<v1::PushPlacementsRequest>>]> =
        requests.into_iter().map(|r| Mutex::new(Some(r))).collect();
    let plan = Plan {
        concurrency: PUSH_CONCURRENCY,
        bound: Bound::Calls(calls),
        rate: None,
    };
    on_clients(clients, plan, move |n, client| {
        let request = requests
            .get(n as usize)
            .and_then(|slot| slot.lock().ok()?.take());
        async move {
            let request = request.ok_or("no such request")?;
            let sent = request.placements.len();
            let request = stated(
                Purpose::ProgramMonitoring,
                LegalBasis::LegalObligation,
                request,
            )?;
            let response =
                answer(PlacementServiceClient::new(client.channel()).push_placements(request))
                    .await?;
            let stored = response
                .results
                .iter()
                .filter(|r| r.outcome() == v1::RecordOutcome::Stored)
                .count();
            if stored != sent {
                let first = response
                    .results
                    .iter()
                    .find(|r| r.outcome() != v1::RecordOutcome::Stored)
                    .map(|r| format!("{:?} {:?}", r.outcome(), r.violations))
                    .unwrap_or_default();
                return Err(format!(
                    "{stored} of {sent} records stored; first other: {first}"
                ));
            }
            Ok(stored as u64)
        }
    })
    .await
}

/// The requests of a push of `records` records from `generator` in batches of 1,000, made on a
/// blocking thread a chunk of 100,000 records ahead of the push that takes them, so that the
/// push does not pause between chunks.
pub(crate) fn push_chunks(
    mut generator: jembatan_demo::Generator,
    records: u64,
) -> mpsc::Receiver<Vec<v1::PushPlacementsRequest>> {
    let (sender, receiver) = mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let mut left = records;
        while left > 0 {
            let chunk = left.min(PUSH_CHUNK);
            if sender
                .blocking_send(push_requests(&mut generator, chunk, 1000))
                .is_err()
            {
                break;
            }
            left -= chunk;
        }
    });
    receiver
}

/// The NIKs of the next `count` records of `generator`. A generator made again with a push's
/// seed and date gives the NIKs of the workers that push stored, record by record.
pub(crate) fn niks(generator: &mut jembatan_demo::Generator, count: u64) -> Vec<String> {
    generator
        .by_ref()
        .take(count as usize)
        .map(|placement| placement.nik)
        .collect()
}

/// ErasePersonalData as KP2MI by `plan`, call `n` erasing the worker of `niks[n % niks.len()]`
/// for a data subject's request. Items are workers erased: an answer NOT_FOUND (no placement of
/// the worker stored, or erased already) is a call of no items.
pub(crate) async fn erasures(clients: &[Client], niks: Vec<String>, plan: Plan) -> Report {
    let niks: Arc<[String]> = niks.into();
    on_clients(clients, plan, move |n, client| {
        let nik = niks.get(n as usize % niks.len().max(1)).cloned();
        async move {
            let request = v1::ErasePersonalDataRequest {
                nik: nik.ok_or("no NIK to erase")?,
                request_ref: format!("BENCH-PDP-{n}"),
            };
            let request = stated(
                Purpose::ProgramMonitoring,
                LegalBasis::LegalObligation,
                request,
            )?;
            match PlacementServiceClient::new(client.channel())
                .erase_personal_data(request)
                .await
            {
                Ok(response) if response.get_ref().placements_erased > 0 => Ok(1),
                Ok(_) => Err("an erasure of no placement".into()),
                Err(status) if status.code() == tonic::Code::NotFound => Ok(0),
                Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
            }
        }
    })
    .await
}

/// What the mixed scenario measured.
pub(crate) struct Mixed {
    /// The push; its time is the whole push's, from its first call to its last answer.
    pub(crate) push: Report,
    /// The erasures while it ran.
    pub(crate) erasures: Report,
    /// The QueryAvailability calls while it ran.
    pub(crate) queries: Report,
}

/// The mixed scenario: the push of `chunks` by `pusher` (KP2MI's sync) and, while it runs,
/// erasures of `niks` by `eraser` (KP2MI too) and QueryAvailability by `kemendag`, each open
/// loop at its fixed rate. The push starts once its first chunk is made; the calls of both
/// streams that were due before it ended are all sent.
pub(crate) async fn mixed(
    pusher: &[Client],
    eraser: &[Client],
    kemendag: &[Client],
    mut chunks: mpsc::Receiver<Vec<v1::PushPlacementsRequest>>,
    niks: Vec<String>,
    today: Date,
) -> Mixed {
    let mut next = chunks.recv().await;
    let stop = Stop::new();
    let open_loop = |rate| Plan {
        concurrency: READ_CONCURRENCY,
        bound: stop.bound(),
        rate: Some(rate),
    };
    let (erase_plan, query_plan) = (
        open_loop(MIXED_ERASURES_PER_SECOND),
        open_loop(MIXED_QUERIES_PER_SECOND),
    );
    let pushing = async {
        let started = Instant::now();
        let mut report = Report::empty();
        while let Some(requests) = next {
            report.merge(push(pusher, requests).await);
            next = chunks.recv().await;
        }
        report.elapsed = started.elapsed();
        stop.raise();
        report
    };
    let (push, erasures, queries) = tokio::join!(
        pushing,
        erasures(eraser, niks, erase_plan),
        query_availability(kemendag, query_plan, today, false),
    );
    Mixed {
        push,
        erasures,
        queries,
    }
}

/// Kemendag's question: workers returning in the next calendar quarter, by province and
/// occupation (counts take whole months, quarters or years).
pub(crate) fn availability_request(today: Date) -> v1::QueryAvailabilityRequest {
    let (from, to) = next_quarter(today);
    v1::QueryAvailabilityRequest {
        filter: Some(v1::AvailabilityFilter {
            return_from: Some(proto_date(from)),
            return_to: Some(proto_date(to)),
            ..v1::AvailabilityFilter::default()
        }),
        group_by: vec![v1::GroupBy::Province.into(), v1::GroupBy::Occupation.into()],
        min_change: 0,
    }
}

/// The first and last day of the calendar quarter after the one holding `today`.
fn next_quarter(today: Date) -> (Date, Date) {
    let quarter = (u8::from(today.month()) - 1) / 3;
    let (year, first) = if quarter == 3 {
        (today.year() + 1, 1)
    } else {
        (today.year(), 3 * quarter + 4)
    };
    let month = |m: u8| time::Month::try_from(m).unwrap_or(time::Month::January);
    let start = Date::from_calendar_date(year, month(first), 1).unwrap_or(today);
    let last = month(first + 2);
    let end = Date::from_calendar_date(year, last, last.length(year)).unwrap_or(today);
    (start, end)
}

/// Question `i` of a series in which no two are alike (for 1,520 calls): a province, an ISCO
/// major group or none, one of the four quarters after today's, by regency and occupation.
/// The exchange answers a question asked again from its last count; these it counts anew.
pub(crate) fn distinct_availability_request(today: Date, i: usize) -> v1::QueryAvailabilityRequest {
    let provinces: Vec<&str> = {
        let mut codes: Vec<&str> = jembatan_domain::Regency::all()
            .map(|r| r.province())
            .collect();
        codes.dedup();
        codes
    };
    let province = provinces[i % provinces.len()];
    let i = i / provinces.len();
    let (mut from, mut to) = next_quarter(today);
    for _ in 0..i % 4 {
        (from, to) = next_quarter(from);
    }
    let major = (i / 4) % 10;
    v1::QueryAvailabilityRequest {
        filter: Some(v1::AvailabilityFilter {
            origin_province_codes: vec![province.to_owned()],
            occupation_codes: (major > 0).then(|| major.to_string()).into_iter().collect(),
            return_from: Some(proto_date(from)),
            return_to: Some(proto_date(to)),
            ..v1::AvailabilityFilter::default()
        }),
        group_by: vec![v1::GroupBy::Regency.into(), v1::GroupBy::Occupation.into()],
        min_change: 0,
    }
}

/// QueryAvailability by `plan`, the same question each time, or (`distinct`) a new one each
/// call; items are answers.
pub(crate) async fn query_availability(
    clients: &[Client],
    plan: Plan,
    today: Date,
    distinct: bool,
) -> Report {
    let request = availability_request(today);
    on_clients(clients, plan, move |i, client| {
        let request = if distinct {
            distinct_availability_request(today, usize::try_from(i).unwrap_or(0))
        } else {
            request.clone()
        };
        async move {
            let request = stated(Purpose::Statistics, LegalBasis::PublicTask, request)?;
            let response =
                answer(WorkforceServiceClient::new(client.channel()).query_availability(request))
                    .await?;
            if response.cells.is_empty() && !distinct {
                return Err("an empty answer".into());
            }
            Ok(1)
        }
    })
    .await
}

/// QueryAvailability by `plan`, the same question each time, from a caller that may be over
/// its limits: a call refused with RESOURCE_EXHAUSTED counts as a call with no item, so that
/// items are the answered calls and `calls - items` the refused ones.
pub(crate) async fn query_availability_limited(
    clients: &[Client],
    plan: Plan,
    today: Date,
) -> Report {
    let request = availability_request(today);
    on_clients(clients, plan, move |_, client| {
        let request = request.clone();
        async move {
            let request = stated(Purpose::Statistics, LegalBasis::PublicTask, request)?;
            match WorkforceServiceClient::new(client.channel())
                .query_availability(request)
                .await
            {
                Ok(_) => Ok(1),
                Err(status) if status.code() == tonic::Code::ResourceExhausted => Ok(0),
                Err(status) => Err(status.message().to_owned()),
            }
        }
    })
    .await
}

/// ListCandidates pages of 100 of the workers returning within 90 days, for business matching,
/// for `duration`: every call continues one of a few listings where it stopped (from the first
/// page again at the end). Items are candidates, each one an audit leaf.
pub(crate) async fn list_candidates(clients: &[Client], today: Date, duration: Duration) -> Report {
    let filter = availability_request(today).filter;
    // One listing per worker; a call holds its listing until answered, so that each listing
    // moves forward page by page.
    let listings: Arc<[tokio::sync::Mutex<String>]> = (0..READ_CONCURRENCY)
        .map(|_| tokio::sync::Mutex::new(String::new()))
        .collect();
    on_clients(
        clients,
        for_duration(READ_CONCURRENCY, duration),
        move |n, client| {
            let listings = Arc::clone(&listings);
            let listing = n as usize % listings.len();
            let filter = filter.clone();
            async move {
                let mut page_token = listings[listing].lock().await;
                let request = v1::ListCandidatesRequest {
                    filter,
                    page_size: 100,
                    page_token: page_token.clone(),
                };
                let request = stated(Purpose::BusinessMatching, LegalBasis::Consent, request)?;
                let response =
                    answer(WorkforceServiceClient::new(client.channel()).list_candidates(request))
                        .await?;
                *page_token = response.next_page_token;
                if response.receipts.len() != response.candidates.len() {
                    return Err("candidates without a receipt each".into());
                }
                Ok(response.candidates.len() as u64)
            }
        },
    )
    .await
}

/// The requests of a submission of `reports` market reports from `generator` in batches of
/// `batch`.
pub(crate) fn submit_requests(
    generator: &mut jembatan_demo::Reports,
    reports: u64,
    batch: usize,
) -> Vec<v1::SubmitMarketReportsRequest> {
    let mut requests = Vec::new();
    let mut left = reports;
    while left > 0 {
        let take = left.min(batch as u64);
        requests.push(v1::SubmitMarketReportsRequest {
            reports: generator.by_ref().take(take as usize).collect(),
        });
        left -= take;
    }
    requests
}

/// SubmitMarketReports of `requests` as KP2MI, `PUSH_CONCURRENCY` at a time; items are
/// reports stored. A report not stored is an error.
pub(crate) async fn submit_reports(
    clients: &[Client],
    requests: Vec<v1::SubmitMarketReportsRequest>,
) -> Report {
    let calls = requests.len() as u64;
    let requests: Arc<[Mutex<Option<v1::SubmitMarketReportsRequest>>]> =
        requests.into_iter().map(|r| Mutex::new(Some(r))).collect();
    let plan = Plan {
        concurrency: PUSH_CONCURRENCY,
        bound: Bound::Calls(calls),
        rate: None,
    };
    on_clients(clients, plan, move |n, client| {
        let request = requests
            .get(n as usize)
            .and_then(|slot| slot.lock().ok()?.take());
        async move {
            let request = request.ok_or("no such request")?;
            let sent = request.reports.len();
            let request = stated(Purpose::MarketIntelligence, LegalBasis::PublicTask, request)?;
            let response = answer(
                MarketIntelServiceClient::new(client.channel()).submit_market_reports(request),
            )
            .await?;
            let stored = response
                .results
                .iter()
                .filter(|r| r.outcome() == v1::RecordOutcome::Stored)
                .count();
            if stored != sent {
                let first = response
                    .results
                    .iter()
                    .find(|r| r.outcome() != v1::RecordOutcome::Stored)
                    .map(|r| format!("{:?} {:?}", r.outcome(), r.violations))
                    .unwrap_or_default();
                return Err(format!(
                    "{stored} of {sent} reports stored; first other: {first}"
                ));
            }
            Ok(stored as u64)
        }
    })
    .await
}

/// Kemendag's questions by country and HS chapter: where workers are placed the most, on the
/// chapters they report on the most.
pub(crate) fn market_filter_queries() -> Vec<v1::QueryMarketReportsRequest> {
    [
        ("HK", "09"),
        ("TW", "19"),
        ("MY", "21"),
        ("HK", "21"),
        ("TW", "03"),
        ("SA", "19"),
        ("JP", "09"),
        ("KR", "62"),
        ("SG", "46"),
        ("HK", "94"),
        ("MY", "09"),
        ("TW", "62"),
        ("HK", "46"),
        ("JP", "21"),
        ("KR", "19"),
        ("MY", "62"),
    ]
    .into_iter()
    .map(|(country, chapter)| v1::QueryMarketReportsRequest {
        countries: vec![country.to_owned()],
        hs_prefixes: vec![chapter.to_owned()],
        page_size: 100,
        ..v1::QueryMarketReportsRequest::default()
    })
    .collect()
}

/// Kemendag's full-text searches over the reports' titles and summaries.
pub(crate) fn market_text_queries() -> Vec<v1::QueryMarketReportsRequest> {
    [
        "halal",
        "coffee",
        "buyer*",
        "rattan",
        "shrimp",
        "price* rising",
        "furniture",
        "palm oil",
        "sauce",
        "batik",
        "trial order",
        "certification",
        "spice*",
        "cocoa",
        "jewellery",
        "tuna",
    ]
    .into_iter()
    .map(|text| v1::QueryMarketReportsRequest {
        text: text.to_owned(),
        page_size: 100,
        ..v1::QueryMarketReportsRequest::default()
    })
    .collect()
}

/// QueryMarketReports as Kemendag for `duration`: `READ_CONCURRENCY` listings, listing `i`
/// asking `queries[i % len]` page after page where it stopped (from the first page again at
/// the end). Items are reports returned, each one an audit leaf.
pub(crate) async fn query_reports(
    clients: &[Client],
    queries: Vec<v1::QueryMarketReportsRequest>,
    duration: Duration,
) -> Report {
    let queries: Arc<[v1::QueryMarketReportsRequest]> = queries.into();
    // A call holds its listing until answered, so that each listing moves forward page by
    // page.
    let listings: Arc<[tokio::sync::Mutex<String>]> = (0..READ_CONCURRENCY)
        .map(|_| tokio::sync::Mutex::new(String::new()))
        .collect();
    on_clients(
        clients,
        for_duration(READ_CONCURRENCY, duration),
        move |n, client| {
            let listings = Arc::clone(&listings);
            let listing = n as usize % listings.len();
            let query = queries.get(listing % queries.len().max(1)).cloned();
            async move {
                let query = query.ok_or("no query")?;
                let mut page_token = listings[listing].lock().await;
                let request = v1::QueryMarketReportsRequest {
                    page_token: page_token.clone(),
                    ..query
                };
                let request = stated(Purpose::MarketIntelligence, LegalBasis::PublicTask, request)?;
                let response = answer(
                    MarketIntelServiceClient::new(client.channel()).query_market_reports(request),
                )
                .await?;
                *page_token = response.next_page_token;
                if response.receipts.len() != response.reports.len() {
                    return Err("reports without a receipt each".into());
                }
                Ok(response.reports.len() as u64)
            }
        },
    )
    .await
}

/// GetInclusionProof of leaves spread over the first `size` leaves, in the latest checkpoint,
/// as an auditor, for `duration`.
pub(crate) async fn inclusion_proofs(clients: &[Client], size: u64, duration: Duration) -> Report {
    on_clients(
        clients,
        for_duration(READ_CONCURRENCY, duration),
        move |n, client| {
            // A multiplicative hash spreads the calls over the log.
            let leaf_index = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % size.max(1);
            async move {
                let request = v1::GetInclusionProofRequest {
                    leaf: Some(v1::get_inclusion_proof_request::Leaf::LeafIndex(leaf_index)),
                    tree_size: 0,
                };
                let request = stated(Purpose::Audit, LegalBasis::LegalObligation, request)?;
                let response =
                    answer(AuditServiceClient::new(client.channel()).get_inclusion_proof(request))
                        .await?;
                if response.proof.is_none() {
                    return Err("an answer without a proof".into());
                }
                Ok(1)
            }
        },
    )
    .await
}

/// The sizes of a push of `request` and of its answer when every record is stored.
pub(crate) fn push_sizes(request: &v1::PushPlacementsRequest) -> Sizes {
    let answer = v1::PushPlacementsResponse {
        results: request
            .placements
            .iter()
            .enumerate()
            .map(|(i, p)| v1::RecordResult {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                record_id: p.placement_id.clone(),
                outcome: v1::RecordOutcome::Stored.into(),
                violations: Vec::new(),
                receipt: Some(v1::Receipt {
                    leaf_index: 1_000_000 + i as u64,
                    leaf_hash: vec![0; 32],
                }),
            })
            .collect(),
        ..v1::PushPlacementsResponse::default()
    };
    Sizes {
        request: request.encoded_len(),
        answer: answer.encoded_len(),
    }
}

/// A closed-loop plan: `concurrency` calls in flight for `duration`.
pub(crate) fn for_duration(concurrency: usize, duration: Duration) -> Plan {
    Plan {
        concurrency,
        bound: Bound::For(duration),
        rate: None,
    }
}

/// Runs `call` by `plan` as [`load::run`] does, handing call `n` one of `clients` in turn.
async fn on_clients<F, Fut>(clients: &[Client], plan: Plan, call: F) -> Report
where
    F: Fn(u64, Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let clients: Arc<[Client]> = clients.into();
    load::run(plan, move |n| {
        call(n, clients[n as usize % clients.len()].clone())
    })
    .await
}

/// The message of a call's answer, or the message of its failure.
async fn answer<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, String> {
    call.await
        .map(tonic::Response::into_inner)
        .map_err(|status| status.message().to_owned())
}

fn stated<T>(purpose: Purpose, basis: LegalBasis, message: T) -> Result<tonic::Request<T>, String> {
    Stated::new(purpose, basis)
        .request(message)
        .map_err(|e| e.to_string())
}

fn proto_date(date: Date) -> v1::Date {
    v1::Date {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}
