//! A market report as a line of a reports file, its contract form, and `jembatan market
//! submit`. The format is documented in `docs/market-and-programs-files.md`.

use jembatan_client::convert::ShortCode;
use jembatan_client::v1::market_intel_service_client::MarketIntelServiceClient;
use jembatan_client::v1::{self, SubmitMarketReportsRequest};
use serde::Deserialize;
use tonic::transport::Channel;

use crate::batch_push::BatchMethod;
use crate::codes::{Code, Day};
use crate::record_file::{Column, FileRecord, Form};

/// One market report of a file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ReportRecord {
    /// KP2MI's report id.
    report_id: String,
    /// KP2MI's version of the report.
    version: u64,
    /// Country observed, ISO 3166-1 alpha-2.
    country: String,
    /// City observed.
    city: String,
    /// Kind of opportunity.
    kind: Option<Code<v1::OpportunityKind>>,
    /// HS 2022 / BTKI 2022 codes, 2 to 8 digits.
    hs_codes: Vec<String>,
    /// Short title.
    title: String,
    /// The observation.
    summary: String,
    /// Estimated annual value, US dollars.
    estimated_value_usd: Option<u64>,
    /// When the observation was made.
    observed_on: Option<Day>,
    /// KP2MI's pseudonymous id of the reporting worker.
    reporter_ref: String,
}

impl FileRecord for ReportRecord {
    const ID_KEY: &'static str = "report_id";
    const COLUMNS: &'static [Column] = &COLUMNS;

    fn id(&self) -> &str {
        &self.report_id
    }
}

/// The columns of a market reports CSV file, in their documented order.
const COLUMNS: [Column; 11] = {
    use Form::{Integer, Text};
    [
        Column::top("report_id", Text),
        Column::top("version", Integer),
        Column::top("country", Text),
        Column::top("city", Text),
        Column::top("kind", Text),
        Column::top("hs_codes", Form::List('|')),
        Column::top("title", Text),
        Column::top("summary", Text),
        Column::top("estimated_value_usd", Integer),
        Column::top("observed_on", Text),
        Column::top("reporter_ref", Text),
    ]
};

/// SubmitMarketReports.
#[derive(Clone)]
pub(crate) struct SubmitMarketReports(pub(crate) MarketIntelServiceClient<Channel>);

impl BatchMethod for SubmitMarketReports {
    type Record = ReportRecord;
    type Message = v1::MarketReport;
    const NAME: &'static str = "SubmitMarketReports";
    const FIELD: &'static str = "reports";

    fn message(record: &ReportRecord) -> v1::MarketReport {
        v1::MarketReport {
            report_id: record.report_id.clone(),
            version: record.version,
            country: record.country.clone(),
            city: record.city.clone(),
            kind: record.kind.map_or(0, |Code(kind)| kind.number()),
            hs_codes: record.hs_codes.clone(),
            title: record.title.clone(),
            summary: record.summary.clone(),
            estimated_value_usd: record.estimated_value_usd,
            observed_on: record.observed_on.map(Day::to_proto),
            reporter_ref: record.reporter_ref.clone(),
        }
    }

    async fn call(
        mut self,
        request: tonic::Request<Vec<v1::MarketReport>>,
    ) -> Result<Vec<v1::RecordResult>, tonic::Status> {
        let request = request.map(|reports| SubmitMarketReportsRequest { reports });
        Ok(self
            .0
            .submit_market_reports(request)
            .await?
            .into_inner()
            .results)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::record_file::CsvLayout;

    const LINE: &str = r#"{"report_id":"MR-2026-0001","version":1,"country":"SA","city":"Riyadh","kind":"DEMAND","hs_codes":["0901","090111"],"title":"Specialty coffee roasters seek Indonesian beans","summary":"Three roasters in Riyadh buy Gayo arabica through Dubai traders.","estimated_value_usd":250000,"observed_on":"2026-03-14","reporter_ref":"RPT-7731"}"#;

    #[test]
    fn a_line_reads_into_the_contract_message() {
        let value: serde_json::Value = serde_json::from_str(LINE).expect("json");
        let record = ReportRecord::from_json(&value).expect("a report");
        let message = SubmitMarketReports::message(&record);
        assert_eq!(message.kind, v1::OpportunityKind::Demand as i32);
        assert_eq!(message.hs_codes, ["0901", "090111"]);
        assert_eq!(message.estimated_value_usd, Some(250_000));
        assert_eq!(
            message.observed_on,
            Some(v1::Date {
                year: 2026,
                month: 3,
                day: 14
            })
        );
        let error = ReportRecord::from_json(&json!({"kind": "OPPORTUNITY_KIND_DEMAND"}))
            .expect_err("a prefixed kind");
        assert!(error.starts_with("kind: "), "{error}");
        assert!(error.contains("BUYER_LEAD"), "{error}");
    }

    #[test]
    fn a_csv_row_reads_as_its_line_with_hs_codes_split_on_bars() {
        let header = csv::StringRecord::from(vec![
            "report_id",
            "country",
            "kind",
            "hs_codes",
            "observed_on",
            "estimated_value_usd",
        ]);
        let layout = CsvLayout::from_header(&COLUMNS, &header).expect("layout");
        let row =
            csv::StringRecord::from(vec!["MR-1", "SA", "PRICE", "0901|090111", "2026-03-14", ""]);
        let record =
            ReportRecord::from_json(&layout.to_json(&row).expect("json")).expect("a report");
        assert_eq!(record.hs_codes, ["0901", "090111"]);
        assert_eq!(record.estimated_value_usd, None);
        let row = csv::StringRecord::from(vec!["MR-1", "SA", "PRICE", "09", "14/03/2026", ""]);
        let error =
            ReportRecord::from_json(&layout.to_json(&row).expect("json")).expect_err("a bad date");
        assert!(error.starts_with("observed_on: "), "{error}");
    }
}
