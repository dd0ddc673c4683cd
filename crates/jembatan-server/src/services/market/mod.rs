//! The MarketIntelService: KP2MI submits the market-opportunity reports workers collect
//! abroad; Kemendag queries them report by report (one leaf per report returned) and as a
//! digest of counts by country, HS chapter and kind (one leaf per answer).
//!
//! A report is validated field by field ([`input`]) and refused if its title or summary looks
//! like it holds personal data; reports are versioned per report id ([`versioned`]).

use std::sync::Arc;

use jembatan_domain::Country;
use jembatan_domain::hs::{HsChapter, parse_prefix};
use jembatan_domain::market::MarketReport;
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_policy::DataClass;
use jembatan_proto::convert::{self, ShortCode};
use jembatan_proto::v1::{
    self, MarketReportCount, QueryMarketReportsRequest, QueryMarketReportsResponse,
    SubmitMarketReportsRequest, SubmitMarketReportsResponse, SummarizeMarketReportsRequest,
    SummarizeMarketReportsResponse, market_intel_service_server::MarketIntelService,
};
use jembatan_store::market::{MarketReportRecord, ReportFilter, TextQuery, search_text};
use jembatan_store::{Store, VersionedTable};
use prost::Message;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::call::Caller;
use crate::services::versioned::{Batch, Verdict, Versioned, summary};
use crate::services::{latest_date, log_shared, paging, receipt};
use crate::status::{WriteFailed, invalid_field, store_status};
use input::report_from_proto;

mod input;

impl Versioned for v1::MarketReport {
    fn id(&self) -> &str {
        &self.report_id
    }

    fn version(&self) -> u64 {
        self.version
    }
}

/// The MarketIntelService over the store.
#[derive(Debug, Clone)]
pub(crate) struct MarketApi {
    store: Store,
    /// The key of the pseudonyms under which recipients see reporters.
    key: Arc<PersonalDataKey>,
}

impl MarketApi {
    pub(crate) fn new(store: Store, key: Arc<PersonalDataKey>) -> Self {
        Self { store, key }
    }
}

/// What the store keeps of a report judged to be stored.
fn report_to_store(
    report: &MarketReport,
    encoded: &[u8],
    judged: &crate::services::versioned::Judged,
) -> MarketReportRecord {
    let mut chapters: Vec<String> = report
        .hs_codes
        .iter()
        .map(|code| code.chapter().code().to_owned())
        .collect();
    chapters.sort();
    chapters.dedup();
    MarketReportRecord {
        report_id: report.report_id.clone(),
        record_key: judged.record_key.clone(),
        salt: judged.salt.clone(),
        digest: judged.digest.clone().into_bytes(),
        version: report.version,
        country: report.country.code().to_owned(),
        kind: report.kind.code().to_owned(),
        hs_codes: report
            .hs_codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        hs_chapters: chapters,
        search_text: search_text([report.title.as_str(), report.summary.as_str()]),
        observed_on: convert::date::to_text(report.observed_on),
        report: encoded.to_vec(),
        change_seq: judged.leaf_index,
    }
}

/// The filter of a query or digest, each field checked; `fields` are the request's lists.
fn report_filter(
    countries: &[String],
    hs_prefixes: &[String],
    kinds: &[i32],
    observed: (Option<&v1::Date>, Option<&v1::Date>),
    text: &str,
) -> Result<ReportFilter, Status> {
    let mut filter = ReportFilter::default();
    for (i, code) in countries.iter().enumerate() {
        let country = Country::parse(code)
            .map_err(|reason| invalid_field(&format!("countries[{i}]"), &reason))?;
        filter.countries.push(country.code().to_owned());
    }
    for (i, prefix) in hs_prefixes.iter().enumerate() {
        let prefix = parse_prefix(prefix)
            .map_err(|reason| invalid_field(&format!("hs_prefixes[{i}]"), &reason))?;
        filter.hs_prefixes.push(prefix);
    }
    for (i, number) in kinds.iter().enumerate() {
        match v1::OpportunityKind::from_number(*number) {
            Some(kind) if kind != v1::OpportunityKind::Unspecified => {
                filter.kinds.push(kind.code().to_owned());
            }
            _ => {
                return Err(invalid_field(
                    &format!("kinds[{i}]"),
                    "is not an opportunity kind",
                ));
            }
        }
    }
    let day = |field: &str, date: Option<&v1::Date>| -> Result<Option<String>, Status> {
        date.map(|d| {
            convert::date::from_proto(d)
                .map(convert::date::to_text)
                .map_err(|error| invalid_field(field, &error.to_string()))
        })
        .transpose()
    };
    filter.observed_from = day("observed_from", observed.0)?;
    filter.observed_to = day("observed_to", observed.1)?;
    if let (Some(from), Some(to)) = (&filter.observed_from, &filter.observed_to)
        && from > to
    {
        return Err(invalid_field("observed_to", "is before observed_from"));
    }
    filter.text = text_query(text)?;
    Ok(filter)
}

/// Longest search text, in characters.
const MAX_TEXT: usize = 200;

/// Most words of one search.
const MAX_WORDS: usize = 10;

/// The words of a search `text`: runs of letters and digits, lower-cased, a `*` right after a
/// word making it a prefix; everything else separates words. `None` for no text.
fn text_query(text: &str) -> Result<Option<TextQuery>, Status> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_TEXT {
        return Err(invalid_field(
            "text",
            &format!("at most {MAX_TEXT} characters"),
        ));
    }
    let mut words: Vec<(String, bool)> = Vec::new();
    let mut word = String::new();
    for c in text.chars().chain([' ']) {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            let prefix = c == '*';
            words.push((std::mem::take(&mut word), prefix));
        }
    }
    if words.is_empty() {
        return Err(invalid_field("text", "holds no word of letters or digits"));
    }
    if words.len() > MAX_WORDS {
        return Err(invalid_field("text", &format!("at most {MAX_WORDS} words")));
    }
    Ok(Some(TextQuery { words }))
}

/// A page position: the last report's observation day and row id in one number (the day
/// number since 0000-01-01 above 40 bits of row id).
fn position_token(observed_on: &str, id: i64) -> Option<String> {
    let day = convert::date::parse_text(observed_on).ok()?;
    let days = u64::try_from(day.to_julian_day()).ok()?;
    let id = u64::try_from(id).ok().filter(|id| *id < 1 << 40)?;
    Some(paging::token("before", (days << 40) | id))
}

/// The position in a page token.
fn parse_position(token: &str) -> Result<Option<(String, i64)>, Status> {
    let Some(value) = paging::parse("page_token", "before", token)? else {
        return Ok(None);
    };
    let bad = || invalid_field("page_token", "not a token this exchange gave");
    let day = i32::try_from(value >> 40).map_err(|_| bad())?;
    let day = time::Date::from_julian_day(day).map_err(|_| bad())?;
    let id = i64::try_from(value & ((1 << 40) - 1)).map_err(|_| bad())?;
    Ok(Some((convert::date::to_text(day), id)))
}

#[tonic::async_trait]
impl MarketIntelService for MarketApi {
    async fn submit_market_reports(
        &self,
        request: Request<SubmitMarketReportsRequest>,
    ) -> Result<Response<SubmitMarketReportsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let now = OffsetDateTime::now_utc();
        let today = latest_date(now);
        let batch = Batch::validate(
            request.into_inner().reports,
            "reports",
            now,
            |report, prefix| report_from_proto(report, prefix, today),
        )?;
        let ticket = caller.ticket(batch.valid().len());
        let (batch, receipts) = self
            .store
            .write(ticket, move |write| {
                Box::pin(async move {
                    let mut batch = batch;
                    let (rows, leaves) = batch
                        .judge(
                            write,
                            VersionedTable::MarketReports,
                            (&caller, "market_report", DataClass::MarketReport),
                            |record, judged| {
                                Ok((judged.verdict == Verdict::Store).then(|| {
                                    report_to_store(&record.value, &record.encoded, judged)
                                }))
                            },
                        )
                        .await?;
                    write.upsert_market_reports(&rows).await?;
                    Ok::<_, WriteFailed>((batch, leaves))
                })
            })
            .await
            .map_err(Status::from)?;
        let results = batch.results(&receipts);
        Ok(Response::new(SubmitMarketReportsResponse {
            summary: Some(summary(&results)),
            results,
        }))
    }

    async fn query_market_reports(
        &self,
        request: Request<QueryMarketReportsRequest>,
    ) -> Result<Response<QueryMarketReportsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.require(DataClass::MarketReport)?;
        let r = request.into_inner();
        let filter = report_filter(
            &r.countries,
            &r.hs_prefixes,
            &r.kinds,
            (r.observed_from.as_ref(), r.observed_to.as_ref()),
            &r.text,
        )?;
        let page_size = paging::page_size(r.page_size)?;
        let before = parse_position(&r.page_token)?;
        let recipient = caller.agency().unwrap_or_default().to_owned();
        let rows = self
            .store
            .market_reports(&filter, before, page_size)
            .await
            .map_err(store_status)?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() == page_size as usize => {
                position_token(&last.observed_on, last.id).ok_or_else(|| {
                    tracing::error!(id = last.id, "a report's position does not fit a token");
                    Status::internal(
                        "the next page's position cannot be given; the page was not shared",
                    )
                })?
            }
            _ => String::new(),
        };
        let mut reports = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut report = v1::MarketReport::decode(row.report.as_slice()).map_err(|error| {
                tracing::error!(%error, "a stored market report does not decode");
                Status::internal("a stored report is unreadable; nothing was shared")
            })?;
            // KP2MI's id of the reporter is KP2MI's; a recipient sees its own pseudonym of it,
            // stable for that agency, not joinable with another's.
            report.reporter_ref = self
                .key
                .pseudonym(&recipient, &format!("reporter:{}", report.reporter_ref));
            reports.push(report);
        }
        let shared = rows.iter().map(|row| {
            (
                row.record_key.as_str(),
                row.salt.as_slice(),
                row.report.as_slice(),
            )
        });
        let receipts = log_shared(
            &self.store,
            &caller,
            "market_report",
            DataClass::MarketReport,
            shared,
        )
        .await?;
        Ok(Response::new(QueryMarketReportsResponse {
            reports,
            next_page_token,
            receipts,
        }))
    }

    async fn summarize_market_reports(
        &self,
        request: Request<SummarizeMarketReportsRequest>,
    ) -> Result<Response<SummarizeMarketReportsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.require(DataClass::MarketReport)?;
        let r = request.into_inner();
        let filter = report_filter(
            &r.countries,
            &r.hs_prefixes,
            &r.kinds,
            (r.observed_from.as_ref(), r.observed_to.as_ref()),
            &r.text,
        )?;
        let (counts, reports) = self
            .store
            .count_market_reports(&filter)
            .await
            .map_err(store_status)?;
        let counts = counts
            .into_iter()
            .map(|count| MarketReportCount {
                country_name: Country::parse(&count.country)
                    .map(|c| c.name().to_owned())
                    .unwrap_or_default(),
                hs_chapter_name: HsChapter::parse(&count.hs_chapter)
                    .map(|c| c.title().to_owned())
                    .unwrap_or_default(),
                kind: v1::OpportunityKind::number_of_code(&count.kind).unwrap_or(0),
                country: count.country,
                hs_chapter: count.hs_chapter,
                reports: count.reports,
            })
            .collect();
        let mut answer = SummarizeMarketReportsResponse {
            counts,
            reports,
            receipt: None,
        };
        let leaf = caller.aggregate_of(DataClass::MarketReport, &answer.encode_to_vec());
        let receipts = self
            .store
            .log(caller.ticket(1), vec![leaf])
            .await
            .map_err(store_status)?;
        answer.receipt = receipts.first().map(receipt);
        Ok(Response::new(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_becomes_lower_case_words_and_prefixes() {
        let query = text_query("Kopi  ARABIKA, gayo* -- 2026")
            .expect("ok")
            .expect("words");
        assert_eq!(
            query.words,
            vec![
                ("kopi".to_owned(), false),
                ("arabika".to_owned(), false),
                ("gayo".to_owned(), true),
                ("2026".to_owned(), false),
            ]
        );
        assert_eq!(text_query("  ").expect("ok"), None);
        assert!(text_query("\"\" * -- ").is_err());
        assert!(text_query(&"a ".repeat(11)).is_err());
        assert!(text_query(&"a".repeat(201)).is_err());
    }

    #[test]
    fn page_positions_round_trip_and_others_are_refused() {
        let token = position_token("2026-11-30", 12_345).expect("token");
        assert_eq!(
            parse_position(&token).expect("parsed"),
            Some(("2026-11-30".to_owned(), 12_345))
        );
        assert_eq!(parse_position("").expect("empty"), None);
        assert!(parse_position(&paging::token("after", 5)).is_err());
        assert!(position_token("2026-11-30", 1 << 40).is_none());
    }
}
