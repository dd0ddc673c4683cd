//! Market-opportunity reports that migrant workers abroad send through KP2MI (MoU scope 2), the
//! rules that make one valid, and the search for personal data in their free text.

use time::Date;

use crate::placement::{check_id, check_paragraphs, check_text, coded_enum};
use crate::region::is_province;
use crate::{Country, HsCode, Violation};

/// The most HS codes a report may carry.
pub const MAX_HS_CODES: usize = 20;
/// The highest estimated value of a report, in US dollars (10^12).
pub const MAX_ESTIMATED_VALUE_USD: u64 = 1_000_000_000_000;
/// The shortest run of digits that an id of a report, program or enrolment may not hold: one
/// could be a NIK or a phone number.
const ID_DIGIT_RUN: usize = 12;

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
    /// KP2MI's report id: 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`, without a run of 12
    /// or more digits.
    pub report_id: String,
    /// KP2MI's version of the report; a higher version replaces a lower one.
    pub version: u64,
    /// Country observed.
    pub country: Country,
    /// City observed, at most 100 characters, without personal data; may be empty.
    pub city: String,
    /// Kind of opportunity.
    pub kind: OpportunityKind,
    /// HS 2022 / BTKI 2022 codes concerned: 1 to 20, without duplicates.
    pub hs_codes: Vec<HsCode>,
    /// Short title, 1 to 200 characters, without personal data.
    pub title: String,
    /// The observation, 1 to 4,000 characters (line breaks allowed), without personal data.
    pub summary: String,
    /// Estimated annual value in US dollars, at most 10^12, if the reporter gave one.
    pub estimated_value_usd: Option<u64>,
    /// When the observation was made; not in the future.
    pub observed_on: Date,
    /// KP2MI's pseudonymous id of the reporting worker, as report ids are.
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
        check("report_id", check_record_id(&self.report_id));
        check("city", check_text(&self.city, 0, 100));
        check("city", free_of_personal_data(&self.city));
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
        if self
            .estimated_value_usd
            .is_some_and(|value| value > MAX_ESTIMATED_VALUE_USD)
        {
            check(
                "estimated_value_usd",
                Err(format!(
                    "must be at most {MAX_ESTIMATED_VALUE_USD} us dollars"
                )),
            );
        }
        if self.observed_on > today {
            check("observed_on", Err("must not be in the future".to_owned()));
        }
        check("reporter_ref", check_record_id(&self.reporter_ref));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// As ids are (1 to 64 characters of `A-Z a-z 0-9 . _ : / -`), and without a run of 12 or more
/// digits: a NIK or a phone number must never become the id of a report, program or enrolment.
pub(crate) fn check_record_id(id: &str) -> Result<(), String> {
    check_id(id)?;
    let longest_run = id
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if longest_run >= ID_DIGIT_RUN {
        return Err(format!(
            "must not hold a run of {ID_DIGIT_RUN} or more digits: ids are not personal data"
        ));
    }
    Ok(())
}

/// Why `text` may not be carried in a report, if it holds what looks like personal data:
///
/// - a NIK: 16 digits in a row, or a number of 16 digits in groups (`3507 0141 0790 0001`,
///   `35.07.01.410790.0001`) whose first two are a Kemendagri province code;
/// - a phone number: `+` or `0` followed by 9 to 14 digits, or `62` followed by 9 to 12 digits
///   in groups (`62 812 3456 7890`), or an Indonesian mobile number `628…` of 11 to 14 digits
///   in a row; groups may be joined by single spaces, dashes or dots, or follow an area code in
///   brackets (`(021) 555-1234`);
/// - an e-mail address.
///
/// HS codes (`0901.11.10`), years, dates, SNI numbers (`01-3542-2004`) and amounts such as
/// `1,200,000`, `Rp 1.250.000.000` or `12 000 000` do not count. The reason never echoes the
/// text.
pub fn personal_data_in(text: &str) -> Option<&'static str> {
    let numbers = numbers(text);
    if numbers.iter().any(Number::looks_like_nik) {
        return Some("holds what looks like a nik (16 digits); reports carry no personal data");
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

/// A number as it may be written: groups of digits joined by a single space, dash or dot, e.g.
/// `0812-3456 7890` or `35.07.01`, or after an area code in brackets, `(021) 555-1234`.
#[derive(Debug)]
struct Number<'a> {
    /// Its groups of digits, in order.
    groups: Vec<&'a str>,
    /// What joins each group to the next: `b' '`, `b'-'`, `b'.'` or `b')'` (after an area
    /// code); one fewer than the groups.
    joins: Vec<u8>,
    /// Whether a `+` stands right before it.
    plus: bool,
}

impl Number<'_> {
    /// Its digits, without what joins them.
    fn joined(&self) -> String {
        self.groups.concat()
    }

    /// 16 digits in a row, or 16 digits in groups starting with a province code, unless
    /// shaped as an amount, a date, a standard or a list of codes or years.
    fn looks_like_nik(&self) -> bool {
        if self.groups.iter().any(|g| g.len() == 16) {
            return true;
        }
        let joined = self.joined();
        self.groups.len() > 1
            && joined.len() == 16
            && joined.get(..2).is_some_and(is_province)
            && !self.is_amount(b". ")
            && !self.is_date_or_standard()
            && !self.is_list_of_codes()
    }

    /// `+` and then 9 to 14 digits; `0` and then 9 to 14; `62` and then 9 to 12 in groups, or
    /// `628` and 11 to 14 digits in all in a row. A number shaped as an amount
    /// (`Rp 62.500.000.000`), a date (`05-11-2025`), an SNI number (`01-3542-2004`) or a list
    /// of HS codes or years is none.
    fn looks_like_phone(&self) -> bool {
        let joined = self.joined();
        let digits = joined.len();
        if self.plus {
            (9..=14).contains(&digits) && !self.is_amount(b".")
        } else if joined.starts_with('0') {
            (10..=15).contains(&digits) && !self.is_date_or_standard() && !self.is_list_of_codes()
        } else if self.groups.len() == 1 {
            joined.starts_with("628") && (11..=14).contains(&digits)
        } else {
            joined.starts_with("62")
                && (11..=14).contains(&digits)
                && !self.is_amount(b". ")
                && !self.is_date_or_standard()
                && !self.is_list_of_codes()
        }
    }

    /// Whether it is written as an amount in thousands, `1.250.000.000` or `62 500 000`: groups
    /// all joined by the same one of `joiners`, the first of 1 to 3 digits, the others of 3.
    fn is_amount(&self, joiners: &[u8]) -> bool {
        let Some((first, rest)) = self.groups.split_first() else {
            return false;
        };
        !rest.is_empty()
            && (1..=3).contains(&first.len())
            && rest.iter().all(|g| g.len() == 3)
            && self.joins.iter().all(|j| *j == self.joins[0])
            && joiners.contains(&self.joins[0])
    }

    /// Whether the first groups are those of a date, `DD MM YYYY`, or of an SNI standard of
    /// the old form, `NN NNNN YYYY`, whatever joins them.
    fn is_date_or_standard(&self) -> bool {
        match self.groups.as_slice() {
            [day, month, year_of_date, ..] if day.len() == 2 && month.len() == 2 => {
                year_of_date.len() == 4
            }
            [sector, number, issued, ..] => {
                sector.len() == 2 && number.len() == 4 && is_year(issued)
            }
            _ => false,
        }
    }

    /// Whether it is a list of years (`1998 1999 2000 2001`) or of HS codes of which at least
    /// one is written with dots (`0901.11 0902.10.00`): a heading of 4 digits and up to three
    /// pairs of digits each after a dot, the codes joined by spaces or dashes.
    fn is_list_of_codes(&self) -> bool {
        if self.groups.iter().all(|g| is_year(g)) {
            return true;
        }
        let mut pairs = 0;
        self.joins.contains(&b'.')
            && self.groups.iter().enumerate().all(|(i, group)| {
                let code_starts = i == 0 || matches!(self.joins[i - 1], b' ' | b'-');
                if code_starts {
                    pairs = 0;
                    group.len() == 4
                } else {
                    pairs += 1;
                    self.joins[i - 1] == b'.' && group.len() == 2 && pairs <= 3
                }
            })
    }
}

/// Whether a group of digits is a year from 1900 to 2099.
fn is_year(group: &str) -> bool {
    group.len() == 4 && (group.starts_with("19") || group.starts_with("20"))
}

/// Every number of `text`, each taken whole so that no group of a longer number (`000` of
/// `12 000 000`) starts one of its own.
fn numbers(text: &str) -> Vec<Number<'_>> {
    // Digits, spaces, dashes, dots and brackets are ASCII, and no byte of a longer UTF-8
    // character is.
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
            joins: Vec::new(),
            plus: before == Some(b'+'),
        };
        loop {
            let group = i;
            while digit(i) {
                i += 1;
            }
            number.groups.push(&text[group..i]);
            let (joiner, width) = match bytes.get(i) {
                Some(&joiner @ (b' ' | b'-' | b'.')) => (joiner, 1),
                Some(b')') if bracket_open => {
                    bracket_open = false;
                    let width = if matches!(bytes.get(i + 1), Some(b' ' | b'-')) {
                        2
                    } else {
                        1
                    };
                    (b')', width)
                }
                _ => break,
            };
            if !digit(i + width) {
                break;
            }
            number.joins.push(joiner);
            i += width;
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
            ("report_id", |r| {
                r.report_id = "MR-3507014107900001".to_owned()
            }),
            ("report_id", |r| r.report_id = "081234567890".to_owned()),
            ("city", |r| r.city = "c".repeat(101)),
            ("city", |r| r.city = "Kowloon\n".to_owned()),
            ("city", |r| r.city = "Kowloon, WA 0812.3456.7890".to_owned()),
            ("city", |r| r.city = "siti@example.id".to_owned()),
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
            ("estimated_value_usd", |r| {
                r.estimated_value_usd = Some(MAX_ESTIMATED_VALUE_USD + 1)
            }),
            ("observed_on", |r| r.observed_on = day(2025, 11, 2)),
            ("reporter_ref", |r| r.reporter_ref.clear()),
            ("reporter_ref", |r| {
                r.reporter_ref = "Siti Aminah".to_owned()
            }),
            ("reporter_ref", |r| {
                r.reporter_ref = "PMI-6281234567890".to_owned()
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
        at_limits.estimated_value_usd = Some(MAX_ESTIMATED_VALUE_USD);
        at_limits.report_id = "MR-12345678901-12345678901".to_owned();
        at_limits.reporter_ref = "PMI-12345678901".to_owned();
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
    fn ids_refuse_runs_of_twelve_digits() {
        for id in ["MR-2025-0042", "12345678901", "a12345678901b12345678901"] {
            assert_eq!(check_record_id(id), Ok(()), "{id}");
        }
        for id in ["123456789012", "MR-3507014107900001", "PMI-081234567890x"] {
            let reason = check_record_id(id).expect_err(id);
            assert_eq!(
                reason,
                "must not hold a run of 12 or more digits: ids are not personal data"
            );
        }
        assert!(check_record_id("").expect_err("empty").contains("1 to 64"));
        let mut report = valid();
        report.report_id = "MR 081234567890".to_owned();
        let reasons: Vec<String> = report
            .validate(today())
            .expect_err("bad id")
            .into_iter()
            .map(|v| v.reason)
            .collect();
        assert_eq!(reasons, ["may hold only letters, digits and . _ : / -"]);
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
            ("NIK 3507 0141 0790 0001", "nik"),
            ("nik: 35.07.01.410790.0001.", "nik"),
            ("3507-0141-0790-0001", "nik"),
            ("3507.014107.900001", "nik"),
            ("6201 0141 0790 0001", "nik"),
            ("0812.3456.7890", "phone"),
            ("HP 0812.345.6789", "phone"),
            ("telp 021.555.1234", "phone"),
            ("62 812 3456 7890", "phone"),
            ("62-812-3456-7890", "phone"),
            ("62.812.3456.7890", "phone"),
            ("WA 6281 2345 6789", "phone"),
            ("kantor 62 21 555 1234", "phone"),
            ("62 812 3456 78901", "phone"),
            ("+62.812.3456.7890", "phone"),
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
            "Rp 1.250.000.000 a year, Rp 62.500.000.000 in all, Rp 625.000.000.000",
            "62 500 000 000 rupiah, 6 250 000 000 000 rupiah, +1.200.000.000 on last year",
            "Rp 1.200.000.000.000.000 and 1 200 000 000 000 000 are amounts of 16 digits",
            "HS 0901.11.10, 0901.11 0902.10, 0901.11.10 0902.10.00 0903.00, 0901.11-0901.22",
            "in 1998 1999 2000 2001",
            "on 15.10.2025 12345678, SNI 35-1234-2015 123456",
            "16 digits outside any province: 9901 2345 6789 0123, 0123 4567 8901 2345",
            "price 3.50 and 0.75, open 08.00-17.00 WIB, 1234.5678",
            "6281 2345 is short, 62 812 3456 7890 12 is long, 62.812.3 too",
            "0812.3456 is short",
        ] {
            assert_eq!(personal_data_in(text), None, "{text}");
        }
    }

    #[test]
    fn numbers_are_taken_whole() {
        let found = numbers(
            "a 0812-3456 7890, (021) 555-1234; +62 8 9 and 1 - 2 12  34- 35.07.01. 1..2 .5",
        );
        let groups: Vec<(Vec<&str>, String, bool)> = found
            .into_iter()
            .map(|n| {
                (
                    n.groups,
                    String::from_utf8_lossy(&n.joins).into_owned(),
                    n.plus,
                )
            })
            .collect();
        let number =
            |groups: &[&'static str], joins: &str, plus| (groups.to_vec(), joins.to_owned(), plus);
        assert_eq!(
            groups,
            [
                number(&["0812", "3456", "7890"], "- ", false),
                number(&["021", "555", "1234"], ")-", false),
                number(&["62", "8", "9"], "  ", true),
                number(&["1"], "", false),
                number(&["2", "12"], " ", false),
                number(&["34"], "", false),
                number(&["35", "07", "01"], "..", false),
                number(&["1"], "", false),
                number(&["2"], "", false),
                number(&["5"], "", false),
            ]
        );
    }
}
