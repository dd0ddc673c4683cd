//! `jembatan market`: market opportunities that migrant workers report from abroad. KP2MI
//! submits the reports; Kemendag queries them and reads their digest.

mod query;
mod report;

use std::process::ExitCode;

use jembatan_client::convert::{CodeError, ShortCode};
use jembatan_client::v1;
use jembatan_client::v1::market_intel_service_client::MarketIntelServiceClient;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_records::codes::Day;

use crate::batch_push::FileArgs;
use crate::value_parsers::parse_code;

/// `jembatan market …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MarketCommand {
    /// Submit market reports from a JSON Lines or CSV file, in batches (KP2MI).
    ///
    /// docs/market-and-programs-files.md describes the file. Lines that cannot be read are never
    /// sent. They, and the reports the exchange rejects, are written next to the file as
    /// FILE.rejected.jsonl, each with its line number, report id, reasons and the report as
    /// given. Prints how many reports were stored, unchanged, stale and rejected. Exits 0 when
    /// nothing was rejected, 1 otherwise (and on any error).
    Submit(SubmitArgs),
    /// List the reports matching a filter, newest observation first, a page at a time
    /// (Kemendag).
    ///
    /// Filters combine with AND; a filter flag repeated, or given comma-separated values,
    /// matches any of them. Every report listed is logged with its receipt (shown with --json).
    /// Without --all, prints the token that continues with the next page.
    Query(query::QueryArgs),
    /// Count the reports matching a filter by country, HS chapter and kind, with their names:
    /// the digest for trade representatives (Kemendag).
    ///
    /// A report on codes of several chapters counts once in each of them.
    Digest(query::DigestArgs),
}

pub(crate) async fn run(command: MarketCommand) -> anyhow::Result<ExitCode> {
    match command {
        MarketCommand::Submit(args) => submit(args).await,
        MarketCommand::Query(args) => query::query(args).await,
        MarketCommand::Digest(args) => query::digest(args).await,
    }
}

/// Arguments of `jembatan market submit`.
#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    file: FileArgs,
    /// The purpose stated with every call.
    #[arg(long, default_value = "MARKET_INTELLIGENCE", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with every call.
    #[arg(long, default_value = "PUBLIC_TASK", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
}

async fn submit(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    crate::batch_push::run(
        &args.file,
        "kp2mi",
        (args.purpose, args.legal_basis),
        false,
        |channel| report::SubmitMarketReports(MarketIntelServiceClient::new(channel)),
    )
    .await
}

/// Which reports to list or count. Conditions are combined with AND; the values of one flag,
/// repeated or comma-separated, with OR.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReportFilterArgs {
    /// Country observed, ISO 3166-1 alpha-2, e.g. SA.
    #[arg(long = "country", value_name = "CODE", value_delimiter = ',')]
    countries: Vec<String>,
    /// HS code prefix, 2 to 8 digits, e.g. 09 (coffee, tea, spices) or 0901 (coffee).
    #[arg(long = "hs", value_name = "PREFIX", value_delimiter = ',')]
    hs_prefixes: Vec<String>,
    /// Kind of opportunity: DEMAND, BUYER_LEAD, PRICE, COMPETITION or REGULATION.
    #[arg(long = "kind", value_name = "KIND", value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<v1::OpportunityKind>,
    /// Observed on or after this date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = Day::parse)]
    from: Option<Day>,
    /// Observed on or before this date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = Day::parse)]
    to: Option<Day>,
    /// Words that must all occur in the title or summary, whole words in any case; `word*`
    /// matches words that begin with `word`.
    #[arg(long, value_name = "WORDS")]
    text: Option<String>,
}

fn parse_kind(code: &str) -> Result<v1::OpportunityKind, CodeError> {
    v1::OpportunityKind::parse_code(code)
}

/// The purpose and legal basis a question about reports states.
#[derive(Debug, clap::Args)]
pub(crate) struct AskingArgs {
    /// The purpose stated with the call.
    #[arg(long, default_value = "MARKET_INTELLIGENCE", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with the call.
    #[arg(long, default_value = "PUBLIC_TASK", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
}

impl AskingArgs {
    fn stated(&self) -> jembatan_client::Stated {
        self.acting.stated(self.purpose, self.legal_basis)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Harness {
        #[command(subcommand)]
        command: MarketCommand,
    }

    #[test]
    fn filter_flags_repeat_or_take_commas_and_kinds_are_checked() {
        let parsed = Harness::try_parse_from([
            "test",
            "query",
            "--country",
            "SA,AE",
            "--country",
            "QA",
            "--kind",
            "DEMAND",
            "--hs",
            "09",
            "--from",
            "2026-01-01",
            "--text",
            "kopi gayo*",
        ])
        .expect("a query");
        let MarketCommand::Query(args) = parsed.command else {
            panic!("not a query: {parsed:?}");
        };
        let filter = args.request();
        assert_eq!(filter.countries, ["SA", "AE", "QA"]);
        assert_eq!(filter.kinds, [v1::OpportunityKind::Demand as i32]);
        assert_eq!(filter.hs_prefixes, ["09"]);
        assert_eq!(filter.observed_from.map(|d| d.year), Some(2026));
        assert_eq!(filter.observed_to, None);
        assert_eq!(filter.text, "kopi gayo*");
        let error = Harness::try_parse_from(["test", "digest", "--kind", "LEAD"])
            .expect_err("an unknown kind");
        assert!(error.to_string().contains("BUYER_LEAD"), "{error}");
        let parsed =
            Harness::try_parse_from(["test", "submit", "--file", "r.csv"]).expect("submit");
        let MarketCommand::Submit(args) = parsed.command else {
            panic!("not a submit: {parsed:?}");
        };
        assert_eq!(args.purpose, Purpose::MarketIntelligence);
        assert_eq!(args.legal_basis, LegalBasis::PublicTask);
    }
}
