//! Purposes of processing and lawful bases, as codes without their protobuf enum prefix
//! (`BUSINESS_MATCHING`, `CONSENT`): the form they take in the `jembatan-purpose` and
//! `jembatan-legal-basis` metadata and in the policy schema.

use std::fmt;
use std::str::FromStr;

use crate::DomainError;

/// A purpose a request states: one of the scopes of the 2025 Kemendag–KP2MI memorandum of
/// understanding, or auditing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// Training and export programs for migrant workers (MoU scope 1).
    CapacityBuilding,
    /// Migrant workers collecting market-opportunity information abroad (MoU scope 2).
    MarketIntelligence,
    /// Promotion of Indonesian products and services through migrant-worker networks (scope 3).
    ExportPromotion,
    /// Opening and using market access for skilled migrant workers (MoU scope 4).
    MarketAccess,
    /// Matching one returning worker with export businesses; needs the worker's consent.
    BusinessMatching,
    /// Monitoring and evaluation of joint programs.
    ProgramMonitoring,
    /// Aggregate statistics.
    Statistics,
    /// Inspection of the exchange and its audit log.
    Audit,
}

impl Purpose {
    /// Every purpose, in the order of the contract's enum.
    pub const ALL: [Purpose; 8] = [
        Purpose::CapacityBuilding,
        Purpose::MarketIntelligence,
        Purpose::ExportPromotion,
        Purpose::MarketAccess,
        Purpose::BusinessMatching,
        Purpose::ProgramMonitoring,
        Purpose::Statistics,
        Purpose::Audit,
    ];

    /// The code, e.g. `BUSINESS_MATCHING`.
    pub fn code(self) -> &'static str {
        match self {
            Purpose::CapacityBuilding => "CAPACITY_BUILDING",
            Purpose::MarketIntelligence => "MARKET_INTELLIGENCE",
            Purpose::ExportPromotion => "EXPORT_PROMOTION",
            Purpose::MarketAccess => "MARKET_ACCESS",
            Purpose::BusinessMatching => "BUSINESS_MATCHING",
            Purpose::ProgramMonitoring => "PROGRAM_MONITORING",
            Purpose::Statistics => "STATISTICS",
            Purpose::Audit => "AUDIT",
        }
    }

    /// Whether this is one of the MoU's scopes (every purpose but [`Purpose::Audit`]).
    pub fn is_mou_scope(self) -> bool {
        self != Purpose::Audit
    }
}

/// A lawful basis of processing under UU PDP (Law 27/2022) Article 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegalBasis {
    /// The data subject's explicit consent for the stated purpose.
    Consent,
    /// Fulfilment of a legal obligation of the controller.
    LegalObligation,
    /// A task in the public interest or in the exercise of official authority.
    PublicTask,
    /// Performance of a contract with the data subject.
    Contract,
    /// Protection of the vital interests of the data subject.
    VitalInterest,
    /// Another legitimate interest, weighed against the data subject's rights.
    LegitimateInterest,
}

impl LegalBasis {
    /// Every lawful basis, in the order of the contract's enum.
    pub const ALL: [LegalBasis; 6] = [
        LegalBasis::Consent,
        LegalBasis::LegalObligation,
        LegalBasis::PublicTask,
        LegalBasis::Contract,
        LegalBasis::VitalInterest,
        LegalBasis::LegitimateInterest,
    ];

    /// The code, e.g. `CONSENT`.
    pub fn code(self) -> &'static str {
        match self {
            LegalBasis::Consent => "CONSENT",
            LegalBasis::LegalObligation => "LEGAL_OBLIGATION",
            LegalBasis::PublicTask => "PUBLIC_TASK",
            LegalBasis::Contract => "CONTRACT",
            LegalBasis::VitalInterest => "VITAL_INTEREST",
            LegalBasis::LegitimateInterest => "LEGITIMATE_INTEREST",
        }
    }
}

/// Finds `code` among `all`, or names what was expected.
fn parse_code<T: Copy>(
    kind: &'static str,
    code: &str,
    all: &[T],
    code_of: fn(T) -> &'static str,
) -> Result<T, DomainError> {
    all.iter()
        .copied()
        .find(|value| code_of(*value) == code)
        .ok_or_else(|| DomainError::UnknownCode {
            kind,
            code: code.chars().take(64).collect(),
            expected: all
                .iter()
                .map(|value| code_of(*value))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl FromStr for Purpose {
    type Err = DomainError;

    fn from_str(code: &str) -> Result<Self, DomainError> {
        parse_code("purpose", code, &Purpose::ALL, Purpose::code)
    }
}

impl FromStr for LegalBasis {
    type Err = DomainError;

    fn from_str(code: &str) -> Result<Self, DomainError> {
        parse_code("legal basis", code, &LegalBasis::ALL, LegalBasis::code)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for LegalBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for purpose in Purpose::ALL {
            assert_eq!(purpose.code().parse::<Purpose>(), Ok(purpose));
        }
        for basis in LegalBasis::ALL {
            assert_eq!(basis.code().parse::<LegalBasis>(), Ok(basis));
        }
    }

    #[test]
    fn unknown_codes_name_what_was_expected() {
        let err = "business_matching"
            .parse::<Purpose>()
            .expect_err("codes are upper-case");
        let text = err.to_string();
        assert!(
            text.starts_with("unknown purpose \"business_matching\""),
            "{text}"
        );
        assert!(
            text.contains("BUSINESS_MATCHING, PROGRAM_MONITORING"),
            "{text}"
        );
        assert!(
            "PURPOSE_AUDIT".parse::<Purpose>().is_err(),
            "the enum prefix is not part of the code"
        );
        let long = "X".repeat(10_000);
        match long.parse::<LegalBasis>().expect_err("unknown") {
            DomainError::UnknownCode { code, .. } => {
                assert_eq!(code.len(), 64, "a hostile value is cut before it is echoed");
            }
            other => panic!("{other:?}"),
        }
    }
}
