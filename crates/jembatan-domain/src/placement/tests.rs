//! Tests of the placement record's rules: one valid record, and one failing case per rule.

use std::collections::BTreeSet;

use time::{Date, Duration, OffsetDateTime};

use crate::placement::{
    BusinessInterest, Certificate, Consent, ConsentMethod, Contact, Education, EmployerType,
    Placement, PlacementScheme, PlacementStatus, ReturnDateKind, Sector, Sex, Violation,
};
use crate::{Country, Language, Nik, Occupation, Purpose, Regency};

const NIK: &str = "3507014107900001";
const NAME: &str = "Siti Aminah";
const PHONE: &str = "+6281234567890";
const EMAIL: &str = "siti.aminah@example.id";

fn day(year: i32, month: i32, day: i32) -> Date {
    crate::date(year, month, day).expect("test date")
}

fn at(year: i32, month: i32, d: i32) -> OffsetDateTime {
    day(year, month, d).midnight().assume_utc()
}

fn now() -> OffsetDateTime {
    at(2025, 11, 1)
}

/// A woman from Kabupaten Malang, working as a domestic helper in Hong Kong.
fn valid() -> Placement {
    Placement {
        placement_id: "KP2MI/2025:000123-a".to_owned(),
        version: 3,
        updated_at: Some(at(2025, 10, 30)),
        nik: Nik::parse(NIK).expect("nik"),
        full_name: NAME.to_owned(),
        sex: Sex::Female,
        birth_date: day(1990, 7, 1),
        origin_regency: Regency::parse("35.07").expect("regency"),
        education: Education::JuniorSecondary,
        job_title: "Penata laksana rumah tangga".to_owned(),
        occupation: Occupation::parse("9111").expect("occupation"),
        certificates: vec![Certificate {
            scheme_code: "SKM-PLRT-2021".to_owned(),
            scheme_name: "Penata Laksana Rumah Tangga".to_owned(),
            kkni_level: Some(2),
            lsp_id: "BNSP-LSP-123-ID".to_owned(),
            issued_on: day(2024, 11, 20),
            expires_on: Some(day(2027, 11, 20)),
        }],
        languages: vec![
            Language::parse("id").expect("id"),
            Language::parse("zh").expect("zh"),
        ],
        destination_country: Country::parse("HK").expect("HK"),
        employer_type: EmployerType::Individual,
        sector: Some(Sector {
            kbli_code: "97000".to_owned(),
            kbli_version: 2020,
        }),
        p3mi_id: Some("P3MI-0042".to_owned()),
        scheme: PlacementScheme::P2p,
        contract_start: day(2025, 1, 15),
        contract_end: day(2027, 1, 14),
        departure_date: Some(day(2025, 2, 1)),
        status: PlacementStatus::Working,
        return_date: Some((day(2027, 1, 20), ReturnDateKind::Expected)),
        business_interest: BusinessInterest {
            wants_to_export: true,
            hs_chapters: vec!["09".to_owned(), "61".to_owned()],
        },
        contact: Some(Contact {
            phone: Some(PHONE.to_owned()),
            email: Some(EMAIL.to_owned()),
        }),
        consent: Consent {
            purposes: BTreeSet::from([Purpose::BusinessMatching, Purpose::Statistics]),
            granted_at: Some(at(2024, 12, 1)),
            method: Some(ConsentMethod::Electronic),
            withdrawn_at: None,
        },
    }
}

/// The violations of `placement`, none if valid.
fn violations(placement: &Placement) -> Vec<Violation> {
    placement.validate(now()).err().unwrap_or_default()
}

/// Asserts that `change` makes exactly `field` fail, with a reason containing `why`.
#[track_caller]
fn fails(field: &str, why: &str, change: impl FnOnce(&mut Placement)) {
    let mut placement = valid();
    change(&mut placement);
    let found = violations(&placement);
    assert!(
        found
            .iter()
            .any(|v| v.field == field && v.reason.contains(why)),
        "expected {field}: …{why}…, got {found:?}"
    );
    assert!(
        found.iter().all(|v| v.field == field),
        "only {field} should fail, got {found:?}"
    );
}

#[test]
fn a_valid_record_passes() {
    assert_eq!(valid().validate(now()), Ok(()));
}

#[test]
fn minimal_records_pass() {
    let mut placement = valid();
    placement.updated_at = None;
    placement.certificates.clear();
    placement.languages.clear();
    placement.sector = None;
    placement.p3mi_id = None;
    placement.scheme = PlacementScheme::Mandiri;
    placement.departure_date = None;
    placement.status = PlacementStatus::Registered;
    placement.return_date = None;
    placement.business_interest = BusinessInterest::default();
    placement.contact = None;
    placement.consent = Consent::default();
    assert_eq!(placement.validate(now()), Ok(()));
}

#[test]
fn placement_id_has_a_length_and_an_alphabet() {
    fails("placement_id", "1 to 64", |p| p.placement_id.clear());
    fails("placement_id", "1 to 64", |p| {
        p.placement_id = "a".repeat(65)
    });
    fails("placement_id", "letters", |p| {
        p.placement_id = "a b".to_owned()
    });
    fails("placement_id", "letters", |p| {
        p.placement_id = "ä".to_owned()
    });
    let mut placement = valid();
    placement.placement_id = "A".repeat(64);
    assert_eq!(placement.validate(now()), Ok(()));
}

#[test]
fn free_text_has_lengths_and_no_control_characters() {
    fails("full_name", "required", |p| p.full_name.clear());
    fails("full_name", "required", |p| p.full_name = "   ".to_owned());
    fails("full_name", "1 to 200", |p| p.full_name = "é".repeat(201));
    fails("full_name", "control", |p| {
        p.full_name = "Siti\u{0}Aminah".to_owned()
    });
    fails("job_title", "required", |p| p.job_title.clear());
    fails("job_title", "1 to 200", |p| p.job_title = "x".repeat(201));
    let mut placement = valid();
    placement.full_name = "é".repeat(200);
    assert_eq!(placement.validate(now()), Ok(()), "characters, not bytes");
}

#[test]
fn certificates_are_checked_one_by_one() {
    fails("certificates[0].scheme_code", "1 to 64", |p| {
        p.certificates[0].scheme_code.clear();
    });
    fails("certificates[0].scheme_code", "1 to 64", |p| {
        p.certificates[0].scheme_code = "S".repeat(65);
    });
    for code in ["skm-plrt", "SKM|PLRT", "SKM PLRT", "SKM%"] {
        fails("certificates[0].scheme_code", "upper-case", |p| {
            p.certificates[0].scheme_code = code.to_owned();
        });
    }
    fails("certificates[0].scheme_name", "0 to 200", |p| {
        p.certificates[0].scheme_name = "S".repeat(201);
    });
    fails("certificates[0].lsp_id", "0 to 64", |p| {
        p.certificates[0].lsp_id = "L".repeat(65);
    });
    fails("certificates[0].kkni_level", "1 to 9", |p| {
        p.certificates[0].kkni_level = Some(10);
    });
    fails("certificates[0].kkni_level", "1 to 9", |p| {
        p.certificates[0].kkni_level = Some(0);
    });
    fails("certificates[1].expires_on", "after issued_on", |p| {
        let mut second = p.certificates[0].clone();
        second.expires_on = Some(second.issued_on);
        p.certificates.push(second);
    });
    fails("certificates", "at most 20", |p| {
        p.certificates = vec![p.certificates[0].clone(); 21];
    });
}

#[test]
fn languages_are_unique_and_few() {
    fails("languages[2]", "duplicate", |p| {
        p.languages.push(Language::parse("id").expect("id"));
    });
    fails("languages", "at most 20", |p| {
        p.languages = Language::all().take(21).collect();
    });
}

#[test]
fn the_sector_has_a_kbli_code_and_edition() {
    fails("sector.kbli_code", "5-digit", |p| {
        p.sector = Some(Sector {
            kbli_code: "9700".to_owned(),
            kbli_version: 2025,
        });
    });
    fails("sector.kbli_version", "2020 or 2025", |p| {
        p.sector = Some(Sector {
            kbli_code: "97000".to_owned(),
            kbli_version: 2017,
        });
    });
}

#[test]
fn the_placement_agency_follows_the_scheme() {
    fails("p3mi_id", "required for scheme P2P", |p| p.p3mi_id = None);
    fails("p3mi_id", "must be empty", |p| {
        p.scheme = PlacementScheme::G2g
    });
    fails("p3mi_id", "must be empty", |p| {
        p.scheme = PlacementScheme::Mandiri
    });
    fails("p3mi_id", "1 to 64", |p| p.p3mi_id = Some("P".repeat(65)));
    let mut ukps = valid();
    ukps.scheme = PlacementScheme::Ukps;
    assert_eq!(ukps.validate(now()), Ok(()));
    ukps.p3mi_id = None;
    assert_eq!(ukps.validate(now()), Ok(()));
}

#[test]
fn dates_are_in_order() {
    fails("contract_end", "after contract_start", |p| {
        p.contract_end = p.contract_start;
    });
    fails("return_date", "after departure_date", |p| {
        p.return_date = Some((day(2025, 2, 1), ReturnDateKind::Expected));
    });
    fails("return_date", "after contract_start", |p| {
        p.status = PlacementStatus::Registered;
        p.departure_date = None;
        p.return_date = Some((day(2025, 1, 10), ReturnDateKind::Expected));
    });
}

#[test]
fn the_worker_is_born_and_of_age() {
    fails("birth_date", "in the future", |p| {
        p.birth_date = day(2025, 11, 2);
        p.nik = Nik::parse("3507014211250001").expect("nik");
    });
    fails("birth_date", "at least 18", |p| {
        p.birth_date = day(2007, 1, 16);
        p.nik = Nik::parse("3507015601070001").expect("nik");
    });
    let mut eighteen = valid();
    eighteen.birth_date = day(2007, 1, 15);
    eighteen.nik = Nik::parse("3507015501070001").expect("nik");
    assert_eq!(eighteen.validate(now()), Ok(()), "18 on the day itself");
}

#[test]
fn a_leap_day_birthday_comes_of_age_on_the_first_of_march() {
    let mut placement = valid();
    placement.birth_date = day(2004, 2, 29);
    placement.nik = Nik::parse("3507016902040001").expect("nik");
    placement.contract_start = day(2022, 2, 28);
    placement.departure_date = Some(day(2022, 3, 10));
    assert_eq!(violations(&placement)[0].field, "birth_date");
    placement.contract_start = day(2022, 3, 1);
    assert_eq!(placement.validate(now()), Ok(()));
}

#[test]
fn sex_and_birth_date_agree_with_the_nik() {
    fails("nik", "does not agree with sex", |p| p.sex = Sex::Male);
    fails("nik", "does not agree with birth_date", |p| {
        p.birth_date = day(1990, 7, 2);
    });
}

#[test]
fn the_status_needs_its_dates() {
    for status in [
        PlacementStatus::Departed,
        PlacementStatus::Working,
        PlacementStatus::ContractEnded,
        PlacementStatus::InTrouble,
    ] {
        fails("departure_date", "required", |p| {
            p.status = status;
            p.departure_date = None;
            p.return_date = None;
        });
    }
    fails(
        "return_date_kind",
        "ACTUAL only with status RETURNED",
        |p| {
            p.return_date = Some((day(2025, 6, 1), ReturnDateKind::Actual));
        },
    );
    fails("return_date_kind", "must be ACTUAL", |p| {
        p.status = PlacementStatus::Returned;
    });
    fails("return_date", "required with status RETURNED", |p| {
        p.status = PlacementStatus::Returned;
        p.return_date = None;
    });
    let mut returned = valid();
    returned.status = PlacementStatus::Returned;
    returned.return_date = Some((day(2025, 6, 1), ReturnDateKind::Actual));
    assert_eq!(returned.validate(now()), Ok(()));
    let mut registered = valid();
    registered.status = PlacementStatus::Registered;
    registered.departure_date = None;
    assert_eq!(registered.validate(now()), Ok(()));
}

#[test]
fn hs_chapters_are_real_sorted_and_few() {
    for bad in ["00", "77", "98", "99", "1", "100", "0a"] {
        fails("business_interest.hs_chapters[1]", "hs chapter", |p| {
            p.business_interest.hs_chapters[1] = bad.to_owned();
        });
    }
    fails("business_interest.hs_chapters[1]", "sorted", |p| {
        p.business_interest.hs_chapters = vec!["61".to_owned(), "09".to_owned()];
    });
    fails("business_interest.hs_chapters[1]", "duplicates", |p| {
        p.business_interest.hs_chapters = vec!["09".to_owned(), "09".to_owned()];
    });
    fails("business_interest.hs_chapters", "at most 20", |p| {
        p.business_interest.hs_chapters = (1..=21).map(|n| format!("{n:02}")).collect();
    });
}

#[test]
fn contact_details_have_their_shape() {
    let phone = |text: &str| Contact {
        phone: Some(text.to_owned()),
        email: None,
    };
    let email = |text: &str| Contact {
        phone: None,
        email: Some(text.to_owned()),
    };
    for bad in [
        "081234567890",
        "+62",
        "+0812345678",
        "+62 812 3456",
        "+1234567890123456",
    ] {
        fails("contact.phone", "e.164", |p| p.contact = Some(phone(bad)));
    }
    for bad in [
        "siti",
        "siti@",
        "@example.id",
        "siti@example",
        "siti@@example.id",
        "siti@exa@mple.id",
        "siti aminah@example.id",
        "siti@.example.id",
        "siti@example.id.",
        "siti@example..id",
    ] {
        fails("contact.email", "e-mail", |p| p.contact = Some(email(bad)));
    }
    let too_long = format!("{}@{}.id", "a".repeat(60), "b".repeat(200));
    fails("contact.email", "254", |p| {
        p.contact = Some(email(&too_long))
    });
}

#[test]
fn consent_is_coherent() {
    fails("consent.purposes", "AUDIT", |p| {
        p.consent.purposes.insert(Purpose::Audit);
    });
    fails("consent.granted_at", "required", |p| {
        p.consent.granted_at = None
    });
    fails("consent.method", "required", |p| p.consent.method = None);
    fails("consent.granted_at", "future", |p| {
        p.consent.granted_at = Some(now() + Duration::minutes(6));
    });
    fails("consent.withdrawn_at", "before granted_at", |p| {
        p.consent.withdrawn_at = Some(at(2024, 11, 30));
    });
    fails("consent.withdrawn_at", "future", |p| {
        p.consent.withdrawn_at = Some(now() + Duration::hours(1));
    });
    fails("consent.withdrawn_at", "requires granted_at", |p| {
        p.consent = Consent {
            withdrawn_at: Some(at(2025, 1, 1)),
            ..Consent::default()
        };
    });
    let mut skewed = valid();
    skewed.consent.granted_at = Some(now() + Duration::minutes(5));
    assert_eq!(skewed.validate(now()), Ok(()), "5 minutes of clock skew");
}

#[test]
fn consent_covers_only_granted_purposes_until_withdrawn() {
    let mut consent = valid().consent;
    assert!(consent.covers(Purpose::BusinessMatching));
    assert!(!consent.covers(Purpose::MarketAccess));
    consent.withdrawn_at = Some(at(2025, 5, 1));
    assert!(!consent.covers(Purpose::BusinessMatching));
}

/// A record with as many problems as can be: every one is reported, with its field.
fn broken() -> Placement {
    let mut p = valid();
    p.placement_id = "bad id".to_owned();
    p.full_name = format!("{NAME}\u{7}");
    p.sex = Sex::Male;
    p.certificates[0].kkni_level = Some(12);
    p.p3mi_id = None;
    p.contract_end = p.contract_start;
    p.status = PlacementStatus::Returned;
    p.departure_date = None;
    p.return_date = None;
    p.business_interest.hs_chapters = vec!["77".to_owned()];
    p.contact = Some(Contact {
        phone: Some(format!("{PHONE}x")),
        email: Some(format!("{EMAIL}@")),
    });
    p.consent.method = None;
    p
}

#[test]
fn every_violation_is_reported() {
    let fields: Vec<String> = violations(&broken()).into_iter().map(|v| v.field).collect();
    assert_eq!(
        fields,
        [
            "placement_id",
            "full_name",
            "nik",
            "certificates[0].kkni_level",
            "p3mi_id",
            "contract_end",
            "departure_date",
            "return_date",
            "business_interest.hs_chapters[0]",
            "contact.phone",
            "contact.email",
            "consent.method",
        ]
    );
}

/// The contract's codes that reasons name as they are.
const CODES: [&str; 6] = ["P2P", "G2G", "MANDIRI", "RETURNED", "ACTUAL", "AUDIT"];

#[test]
fn reasons_never_echo_personal_data() {
    for violation in violations(&broken()) {
        let text = violation.to_string();
        for secret in [NIK, NAME, PHONE, EMAIL, "Siti", "0107", "4107", "1234567"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(!violation.reason.ends_with('.'), "{text}");
        let without_codes: String = violation
            .reason
            .split(' ')
            .filter(|word| !CODES.contains(word))
            .collect();
        assert_eq!(
            without_codes,
            without_codes.to_lowercase(),
            "lower case apart from codes: {text}"
        );
    }
}

#[test]
fn violations_go_under_a_prefix() {
    let violation = Violation::new("certificates[2].issued_on", "is required");
    assert_eq!(
        violation.clone().under("placements[3]").field,
        "placements[3].certificates[2].issued_on"
    );
    assert_eq!(violation.clone().under(""), violation);
}
