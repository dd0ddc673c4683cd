//! Offline verification of a whole log: every leaf against its hash, every stored node and
//! every checkpoint root recomputed from the leaves, every checkpoint's signature, and the
//! consistency of consecutive checkpoints. The first thing that does not hold is named by index.

use std::collections::BTreeMap;
use std::fmt;

use crate::AuditError;
use crate::checkpoint::{Checkpoint, SignedNote};
use crate::compact::CompactRange;
use crate::merkle::{self, Hash, Subtrees};
use crate::note::VerifierKey;

/// One leaf as exported: its index, its stored leaf hash, and the hash of its stored bytes.
/// The bytes themselves are hashed as they are read and not kept, so that a log of millions of
/// leaves verifies in little memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedLeaf {
    /// Zero-based index.
    pub index: u64,
    /// The stored leaf hash.
    pub hash: Hash,
    /// The leaf hash of the stored bytes, `SHA-256(0x00 || data)`.
    pub data_hash: Hash,
}

impl ExportedLeaf {
    /// A leaf from its index, stored hash and stored bytes.
    pub fn new(index: u64, hash: Hash, data: &[u8]) -> Self {
        Self {
            index,
            hash,
            data_hash: merkle::leaf_hash(data),
        }
    }
}

/// A witness's cosignature as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedCosignature {
    /// The cosigned checkpoint's size.
    pub size: u64,
    /// The witness's verifier key text.
    pub verifier_key: String,
    /// The signature line.
    pub signature: String,
}

/// What a log holds, as exported.
#[derive(Debug, Clone, Default)]
pub struct LogContents {
    /// Leaves, in any order.
    pub leaves: Vec<ExportedLeaf>,
    /// Stored subtree roots: (level, index) → hash, levels 1 and up.
    pub nodes: BTreeMap<(u32, u64), Hash>,
    /// Signed checkpoints as stored, in any order.
    pub checkpoints: Vec<SignedNote>,
    /// Witnesses' cosignatures, in any order.
    pub cosignatures: Vec<ExportedCosignature>,
}

/// The first thing in a log that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A leaf index has no leaf.
    MissingLeaf(u64),
    /// Two leaves claim one index.
    DuplicateLeaf(u64),
    /// A leaf's bytes do not hash to its stored leaf hash.
    LeafHashMismatch(u64),
    /// A stored subtree root differs from the one computed from the leaves.
    NodeMismatch {
        /// Level of the subtree.
        level: u32,
        /// Its index at that level.
        index: u64,
    },
    /// A subtree root the leaves complete is not stored.
    MissingNode {
        /// Level of the subtree.
        level: u32,
        /// Its index at that level.
        index: u64,
    },
    /// A checkpoint does not parse or is not signed by the log's key.
    BadCheckpointSignature(String),
    /// A checkpoint's origin is not the log's.
    ForeignCheckpoint(u64),
    /// A checkpoint's root is not the root of the leaves up to its size.
    CheckpointRootMismatch(u64),
    /// A checkpoint commits to more leaves than the log holds.
    CheckpointBeyondLog(u64),
    /// Two checkpoints of one size.
    Fork(u64),
    /// Consecutive checkpoints are not consistent.
    Inconsistent {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// A cosignature is not its witness key's signature of a checkpoint in the log.
    BadCosignature {
        /// The cosigned size.
        size: u64,
        /// The witness's verifier key as stored.
        witness: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::MissingLeaf(i) => write!(f, "leaf {i} is missing"),
            Finding::DuplicateLeaf(i) => write!(f, "leaf {i} appears more than once"),
            Finding::LeafHashMismatch(i) => {
                write!(
                    f,
                    "leaf {i}: its data does not hash to its stored leaf hash"
                )
            }
            Finding::NodeMismatch { level, index } => write!(
                f,
                "node at level {level}, index {index} (leaves {}..{}) does not match the leaves",
                index << level,
                (index + 1) << level
            ),
            Finding::MissingNode { level, index } => {
                write!(f, "node at level {level}, index {index} is missing")
            }
            Finding::BadCheckpointSignature(what) => {
                write!(f, "checkpoint {what}: not signed by the log's key")
            }
            Finding::ForeignCheckpoint(size) => {
                write!(f, "checkpoint of size {size}: origin is not this log's")
            }
            Finding::CheckpointRootMismatch(size) => {
                write!(
                    f,
                    "checkpoint of size {size}: root does not match the leaves"
                )
            }
            Finding::CheckpointBeyondLog(size) => {
                write!(f, "checkpoint of size {size}: the log holds fewer leaves")
            }
            Finding::Fork(size) => write!(f, "two checkpoints of size {size}: a fork"),
            Finding::Inconsistent { from, to } => {
                write!(f, "checkpoints of sizes {from} and {to} are not consistent")
            }
            Finding::BadCosignature { size, witness } => write!(
                f,
                "cosignature of the checkpoint of size {size} by {witness}: does not verify"
            ),
        }
    }
}

/// What a verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Leaves checked.
    pub leaves: u64,
    /// Stored nodes checked.
    pub nodes: usize,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Leaves in the latest checkpoint; the rest await the sequencer.
    pub integrated: u64,
    /// For each witness verifier key, the largest checkpoint size it cosigned.
    pub witnessed: BTreeMap<String, u64>,
    /// The root of all the leaves.
    pub root: Hash,
}

/// Verifies `log` against the log's verifier key and origin.
pub fn verify_log(log: &LogContents, key: &VerifierKey, origin: &str) -> Result<Verified, Finding> {
    let mut by_size: BTreeMap<u64, Hash> = BTreeMap::new();
    for note in &log.checkpoints {
        let checkpoint = note.verify_checkpoint(key).map_err(|_| {
            Finding::BadCheckpointSignature(note.text.lines().nth(1).unwrap_or("?").to_owned())
        })?;
        if checkpoint.origin != origin {
            return Err(Finding::ForeignCheckpoint(checkpoint.size));
        }
        if let Some(root) = by_size.insert(checkpoint.size, checkpoint.root)
            && root != checkpoint.root
        {
            return Err(Finding::Fork(checkpoint.size));
        }
    }
    // Leaves beyond the latest checkpoint may be committed but not integrated yet: their
    // subtree roots need not be stored.
    let integrated = by_size.keys().next_back().copied().unwrap_or(0);

    let mut leaves: Vec<&ExportedLeaf> = log.leaves.iter().collect();
    leaves.sort_by_key(|leaf| leaf.index);
    let mut range = CompactRange::default();
    let mut roots = BTreeMap::new();
    roots.insert(0u64, merkle::empty_root());
    let mut checked_nodes = 0usize;
    let mut finding = None;
    for (expected, leaf) in (0u64..).zip(&leaves) {
        if leaf.index != expected {
            return Err(if leaf.index < expected {
                Finding::DuplicateLeaf(leaf.index)
            } else {
                Finding::MissingLeaf(expected)
            });
        }
        if leaf.data_hash != leaf.hash {
            return Err(Finding::LeafHashMismatch(leaf.index));
        }
        range.append(leaf.hash, |node| {
            if node.level == 0 || finding.is_some() {
                return;
            }
            let (level, index) = (node.level, node.index);
            match log.nodes.get(&(level, index)) {
                Some(stored) if *stored == node.hash => checked_nodes += 1,
                Some(_) => finding = Some(Finding::NodeMismatch { level, index }),
                None if (index + 1) << level <= integrated => {
                    finding = Some(Finding::MissingNode { level, index })
                }
                None => {}
            }
        });
        if let Some(finding) = finding.take() {
            return Err(finding);
        }
        if by_size.contains_key(&range.size()) {
            roots.insert(range.size(), range.root());
        }
    }
    let size = range.size();

    for (&checkpoint_size, root) in &by_size {
        let computed = roots
            .get(&checkpoint_size)
            .ok_or(Finding::CheckpointBeyondLog(checkpoint_size))?;
        if computed != root {
            return Err(Finding::CheckpointRootMismatch(checkpoint_size));
        }
    }
    // Consecutive checkpoints, with proofs made from the (now verified) stored hashes, as a
    // witness would check them.
    let tree = VerifiedTree {
        leaves: leaves.iter().map(|leaf| leaf.hash).collect(),
        nodes: &log.nodes,
    };
    let sizes: Vec<(&u64, &Hash)> = by_size.iter().filter(|(s, _)| **s > 0).collect();
    for pair in sizes.windows(2) {
        let ((&from, from_root), (&to, to_root)) = (pair[0], pair[1]);
        let proof = merkle::consistency_proof(&tree, from, to)
            .map_err(|_| Finding::Inconsistent { from, to })?;
        merkle::verify_consistency(from, to, from_root, to_root, &proof)
            .map_err(|_| Finding::Inconsistent { from, to })?;
    }
    let mut witnessed = BTreeMap::new();
    for cosignature in &log.cosignatures {
        let bad = || Finding::BadCosignature {
            size: cosignature.size,
            witness: cosignature.verifier_key.clone(),
        };
        let root = by_size.get(&cosignature.size).ok_or_else(bad)?;
        let text = Checkpoint {
            origin: origin.to_owned(),
            size: cosignature.size,
            root: *root,
        }
        .body();
        VerifierKey::parse(&cosignature.verifier_key)
            .and_then(|key| key.verify(&text, &cosignature.signature))
            .map_err(|_| bad())?;
        let largest = witnessed
            .entry(cosignature.verifier_key.clone())
            .or_insert(cosignature.size);
        *largest = (*largest).max(cosignature.size);
    }
    Ok(Verified {
        leaves: size,
        nodes: checked_nodes,
        checkpoints: log.checkpoints.len(),
        integrated,
        witnessed,
        root: range.root(),
    })
}

/// Leaf hashes and stored nodes, once checked against each other.
struct VerifiedTree<'a> {
    leaves: Vec<Hash>,
    nodes: &'a BTreeMap<(u32, u64), Hash>,
}

impl Subtrees for VerifiedTree<'_> {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        let found = if level == 0 {
            usize::try_from(index).ok().and_then(|i| self.leaves.get(i))
        } else {
            self.nodes.get(&(level, index))
        };
        found
            .copied()
            .ok_or(AuditError::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::SignerKey;

    const ORIGIN: &str = "jembatan.test.local/audit";

    /// A log of `n` leaves with checkpoints at `sizes`, as a sequencer would have stored it.
    fn log(n: u64, sizes: &[u64], key: &SignerKey) -> LogContents {
        let mut contents = LogContents::default();
        let mut range = CompactRange::default();
        let mut roots = BTreeMap::new();
        for index in 0..n {
            let data = format!("{{\"leaf\":{index}}}").into_bytes();
            let hash = merkle::leaf_hash(&data);
            contents.leaves.push(ExportedLeaf::new(index, hash, &data));
            range.append(hash, |node| {
                if node.level > 0 {
                    contents.nodes.insert((node.level, node.index), node.hash);
                }
            });
            roots.insert(range.size(), range.root());
        }
        for size in sizes {
            let checkpoint = Checkpoint {
                origin: ORIGIN.into(),
                size: *size,
                root: roots[size],
            };
            contents.checkpoints.push(checkpoint.sign(key));
        }
        contents
    }

    #[test]
    fn an_intact_log_verifies() {
        let key = SignerKey::generate(ORIGIN).expect("key");
        let contents = log(50, &[10, 37, 50], &key);
        let verified = verify_log(&contents, &key.verifier(), ORIGIN).expect("intact");
        assert_eq!((verified.leaves, verified.checkpoints), (50, 3));
        assert_eq!(verified.nodes, 25 + 12 + 6 + 3 + 1);
    }

    #[test]
    fn leaves_awaiting_the_sequencer_need_no_stored_nodes() {
        let key = SignerKey::generate(ORIGIN).expect("key");
        let mut contents = log(50, &[10, 37], &key);
        contents
            .nodes
            .retain(|&(level, index), _| (index + 1) << level <= 37);
        let verified = verify_log(&contents, &key.verifier(), ORIGIN).expect("pending leaves");
        assert_eq!((verified.leaves, verified.integrated), (50, 37));
        contents.nodes.remove(&(2, 8));
        assert_eq!(
            verify_log(&contents, &key.verifier(), ORIGIN).expect_err("missing"),
            Finding::MissingNode { level: 2, index: 8 },
            "a node inside the latest checkpoint is still required"
        );
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let key = SignerKey::generate(ORIGIN).expect("key");
        let verifier = key.verifier();
        let check =
            |contents: &LogContents| verify_log(contents, &verifier, ORIGIN).expect_err("tampered");

        let mut changed = log(50, &[50], &key);
        changed.leaves[17].data_hash = merkle::leaf_hash(b"{\"leaf\":999}");
        assert_eq!(check(&changed), Finding::LeafHashMismatch(17));

        let mut rehashed = log(50, &[50], &key);
        rehashed.leaves[17] =
            ExportedLeaf::new(17, merkle::leaf_hash(b"{\"leaf\":999}"), b"{\"leaf\":999}");
        assert_eq!(
            check(&rehashed),
            Finding::NodeMismatch { level: 1, index: 8 }
        );

        let mut deleted = log(50, &[50], &key);
        deleted.leaves.remove(23);
        assert_eq!(check(&deleted), Finding::MissingLeaf(23));

        let mut swapped = log(50, &[50], &key);
        let (a, b) = (swapped.leaves[4].clone(), swapped.leaves[9].clone());
        swapped.leaves[4] = ExportedLeaf { index: 4, ..b };
        swapped.leaves[9] = ExportedLeaf { index: 9, ..a };
        assert_eq!(
            check(&swapped),
            Finding::NodeMismatch { level: 1, index: 2 }
        );

        let mut flipped = log(50, &[50], &key);
        let node = flipped.nodes.get_mut(&(3, 2)).expect("node");
        node[5] ^= 0x10;
        assert_eq!(
            check(&flipped),
            Finding::NodeMismatch { level: 3, index: 2 }
        );

        // Leaves and nodes rewritten together: only the signed checkpoint tells.
        let original = log(50, &[50], &key);
        let mut rewritten = log(50, &[], &key);
        rewritten.leaves[30] = ExportedLeaf::new(30, merkle::leaf_hash(b"rewritten"), b"rewritten");
        let mut range = CompactRange::default();
        rewritten.nodes.clear();
        for leaf in &rewritten.leaves {
            range.append(leaf.hash, |node| {
                if node.level > 0 {
                    rewritten.nodes.insert((node.level, node.index), node.hash);
                }
            });
        }
        rewritten.checkpoints = original.checkpoints.clone();
        assert_eq!(check(&rewritten), Finding::CheckpointRootMismatch(50));

        let impostor = SignerKey::generate(ORIGIN).expect("key");
        let mut forged = log(50, &[50], &key);
        forged.checkpoints = log(50, &[50], &impostor).checkpoints;
        assert_eq!(check(&forged), Finding::BadCheckpointSignature("50".into()));

        let mut forked = log(50, &[20, 50], &key);
        let other_root = Checkpoint {
            origin: ORIGIN.into(),
            size: 20,
            root: [9; 32],
        };
        forked.checkpoints.push(other_root.sign(&key));
        assert_eq!(check(&forked), Finding::Fork(20));

        let witness = SignerKey::generate("kemendag.test.local/witness").expect("key");
        let mut cosigned = log(50, &[20, 50], &key);
        let text = cosigned.checkpoints[0].text.clone();
        cosigned.cosignatures.push(ExportedCosignature {
            size: 20,
            verifier_key: witness.verifier().to_text(),
            signature: witness.sign(&text),
        });
        let verified = verify_log(&cosigned, &verifier, ORIGIN).expect("cosigned");
        assert_eq!(verified.witnessed[&witness.verifier().to_text()], 20);
        cosigned.cosignatures[0].size = 50;
        assert_eq!(
            check(&cosigned),
            Finding::BadCosignature {
                size: 50,
                witness: witness.verifier().to_text()
            },
            "a cosignature moved to another checkpoint"
        );

        let mut beyond = log(40, &[], &key);
        beyond.checkpoints = log(50, &[50], &key).checkpoints;
        assert_eq!(check(&beyond), Finding::CheckpointBeyondLog(50));
    }
}
