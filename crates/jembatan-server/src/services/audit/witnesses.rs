//! The witnesses of `[audit.witnesses]`: whose keys may cosign the log's checkpoints, and which
//! callers may submit each key's cosignatures.
//!
//! A witness key belongs to an owner: an agency (`kemendag`), whose every system may submit its
//! cosignatures, or an auditor office (`auditor/inspectorate`).

use std::collections::{BTreeMap, HashSet};

use jembatan_audit::note::VerifierKey;
use jembatan_pki::PrincipalKind;
use tonic::Status;

use crate::ServerError;

/// The registered witness keys by owner.
#[derive(Debug, Clone, Default)]
pub(crate) struct Witnesses {
    by_owner: BTreeMap<String, Vec<VerifierKey>>,
}

impl Witnesses {
    /// Parses the configured keys. Key names must be unique and differ from the log's own.
    pub(crate) fn from_config(
        configured: &BTreeMap<String, Vec<String>>,
        log_key_name: &str,
    ) -> Result<Self, ServerError> {
        let invalid = |reason: String| ServerError::InvalidValue {
            key: "audit.witnesses",
            reason,
        };
        let mut names = HashSet::from([log_key_name.to_owned()]);
        let mut by_owner = BTreeMap::new();
        for (owner, keys) in configured {
            if !valid_owner(owner) {
                return Err(invalid(format!(
                    "{owner:?} is neither an agency name (e.g. kemendag) nor auditor/<office>"
                )));
            }
            let mut parsed = Vec::with_capacity(keys.len());
            for text in keys {
                let key = VerifierKey::parse(text)
                    .map_err(|e| invalid(format!("{owner}: {text:?}: {e}")))?;
                if !names.insert(key.name().to_owned()) {
                    return Err(invalid(format!(
                        "{owner}: key name {} is already used by another key or by the log",
                        key.name()
                    )));
                }
                parsed.push(key);
            }
            by_owner.insert(owner.clone(), parsed);
        }
        Ok(Self { by_owner })
    }

    /// How many keys are registered.
    pub(crate) fn len(&self) -> usize {
        self.by_owner.values().map(Vec::len).sum()
    }

    /// The registered key `text`, if the caller `kind` owns it.
    pub(crate) fn key_of(&self, kind: &PrincipalKind, text: &str) -> Result<&VerifierKey, Status> {
        let offered = VerifierKey::parse(text.trim()).map_err(|e| {
            Status::invalid_argument(format!(
                "verifier_key is not a signed-note verifier key: {e}"
            ))
        })?;
        let owner = owner_of(kind);
        self.by_owner
            .get(&owner)
            .and_then(|keys| keys.iter().find(|key| **key == offered))
            .ok_or_else(|| {
                Status::permission_denied(format!(
                    "witness key {} is not registered for {owner} in [audit.witnesses]",
                    offered.name()
                ))
            })
    }
}

/// The owner name of a caller: its agency, or `auditor/<office>`.
fn owner_of(kind: &PrincipalKind) -> String {
    match kind {
        PrincipalKind::Agency { agency, .. } => agency.clone(),
        PrincipalKind::Auditor { office } => format!("auditor/{office}"),
    }
}

fn valid_owner(owner: &str) -> bool {
    let label = |name: &str| {
        !name.is_empty()
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match owner.strip_prefix("auditor/") {
        Some(office) => label(office),
        None => label(owner),
    }
}

#[cfg(test)]
mod tests {
    use jembatan_audit::note::SignerKey;

    use super::*;

    fn key(name: &str) -> String {
        SignerKey::generate(name).expect("key").verifier().to_text()
    }

    #[test]
    fn keys_are_owned_by_an_agency_or_an_auditor_office() {
        let kemendag = key("kemendag.test/witness");
        let inspectorate = key("inspectorate.test/witness");
        let witnesses = Witnesses::from_config(
            &BTreeMap::from([
                ("kemendag".to_owned(), vec![kemendag.clone()]),
                (
                    "auditor/inspectorate".to_owned(),
                    vec![inspectorate.clone()],
                ),
            ]),
            "log.test/audit",
        )
        .expect("valid");
        assert_eq!(witnesses.len(), 2);
        let system = PrincipalKind::Agency {
            agency: "kemendag".into(),
            system: "export-portal".into(),
        };
        witnesses.key_of(&system, &kemendag).expect("own key");
        let err = witnesses
            .key_of(&system, &inspectorate)
            .expect_err("another owner's key");
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(
            err.message().contains("not registered for kemendag"),
            "{err:?}"
        );
        let office = PrincipalKind::Auditor {
            office: "inspectorate".into(),
        };
        witnesses.key_of(&office, &inspectorate).expect("own key");
        let err = witnesses.key_of(&office, "garbage").expect_err("garbage");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn bad_entries_are_named() {
        let check = |owner: &str, keys: Vec<String>| {
            Witnesses::from_config(
                &BTreeMap::from([(owner.to_owned(), keys)]),
                "log.test/audit",
            )
            .expect_err("invalid")
            .to_string()
        };
        let err = check("Kemendag", vec![key("k.test/witness")]);
        assert!(
            err.contains("audit.witnesses") && err.contains("Kemendag"),
            "{err}"
        );
        let err = check("kemendag", vec!["not a key".into()]);
        assert!(err.contains("kemendag: \"not a key\""), "{err}");
        let err = check("kemendag", vec![key("log.test/audit")]);
        assert!(err.contains("already used"), "{err}");
        let twice = key("k.test/witness");
        let err = check("kemendag", vec![twice.clone(), twice]);
        assert!(err.contains("already used"), "{err}");
    }
}
