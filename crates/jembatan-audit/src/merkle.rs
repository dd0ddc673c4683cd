//! RFC 6962 (RFC 9162 §2.1) Merkle tree hashing, and inclusion and consistency proofs: made from
//! any source of subtree roots, and verified against a root alone.
//!
//! - leaf hash: `SHA-256(0x00 || leaf)`; node hash: `SHA-256(0x01 || left || right)`;
//! - the root of the empty tree is `SHA-256()`;
//! - a tree of `n > 1` leaves splits at `k`, the largest power of two below `n`.
//!
//! Proofs are made from [`Subtrees`]: the roots of perfect subtrees (2^level leaves starting at
//! a multiple of 2^level), which a log stores once and never changes. Any range a proof needs is
//! composed from O(log n) of them.

use ring::digest;

use crate::AuditError;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree, `SHA-256()`.
pub fn empty_root() -> Hash {
    sha256(&[&[]])
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(context.finish().as_ref());
    hash
}

/// The roots of perfect subtrees of a log.
pub trait Subtrees {
    /// The root of the 2^`level` leaves starting at leaf `index << level`. Asked only for
    /// subtrees wholly inside the tree the proof is about.
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, AuditError>;
}

/// Leaf hashes in memory are their own subtree source (for tests and offline verification).
impl Subtrees for [Hash] {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        // Any level and index may be asked: a subtree past the slice, or past what a usize
        // counts, is missing.
        let leaves = 1usize
            .checked_shl(level)
            .and_then(|width| {
                let start = usize::try_from(index).ok()?.checked_mul(width)?;
                self.get(start..start.checked_add(width)?)
            })
            .ok_or(AuditError::MissingNode { level, index })?;
        Ok(perfect_root(leaves))
    }
}

/// The root of a power-of-two run of leaf hashes.
fn perfect_root(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// The root of leaves `[start, start + len)`, where `start` is a multiple of the smallest power
/// of two not below `len`, as every range of the RFC 6962 recursion is.
pub fn range_root(
    tree: &(impl Subtrees + ?Sized),
    start: u64,
    len: u64,
) -> Result<Hash, AuditError> {
    if len == 0 {
        return Ok(empty_root());
    }
    if len.is_power_of_two() {
        let level = len.trailing_zeros();
        return tree.perfect(level, start >> level);
    }
    let k = split(len);
    let left = range_root(tree, start, k)?;
    let right = range_root(tree, start + k, len - k)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves.
pub fn root(tree: &(impl Subtrees + ?Sized), size: u64) -> Result<Hash, AuditError> {
    range_root(tree, 0, size)
}

/// The largest power of two smaller than `n` (`n > 1`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// A walk down from the tree of the first `len` leaves towards a leaf or a subtree, collecting
/// the root of each half it leaves aside.
struct Descent {
    /// The first leaf of the subtree the walk is in.
    start: u64,
    /// The subtree's leaves.
    len: u64,
    /// The roots left aside, from the top down.
    proof: Vec<Hash>,
}

impl Descent {
    fn new(len: u64) -> Self {
        Self {
            start: 0,
            len,
            proof: Vec::new(),
        }
    }

    /// Goes down into the left half (`left`) or the right one, keeping the other half's root;
    /// returns `left`.
    fn step(&mut self, tree: &(impl Subtrees + ?Sized), left: bool) -> Result<bool, AuditError> {
        let k = split(self.len);
        if left {
            self.proof
                .push(range_root(tree, self.start + k, self.len - k)?);
            self.len = k;
        } else {
            self.proof.push(range_root(tree, self.start, k)?);
            self.start += k;
            self.len -= k;
        }
        Ok(left)
    }
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 6962 PATH).
pub fn inclusion_proof(
    tree: &(impl Subtrees + ?Sized),
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    if index >= size {
        return Err(AuditError::OutOfRange { index, size });
    }
    // Walk down from the whole tree, collecting siblings; the proof lists them leaf-up.
    let mut descent = Descent::new(size);
    let mut m = index;
    while descent.len > 1 {
        let k = split(descent.len);
        if !descent.step(tree, m < k)? {
            m -= k;
        }
    }
    descent.proof.reverse();
    Ok(descent.proof)
}

/// The consistency proof between the trees of the first `size1` and `size2` leaves
/// (RFC 6962 PROOF/SUBPROOF). Empty when the sizes are equal.
pub fn consistency_proof(
    tree: &(impl Subtrees + ?Sized),
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, AuditError> {
    if size1 == 0 || size1 > size2 {
        return Err(AuditError::BadSizes { size1, size2 });
    }
    let mut descent = Descent::new(size2);
    let (mut m, mut whole) = (size1, true);
    while m != descent.len {
        let k = split(descent.len);
        if !descent.step(tree, m <= k)? {
            m -= k;
            whole = false;
        }
    }
    let Descent {
        start,
        len,
        mut proof,
    } = descent;
    if !whole {
        proof.push(range_root(tree, start, len)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is `root`.
/// Hashes arrive as bytes from outside; any that is not 32 bytes fails the check.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[impl AsRef<[u8]>],
    root: &[u8],
) -> Result<(), AuditError> {
    if index >= size {
        return Err(AuditError::OutOfRange { index, size });
    }
    let root = to_hash(root, "root")?;
    let proof = to_hashes(proof)?;
    let mut r = to_hash(leaf_hash, "leaf hash")?;
    walk(index, size - 1, &proof, |p, side| {
        r = match side {
            Side::Left => node_hash(p, &r),
            Side::Right => node_hash(&r, p),
        };
    })
    .map_err(|length| {
        AuditError::BadProof(match length {
            PathLength::TooLong => "inclusion proof is too long",
            PathLength::TooShort => "inclusion proof is too short",
        })
    })?;
    if r != root {
        return Err(AuditError::BadProof(
            "inclusion proof does not lead to the root",
        ));
    }
    Ok(())
}

/// Checks that the tree of `size1` leaves with root `root1` is a prefix of the tree of `size2`
/// leaves with root `root2`. Equal sizes need an empty proof and byte-equal roots.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<(), AuditError> {
    if size1 == 0 || size1 > size2 {
        return Err(AuditError::BadSizes { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(AuditError::BadProof(
                "consistency proof of equal sizes must be empty",
            ));
        }
        if root1 != root2 {
            return Err(AuditError::BadProof("equal sizes with different roots"));
        }
        return Ok(());
    }
    let (root1, root2) = (to_hash(root1, "root")?, to_hash(root2, "root")?);
    let proof = to_hashes(proof)?;
    let (first, rest) = if size1.is_power_of_two() {
        (&root1, proof.as_slice())
    } else {
        proof
            .split_first()
            .ok_or(AuditError::BadProof("consistency proof is empty"))?
    };
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    walk(f, s, rest, |c, side| match side {
        Side::Left => {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        }
        Side::Right => sr = node_hash(&sr, c),
    })
    .map_err(|length| {
        AuditError::BadProof(match length {
            PathLength::TooLong => "consistency proof is too long",
            PathLength::TooShort => "consistency proof is too short",
        })
    })?;
    if fr != root1 || sr != root2 {
        return Err(AuditError::BadProof(
            "consistency proof does not lead to the roots",
        ));
    }
    Ok(())
}

/// The side of the running hash a proof hash joins.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// The proof hash is the left child: `node_hash(proof, running)`.
    Left,
    /// The proof hash is the right child: `node_hash(running, proof)`.
    Right,
}

/// A proof path that does not fit its tree.
#[derive(Debug, Clone, Copy)]
enum PathLength {
    TooLong,
    TooShort,
}

/// The walk of RFC 9162's proof verification (§2.1.3.2, §2.1.4.2) from the node `f` of the
/// last node `s`: tells `join` which side each proof hash joins, and fails if the path does not
/// end exactly at the root.
fn walk(
    mut f: u64,
    mut s: u64,
    proof: &[Hash],
    mut join: impl FnMut(&Hash, Side),
) -> Result<(), PathLength> {
    for p in proof {
        if s == 0 {
            return Err(PathLength::TooLong);
        }
        if f & 1 == 1 || f == s {
            join(p, Side::Left);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            join(p, Side::Right);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 {
        Ok(())
    } else {
        Err(PathLength::TooShort)
    }
}

fn to_hashes(proof: &[impl AsRef<[u8]>]) -> Result<Vec<Hash>, AuditError> {
    proof
        .iter()
        .map(|p| to_hash(p.as_ref(), "proof hash"))
        .collect()
}

fn to_hash(bytes: &[u8], what: &'static str) -> Result<Hash, AuditError> {
    bytes.try_into().map_err(|_| AuditError::NotAHash(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `proofs` fuzz target: a level of 64 or more, or a subtree whose end is past what
    /// a usize counts, panicked on a shift or an addition overflow.
    #[test]
    fn leaves_in_memory_refuse_any_subtree_they_do_not_hold() {
        let leaves: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let tree = leaves.as_slice();
        for (level, index) in [
            (64, 0),
            (255, 0),
            (u32::MAX, 0),
            (63, 1),
            (1, u64::MAX / 2),
            (0, u64::MAX),
            (3, 0),
            (0, 5),
        ] {
            assert!(
                matches!(
                    tree.perfect(level, index),
                    Err(AuditError::MissingNode { .. })
                ),
                "level {level}, index {index}"
            );
        }
        assert_eq!(
            tree.perfect(2, 0).expect("leaves 0..4"),
            root(tree, 4).expect("root")
        );
        assert_eq!(tree.perfect(0, 4).expect("leaf 4"), leaves[4]);
        assert!(range_root(tree, u64::MAX - 1, 2).is_err());
        assert!(inclusion_proof(tree, u64::MAX - 1, u64::MAX).is_err());
        assert!(consistency_proof(tree, 3, u64::MAX).is_err());
    }
}
