//! The `jembatan.v1` contract: generated message types, tonic clients and servers, and the
//! encoded file descriptor set that the server's reflection service publishes.
//!
//! The contract's source of truth is `proto/jembatan/v1/`; this crate compiles it and, in
//! [`convert`], holds the one set of conversions between its values and the domain's types and
//! human text.

#![forbid(unsafe_code)]

pub mod convert;
pub mod trace_context;

/// Package `jembatan.v1`.
#[allow(missing_docs, unreachable_pub)] // generated code; the .proto files carry the docs
pub mod v1 {
    tonic::include_proto!("jembatan.v1");
}

/// Request metadata keys and response headers of the contract (documented at the top of each
/// `.proto` file).
pub mod metadata {
    /// The stated purpose, e.g. `BUSINESS_MATCHING`; required on every `jembatan.v1` method.
    pub const PURPOSE: &str = "jembatan-purpose";
    /// The stated lawful basis, e.g. `CONSENT`; required on every `jembatan.v1` method.
    pub const LEGAL_BASIS: &str = "jembatan-legal-basis";
    /// The caller's case or letter number, 1 to 64 characters (common.proto); optional.
    pub const CASE_REF: &str = "jembatan-case-ref";
    /// The caller's pseudonymous id of the person acting, 1 to 64 characters; optional.
    pub const OPERATOR: &str = "jembatan-operator";
    /// Response header on every call: `sha256:<hex>` of the policy set that decided it.
    pub const POLICY_SET: &str = "jembatan-policy-set";
    /// Response header while a newer policy folder has been refused: its `sha256:<hex>`.
    pub const POLICY_REFUSED: &str = "jembatan-policy-refused";
    /// Request header of a health check that asks for the details below (any value).
    pub const HEALTH_DETAILS: &str = "jembatan-health-details";
    /// Health detail: `ok`, or `unavailable` when the store does not answer.
    pub const HEALTH_STORE: &str = "jembatan-health-store";
    /// Health detail: leaves committed to the audit log.
    pub const HEALTH_LOG_SIZE: &str = "jembatan-health-log-size";
    /// Health detail: leaves in the latest signed checkpoint.
    pub const HEALTH_CHECKPOINT_SIZE: &str = "jembatan-health-checkpoint-size";
    /// Health detail: when the latest checkpoint was signed, RFC 3339 UTC.
    pub const HEALTH_CHECKPOINT_SIGNED_AT: &str = "jembatan-health-checkpoint-signed-at";
    /// Health detail: when the server certificate expires, RFC 3339 UTC.
    pub const HEALTH_SERVER_CERT_NOT_AFTER: &str = "jembatan-health-server-cert-not-after";
    /// Health detail: when the oldest CRL in force was issued, RFC 3339 UTC.
    pub const HEALTH_CRL_THIS_UPDATE: &str = "jembatan-health-crl-this-update";
    /// Health detail: when the first CRL in force is due anew, RFC 3339 UTC.
    pub const HEALTH_CRL_NEXT_UPDATE: &str = "jembatan-health-crl-next-update";
}

/// The encoded `FileDescriptorSet` of every file in `jembatan.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("jembatan_v1_descriptor");
