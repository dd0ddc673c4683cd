//! Contract enums written as short codes: the value's name without the enum's prefix, `FEMALE`
//! for `SEX_FEMALE`, `STATISTICS` for `PURPOSE_STATISTICS`. Files, tables, request metadata and
//! audit leaves use these codes; the domain's codes (e.g. `jembatan_domain::Purpose::code`) are
//! the same strings.

use crate::v1;

/// A code that names no value of a contract enum, or names `UNSPECIFIED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} code {code:?}, expected one of {}", expected.join(", "))]
pub struct CodeError {
    /// What the enum's values are, e.g. `sex`.
    pub what: &'static str,
    /// The code given, cut to 64 characters.
    pub code: String,
    /// Every known code, in the contract's order.
    pub expected: Vec<&'static str>,
}

/// A contract enum whose values are written as their names without the enum's prefix.
///
/// Every enum of `jembatan.v1` implements it; bring the trait into scope and call e.g.
/// `v1::Purpose::parse_code("STATISTICS")` or `v1::Sex::Female.code()`.
pub trait ShortCode: Sized + Copy + 'static {
    /// The prefix of every value name, e.g. `SEX_`.
    const PREFIX: &'static str;
    /// What the values are, for errors, e.g. `sex`.
    const WHAT: &'static str;

    /// The full value name, e.g. `SEX_FEMALE`.
    fn full_name(self) -> &'static str;
    /// The value of a full name.
    fn from_full_name(name: &str) -> Option<Self>;
    /// The value of a wire number.
    fn from_number(number: i32) -> Option<Self>;
    /// The wire number.
    fn number(self) -> i32;

    /// The short code, e.g. `FEMALE`; `UNSPECIFIED` for the unspecified value.
    fn code(self) -> &'static str {
        let name = self.full_name();
        name.strip_prefix(Self::PREFIX).unwrap_or(name)
    }

    /// The value of a short code; `UNSPECIFIED` is not one. The error names the known codes.
    fn parse_code(code: &str) -> Result<Self, CodeError> {
        let value = (!code.is_empty() && code != "UNSPECIFIED")
            .then(|| Self::from_full_name(&format!("{}{code}", Self::PREFIX)))
            .flatten();
        value.ok_or_else(|| CodeError {
            what: Self::WHAT,
            code: code.chars().take(64).collect(),
            expected: Self::codes(),
        })
    }

    /// The wire number of a short code, e.g. of a domain code: `Purpose::number_of_code("AUDIT")`
    /// is 8. The error is [`parse_code`](Self::parse_code)'s.
    fn number_of_code(code: &str) -> Result<i32, CodeError> {
        Self::parse_code(code).map(Self::number)
    }

    /// Every code but `UNSPECIFIED`, in the contract's order.
    fn codes() -> Vec<&'static str> {
        (1..64)
            .filter_map(Self::from_number)
            .map(Self::code)
            .collect()
    }

    /// The code of a wire number: `None` for 0 (unspecified), the number itself for a value this
    /// program does not know (from a newer contract).
    fn code_of(number: i32) -> Option<String> {
        match Self::from_number(number) {
            _ if number == 0 => None,
            Some(value) => Some(value.code().to_owned()),
            None => Some(number.to_string()),
        }
    }
}

macro_rules! short_code {
    ($($ty:ident => $prefix:literal, $what:literal;)+) => {
        $(
            impl ShortCode for v1::$ty {
                const PREFIX: &'static str = $prefix;
                const WHAT: &'static str = $what;

                fn full_name(self) -> &'static str {
                    self.as_str_name()
                }

                fn from_full_name(name: &str) -> Option<Self> {
                    v1::$ty::from_str_name(name)
                }

                fn from_number(number: i32) -> Option<Self> {
                    v1::$ty::try_from(number).ok()
                }

                fn number(self) -> i32 {
                    i32::from(self)
                }
            }
        )+

        /// The enums implemented, as `(name, prefix)`, for the test that every enum of the
        /// contract is.
        #[cfg(test)]
        const IMPLEMENTED: &[(&str, &str)] = &[$((stringify!($ty), $prefix)),+];
    };
}

short_code! {
    Purpose => "PURPOSE_", "purpose";
    LegalBasis => "LEGAL_BASIS_", "legal basis";
    RecordOutcome => "RECORD_OUTCOME_", "record outcome";
    Decision => "DECISION_", "decision";
    Sex => "SEX_", "sex";
    Education => "EDUCATION_", "education";
    EmployerType => "EMPLOYER_TYPE_", "employer type";
    PlacementScheme => "PLACEMENT_SCHEME_", "placement scheme";
    PlacementStatus => "PLACEMENT_STATUS_", "placement status";
    ReturnDateKind => "RETURN_DATE_KIND_", "return date kind";
    ConsentMethod => "CONSENT_METHOD_", "consent method";
    GroupBy => "GROUP_BY_", "group by";
    OpportunityKind => "OPPORTUNITY_KIND_", "opportunity kind";
    ProgramKind => "PROGRAM_KIND_", "program kind";
    EnrollmentStatus => "ENROLLMENT_STATUS_", "enrollment status";
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use prost::Message;

    use super::*;

    /// Every value's code round-trips through `parse_code` and `code_of`, and its full name is
    /// the prefix and the code.
    fn round_trips<E: ShortCode + PartialEq + Debug>() -> usize {
        let mut known = 0;
        for number in 0..64 {
            let Some(value) = E::from_number(number) else {
                assert_eq!(
                    E::code_of(number),
                    (number != 0).then(|| number.to_string())
                );
                continue;
            };
            assert_eq!(value.number(), number);
            assert_eq!(value.full_name(), format!("{}{}", E::PREFIX, value.code()));
            if number == 0 {
                assert_eq!(value.code(), "UNSPECIFIED");
                assert!(E::parse_code("UNSPECIFIED").is_err());
                assert_eq!(E::code_of(0), None);
                continue;
            }
            known += 1;
            assert_eq!(E::parse_code(value.code()), Ok(value), "{}", E::WHAT);
            assert_eq!(E::number_of_code(value.code()), Ok(number));
            assert_eq!(E::code_of(number).as_deref(), Some(value.code()));
            assert!(E::parse_code(value.full_name()).is_err(), "prefixed");
        }
        assert_eq!(E::codes().len(), known, "{}", E::WHAT);
        assert!(known > 0, "{}", E::WHAT);
        known
    }

    #[test]
    fn every_enum_of_the_contract_round_trips_its_codes() {
        round_trips::<v1::Purpose>();
        round_trips::<v1::LegalBasis>();
        round_trips::<v1::RecordOutcome>();
        round_trips::<v1::Decision>();
        round_trips::<v1::Sex>();
        round_trips::<v1::Education>();
        round_trips::<v1::EmployerType>();
        round_trips::<v1::PlacementScheme>();
        round_trips::<v1::PlacementStatus>();
        round_trips::<v1::ReturnDateKind>();
        round_trips::<v1::ConsentMethod>();
        round_trips::<v1::GroupBy>();
        round_trips::<v1::OpportunityKind>();
        round_trips::<v1::ProgramKind>();
        round_trips::<v1::EnrollmentStatus>();
        assert_eq!(IMPLEMENTED.len(), 15, "a round trip above for each");
    }

    #[test]
    fn every_enum_of_the_contract_has_short_codes_with_its_prefix() {
        let set = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set");
        let mut enums = Vec::new();
        for file in set.file.iter().filter(|f| f.package() == "jembatan.v1") {
            enums.extend(file.enum_type.iter());
            let mut messages: Vec<_> = file.message_type.iter().collect();
            while let Some(message) = messages.pop() {
                enums.extend(message.enum_type.iter());
                messages.extend(message.nested_type.iter());
            }
        }
        assert_eq!(enums.len(), IMPLEMENTED.len(), "{IMPLEMENTED:?}");
        for e in enums {
            let unspecified = e.value.iter().find(|v| v.number() == 0).expect("a value 0");
            let prefix = unspecified
                .name()
                .strip_suffix("UNSPECIFIED")
                .expect("value 0 is ..._UNSPECIFIED");
            assert!(
                IMPLEMENTED.contains(&(e.name(), prefix)),
                "{} ({prefix}) has no ShortCode",
                e.name()
            );
        }
    }

    #[test]
    fn codes_parse_and_print_without_their_prefix() {
        assert_eq!(v1::Sex::parse_code("FEMALE"), Ok(v1::Sex::Female));
        assert_eq!(v1::Sex::Female.code(), "FEMALE");
        assert_eq!(
            v1::PlacementStatus::parse_code("CONTRACT_ENDED"),
            Ok(v1::PlacementStatus::ContractEnded)
        );
        assert_eq!(v1::Purpose::number_of_code("STATISTICS"), Ok(7));
        assert_eq!(v1::LegalBasis::Consent.code(), "CONSENT");
        assert_eq!(v1::Sex::code_of(0), None);
        assert_eq!(v1::Sex::code_of(2).as_deref(), Some("MALE"));
        assert_eq!(v1::Sex::code_of(9).as_deref(), Some("9"));
    }

    #[test]
    fn an_unknown_code_is_named_with_the_known_ones() {
        let error = v1::Sex::parse_code("UNSPECIFIED").expect_err("unspecified");
        assert_eq!(
            error.to_string(),
            "unknown sex code \"UNSPECIFIED\", expected one of FEMALE, MALE"
        );
        assert!(v1::Sex::parse_code("SEX_FEMALE").is_err());
        assert!(v1::Sex::parse_code("").is_err());
        let long = "X".repeat(1000);
        let error = v1::Purpose::parse_code(&long).expect_err("long");
        assert_eq!(error.code.len(), 64);
    }
}
