//! The contract's enums as the domain's: `None` for the unspecified value (0).

use jembatan_domain::{
    ConsentMethod, Education, EmployerType, PlacementScheme, PlacementStatus, Purpose, Sex,
};
use jembatan_proto::v1;

/// The domain's sex; `None` for unspecified.
pub(super) fn sex(value: v1::Sex) -> Option<Sex> {
    match value {
        v1::Sex::Unspecified => None,
        v1::Sex::Female => Some(Sex::Female),
        v1::Sex::Male => Some(Sex::Male),
    }
}

/// The domain's education; `None` for unspecified.
pub(super) fn education(value: v1::Education) -> Option<Education> {
    match value {
        v1::Education::Unspecified => None,
        v1::Education::None => Some(Education::None),
        v1::Education::Primary => Some(Education::Primary),
        v1::Education::JuniorSecondary => Some(Education::JuniorSecondary),
        v1::Education::SeniorSecondary => Some(Education::SeniorSecondary),
        v1::Education::VocationalSecondary => Some(Education::VocationalSecondary),
        v1::Education::Diploma => Some(Education::Diploma),
        v1::Education::Bachelor => Some(Education::Bachelor),
        v1::Education::Postgraduate => Some(Education::Postgraduate),
    }
}

/// The domain's employer type; `None` for unspecified.
pub(super) fn employer_type(value: v1::EmployerType) -> Option<EmployerType> {
    match value {
        v1::EmployerType::Unspecified => None,
        v1::EmployerType::LegalEntity => Some(EmployerType::LegalEntity),
        v1::EmployerType::Individual => Some(EmployerType::Individual),
        v1::EmployerType::Seafarer => Some(EmployerType::Seafarer),
    }
}

/// The domain's placement scheme; `None` for unspecified.
pub(super) fn scheme(value: v1::PlacementScheme) -> Option<PlacementScheme> {
    match value {
        v1::PlacementScheme::Unspecified => None,
        v1::PlacementScheme::G2g => Some(PlacementScheme::G2g),
        v1::PlacementScheme::P2p => Some(PlacementScheme::P2p),
        v1::PlacementScheme::Ukps => Some(PlacementScheme::Ukps),
        v1::PlacementScheme::Mandiri => Some(PlacementScheme::Mandiri),
    }
}

/// The domain's placement status; `None` for unspecified.
pub(super) fn status(value: v1::PlacementStatus) -> Option<PlacementStatus> {
    match value {
        v1::PlacementStatus::Unspecified => None,
        v1::PlacementStatus::Registered => Some(PlacementStatus::Registered),
        v1::PlacementStatus::Departed => Some(PlacementStatus::Departed),
        v1::PlacementStatus::Working => Some(PlacementStatus::Working),
        v1::PlacementStatus::ContractEnded => Some(PlacementStatus::ContractEnded),
        v1::PlacementStatus::Returned => Some(PlacementStatus::Returned),
        v1::PlacementStatus::InTrouble => Some(PlacementStatus::InTrouble),
        v1::PlacementStatus::Deceased => Some(PlacementStatus::Deceased),
    }
}

/// The domain's consent method; `None` for unspecified (required only with purposes).
pub(super) fn consent_method(value: v1::ConsentMethod) -> Option<ConsentMethod> {
    match value {
        v1::ConsentMethod::Unspecified => None,
        v1::ConsentMethod::Written => Some(ConsentMethod::Written),
        v1::ConsentMethod::Electronic => Some(ConsentMethod::Electronic),
        v1::ConsentMethod::RecordedVerbal => Some(ConsentMethod::RecordedVerbal),
    }
}

/// The domain's purpose; `None` for unspecified.
pub(super) fn purpose(value: v1::Purpose) -> Option<Purpose> {
    match value {
        v1::Purpose::Unspecified => None,
        v1::Purpose::CapacityBuilding => Some(Purpose::CapacityBuilding),
        v1::Purpose::MarketIntelligence => Some(Purpose::MarketIntelligence),
        v1::Purpose::ExportPromotion => Some(Purpose::ExportPromotion),
        v1::Purpose::MarketAccess => Some(Purpose::MarketAccess),
        v1::Purpose::BusinessMatching => Some(Purpose::BusinessMatching),
        v1::Purpose::ProgramMonitoring => Some(Purpose::ProgramMonitoring),
        v1::Purpose::Statistics => Some(Purpose::Statistics),
        v1::Purpose::Audit => Some(Purpose::Audit),
    }
}
