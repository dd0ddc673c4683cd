//! The small enumerations of a placement record, with their codes (the contract's enum value
//! names without the prefix, e.g. `FEMALE`, `CONTRACT_ENDED`).

/// Defines a field-less enum with its documented variants, `ALL` and `code()`.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order of the contract's enum.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The code: the contract's enum value name without its prefix.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The value of a code, if it is one.
            pub fn from_code(code: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|value| value.code() == code)
            }

            /// The value of a code, or a reason naming the known codes.
            pub fn parse(code: &str) -> Result<$name, String> {
                $name::from_code(code).ok_or_else(|| {
                    let codes: Vec<&str> = $name::ALL.iter().map(|value| value.code()).collect();
                    format!("must be one of {}", codes.join(", "))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

pub(crate) use coded_enum;

coded_enum! {
    /// A worker's sex, as the NIK encodes it.
    Sex {
        /// Female; the NIK's birth day is given plus 40.
        Female => "FEMALE",
        /// Male.
        Male => "MALE",
    }
}

coded_enum! {
    /// Highest completed education.
    Education {
        /// No formal schooling or incomplete primary school.
        None => "NONE",
        /// Primary school (SD).
        Primary => "PRIMARY",
        /// Junior secondary school (SMP).
        JuniorSecondary => "JUNIOR_SECONDARY",
        /// Senior secondary school (SMA).
        SeniorSecondary => "SENIOR_SECONDARY",
        /// Vocational secondary school (SMK).
        VocationalSecondary => "VOCATIONAL_SECONDARY",
        /// Diploma (D1 to D4).
        Diploma => "DIPLOMA",
        /// Bachelor's degree (S1).
        Bachelor => "BACHELOR",
        /// Master's or doctoral degree (S2, S3).
        Postgraduate => "POSTGRADUATE",
    }
}

coded_enum! {
    /// Kind of employer abroad.
    EmployerType {
        /// A legal entity (company, institution).
        LegalEntity => "LEGAL_ENTITY",
        /// An individual or household.
        Individual => "INDIVIDUAL",
        /// A ship owner or operator employing a seafarer.
        Seafarer => "SEAFARER",
    }
}

coded_enum! {
    /// How the worker was placed.
    PlacementScheme {
        /// Government-to-government programs (Korea EPS, Japan, Germany).
        G2g => "G2G",
        /// Private-to-private, through a licensed placement agency (P3MI).
        P2p => "P2P",
        /// A company placing its own staff (UKPS).
        Ukps => "UKPS",
        /// Independent placement (mandiri).
        Mandiri => "MANDIRI",
    }
}

coded_enum! {
    /// Where the worker stands in the placement cycle.
    PlacementStatus {
        /// Registered, not yet departed.
        Registered => "REGISTERED",
        /// Departed for the destination.
        Departed => "DEPARTED",
        /// Working abroad.
        Working => "WORKING",
        /// Contract ended, not yet returned.
        ContractEnded => "CONTRACT_ENDED",
        /// Returned to Indonesia (purna PMI).
        Returned => "RETURNED",
        /// In trouble abroad (a case handled by KP2MI).
        InTrouble => "IN_TROUBLE",
        /// Deceased.
        Deceased => "DECEASED",
    }
}

impl PlacementStatus {
    /// Whether the status implies that the worker has left Indonesia, so that the record needs
    /// a departure date.
    pub fn implies_departure(self) -> bool {
        matches!(
            self,
            PlacementStatus::Departed
                | PlacementStatus::Working
                | PlacementStatus::ContractEnded
                | PlacementStatus::Returned
                | PlacementStatus::InTrouble
        )
    }
}

coded_enum! {
    /// Whether a return date is planned or has happened.
    ReturnDateKind {
        /// The expected return date, usually the contract end.
        Expected => "EXPECTED",
        /// The actual return date.
        Actual => "ACTUAL",
    }
}

coded_enum! {
    /// How consent was collected.
    ConsentMethod {
        /// Signed paper form, scanned into SISKOP2MI.
        Written => "WRITTEN",
        /// Electronic consent in a KP2MI application.
        Electronic => "ELECTRONIC",
        /// Recorded verbal consent at a service counter.
        RecordedVerbal => "RECORDED_VERBAL",
    }
}
