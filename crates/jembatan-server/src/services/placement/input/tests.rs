//! Tests of the conversion: a valid message, each parse failure and rule naming its field,
//! several violations at once, and descriptions free of personal data.

use jembatan_domain::{
    BusinessInterest, Consent, ConsentMethod, PlacementScheme, Purpose, ReturnDateKind, Sex,
};
use jembatan_proto::v1;
use time::OffsetDateTime;

use super::{is_within, placement_from_proto};

const NIK: &str = "3507014107900001";
const NAME: &str = "Siti Aminah";
const PHONE: &str = "+6281234567890";
const EMAIL: &str = "siti.aminah@example.id";

fn date(year: i32, month: i32, day: i32) -> Option<v1::Date> {
    Some(v1::Date { year, month, day })
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// 2025-11-01T00:00:00Z.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_761_955_200).expect("now")
}

/// A woman from Kabupaten Malang, working as a domestic helper in Hong Kong.
fn valid() -> v1::Placement {
    v1::Placement {
        placement_id: "KP2MI-2025-000123".to_owned(),
        version: 3,
        updated_at: timestamp(1_761_782_400),
        nik: NIK.to_owned(),
        full_name: NAME.to_owned(),
        sex: v1::Sex::Female.into(),
        birth_date: date(1990, 7, 1),
        origin_regency_code: "35.07".to_owned(),
        education: v1::Education::JuniorSecondary.into(),
        job_title: "Penata laksana rumah tangga".to_owned(),
        occupation_code: "9111".to_owned(),
        certificates: vec![v1::CompetencyCertificate {
            scheme_code: "SKM-PLRT-2021".to_owned(),
            scheme_name: "Penata Laksana Rumah Tangga".to_owned(),
            kkni_level: 2,
            lsp_id: "BNSP-LSP-123-ID".to_owned(),
            issued_on: date(2024, 11, 20),
            expires_on: date(2027, 11, 20),
        }],
        languages: vec!["id".to_owned(), "zh".to_owned()],
        destination_country: "HK".to_owned(),
        employer_type: v1::EmployerType::Individual.into(),
        sector: None,
        p3mi_id: "P3MI-0042".to_owned(),
        placement_scheme: v1::PlacementScheme::P2p.into(),
        contract_start: date(2025, 1, 15),
        contract_end: date(2027, 1, 14),
        departure_date: date(2025, 2, 1),
        status: v1::PlacementStatus::Working.into(),
        return_date: date(2027, 1, 20),
        return_date_kind: v1::ReturnDateKind::Expected.into(),
        business_interest: Some(v1::BusinessInterest {
            wants_to_export: true,
            hs_chapters: vec!["61".to_owned(), "09".to_owned()],
        }),
        contact: Some(v1::Contact {
            phone: PHONE.to_owned(),
            email: EMAIL.to_owned(),
        }),
        consent: Some(v1::Consent {
            purposes: vec![
                v1::Purpose::Statistics.into(),
                v1::Purpose::BusinessMatching.into(),
            ],
            granted_at: timestamp(1_733_011_200),
            method: v1::ConsentMethod::Electronic.into(),
            withdrawn_at: None,
        }),
    }
}

/// The violated fields, without the prefix.
fn fields(p: &v1::Placement) -> Vec<String> {
    match placement_from_proto(p, "", now()) {
        Ok(_) => Vec::new(),
        Err(violations) => violations.into_iter().map(|v| v.field).collect(),
    }
}

/// Asserts that `change` makes exactly the `expected` fields fail, the first one with a
/// description containing `why`.
#[track_caller]
fn fails(expected: &[&str], why: &str, change: impl FnOnce(&mut v1::Placement)) {
    let mut p = valid();
    change(&mut p);
    let violations = placement_from_proto(&p, "", now()).expect_err("invalid");
    let found: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(found, expected, "{violations:?}");
    assert!(violations[0].description.contains(why), "{violations:?}");
}

#[test]
fn a_valid_record_converts() {
    let placement = placement_from_proto(&valid(), "placements[0]", now()).expect("valid");
    assert_eq!(placement.nik.as_str(), NIK);
    assert_eq!(placement.sex, Sex::Female);
    assert_eq!(placement.origin_regency.code(), "35.07");
    assert_eq!(placement.occupation.code(), "9111");
    assert_eq!(placement.destination_country.code(), "HK");
    assert_eq!(placement.languages.len(), 2);
    assert_eq!(placement.scheme, PlacementScheme::P2p);
    assert_eq!(placement.p3mi_id.as_deref(), Some("P3MI-0042"));
    assert_eq!(placement.certificates[0].kkni_level, Some(2));
    assert_eq!(
        placement.return_date.map(|(_, kind)| kind),
        Some(ReturnDateKind::Expected)
    );
    assert_eq!(
        placement.business_interest.hs_chapters,
        ["09", "61"],
        "sorted"
    );
    assert!(placement.consent.covers(Purpose::BusinessMatching));
    assert!(placement.consent.covers(Purpose::Statistics));
    assert_eq!(placement.consent.method, Some(ConsentMethod::Electronic));
    assert_eq!(
        placement.contact.and_then(|c| c.phone).as_deref(),
        Some(PHONE)
    );
    assert_eq!(
        placement.updated_at.map(OffsetDateTime::unix_timestamp),
        Some(1_761_782_400)
    );
}

#[test]
fn empty_optional_messages_and_text_are_absent() {
    let mut p = valid();
    p.sector = Some(v1::Sector::default());
    p.contact = Some(v1::Contact::default());
    p.business_interest = None;
    p.consent = None;
    p.p3mi_id.clear();
    p.placement_scheme = v1::PlacementScheme::Mandiri.into();
    p.certificates[0].kkni_level = 0;
    p.certificates[0].expires_on = None;
    let placement = placement_from_proto(&p, "", now()).expect("valid");
    assert_eq!(placement.sector, None);
    assert_eq!(placement.contact, None);
    assert_eq!(placement.p3mi_id, None);
    assert_eq!(placement.business_interest, BusinessInterest::default());
    assert_eq!(placement.consent, Consent::default());
    assert_eq!(placement.certificates[0].kkni_level, None);
    assert_eq!(placement.certificates[0].expires_on, None);
}

#[test]
fn violations_carry_the_prefix() {
    let mut p = valid();
    p.nik = "123".to_owned();
    let violations = placement_from_proto(&p, "placements[3]", now()).expect_err("invalid");
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "placements[3].nik");
    assert_eq!(violations[0].description, "must be exactly 16 digits");
}

#[test]
fn codes_are_parsed() {
    fails(&["nik"], "16 digits", |p| {
        p.nik = "35070141079000".to_owned()
    });
    fails(&["origin_regency_code"], "PP.KK", |p| {
        p.origin_regency_code = "3507".to_owned();
    });
    fails(&["origin_regency_code"], "not a known", |p| {
        p.origin_regency_code = "35.99".to_owned();
    });
    fails(&["occupation_code"], "isco-08", |p| {
        p.occupation_code = "9999".to_owned();
    });
    fails(&["destination_country"], "alpha-2", |p| {
        p.destination_country = "hk".to_owned();
    });
    fails(&["languages[1]"], "639-1", |p| {
        p.languages[1] = "chi".to_owned()
    });
    fails(&["languages[2]"], "duplicate", |p| {
        p.languages.push("id".to_owned())
    });
}

#[test]
fn required_dates_must_be_present_and_real() {
    fails(&["birth_date"], "is required", |p| p.birth_date = None);
    fails(&["contract_start"], "is required", |p| {
        p.contract_start = None
    });
    fails(&["contract_end"], "is required", |p| p.contract_end = None);
    fails(&["certificates[0].issued_on"], "is required", |p| {
        p.certificates[0].issued_on = None;
    });
    fails(&["contract_end"], "day", |p| {
        p.contract_end = date(2027, 2, 30)
    });
    fails(&["departure_date"], "month", |p| {
        p.departure_date = date(2025, 13, 1)
    });
    fails(&["certificates[0].expires_on"], "year", |p| {
        p.certificates[0].expires_on = date(0, 1, 1);
    });
}

#[test]
fn enums_must_be_set_and_known() {
    fails(&["sex"], "is required", |p| p.sex = 0);
    fails(&["sex"], "not a known value", |p| p.sex = 3);
    fails(&["education"], "is required", |p| p.education = 0);
    fails(&["education"], "not a known value", |p| p.education = 99);
    fails(&["employer_type"], "is required", |p| p.employer_type = 0);
    fails(&["employer_type"], "not a known value", |p| {
        p.employer_type = -1
    });
    fails(&["placement_scheme"], "is required", |p| {
        p.placement_scheme = 0
    });
    fails(&["placement_scheme"], "not a known value", |p| {
        p.placement_scheme = 5
    });
    fails(&["status"], "is required", |p| p.status = 0);
    fails(&["status"], "not a known value", |p| p.status = 8);
    fails(&["return_date_kind"], "not a known value", |p| {
        p.return_date_kind = 3
    });
    fails(&["consent.method"], "not a known value", |p| {
        if let Some(c) = p.consent.as_mut() {
            c.method = 4;
        }
    });
    fails(&["consent.purposes[1]"], "is required", |p| {
        if let Some(c) = p.consent.as_mut() {
            c.purposes[1] = 0;
        }
    });
    fails(&["consent.purposes[0]"], "not a known value", |p| {
        if let Some(c) = p.consent.as_mut() {
            c.purposes[0] = 42;
        }
    });
    fails(&["consent.purposes[2]"], "duplicate", |p| {
        if let Some(c) = p.consent.as_mut() {
            c.purposes.push(v1::Purpose::Statistics.into());
        }
    });
}

#[test]
fn a_return_date_goes_with_its_kind() {
    fails(&["return_date_kind"], "required when return_date", |p| {
        p.return_date_kind = 0;
    });
    fails(&["return_date_kind"], "without return_date", |p| {
        p.return_date = None
    });
    let mut none = valid();
    none.return_date = None;
    none.return_date_kind = 0;
    assert_eq!(fields(&none), Vec::<String>::new());
}

#[test]
fn timestamps_must_be_real() {
    fails(&["consent.granted_at"], "timestamp", |p| {
        if let Some(c) = p.consent.as_mut() {
            c.granted_at = Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            });
        }
    });
    fails(&["updated_at"], "timestamp", |p| {
        p.updated_at = Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        });
    });
    fails(&["updated_at"], "timestamp", |p| {
        p.updated_at = Some(prost_types::Timestamp {
            seconds: 0,
            nanos: 1_000_000_000,
        });
    });
}

#[test]
fn hs_chapters_are_checked_at_their_index_then_sorted() {
    fails(&["business_interest.hs_chapters[1]"], "hs chapter", |p| {
        if let Some(b) = p.business_interest.as_mut() {
            b.hs_chapters[1] = "77".to_owned();
        }
    });
    fails(&["business_interest.hs_chapters[2]"], "duplicate", |p| {
        if let Some(b) = p.business_interest.as_mut() {
            b.hs_chapters.push("61".to_owned());
        }
    });
}

#[test]
fn the_record_rules_run_too() {
    fails(&["p3mi_id"], "required for scheme P2P", |p| {
        p.p3mi_id.clear()
    });
    fails(&["nik"], "does not agree with sex", |p| {
        p.sex = v1::Sex::Male.into()
    });
    fails(&["contract_end"], "after contract_start", |p| {
        p.contract_end = date(2025, 1, 15);
    });
    fails(&["certificates[0].kkni_level"], "1 to 9", |p| {
        p.certificates[0].kkni_level = 300;
    });
    fails(&["sector.kbli_version"], "2020 or 2025", |p| {
        p.sector = Some(v1::Sector {
            kbli_code: "97000".to_owned(),
            kbli_version: 70_000,
        });
    });
    fails(&["consent.purposes"], "AUDIT", |p| {
        if let Some(c) = p.consent.as_mut() {
            c.purposes.push(v1::Purpose::Audit.into());
        }
    });
    fails(&["contact.phone"], "e.164", |p| {
        if let Some(c) = p.contact.as_mut() {
            c.phone = "0812345678".to_owned();
        }
    });
}

#[test]
fn several_violations_are_all_reported() {
    let mut p = valid();
    p.placement_id.clear();
    p.nik = "not a nik".to_owned();
    p.full_name = "x".repeat(201);
    p.education = 0;
    p.contract_start = None;
    p.status = v1::PlacementStatus::Returned.into();
    p.languages.push("xx".to_owned());
    if let Some(c) = p.contact.as_mut() {
        c.email = "siti".to_owned();
    }
    assert_eq!(
        fields(&p),
        [
            "nik",
            "education",
            "languages[2]",
            "contract_start",
            "placement_id",
            "full_name",
            "contact.email",
        ],
        "rules reading the NIK, the contract start or the status's dates are not judged on \
         stand-ins, the others run"
    );
}

#[test]
fn rules_on_stand_ins_are_not_reported() {
    // The birth date is missing: no age or NIK agreement is judged on its stand-in.
    fails(&["birth_date"], "is required", |p| p.birth_date = None);
    // The status is unknown: the departure and return rules are not judged.
    fails(&["status"], "not a known value", |p| {
        p.status = 9;
        p.departure_date = None;
    });
    // The issue date is missing: the expiry is not compared with its stand-in.
    fails(&["certificates[0].issued_on"], "is required", |p| {
        p.certificates[0].issued_on = None;
        p.certificates[0].expires_on = date(1900, 1, 1);
    });
    // A bad purpose hides the consent's coherence, not the other rules.
    fails(
        &["consent.purposes[0]", "job_title"],
        "not a known value",
        |p| {
            p.job_title.clear();
            if let Some(c) = p.consent.as_mut() {
                c.purposes = vec![42];
                c.method = 0;
            }
        },
    );
}

#[test]
fn descriptions_never_echo_personal_data() {
    let mut p = valid();
    p.nik = format!("{NIK}9");
    p.full_name = format!("{NAME}\u{1b}");
    p.contact = Some(v1::Contact {
        phone: format!("{PHONE}x"),
        email: format!("{EMAIL}@"),
    });
    p.sex = v1::Sex::Male.into();
    let violations = placement_from_proto(&p, "placements[0]", now()).expect_err("invalid");
    assert_eq!(violations.len(), 4, "{violations:?}");
    for v in &violations {
        for secret in [NIK, NAME, PHONE, EMAIL, "Siti", "0812", "4107"] {
            assert!(!v.description.contains(secret), "{v:?}");
        }
        assert!(!v.description.ends_with('.'), "{v:?}");
    }
    let mut p = valid();
    p.sex = v1::Sex::Male.into();
    let violations = placement_from_proto(&p, "", now()).expect_err("invalid");
    assert!(
        !violations[0].description.contains("4107"),
        "{violations:?}"
    );
}

#[test]
fn field_paths_nest_only_at_boundaries() {
    assert!(is_within("consent.method", "consent"));
    assert!(is_within("languages[2]", "languages"));
    assert!(is_within("nik", "nik"));
    assert!(!is_within("return_date_kind", "return_date"));
    assert!(!is_within("consent", "consent.method"));
}
