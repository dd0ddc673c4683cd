/// Errors of the domain types: a value that is not one of the known codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A code is not one of the known values of its kind.
    #[error("unknown {kind} {code:?}; expected one of {expected}")]
    UnknownCode {
        /// What kind of code, e.g. `purpose`.
        kind: &'static str,
        /// The code as given, cut to 64 characters.
        code: String,
        /// The accepted codes, comma-separated.
        expected: String,
    },
    /// A key file's text is not a valid key.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
}
