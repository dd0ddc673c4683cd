//! The witness's side of cosigning: an agency's system remembers the last checkpoint it verified
//! and cosigns a newer one only if the log proves that the newer tree extends the remembered one.
//! A log that shows two witnesses different histories, or rewrites what one witness saw, cannot
//! get both cosignatures on one history.
//!
//! The first checkpoint a witness sees is trusted on first use; every later one must be
//! consistent with it.

use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::checkpoint::{Checkpoint, SignedNote};
use crate::merkle::{self, Hash};
use crate::note::VerifierKey;

/// What a witness keeps between runs: the last checkpoint it verified, as the log signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessState {
    /// The signed note of the checkpoint.
    pub note: String,
}

impl WitnessState {
    /// Parses the remembered note and checks it is still signed by `log_key`.
    pub fn checkpoint(&self, log_key: &VerifierKey) -> Result<Checkpoint, AuditError> {
        SignedNote::parse(&self.note)?.verify_checkpoint(log_key)
    }
}

/// Decides whether `offered` (already checked to be signed by the log) may be cosigned by a
/// witness that last verified `remembered`. `proof` is the log's consistency proof from the
/// remembered size to the offered size (empty when either is 0 or they are equal).
pub fn check_extends(
    remembered: Option<&Checkpoint>,
    offered: &Checkpoint,
    proof: &[Hash],
) -> Result<(), AuditError> {
    let Some(remembered) = remembered else {
        return Ok(());
    };
    if remembered.origin != offered.origin {
        return Err(AuditError::ForeignOrigin {
            remembered: remembered.origin.clone(),
            offered: offered.origin.clone(),
        });
    }
    if offered.size < remembered.size {
        return Err(AuditError::Rollback {
            remembered: remembered.size,
            offered: offered.size,
        });
    }
    if offered.size == remembered.size {
        return if offered.root == remembered.root {
            Ok(())
        } else {
            Err(AuditError::Fork { size: offered.size })
        };
    }
    if remembered.size == 0 {
        return Ok(());
    }
    merkle::verify_consistency(
        remembered.size,
        offered.size,
        &remembered.root,
        &offered.root,
        proof,
    )
    .map_err(|_| AuditError::Inconsistent {
        from: remembered.size,
        to: offered.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "jembatan.test.local/audit";

    fn leaves(n: u64, tag: &str) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(format!("{tag}{i}").as_bytes()))
            .collect()
    }

    fn checkpoint(tree: &[Hash], size: u64) -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: merkle::root(&tree[..usize::try_from(size).expect("size")], size).expect("root"),
        }
    }

    #[test]
    fn a_consistent_extension_is_accepted() {
        let tree = leaves(40, "a");
        let old = checkpoint(&tree, 13);
        let new = checkpoint(&tree, 40);
        let proof = merkle::consistency_proof(tree.as_slice(), 13, 40).expect("proof");
        check_extends(Some(&old), &new, &proof).expect("extends");
        check_extends(Some(&new), &new, &[]).expect("same checkpoint again");
        check_extends(None, &new, &[]).expect("first use");
        let empty = checkpoint(&tree, 0);
        check_extends(Some(&empty), &new, &[]).expect("from the empty tree");
    }

    #[test]
    fn forks_rollbacks_and_rewrites_are_refused() {
        let tree = leaves(40, "a");
        let old = checkpoint(&tree, 13);
        let new = checkpoint(&tree, 40);

        let mut rewritten = tree.clone();
        rewritten[5] = merkle::leaf_hash(b"rewritten");
        let forked = checkpoint(&rewritten, 13);
        assert!(matches!(
            check_extends(Some(&old), &forked, &[]),
            Err(AuditError::Fork { size: 13 })
        ));

        // The rewritten log's own proof cannot connect the root the witness remembers.
        let rewritten_new = checkpoint(&rewritten, 40);
        let proof = merkle::consistency_proof(rewritten.as_slice(), 13, 40).expect("proof");
        assert!(matches!(
            check_extends(Some(&old), &rewritten_new, &proof),
            Err(AuditError::Inconsistent { from: 13, to: 40 })
        ));
        // Nor can the honest log's proof vouch for the rewritten root.
        let honest = merkle::consistency_proof(tree.as_slice(), 13, 40).expect("proof");
        assert!(check_extends(Some(&old), &rewritten_new, &honest).is_err());

        assert!(matches!(
            check_extends(Some(&new), &old, &[]),
            Err(AuditError::Rollback {
                remembered: 40,
                offered: 13
            })
        ));
        let foreign = Checkpoint {
            origin: "another.log/audit".into(),
            ..new.clone()
        };
        assert!(matches!(
            check_extends(Some(&old), &foreign, &honest),
            Err(AuditError::ForeignOrigin { .. })
        ));
    }
}
