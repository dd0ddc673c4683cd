//! The caller of a data method as its handler sees it: who (from the certificate), under which
//! decision of the policy layer, and the audit leaves of the records it shares.

use std::sync::Arc;

use jembatan_audit::leaf::{LEAF_VERSION, LeafEntry, Outcome, timestamp};
use jembatan_pki::{Principal, PrincipalKind};
use jembatan_policy::{DataClass, Engine, Query};
use jembatan_store::{Receipt, StoreError};
use tonic::{Request, Status};

use crate::policy_layer::CallContext;

/// Who calls, and what the policy layer decided of the call.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The caller's identity.
    pub(crate) principal: Principal,
    /// Purpose, basis and decision of the call.
    pub(crate) context: CallContext,
}

impl Caller {
    /// The caller of `request`, which the identity and policy layers have passed.
    pub(crate) fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        let principal = request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("connection carries no client identity"))?;
        let context = request
            .extensions()
            .get::<CallContext>()
            .cloned()
            .ok_or_else(|| {
                Status::internal("call reached its handler without a policy decision")
            })?;
        Ok(Self { principal, context })
    }

    /// The caller's agency; auditors have none.
    pub(crate) fn agency(&self) -> Option<&str> {
        match self.principal.kind() {
            PrincipalKind::Agency { agency, .. } => Some(agency),
            PrincipalKind::Auditor { .. } => None,
        }
    }

    /// Whether the policies that decided the call let the caller read `class` for its purpose.
    pub(crate) fn may_read(&self, engine: &Arc<Engine>, class: DataClass) -> Result<bool, Status> {
        let decision = engine
            .decide_with(
                &self.context.policies,
                &Query {
                    principal: self.principal.kind(),
                    action: class.action(),
                    purpose: self.context.purpose,
                    legal_basis: self.context.legal_basis,
                    time: self.context.received_at,
                },
            )
            .map_err(|error| {
                tracing::error!(%error, class = class.name(), "policy decision failed");
                Status::internal("policy decision failed; nothing was shared")
            })?;
        Ok(decision.allowed)
    }

    /// The leaf of one record shared in this call.
    pub(crate) fn leaf(
        &self,
        record_type: &str,
        record_key: &str,
        data_classes: &[DataClass],
        record_digest: String,
    ) -> LeafEntry {
        let decision = &self.context.decision;
        LeafEntry {
            v: LEAF_VERSION,
            time: timestamp(self.context.received_at),
            principal: self.principal.to_string(),
            cert_fingerprint: self.principal.cert_fingerprint.clone(),
            method: decision.action.clone(),
            purpose: self.context.purpose.code().to_owned(),
            legal_basis: self.context.legal_basis.code().to_owned(),
            case_ref: self.context.case_ref.clone().unwrap_or_default(),
            operator: self.context.operator.clone().unwrap_or_default(),
            record_type: record_type.to_owned(),
            record_key: record_key.to_owned(),
            data_classes: data_classes.iter().map(|c| c.name().to_owned()).collect(),
            record_digest,
            outcome: Outcome::Allow,
            policy_ids: decision.policy_ids.clone(),
            policy_set: decision.policy_set_hash.to_string(),
            trace_id: String::new(),
        }
    }
}

/// A receipt as the contract carries it.
pub(crate) fn receipt(receipt: &Receipt) -> jembatan_proto::v1::Receipt {
    jembatan_proto::v1::Receipt {
        leaf_index: receipt.leaf_index,
        leaf_hash: receipt.leaf_hash.to_vec(),
    }
}

/// A store failure during data work: nothing was shared or stored (the transaction rolled
/// back), and the caller may retry.
pub(crate) fn data_store_status(error: StoreError) -> Status {
    tracing::error!(%error, "data store");
    match error {
        StoreError::Corrupt(_) | StoreError::Audit(_) => Status::internal(
            "the store is inconsistent; nothing was shared; the operator has been told",
        ),
        _ => Status::unavailable(
            "the store or its audit log cannot be written; nothing was shared; try later",
        ),
    }
}

/// `n` random bytes.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], Status> {
    let mut bytes = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Status::unavailable("the system's random source failed; try later"))?;
    Ok(bytes)
}
