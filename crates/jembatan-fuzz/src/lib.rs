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
];

/// `data` as text, when it is UTF-8: what the text parsers are given.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
