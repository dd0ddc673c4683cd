//! Market reports for the tests: valid ones to vary, calls of the market-intelligence service
//! stating a purpose, and the stored reports read past the store's API.

use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    self, Date, MarketReport, OpportunityKind,
    market_intel_service_client::MarketIntelServiceClient,
};
use jembatan_store::Store;
use jembatan_store::test_door::RawPool;
use tonic::transport::Channel;

use crate::placements::stated;

/// A date.
pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A valid report `n`: demand for coffee (heading 0901) in Hong Kong, observed on day `n % 28`
/// + 1 of March 2026, without personal data.
pub fn report(n: u32) -> MarketReport {
    MarketReport {
        report_id: format!("MR-2026-{n:06}"),
        version: 1,
        country: "HK".into(),
        city: "Hong Kong".into(),
        kind: OpportunityKind::Demand.into(),
        hs_codes: vec!["0901".into()],
        title: format!("Cafes in Kowloon look for roasted beans ({n})"),
        summary: "Specialty cafes ask for single-origin roasted beans from Java and Sumatra, \
                  about 2 tonnes a month."
            .into(),
        estimated_value_usd: Some(120_000),
        observed_on: date(2026, 3, 1 + (n % 28) as i32),
        reporter_ref: format!("RPT-{:04}", n % 50),
    }
}

/// The market-intelligence service of `client`.
pub fn market(client: &Client) -> MarketIntelServiceClient<Channel> {
    MarketIntelServiceClient::new(client.channel())
}

/// `message` as KP2MI submits and Kemendag reads: market intelligence on a public task.
pub fn for_market_intelligence<T>(message: T) -> tonic::Request<T> {
    stated(Purpose::MarketIntelligence, LegalBasis::PublicTask, message)
}

/// Submits `reports` and returns the response.
pub async fn submit(
    client: &Client,
    reports: Vec<MarketReport>,
) -> v1::SubmitMarketReportsResponse {
    market(client)
        .submit_market_reports(for_market_intelligence(v1::SubmitMarketReportsRequest {
            reports,
        }))
        .await
        .expect("submit market reports")
        .into_inner()
}

/// One page of reports matching `request`.
pub async fn query(
    client: &Client,
    request: v1::QueryMarketReportsRequest,
) -> v1::QueryMarketReportsResponse {
    market(client)
        .query_market_reports(for_market_intelligence(request))
        .await
        .expect("query market reports")
        .into_inner()
}

/// The ids of every report matching `request`, following pages.
pub async fn query_ids(client: &Client, request: v1::QueryMarketReportsRequest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut request = request;
    loop {
        let page = query(client, request.clone()).await;
        assert_eq!(
            page.reports.len(),
            page.receipts.len(),
            "a receipt per report"
        );
        ids.extend(page.reports.into_iter().map(|r| r.report_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        request.page_token = page.next_page_token;
    }
}

/// The ids of the stored reports, in order, read past the store's API.
pub async fn stored_reports(store: &Store) -> Vec<String> {
    const SQL: &str = "SELECT report_id FROM market_reports ORDER BY report_id";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        RawPool::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
    }
    .expect("read market reports")
}
