//! The composite parts of a placement record: certificates, sector, business interest, contact
//! and consent.

use std::collections::BTreeSet;

use time::{Date, OffsetDateTime};

use crate::placement::ConsentMethod;
use crate::{HsChapter, Purpose};

/// A competency certificate issued by an LSP (certification body) under a BNSP scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// BNSP certification scheme code, 1 to 64 characters.
    pub scheme_code: String,
    /// Name of the scheme as printed on the certificate, at most 200 characters.
    pub scheme_name: String,
    /// KKNI level, 1 to 9, if the scheme has one.
    pub kkni_level: Option<u8>,
    /// The issuing LSP's licence number, at most 64 characters.
    pub lsp_id: String,
    /// Date of issue.
    pub issued_on: Date,
    /// Date of expiry, after the date of issue, if any.
    pub expires_on: Option<Date>,
}

impl Certificate {
    /// Checks a BNSP scheme code: 1 to 64 upper-case letters, digits and `.`, `/`, `-`, `_`
    /// (the codes are matched exactly, alike on both databases).
    pub fn check_scheme_code(code: &str) -> Result<(), String> {
        let allowed = |c: char| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '.' | '/' | '-' | '_')
        };
        if code.is_empty() || code.len() > 64 || !code.chars().all(allowed) {
            return Err("must be 1 to 64 upper-case letters, digits and . / - _".to_owned());
        }
        Ok(())
    }
}

/// A business line of the employer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sector {
    /// KBLI code, 5 digits.
    pub kbli_code: String,
    /// KBLI edition: 2020 or 2025.
    pub kbli_version: u16,
}

/// The worker's interest in becoming an exporter after return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessInterest {
    /// The worker wants to start or join an export business.
    pub wants_to_export: bool,
    /// HS 2022 chapters of interest: two digits, `01` to `97` but not `77`, sorted, without
    /// duplicates, at most 20.
    pub hs_chapters: Vec<String>,
}

impl BusinessInterest {
    /// Checks one HS 2022 chapter: two digits, a chapter of the nomenclature ([`HsChapter`]),
    /// `01` to `97`, `77` being reserved.
    pub fn check_chapter(chapter: &str) -> Result<(), String> {
        HsChapter::parse(chapter)
            .map(|_| ())
            .map_err(|_| "must be an hs chapter, 01 to 97 except 77".to_owned())
    }
}

/// Contact details; personal data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// Phone number in E.164 form: `+` and 7 to 15 digits.
    pub phone: Option<String>,
    /// E-mail address, at most 254 characters.
    pub email: Option<String>,
}

/// The worker's consent to sharing their data with Kemendag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Consent {
    /// Purposes consented to; never [`Purpose::Audit`].
    pub purposes: BTreeSet<Purpose>,
    /// When consent was given; required when `purposes` is not empty.
    pub granted_at: Option<OffsetDateTime>,
    /// How consent was collected; required when `purposes` is not empty.
    pub method: Option<ConsentMethod>,
    /// When consent was withdrawn, if it was; a withdrawn consent covers no purpose.
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl Consent {
    /// Whether the consent covers `purpose`: granted for it and not withdrawn.
    pub fn covers(&self, purpose: Purpose) -> bool {
        self.withdrawn_at.is_none() && self.purposes.contains(&purpose)
    }
}
