//! What the exchange parses of a call or its config: placements from protobuf bytes, page
//! tokens and watch cursors, the config file.

use std::path::Path;

use jembatan_domain::{
    Certificate, Contact, Placement, PlacementScheme, PlacementStatus, Purpose, ReturnDateKind,
};
use jembatan_proto::v1;
use jembatan_server::Config;
use jembatan_server::fuzzing;
use prost::Message;
use time::{Duration, OffsetDateTime};

/// When the records are judged: 2025-11-01T00:00:00Z, as in the server's tests of the
/// validation (a fixed time, so that an input always gives the same answer).
const NOW: i64 = 1_761_955_200;

/// The prefix the push gives the first record's violations.
const PREFIX: &str = "placements[0]";

/// The fields of `jembatan.v1.Placement`: a violation's path starts with one of them.
pub(crate) const FIELDS: &[&str] = &[
    "placement_id",
    "version",
    "updated_at",
    "nik",
    "full_name",
    "sex",
    "birth_date",
    "origin_regency_code",
    "education",
    "job_title",
    "occupation_code",
    "certificates",
    "languages",
    "destination_country",
    "employer_type",
    "sector",
    "p3mi_id",
    "placement_scheme",
    "contract_start",
    "contract_end",
    "departure_date",
    "status",
    "return_date",
    "return_date_kind",
    "business_interest",
    "contact",
    "consent",
];

/// Placement validation from protobuf bytes (`jembatan.v1.Placement`), as a push runs it on
/// each record: an accepted record is the message's own and within every documented bound
/// checked below; a refusal names a field of the message for each violation and never echoes
/// the NIK.
pub fn placement(data: &[u8]) {
    let Ok(message) = v1::Placement::decode(data) else {
        return;
    };
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("a fixed time");
    match fuzzing::placement(&message, PREFIX, now) {
        Ok(record) => check_valid(&message, &record, now),
        Err(violations) => {
            assert!(!violations.is_empty(), "a refusal says why");
            for violation in &violations {
                let path = violation
                    .field
                    .strip_prefix(PREFIX)
                    .and_then(|path| path.strip_prefix('.'))
                    .unwrap_or_else(|| panic!("{violation:?} is not under {PREFIX}"));
                let field = path.split(['.', '[']).next().unwrap_or_default();
                assert!(FIELDS.contains(&field), "{violation:?} names no field");
                assert!(!violation.description.is_empty(), "{violation:?}");
                super::check_no_nik(&violation.description, &message.nik);
            }
        }
    }
}

/// The documented bounds of a valid record (`jembatan_domain::Placement`'s fields), checked
/// here without the domain's own rules, and what of the message it keeps as given.
fn check_valid(message: &v1::Placement, p: &Placement, now: OffsetDateTime) {
    assert_eq!(p.placement_id, message.placement_id);
    assert_eq!(p.version, message.version);
    assert_eq!(p.nik.as_str(), message.nik);
    assert_eq!(p.full_name, message.full_name);
    assert_eq!(p.job_title, message.job_title);
    assert!((1..=64).contains(&p.placement_id.len()));
    assert!(
        p.placement_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:_/-".contains(c))
    );
    assert!(p.nik.as_str().len() == 16 && p.nik.as_str().bytes().all(|b| b.is_ascii_digit()));
    for text in [&p.full_name, &p.job_title] {
        assert!(is_text(text, 1, 200), "{text:?}");
    }
    // Dates: born in the past, 18 at the start of a contract that ends after it starts.
    assert!(p.birth_date <= now.date());
    let (born, start) = (p.birth_date, p.contract_start);
    let of_age = (start.year() - 18, u8::from(start.month()), start.day());
    assert!((born.year(), u8::from(born.month()), born.day()) <= of_age);
    assert!(p.contract_end > p.contract_start);
    assert!(p.departure_date.is_some() || !p.status.implies_departure());
    match p.return_date {
        Some((date, kind)) => {
            assert!(date > p.departure_date.unwrap_or(p.contract_start));
            assert_eq!(
                kind == ReturnDateKind::Actual,
                p.status == PlacementStatus::Returned
            );
        }
        None => assert_ne!(p.status, PlacementStatus::Returned),
    }
    // Lists: bounded, each entry valid, no duplicates; chapters sorted.
    assert_eq!(p.certificates.len(), message.certificates.len());
    assert!(p.certificates.len() <= 20);
    p.certificates.iter().for_each(check_certificate);
    let languages: Vec<&str> = p.languages.iter().map(|l| l.code()).collect();
    assert_eq!(languages, message.languages);
    assert!(languages.len() <= 20);
    assert!(
        languages
            .iter()
            .enumerate()
            .all(|(i, l)| !languages[..i].contains(l))
    );
    let chapters = &p.business_interest.hs_chapters;
    assert!(chapters.len() <= 20);
    assert!(chapters.windows(2).all(|pair| pair[0] < pair[1]));
    for chapter in chapters {
        let number: u8 = chapter.parse().expect("a chapter is a number");
        assert!(chapter.len() == 2 && (1..=97).contains(&number) && number != 77);
    }
    // The placement agency goes with the scheme.
    match (p.scheme, &p.p3mi_id) {
        (PlacementScheme::P2p, None) => panic!("P2P without p3mi_id"),
        (PlacementScheme::G2g | PlacementScheme::Mandiri, Some(_)) => panic!("p3mi_id"),
        (_, Some(id)) => assert!(is_text(id, 1, 64)),
        (_, None) => {}
    }
    if let Some(sector) = &p.sector {
        assert!(
            sector.kbli_code.len() == 5 && sector.kbli_code.bytes().all(|b| b.is_ascii_digit())
        );
        assert!(matches!(sector.kbli_version, 2020 | 2025));
    }
    if let Some(contact) = &p.contact {
        check_contact(contact);
    }
    // Consent: never for audit; given at a time, in a way, and not in the future.
    let consent = &p.consent;
    assert!(!consent.purposes.contains(&Purpose::Audit));
    if !consent.purposes.is_empty() {
        assert!(consent.granted_at.is_some() && consent.method.is_some());
    }
    let latest = now + Duration::minutes(5);
    assert!(consent.granted_at.is_none_or(|granted| granted <= latest));
    if let Some(withdrawn) = consent.withdrawn_at {
        assert!(
            consent
                .granted_at
                .is_some_and(|granted| granted <= withdrawn)
        );
        assert!(withdrawn <= latest);
    }
    if let Some(updated_at) = p.updated_at {
        assert!((1..=9999).contains(&updated_at.year()));
    }
}

/// A certificate: its scheme code, name, LSP, KKNI level and dates.
fn check_certificate(c: &Certificate) {
    assert!((1..=64).contains(&c.scheme_code.len()));
    assert!(
        c.scheme_code
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || "./-_".contains(ch))
    );
    assert!(is_text(&c.scheme_name, 0, 200) && is_text(&c.lsp_id, 0, 64));
    assert!(c.kkni_level.is_none_or(|level| (1..=9).contains(&level)));
    assert!(c.expires_on.is_none_or(|expiry| expiry > c.issued_on));
}

/// A phone in E.164 form, an e-mail address of at most 254 characters.
fn check_contact(contact: &Contact) {
    assert!(contact.phone.is_some() || contact.email.is_some());
    if let Some(phone) = &contact.phone {
        let digits = phone.strip_prefix('+').expect("+").as_bytes();
        assert!((7..=15).contains(&digits.len()) && digits[0] != b'0');
        assert!(digits.iter().all(u8::is_ascii_digit));
    }
    if let Some(email) = &contact.email {
        assert!(email.len() <= 254 && email.contains('@'));
    }
}

/// Text of `min` to `max` characters, without control characters, not blank if required.
fn is_text(text: &str, min: usize, max: usize) -> bool {
    let length = text.chars().count();
    (min..=max).contains(&length)
        && !text.chars().any(char::is_control)
        && (min == 0 || !text.trim().is_empty())
}

/// The kinds of position the exchange hands out: page tokens of listings (`after`), of market
/// reports (`before`), and watch cursors (`change`).
const KINDS: &[&str] = &["after", "change", "before"];

/// Page tokens and watch cursors: the text is parsed as a token of each kind; an accepted one
/// is a position the store can hold, and the exchange's token for it parses back to it; a
/// refusal is INVALID_ARGUMENT naming the field. A token the exchange makes for the number in
/// the first eight bytes parses back to it (or is refused beyond the store's range), as that
/// kind only.
pub fn page_token(data: &[u8]) {
    let mut first = [0u8; 8];
    let taken = data.len().min(8);
    first[..taken].copy_from_slice(&data[..taken]);
    let number = u64::from_le_bytes(first);
    for kind in KINDS {
        let made = fuzzing::make_page_token(kind, number);
        for other in KINDS {
            let parsed = fuzzing::page_token("resume_cursor", other, &made)
                .ok()
                .flatten();
            let expected = (other == kind && i64::try_from(number).is_ok()).then_some(number);
            assert_eq!(parsed, expected, "{kind} token of {number} read as {other}");
        }
    }
    let Some(text) = super::text(data) else {
        return;
    };
    for kind in KINDS {
        match fuzzing::page_token("page_token", kind, text) {
            Ok(None) => assert!(text.is_empty()),
            Ok(Some(position)) => {
                assert!(
                    i64::try_from(position).is_ok(),
                    "{position} is beyond the store"
                );
                let again = fuzzing::make_page_token(kind, position);
                let reread = fuzzing::page_token("page_token", kind, &again);
                assert_eq!(reread.ok(), Some(Some(position)));
            }
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::InvalidArgument);
                assert!(status.message().starts_with("page_token: "), "{status:?}");
            }
        }
    }
}

/// Where the config file is said to lie: relative paths resolve under it.
const CONFIG_DIR: &str = "/etc/jembatan";

/// The config file (TOML, without environment overrides): no panic; an accepted config has
/// its paths resolved, serialises, and reads again as the same config.
pub fn config(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    let base = Path::new(CONFIG_DIR);
    let config = match Config::parse(text, std::iter::empty(), base) {
        Ok(config) => config,
        Err(reason) => {
            assert!(!reason.is_empty());
            return;
        }
    };
    let _ = config.limits.validate();
    let _ = config.audit_origin();
    let tls = &config.tls;
    for path in [&tls.cert, &tls.key, &tls.client_ca, &config.policy.dir]
        .into_iter()
        .chain(&tls.crls)
        .chain([&config.audit.key, &config.placements.key])
    {
        assert!(path.is_absolute(), "{path:?} is not resolved");
    }
    let written = toml::to_string(&config).expect("an accepted config serialises");
    let again = Config::parse(&written, std::iter::empty(), base)
        .unwrap_or_else(|e| panic!("{written}\nreads no more: {e}"));
    let rewritten = toml::to_string(&again).expect("serialises again");
    assert_eq!(written, rewritten, "the config changed when read again");
}
