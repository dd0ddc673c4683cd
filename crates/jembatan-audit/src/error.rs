/// Errors of the audit log's cryptography.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A signer or verifier key's text is not of the signed-note form.
    #[error("malformed {what} key: {reason}")]
    MalformedKey {
        /// `signer` or `verifier`.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key name is empty or holds whitespace or `+`.
    #[error("key name {0:?} must be non-empty and hold no whitespace or '+'")]
    InvalidKeyName(String),
    /// A signature line is not of the form `— <name> <base64>`.
    #[error("malformed signature line")]
    MalformedSignature,
    /// A signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The system random number generator failed.
    #[error("system random number generator failed")]
    Random,
}
