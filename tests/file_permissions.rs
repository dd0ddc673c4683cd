//! Files that hold personal data or keys are for their owner only (mode 0600): the SQLite
//! store with its -wal and -shm files, tightened when found readable, and the key files the
//! dev PKI writes; a key that others may read is refused with the fix.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use jembatan_pki::private_file::require_private;
use jembatan_pki::{SpiffeId, pki_dir};
use jembatan_tests::store::{store_placements, stored_placements};
use jembatan_tests::{TestPki, open_store, pki_file};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The database file and its -wal and -shm files.
fn database_files(pki: &TestPki, name: &str) -> [PathBuf; 3] {
    [
        pki_file(pki, name),
        pki_file(pki, &format!("{name}-wal")),
        pki_file(pki, &format!("{name}-shm")),
    ]
}

#[tokio::test]
async fn a_new_sqlite_store_and_its_wal_and_shm_files_are_0600() {
    let pki = TestPki::new();
    let store = open_store(&pki, "sqlite://fresh.db").await;
    store_placements(&store, 0..20).await;
    // While the store is open, SQLite keeps its -wal and -shm files.
    for file in database_files(&pki, "fresh.db") {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    store.close().await;
}

#[tokio::test]
async fn an_existing_store_others_may_read_is_tightened_and_still_opens() {
    let pki = TestPki::new();
    let first = open_store(&pki, "sqlite://old.db").await;
    store_placements(&first, 0..5).await;
    // As a store made before, or copied with a umask of 022, would be.
    let files = database_files(&pki, "old.db");
    for file in &files {
        chmod(file, 0o644);
    }
    let second = open_store(&pki, "sqlite://old.db").await;
    for file in &files {
        assert_eq!(mode(file), 0o600, "{} not tightened", file.display());
    }
    store_placements(&second, 5..10).await;
    assert_eq!(stored_placements(&second).await.len(), 10);
    second.close().await;
    first.close().await;
}

#[test]
fn readable_keys_are_refused_naming_the_fix_and_private_ones_accepted() {
    let pki = TestPki::new();
    let key = pki_dir::key_path(pki.dir.path(), pki_dir::SERVER);
    chmod(&key, 0o644);
    let err = require_private(&key).expect_err("a key others may read was accepted");
    let text = err.to_string();
    assert!(
        text.contains(&format!("chmod 600 {}", key.display())),
        "{text}"
    );
    assert!(text.contains("0644"), "{text}");
    chmod(&key, 0o600);
    require_private(&key).expect("a 0600 key was refused");
}

#[test]
fn every_key_the_dev_pki_writes_is_private() {
    let pki = TestPki::new();
    let id = SpiffeId::agency(pki.ca.trust_domain(), "kp2mi", "siskop2mi").expect("id");
    pki_dir::issue(pki.dir.path(), &pki.ca, "kp2mi", &id).expect("issue");
    for name in [pki_dir::CA, pki_dir::SERVER, "kp2mi"] {
        let key = pki_dir::key_path(pki.dir.path(), name);
        require_private(&key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
}

#[tokio::test]
async fn the_exchange_refuses_to_start_with_a_key_others_can_read() {
    let pki = TestPki::new();
    let config = jembatan_tests::config(&pki, "sqlite://jembatan.db", "");
    for key in [
        pki_file(&pki, "audit/log.key"),
        pki_file(&pki, "keys/personal-data.key"),
        pki_file(&pki, "server-key.pem"),
    ] {
        chmod(&key, 0o644);
        let error = match jembatan_server::Exchange::bind(&config).await {
            Ok(_) => panic!(
                "{} readable by others, and the exchange started",
                key.display()
            ),
            Err(error) => error.to_string(),
        };
        assert!(
            error.contains(&key.display().to_string()) && error.contains("chmod 600"),
            "{error}"
        );
        chmod(&key, 0o600);
    }
    let exchange = jembatan_server::Exchange::bind(&config)
        .await
        .expect("starts once fixed");
    drop(exchange);
}
