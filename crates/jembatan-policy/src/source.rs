//! A policy folder as read from disk: its `*.cedar` files and schema copy, and the hash that
//! names the set in decisions, audit leaves and `jembatan policy status`.

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
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
            let entry = entry.map_err(read_err(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_policy = name.ends_with(".cedar") || name.ends_with(".cedarschema");
            if is_policy && !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        let mut policy_files = Vec::new();
        let mut schema_files = Vec::new();
        let mut hasher = digest::Context::new(&digest::SHA256);
        for name in names {
            let path = dir.join(&name);
            let text = std::fs::read_to_string(&path).map_err(read_err(&path))?;
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
        Ok(Self {
            dir: dir.to_path_buf(),
            policy_files,
            schema_files,
            hash,
        })
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
}
