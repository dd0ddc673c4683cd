//! A market report as a line of a reports file, and its contract form. The format is
//! documented in `docs/market-and-programs-files.md`.

use jembatan_proto::convert::ShortCode;
use jembatan_proto::v1;
use serde::Deserialize;

use crate::codes::{Code, Day};
use crate::file::{Column, FileRecord, Form};

/// One market report of a file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportRecord {
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

impl ReportRecord {
    /// The contract's `MarketReport`.
    pub fn to_proto(&self) -> v1::MarketReport {
        v1::MarketReport {
            report_id: self.report_id.clone(),
            version: self.version,
            country: self.country.clone(),
            city: self.city.clone(),
            kind: self.kind.map_or(0, |Code(kind)| kind.number()),
            hs_codes: self.hs_codes.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            estimated_value_usd: self.estimated_value_usd,
            observed_on: self.observed_on.map(Day::to_proto),
            reporter_ref: self.reporter_ref.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::file::CsvLayout;

    const LINE: &str = r#"{"report_id":"MR-2026-0001","version":1,"country":"SA","city":"Riyadh","kind":"DEMAND","hs_codes":["0901","090111"],"title":"Specialty coffee roasters seek Indonesian beans","summary":"Three roasters in Riyadh buy Gayo arabica through Dubai traders.","estimated_value_usd":250000,"observed_on":"2026-03-14","reporter_ref":"RPT-7731"}"#;

    #[test]
    fn a_line_reads_into_the_contract_message() {
        let value: serde_json::Value = serde_json::from_str(LINE).expect("json");
        let record = ReportRecord::from_json(&value).expect("a report");
        let message = record.to_proto();
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
