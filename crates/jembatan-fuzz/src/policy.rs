//! The policy folder loader (not Cedar itself).

use std::path::Path;

use jembatan_policy::{Policies, PolicyError, PolicySource};

/// The folder the fuzzed files are said to be in (named in errors only).
const FOLDER: &str = "policies";

/// The line that starts a file of the folder in an input: `-- <name> --` (as in the txtar
/// format); what comes before the first such line is not in the folder.
fn folder_files(text: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let marker = line.trim_end_matches(['\n', '\r']);
        let name = marker
            .strip_prefix("-- ")
            .and_then(|rest| rest.strip_suffix(" --"));
        match (name, files.last_mut()) {
            (Some(name), _) => files.push((name.to_owned(), String::new())),
            (None, Some((_, file))) => file.push_str(line),
            (None, None) => {}
        }
    }
    files
}

/// The policy folder loader, from the input split into files by `-- <name> --` lines: no
/// panic; the folder's hash is `sha256:<hex>`, the same however often and in whatever order its
/// files are read; a folder that loads keeps that hash, and loads again the same; a refusal
/// locates each problem in a file of the folder.
pub fn policy_folder(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    let files = folder_files(text);
    let dir = Path::new(FOLDER);
    let source = PolicySource::from_files(dir, files.clone());
    assert_eq!(PolicySource::from_files(dir, files.clone()), source);
    let hex = source.hash.strip_prefix("sha256:").expect("sha256:");
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() == files.len() {
        let reversed = PolicySource::from_files(dir, files.iter().rev().cloned());
        assert_eq!(reversed.hash, source.hash, "the order of the files counts");
    }
    match Policies::compile(&source) {
        Ok(policies) => {
            assert_eq!(policies.hash().as_ref(), source.hash);
            let again = Policies::compile(&source).expect("a folder that loaded loads again");
            assert_eq!(again.hash(), policies.hash());
            assert_eq!(again.origins(), policies.origins());
            for (id, origin) in policies.origins() {
                let file = source
                    .policy_files
                    .iter()
                    .find(|f| f.name == origin.file)
                    .unwrap_or_else(|| panic!("{id} is in no file: {origin:?}"));
                assert!((1..=file.text.lines().count()).contains(&origin.line));
            }
        }
        Err(PolicyError::NoPolicies(_)) => assert!(source.policy_files.is_empty()),
        Err(PolicyError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty());
            for problem in problems {
                let file = source
                    .policy_files
                    .iter()
                    .chain(&source.schema_files)
                    .find(|f| f.name == problem.file)
                    .unwrap_or_else(|| panic!("{problem} is in no file"));
                if let Some((line, column)) = problem.position {
                    assert!(line >= 1 && column >= 1, "{problem}");
                    assert!(line <= file.text.split('\n').count(), "{problem}");
                }
            }
        }
        Err(other) => panic!("a folder is refused only for its files: {other}"),
    }
}
