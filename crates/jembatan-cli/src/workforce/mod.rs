//! `jembatan workforce`: Kemendag's questions about migrant workers' availability.
//!
//! `availability` counts workers (aggregates, small cells suppressed); `candidates` lists
//! consented workers under pseudonyms. Both take the same filter flags.

mod availability;
mod candidates;

use std::process::ExitCode;

use jembatan_client::convert::{CodeError, ShortCode};
use jembatan_client::v1;
use time::Duration;

use crate::codes::{Day, today_in_jakarta};

/// `jembatan workforce …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum WorkforceCommand {
    /// Count workers matching a filter, grouped by up to three dimensions; cells under the
    /// exchange's threshold are suppressed.
    ///
    /// Filters combine with AND; a filter flag repeated, or given comma-separated values,
    /// matches any of them. Prints one row per cell ("suppressed" for a small one), the total
    /// ("withheld" when it would reveal a suppressed cell), the threshold, and the receipt: the
    /// audit leaf written for the answer.
    Availability(availability::AvailabilityArgs),
    /// List consented workers matching a filter, under pseudonyms, a page at a time.
    ///
    /// Only workers whose consent covers the stated purpose are listed; names and contact
    /// details only for BUSINESS_MATCHING. Filters combine as for `availability`. Without --all,
    /// prints the token that continues with the next page.
    Candidates(candidates::CandidatesArgs),
}

pub(crate) async fn run(command: WorkforceCommand) -> anyhow::Result<ExitCode> {
    match command {
        WorkforceCommand::Availability(args) => availability::run(args).await,
        WorkforceCommand::Candidates(args) => candidates::run(args).await,
    }
}

/// Which workers to count or list. Conditions are combined with AND; the values of one flag,
/// repeated or comma-separated, with OR.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FilterArgs {
    /// Occupation, KBJI 2014 / ISCO-08 code, e.g. 5322 (caregivers).
    #[arg(long = "occupation", value_name = "CODE", value_delimiter = ',')]
    occupations: Vec<String>,
    /// BNSP certification scheme held.
    #[arg(long = "certificate", value_name = "SCHEME", value_delimiter = ',')]
    certificates: Vec<String>,
    /// Province of origin, Kemendagri code, e.g. 35 (Jawa Timur).
    #[arg(long = "province", value_name = "CODE", value_delimiter = ',')]
    provinces: Vec<String>,
    /// Regency or city of origin, Kemendagri code, e.g. 35.07 (Kabupaten Malang).
    #[arg(long = "regency", value_name = "CODE", value_delimiter = ',')]
    regencies: Vec<String>,
    /// Country worked in, ISO 3166-1 alpha-2, e.g. HK.
    #[arg(long = "country", value_name = "CODE", value_delimiter = ',')]
    countries: Vec<String>,
    /// Language spoken, ISO 639-1, e.g. en.
    #[arg(long = "language", value_name = "CODE", value_delimiter = ',')]
    languages: Vec<String>,
    /// Placement status: REGISTERED, DEPARTED, WORKING, CONTRACT_ENDED, RETURNED, IN_TROUBLE
    /// or DECEASED.
    #[arg(long = "status", value_name = "STATUS", value_delimiter = ',', value_parser = parse_status)]
    statuses: Vec<v1::PlacementStatus>,
    /// Earliest return date, inclusive, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = Day::parse)]
    return_from: Option<Day>,
    /// Latest return date, inclusive, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = Day::parse)]
    return_to: Option<Day>,
    /// Returning from today to DAYS from today (dates in Jakarta): sets --return-from and
    /// --return-to.
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["return_from", "return_to"])]
    returning_within: Option<u16>,
    /// Only workers who want to export.
    #[arg(long)]
    wants_to_export: bool,
    /// HS 2022 chapter of interest, 2 digits, e.g. 09 (coffee, tea, spices).
    #[arg(long = "hs-chapter", value_name = "CHAPTER", value_delimiter = ',')]
    hs_chapters: Vec<String>,
}

fn parse_status(code: &str) -> Result<v1::PlacementStatus, CodeError> {
    v1::PlacementStatus::parse_code(code)
}

impl FilterArgs {
    /// The contract's filter; `--returning-within` counts from `today`.
    fn to_proto(&self, today: time::Date) -> v1::AvailabilityFilter {
        let (from, to) = match self.returning_within {
            Some(days) => (
                Some(Day(today)),
                Some(Day(today.saturating_add(Duration::days(i64::from(days))))),
            ),
            None => (self.return_from, self.return_to),
        };
        v1::AvailabilityFilter {
            occupation_codes: self.occupations.clone(),
            certificate_schemes: self.certificates.clone(),
            origin_province_codes: self.provinces.clone(),
            origin_regency_codes: self.regencies.clone(),
            destination_countries: self.countries.clone(),
            languages: self.languages.clone(),
            statuses: self.statuses.iter().map(|s| *s as i32).collect(),
            return_from: from.map(Day::to_proto),
            return_to: to.map(Day::to_proto),
            wants_to_export: self.wants_to_export,
            hs_chapters: self.hs_chapters.clone(),
        }
    }

    /// The contract's filter, counting from today in Jakarta.
    fn request_filter(&self) -> v1::AvailabilityFilter {
        self.to_proto(today_in_jakarta())
    }
}

/// The receipt as JSON: leaf index and hash.
#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Harness {
        #[command(flatten)]
        filter: FilterArgs,
    }

    fn filter(args: &[&str]) -> Result<v1::AvailabilityFilter, clap::Error> {
        let today =
            time::Date::from_calendar_date(2026, time::Month::November, 20).expect("a date");
        Harness::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .map(|h| h.filter.to_proto(today))
    }

    #[test]
    fn filter_flags_repeat_or_take_commas() {
        let f = filter(&[
            "--occupation",
            "5322,9111",
            "--occupation",
            "9329",
            "--status",
            "RETURNED",
            "--province",
            "35",
            "--hs-chapter",
            "09",
            "--wants-to-export",
        ])
        .expect("filter");
        assert_eq!(f.occupation_codes, ["5322", "9111", "9329"]);
        assert_eq!(f.statuses, [v1::PlacementStatus::Returned as i32]);
        assert_eq!(f.origin_province_codes, ["35"]);
        assert_eq!(f.hs_chapters, ["09"]);
        assert!(f.wants_to_export);
        assert!(filter(&["--status", "HOME"]).is_err());
    }

    #[test]
    fn returning_within_counts_from_today() {
        let f = filter(&["--returning-within", "45"]).expect("filter");
        assert_eq!(
            f.return_from,
            Some(v1::Date {
                year: 2026,
                month: 11,
                day: 20
            })
        );
        assert_eq!(
            f.return_to,
            Some(v1::Date {
                year: 2027,
                month: 1,
                day: 4
            })
        );
        let f =
            filter(&["--return-from", "2026-12-01", "--return-to", "2027-01-31"]).expect("filter");
        assert_eq!(f.return_to.map(|d| d.month), Some(1));
        assert!(filter(&["--returning-within", "30", "--return-from", "2026-12-01"]).is_err());
        assert!(filter(&["--return-from", "2026-13-01"]).is_err());
    }
}
