//! How long an auditor's offline verification takes: `jembatan audit verify --export` over a log
//! of realistic leaves, with its node hashes and a checkpoint per sequencer round. The export is
//! written first (not timed), as `jembatan audit export` writes it; then reading and verifying
//! it are timed, each on its own.

use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use jembatan_audit::checkpoint::Checkpoint;
use jembatan_audit::compact::CompactRange;
use jembatan_audit::export::{self, Line};
use jembatan_audit::leaf::{LEAF_VERSION, LeafEntry, Outcome};
use jembatan_audit::merkle;
use jembatan_audit::note::{SignerKey, VerifierKey};
use jembatan_audit::verify::{Verified, verify_log};

const ORIGIN: &str = "jembatan.bench.jembatan.local/audit";

/// Arguments of `audit-verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Leaves in the log.
    #[arg(long, default_value_t = 1_000_000)]
    leaves: u64,
    /// Leaves between checkpoints (the sequencer's round).
    #[arg(long, default_value_t = 10_000)]
    checkpoint_every: u64,
    /// Where to write the export; a temporary file if not given.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let temporary;
    let path = match &args.out {
        Some(path) => path.clone(),
        None => {
            temporary = tempfile::NamedTempFile::new().context("temporary export file")?;
            temporary.path().to_owned()
        }
    };
    let key = SignerKey::generate(ORIGIN)?;
    let written = Instant::now();
    write_export(&path, args, &key)?;
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "export of {} leaves: {:.0} MB, written in {:.2} s (not counted)",
        args.leaves,
        bytes as f64 / 1e6,
        written.elapsed().as_secs_f64()
    );

    let timed = verify_file(&path, &key.verifier())
        .map_err(|e| anyhow::anyhow!("the generated log: {e}"))?;
    let total = timed.total();
    let (verified, read, verify) = (timed.verified, timed.read, timed.verify);
    println!(
        "verified {} leaves, {} nodes, {} checkpoints",
        verified.leaves, verified.nodes, verified.checkpoints
    );
    println!("  read and parse   {:>7.3} s", read.as_secs_f64());
    println!("  verify           {:>7.3} s", verify.as_secs_f64());
    println!(
        "  total            {:>7.3} s  ({:.0} leaves/s; target for 1,000,000 leaves: under 2 s)",
        total.as_secs_f64(),
        verified.leaves as f64 / total.as_secs_f64()
    );
    Ok(())
}

/// A leaf as a ListCandidates response would log it.
fn leaf(index: u64) -> LeafEntry {
    let digest = merkle::leaf_hash(&index.to_be_bytes());
    let hex = hex::encode(digest);
    LeafEntry {
        v: LEAF_VERSION,
        time: format!(
            "2026-11-23T{:02}:{:02}:{:02}.{:03}Z",
            index / 3_600_000 % 24,
            index / 60_000 % 60,
            index / 1000 % 60,
            index % 1000
        ),
        principal: "spiffe://exchange.go.id/agency/kemendag/export-portal".into(),
        cert_fingerprint: hex.clone(),
        method: "WorkforceService/ListCandidates".into(),
        purpose: "BUSINESS_MATCHING".into(),
        legal_basis: "CONSENT".into(),
        case_ref: "ND.12/PEN/2026".into(),
        operator: "op-4f1c".into(),
        record_type: "candidate".into(),
        record_key: hex[..32].to_owned(),
        data_classes: vec!["profile".into(), "contact".into()],
        record_digest: hex,
        outcome: Outcome::Allow,
        policy_ids: vec!["kemendag-candidate-profiles".into()],
        policy_set: format!("sha256:{}", "5e".repeat(32)),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        status: String::new(),
        claimed: String::new(),
        refused_calls: 0,
    }
}

/// What [`verify_file`] checked and how long it took.
pub(crate) struct TimedVerification {
    /// What was checked.
    pub(crate) verified: Verified,
    /// Reading and parsing the export.
    pub(crate) read: Duration,
    /// Verifying it.
    pub(crate) verify: Duration,
}

impl TimedVerification {
    /// Both.
    pub(crate) fn total(&self) -> Duration {
        self.read + self.verify
    }
}

/// Reads the export at `path` and verifies it with `key`, as `jembatan audit verify --export`
/// does, timing each step.
pub(crate) fn verify_file(
    path: &std::path::Path,
    key: &VerifierKey,
) -> anyhow::Result<TimedVerification> {
    let start = Instant::now();
    let file = std::fs::File::open(path)?;
    let (origin, contents) = export::read(BufReader::with_capacity(1 << 20, file))?;
    let read = start.elapsed();
    let verified = verify_log(&contents, key, &origin)
        .map_err(|finding| anyhow::anyhow!("the log does not verify: {finding}"))?;
    Ok(TimedVerification {
        verified,
        read,
        verify: start.elapsed() - read,
    })
}

fn write_export(path: &std::path::Path, args: &Args, key: &SignerKey) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    Line::header(ORIGIN).write(&mut out)?;
    let mut range = CompactRange::default();
    let mut nodes = Vec::new();
    for index in 0..args.leaves {
        let data = leaf(index).to_bytes();
        let hash = merkle::leaf_hash(&data);
        Line::leaf(index, &hash, &data).write(&mut out)?;
        range.append(hash, |node| {
            if node.level > 0 {
                nodes.push(node);
            }
        });
        let size = range.size();
        if size % args.checkpoint_every.max(1) == 0 || size == args.leaves {
            let checkpoint = Checkpoint {
                origin: ORIGIN.into(),
                size,
                root: range.root(),
            };
            Line::Checkpoint {
                note: checkpoint.sign(key).to_string(),
            }
            .write(&mut out)?;
        }
    }
    for node in nodes {
        Line::node(node.level, node.index, &node.hash).write(&mut out)?;
    }
    out.flush()?;
    Ok(())
}
