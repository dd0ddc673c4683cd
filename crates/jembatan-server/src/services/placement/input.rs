//! The conversion of a pushed `jembatan.v1.Placement` into a validated domain
//! [`Placement`](jembatan_domain::Placement), reporting every violation with its field path.
//!
//! Each field is parsed on its own first (codes, dates, timestamps, enum numbers), and then the
//! record's rules run ([`Placement::validate`](jembatan_domain::Placement::validate)). A field
//! that fails to parse is given a stand-in so that the rules of the other fields still run; a rule
//! that reads a field that failed is not reported, since it would judge the stand-in.

use std::collections::BTreeSet;

mod enums;

use jembatan_domain::{
    BusinessInterest, Certificate, Consent, Contact, Country, Education, EmployerType, Language,
    Nik, Occupation, Placement, PlacementScheme, PlacementStatus, Regency, ReturnDateKind, Sector,
    Sex, Violation,
};
use jembatan_proto::v1;
use time::OffsetDateTime;

use enums::{consent_method, education, employer_type, purpose, scheme, sex, status};

/// The validated record, or every violation with its field path prefixed by `prefix` (e.g.
/// "placements[3]" → "placements[3].nik").
pub(crate) fn placement_from_proto(
    p: &v1::Placement,
    prefix: &str,
    now: OffsetDateTime,
) -> Result<Placement, Vec<v1::FieldViolation>> {
    let mut parse = Parse::default();
    let record = parse.placement(p);
    let mut violations = parse.failed.clone();
    if let Some(Err(rules)) = record.as_ref().map(|record| record.validate(now)) {
        violations.extend(rules.into_iter().filter(|v| !parse.judges_stand_in(v)));
    }
    match record {
        Some(record) if violations.is_empty() => Ok(record),
        _ => Err(violations
            .into_iter()
            .map(|v| {
                let v = v.under(prefix);
                v1::FieldViolation {
                    field: v.field,
                    description: v.reason,
                }
            })
            .collect()),
    }
}

/// The violations found while parsing the fields of one record.
#[derive(Default)]
struct Parse {
    /// Every field that failed to parse, with why.
    failed: Vec<Violation>,
}

impl Parse {
    /// Records that `field` failed for `reason`.
    fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.failed.push(Violation::new(field, reason));
    }

    /// The parsed value, or `None` with the failure recorded on `field`.
    fn ok<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|reason| self.fail(field, reason)).ok()
    }

    /// Parses every field, then puts the record together, with stand-ins for the fields that
    /// failed; `None` only if a stand-in cannot be made.
    fn placement(&mut self, p: &v1::Placement) -> Option<Placement> {
        let updated_at = self.timestamp("updated_at", p.updated_at.as_ref());
        let nik = self.ok("nik", Nik::parse(&p.nik));
        let sex = self.enumeration("sex", p.sex, sex);
        let birth_date = self.date("birth_date", p.birth_date.as_ref(), true);
        let origin_regency = self.ok(
            "origin_regency_code",
            Regency::parse(&p.origin_regency_code),
        );
        let education = self.enumeration("education", p.education, education);
        let occupation = self.ok("occupation_code", Occupation::parse(&p.occupation_code));
        let certificates = self.certificates(&p.certificates);
        let languages = self.languages(&p.languages);
        let destination_country = self.ok(
            "destination_country",
            Country::parse(&p.destination_country),
        );
        let employer_type = self.enumeration("employer_type", p.employer_type, employer_type);
        let scheme = self.enumeration("placement_scheme", p.placement_scheme, scheme);
        let contract_start = self.date("contract_start", p.contract_start.as_ref(), true);
        let contract_end = self.date("contract_end", p.contract_end.as_ref(), true);
        let departure_date = self.date("departure_date", p.departure_date.as_ref(), false);
        let status = self.enumeration("status", p.status, status);
        let return_date = self.return_date(p);
        let business_interest = self.business_interest(p.business_interest.as_ref());
        let consent = self.consent(p.consent.as_ref());
        Some(Placement {
            placement_id: p.placement_id.clone(),
            version: p.version,
            updated_at: updated_at.flatten(),
            nik: nik.or_else(|| Nik::parse("1101010101000001").ok())?,
            full_name: p.full_name.clone(),
            sex: sex.unwrap_or(Sex::Female),
            birth_date: birth_date.flatten().unwrap_or(time::Date::MIN),
            origin_regency: origin_regency.or_else(|| Regency::all().next())?,
            education: education.unwrap_or(Education::None),
            job_title: p.job_title.clone(),
            occupation: occupation.or_else(|| Occupation::all().next())?,
            certificates,
            languages,
            destination_country: destination_country.or_else(|| Country::all().next())?,
            employer_type: employer_type.unwrap_or(EmployerType::Individual),
            sector: sector(p.sector.as_ref()),
            p3mi_id: non_empty(&p.p3mi_id),
            scheme: scheme.unwrap_or(PlacementScheme::Ukps),
            contract_start: contract_start.flatten().unwrap_or(time::Date::MIN),
            contract_end: contract_end.flatten().unwrap_or(time::Date::MAX),
            departure_date: departure_date.flatten(),
            status: status.unwrap_or(PlacementStatus::Registered),
            return_date,
            business_interest,
            contact: contact(p.contact.as_ref()),
            consent,
        })
    }

    /// Whether a rule's violation reads a field that failed to parse, and so judged its
    /// stand-in rather than what was sent.
    fn judges_stand_in(&self, rule: &Violation) -> bool {
        let field = rule.field.as_str();
        let certificate_issue;
        let inputs: &[&str] = match field {
            "nik" => &["nik", "sex", "birth_date"],
            "birth_date" => &["birth_date", "contract_start"],
            "contract_end" => &["contract_start", "contract_end"],
            "departure_date" => &["departure_date", "status"],
            "return_date" | "return_date_kind" => &[
                "return_date",
                "return_date_kind",
                "departure_date",
                "contract_start",
                "status",
            ],
            "p3mi_id" => &["p3mi_id", "placement_scheme"],
            _ if field.starts_with("consent.") => &["consent"],
            _ => match field.strip_suffix(".expires_on") {
                Some(certificate) => {
                    certificate_issue = format!("{certificate}.issued_on");
                    &[field, certificate_issue.as_str()]
                }
                None => &[field],
            },
        };
        self.failed
            .iter()
            .any(|failed| inputs.iter().any(|input| is_within(&failed.field, input)))
    }

    /// A date message: required ones must be present; `Some(None)` is a valid absence.
    fn date(
        &mut self,
        field: &str,
        date: Option<&v1::Date>,
        required: bool,
    ) -> Option<Option<time::Date>> {
        match date {
            Some(d) => self
                .ok(field, jembatan_domain::date(d.year, d.month, d.day))
                .map(Some),
            None if required => {
                self.fail(field, "is required");
                None
            }
            None => Some(None),
        }
    }

    /// A timestamp message, if present: `Some(None)` is a valid absence.
    fn timestamp(
        &mut self,
        field: &str,
        timestamp: Option<&prost_types::Timestamp>,
    ) -> Option<Option<OffsetDateTime>> {
        let Some(timestamp) = timestamp else {
            return Some(None);
        };
        match jembatan_proto::convert::timestamp::from_proto(timestamp) {
            Ok(time) => Some(Some(time)),
            Err(_) => {
                self.fail(field, "must be a timestamp from year 1 to 9999");
                None
            }
        }
    }

    /// A required enum value: neither unspecified (0) nor a number the contract does not know.
    fn enumeration<P, D>(&mut self, field: &str, value: i32, map: fn(P) -> Option<D>) -> Option<D>
    where
        P: TryFrom<i32>,
    {
        match P::try_from(value).ok() {
            Some(known) => {
                let mapped = map(known);
                if mapped.is_none() {
                    self.fail(field, "is required");
                }
                mapped
            }
            None => {
                self.fail(field, "is not a known value");
                None
            }
        }
    }

    /// The certificates, each kept in its place; a missing issue date is a failure of its own.
    fn certificates(&mut self, certificates: &[v1::CompetencyCertificate]) -> Vec<Certificate> {
        certificates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let issued_on = self.date(
                    &format!("certificates[{i}].issued_on"),
                    c.issued_on.as_ref(),
                    true,
                );
                let expires_on = self.date(
                    &format!("certificates[{i}].expires_on"),
                    c.expires_on.as_ref(),
                    false,
                );
                Certificate {
                    scheme_code: c.scheme_code.clone(),
                    scheme_name: c.scheme_name.clone(),
                    kkni_level: (c.kkni_level != 0)
                        .then(|| u8::try_from(c.kkni_level).unwrap_or(u8::MAX)),
                    lsp_id: c.lsp_id.clone(),
                    issued_on: issued_on.flatten().unwrap_or(time::Date::MIN),
                    expires_on: expires_on.flatten(),
                }
            })
            .collect()
    }

    /// The languages that parse, each once; the others are failures at their index.
    fn languages(&mut self, languages: &[String]) -> Vec<Language> {
        let mut parsed: Vec<Language> = Vec::new();
        for (i, code) in languages.iter().enumerate() {
            let field = format!("languages[{i}]");
            if let Some(language) = self.ok(&field, Language::parse(code)) {
                if parsed.contains(&language) {
                    self.fail(field, "is a duplicate");
                } else {
                    parsed.push(language);
                }
            }
        }
        parsed
    }

    /// The return date and its kind, which go together.
    fn return_date(&mut self, p: &v1::Placement) -> Option<(time::Date, ReturnDateKind)> {
        let date = self.date("return_date", p.return_date.as_ref(), false);
        let kind = match v1::ReturnDateKind::try_from(p.return_date_kind) {
            Ok(v1::ReturnDateKind::Unspecified) => None,
            Ok(v1::ReturnDateKind::Expected) => Some(ReturnDateKind::Expected),
            Ok(v1::ReturnDateKind::Actual) => Some(ReturnDateKind::Actual),
            Err(_) => {
                self.fail("return_date_kind", "is not a known value");
                return None;
            }
        };
        match (date?, kind) {
            (Some(date), Some(kind)) => Some((date, kind)),
            (Some(_), None) => {
                self.fail("return_date_kind", "is required when return_date is set");
                None
            }
            (None, Some(_)) => {
                self.fail(
                    "return_date_kind",
                    "must be unspecified without return_date",
                );
                None
            }
            (None, None) => None,
        }
    }

    /// The HS chapters that are valid, each once, in order; the others are failures at their
    /// index.
    fn business_interest(&mut self, interest: Option<&v1::BusinessInterest>) -> BusinessInterest {
        let Some(interest) = interest else {
            return BusinessInterest::default();
        };
        let mut chapters: Vec<String> = Vec::new();
        for (i, chapter) in interest.hs_chapters.iter().enumerate() {
            let field = format!("business_interest.hs_chapters[{i}]");
            if let Some(()) = self.ok(&field, BusinessInterest::check_chapter(chapter)) {
                if chapters.contains(chapter) {
                    self.fail(field, "is a duplicate");
                } else {
                    chapters.push(chapter.clone());
                }
            }
        }
        chapters.sort();
        BusinessInterest {
            wants_to_export: interest.wants_to_export,
            hs_chapters: chapters,
        }
    }

    /// The consent: its purposes each once and known, its method and its timestamps.
    fn consent(&mut self, consent: Option<&v1::Consent>) -> Consent {
        let Some(consent) = consent else {
            return Consent::default();
        };
        let mut purposes = BTreeSet::new();
        for (i, value) in consent.purposes.iter().enumerate() {
            let field = format!("consent.purposes[{i}]");
            if let Some(purpose) = self.enumeration(&field, *value, purpose)
                && !purposes.insert(purpose)
            {
                self.fail(field, "is a duplicate");
            }
        }
        let method = match v1::ConsentMethod::try_from(consent.method) {
            Ok(known) => consent_method(known),
            Err(_) => {
                self.fail("consent.method", "is not a known value");
                None
            }
        };
        Consent {
            purposes,
            granted_at: self
                .timestamp("consent.granted_at", consent.granted_at.as_ref())
                .flatten(),
            method,
            withdrawn_at: self
                .timestamp("consent.withdrawn_at", consent.withdrawn_at.as_ref())
                .flatten(),
        }
    }
}

/// Whether the field path `path` is `field` or lies inside it (`consent.method` inside
/// `consent`, `languages[2]` inside `languages`), but not merely sharing a prefix
/// (`return_date_kind` is not inside `return_date`).
fn is_within(path: &str, field: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// Empty text is absent.
fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// The sector, if one is given; an empty message counts as none.
fn sector(sector: Option<&v1::Sector>) -> Option<Sector> {
    sector
        .filter(|s| !s.kbli_code.is_empty() || s.kbli_version != 0)
        .map(|s| Sector {
            kbli_code: s.kbli_code.clone(),
            kbli_version: u16::try_from(s.kbli_version).unwrap_or(u16::MAX),
        })
}

/// The contact details, if any is given.
fn contact(contact: Option<&v1::Contact>) -> Option<Contact> {
    let contact = contact?;
    let contact = Contact {
        phone: non_empty(&contact.phone),
        email: non_empty(&contact.email),
    };
    (contact != Contact::default()).then_some(contact)
}

#[cfg(test)]
mod tests;
