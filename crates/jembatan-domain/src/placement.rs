//! A migrant worker's placement record as KP2MI pushes it, and the rules that make it valid.
//!
//! The field values are parsed into their types first ([`Nik::parse`], [`Regency::parse`],
//! [`date`](crate::date), …); [`Placement::validate`] then checks lengths, sets and the
//! agreement between fields, and reports every [`Violation`] with its field path.

mod kinds;
mod parts;
mod validate;

use std::fmt;

use time::{Date, OffsetDateTime};

use crate::{Country, Language, Nik, Occupation, Regency};

pub(crate) use kinds::coded_enum;
pub use kinds::{
    ConsentMethod, Education, EmployerType, PlacementScheme, PlacementStatus, ReturnDateKind, Sex,
};
pub use parts::{BusinessInterest, Certificate, Consent, Contact, Sector};
pub use validate::{
    AGE_OF_PLACEMENT, CLOCK_SKEW, MAX_CERTIFICATES, MAX_HS_CHAPTERS, MAX_LANGUAGES,
};
pub(crate) use validate::{check_id, check_paragraphs, check_text};

/// One placement of one migrant worker, as KP2MI records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// KP2MI's placement id: 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`.
    pub placement_id: String,
    /// KP2MI's version of the record; a higher version replaces a lower one.
    pub version: u64,
    /// When KP2MI last changed the record.
    pub updated_at: Option<OffsetDateTime>,
    /// The worker's NIK; agrees with `sex` and `birth_date`.
    pub nik: Nik,
    /// The worker's full name, 1 to 200 characters without control characters.
    pub full_name: String,
    /// The worker's sex.
    pub sex: Sex,
    /// The worker's birth date: not in the future, and at least 18 years before
    /// `contract_start`.
    pub birth_date: Date,
    /// Regency or city of origin.
    pub origin_regency: Regency,
    /// Highest completed education.
    pub education: Education,
    /// The job title as written in the placement file, 1 to 200 characters.
    pub job_title: String,
    /// The occupation's KBJI 2014 / ISCO-08 unit group.
    pub occupation: Occupation,
    /// Competency certificates held, at most 20.
    pub certificates: Vec<Certificate>,
    /// Languages spoken, at most 20, without duplicates.
    pub languages: Vec<Language>,
    /// Destination country.
    pub destination_country: Country,
    /// Kind of employer.
    pub employer_type: EmployerType,
    /// The employer's business line, if known.
    pub sector: Option<Sector>,
    /// Licence number of the placement agency (P3MI), at most 64 characters: required for P2P,
    /// absent for G2G and MANDIRI.
    pub p3mi_id: Option<String>,
    /// Placement scheme.
    pub scheme: PlacementScheme,
    /// Contract start date.
    pub contract_start: Date,
    /// Contract end date, after the start.
    pub contract_end: Date,
    /// Departure date; required once the status implies the worker has departed.
    pub departure_date: Option<Date>,
    /// Current status.
    pub status: PlacementStatus,
    /// Return date and whether it is expected or actual; after the departure (or, without one,
    /// the contract start). An actual return date goes with status RETURNED, and only with it.
    pub return_date: Option<(Date, ReturnDateKind)>,
    /// Interest in export business after return.
    pub business_interest: BusinessInterest,
    /// Contact details, if given.
    pub contact: Option<Contact>,
    /// The worker's consent to sharing with Kemendag.
    pub consent: Consent,
}

/// One problem with one field of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Violation {
    /// Path of the field relative to the record, e.g. `nik`, `certificates[2].issued_on`,
    /// `contact.phone`.
    pub field: String,
    /// What is wrong, in lower-case English without a trailing period; never echoes personal
    /// data (NIK, name, phone, e-mail).
    pub reason: String,
}

impl Violation {
    /// A violation of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Violation {
        Violation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same violation with its field path under `prefix`, e.g. `placements[3]` turns `nik`
    /// into `placements[3].nik`; an empty prefix changes nothing.
    pub fn under(self, prefix: &str) -> Violation {
        if prefix.is_empty() {
            return self;
        }
        Violation {
            field: format!("{prefix}.{}", self.field),
            reason: self.reason,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

#[cfg(test)]
mod tests;
