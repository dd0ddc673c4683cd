//! The SQLite database file holds personal data, and so do its `-wal` and `-shm` files:
//! mode 0600. The database file is made 0600 before SQLite opens it, and SQLite makes its
//! `-wal` and `-shm` files with the database file's mode; an existing database that others
//! may read is tightened, with a warning naming each file.

use std::ffi::OsString;
use std::fs::{OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the database and its companion files.
const PRIVATE: u32 = 0o600;

/// Creates the database file at `path` with mode 0600 if it is missing; otherwise sets the
/// database file and its `-wal` and `-shm` files, where they exist and group or others may
/// open them, to 0600. Errors name the file.
pub(crate) fn make_private(path: &Path) -> io::Result<()> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE)
        .open(path);
    match created {
        Ok(file) => {
            // The umask may have taken more away; SQLite needs read and write.
            return file
                .set_permissions(Permissions::from_mode(PRIVATE))
                .map_err(|e| named(path, e));
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(named(path, e)),
    }
    for file in [
        path.to_owned(),
        companion(path, "-wal"),
        companion(path, "-shm"),
    ] {
        let mode = match std::fs::metadata(&file) {
            Ok(metadata) => metadata.permissions().mode() & 0o7777,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(named(&file, e)),
        };
        if mode & 0o077 == 0 {
            continue;
        }
        std::fs::set_permissions(&file, Permissions::from_mode(PRIVATE))
            .map_err(|e| named(&file, e))?;
        tracing::warn!(
            file = %file.display(),
            was = format!("{mode:04o}"),
            "the store's file could be read by group or others; its mode is now 0600"
        );
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name, e.g. `jembatan.db-wal`.
fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_new_file_is_0600_and_readable_ones_are_tightened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("new.db");
        make_private(&db).expect("create");
        assert_eq!(mode(&db), PRIVATE);

        let db = dir.path().join("old.db");
        for file in [db.clone(), companion(&db, "-wal")] {
            std::fs::write(&file, b"").expect("write");
            std::fs::set_permissions(&file, Permissions::from_mode(0o644)).expect("chmod");
        }
        make_private(&db).expect("tighten");
        assert_eq!(mode(&db), PRIVATE);
        assert_eq!(mode(&companion(&db, "-wal")), PRIVATE);
        assert!(!companion(&db, "-shm").exists(), "a missing -shm was made");

        let err = make_private(&dir.path().join("missing/x.db")).expect_err("no folder");
        assert!(err.to_string().contains("missing/x.db"), "{err}");
    }

    #[tokio::test]
    async fn sqlite_makes_its_wal_and_shm_files_with_the_database_file_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("store.db");
        let location = crate::StoreLocation::Sqlite(db.clone());
        let store = crate::Store::open(&location, crate::StoreOptions::default())
            .await
            .expect("open");
        // Migrations have written; the store is open, so its -wal and -shm files are there.
        for file in [db.clone(), companion(&db, "-wal"), companion(&db, "-shm")] {
            assert_eq!(format!("{:o}", mode(&file)), "600", "{}", file.display());
        }
        store.close().await;
    }
}
