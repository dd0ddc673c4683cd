//! What is asked of the policies, and what they answer.

use std::fmt;
use std::sync::Arc;

use jembatan_domain::PrincipalKind;
use jembatan_domain::{LegalBasis, Purpose};
use time::OffsetDateTime;

/// One question: may this caller take this action, for this purpose, on this basis, now?
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Who asks, from the certificate.
    pub principal: &'a PrincipalKind,
    /// The action: a method (`WorkforceService/ListCandidates`) or a read (`read/contact`).
    pub action: &'a str,
    /// The stated purpose.
    pub purpose: Purpose,
    /// The stated lawful basis.
    pub legal_basis: LegalBasis,
    /// When the request arrived; policies see it to the second.
    pub time: OffsetDateTime,
}

/// The answer, with what an audit leaf records of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The action decided.
    pub action: String,
    /// The purpose it was decided for.
    pub purpose: Purpose,
    /// The lawful basis it was decided for.
    pub legal_basis: LegalBasis,
    /// Ids of the deciding policies: the permits that allowed, or the forbids that denied.
    /// Empty for a denial because nothing permits (deny by default).
    pub policy_ids: Vec<String>,
    /// `sha256:<hex>` of the policy set in force.
    pub policy_set_hash: Arc<str>,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "ALLOW" } else { "DENY" };
        write!(
            f,
            "{verdict} {} for purpose {} on basis {}",
            self.action, self.purpose, self.legal_basis
        )?;
        if self.policy_ids.is_empty() {
            f.write_str(" (no policy permits it: denied by default)")
        } else {
            write!(f, " by {}", self.policy_ids.join(", "))
        }
    }
}

/// A question about a service beside the contract (health, reflection), whose calls state no
/// purpose or legal basis: may this caller use it now?
#[derive(Debug, Clone, Copy)]
pub struct ServiceQuery<'a> {
    /// Who asks, from the certificate.
    pub principal: &'a PrincipalKind,
    /// The action: [`crate::HEALTH_CHECK`] or [`crate::REFLECTION_READ`].
    pub action: &'a str,
    /// When the request arrived; policies see it to the second.
    pub time: OffsetDateTime,
}

/// The answer to a [`ServiceQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDecision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The action decided.
    pub action: String,
    /// Ids of the deciding policies, as for [`Decision::policy_ids`].
    pub policy_ids: Vec<String>,
    /// `sha256:<hex>` of the policy set in force.
    pub policy_set_hash: Arc<str>,
}
