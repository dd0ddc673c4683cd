//! The Merkle tree against vectors it did not write: the transparency-dev/merkle proof probes
//! and the RFC 6962 known answers vendored in tests/data/rfc6962, and a naive recursive
//! reference for random sizes.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jembatan_audit::merkle::{
    self, Hash, consistency_proof, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion,
};
use proptest::prelude::*;
use serde_json::Value;

fn testdata() -> PathBuf {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo");
    Path::new(&manifest_dir).join("tests/data/rfc6962")
}

/// Every JSON file under `dir`, recursively, sorted.
fn probes(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).expect("read probe");
                found.push((path, serde_json::from_str(&text).expect("probe is JSON")));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn bytes(value: &Value) -> Vec<u8> {
    BASE64
        .decode(value.as_str().unwrap_or_default())
        .expect("base64")
}

fn proof(value: &Value) -> Vec<Vec<u8>> {
    value
        .as_array()
        .map(|a| a.iter().map(bytes).collect())
        .unwrap_or_default()
}

#[test]
fn every_inclusion_probe_passes_or_fails_as_published() {
    let probes = probes(&testdata().join("inclusion"));
    assert_eq!(probes.len(), 98);
    for (path, p) in probes {
        let result = verify_inclusion(
            p["leafIdx"].as_u64().expect("leafIdx"),
            p["treeSize"].as_u64().expect("treeSize"),
            &bytes(&p["leafHash"]),
            &proof(&p["proof"]),
            &bytes(&p["root"]),
        );
        let want_err = p["wantErr"].as_bool().expect("wantErr");
        assert_eq!(result.is_err(), want_err, "{}: {result:?}", path.display());
    }
}

#[test]
fn every_consistency_probe_passes_or_fails_as_published() {
    let probes = probes(&testdata().join("consistency"));
    assert_eq!(probes.len(), 98);
    for (path, p) in probes {
        let result = verify_consistency(
            p["size1"].as_u64().expect("size1"),
            p["size2"].as_u64().expect("size2"),
            &bytes(&p["root1"]),
            &bytes(&p["root2"]),
            &proof(&p["proof"]),
        );
        let want_err = p["wantErr"].as_bool().expect("wantErr");
        assert_eq!(result.is_err(), want_err, "{}: {result:?}", path.display());
    }
}

#[test]
fn known_answers_of_the_hasher_and_the_roots_of_sizes_0_to_8() {
    let text = std::fs::read_to_string(testdata().join("known-answers.json")).expect("read");
    let answers: Value = serde_json::from_str(&text).expect("JSON");
    let hasher = &answers["hasher"];
    assert_eq!(hex::encode(merkle::empty_root()), hasher["empty_root_hex"]);
    assert_eq!(hex::encode(leaf_hash(b"")), hasher["leaf_of_empty_hex"]);
    assert_eq!(
        hex::encode(leaf_hash(b"L123456")),
        hasher["leaf_of_ascii_L123456_hex"]
    );
    // Node hashing is checked through the roots of sizes 2 to 8 below: each is built of nodes.
    let leaves: Vec<Hash> = answers["tree"]["leaf_inputs_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| leaf_hash(&hex::decode(l.as_str().expect("hex")).expect("hex")))
        .collect();
    let roots = answers["tree"]["root_hex_by_size"]
        .as_array()
        .expect("roots");
    assert_eq!(roots.len(), 9);
    for (size, want) in roots.iter().enumerate() {
        let got = root(leaves.as_slice(), size as u64).expect("root");
        assert_eq!(hex::encode(got), *want, "root of size {size}");
    }
}

/// MTH of RFC 6962 §2.1, written as the RFC states it.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = naive_split(n);
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn naive_split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH of RFC 6962 §2.1.1.
fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = naive_split(n);
    if m < k {
        let mut p = naive_path(m, &leaves[..k]);
        p.push(naive_root(&leaves[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &leaves[k..]);
        p.push(naive_root(&leaves[..k]));
        p
    }
}

/// SUBPROOF of RFC 6962 §2.1.2.
fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![naive_root(leaves)]
        };
    }
    let k = naive_split(n);
    if m <= k {
        let mut p = naive_subproof(m, &leaves[..k], whole);
        p.push(naive_root(&leaves[k..]));
        p
    } else {
        let mut p = naive_subproof(m - k, &leaves[k..], false);
        p.push(naive_root(&leaves[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn roots_and_proofs_match_the_naive_reference(n in 1usize..300, a in 0usize..300, b in 0usize..300) {
        let tree = leaves(n);
        let size = n as u64;
        let tree_root = root(tree.as_slice(), size).expect("root");
        prop_assert_eq!(tree_root, naive_root(&tree));

        let index = a % n;
        let path = inclusion_proof(tree.as_slice(), index as u64, size).expect("path");
        prop_assert_eq!(&path, &naive_path(index, &tree));
        prop_assert!(verify_inclusion(index as u64, size, &tree[index], &path, &tree_root).is_ok());
        let other = (index + 1) % n;
        if tree[other] != tree[index] && n > 1 {
            prop_assert!(verify_inclusion(index as u64, size, &tree[other], &path, &tree_root).is_err());
        }

        let size1 = b % n + 1;
        let old_root = root(tree.as_slice(), size1 as u64).expect("root");
        let consistency = consistency_proof(tree.as_slice(), size1 as u64, size).expect("proof");
        prop_assert_eq!(&consistency, &naive_subproof(size1, &tree, true));
        prop_assert!(verify_consistency(size1 as u64, size, &old_root, &tree_root, &consistency).is_ok());
        if size1 < n {
            // A fork: the same old size with a different history is caught.
            let mut forked = tree.clone();
            forked[size1 - 1] = leaf_hash(b"forged");
            let forked_root = root(forked.as_slice(), size).expect("root");
            prop_assert!(verify_consistency(size1 as u64, size, &old_root, &forked_root, &consistency).is_err());
        }
    }
}
