/// Errors of the audit log's cryptography.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A signer or verifier key's text is not of the signed-note form.
    #[error("malformed {what} key: {reason}")]
    MalformedKey {
        /// `signer` or `verifier`.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key name is empty or holds whitespace or `+`.
    #[error("key name {0:?} must be non-empty and hold no whitespace or '+'")]
    InvalidKeyName(String),
    /// A signature line is not of the form `— <name> <base64>`.
    #[error("malformed signature line")]
    MalformedSignature,
    /// A signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A proof was asked for a leaf outside the tree.
    #[error("leaf {index} is outside a tree of {size} leaves")]
    OutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Tree sizes that no consistency proof relates (`0 < size1 <= size2` is required).
    #[error("no consistency proof from size {size1} to size {size2}")]
    BadSizes {
        /// The older size.
        size1: u64,
        /// The newer size.
        size2: u64,
    },
    /// A checkpoint or signed note is not of the C2SP form.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// Stored leaf bytes are not a leaf entry.
    #[error("malformed leaf: {0}")]
    MalformedLeaf(String),
    /// An export could not be written or read.
    #[error("audit export: {0}")]
    Export(String),
    /// A hash is not 32 bytes long.
    #[error("{0} is not 32 bytes")]
    NotAHash(&'static str),
    /// A proof does not verify.
    #[error("{0}")]
    BadProof(&'static str),
    /// A subtree root a proof needs is not stored.
    #[error("subtree root at level {level}, index {index} is missing")]
    MissingNode {
        /// Level: the subtree holds 2^level leaves.
        level: u32,
        /// Index of the subtree at its level.
        index: u64,
    },
    /// A tree's border needs one subtree root per set bit of its size.
    #[error("a tree of {size} leaves has {} border subtrees, not {roots}", .size.count_ones())]
    BadBorder {
        /// The tree size.
        size: u64,
        /// How many roots were given.
        roots: usize,
    },
    /// A witness was offered a checkpoint of another log.
    #[error("the checkpoint is of log {offered:?}, not of {remembered:?}")]
    ForeignOrigin {
        /// The origin the witness remembers.
        remembered: String,
        /// The origin offered.
        offered: String,
    },
    /// A witness was offered a smaller tree than it verified before.
    #[error(
        "ROLLBACK: the log offers {offered} leaves but was verified at {remembered} leaves before"
    )]
    Rollback {
        /// The size the witness remembers.
        remembered: u64,
        /// The size offered.
        offered: u64,
    },
    /// Two checkpoints of one size with different roots.
    #[error(
        "FORK: the log offers a checkpoint of {size} leaves whose root differs from the one verified before"
    )]
    Fork {
        /// The size of both checkpoints.
        size: u64,
    },
    /// A newer checkpoint does not extend the one verified before.
    #[error(
        "INCONSISTENT: the checkpoint of {to} leaves does not extend the one of {from} leaves verified before; the log was rewritten"
    )]
    Inconsistent {
        /// The size verified before.
        from: u64,
        /// The size offered.
        to: u64,
    },
    /// A checkpoint lacks a required witness's cosignature.
    #[error("the checkpoint of {size} leaves is not cosigned by {witness}")]
    NotCosigned {
        /// The witness key's name.
        witness: String,
        /// The checkpoint's size.
        size: u64,
    },
    /// The system random number generator failed.
    #[error("system random number generator failed")]
    Random,
}
