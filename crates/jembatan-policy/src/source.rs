//! A policy folder as read from disk, or given as its files: its `*.cedar` files and schema
//! copy, and the hash that names the set in decisions, audit leaves and `jembatan policy status`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ring::digest;

use crate::PolicyError;
use crate::schema::SCHEMA_FILE;

/// One file of a policy folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// File name within the folder.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The policy files of a folder, sorted by name. Files that end neither in `.cedar` nor in
/// `.cedarschema` (a README, editor backups) are not policy and are left out; so are hidden files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// The folder.
    pub dir: PathBuf,
    /// `*.cedar` files.
    pub policy_files: Vec<SourceFile>,
    /// `*.cedarschema` files (at most `jembatan.cedarschema`, checked on compile).
    pub schema_files: Vec<SourceFile>,
    /// `sha256:<hex>` over every file's name and text: equal folders, equal hashes.
    pub hash: String,
}

impl PolicySource {
    /// Reads the policy files of `dir`.
    pub fn read_dir(dir: &Path) -> Result<Self, PolicyError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PolicyError::Read { path, source }
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
            let entry = entry.map_err(read_err(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_policy_file(&name) {
                let path = dir.join(&name);
                let text = std::fs::read_to_string(&path).map_err(read_err(&path))?;
                files.push((name, text));
            }
        }
        Ok(Self::from_files(dir, files))
    }

    /// The folder `dir` holding `files`, each a file name and its text, as
    /// [`PolicySource::read_dir`] would read it: files that are not policy are left out, the
    /// others sorted by name; of two files of the same name (which no folder holds) the later
    /// one is kept.
    pub fn from_files(dir: &Path, files: impl IntoIterator<Item = (String, String)>) -> Self {
        let files: BTreeMap<String, String> = files
            .into_iter()
            .filter(|(name, _)| is_policy_file(name))
            .collect();
        let mut policy_files = Vec::new();
        let mut schema_files = Vec::new();
        let mut hasher = digest::Context::new(&digest::SHA256);
        for (name, text) in files {
            for part in [name.as_bytes(), text.as_bytes()] {
                hasher.update(&(part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
            let file = SourceFile { name, text };
            if file.name.ends_with(".cedar") {
                policy_files.push(file);
            } else {
                schema_files.push(file);
            }
        }
        let hash = format!("sha256:{}", hex::encode(hasher.finish()));
        Self {
            dir: dir.to_path_buf(),
            policy_files,
            schema_files,
            hash,
        }
    }

    /// Whether a schema file in the folder is not the built-in schema (a mistake: editing the
    /// copy does not change what the exchange sends). Returns the offending file names.
    pub fn foreign_schema_files(&self) -> Vec<&str> {
        self.schema_files
            .iter()
            .filter(|file| file.name != SCHEMA_FILE || file.text != crate::schema::SCHEMA_TEXT)
            .map(|file| file.name.as_str())
            .collect()
    }
}

/// Whether the file `name` is policy: a `*.cedar` or `*.cedarschema` file, not hidden.
fn is_policy_file(name: &str) -> bool {
    (name.ends_with(".cedar") || name.ends_with(".cedarschema")) && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_names_the_content_and_ignores_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.cedar"), "// a\n").expect("write");
        let first = PolicySource::read_dir(dir.path()).expect("read");
        assert!(first.hash.starts_with("sha256:") && first.hash.len() == 71);

        std::fs::write(dir.path().join("README.md"), "notes").expect("write");
        std::fs::write(dir.path().join(".a.cedar.swp"), "x").expect("write");
        assert_eq!(
            PolicySource::read_dir(dir.path()).expect("read").hash,
            first.hash
        );

        std::fs::write(dir.path().join("a.cedar"), "// b\n").expect("write");
        assert_ne!(
            PolicySource::read_dir(dir.path()).expect("read").hash,
            first.hash
        );
    }

    #[test]
    fn moving_text_between_files_changes_the_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.cedar"), "ab").expect("write");
        std::fs::write(dir.path().join("b.cedar"), "").expect("write");
        let before = PolicySource::read_dir(dir.path()).expect("read").hash;
        std::fs::write(dir.path().join("a.cedar"), "a").expect("write");
        std::fs::write(dir.path().join("b.cedar"), "b").expect("write");
        assert_ne!(
            PolicySource::read_dir(dir.path()).expect("read").hash,
            before
        );
    }

    #[test]
    fn files_given_in_memory_read_as_their_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = [
            ("b.cedar", "// b\n"),
            ("a.cedar", "// a\n"),
            ("jembatan.cedarschema", "namespace X {}\n"),
            ("README.md", "notes"),
            (".a.cedar", "hidden"),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let read = PolicySource::read_dir(dir.path()).expect("read");
        let given = |order: &mut dyn Iterator<Item = &(&str, &str)>| {
            PolicySource::from_files(
                dir.path(),
                order.map(|(name, text)| ((*name).to_owned(), (*text).to_owned())),
            )
        };
        assert_eq!(given(&mut files.iter()), read);
        assert_eq!(given(&mut files.iter().rev()), read, "in any order");
        let names: Vec<&str> = read.policy_files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.cedar", "b.cedar"]);
        assert_eq!(read.schema_files.len(), 1);
    }
}
