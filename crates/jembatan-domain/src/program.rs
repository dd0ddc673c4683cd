//! Kemendag's export programs (Desa BISA Ekspor, UMKM BISA Ekspor, training, trade missions),
//! where they run, and returning workers' enrolments in them, with the rules that make each
//! valid.

use std::fmt;

use time::Date;

use crate::market::check_record_id;
use crate::placement::{check_paragraphs, check_text, coded_enum};
use crate::region::province_code;
use crate::{Country, HsChapter, Nik, Regency, Violation};

/// The most target countries a program may carry.
pub const MAX_TARGET_COUNTRIES: usize = 50;
/// The most HS chapters a program may carry.
pub const MAX_PROGRAM_HS_CHAPTERS: usize = 97;
/// The most provinces and regencies a program may run in.
pub const MAX_AREAS: usize = 100;
/// The highest export deals an enrolment may report, in US dollars (10^11).
pub const MAX_EXPORT_DEALS_USD: u64 = 100_000_000_000;

coded_enum! {
    /// The kind of program.
    ProgramKind {
        /// Desa BISA Ekspor: export readiness of villages.
        DesaBisaEkspor => "DESA_BISA_EKSPOR",
        /// UMKM BISA Ekspor: export facilitation of small businesses.
        UmkmBisaEkspor => "UMKM_BISA_EKSPOR",
        /// Training or coaching.
        Training => "TRAINING",
        /// Trade mission, fair or business-matching event abroad.
        TradeMission => "TRADE_MISSION",
        /// Anything else.
        Other => "OTHER",
    }
}

coded_enum! {
    /// Where an enrolled worker stands in a program.
    EnrollmentStatus {
        /// Enrolled, not finished.
        Enrolled => "ENROLLED",
        /// Completed the program.
        Completed => "COMPLETED",
        /// Left before completing.
        Dropped => "DROPPED",
    }
}

/// Where a program runs: a whole province or one regency or city.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProgramArea {
    /// A whole province, by its Kemendagri code, e.g. `35`.
    Province(&'static str),
    /// A regency or city.
    Regency(Regency),
}

impl ProgramArea {
    /// Parses a province code, `PP`, or a regency or city code, `PP.KK`.
    pub fn parse(text: &str) -> Result<ProgramArea, String> {
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit()) {
            return province_code(text)
                .map(ProgramArea::Province)
                .ok_or_else(|| "is not a known province code".to_owned());
        }
        if text.len() != 5 {
            return Err(
                "must be a kemendagri province code PP or a regency or city code PP.KK".to_owned(),
            );
        }
        Regency::parse(text).map(ProgramArea::Regency)
    }

    /// The code, e.g. `35` or `35.07`.
    pub fn code(&self) -> &'static str {
        match self {
            ProgramArea::Province(code) => code,
            ProgramArea::Regency(regency) => regency.code(),
        }
    }

    /// The province's code, e.g. `35` for `35.07`.
    pub fn province(&self) -> &'static str {
        match self {
            ProgramArea::Province(code) => code,
            ProgramArea::Regency(regency) => regency.province(),
        }
    }
}

impl fmt::Display for ProgramArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An export program as Kemendag publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProgram {
    /// Kemendag's program id: 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`, without a run of
    /// 12 or more digits.
    pub program_id: String,
    /// Kemendag's version; a higher version replaces a lower one.
    pub version: u64,
    /// The program's name, 1 to 200 characters.
    pub name: String,
    /// The kind of program.
    pub kind: ProgramKind,
    /// What the program offers and to whom, at most 4,000 characters (line breaks allowed).
    pub description: String,
    /// Organising unit, 1 to 200 characters.
    pub organizer: String,
    /// Target markets, at most 50, without duplicates.
    pub target_countries: Vec<Country>,
    /// HS 2022 chapters in scope, at most 97, without duplicates.
    pub hs_chapters: Vec<HsChapter>,
    /// Where it runs, at most 100 provinces and regencies without duplicates; empty for
    /// nationwide.
    pub areas: Vec<ProgramArea>,
    /// First day.
    pub starts_on: Date,
    /// Last day; not before the first.
    pub ends_on: Date,
    /// Places available; 0 for unlimited.
    pub capacity: u32,
}

impl ExportProgram {
    /// Checks every rule of a valid program and reports every violation, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut violations = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(reason) = result {
                violations.push(Violation::new(field, reason));
            }
        };
        check("program_id", check_record_id(&self.program_id));
        check("name", check_text(&self.name, 1, 200));
        check("description", check_paragraphs(&self.description, 0, 4000));
        check("organizer", check_text(&self.organizer, 1, 200));
        let lists = [
            check_list(
                "target_countries",
                &self.target_countries,
                MAX_TARGET_COUNTRIES,
                "countries",
            ),
            check_list(
                "hs_chapters",
                &self.hs_chapters,
                MAX_PROGRAM_HS_CHAPTERS,
                "chapters",
            ),
            check_list("regency_codes", &self.areas, MAX_AREAS, "areas"),
        ];
        violations.extend(lists.into_iter().flatten());
        if self.ends_on < self.starts_on {
            violations.push(Violation::new("ends_on", "must not be before starts_on"));
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// At most `max` items in `list`, without duplicates; violations on `field` (the contract's
/// name of the list) and on `field[i]`.
fn check_list<T: PartialEq>(field: &str, list: &[T], max: usize, what: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    if list.len() > max {
        violations.push(Violation::new(
            field,
            format!("must hold at most {max} {what}"),
        ));
    }
    for (i, item) in list.iter().enumerate() {
        if list[..i].contains(item) {
            violations.push(Violation::new(format!("{field}[{i}]"), "is a duplicate"));
        }
    }
    violations
}

/// A worker's enrolment in a program, as KP2MI records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// KP2MI's enrolment id: 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`, without a run of
    /// 12 or more digits.
    pub enrollment_id: String,
    /// KP2MI's version; a higher version replaces a lower one.
    pub version: u64,
    /// The program, as ids are; that it is stored is checked where programs are.
    pub program_id: String,
    /// The worker's NIK.
    pub nik: Nik,
    /// Date of enrolment; not in the future.
    pub enrolled_on: Date,
    /// Current status.
    pub status: EnrollmentStatus,
    /// The worker started a business after the program.
    pub business_started: bool,
    /// Export deals closed after the program, in US dollars, at most 10^11; 0 without a
    /// business.
    pub export_deals_usd: u64,
}

impl Enrollment {
    /// Checks every rule of a valid enrolment and reports every violation, each naming its
    /// field; `today` is the date against which "not in the future" is judged.
    pub fn validate(&self, today: Date) -> Result<(), Vec<Violation>> {
        let mut violations = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(reason) = result {
                violations.push(Violation::new(field, reason));
            }
        };
        check("enrollment_id", check_record_id(&self.enrollment_id));
        check("program_id", check_record_id(&self.program_id));
        if self.enrolled_on > today {
            check("enrolled_on", Err("must not be in the future".to_owned()));
        }
        if self.export_deals_usd > MAX_EXPORT_DEALS_USD {
            check(
                "export_deals_usd",
                Err(format!("must be at most {MAX_EXPORT_DEALS_USD} us dollars")),
            );
        }
        if self.export_deals_usd > 0 && !self.business_started {
            check(
                "export_deals_usd",
                Err("must be 0 unless business_started is set".to_owned()),
            );
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date;

    /// A field that a change of a valid record makes fail.
    type Change<T> = (&'static str, fn(&mut T));

    fn day(year: i32, month: i32, d: i32) -> Date {
        date(year, month, d).expect("date")
    }

    fn today() -> Date {
        day(2025, 11, 1)
    }

    fn area(code: &str) -> ProgramArea {
        ProgramArea::parse(code).expect(code)
    }

    fn program() -> ExportProgram {
        ExportProgram {
            program_id: "DJPEN-DBE-2026-01".to_owned(),
            version: 1,
            name: "Desa BISA Ekspor Kopi Malang".to_owned(),
            kind: ProgramKind::DesaBisaEkspor,
            description: "Coaching of coffee villages.\nFor returning workers.".to_owned(),
            organizer: "Ditjen PEN, Direktorat Pengembangan Ekspor Nasional".to_owned(),
            target_countries: vec![Country::parse("HK").expect("HK")],
            hs_chapters: vec![HsChapter::parse("09").expect("09")],
            areas: vec![area("35.07"), area("52")],
            starts_on: day(2026, 1, 5),
            ends_on: day(2026, 6, 30),
            capacity: 40,
        }
    }

    fn enrollment() -> Enrollment {
        Enrollment {
            enrollment_id: "KP2MI-ENR-0001".to_owned(),
            version: 2,
            program_id: "DJPEN-DBE-2026-01".to_owned(),
            nik: Nik::parse("3507014107900001").expect("nik"),
            enrolled_on: day(2025, 10, 1),
            status: EnrollmentStatus::Completed,
            business_started: true,
            export_deals_usd: 12_000,
        }
    }

    fn fields(result: Result<(), Vec<Violation>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn areas_are_provinces_or_regencies() {
        let province = area("35");
        assert_eq!(province, ProgramArea::Province("35"));
        assert_eq!((province.code(), province.province()), ("35", "35"));
        let regency = area("35.07");
        assert_eq!((regency.code(), regency.province()), ("35.07", "35"));
        assert_eq!(regency.to_string(), "35.07");
        assert!(matches!(regency, ProgramArea::Regency(r) if r.name() == "Kabupaten Malang"));
        for (text, why) in [
            ("99", "province"),
            ("00", "province"),
            ("3", "PP or"),
            ("350", "PP or"),
            ("35.07.01", "PP or"),
            ("", "PP or"),
            ("3a", "PP or"),
            ("35-07", "PP.KK"),
            ("35.30", "not a known"),
            ("99.01", "province"),
        ] {
            let reason = ProgramArea::parse(text).expect_err(text);
            assert!(reason.contains(why), "{text}: {reason}");
        }
    }

    #[test]
    fn kinds_and_statuses_have_the_contract_codes() {
        let kinds: Vec<&str> = ProgramKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(
            kinds,
            [
                "DESA_BISA_EKSPOR",
                "UMKM_BISA_EKSPOR",
                "TRAINING",
                "TRADE_MISSION",
                "OTHER"
            ]
        );
        let statuses: Vec<&str> = EnrollmentStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(statuses, ["ENROLLED", "COMPLETED", "DROPPED"]);
        assert_eq!(
            EnrollmentStatus::parse("DROPPED"),
            Ok(EnrollmentStatus::Dropped)
        );
        assert!(ProgramKind::parse("UNSPECIFIED").is_err());
    }

    #[test]
    fn a_valid_program_passes() {
        assert_eq!(program().validate(), Ok(()));
        let mut nationwide = program();
        nationwide.areas.clear();
        nationwide.target_countries.clear();
        nationwide.hs_chapters.clear();
        nationwide.description.clear();
        nationwide.ends_on = nationwide.starts_on;
        nationwide.capacity = 0;
        assert_eq!(nationwide.validate(), Ok(()));
        let mut full = program();
        full.hs_chapters = HsChapter::all().collect();
        full.target_countries = Country::all().take(50).collect();
        full.areas = Regency::all().take(100).map(ProgramArea::Regency).collect();
        full.description = "d".repeat(4000);
        assert_eq!(full.validate(), Ok(()));
    }

    #[test]
    fn each_program_rule_names_its_field() {
        let cases: Vec<Change<ExportProgram>> = vec![
            ("program_id", |p| p.program_id = "a b".to_owned()),
            ("program_id", |p| {
                p.program_id = "P-3507014107900001".to_owned()
            }),
            ("name", |p| p.name.clear()),
            ("name", |p| p.name = "n".repeat(201)),
            ("description", |p| p.description = "d".repeat(4001)),
            ("description", |p| p.description = "nul\0".to_owned()),
            ("organizer", |p| p.organizer = " ".to_owned()),
            ("target_countries", |p| {
                p.target_countries = Country::all().take(51).collect()
            }),
            ("target_countries[1]", |p| {
                p.target_countries.push(p.target_countries[0].clone())
            }),
            ("hs_chapters[1]", |p| p.hs_chapters.push(p.hs_chapters[0])),
            ("regency_codes", |p| {
                p.areas = Regency::all().take(101).map(ProgramArea::Regency).collect()
            }),
            ("regency_codes[2]", |p| p.areas.push(area("52"))),
            ("ends_on", |p| p.ends_on = day(2026, 1, 4)),
        ];
        for (field, change) in cases {
            let mut p = program();
            change(&mut p);
            assert_eq!(fields(p.validate()), [field]);
        }
        let mut many = program();
        many.hs_chapters = HsChapter::all().chain(HsChapter::all().take(2)).collect();
        assert_eq!(
            fields(many.validate()),
            ["hs_chapters", "hs_chapters[96]", "hs_chapters[97]"]
        );
    }

    #[test]
    fn enrollment_rules_name_their_fields() {
        assert_eq!(enrollment().validate(today()), Ok(()));
        let mut no_deals = enrollment();
        no_deals.business_started = false;
        no_deals.export_deals_usd = 0;
        no_deals.enrolled_on = today();
        assert_eq!(no_deals.validate(today()), Ok(()));
        let cases: Vec<Change<Enrollment>> = vec![
            ("enrollment_id", |e| e.enrollment_id.clear()),
            ("program_id", |e| e.program_id = "x".repeat(65)),
            ("enrollment_id", |e| {
                e.enrollment_id = "ENR-081234567890".to_owned()
            }),
            ("program_id", |e| {
                e.program_id = "3507014107900001".to_owned()
            }),
            ("enrolled_on", |e| e.enrolled_on = day(2025, 11, 2)),
            ("export_deals_usd", |e| e.business_started = false),
            ("export_deals_usd", |e| {
                e.export_deals_usd = MAX_EXPORT_DEALS_USD + 1
            }),
        ];
        for (field, change) in cases {
            let mut e = enrollment();
            change(&mut e);
            assert_eq!(fields(e.validate(today())), [field]);
        }
        let mut at_limits = enrollment();
        at_limits.export_deals_usd = MAX_EXPORT_DEALS_USD;
        at_limits.enrollment_id = "ENR-12345678901".to_owned();
        assert_eq!(at_limits.validate(today()), Ok(()));
        let mut over = enrollment();
        over.export_deals_usd = MAX_EXPORT_DEALS_USD + 1;
        let reasons: Vec<String> = over
            .validate(today())
            .expect_err("over")
            .into_iter()
            .map(|v| v.reason)
            .collect();
        assert_eq!(reasons, ["must be at most 100000000000 us dollars"]);
    }
}
