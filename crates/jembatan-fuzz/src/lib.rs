//! The bodies of the fuzz targets: one function per parser of what partners and operators send
//! (see `fuzz/README.md`). Each takes arbitrary bytes, feeds them to the parser and checks what
//! must hold of its answer: no panic, no hang, bounded memory, and what is accepted reads back
//! as itself. `fuzz/` runs them under libFuzzer; `tests/corpora.rs` replays every corpus, so
//! `cargo test` checks what fuzzing found without fuzzing.

#![forbid(unsafe_code)]

pub mod audit;
pub mod domain;
pub mod pki;
pub mod policy;
pub mod records;
pub mod server;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name: the name of its `cargo fuzz` binary and of its corpus folder,
/// `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("nik", domain::nik),
    ("codes", domain::codes),
    ("signed_note", audit::signed_note),
    ("checkpoint", audit::checkpoint),
    ("proofs", audit::proofs),
    ("export", audit::export),
    ("spiffe", pki::spiffe),
    ("crl", pki::crl),
    ("placement", server::placement),
    ("page_token", server::page_token),
    ("config", server::config),
    ("policy_folder", policy::policy_folder),
    ("records_csv", records::records_csv),
    ("records_jsonl", records::records_jsonl),
];

/// `data` as text, when it is UTF-8: what the text parsers are given.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Checks that `text`, a refusal of a record whose NIK is `nik`, does not echo the NIK when it
/// has a NIK's shape (16 digits).
fn check_no_nik(text: &str, nik: &str) {
    let nik_shaped = nik.len() == 16 && nik.bytes().all(|b| b.is_ascii_digit());
    assert!(
        !nik_shaped || !text.contains(nik),
        "{text:?} echoes the NIK"
    );
}
