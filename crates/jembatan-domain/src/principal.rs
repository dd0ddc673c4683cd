//! The kinds of caller the exchange knows, independent of how they are authenticated.

/// What kind of caller a principal is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A system of an agency, e.g. `kp2mi` / `siskop2mi`.
    Agency {
        /// The agency, e.g. `kemendag`.
        agency: String,
        /// The agency's system, e.g. `export-portal`.
        system: String,
    },
    /// An auditor's office, e.g. `inspectorate`.
    Auditor {
        /// The office.
        office: String,
    },
}
