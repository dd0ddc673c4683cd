//! The policies in force and the decisions they make.
//!
//! An [`Engine`] holds one validated [`Policies`] at a time. A reload builds and validates the
//! new set first and swaps it in only if it is valid, so a broken file never replaces a working
//! set; decisions in flight finish under the set they started with.
//!
//! A decision costs a few microseconds: the entities of each principal and the context of each
//! (purpose, basis) within one second are built once and reused, and Cedar evaluates only the
//! policies whose action scope can match (`jembatan-bench policy-decision` measures it).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
    RestrictedExpression,
};
use jembatan_domain::PrincipalKind;
use jembatan_domain::{LegalBasis, Purpose};
use time::OffsetDateTime;

use crate::schema::NAMESPACE;
use crate::{
    Decision, Policies, PolicyError, Query, SERVICE_ACTIONS, ServiceDecision, ServiceQuery,
};

/// The policy set in force; cheap to share between tasks.
#[derive(Debug)]
pub struct Engine {
    current: RwLock<Arc<Policies>>,
    refused: RwLock<Option<Arc<str>>>,
    types: EntityTypes,
    authorizer: Authorizer,
    principals: RwLock<HashMap<PrincipalKind, Arc<PrincipalEntities>>>,
    contexts: Mutex<ContextCache>,
}

/// Most principals whose entities are kept; certificates are issued by hand, so a real exchange
/// has tens. Past this, entities are built per decision.
const MAX_CACHED_PRINCIPALS: usize = 10_000;

/// A principal's entity and the entities a decision needs.
#[derive(Debug)]
struct PrincipalEntities {
    uid: EntityUid,
    entities: Entities,
}

/// Contexts of the current second, per purpose and basis.
#[derive(Debug, Default)]
struct ContextCache {
    second: i64,
    contexts: HashMap<(Purpose, LegalBasis), Context>,
}

impl Engine {
    /// An engine deciding with `policies`.
    pub fn new(policies: Policies) -> Result<Self, PolicyError> {
        Ok(Self {
            current: RwLock::new(Arc::new(policies)),
            refused: RwLock::new(None),
            types: EntityTypes::new()?,
            authorizer: Authorizer::new(),
            principals: RwLock::default(),
            contexts: Mutex::default(),
        })
    }

    /// The policies in force now.
    pub fn current(&self) -> Arc<Policies> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            // A writer cannot panic while holding the lock (it only swaps an Arc).
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts `policies` in force and returns the set they replace.
    pub fn replace(&self, policies: Policies) -> Arc<Policies> {
        *write(&self.refused) = None;
        std::mem::replace(&mut *write(&self.current), Arc::new(policies))
    }

    /// Notes that the folder with hash `hash` was refused; the set in force stays.
    pub fn record_refusal(&self, hash: &str) {
        *write(&self.refused) = Some(hash.into());
    }

    /// The hash of the last folder refused since the set in force was loaded, if any.
    pub fn refused(&self) -> Option<Arc<str>> {
        match self.refused.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Decides `query` under the policies in force.
    pub fn decide(&self, query: &Query<'_>) -> Result<Decision, PolicyError> {
        self.decide_with(&self.current(), query)
    }

    /// Decides `query` under `policies` (for example a set not yet in force, to explain it).
    pub fn decide_with(
        &self,
        policies: &Policies,
        query: &Query<'_>,
    ) -> Result<Decision, PolicyError> {
        if SERVICE_ACTIONS.contains(&query.action) {
            return Err(PolicyError::WrongQuery(
                query.action.to_owned(),
                "without a purpose: ask with decide_service",
            ));
        }
        let context = self.context(query)?;
        let (allowed, policy_ids) =
            self.authorize(policies, query.principal, query.action, context)?;
        Ok(Decision {
            allowed,
            action: query.action.to_owned(),
            purpose: query.purpose,
            legal_basis: query.legal_basis,
            policy_ids,
            policy_set_hash: Arc::clone(policies.hash()),
        })
    }

    /// Decides `query`, a health check or reflection, under the policies in force.
    pub fn decide_service(&self, query: &ServiceQuery<'_>) -> Result<ServiceDecision, PolicyError> {
        self.decide_service_with(&self.current(), query)
    }

    /// Decides `query`, a health check or reflection, under `policies`: these calls state no
    /// purpose, and their context holds the time only.
    pub fn decide_service_with(
        &self,
        policies: &Policies,
        query: &ServiceQuery<'_>,
    ) -> Result<ServiceDecision, PolicyError> {
        if !SERVICE_ACTIONS.contains(&query.action) {
            return Err(PolicyError::WrongQuery(
                query.action.to_owned(),
                "with a purpose: ask with decide",
            ));
        }
        let context = Context::from_pairs([(
            "time".to_owned(),
            RestrictedExpression::new_datetime(cedar_datetime(query.time)),
        )])
        .map_err(|e| PolicyError::Request(e.to_string()))?;
        let (allowed, policy_ids) =
            self.authorize(policies, query.principal, query.action, context)?;
        Ok(ServiceDecision {
            allowed,
            action: query.action.to_owned(),
            policy_ids,
            policy_set_hash: Arc::clone(policies.hash()),
        })
    }

    /// Whether `principal` may take `action` in `context`, and the deciding policies' ids.
    fn authorize(
        &self,
        policies: &Policies,
        principal: &PrincipalKind,
        action: &str,
        context: Context,
    ) -> Result<(bool, Vec<String>), PolicyError> {
        let (action_uid, applicable) = policies
            .actions
            .get(action)
            .ok_or_else(|| PolicyError::UnknownAction(action.to_owned()))?;
        let principal = self.principal(principal, &policies.schema)?;
        // Our requests are built to the schema; debug builds (and so every test) check it.
        let schema = cfg!(debug_assertions).then_some(&policies.schema);
        let request = Request::new(
            principal.uid.clone(),
            action_uid.clone(),
            self.types.exchange.clone(),
            context,
            schema,
        )
        .map_err(|e| PolicyError::Request(e.to_string()))?;
        let response = self
            .authorizer
            .is_authorized(&request, applicable, &principal.entities);
        // Cedar skips a policy whose evaluation fails, so a failing forbid would let a permit
        // win. Fail closed: any evaluation error denies, naming the policies that failed.
        let failed: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|error| {
                let cedar_policy::AuthorizationError::PolicyEvaluationError(error) = error;
                tracing::error!(%error, action, "policy evaluation error; denied");
                AsRef::<str>::as_ref(error.policy_id()).to_owned()
            })
            .collect();
        let (allowed, mut policy_ids) = if failed.is_empty() {
            let reasons = response
                .diagnostics()
                .reason()
                .map(|id| AsRef::<str>::as_ref(id).to_owned())
                .collect();
            (
                response.decision() == cedar_policy::Decision::Allow,
                reasons,
            )
        } else {
            (false, failed)
        };
        policy_ids.sort_unstable();
        Ok((allowed, policy_ids))
    }
}

impl Engine {
    fn principal(
        &self,
        kind: &PrincipalKind,
        schema: &cedar_policy::Schema,
    ) -> Result<Arc<PrincipalEntities>, PolicyError> {
        let cached = match self.principals.read() {
            Ok(map) => map.get(kind).cloned(),
            Err(poisoned) => poisoned.into_inner().get(kind).cloned(),
        };
        if let Some(entities) = cached {
            return Ok(entities);
        }
        let entities = Arc::new(self.types.principal(kind, schema)?);
        let mut map = write(&self.principals);
        if map.len() < MAX_CACHED_PRINCIPALS {
            map.insert(kind.clone(), Arc::clone(&entities));
        }
        Ok(entities)
    }

    /// The context of `query`: purpose, basis, and the time to the second.
    fn context(&self, query: &Query<'_>) -> Result<Context, PolicyError> {
        let second = query.time.unix_timestamp();
        let key = (query.purpose, query.legal_basis);
        let mut cache = match self.contexts.lock() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache.second == second
            && let Some(context) = cache.contexts.get(&key)
        {
            return Ok(context.clone());
        }
        let context = self.types.context(query)?;
        if second > cache.second {
            cache.second = second;
            cache.contexts.clear();
        }
        if second == cache.second {
            cache.contexts.insert(key, context.clone());
        }
        Ok(context)
    }
}

/// Takes the write lock; the holders only swap values and cannot leave them half-written.
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    match lock.write() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The schema's entity types, parsed once.
#[derive(Debug)]
struct EntityTypes {
    agency: EntityTypeName,
    system: EntityTypeName,
    auditor: EntityTypeName,
    exchange: EntityUid,
    purposes: Vec<(Purpose, EntityUid)>,
    legal_bases: Vec<(LegalBasis, EntityUid)>,
}

impl EntityTypes {
    fn new() -> Result<Self, PolicyError> {
        let name = |ty: &str| {
            EntityTypeName::from_str(&format!("{NAMESPACE}::{ty}"))
                .map_err(|e| PolicyError::BuiltinSchema(e.to_string()))
        };
        let purpose = name("Purpose")?;
        let legal_basis = name("LegalBasis")?;
        Ok(Self {
            agency: name("Agency")?,
            system: name("System")?,
            auditor: name("Auditor")?,
            exchange: uid(&name("Exchange")?, "jembatan"),
            purposes: Purpose::ALL
                .into_iter()
                .map(|p| (p, uid(&purpose, p.code())))
                .collect(),
            legal_bases: LegalBasis::ALL
                .into_iter()
                .map(|b| (b, uid(&legal_basis, b.code())))
                .collect(),
        })
    }

    fn purpose(&self, purpose: Purpose) -> EntityUid {
        lookup(&self.purposes, purpose)
    }

    fn legal_basis(&self, basis: LegalBasis) -> EntityUid {
        lookup(&self.legal_bases, basis)
    }

    /// The principal's entity and the entities a decision needs: a system and its agency, or
    /// an auditor's office, and the schema's action entities (so `action in <group>` holds).
    /// The schema is built in, the same for every policy set, so the result can be kept.
    fn principal(
        &self,
        kind: &PrincipalKind,
        schema: &cedar_policy::Schema,
    ) -> Result<PrincipalEntities, PolicyError> {
        let (uid, entities) = match kind {
            PrincipalKind::Agency { agency, system } => {
                let agency = uid(&self.agency, agency);
                let principal = uid(
                    &self.system,
                    &format!("{}/{system}", agency.id().unescaped()),
                );
                let entities = vec![
                    Entity::new_no_attrs(principal.clone(), HashSet::from([agency.clone()])),
                    Entity::new_no_attrs(agency, HashSet::new()),
                ];
                (principal, entities)
            }
            PrincipalKind::Auditor { office } => {
                let principal = uid(&self.auditor, office);
                let entities = vec![Entity::new_no_attrs(principal.clone(), HashSet::new())];
                (principal, entities)
            }
        };
        let entities = Entities::from_entities(entities, Some(schema))
            .map_err(|e| PolicyError::Request(e.to_string()))?;
        Ok(PrincipalEntities { uid, entities })
    }

    fn context(&self, query: &Query<'_>) -> Result<Context, PolicyError> {
        Context::from_pairs([
            (
                "purpose".to_owned(),
                RestrictedExpression::new_entity_uid(self.purpose(query.purpose)),
            ),
            (
                "legal_basis".to_owned(),
                RestrictedExpression::new_entity_uid(self.legal_basis(query.legal_basis)),
            ),
            (
                "time".to_owned(),
                RestrictedExpression::new_datetime(cedar_datetime(query.time)),
            ),
        ])
        .map_err(|e| PolicyError::Request(e.to_string()))
    }
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

fn lookup<T: PartialEq>(table: &[(T, EntityUid)], key: T) -> EntityUid {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, uid)| uid.clone())
        .unwrap_or_else(|| unreachable!("every enum value is in its table"))
}

/// Cedar's datetime form, UTC to the second: `2026-11-22T08:30:00Z`.
fn cedar_datetime(time: OffsetDateTime) -> String {
    let t = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn engine() -> Engine {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::schema::write_defaults(dir.path()).expect("defaults");
        Engine::new(Policies::load_dir(dir.path()).expect("defaults")).expect("engine")
    }

    fn kemendag() -> PrincipalKind {
        PrincipalKind::Agency {
            agency: "kemendag".into(),
            system: "export-portal".into(),
        }
    }

    fn query<'a>(principal: &'a PrincipalKind, action: &'a str, purpose: Purpose) -> Query<'a> {
        Query {
            principal,
            action,
            purpose,
            legal_basis: LegalBasis::Consent,
            time: datetime!(2026-11-22 08:30:00.250 UTC),
        }
    }

    #[test]
    fn a_permit_names_itself_and_the_set() {
        let engine = engine();
        let kemendag = kemendag();
        let decision = engine
            .decide(&query(&kemendag, "read/contact", Purpose::BusinessMatching))
            .expect("decide");
        assert!(decision.allowed);
        assert_eq!(decision.policy_ids, ["kemendag-candidate-contact"]);
        assert_eq!(decision.policy_set_hash, *engine.current().hash());
    }

    #[test]
    fn a_forbid_beats_the_permit_and_is_named() {
        let engine = engine();
        let kemendag = kemendag();
        let decision = engine
            .decide(&Query {
                legal_basis: LegalBasis::PublicTask,
                ..query(&kemendag, "read/contact", Purpose::BusinessMatching)
            })
            .expect("decide");
        assert!(!decision.allowed);
        assert_eq!(decision.policy_ids, ["individual-data-needs-consent"]);
    }

    #[test]
    fn a_forbid_that_fails_to_evaluate_still_denies() {
        // Overflow passes strict validation and fails at run time; Cedar would skip the policy.
        let dir = tempfile::tempdir().expect("tempdir");
        crate::schema::write_defaults(dir.path()).expect("defaults");
        std::fs::write(
            dir.path().join("broken-forbid.cedar"),
            "@id(\"overflowing-forbid\")\nforbid (principal, action == Jembatan::Action::\"read/aggregate\", resource)\n\
             when { 9223372036854775807 + 1 > 0 };\n",
        )
        .expect("write");
        let engine = Engine::new(Policies::load_dir(dir.path()).expect("valid")).expect("engine");
        let kemendag = kemendag();
        let decision = engine
            .decide(&query(&kemendag, "read/aggregate", Purpose::Statistics))
            .expect("decide");
        assert!(
            !decision.allowed,
            "a failing forbid must not let the permit through"
        );
        assert_eq!(decision.policy_ids, ["overflowing-forbid"]);
    }

    #[test]
    fn nothing_permits_means_denied_with_no_policy_named() {
        let engine = engine();
        let bappenas = PrincipalKind::Agency {
            agency: "bappenas".into(),
            system: "sipd".into(),
        };
        let decision = engine
            .decide(&query(
                &bappenas,
                "WorkforceService/QueryAvailability",
                Purpose::Statistics,
            ))
            .expect("decide");
        assert!(!decision.allowed);
        assert!(decision.policy_ids.is_empty());
        assert!(
            decision.to_string().ends_with("denied by default)"),
            "{decision}"
        );
    }

    #[test]
    fn an_agency_named_like_another_agencys_system_gains_nothing() {
        // System ids are "<agency>/<system>": agency "kemendag-x" is not agency "kemendag".
        let engine = engine();
        let lookalike = PrincipalKind::Agency {
            agency: "kemendag-export-portal".into(),
            system: "kemendag".into(),
        };
        let decision = engine
            .decide(&query(
                &lookalike,
                "WorkforceService/QueryAvailability",
                Purpose::Statistics,
            ))
            .expect("decide");
        assert!(!decision.allowed);
    }

    #[test]
    fn health_and_reflection_are_for_the_principals_the_policies_name_only() {
        let engine = engine();
        let named = [
            kemendag(),
            PrincipalKind::Agency {
                agency: "kp2mi".into(),
                system: "siskop2mi".into(),
            },
            PrincipalKind::Auditor {
                office: "bpk".into(),
            },
        ];
        let unnamed = PrincipalKind::Agency {
            agency: "bappenas".into(),
            system: "sipd".into(),
        };
        for action in SERVICE_ACTIONS {
            for principal in &named {
                let decision = engine
                    .decide_service(&ServiceQuery {
                        principal,
                        action,
                        time: datetime!(2026-11-22 08:30:00 UTC),
                    })
                    .expect("decide");
                assert!(decision.allowed, "{principal:?} {action}");
                assert_eq!(decision.policy_ids.len(), 1, "{principal:?} {action}");
            }
            let decision = engine
                .decide_service(&ServiceQuery {
                    principal: &unnamed,
                    action,
                    time: datetime!(2026-11-22 08:30:00 UTC),
                })
                .expect("decide");
            assert!(!decision.allowed, "{action}");
            assert!(decision.policy_ids.is_empty());
            // Asked with a purpose, a service action is a mistake of the caller, not a decision.
            let err = engine
                .decide(&query(&kemendag(), action, Purpose::Statistics))
                .expect_err("no purpose for health");
            assert!(matches!(err, PolicyError::WrongQuery(..)), "{err}");
        }
        let err = engine
            .decide_service(&ServiceQuery {
                principal: &unnamed,
                action: "WorkforceService/QueryAvailability",
                time: datetime!(2026-11-22 08:30:00 UTC),
            })
            .expect_err("a contract method states a purpose");
        assert!(matches!(err, PolicyError::WrongQuery(..)), "{err}");
    }

    #[test]
    fn undeclared_actions_are_errors_not_decisions() {
        let engine = engine();
        let kemendag = kemendag();
        let err = engine
            .decide(&query(
                &kemendag,
                "WorkforceService/DumpAll",
                Purpose::Statistics,
            ))
            .expect_err("undeclared");
        assert!(
            matches!(err, PolicyError::UnknownAction(ref a) if a == "WorkforceService/DumpAll")
        );
    }

    #[test]
    fn the_request_time_reaches_the_policies() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("until.cedar"),
            "@id(\"until-2027\")\npermit (principal, action == Jembatan::Action::\"read/aggregate\", resource)\n\
             when { context.time < datetime(\"2027-01-01T00:00:00Z\") };\n",
        )
        .expect("write");
        let engine = Engine::new(Policies::load_dir(dir.path()).expect("valid")).expect("engine");
        let kemendag = kemendag();
        let before = query(&kemendag, "read/aggregate", Purpose::Statistics);
        assert!(engine.decide(&before).expect("decide").allowed);
        let after = Query {
            time: datetime!(2027-01-01 00:00:00.001 UTC),
            ..before
        };
        assert!(!engine.decide(&after).expect("decide").allowed);
        // A query from an earlier second after a later one gets its own time, not a cached one.
        assert!(engine.decide(&before).expect("decide").allowed);
        assert!(!engine.decide(&after).expect("decide").allowed);
    }

    #[test]
    fn replace_swaps_the_set_in_force() {
        let engine = engine();
        let before = Arc::clone(engine.current().hash());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("none.cedar"),
            "@id(\"nobody\")\nforbid (principal, action, resource);\n",
        )
        .expect("write");
        engine.record_refusal("sha256:broken");
        assert_eq!(engine.refused().as_deref(), Some("sha256:broken"));
        let old = engine.replace(Policies::load_dir(dir.path()).expect("valid"));
        assert_eq!(
            engine.refused(),
            None,
            "a successful load clears the refusal"
        );
        assert_eq!(*old.hash(), before);
        assert_ne!(*engine.current().hash(), before);
        let kemendag = kemendag();
        let decision = engine
            .decide(&query(&kemendag, "read/aggregate", Purpose::Statistics))
            .expect("decide");
        assert!(!decision.allowed);
        assert_eq!(decision.policy_ids, ["nobody"]);
    }
}
