//! A call of the contract as its handler sees it: who calls (from the certificate), what it
//! stated, and the policies that decided it. Every decision after the policy layer's, and every
//! leaf of the call, goes through here: [`Caller::decide`] and [`Caller::require`] ask the
//! engine with the policy set that admitted the call and answer the one PERMISSION_DENIED;
//! [`Caller::shared`], [`Caller::aggregate`], [`Caller::audit_read`] and [`Caller::refused`]
//! make the call's leaves.

use std::sync::Arc;

use jembatan_audit::leaf::{CallFacts, LeafEntry, record_digest, timestamp};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::{Principal, PrincipalKind};
use jembatan_policy::{DataClass, Decision, Engine, Policies, Query};
use jembatan_store::WriteTicket;
use time::OffsetDateTime;
use tokio::time::Instant;
use tonic::{Request, Status};

use crate::status::refusal_name;

/// What the policy layer stated and decided of an allowed call, handed to its handler as a
/// request extension.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The caller's identity.
    pub(crate) principal: Principal,
    /// The stated purpose.
    pub(crate) purpose: Purpose,
    /// The stated lawful basis.
    pub(crate) legal_basis: LegalBasis,
    /// When the call arrived (for a long-lived call: when it was last decided).
    received_at: OffsetDateTime,
    /// The method-level decision.
    decision: Decision,
    /// The policy set that decided; later decisions of the call use the same set.
    policies: Arc<Policies>,
    engine: Arc<Engine>,
    /// The caller's case or letter number; empty when not given.
    case_ref: String,
    /// The caller's pseudonymous id of the person acting; empty when not given.
    operator: String,
    /// The call's W3C trace id, recorded in each of its leaves.
    trace_id: String,
    /// What every leaf of this call records, made once per decision.
    facts: CallFacts,
    /// When the caller stops waiting (`grpc-timeout`), if it said.
    deadline: Option<Instant>,
}

/// What a call states besides its identity, as read from its metadata.
#[derive(Debug, Clone)]
pub(crate) struct Stated {
    /// `jembatan-purpose`.
    pub(crate) purpose: Purpose,
    /// `jembatan-legal-basis`.
    pub(crate) legal_basis: LegalBasis,
    /// `jembatan-case-ref`, if given.
    pub(crate) case_ref: Option<String>,
    /// `jembatan-operator`, if given.
    pub(crate) operator: Option<String>,
    /// When the caller stops waiting, from `grpc-timeout`.
    pub(crate) deadline: Option<Instant>,
    /// The call's W3C trace id, from `traceparent` or new (see `crate::trace`).
    pub(crate) trace_id: String,
}

impl Caller {
    /// Decides `action` for `principal` as `stated` with `policies` (the set in force now): the
    /// caller of an allowed call, or the leaf and the one PERMISSION_DENIED of a denied one.
    pub(crate) fn admit(
        engine: &Arc<Engine>,
        policies: &Arc<Policies>,
        principal: Principal,
        stated: Stated,
        action: &str,
    ) -> Result<Result<Self, (LeafEntry, Status)>, Status> {
        let policies = Arc::clone(policies);
        let received_at = OffsetDateTime::now_utc();
        let query = Query {
            principal: principal.kind(),
            action,
            purpose: stated.purpose,
            legal_basis: stated.legal_basis,
            time: received_at,
        };
        let decision = decided(engine.decide_with(&policies, &query), action)?;
        let case_ref = stated.case_ref.unwrap_or_default();
        let operator = stated.operator.unwrap_or_default();
        let facts = facts(
            &principal,
            &(stated.purpose, stated.legal_basis),
            (&case_ref, &operator, &stated.trace_id),
            received_at,
            &decision,
        );
        let caller = Self {
            principal,
            purpose: stated.purpose,
            legal_basis: stated.legal_basis,
            received_at,
            decision,
            policies,
            engine: Arc::clone(engine),
            case_ref,
            operator,
            trace_id: stated.trace_id,
            facts,
            deadline: stated.deadline,
        };
        if caller.decision.allowed {
            return Ok(Ok(caller));
        }
        tracing::info!(
            principal = %caller.principal,
            action,
            purpose = %caller.purpose,
            legal_basis = %caller.legal_basis,
            policies = ?caller.decision.policy_ids,
            policy_set = %caller.decision.policy_set_hash,
            "call denied by policy"
        );
        let status = caller.refusal(&format!("call {action}"));
        let leaf = caller.refused(refusal_name(status.code()).unwrap_or("permission_denied"));
        Ok(Err((leaf, status)))
    }

    /// The caller of `request`, which the identity and policy layers have passed.
    pub(crate) fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::internal("call reached its handler without a policy decision"))
    }

    /// The ticket of a write of about `records` records for this call: writes queue in turn
    /// per principal and method (so that KP2MI's bulk load holds up neither Kemendag nor
    /// KP2MI's own erasures), and give up at the caller's deadline.
    pub(crate) fn ticket(&self, records: usize) -> WriteTicket {
        WriteTicket::new(format!("{} {}", self.principal, self.decision.action))
            .until(self.deadline)
            .records(records)
    }

    /// The caller's agency; auditors have none.
    pub(crate) fn agency(&self) -> Option<&str> {
        match self.principal.kind() {
            PrincipalKind::Agency { agency, .. } => Some(agency),
            PrincipalKind::Auditor { .. } => None,
        }
    }

    /// Whether the policies that admitted the call let the caller read `class` for its
    /// purpose.
    pub(crate) fn may_read(&self, class: DataClass) -> Result<bool, Status> {
        Ok(self.decide(class.action())?.allowed)
    }

    /// Nothing, if the caller may read `class` for its purpose; else the one PERMISSION_DENIED.
    pub(crate) fn require(&self, class: DataClass) -> Result<(), Status> {
        if self.may_read(class)? {
            Ok(())
        } else {
            Err(self.refusal(&format!("read {}", class.name())))
        }
    }

    /// Decides `action` for this caller with the policy set that admitted the call.
    fn decide(&self, action: &str) -> Result<Decision, Status> {
        let query = Query {
            principal: self.principal.kind(),
            action,
            purpose: self.purpose,
            legal_basis: self.legal_basis,
            time: self.received_at,
        };
        decided(self.engine.decide_with(&self.policies, &query), action)
    }

    /// Decides a long-lived call again with the policies in force now, and dates its next
    /// leaves now: a stream stops when its caller loses the right to it.
    pub(crate) fn redecide(&mut self) -> Result<(), Status> {
        self.received_at = OffsetDateTime::now_utc();
        self.policies = self.engine.current();
        let action = self.decision.action.clone();
        let decision = self.decide(&action)?;
        let allowed = decision.allowed;
        // The call's facts follow the decision either way: a refusal's leaf cites the denial.
        self.facts = facts(
            &self.principal,
            &(self.purpose, self.legal_basis),
            (&self.case_ref, &self.operator, &self.trace_id),
            self.received_at,
            &decision,
        );
        self.decision = decision;
        if allowed {
            Ok(())
        } else {
            Err(self.refusal(&format!("call {action}")))
        }
    }

    /// The one PERMISSION_DENIED: `<caller> may not <what> for purpose P with legal basis B`.
    fn refusal(&self, what: &str) -> Status {
        Status::permission_denied(format!(
            "{} may not {what} for purpose {} with legal basis {}",
            caller_name(self.principal.kind()),
            self.purpose,
            self.legal_basis
        ))
    }

    /// The leaf of one record shared in this call.
    pub(crate) fn shared(
        &self,
        record_type: &str,
        record_key: &str,
        classes: &[DataClass],
        record_digest: String,
    ) -> LeafEntry {
        self.facts.record_shared(
            record_type,
            record_key,
            classes.iter().map(|class| class.name()),
            record_digest,
        )
    }

    /// The leaf of this call refused with `status`, a gRPC code as
    /// [`crate::status::refusal_name`] names it.
    pub(crate) fn refused(&self, status: &str) -> LeafEntry {
        self.facts.refused(status)
    }

    /// The leaf of an answer from the audit log (entries, a checkpoint, a proof, a cosignature
    /// taken): `record_type` says which, `record_key` which entry or size, and `answer` is the
    /// answer as encoded for the caller, digested without salt like an aggregate's.
    pub(crate) fn audit_read(
        &self,
        record_type: &str,
        record_key: &str,
        answer: &[u8],
    ) -> LeafEntry {
        self.facts.record_shared(
            record_type,
            record_key,
            [DataClass::AuditMetadata.name()],
            record_digest(&[], answer),
        )
    }

    /// The leaf of an aggregate answer, `answer` as encoded for the caller.
    pub(crate) fn aggregate(&self, answer: &[u8]) -> LeafEntry {
        self.aggregate_of(DataClass::Aggregate, answer)
    }

    /// The leaf of an aggregate answer of `class` (counts of outcomes, of reports), `answer` as
    /// encoded for the caller.
    pub(crate) fn aggregate_of(&self, class: DataClass, answer: &[u8]) -> LeafEntry {
        self.facts.aggregate_answered(class.name(), answer)
    }
}

/// What every leaf of a call records: who, when, what it stated, and the decision.
fn facts(
    principal: &Principal,
    (purpose, legal_basis): &(Purpose, LegalBasis),
    (case_ref, operator, trace_id): (&str, &str, &str),
    at: OffsetDateTime,
    decision: &Decision,
) -> CallFacts {
    CallFacts::new(
        timestamp(at),
        principal.to_string(),
        principal.cert_fingerprint.clone(),
        decision.action.clone(),
    )
    .stated(purpose.code(), legal_basis.code(), case_ref, operator)
    .traced(trace_id)
    .decided(
        decision.policy_ids.clone(),
        decision.policy_set_hash.to_string(),
    )
}

/// A decision, or INTERNAL if the engine failed (logged, with what was asked).
fn decided(
    decision: Result<Decision, jembatan_policy::PolicyError>,
    action: &str,
) -> Result<Decision, Status> {
    decision.map_err(|error| {
        tracing::error!(action, %error, "policy decision failed");
        Status::internal(format!(
            "policy decision for {action} failed; nothing was shared"
        ))
    })
}

/// `kemendag/export-portal` or `auditor/inspectorate`: who was refused, without the trust domain.
fn caller_name(kind: &PrincipalKind) -> String {
    match kind {
        PrincipalKind::Agency { agency, system } => format!("{agency}/{system}"),
        PrincipalKind::Auditor { office } => format!("auditor/{office}"),
    }
}
