//! The audit log's parsers: signed notes, checkpoints, inclusion and consistency proofs, and the
//! export that `jembatan audit verify --export` reads.
//!
//! Notes, checkpoints and exports are checked against one fixed log key, the C2SP signed-note
//! known answer of the audit crate's tests (`crates/jembatan-audit/tests/data/rfc6962/
//! known-answers.json`), and the origin of its unit tests: the seeds are signed with it, so
//! that the paths of a note that verifies are reached too.

use std::sync::OnceLock;

use jembatan_audit::checkpoint::{Checkpoint, SignedNote};
use jembatan_audit::merkle::{self, Hash, Subtrees};
use jembatan_audit::note::{SignerKey, VerifierKey};
use jembatan_audit::{export, verify};

/// The fixed log key: the signer key of the known answer.
const SIGNER_KEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
/// The origin of the checkpoints and exports, as in the audit crate's unit tests.
pub const ORIGIN: &str = "jembatan.test.local/audit";

/// The fixed log key, its verifier, and an impostor: another key of the same name.
struct Keys {
    signer: SignerKey,
    verifier: VerifierKey,
    impostor: SignerKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signer = SignerKey::parse(SIGNER_KEY).expect("the known-answer signer key parses");
        let verifier = signer.verifier();
        let impostor = SignerKey::generate(verifier.name()).expect("a key of the same name");
        Keys {
            signer,
            verifier,
            impostor,
        }
    })
}

/// Signed notes and keys. The input is a note (text, blank line, signature lines), and also
/// tried as a verifier key and a signer key. An accepted key or note reads back as itself; a
/// signature line verifies under the fixed key only if it is exactly the one that key makes
/// (Ed25519 is deterministic; nothing else can be forged); a changed text, or the impostor's
/// signature, never verifies; any text that can be a note's, signed by the fixed key, reads
/// back and verifies.
pub fn signed_note(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    let keys = keys();
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(key.to_text(), text.trim_end(), "a verifier key reads back");
    }
    if let Ok(key) = SignerKey::parse(text) {
        assert_eq!(key.to_text(), text.trim_end(), "a signer key reads back");
        let verifier = VerifierKey::parse(&key.verifier().to_text()).expect("its verifier key");
        assert_eq!(verifier, key.verifier());
    }
    if let Ok(note) = SignedNote::parse(text) {
        assert_eq!(note.to_string(), text, "a note reads back as itself");
        assert!(note.text.ends_with('\n') && !note.signatures.is_empty());
        let own = keys.signer.sign(&note.text);
        for line in &note.signatures {
            if keys.verifier.verify(&note.text, line).is_ok() {
                assert_eq!(
                    line, &own,
                    "a signature line verifies that the key did not make"
                );
            }
        }
        assert_eq!(
            note.verify(&keys.verifier).is_ok(),
            note.signatures.contains(&own)
        );
        let changed = SignedNote {
            text: format!("{}x\n", note.text),
            signatures: note.signatures.clone(),
        };
        assert!(changed.verify(&keys.verifier).is_err(), "a changed text");
        let forged = SignedNote {
            text: note.text.clone(),
            signatures: vec![keys.impostor.sign(&note.text)],
        };
        assert!(forged.verify(&keys.verifier).is_err(), "another key's line");
    }
    // A note's text ends in a newline and holds no blank line.
    if text.ends_with('\n') && !text.contains("\n\n") {
        let note = SignedNote {
            text: text.to_owned(),
            signatures: vec![keys.signer.sign(text)],
        };
        let reread = SignedNote::parse(&note.to_string()).expect("a signed text reads back");
        assert_eq!(reread, note);
        reread
            .verify(&keys.verifier)
            .expect("its signature verifies");
    }
}

/// Checkpoints: the input as a checkpoint body, and as a signed checkpoint verified with the
/// fixed key. An accepted body is written back byte for byte, and signed it verifies as itself;
/// a checkpoint that verifies is the body of its note and carries the key's line.
pub fn checkpoint(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    let keys = keys();
    if let Ok(checkpoint) = Checkpoint::parse_body(text) {
        assert_eq!(checkpoint.body(), text, "a checkpoint body reads back");
        let note = SignedNote::parse(&checkpoint.sign(&keys.signer).to_string())
            .expect("a signed checkpoint parses");
        let verified = note
            .verify_checkpoint(&keys.verifier)
            .expect("a signed checkpoint verifies");
        assert_eq!(verified, checkpoint);
    }
    if let Ok(note) = SignedNote::parse(text)
        && let Ok(checkpoint) = note.verify_checkpoint(&keys.verifier)
    {
        assert_eq!(checkpoint.body(), note.text);
        assert!(note.signatures.contains(&keys.signer.sign(&note.text)));
        let forged = SignedNote {
            text: note.text.clone(),
            signatures: vec![keys.impostor.sign(&note.text)],
        };
        assert!(forged.verify_checkpoint(&keys.verifier).is_err());
    }
}

/// The input of the `proofs` target, decoded from its bytes (missing bytes read as zeros):
///
/// - bytes 0..8: `a`, big-endian: the leaf index (inclusion) and `size1` (consistency);
/// - bytes 8..16: `b`, big-endian: the tree size (inclusion) and `size2` (consistency);
/// - then items, each a length byte and that many bytes (the last one cut short by the end of
///   the input): item 0 is the leaf hash (inclusion) and `root1` (consistency), item 1 the root
///   (inclusion) and `root2` (consistency), the others the proof path.
struct ProofInput<'a> {
    a: u64,
    b: u64,
    first: &'a [u8],
    second: &'a [u8],
    path: Vec<&'a [u8]>,
}

impl<'a> ProofInput<'a> {
    fn decode(data: &'a [u8]) -> Self {
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            for (i, byte) in bytes.iter_mut().enumerate() {
                *byte = data.get(at + i).copied().unwrap_or(0);
            }
            u64::from_be_bytes(bytes)
        };
        let mut items = Vec::new();
        let mut rest = data.get(16..).unwrap_or_default();
        while let Some((&len, tail)) = rest.split_first() {
            let (item, tail) = tail.split_at(usize::from(len).min(tail.len()));
            items.push(item);
            rest = tail;
        }
        let mut items = items.into_iter();
        Self {
            a: word(0),
            b: word(8),
            first: items.next().unwrap_or_default(),
            second: items.next().unwrap_or_default(),
            path: items.collect(),
        }
    }
}

/// The length RFC 9162 requires of the inclusion proof of leaf `index` in a tree of `size`
/// leaves (`index < size`): the path up to where it meets the right border, then the border.
fn inclusion_length(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The length RFC 9162 requires of the consistency proof from `size1` to `size2`
/// (`0 < size1 < size2`), as transparency-dev/merkle computes it.
fn consistency_length(size1: u64, size2: u64) -> usize {
    let inner = 64 - ((size1 - 1) ^ (size2 - 1)).leading_zeros();
    let border = (size1 - 1).checked_shr(inner).unwrap_or(0).count_ones();
    let shift = size1.trailing_zeros();
    let seed = usize::from(!size1.is_power_of_two());
    seed + (inner - shift + border) as usize
}

/// Inclusion and consistency proof verification, fed whatever the sizes: it never panics, and
/// what it accepts has the length RFC 9162 requires. Then the crate's own prover, on a small
/// tree drawn from the input: its proofs verify and a flipped bit in them does not; asked about
/// leaves or sizes beyond the tree, it fails instead of panicking, and what it returns verifies.
pub fn proofs(data: &[u8]) {
    let input = ProofInput::decode(data);
    let (a, b) = (input.a, input.b);
    if merkle::verify_inclusion(a, b, input.first, &input.path, input.second).is_ok() {
        assert!(a < b && input.first.len() == 32 && input.second.len() == 32);
        assert_eq!(input.path.len(), inclusion_length(a, b), "{a} in {b}");
    }
    if merkle::verify_consistency(a, b, input.first, input.second, &input.path).is_ok() {
        assert!(0 < a && a <= b);
        if a == b {
            assert!(input.path.is_empty() && input.first == input.second);
        } else {
            assert_eq!(input.path.len(), consistency_length(a, b), "{a} to {b}");
        }
    }

    // A tree of 1 to 64 leaves drawn from the input.
    let n = 1 + b % 64;
    let leaves: Vec<Hash> = (0..n)
        .map(|i| merkle::leaf_hash(&[&i.to_be_bytes()[..], input.first].concat()))
        .collect();
    let tree = leaves.as_slice();
    let root = |size: u64| merkle::root(tree, size).expect("the root of a size within the tree");
    let flip = |proof: &[Hash]| {
        let mut proof = proof.to_vec();
        let at = usize::try_from(a).unwrap_or(0) % proof.len().max(1);
        if let Some(hash) = proof.get_mut(at) {
            hash[data.len() % 32] ^= 1 << (b % 8);
        }
        proof
    };
    let index = a % n;
    let proof = merkle::inclusion_proof(tree, index, n).expect("an inclusion proof");
    assert_eq!(proof.len(), inclusion_length(index, n));
    let leaf = &leaves[usize::try_from(index).expect("a small index")];
    merkle::verify_inclusion(index, n, leaf, &proof, &root(n)).expect("its own proof verifies");
    if !proof.is_empty() {
        assert!(merkle::verify_inclusion(index, n, leaf, &flip(&proof), &root(n)).is_err());
    }
    let size1 = 1 + a % n;
    let proof = merkle::consistency_proof(tree, size1, n).expect("a consistency proof");
    merkle::verify_consistency(size1, n, &root(size1), &root(n), &proof)
        .expect("its own proof verifies");
    if !proof.is_empty() {
        assert!(
            merkle::verify_consistency(size1, n, &root(size1), &root(n), &flip(&proof)).is_err()
        );
    }

    // The prover asked anything of the small tree: an answer verifies.
    if let Ok(proof) = merkle::inclusion_proof(tree, a, b) {
        let leaf = &leaves[usize::try_from(a).expect("a leaf of the tree")];
        merkle::verify_inclusion(a, b, leaf, &proof, &root(b)).expect("a proof it gave");
    }
    if let Ok(proof) = merkle::consistency_proof(tree, a, b) {
        if b <= n {
            merkle::verify_consistency(a, b, &root(a), &root(b), &proof).expect("a proof it gave");
        } else {
            // Equal sizes need no subtree, so none is asked of the tree.
            assert!(a == b && proof.is_empty());
        }
    }
    if let Ok(range) = merkle::range_root(tree, a, b)
        && a == 0
    {
        assert!(b <= n);
        assert_eq!(range, root(b));
    }
    let level = u32::from(input.first.first().copied().unwrap_or(0));
    if let Ok(subtree) = tree.perfect(level, a) {
        assert!(level < 7, "a subtree of 2^{level} leaves in {n}");
        assert_eq!(
            subtree,
            merkle::range_root(tree, a << level, 1 << level).expect("range")
        );
    }
}

/// The export reader, then the whole log verified with the fixed key and origin. Reading is
/// bounded by the input (nothing is allocated for what a line merely declares); a log that
/// verifies holds what the report says: its leaves in order, its checkpoints signed, of this
/// origin and within the log, their roots those of the leaves.
pub fn export(data: &[u8]) {
    let Ok((_origin, contents)) = export::read(data) else {
        return;
    };
    let keys = keys();
    let verified = match verify::verify_log(&contents, &keys.verifier, ORIGIN) {
        Ok(verified) => verified,
        Err(finding) => {
            assert!(!finding.to_string().is_empty());
            return;
        }
    };
    assert_eq!(verified.leaves, contents.leaves.len() as u64);
    assert_eq!(verified.checkpoints, contents.checkpoints.len());
    assert!(verified.integrated <= verified.leaves);
    assert!(verified.nodes <= contents.nodes.len());
    let mut leaves: Vec<_> = contents.leaves.iter().collect();
    leaves.sort_by_key(|leaf| leaf.index);
    let hashes: Vec<Hash> = leaves.iter().map(|leaf| leaf.hash).collect();
    assert!(leaves.iter().zip(0u64..).all(|(leaf, i)| leaf.index == i));
    assert!(leaves.iter().all(|leaf| leaf.hash == leaf.data_hash));
    let tree = hashes.as_slice();
    assert_eq!(
        Some(verified.root),
        merkle::root(tree, verified.leaves).ok()
    );
    for note in &contents.checkpoints {
        let checkpoint = note.verify_checkpoint(&keys.verifier).expect("signed");
        assert_eq!(checkpoint.origin, ORIGIN);
        assert!(checkpoint.size <= verified.integrated);
        assert_eq!(
            Some(checkpoint.root),
            merkle::root(tree, checkpoint.size).ok()
        );
    }
    assert!(
        verified
            .witnessed
            .values()
            .all(|&size| size <= verified.integrated)
    );
}
