//! Files that hold private keys or personal data: created with mode 0600, and refused when
//! group or others may open them.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::PkiError;

/// Mode of a private file: read and write for its owner only.
pub const PRIVATE_MODE: u32 = 0o600;

/// Refuses a key file that group or others may read (or write): the error names the file and
/// the fix, `chmod 600 <path>`.
pub fn require_private(path: &Path) -> Result<(), PkiError> {
    let metadata = std::fs::metadata(path).map_err(PkiError::io(path))?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PkiError::NotPrivate {
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

/// Creates or truncates a file for writing with mode 0600; an existing file's mode is set to
/// 0600 too.
pub fn create_private(path: &Path) -> io::Result<File> {
    // Tightened before it is emptied and written: what is written never has a wider mode.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(PRIVATE_MODE))?;
    file.set_len(0)?;
    Ok(file)
}

/// Creates a new file for writing with mode 0600; fails if it exists.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(path)?;
    // The umask may have taken more away; never less than the owner's read and write.
    file.set_permissions(Permissions::from_mode(PRIVATE_MODE))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn created_files_are_0600_even_over_a_readable_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rejects.jsonl");
        std::fs::write(&path, "old personal data\n").expect("write");
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        let mut file = create_private(&path).expect("create");
        file.write_all(b"new\n").expect("write");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");

        let fresh = dir.path().join("export.jsonl");
        create_new_private(&fresh).expect("create new");
        assert_eq!(mode(&fresh), 0o600);
        assert_eq!(
            create_new_private(&fresh).expect_err("exists").kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn keys_others_may_open_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server-key.pem");
        std::fs::write(&path, "key").expect("write");
        for open in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, Permissions::from_mode(open)).expect("chmod");
            let err = require_private(&path).expect_err("readable key accepted");
            let text = err.to_string();
            assert!(
                text.contains(&format!("chmod 600 {}", path.display())),
                "{text}"
            );
            assert!(text.contains(&format!("{open:04o}")), "{text}");
        }
        for private in [0o600, 0o400] {
            std::fs::set_permissions(&path, Permissions::from_mode(private)).expect("chmod");
            require_private(&path).expect("private key refused");
        }
        let missing = dir.path().join("missing-key.pem");
        let err = require_private(&missing).expect_err("missing");
        assert!(err.to_string().contains("missing-key.pem"), "{err}");
    }
}
