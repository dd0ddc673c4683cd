//! The rules of taking a pushed placement in, free of transport: where a pushed version stands
//! against the stored one (version order), whether a worker's erasure refuses it (the erasure
//! cut-off), and which purposes its consent covers once withdrawals made since are applied
//! (consent carried over).
//!
//! Times are compared as the leaves and the store record them (RFC 3339 UTC with
//! milliseconds, see [`jembatan_audit::leaf::timestamp`]), whose text order is time order.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use jembatan_domain::Purpose;
use jembatan_store::StoredVersion;

/// A pushed version, as it is compared with the stored one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pushed<'a> {
    /// KP2MI's version.
    pub(crate) version: i64,
    /// KP2MI's update time, or empty.
    pub(crate) updated_at: &'a str,
    /// Salted digest of the pushed record, under the stored record's salt.
    pub(crate) digest: &'a [u8],
}

pub(crate) use crate::services::versioned::Verdict;

/// Why a pushed version is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The stored version has the same version and update time but other content.
    ConflictingVersion,
    /// The worker's data was erased at this time, after the record was last updated.
    ErasedSince(String),
}

impl Refusal {
    /// The field of the record that the refusal is about.
    pub(crate) fn field(&self) -> &'static str {
        match self {
            Refusal::ConflictingVersion => "version",
            Refusal::ErasedSince(_) => "updated_at",
        }
    }

    /// What is wrong, and what the sender can do.
    pub(crate) fn description(&self) -> String {
        match self {
            Refusal::ConflictingVersion => "this version and update time are stored with other \
                                            content; send a higher version"
                .to_owned(),
            Refusal::ErasedSince(erased_at) => format!(
                "the worker's personal data was erased at {erased_at}; only a record updated \
                 after that is accepted"
            ),
        }
    }
}

/// Where `pushed` stands: against the `stored` version of its placement (version order by
/// (version, update time); the same pair with the same digest is unchanged, with another digest
/// a conflict), then against the worker's last erasure `erased_at` (a record to be stored that
/// was last updated at or before the erasure is refused: a stale sync must not restore erased
/// data).
pub(crate) fn judge(
    pushed: &Pushed<'_>,
    stored: Option<&StoredVersion>,
    erased_at: Option<&str>,
) -> Result<Verdict, Refusal> {
    let verdict = match stored {
        None => Verdict::Store,
        Some(old) => {
            match (pushed.version, pushed.updated_at).cmp(&(old.version, old.updated_at.as_str())) {
                Ordering::Greater => Verdict::Store,
                Ordering::Less => Verdict::Stale,
                Ordering::Equal if old.digest == pushed.digest => Verdict::Unchanged,
                Ordering::Equal => return Err(Refusal::ConflictingVersion),
            }
        }
    };
    match erased_at {
        Some(erased_at) if verdict == Verdict::Store && pushed.updated_at <= erased_at => {
            Err(Refusal::ErasedSince(erased_at.to_owned()))
        }
        _ => Ok(verdict),
    }
}

/// The consent of a pushed record, as it is carried over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PushedConsent<'a> {
    /// The purposes the record's consent names.
    pub(crate) purposes: &'a BTreeSet<Purpose>,
    /// When it was granted, or empty.
    pub(crate) granted_at: &'a str,
    /// Whether the record itself says it was withdrawn.
    pub(crate) withdrawn: bool,
}

/// The purpose codes a record's consent covers now: none once withdrawn in the record, and
/// none withdrawn through WithdrawConsent (`withdrawals`: purpose code and time) at or after
/// the record's consent was granted.
pub(crate) fn consented(
    consent: PushedConsent<'_>,
    withdrawals: &[(String, String)],
) -> Vec<String> {
    if consent.withdrawn {
        return Vec::new();
    }
    let withdrawn_since = |code: &str| {
        withdrawals
            .iter()
            .any(|(purpose, at)| purpose == code && consent.granted_at <= at.as_str())
    };
    consent
        .purposes
        .iter()
        .map(|purpose| purpose.code())
        .filter(|code| !withdrawn_since(code))
        .map(str::to_owned)
        .collect()
}

/// Whether consent to `purposes` lets the exchange keep a worker's name and contact details.
pub(crate) fn keeps_contact(purposes: &[String]) -> bool {
    purposes
        .iter()
        .any(|code| code == Purpose::BusinessMatching.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(version: i64, updated_at: &str, digest: &[u8]) -> StoredVersion {
        StoredVersion {
            subject_key: "s".to_owned(),
            placement_id: "P-1".into(),
            record_key: "k".into(),
            salt: vec![1],
            digest: digest.to_vec(),
            version,
            updated_at: updated_at.into(),
        }
    }

    fn pushed<'a>(version: i64, updated_at: &'a str, digest: &'a [u8]) -> Pushed<'a> {
        Pushed {
            version,
            updated_at,
            digest,
        }
    }

    const T1: &str = "2026-01-01T00:00:00.000Z";
    const T2: &str = "2026-02-01T00:00:00.000Z";

    #[test]
    fn versions_are_ordered_by_version_then_update_time() {
        let old = stored(2, T1, b"a");
        assert_eq!(judge(&pushed(1, T1, b"x"), None, None), Ok(Verdict::Store));
        assert_eq!(
            judge(&pushed(3, T1, b"x"), Some(&old), None),
            Ok(Verdict::Store)
        );
        assert_eq!(
            judge(&pushed(2, T2, b"x"), Some(&old), None),
            Ok(Verdict::Store)
        );
        assert_eq!(
            judge(&pushed(1, T2, b"x"), Some(&old), None),
            Ok(Verdict::Stale)
        );
        assert_eq!(
            judge(&pushed(2, "", b"x"), Some(&old), None),
            Ok(Verdict::Stale)
        );
        assert_eq!(
            judge(&pushed(2, T1, b"a"), Some(&old), None),
            Ok(Verdict::Unchanged)
        );
        assert_eq!(
            judge(&pushed(2, T1, b"b"), Some(&old), None),
            Err(Refusal::ConflictingVersion)
        );
    }

    #[test]
    fn an_erasure_refuses_what_was_updated_before_it_and_only_that() {
        let erased = Some(T2);
        let refused = judge(&pushed(1, T1, b"x"), None, erased);
        assert_eq!(refused, Err(Refusal::ErasedSince(T2.into())));
        assert_eq!(refused.expect_err("refused").field(), "updated_at");
        assert_eq!(
            judge(&pushed(1, T2, b"x"), None, erased),
            Err(Refusal::ErasedSince(T2.into()))
        );
        assert_eq!(
            judge(&pushed(1, "2026-03-01T00:00:00.000Z", b"x"), None, erased),
            Ok(Verdict::Store)
        );
        // What would not be stored anyway is not refused for the erasure.
        let old = stored(2, T1, b"a");
        assert_eq!(
            judge(&pushed(1, T1, b"x"), Some(&old), erased),
            Ok(Verdict::Stale)
        );
    }

    #[test]
    fn consent_withdrawn_since_its_grant_is_not_carried_over() {
        let purposes = BTreeSet::from([Purpose::BusinessMatching, Purpose::Statistics]);
        let consent = PushedConsent {
            purposes: &purposes,
            granted_at: T1,
            withdrawn: false,
        };
        assert_eq!(consented(consent, &[]), ["BUSINESS_MATCHING", "STATISTICS"]);
        let since = [("BUSINESS_MATCHING".to_owned(), T2.to_owned())];
        assert_eq!(consented(consent, &since), ["STATISTICS"]);
        let before = [(
            "BUSINESS_MATCHING".to_owned(),
            "2025-12-01T00:00:00.000Z".to_owned(),
        )];
        assert_eq!(
            consented(consent, &before),
            ["BUSINESS_MATCHING", "STATISTICS"]
        );
        let withdrawn = PushedConsent {
            withdrawn: true,
            ..consent
        };
        assert!(consented(withdrawn, &[]).is_empty());
        assert!(keeps_contact(&consented(consent, &[])));
        assert!(!keeps_contact(&consented(consent, &since)));
    }
}
