//! The conversion of a submitted `jembatan.v1.MarketReport` into a validated domain
//! [`MarketReport`], reporting every violation with its field path.
//!
//! Each field is parsed on its own first (country, kind, HS codes, date), then the report's rules
//! run ([`MarketReport::validate`]). A field that fails to parse is given a stand-in so that the
//! other rules still run; a rule on a field that failed is not reported, since it would judge
//! the stand-in. The HS codes are checked here as the message holds them (count, each code,
//! duplicates at their index).

use jembatan_domain::market::MAX_HS_CODES;
use jembatan_domain::{Country, HsCode, MarketReport, OpportunityKind};
use jembatan_proto::v1;

use crate::services::fields::FieldParse;

/// The validated report, or every violation with its field path prefixed by `prefix` (e.g.
/// "reports[3]" → "reports[3].hs_codes[1]"); `today` is the latest date that is not in the
/// future.
pub(crate) fn report_from_proto(
    r: &v1::MarketReport,
    prefix: &str,
    today: time::Date,
) -> Result<MarketReport, Vec<v1::FieldViolation>> {
    let mut parse = FieldParse::default();
    let country = parse.ok("country", Country::parse(&r.country));
    let kind =
        parse.enumeration::<v1::OpportunityKind, _>("kind", r.kind, OpportunityKind::from_code);
    if r.hs_codes.is_empty() {
        parse.fail(
            "hs_codes",
            format!("must hold 1 to {MAX_HS_CODES} hs codes"),
        );
    }
    let hs_codes = parse.list(
        "hs_codes",
        &r.hs_codes,
        (MAX_HS_CODES, "hs codes"),
        HsCode::parse,
    );
    let observed_on = parse.date("observed_on", r.observed_on.as_ref());
    let report = country
        .or_else(|| Country::all().next())
        .map(|country| MarketReport {
            report_id: r.report_id.clone(),
            version: r.version,
            country,
            city: r.city.clone(),
            kind: kind.unwrap_or(OpportunityKind::Demand),
            hs_codes,
            title: r.title.clone(),
            summary: r.summary.clone(),
            estimated_value_usd: r.estimated_value_usd,
            observed_on: observed_on.unwrap_or(time::Date::MIN),
            reporter_ref: r.reporter_ref.clone(),
        });
    let rules = report.as_ref().map(|report| report.validate(today));
    parse.finish(report, rules, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jembatan_proto::convert::ShortCode;

    fn day(year: i32, month: i32, d: i32) -> Option<v1::Date> {
        Some(v1::Date {
            year,
            month,
            day: d,
        })
    }

    fn today() -> time::Date {
        jembatan_domain::date(2025, 11, 1).expect("today")
    }

    fn valid() -> v1::MarketReport {
        v1::MarketReport {
            report_id: "KP2MI-MR-2025-0042".to_owned(),
            version: 2,
            country: "HK".to_owned(),
            city: "Kowloon".to_owned(),
            kind: v1::OpportunityKind::BuyerLead.into(),
            hs_codes: vec!["0901".to_owned(), "09011110".to_owned(), "61".to_owned()],
            title: "Importer looking for robusta".to_owned(),
            summary: "An importer in Kowloon buys 1,200,000 kg a year of HS 0901.11.10.".to_owned(),
            estimated_value_usd: Some(5_400_000),
            observed_on: day(2025, 11, 1),
            reporter_ref: "PMI-PSEUDO-7f3a".to_owned(),
        }
    }

    /// Asserts that `change` makes exactly the `expected` fields fail (under `reports[3]`),
    /// the first one with a description containing `why`.
    #[track_caller]
    fn fails(expected: &[&str], why: &str, change: impl FnOnce(&mut v1::MarketReport)) {
        let mut r = valid();
        change(&mut r);
        let violations = report_from_proto(&r, "reports[3]", today()).expect_err("invalid");
        let found: Vec<String> = violations
            .iter()
            .map(|v| v.field.trim_start_matches("reports[3].").to_owned())
            .collect();
        assert_eq!(found, expected, "{violations:?}");
        assert!(
            violations
                .iter()
                .all(|v| v.field.starts_with("reports[3].")),
            "{violations:?}"
        );
        assert!(violations[0].description.contains(why), "{violations:?}");
    }

    #[test]
    fn a_valid_report_converts() {
        let report = report_from_proto(&valid(), "reports[0]", today()).expect("valid");
        assert_eq!(report.report_id, "KP2MI-MR-2025-0042");
        assert_eq!(report.version, 2);
        assert_eq!(report.country.code(), "HK");
        assert_eq!(report.kind, OpportunityKind::BuyerLead);
        let codes: Vec<&str> = report.hs_codes.iter().map(HsCode::as_str).collect();
        assert_eq!(codes, ["0901", "09011110", "61"]);
        assert_eq!(report.estimated_value_usd, Some(5_400_000));
        assert_eq!(report.observed_on, today());
        let mut without_value = valid();
        without_value.estimated_value_usd = None;
        without_value.city.clear();
        let report = report_from_proto(&without_value, "", today()).expect("valid");
        assert_eq!(report.estimated_value_usd, None);
    }

    #[test]
    fn every_kind_converts() {
        for kind in OpportunityKind::ALL {
            let mut r = valid();
            r.kind = v1::OpportunityKind::number_of_code(kind.code()).expect("code");
            assert_eq!(
                report_from_proto(&r, "", today()).map(|r| r.kind),
                Ok(*kind)
            );
        }
    }

    #[test]
    fn each_field_fails_on_its_own() {
        fails(&["country"], "iso 3166-1", |r| r.country = "hk".to_owned());
        fails(&["kind"], "is required", |r| {
            r.kind = v1::OpportunityKind::Unspecified.into()
        });
        fails(&["kind"], "not a known value", |r| r.kind = 99);
        fails(&["hs_codes"], "1 to 20", |r| r.hs_codes.clear());
        fails(&["hs_codes"], "at most 20", |r| {
            r.hs_codes = (1..=21).map(|n| format!("{n:02}")).collect()
        });
        fails(&["hs_codes[1]"], "heading", |r| {
            r.hs_codes[1] = "0999".to_owned()
        });
        fails(&["hs_codes[0]", "hs_codes[2]"], "2, 4, 6 or 8", |r| {
            r.hs_codes = vec!["9".to_owned(), "61".to_owned(), "77".to_owned()]
        });
        fails(&["hs_codes[3]"], "duplicate", |r| {
            r.hs_codes.push("0901".to_owned())
        });
        fails(&["hs_codes", "hs_codes[21]"], "at most 20", |r| {
            r.hs_codes = (1..=21).chain([1]).map(|n| format!("{n:02}")).collect()
        });
        fails(&["observed_on"], "is required", |r| r.observed_on = None);
        fails(&["observed_on"], "no day 30", |r| {
            r.observed_on = day(2025, 2, 30)
        });
        fails(&["observed_on"], "future", |r| {
            r.observed_on = day(2025, 11, 2)
        });
        fails(&["report_id"], "1 to 64", |r| r.report_id.clear());
        fails(&["reporter_ref"], "letters, digits", |r| {
            r.reporter_ref = "Siti Aminah".to_owned()
        });
        fails(&["city"], "0 to 100", |r| r.city = "k".repeat(101));
        fails(&["city"], "phone", |r| {
            r.city = "Kowloon 0812.3456.7890".to_owned()
        });
        fails(&["report_id"], "12 or more digits", |r| {
            r.report_id = "MR-081234567890".to_owned()
        });
        fails(&["reporter_ref"], "12 or more digits", |r| {
            r.reporter_ref = "3507014107900001".to_owned()
        });
        fails(
            &["estimated_value_usd"],
            "at most 1000000000000 us dollars",
            |r| r.estimated_value_usd = Some(1_000_000_000_001),
        );
        fails(&["title"], "is required", |r| r.title.clear());
        fails(&["title"], "1 to 200", |r| r.title = "t".repeat(201));
        fails(&["summary"], "1 to 4000", |r| r.summary = "s".repeat(4001));
    }

    #[test]
    fn personal_data_in_the_text_is_rejected_without_echo() {
        for (field, text, what) in [
            ("title", "Buyer, call +62 812 3456 7890", "phone"),
            ("summary", "Ask Siti, NIK 3507014107900001", "nik"),
            ("summary", "Write to siti.aminah@example.id", "e-mail"),
        ] {
            let mut r = valid();
            if field == "title" {
                r.title = text.to_owned();
            } else {
                r.summary = text.to_owned();
            }
            let violations = report_from_proto(&r, "reports[0]", today()).expect_err(text);
            assert_eq!(violations.len(), 1, "{violations:?}");
            assert_eq!(violations[0].field, format!("reports[0].{field}"));
            let description = &violations[0].description;
            assert!(description.contains(what), "{description}");
            for secret in ["812", "3507014107900001", "siti"] {
                assert!(!description.contains(secret), "{description}");
            }
        }
    }

    #[test]
    fn all_violations_are_reported_together() {
        let r = v1::MarketReport {
            hs_codes: vec!["0901".to_owned(), "x".to_owned()],
            ..v1::MarketReport::default()
        };
        let violations = report_from_proto(&r, "", today()).expect_err("empty");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "country",
                "kind",
                "hs_codes[1]",
                "observed_on",
                "report_id",
                "title",
                "summary",
                "reporter_ref"
            ]
        );
    }
}
