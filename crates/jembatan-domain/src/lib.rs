//! Validated domain types and reference codes of the exchange, free of I/O.
//!
//! - [`purpose`]: the purposes a request may state (the MoU's scopes and auditing) and the
//!   lawful bases of UU PDP Article 20, as they travel in request metadata.
//! - [`placement`]: a migrant worker's placement record and its validation rules.
//! - [`market`]: market-opportunity reports and the search for personal data in their text.
//! - [`program`]: export programs, where they run, and workers' enrolments in them.
//! - [`nik`]: the 16-digit national identity number.
//! - Reference codes, embedded in the crate: [`region`] (Kemendagri provinces, regencies and
//!   cities), [`occupation`] (KBJI 2014 / ISCO-08 unit groups), [`country`] (ISO 3166-1
//!   alpha-2), [`language`] (ISO 639-1), [`hs`] (HS 2022 chapters, headings and subheadings,
//!   and BTKI 2022 codes).
//! - [`principal`]: the kinds of caller (an agency's system, an auditor's office).
//! - [`pseudonym`]: subject keys of NIKs and pairwise pseudonyms.
//! - [`date()`]: calendar dates as the contract carries them.

#![forbid(unsafe_code)]

pub mod country;
mod date;
mod error;
pub mod hs;
pub mod language;
pub mod market;
pub mod nik;
pub mod occupation;
pub mod placement;
pub mod principal;
pub mod program;
pub mod pseudonym;
pub mod purpose;
pub mod region;

pub use country::Country;
pub use date::date;
pub use error::DomainError;
pub use hs::{HsChapter, HsCode};
pub use language::Language;
pub use market::{MarketReport, OpportunityKind};
pub use nik::Nik;
pub use occupation::Occupation;
pub use placement::{
    BusinessInterest, Certificate, Consent, ConsentMethod, Contact, Education, EmployerType,
    Placement, PlacementScheme, PlacementStatus, ReturnDateKind, Sector, Sex, Violation,
};
pub use principal::PrincipalKind;
pub use program::{Enrollment, EnrollmentStatus, ExportProgram, ProgramArea, ProgramKind};
pub use purpose::{LegalBasis, Purpose};
pub use region::Regency;
