//! The right border of a growing tree: the roots of its perfect subtrees, one per set bit of the
//! size. Appending leaves to it yields each newly completed subtree root once, which is what a
//! log stores (never updating a stored node), and the new root.

use crate::AuditError;
use crate::merkle::{Hash, empty_root, node_hash};

/// A completed perfect subtree: 2^`level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height; level 0 is a leaf hash.
    pub level: u32,
    /// Position among the subtrees of its level.
    pub index: u64,
    /// Its root.
    pub hash: Hash,
}

/// The perfect-subtree roots of a tree of `size` leaves, largest (leftmost) first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    roots: Vec<Hash>,
}

impl CompactRange {
    /// The border of a tree of `size` leaves from its subtree roots, largest first: one for each
    /// set bit of `size`.
    pub fn new(size: u64, roots: Vec<Hash>) -> Result<Self, AuditError> {
        if roots.len() != size.count_ones() as usize {
            return Err(AuditError::BadBorder {
                size,
                roots: roots.len(),
            });
        }
        Ok(Self { size, roots })
    }

    /// The (level, index) of each border subtree of a tree of `size` leaves, largest first.
    pub fn positions(size: u64) -> Vec<(u32, u64)> {
        (0..64u32)
            .rev()
            .filter(|level| size & (1 << level) != 0)
            .map(|level| (level, (size >> level) - 1))
            .collect()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash; `completed` is called for the leaf (level 0) and for every
    /// subtree it completes, bottom up.
    pub fn append(&mut self, leaf: Hash, mut completed: impl FnMut(Node)) {
        let mut node = Node {
            level: 0,
            index: self.size,
            hash: leaf,
        };
        completed(node);
        // Each trailing one bit of the old size is a subtree of that level that the new one
        // completes into a parent.
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self
                .roots
                .pop()
                .unwrap_or_else(|| unreachable!("one root per set bit"));
            node = Node {
                level: node.level + 1,
                index: node.index >> 1,
                hash: node_hash(&left, &node.hash),
            };
            completed(node);
            size >>= 1;
        }
        self.roots.push(node.hash);
        self.size += 1;
    }

    /// The RFC 6962 root of the tree.
    pub fn root(&self) -> Hash {
        let mut roots = self.roots.iter().rev();
        let Some(first) = roots.next() else {
            return empty_root();
        };
        roots.fold(*first, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Subtrees, leaf_hash, root};

    #[test]
    fn appending_matches_the_root_and_emits_every_perfect_subtree_once() {
        let leaves: Vec<Hash> = (0u64..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut range = CompactRange::default();
        let mut emitted = Vec::new();
        for (n, leaf) in leaves.iter().enumerate() {
            assert_eq!(
                range.root(),
                root(leaves.as_slice(), n as u64).expect("root")
            );
            range.append(*leaf, |node| emitted.push(node));
        }
        assert_eq!(range.root(), root(leaves.as_slice(), 70).expect("root"));
        // 70 leaves hold 70 + 35 + 17 + 8 + 4 + 2 + 1 perfect subtrees.
        assert_eq!(emitted.len(), 70 + 35 + 17 + 8 + 4 + 2 + 1);
        for node in &emitted {
            let expected = leaves
                .as_slice()
                .perfect(node.level, node.index)
                .expect("subtree");
            assert_eq!(
                node.hash, expected,
                "level {} index {}",
                node.level, node.index
            );
        }
    }

    #[test]
    fn a_range_is_rebuilt_from_its_stored_border() {
        let leaves: Vec<Hash> = (0u64..45).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let border: Vec<Hash> = CompactRange::positions(45)
            .into_iter()
            .map(|(level, index)| leaves.as_slice().perfect(level, index).expect("subtree"))
            .collect();
        assert_eq!(
            CompactRange::positions(45),
            [(5, 0), (3, 4), (2, 10), (0, 44)]
        );
        let range = CompactRange::new(45, border).expect("border");
        assert_eq!(range.root(), root(leaves.as_slice(), 45).expect("root"));
        assert!(CompactRange::new(45, vec![]).is_err());
    }
}
