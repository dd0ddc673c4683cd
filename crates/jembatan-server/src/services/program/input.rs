//! The conversion of a published `jembatan.v1.ExportProgram` and of a recorded
//! `jembatan.v1.Enrollment` into validated domain records ([`ExportProgram`], [`Enrollment`]),
//! reporting every violation with its field path.
//!
//! Each field is parsed on its own first (kind, codes, dates, NIK), then the record's rules run.
//! A field that fails to parse is given a stand-in so that the other rules still run; a rule on
//! a field that failed is not reported, since it would judge the stand-in. The lists of codes
//! are checked here as the message holds them (count, each code, duplicates at their index).

use jembatan_domain::program::{MAX_AREAS, MAX_PROGRAM_HS_CHAPTERS, MAX_TARGET_COUNTRIES};
use jembatan_domain::{
    Country, Enrollment, EnrollmentStatus, ExportProgram, HsChapter, Nik, ProgramArea, ProgramKind,
};
use jembatan_proto::v1;

use crate::services::fields::FieldParse;

/// The validated program, or every violation with its field path prefixed by `prefix` (e.g.
/// "programs[3]" → "programs[3].regency_codes[1]").
pub(crate) fn program_from_proto(
    p: &v1::ExportProgram,
    prefix: &str,
) -> Result<ExportProgram, Vec<v1::FieldViolation>> {
    let mut parse = FieldParse::default();
    let kind = parse.enumeration::<v1::ProgramKind, _>("kind", p.kind, ProgramKind::from_code);
    let target_countries = parse.list(
        "target_countries",
        &p.target_countries,
        (MAX_TARGET_COUNTRIES, "countries"),
        Country::parse,
    );
    let hs_chapters = parse.list(
        "hs_chapters",
        &p.hs_chapters,
        (MAX_PROGRAM_HS_CHAPTERS, "chapters"),
        HsChapter::parse,
    );
    let areas = parse.list(
        "regency_codes",
        &p.regency_codes,
        (MAX_AREAS, "areas"),
        ProgramArea::parse,
    );
    let starts_on = parse.date("starts_on", p.starts_on.as_ref());
    let ends_on = parse.date("ends_on", p.ends_on.as_ref());
    let program = ExportProgram {
        program_id: p.program_id.clone(),
        version: p.version,
        name: p.name.clone(),
        kind: kind.unwrap_or(ProgramKind::Other),
        description: p.description.clone(),
        organizer: p.organizer.clone(),
        target_countries,
        hs_chapters,
        areas,
        starts_on: starts_on.unwrap_or(time::Date::MIN),
        ends_on: ends_on.unwrap_or(time::Date::MAX),
        capacity: p.capacity,
    };
    let rules = program.validate();
    parse.finish(Some(program), Some(rules), prefix)
}

/// The validated enrolment, or every violation with its field path prefixed by `prefix` (e.g.
/// "enrollments[3]" → "enrollments[3].nik"); `today` is the latest date that is not in the
/// future. Whether the program is stored is not judged here.
pub(crate) fn enrollment_from_proto(
    e: &v1::Enrollment,
    prefix: &str,
    today: time::Date,
) -> Result<Enrollment, Vec<v1::FieldViolation>> {
    let mut parse = FieldParse::default();
    let nik = parse.ok("nik", Nik::parse(&e.nik));
    let enrolled_on = parse.date("enrolled_on", e.enrolled_on.as_ref());
    let status = parse.enumeration::<v1::EnrollmentStatus, _>(
        "status",
        e.status,
        EnrollmentStatus::from_code,
    );
    let enrollment = nik
        .or_else(|| Nik::parse("1101010101000001").ok())
        .map(|nik| Enrollment {
            enrollment_id: e.enrollment_id.clone(),
            version: e.version,
            program_id: e.program_id.clone(),
            nik,
            enrolled_on: enrolled_on.unwrap_or(time::Date::MIN),
            status: status.unwrap_or(EnrollmentStatus::Enrolled),
            business_started: e.business_started,
            export_deals_usd: e.export_deals_usd,
        });
    let rules = enrollment.as_ref().map(|e| e.validate(today));
    parse.finish(enrollment, rules, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jembatan_proto::convert::ShortCode;

    const NIK: &str = "3507014107900001";

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

    fn program() -> v1::ExportProgram {
        v1::ExportProgram {
            program_id: "DJPEN-DBE-2026-01".to_owned(),
            version: 1,
            name: "Desa BISA Ekspor Kopi Malang".to_owned(),
            kind: v1::ProgramKind::DesaBisaEkspor.into(),
            description: "Coaching of coffee villages.\nFor returning workers.".to_owned(),
            organizer: "Ditjen PEN".to_owned(),
            target_countries: vec!["HK".to_owned(), "TW".to_owned()],
            hs_chapters: vec!["09".to_owned(), "21".to_owned()],
            regency_codes: vec!["35.07".to_owned(), "52".to_owned()],
            starts_on: day(2026, 1, 5),
            ends_on: day(2026, 6, 30),
            capacity: 40,
        }
    }

    fn enrollment() -> v1::Enrollment {
        v1::Enrollment {
            enrollment_id: "KP2MI-ENR-0001".to_owned(),
            version: 3,
            program_id: "DJPEN-DBE-2026-01".to_owned(),
            nik: NIK.to_owned(),
            enrolled_on: day(2025, 10, 1),
            status: v1::EnrollmentStatus::Completed.into(),
            business_started: true,
            export_deals_usd: 12_000,
        }
    }

    /// The violated fields and the first description.
    fn violated<T: std::fmt::Debug>(
        result: Result<T, Vec<v1::FieldViolation>>,
    ) -> (Vec<String>, String) {
        let violations = result.expect_err("invalid");
        let first = violations[0].description.clone();
        (violations.into_iter().map(|v| v.field).collect(), first)
    }

    /// Asserts that `change` makes exactly the `expected` program fields fail, the first one
    /// with a description containing `why`.
    #[track_caller]
    fn program_fails(expected: &[&str], why: &str, change: impl FnOnce(&mut v1::ExportProgram)) {
        let mut p = program();
        change(&mut p);
        let (fields, first) = violated(program_from_proto(&p, ""));
        assert_eq!(fields, expected);
        assert!(first.contains(why), "{first}");
    }

    /// As [`program_fails`], for an enrolment.
    #[track_caller]
    fn enrollment_fails(expected: &[&str], why: &str, change: impl FnOnce(&mut v1::Enrollment)) {
        let mut e = enrollment();
        change(&mut e);
        let (fields, first) = violated(enrollment_from_proto(&e, "", today()));
        assert_eq!(fields, expected);
        assert!(first.contains(why), "{first}");
    }

    #[test]
    fn a_valid_program_converts() {
        let p = program_from_proto(&program(), "programs[0]").expect("valid");
        assert_eq!((p.program_id.as_str(), p.version), ("DJPEN-DBE-2026-01", 1));
        assert_eq!(p.kind, ProgramKind::DesaBisaEkspor);
        let countries: Vec<&str> = p.target_countries.iter().map(Country::code).collect();
        assert_eq!(countries, ["HK", "TW"]);
        let chapters: Vec<&str> = p.hs_chapters.iter().map(|c| c.code()).collect();
        assert_eq!(chapters, ["09", "21"]);
        let areas: Vec<&str> = p.areas.iter().map(ProgramArea::code).collect();
        assert_eq!(areas, ["35.07", "52"]);
        assert_eq!(p.areas[1], ProgramArea::Province("52"));
        assert_eq!(p.capacity, 40);
        let nationwide = v1::ExportProgram {
            regency_codes: Vec::new(),
            target_countries: Vec::new(),
            hs_chapters: Vec::new(),
            capacity: 0,
            ends_on: day(2026, 1, 5),
            ..program()
        };
        assert!(program_from_proto(&nationwide, "").is_ok());
        for kind in ProgramKind::ALL {
            let p = v1::ExportProgram {
                kind: v1::ProgramKind::number_of_code(kind.code()).expect("code"),
                ..program()
            };
            assert_eq!(program_from_proto(&p, "").map(|p| p.kind), Ok(*kind));
        }
    }

    #[test]
    fn each_program_field_fails_on_its_own() {
        program_fails(&["kind"], "is required", |p| p.kind = 0);
        program_fails(&["kind"], "not a known value", |p| p.kind = 6);
        program_fails(&["target_countries[1]"], "iso 3166-1", |p| {
            p.target_countries[1] = "XX".to_owned()
        });
        program_fails(&["target_countries[2]"], "duplicate", |p| {
            p.target_countries.push("HK".to_owned())
        });
        program_fails(&["target_countries"], "at most 50 countries", |p| {
            p.target_countries = jembatan_domain::Country::all()
                .take(51)
                .map(|c| c.code().to_owned())
                .collect()
        });
        program_fails(&["hs_chapters[0]"], "hs 2022 chapter", |p| {
            p.hs_chapters[0] = "77".to_owned()
        });
        program_fails(&["hs_chapters[1]"], "2-digit", |p| {
            p.hs_chapters[1] = "0901".to_owned()
        });
        program_fails(&["hs_chapters[2]"], "duplicate", |p| {
            p.hs_chapters.push("09".to_owned())
        });
        program_fails(&["regency_codes[0]"], "not a known", |p| {
            p.regency_codes[0] = "35.30".to_owned()
        });
        program_fails(&["regency_codes[1]"], "province", |p| {
            p.regency_codes[1] = "99".to_owned()
        });
        program_fails(&["regency_codes[2]"], "duplicate", |p| {
            p.regency_codes.push("52".to_owned())
        });
        program_fails(&["regency_codes"], "at most 100 areas", |p| {
            p.regency_codes = jembatan_domain::Regency::all()
                .take(101)
                .map(|r| r.code().to_owned())
                .collect()
        });
        program_fails(&["starts_on"], "is required", |p| p.starts_on = None);
        program_fails(&["ends_on"], "month 13", |p| p.ends_on = day(2026, 13, 1));
        program_fails(&["ends_on"], "before starts_on", |p| {
            p.ends_on = day(2026, 1, 4)
        });
        program_fails(&["program_id"], "1 to 64", |p| p.program_id.clear());
        program_fails(&["program_id"], "12 or more digits", |p| {
            p.program_id = "DBE-081234567890".to_owned()
        });
        program_fails(
            &["regency_codes", "regency_codes[101]"],
            "at most 100",
            |p| {
                p.regency_codes = jembatan_domain::Regency::all()
                    .take(101)
                    .chain(jembatan_domain::Regency::all().take(1))
                    .map(|r| r.code().to_owned())
                    .collect()
            },
        );
        program_fails(&["name"], "1 to 200", |p| p.name = "n".repeat(201));
        program_fails(&["description"], "0 to 4000", |p| {
            p.description = "d".repeat(4001)
        });
        program_fails(&["organizer"], "is required", |p| p.organizer.clear());
    }

    #[test]
    fn program_violations_are_all_reported_under_the_prefix() {
        let p = v1::ExportProgram {
            regency_codes: vec!["35.07".to_owned(), "3507".to_owned()],
            ends_on: day(2026, 1, 1),
            ..v1::ExportProgram::default()
        };
        let (fields, _) = violated(program_from_proto(&p, "programs[3]"));
        assert_eq!(
            fields,
            [
                "programs[3].kind",
                "programs[3].regency_codes[1]",
                "programs[3].starts_on",
                "programs[3].program_id",
                "programs[3].name",
                "programs[3].organizer",
            ],
            "ends_on is not judged against a missing starts_on"
        );
    }

    #[test]
    fn a_valid_enrollment_converts() {
        let e = enrollment_from_proto(&enrollment(), "enrollments[0]", today()).expect("valid");
        assert_eq!(e.enrollment_id, "KP2MI-ENR-0001");
        assert_eq!(e.version, 3);
        assert_eq!(e.program_id, "DJPEN-DBE-2026-01");
        assert_eq!(e.nik.as_str(), NIK);
        assert_eq!(e.status, EnrollmentStatus::Completed);
        assert!(e.business_started);
        assert_eq!(e.export_deals_usd, 12_000);
        for status in EnrollmentStatus::ALL {
            let e = v1::Enrollment {
                status: v1::EnrollmentStatus::number_of_code(status.code()).expect("code"),
                ..enrollment()
            };
            assert_eq!(
                enrollment_from_proto(&e, "", today()).map(|e| e.status),
                Ok(*status)
            );
        }
    }

    #[test]
    fn each_enrollment_field_fails_on_its_own() {
        enrollment_fails(&["nik"], "16 digits", |e| e.nik = "3507".to_owned());
        enrollment_fails(&["status"], "is required", |e| e.status = 0);
        enrollment_fails(&["status"], "not a known value", |e| e.status = -1);
        enrollment_fails(&["enrolled_on"], "is required", |e| e.enrolled_on = None);
        enrollment_fails(&["enrolled_on"], "future", |e| {
            e.enrolled_on = day(2025, 11, 2)
        });
        enrollment_fails(&["enrollment_id"], "letters, digits", |e| {
            e.enrollment_id = "a b".to_owned()
        });
        enrollment_fails(&["program_id"], "1 to 64", |e| e.program_id.clear());
        enrollment_fails(&["enrollment_id"], "12 or more digits", |e| {
            e.enrollment_id = format!("ENR-{NIK}")
        });
        enrollment_fails(
            &["export_deals_usd"],
            "at most 100000000000 us dollars",
            |e| e.export_deals_usd = 100_000_000_001,
        );
        enrollment_fails(&["export_deals_usd"], "business_started", |e| {
            e.business_started = false
        });
    }

    #[test]
    fn enrollment_violations_never_echo_the_nik() {
        let e = v1::Enrollment {
            nik: "3507019999990001".to_owned(),
            ..v1::Enrollment::default()
        };
        let violations = enrollment_from_proto(&e, "enrollments[7]", today()).expect_err("bad");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "enrollments[7].nik",
                "enrollments[7].enrolled_on",
                "enrollments[7].status",
                "enrollments[7].enrollment_id",
                "enrollments[7].program_id",
            ]
        );
        for v in &violations {
            assert!(!v.description.contains("3507"), "{v:?}");
        }
    }
}
