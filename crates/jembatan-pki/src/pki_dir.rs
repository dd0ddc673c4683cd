//! The on-disk PKI folder: `ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`, one
//! `NAME.pem` / `NAME-key.pem` pair per client, and the CA's revocation list `crl.pem` with its
//! record `revoked.json` (see [`crate::revocation`]). Private keys are written with mode 0600,
//! and no certificate or key is ever overwritten.

use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::{DevCa, IssuedCert, PkiError, SpiffeId, TrustDomain, revocation};

/// File name stem of the CA.
pub const CA: &str = "ca";
/// File name stem of the server certificate.
pub const SERVER: &str = "server";

/// Path of `NAME.pem` in `dir`.
pub fn cert_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pem"))
}

/// Path of `NAME-key.pem` in `dir`.
pub fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}-key.pem"))
}

/// Creates a CA for the trust domain, a server certificate for `localhost`, `127.0.0.1` and
/// `::1`, and an empty signed `crl.pem` in `dir`. Fails, changing nothing, if the CA or a
/// revocation list exists already.
pub fn init(dir: &Path, trust_domain: &TrustDomain) -> Result<DevCa, PkiError> {
    for name in [CA, SERVER] {
        refuse_existing(dir, name)?;
    }
    for path in [revocation::crl_path(dir), revocation::revoked_path(dir)] {
        if path.exists() {
            return Err(PkiError::AlreadyExists(path));
        }
    }
    std::fs::create_dir_all(dir).map_err(PkiError::io(dir))?;
    let ca = DevCa::generate(trust_domain)?;
    let server = ca.issue_server(
        &["localhost"],
        &[
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
    )?;
    write_pair(
        dir,
        CA,
        &IssuedCert {
            cert_pem: ca.cert_pem().into(),
            key_pem: ca.key_pem().into(),
        },
    )?;
    write_pair(dir, SERVER, &server)?;
    revocation::sign(dir, &ca, revocation::DEFAULT_NEXT_UPDATE_DAYS)?;
    Ok(ca)
}

/// Loads the CA of a folder made by [`init`].
pub fn load_ca(dir: &Path) -> Result<DevCa, PkiError> {
    let cert_path = cert_path(dir, CA);
    let key_path = key_path(dir, CA);
    let cert = std::fs::read_to_string(&cert_path).map_err(PkiError::io(&cert_path))?;
    let key = std::fs::read_to_string(&key_path).map_err(PkiError::io(&key_path))?;
    DevCa::from_pem(&cert, &key)
}

/// Issues a client certificate for `id` into `NAME.pem` / `NAME-key.pem`. Fails, changing
/// nothing, if either exists.
pub fn issue(dir: &Path, ca: &DevCa, name: &str, id: &SpiffeId) -> Result<PathBuf, PkiError> {
    check_file_name(name)?;
    refuse_existing(dir, name)?;
    let issued = ca.issue_client(id)?;
    write_pair(dir, name, &issued)?;
    Ok(cert_path(dir, name))
}

/// Writes a certificate and its key (mode 0600) as `NAME.pem` / `NAME-key.pem`.
pub fn write_pair(dir: &Path, name: &str, issued: &IssuedCert) -> Result<(), PkiError> {
    write_new(&key_path(dir, name), issued.key_pem.as_bytes(), 0o600)?;
    write_new(&cert_path(dir, name), issued.cert_pem.as_bytes(), 0o644)
}

/// Writes a new file with the given mode; fails if it exists.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => PkiError::AlreadyExists(path.into()),
            _ => PkiError::Io {
                path: path.into(),
                source,
            },
        })?;
    file.write_all(contents).map_err(PkiError::io(path))?;
    file.sync_all().map_err(PkiError::io(path))
}

/// Replaces a file atomically with the given mode: a reader finds the old contents or the
/// new, never part of either.
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| PkiError::InvalidName(format!("{}: not a file name", path.display())))?;
    let mut temporary = OsString::from(".");
    temporary.push(file_name);
    temporary.push(".tmp");
    let temporary = path.with_file_name(temporary);
    // Left by a crash; the caller holds whatever lock guards `path`.
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(PkiError::Io {
                path: temporary,
                source: e,
            });
        }
        _ => {}
    }
    write_new(&temporary, contents, mode)?;
    std::fs::rename(&temporary, path).map_err(PkiError::io(path))
}

fn refuse_existing(dir: &Path, name: &str) -> Result<(), PkiError> {
    for path in [cert_path(dir, name), key_path(dir, name)] {
        if path.exists() {
            return Err(PkiError::AlreadyExists(path));
        }
    }
    Ok(())
}

pub(crate) fn check_file_name(name: &str) -> Result<(), PkiError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name != CA
        && name != SERVER;
    if valid {
        Ok(())
    } else {
        Err(PkiError::InvalidName(format!(
            "name {name:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and not 'ca' or 'server'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn init_and_issue_write_keys_0600_and_never_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let td = TrustDomain::new("test.jembatan.local").expect("trust domain");
        init(dir.path(), &td).expect("init");
        assert!(matches!(
            init(dir.path(), &td),
            Err(PkiError::AlreadyExists(_))
        ));

        let ca = load_ca(dir.path()).expect("load");
        let id = SpiffeId::auditor(&td, "inspectorate").expect("id");
        issue(dir.path(), &ca, "auditor", &id).expect("issue");
        assert!(matches!(
            issue(dir.path(), &ca, "auditor", &id),
            Err(PkiError::AlreadyExists(_))
        ));
        assert!(matches!(
            issue(dir.path(), &ca, "../x", &id),
            Err(PkiError::InvalidName(_))
        ));

        for name in [CA, SERVER, "auditor"] {
            let mode = std::fs::metadata(key_path(dir.path(), name))
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}-key.pem");
            crate::private_file::require_private(&key_path(dir.path(), name))
                .expect("key accepted as private");
        }
        assert!(
            revocation::crl_path(dir.path()).is_file(),
            "init wrote no CRL"
        );
    }
}
