//! The rules of a valid placement record beyond the parsing of its codes: lengths, sets, date
//! order, status, scheme and consent coherence, and agreement with the NIK.

use time::{Date, Duration, OffsetDateTime};

use crate::Purpose;
use crate::placement::{
    BusinessInterest, Certificate, Consent, Contact, Placement, PlacementScheme, PlacementStatus,
    ReturnDateKind, Sector, Violation,
};

/// The minimum age of a migrant worker at the start of the contract (UU 18/2017 Article 5).
pub const AGE_OF_PLACEMENT: i32 = 18;
/// How far in the future a consent timestamp may lie, for the clocks of two agencies.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
/// The most competency certificates a record may carry.
pub const MAX_CERTIFICATES: usize = 20;
/// The most languages a record may carry.
pub const MAX_LANGUAGES: usize = 20;
/// The most HS chapters of interest a record may carry.
pub const MAX_HS_CHAPTERS: usize = 20;

/// Collects violations with their field paths.
struct Report(Vec<Violation>);

impl Report {
    /// Records a violation of `field`.
    fn add(&mut self, field: impl Into<String>, reason: &str) {
        self.0.push(Violation::new(field, reason));
    }

    /// Records the error of `check`, if any, on `field`.
    fn check(&mut self, field: impl Into<String>, check: Result<(), String>) {
        if let Err(reason) = check {
            self.0.push(Violation::new(field, reason));
        }
    }
}

impl Placement {
    /// Checks every rule of a valid record and reports every violation, each naming its field;
    /// `now` is the time against which "not in the future" is judged.
    pub fn validate(&self, now: OffsetDateTime) -> Result<(), Vec<Violation>> {
        let mut report = Report(Vec::new());
        report.check("placement_id", check_id(&self.placement_id));
        report.check("full_name", check_text(&self.full_name, 1, 200));
        report.check("job_title", check_text(&self.job_title, 1, 200));
        self.check_person(now, &mut report);
        self.check_lists(&mut report);
        if let Some(sector) = &self.sector {
            check_sector(sector, &mut report);
        }
        self.check_scheme(&mut report);
        self.check_dates_and_status(&mut report);
        check_business_interest(&self.business_interest, &mut report);
        if let Some(contact) = &self.contact {
            check_contact(contact, &mut report);
        }
        check_consent(&self.consent, now, &mut report);
        if report.0.is_empty() {
            Ok(())
        } else {
            Err(report.0)
        }
    }

    /// Birth date against now, the contract and the NIK.
    fn check_person(&self, now: OffsetDateTime, report: &mut Report) {
        if self.birth_date > now.date() {
            report.add("birth_date", "must not be in the future");
        } else if !is_of_age(self.birth_date, self.contract_start) {
            report.add(
                "birth_date",
                "the worker must be at least 18 years old at contract_start",
            );
        }
        report.check("nik", self.nik.check_against(self.sex, self.birth_date));
    }

    /// Certificates and languages.
    fn check_lists(&self, report: &mut Report) {
        if self.certificates.len() > MAX_CERTIFICATES {
            report.add("certificates", "must hold at most 20 certificates");
        }
        for (i, certificate) in self.certificates.iter().enumerate() {
            check_certificate(certificate, &format!("certificates[{i}]"), report);
        }
        if self.languages.len() > MAX_LANGUAGES {
            report.add("languages", "must hold at most 20 languages");
        }
        for (i, language) in self.languages.iter().enumerate() {
            if self.languages[..i].contains(language) {
                report.add(format!("languages[{i}]"), "is a duplicate");
            }
        }
    }

    /// The placement agency against the scheme.
    fn check_scheme(&self, report: &mut Report) {
        match (&self.p3mi_id, self.scheme) {
            (None, PlacementScheme::P2p) => report.add("p3mi_id", "is required for scheme P2P"),
            (Some(_), PlacementScheme::G2g | PlacementScheme::Mandiri) => {
                report.add("p3mi_id", "must be empty for schemes G2G and MANDIRI")
            }
            (Some(id), _) => report.check("p3mi_id", check_text(id, 1, 64)),
            (None, _) => {}
        }
    }

    /// Contract, departure and return dates against each other and the status.
    fn check_dates_and_status(&self, report: &mut Report) {
        if self.contract_end <= self.contract_start {
            report.add("contract_end", "must be after contract_start");
        }
        if self.departure_date.is_none() && self.status.implies_departure() {
            report.add("departure_date", "is required for this status");
        }
        match self.return_date {
            Some((date, kind)) => {
                match self.departure_date {
                    Some(departure) if date <= departure => {
                        report.add("return_date", "must be after departure_date");
                    }
                    None if date <= self.contract_start => {
                        report.add("return_date", "must be after contract_start");
                    }
                    _ => {}
                }
                let returned = self.status == PlacementStatus::Returned;
                match kind {
                    ReturnDateKind::Actual if !returned => report.add(
                        "return_date_kind",
                        "may be ACTUAL only with status RETURNED",
                    ),
                    ReturnDateKind::Expected if returned => {
                        report.add("return_date_kind", "must be ACTUAL with status RETURNED")
                    }
                    _ => {}
                }
            }
            None if self.status == PlacementStatus::Returned => {
                report.add("return_date", "is required with status RETURNED");
            }
            None => {}
        }
    }
}

/// Whether someone born on `birth_date` is at least 18 on `on` (someone born on 29 February
/// comes of age on 1 March in a common year).
fn is_of_age(birth_date: Date, on: Date) -> bool {
    let born = (
        birth_date.year(),
        u8::from(birth_date.month()),
        birth_date.day(),
    );
    let on = (on.year() - AGE_OF_PLACEMENT, u8::from(on.month()), on.day());
    born <= on
}

/// 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`: the ids of records and references.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 {
        return Err("must be 1 to 64 characters".to_owned());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-');
    if !id.chars().all(allowed) {
        return Err("may hold only letters, digits and . _ : / -".to_owned());
    }
    Ok(())
}

/// Free text of `min` to `max` characters without control characters; text of only
/// white space counts as empty.
pub(crate) fn check_text(text: &str, min: usize, max: usize) -> Result<(), String> {
    check_length(text, min, max)?;
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

/// Long free text of `min` to `max` characters: as [`check_text`], but line breaks and tabs
/// are allowed.
pub(crate) fn check_paragraphs(text: &str, min: usize, max: usize) -> Result<(), String> {
    check_length(text, min, max)?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(
            "must not contain control characters other than line breaks and tabs".to_owned(),
        );
    }
    Ok(())
}

/// `min` to `max` characters; text of only white space counts as empty.
fn check_length(text: &str, min: usize, max: usize) -> Result<(), String> {
    if min > 0 && text.trim().is_empty() {
        return Err("is required".to_owned());
    }
    let length = text.chars().count();
    if length < min || length > max {
        return Err(format!("must be {min} to {max} characters"));
    }
    Ok(())
}

/// One certificate, whose fields are reported under `at`.
fn check_certificate(certificate: &Certificate, at: &str, report: &mut Report) {
    report.check(
        format!("{at}.scheme_code"),
        Certificate::check_scheme_code(&certificate.scheme_code),
    );
    report.check(
        format!("{at}.scheme_name"),
        check_text(&certificate.scheme_name, 0, 200),
    );
    report.check(
        format!("{at}.lsp_id"),
        check_text(&certificate.lsp_id, 0, 64),
    );
    if certificate
        .kkni_level
        .is_some_and(|level| !(1..=9).contains(&level))
    {
        report.add(format!("{at}.kkni_level"), "must be 1 to 9");
    }
    if certificate
        .expires_on
        .is_some_and(|expiry| expiry <= certificate.issued_on)
    {
        report.add(format!("{at}.expires_on"), "must be after issued_on");
    }
}

/// KBLI code and edition.
fn check_sector(sector: &Sector, report: &mut Report) {
    let code = sector.kbli_code.as_bytes();
    if code.len() != 5 || !code.iter().all(u8::is_ascii_digit) {
        report.add("sector.kbli_code", "must be a 5-digit kbli code");
    }
    if !matches!(sector.kbli_version, 2020 | 2025) {
        report.add("sector.kbli_version", "must be 2020 or 2025");
    }
}

/// HS 2022 chapters: sorted, no duplicates, at most 20.
fn check_business_interest(interest: &BusinessInterest, report: &mut Report) {
    let chapters = &interest.hs_chapters;
    if chapters.len() > MAX_HS_CHAPTERS {
        report.add(
            "business_interest.hs_chapters",
            "must hold at most 20 chapters",
        );
    }
    for (i, chapter) in chapters.iter().enumerate() {
        let field = format!("business_interest.hs_chapters[{i}]");
        if let Err(reason) = BusinessInterest::check_chapter(chapter) {
            report.add(field, &reason);
        } else if i > 0 && chapters[i - 1] >= *chapter {
            report.add(field, "chapters must be sorted, without duplicates");
        }
    }
}

/// Phone in E.164 form and the shape of an e-mail address.
fn check_contact(contact: &Contact, report: &mut Report) {
    if let Some(phone) = &contact.phone {
        report.check("contact.phone", check_phone(phone));
    }
    if let Some(email) = &contact.email {
        report.check("contact.email", check_email(email));
    }
}

/// `+`, a country code not starting with 0, 7 to 15 digits in all.
fn check_phone(phone: &str) -> Result<(), String> {
    let digits = phone.strip_prefix('+').unwrap_or_default().as_bytes();
    let valid = (7..=15).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
        && digits[0] != b'0';
    if valid {
        Ok(())
    } else {
        Err("must be in e.164 form: + and 7 to 15 digits".to_owned())
    }
}

/// At most 254 characters, one `@`, a local part and a domain with a dot inside it.
fn check_email(email: &str) -> Result<(), String> {
    let shaped = email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if shaped {
        Ok(())
    } else {
        Err("must be an e-mail address of at most 254 characters".to_owned())
    }
}

/// Purposes, grant and withdrawal against each other and `now`.
fn check_consent(consent: &Consent, now: OffsetDateTime, report: &mut Report) {
    if consent.purposes.contains(&Purpose::Audit) {
        report.add("consent.purposes", "must not include AUDIT");
    }
    if !consent.purposes.is_empty() {
        if consent.granted_at.is_none() {
            report.add("consent.granted_at", "is required when purposes are given");
        }
        if consent.method.is_none() {
            report.add("consent.method", "is required when purposes are given");
        }
    }
    let latest = now + CLOCK_SKEW;
    if consent.granted_at.is_some_and(|granted| granted > latest) {
        report.add("consent.granted_at", "must not be in the future");
    }
    if let Some(withdrawn) = consent.withdrawn_at {
        match consent.granted_at {
            None => report.add("consent.withdrawn_at", "requires granted_at"),
            Some(granted) if withdrawn < granted => {
                report.add("consent.withdrawn_at", "must not be before granted_at");
            }
            Some(_) => {}
        }
        if withdrawn > latest {
            report.add("consent.withdrawn_at", "must not be in the future");
        }
    }
}
