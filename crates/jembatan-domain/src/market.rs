//! Market-opportunity reports that migrant workers abroad send through KP2MI (MoU scope 2), the
//! rules that make one valid, and the search for personal data in their free text.

use time::Date;

use crate::placement::{check_id, check_paragraphs, check_text, coded_enum};
use crate::{Country, HsCode, Violation};

/// The most HS codes a report may carry.
pub const MAX_HS_CODES: usize = 20;

coded_enum! {
    /// What kind of opportunity a report describes.
    OpportunityKind {
        /// Demand for a product or service.
        Demand => "DEMAND",
        /// A prospective buyer or importer.
        BuyerLead => "BUYER_LEAD",
        /// Observed prices.
        Price => "PRICE",
        /// Competing suppliers.
        Competition => "COMPETITION",
        /// Import rules, standards or certification requirements.
        Regulation => "REGULATION",
    }
}

/// One market-opportunity report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketReport {
    /// KP2MI's report id: 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`.
    pub report_id: String,
    /// KP2MI's version of the report; a higher version replaces a lower one.
    pub version: u64,
    /// Country observed.
    pub country: Country,
    /// City observed, at most 100 characters; may be empty.
    pub city: String,
    /// Kind of opportunity.
    pub kind: OpportunityKind,
    /// HS 2022 / BTKI 2022 codes concerned: 1 to 20, without duplicates.
    pub hs_codes: Vec<HsCode>,
    /// Short title, 1 to 200 characters, without personal data.
    pub title: String,
    /// The observation, 1 to 4,000 characters (line breaks allowed), without personal data.
    pub summary: String,
    /// Estimated annual value in US dollars, if the reporter gave one.
    pub estimated_value_usd: Option<u64>,
    /// When the observation was made; not in the future.
    pub observed_on: Date,
    /// KP2MI's pseudonymous id of the reporting worker, as ids are.
    pub reporter_ref: String,
}

impl MarketReport {
    /// Checks every rule of a valid report and reports every violation, each naming its field;
    /// `today` is the date against which "not in the future" is judged.
    pub fn validate(&self, today: Date) -> Result<(), Vec<Violation>> {
        let mut violations = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(reason) = result {
                violations.push(Violation::new(field, reason));
            }
        };
        check("report_id", check_id(&self.report_id));
        check("city", check_text(&self.city, 0, 100));
        if self.hs_codes.is_empty() || self.hs_codes.len() > MAX_HS_CODES {
            check("hs_codes", Err("must hold 1 to 20 hs codes".to_owned()));
        }
        for (i, code) in self.hs_codes.iter().enumerate() {
            if self.hs_codes[..i].contains(code) {
                check(&format!("hs_codes[{i}]"), Err("is a duplicate".to_owned()));
            }
        }
        check("title", check_text(&self.title, 1, 200));
        check("title", free_of_personal_data(&self.title));
        check("summary", check_paragraphs(&self.summary, 1, 4000));
        check("summary", free_of_personal_data(&self.summary));
        if self.observed_on > today {
            check("observed_on", Err("must not be in the future".to_owned()));
        }
        check("reporter_ref", check_id(&self.reporter_ref));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// Why `text` may not be carried in a report, if it holds what looks like personal data: a
/// NIK (16 digits in a row), a phone number (`+` or `0` followed by 9 to 14 digits with single
/// spaces or dashes or an area code in brackets inside, or an Indonesian mobile number
/// `628…` of 11 to 14 digits in a row) or an e-mail address. HS codes, years, dates, SNI
/// numbers (`01-3542-2004`) and amounts such as `1,200,000`, `Rp 1.200.000` or `12 000 000` do
/// not count. The reason never echoes the text.
pub fn personal_data_in(text: &str) -> Option<&'static str> {
    let numbers = numbers(text);
    if numbers
        .iter()
        .any(|n| n.groups.iter().any(|g| g.len() == 16))
    {
        return Some(
            "holds what looks like a nik (16 digits in a row); reports carry no personal data",
        );
    }
    if numbers.iter().any(Number::looks_like_phone) {
        return Some("holds what looks like a phone number; reports carry no personal data");
    }
    if has_email_address(text) {
        return Some("holds what looks like an e-mail address; reports carry no personal data");
    }
    None
}

/// The reason of [`personal_data_in`] as a check.
fn free_of_personal_data(text: &str) -> Result<(), String> {
    personal_data_in(text).map_or(Ok(()), |reason| Err(reason.to_owned()))
}

/// A number as it may be written: groups of digits joined by a single space or dash, e.g.
/// `0812-3456 7890`, or after an area code in brackets, `(021) 555-1234`.
#[derive(Debug)]
struct Number<'a> {
    /// Its groups of digits, in order.
    groups: Vec<&'a str>,
    /// Whether a `+` stands right before it.
    plus: bool,
}

impl Number<'_> {
    /// `+` or `0` and then 9 to 14 digits, or `628` (an Indonesian mobile number without the
    /// `+`) and 11 to 14 digits in all, in a row; a number shaped as a date (`05-11-2025`) or
    /// an SNI number (`01-3542-2004`) is neither.
    fn looks_like_phone(&self) -> bool {
        let digits: usize = self.groups.iter().map(|g| g.len()).sum();
        let first = self.groups.first().copied().unwrap_or_default();
        if self.plus {
            (9..=14).contains(&digits)
        } else if first.starts_with('0') {
            (10..=15).contains(&digits) && !self.is_date_or_standard()
        } else {
            self.groups.len() == 1 && first.starts_with("628") && (11..=14).contains(&digits)
        }
    }

    /// Whether the first groups are those of a date, `DD MM YYYY`, or of an SNI standard of
    /// the old form, `NN NNNN YYYY`, whatever joins them.
    fn is_date_or_standard(&self) -> bool {
        let year = |g: &str| g.len() == 4 && (g.starts_with("19") || g.starts_with("20"));
        match self.groups.as_slice() {
            [day, month, year_of_date, ..] if day.len() == 2 && month.len() == 2 => {
                year_of_date.len() == 4
            }
            [sector, number, issued, ..] => sector.len() == 2 && number.len() == 4 && year(issued),
            _ => false,
        }
    }
}

/// Every number of `text`, each taken whole so that no group of a longer number (`000` of
/// `12 000 000`) starts one of its own.
fn numbers(text: &str) -> Vec<Number<'_>> {
    // Digits, spaces, dashes and brackets are ASCII, and no byte of a longer UTF-8 character is.
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !digit(i) {
            i += 1;
            continue;
        }
        let before = i.checked_sub(1).map(|b| bytes[b]);
        let mut bracket_open = before == Some(b'(');
        let mut number = Number {
            groups: Vec::new(),
            plus: before == Some(b'+'),
        };
        loop {
            let group = i;
            while digit(i) {
                i += 1;
            }
            number.groups.push(&text[group..i]);
            let join = match bytes.get(i) {
                Some(b' ' | b'-') => 1,
                Some(b')') if bracket_open => {
                    bracket_open = false;
                    if matches!(bytes.get(i + 1), Some(b' ' | b'-')) {
                        2
                    } else {
                        1
                    }
                }
                _ => 0,
            };
            if join == 0 || !digit(i + join) {
                break;
            }
            i += join;
        }
        numbers.push(number);
    }
    numbers
}

/// Whether `text` holds an e-mail address: a local part of letters, digits and `. _ % + -`, an
/// `@`, and a domain of at least two labels whose last is 2 or more letters.
fn has_email_address(text: &str) -> bool {
    let bytes = text.as_bytes();
    let local = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
    let domain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
    bytes.iter().enumerate().any(|(at, b)| {
        if *b != b'@' {
            return false;
        }
        let before = bytes[..at].iter().rev().take_while(|b| local(b)).count();
        let has_local = bytes[at - before..at].iter().any(u8::is_ascii_alphanumeric);
        let after = bytes[at + 1..].iter().take_while(|b| domain(b)).count();
        let name = text[at + 1..at + 1 + after].trim_end_matches(['.', '-']);
        let labels: Vec<&str> = name.split('.').collect();
        has_local
            && labels.len() >= 2
            && labels.iter().all(|label| !label.is_empty())
            && labels
                .last()
                .is_some_and(|top| top.len() >= 2 && top.bytes().all(|b| b.is_ascii_alphabetic()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HsChapter, date};

    /// A field that a change of a valid record makes fail.
    type Change<T> = (&'static str, fn(&mut T));

    fn day(year: i32, month: i32, d: i32) -> Date {
        date(year, month, d).expect("date")
    }

    fn valid() -> MarketReport {
        MarketReport {
            report_id: "KP2MI-MR-2025-0042".to_owned(),
            version: 1,
            country: Country::parse("HK").expect("HK"),
            city: "Kowloon".to_owned(),
            kind: OpportunityKind::Demand,
            hs_codes: vec![
                HsCode::parse("0901").expect("0901"),
                HsCode::parse("09011110").expect("09011110"),
            ],
            title: "Demand for Indonesian robusta coffee".to_owned(),
            summary: "Cafes in Kowloon buy 1,200,000 kg a year (HS 0901.11.10, 2024-2025).\n\
                      Prices: USD 4.50/kg, Rp 1.200.000 per sack."
                .to_owned(),
            estimated_value_usd: Some(5_400_000),
            observed_on: day(2025, 10, 20),
            reporter_ref: "PMI-PSEUDO-7f3a".to_owned(),
        }
    }

    const TODAY: (i32, i32, i32) = (2025, 11, 1);

    fn today() -> Date {
        day(TODAY.0, TODAY.1, TODAY.2)
    }

    /// The fields of the violations of `report`.
    fn violated(report: &MarketReport) -> Vec<String> {
        report
            .validate(today())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_valid_report_passes() {
        assert_eq!(valid().validate(today()), Ok(()));
        let mut bare = valid();
        bare.city.clear();
        bare.estimated_value_usd = None;
        bare.observed_on = today();
        bare.hs_codes = vec![HsCode::parse("61").expect("61")];
        assert_eq!(bare.validate(today()), Ok(()));
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: Vec<Change<MarketReport>> = vec![
            ("report_id", |r| r.report_id.clear()),
            ("report_id", |r| r.report_id = "id with spaces".to_owned()),
            ("report_id", |r| r.report_id = "x".repeat(65)),
            ("city", |r| r.city = "c".repeat(101)),
            ("city", |r| r.city = "Kowloon\n".to_owned()),
            ("hs_codes", |r| r.hs_codes.clear()),
            ("hs_codes", |r| {
                r.hs_codes = HsChapter::all()
                    .take(21)
                    .map(|c| HsCode::parse(c.code()).expect("chapter"))
                    .collect()
            }),
            ("hs_codes[2]", |r| r.hs_codes.push(r.hs_codes[0].clone())),
            ("title", |r| r.title = "  ".to_owned()),
            ("title", |r| r.title = "t".repeat(201)),
            ("title", |r| r.title = "Line\nbreak".to_owned()),
            ("title", |r| r.title = "Call 0812-3456-7890".to_owned()),
            ("summary", |r| r.summary.clear()),
            ("summary", |r| r.summary = "s".repeat(4001)),
            ("summary", |r| r.summary = "bell\u{7}".to_owned()),
            ("summary", |r| r.summary = "NIK 3507014107900001".to_owned()),
            ("summary", |r| {
                r.summary = "mail buyer@importer.com.hk".to_owned()
            }),
            ("observed_on", |r| r.observed_on = day(2025, 11, 2)),
            ("reporter_ref", |r| r.reporter_ref.clear()),
            ("reporter_ref", |r| {
                r.reporter_ref = "Siti Aminah".to_owned()
            }),
        ];
        for (i, (field, change)) in cases.into_iter().enumerate() {
            let mut report = valid();
            change(&mut report);
            assert_eq!(violated(&report), [field], "case {i}");
        }
        let mut long = valid();
        long.summary = format!("{} 081234567890", "s".repeat(4000));
        assert_eq!(violated(&long), ["summary", "summary"], "length and phone");
        let mut at_limits = valid();
        at_limits.title = "t".repeat(200);
        at_limits.summary = format!("{}\r\n\t{}", "s".repeat(2000), "s".repeat(1996));
        at_limits.city = "c".repeat(100);
        at_limits.hs_codes = HsChapter::all()
            .take(20)
            .map(|c| HsCode::parse(c.code()).expect("chapter"))
            .collect();
        assert_eq!(at_limits.validate(today()), Ok(()));
    }

    #[test]
    fn all_violations_are_reported_at_once() {
        let mut report = valid();
        report.report_id.clear();
        report.hs_codes.clear();
        report.title = "siti@example.id".to_owned();
        report.observed_on = day(2026, 1, 1);
        assert_eq!(
            violated(&report),
            ["report_id", "hs_codes", "title", "observed_on"]
        );
    }

    #[test]
    fn kinds_have_the_contract_codes() {
        let codes: Vec<&str> = OpportunityKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(
            codes,
            ["DEMAND", "BUYER_LEAD", "PRICE", "COMPETITION", "REGULATION"]
        );
        for kind in OpportunityKind::ALL {
            assert_eq!(OpportunityKind::parse(kind.code()), Ok(*kind));
        }
        for code in ["", "UNSPECIFIED", "demand", "OPPORTUNITY_KIND_DEMAND"] {
            let reason = OpportunityKind::parse(code).expect_err(code);
            assert!(reason.contains("DEMAND, BUYER_LEAD"), "{reason}");
        }
    }

    #[test]
    fn personal_data_is_found() {
        for (text, what) in [
            ("3507014107900001", "nik"),
            ("NIK:3507014107900001.", "nik"),
            ("id 0123456789012345", "nik"),
            ("0812-3456-7890", "phone"),
            ("call 0812 3456 7890 today", "phone"),
            ("HP.081234567890", "phone"),
            ("WA081234567890", "phone"),
            ("+62 812 3456 7890", "phone"),
            ("(+6281234567890)", "phone"),
            ("+852 9123 4567", "phone"),
            ("+44-20-7946-0958", "phone"),
            ("kantor (021) 555-1234", "phone"),
            ("kantor (0361)7654321", "phone"),
            ("021-5551234", "phone"),
            ("KL 03-1234 5678", "phone"),
            ("Taipei 02-2345-6789", "phone"),
            ("0912-345-678", "phone"),
            ("0123456789", "phone"),
            ("012345678901234", "phone"),
            ("+123456789", "phone"),
            ("+12345678901234", "phone"),
            ("wa.me/6281234567890", "phone"),
            ("628123456789", "phone"),
            ("siti.aminah@example.id", "e-mail"),
            ("Contact: buyer@importer.co.jp.", "e-mail"),
            ("<A.B+tag@sub.example.com>", "e-mail"),
            ("x_y@mail-server.example.org", "e-mail"),
            ("pembeli@toko.ID", "e-mail"),
        ] {
            let reason = personal_data_in(text).unwrap_or_else(|| panic!("{text}"));
            assert!(reason.contains(what), "{text}: {reason}");
            assert!(
                reason.contains("reports carry no personal data"),
                "{reason}"
            );
        }
    }

    #[test]
    fn codes_years_dates_amounts_and_other_numbers_are_not_personal_data() {
        for text in [
            "",
            "Demand for robusta coffee in Kowloon",
            "HS 09011110 and 0901.11.10; also 0901, 0902 and 61091000",
            "HS 0901 0902",
            "in 2024, 2025 and 2026; 2019-2025; Q1 2025",
            "observed 2025-10-20, again on 20-10-2025 and 01-02-2025 08:00",
            "USD 1,200,000; USD 12,500,000,000; Rp 1.200.000.000.000",
            "1 200 000 units, 12 000 000 000 000 rupiah, 120 000 000 000 000",
            "price 0.75 USD/kg, 0,75 EUR, +15% on last year, +1,200 units",
            "open 08:00-17:00, containers of 20-40 ft, MOQ 500-1000 pcs",
            "ISO 9001:2015, SNI 01-3542-2004, Halal MUI",
            "012345678 is eight digits after the zero",
            "+12345678 and +123456789012345",
            "0812 3456 7890 12345 is too long for one number",
            "SNI 01-3542-2004 (kopi bubuk), SNI 01-2891-1992, SNI 7708:2011",
            "on 05-11-2025 20 containers, on 05 11 2025 10 more",
            "halal ID31110000123456789, NIB 1234567890123, a run of 20: 35070141079000012345",
            "123456789012345 is fifteen",
            "6281234567 is short, 628123456789012 long",
            "sold @ USD 5/kg, 5kg@USD3.50, pack@2.5kg, follow @importer_hk",
            "email us at the fair; a@b; @example.com; user@localhost; x@y.z",
            "Kopi robusta — permintaan naik 30% (2024–2025) ☕",
        ] {
            assert_eq!(personal_data_in(text), None, "{text}");
        }
    }

    #[test]
    fn numbers_are_taken_whole() {
        let found = numbers("a 0812-3456 7890, (021) 555-1234; +62 8 9 and 1 - 2 12  34-");
        let groups: Vec<(Vec<&str>, bool)> =
            found.into_iter().map(|n| (n.groups, n.plus)).collect();
        assert_eq!(
            groups,
            [
                (vec!["0812", "3456", "7890"], false),
                (vec!["021", "555", "1234"], false),
                (vec!["62", "8", "9"], true),
                (vec!["1"], false),
                (vec!["2", "12"], false),
                (vec!["34"], false),
            ]
        );
    }
}
