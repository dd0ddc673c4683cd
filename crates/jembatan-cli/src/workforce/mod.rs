//! `jembatan workforce`: Kemendag's questions about migrant workers' availability.
//!
//! `availability` counts workers (perturbed aggregates, small counts left out); `candidates`
//! lists consented workers under pseudonyms. Both take the same filter flags.

mod availability;
mod candidates;

use std::process::ExitCode;

use jembatan_client::convert::{CodeError, ShortCode};
use jembatan_client::v1;
use jembatan_records::codes::Day;
use time::{Duration, Month};

use crate::codes::today_in_jakarta;

/// `jembatan workforce …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum WorkforceCommand {
    /// Count workers matching a filter, grouped by up to three dimensions; every count is
    /// perturbed and small ones are left out.
    ///
    /// Counts follow fixed classifications: each filter flag takes at most one value (a
    /// province or a regency; an occupation group of 1 to 4 digits; one country, language,
    /// certificate scheme, HS chapter and status), and a return period is one calendar month,
    /// quarter or year (--return-period). Counts are perturbed by the cell-key method: the same
    /// workers always get the same count. Cells under the exchange's threshold are left out,
    /// so a missing cell may have no workers or a few. Prints one row per cell, names beside
    /// codes, the total, how counts are perturbed, the change they reflect, and the receipt:
    /// the audit leaf written for the answer.
    Availability(availability::AvailabilityArgs),
    /// List consented workers matching a filter, under pseudonyms, a page at a time.
    ///
    /// Only workers whose consent covers the stated purpose are listed; names and contact
    /// details only for BUSINESS_MATCHING. Filters combine with AND; a filter flag repeated, or
    /// given comma-separated values, matches any of them. Without --all, prints the token that
    /// continues with the next page.
    Candidates(candidates::CandidatesArgs),
}

pub(crate) async fn run(command: WorkforceCommand) -> anyhow::Result<ExitCode> {
    match command {
        WorkforceCommand::Availability(args) => availability::run(args).await,
        WorkforceCommand::Candidates(args) => candidates::run(args).await,
    }
}

/// Which workers to count or list. Conditions are combined with AND; the values of one flag,
/// repeated or comma-separated, with OR. For counts, each flag takes at most one value and a
/// return period is one calendar month, quarter or year.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FilterArgs {
    /// Occupation, KBJI 2014 / ISCO-08 code, e.g. 5322 (home-based personal care workers).
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
    /// Returning within one calendar period: a month (YYYY-MM), a quarter (YYYY-Qn) or a year
    /// (YYYY); sets --return-from to its first day and --return-to to its last.
    #[arg(
        long,
        value_name = "PERIOD",
        value_parser = Period::parse,
        conflicts_with_all = ["return_from", "return_to", "returning_within"]
    )]
    return_period: Option<Period>,
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
        let (from, to) = match (self.returning_within, self.return_period) {
            (Some(days), _) => (
                Some(Day(today)),
                Some(Day(today.saturating_add(Duration::days(i64::from(days))))),
            ),
            (None, Some(period)) => (Some(period.first), Some(period.last)),
            (None, None) => (self.return_from, self.return_to),
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

/// A calendar month, quarter or year, as its first and last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    /// The period's first day.
    first: Day,
    /// The period's last day.
    last: Day,
}

impl Period {
    /// Parses `YYYY-MM` (a month), `YYYY-Qn` (a quarter, n from 1 to 4) or `YYYY` (a year).
    fn parse(text: &str) -> Result<Period, String> {
        let shape = || {
            "expected YYYY-MM (a month), YYYY-Qn (a quarter, n from 1 to 4) or YYYY (a year)"
                .to_owned()
        };
        let number = |digits: &str| {
            digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| digits.parse::<u8>().ok())
                .flatten()
        };
        let (year_text, part) = match text.split_once('-') {
            Some((year, part)) => (year, Some(part)),
            None => (text, None),
        };
        let year = (year_text.len() == 4 && year_text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| year_text.parse::<i32>().ok())
            .flatten()
            .ok_or_else(shape)?;
        if year == 0 {
            return Err("year 0000 is not from 0001 to 9999".to_owned());
        }
        // The first month and the number of months.
        let (first_month, months) = match part {
            None => (1, 12),
            Some(quarter) if quarter.starts_with(['Q', 'q']) => {
                match quarter.get(1..).filter(|n| n.len() == 1).and_then(number) {
                    Some(n @ 1..=4) => (3 * n - 2, 3),
                    Some(n) => return Err(format!("quarter {n} is not from 1 to 4")),
                    None => return Err(shape()),
                }
            }
            Some(month) if month.len() == 2 => match number(month) {
                Some(m @ 1..=12) => (m, 1),
                Some(m) => return Err(format!("month {m:02} is not from 01 to 12")),
                None => return Err(shape()),
            },
            Some(_) => return Err(shape()),
        };
        let first_month = Month::try_from(first_month).map_err(|_| shape())?;
        let last_month =
            Month::try_from(u8::from(first_month) + months - 1).map_err(|_| shape())?;
        let first = time::Date::from_calendar_date(year, first_month, 1).map_err(|_| shape())?;
        let last = time::Date::from_calendar_date(year, last_month, last_month.length(year))
            .map_err(|_| shape())?;
        Ok(Period {
            first: Day(first),
            last: Day(last),
        })
    }
}

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

    #[test]
    fn return_periods_are_calendar_months_quarters_and_years() {
        let days = |text| Period::parse(text).map(|p| (p.first.to_string(), p.last.to_string()));
        for (text, first, last) in [
            ("2026-11", "2026-11-01", "2026-11-30"),
            ("2024-02", "2024-02-01", "2024-02-29"),
            ("2026-02", "2026-02-01", "2026-02-28"),
            ("2027-Q1", "2027-01-01", "2027-03-31"),
            ("2026-q4", "2026-10-01", "2026-12-31"),
            ("2026", "2026-01-01", "2026-12-31"),
            ("9999-12", "9999-12-01", "9999-12-31"),
        ] {
            assert_eq!(
                days(text),
                Ok((first.to_owned(), last.to_owned())),
                "{text}"
            );
        }
        assert_eq!(
            Period::parse("2026-13"),
            Err("month 13 is not from 01 to 12".to_owned())
        );
        assert_eq!(
            Period::parse("2026-Q5"),
            Err("quarter 5 is not from 1 to 4".to_owned())
        );
        for bad in [
            "",
            "26",
            "2026-1",
            "2026-Q",
            "2026-Q12",
            "2026-11-01",
            "2026-W1",
            "+026",
            "2026-+1",
            "２０２６",
            "2026-",
        ] {
            let error = Period::parse(bad).expect_err(bad);
            assert!(
                error.starts_with("expected YYYY-MM (a month)"),
                "{bad}: {error}"
            );
        }
        assert!(Period::parse("2026-00").is_err());
        assert!(Period::parse("2026-Q0").is_err());
        assert!(Period::parse("0000").is_err());
    }

    #[test]
    fn return_period_sets_both_dates_and_excludes_the_other_date_flags() {
        let f = filter(&["--return-period", "2024-02"]).expect("filter");
        let day = |text| Day::parse(text).map(Day::to_proto).ok();
        assert_eq!(f.return_from, day("2024-02-01"));
        assert_eq!(f.return_to, day("2024-02-29"));
        for other in [
            ["--return-from", "2024-02-01"],
            ["--return-to", "2024-02-29"],
            ["--returning-within", "30"],
        ] {
            let mut args = vec!["--return-period", "2024-02"];
            args.extend(other);
            let error = filter(&args).expect_err("conflicting flags");
            assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        }
        let error = filter(&["--return-period", "2024-Q5"]).expect_err("a bad quarter");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(
            error.to_string().contains("quarter 5 is not from 1 to 4"),
            "{error}"
        );
    }
}
