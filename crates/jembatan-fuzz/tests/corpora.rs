//! Replays every fuzz target's corpus (`fuzz/corpus/<target>/`: the seeds taken from the
//! tests, and every input fuzzing found to crash, hang or blow memory once it was fixed), so
//! that `cargo test` checks them without fuzzing. A target without a corpus, or a corpus folder
//! without a target, fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpora() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_target_has_a_corpus_and_every_corpus_a_target() {
    let folders: BTreeSet<String> = std::fs::read_dir(corpora())
        .expect("fuzz/corpus")
        .map(|entry| {
            entry
                .expect("corpus entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let targets: BTreeSet<String> = jembatan_fuzz::TARGETS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(folders, targets);
}

#[test]
fn every_corpus_replays() {
    for (name, target) in jembatan_fuzz::TARGETS {
        let folder = corpora().join(name);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of {name} is empty");
        for input in inputs {
            let data = std::fs::read(&input).expect("corpus input");
            // A panic names the input: `cargo fuzz run <name> <input>` reproduces it.
            eprintln!("{name}: {}", input.display());
            target(&data);
        }
    }
}
