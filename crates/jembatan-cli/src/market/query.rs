//! `jembatan market query` and `digest`: Kemendag reads the reports, or counts them.

use std::process::ExitCode;

use jembatan_client::ClientError;
use jembatan_client::convert::{ShortCode, date, thousands};
use jembatan_client::v1::market_intel_service_client::MarketIntelServiceClient;
use jembatan_client::v1::{self, QueryMarketReportsRequest, SummarizeMarketReportsRequest};
use jembatan_records::codes::Day;
use serde_json::{Value, json};

use super::{AskingArgs, ReportFilterArgs};
use crate::connection::ConnectionArgs;
use crate::table::{Table, truncate};

/// Characters of a title shown in the table.
const TITLE_SHOWN: usize = 60;

/// Characters of a name shown beside its code in the digest.
const NAME_SHOWN: usize = 40;

/// Arguments of `jembatan market query`.
#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    filter: ReportFilterArgs,
    /// Reports per page, 1 to 1000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Continue from this page token (printed after a page).
    #[arg(long, value_name = "TOKEN")]
    page_token: Option<String>,
    /// Follow the pages to the last one.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    asking: AskingArgs,
    /// JSON Lines, one line per page: its reports (in the form of a reports file, each with its
    /// receipt) and the next page's token.
    #[arg(long)]
    json: bool,
}

impl QueryArgs {
    /// The first page's request.
    pub(super) fn request(&self) -> QueryMarketReportsRequest {
        let f = &self.filter;
        QueryMarketReportsRequest {
            countries: f.countries.clone(),
            hs_prefixes: f.hs_prefixes.clone(),
            kinds: f.kinds.iter().map(|k| *k as i32).collect(),
            observed_from: f.from.map(Day::to_proto),
            observed_to: f.to.map(Day::to_proto),
            page_size: self.page_size,
            page_token: self.page_token.clone().unwrap_or_default(),
            text: f.text.clone().unwrap_or_default(),
        }
    }
}

/// Arguments of `jembatan market digest`.
#[derive(Debug, clap::Args)]
pub(crate) struct DigestArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    filter: ReportFilterArgs,
    #[command(flatten)]
    asking: AskingArgs,
    /// Print the digest as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let stated = args.asking.stated();
    let mut service = MarketIntelServiceClient::new(client.channel());
    let mut request = args.request();
    let mut reports: Vec<v1::MarketReport> = Vec::new();
    let next_token = loop {
        let page = service
            .query_market_reports(stated.request(request.clone())?)
            .await
            .map_err(ClientError::from)?
            .into_inner();
        if args.json {
            println!("{}", page_json(&page));
        } else {
            reports.extend(page.reports);
        }
        if !args.all || page.next_page_token.is_empty() {
            break page.next_page_token;
        }
        request.page_token = page.next_page_token;
    };
    if !args.json {
        reports_table(&reports).print_listing(reports.len(), "report", &next_token);
    }
    Ok(ExitCode::SUCCESS)
}

fn reports_table(reports: &[v1::MarketReport]) -> Table {
    let mut table = Table::new(["OBSERVED", "COUNTRY", "KIND", "HS CODES", "TITLE"]);
    for r in reports {
        table.row(vec![
            r.observed_on
                .as_ref()
                .map(date::proto_text)
                .unwrap_or_default(),
            r.country.clone(),
            v1::OpportunityKind::code_of(r.kind).unwrap_or_default(),
            r.hs_codes.join(","),
            truncate(&r.title, TITLE_SHOWN),
        ]);
    }
    table
}

/// One page as JSON: its reports with their receipts, and the next page's token.
fn page_json(page: &v1::QueryMarketReportsResponse) -> Value {
    let reports: Vec<Value> = page
        .reports
        .iter()
        .enumerate()
        .map(|(i, r)| report_json(r, page.receipts.get(i)))
        .collect();
    json!({"reports": reports, "next_page_token": page.next_page_token})
}

/// A report in the form of a line of a reports file, with its receipt.
fn report_json(r: &v1::MarketReport, receipt: Option<&v1::Receipt>) -> Value {
    json!({
        "report_id": r.report_id,
        "version": r.version,
        "country": r.country,
        "city": r.city,
        "kind": v1::OpportunityKind::code_of(r.kind),
        "hs_codes": r.hs_codes,
        "title": r.title,
        "summary": r.summary,
        "estimated_value_usd": r.estimated_value_usd,
        "observed_on": r.observed_on.as_ref().map(date::proto_text),
        "reporter_ref": r.reporter_ref,
        "receipt": crate::receipt::json(receipt),
    })
}

pub(super) async fn digest(args: DigestArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let stated = args.asking.stated();
    let f = &args.filter;
    let request = SummarizeMarketReportsRequest {
        countries: f.countries.clone(),
        hs_prefixes: f.hs_prefixes.clone(),
        kinds: f.kinds.iter().map(|k| *k as i32).collect(),
        observed_from: f.from.map(Day::to_proto),
        observed_to: f.to.map(Day::to_proto),
        text: f.text.clone().unwrap_or_default(),
    };
    let answer = MarketIntelServiceClient::new(client.channel())
        .summarize_market_reports(stated.request(request)?)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    if args.json {
        println!("{}", digest_json(&answer));
    } else {
        for line in digest_lines(&answer) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A code with its name beside it, e.g. `SA Saudi Arabia`.
fn named(code: &str, name: &str) -> String {
    if name.is_empty() {
        code.to_owned()
    } else {
        format!("{code} {}", truncate(name, NAME_SHOWN))
    }
}

/// The digest for people: the counts, how many reports they hold, and the receipt.
fn digest_lines(answer: &v1::SummarizeMarketReportsResponse) -> Vec<String> {
    let mut lines = if answer.counts.is_empty() {
        vec!["no reports match".to_owned()]
    } else {
        let mut table = Table::new(["COUNTRY", "HS CHAPTER", "KIND", "REPORTS"]).align_right(3);
        for count in &answer.counts {
            table.row(vec![
                named(&count.country, &count.country_name),
                named(&count.hs_chapter, &count.hs_chapter_name),
                v1::OpportunityKind::code_of(count.kind).unwrap_or_default(),
                thousands(count.reports),
            ]);
        }
        let mut lines = table.lines();
        lines.push(format!(
            "{} report{} matched; a report on codes of several chapters counts in each",
            thousands(answer.reports),
            if answer.reports == 1 { "" } else { "s" }
        ));
        lines
    };
    lines.push(crate::receipt::line(answer.receipt.as_ref()));
    lines
}

/// The digest for machines.
fn digest_json(answer: &v1::SummarizeMarketReportsResponse) -> Value {
    let counts: Vec<Value> = answer
        .counts
        .iter()
        .map(|c| {
            json!({
                "country": c.country,
                "country_name": c.country_name,
                "hs_chapter": c.hs_chapter,
                "hs_chapter_name": c.hs_chapter_name,
                "kind": v1::OpportunityKind::code_of(c.kind),
                "reports": c.reports,
            })
        })
        .collect();
    json!({
        "counts": counts,
        "reports": answer.reports,
        "receipt": crate::receipt::json(answer.receipt.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> v1::MarketReport {
        v1::MarketReport {
            report_id: "MR-1".to_owned(),
            version: 2,
            country: "SA".to_owned(),
            city: "Riyadh".to_owned(),
            kind: v1::OpportunityKind::BuyerLead as i32,
            hs_codes: vec!["0901".to_owned(), "090111".to_owned()],
            title: "Specialty coffee roasters seek Indonesian beans from Gayo and Toraja"
                .to_owned(),
            summary: "…".to_owned(),
            estimated_value_usd: None,
            observed_on: Some(v1::Date {
                year: 2026,
                month: 3,
                day: 14,
            }),
            reporter_ref: "RPT-7731".to_owned(),
        }
    }

    #[test]
    fn the_table_shows_one_report_a_line_with_its_title_cut() {
        let lines = reports_table(&[report()]).lines();
        assert_eq!(
            lines[0],
            "OBSERVED    COUNTRY  KIND        HS CODES     TITLE"
        );
        assert_eq!(
            lines[1],
            "2026-03-14  SA       BUYER_LEAD  0901,090111  Specialty coffee roasters seek Indonesian beans from Gayo a…"
        );
    }

    #[test]
    fn json_is_the_file_form_with_the_receipt() {
        let page = v1::QueryMarketReportsResponse {
            reports: vec![report()],
            next_page_token: String::new(),
            receipts: vec![v1::Receipt {
                leaf_index: 9,
                leaf_hash: vec![2; 32],
            }],
        };
        let json = page_json(&page);
        let first = &json["reports"][0];
        assert_eq!(first["kind"], "BUYER_LEAD");
        assert_eq!(first["observed_on"], "2026-03-14");
        assert_eq!(first["estimated_value_usd"], Value::Null);
        assert_eq!(first["receipt"]["leaf_index"], 9);
        assert_eq!(json["next_page_token"], "");
    }

    #[test]
    fn the_digest_puts_names_beside_codes() {
        let answer = v1::SummarizeMarketReportsResponse {
            counts: vec![v1::MarketReportCount {
                country: "SA".to_owned(),
                country_name: "Saudi Arabia".to_owned(),
                hs_chapter: "09".to_owned(),
                hs_chapter_name: "Coffee, tea, maté and spices".to_owned(),
                kind: v1::OpportunityKind::Demand as i32,
                reports: 1234,
            }],
            reports: 1300,
            receipt: Some(v1::Receipt {
                leaf_index: 5,
                leaf_hash: vec![1; 32],
            }),
        };
        let lines = digest_lines(&answer);
        assert_eq!(
            lines[..3],
            [
                "COUNTRY          HS CHAPTER                       KIND    REPORTS",
                "SA Saudi Arabia  09 Coffee, tea, maté and spices  DEMAND    1,234",
                "1,300 reports matched; a report on codes of several chapters counts in each",
            ]
        );
        assert!(
            lines[3].starts_with("receipt: audit leaf 5"),
            "{}",
            lines[3]
        );
        let json = digest_json(&answer);
        assert_eq!(
            json["counts"][0]["hs_chapter_name"],
            "Coffee, tea, maté and spices"
        );
        assert_eq!(json["counts"][0]["kind"], "DEMAND");
        assert_eq!(json["reports"], 1300);
        let empty = v1::SummarizeMarketReportsResponse::default();
        assert_eq!(digest_lines(&empty)[0], "no reports match");
    }
}
