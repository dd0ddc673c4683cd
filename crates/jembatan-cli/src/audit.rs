//! `jembatan audit`: export the audit log from the exchange's database, and verify an export
//! offline against the log's verifier key.

use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jembatan_audit::note::VerifierKey;
use jembatan_server::Config;
use jembatan_store::{Store, StoreLocation, StoreOptions};

/// `jembatan audit …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Write the whole log (leaves, node hashes, checkpoints) from the exchange's database to a
    /// JSON Lines file, the format `audit verify` reads (documented in jembatan-audit's export
    /// module).
    Export {
        /// The exchange's config file; its store and audit origin are used.
        #[arg(
            long,
            short,
            env = "JEMBATAN_CONFIG",
            default_value = ".jembatan/jembatan.toml"
        )]
        config: PathBuf,
        /// Where to write the export; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an export offline: recompute every node and root from the leaves, check every
    /// checkpoint's signature and consistency. Names the first bad leaf, node or checkpoint and
    /// exits non-zero.
    Verify {
        /// The export file.
        #[arg(long)]
        export: PathBuf,
        /// The log's verifier key, `<name>+<id>+<base64>`, or a file holding it (audit/log.pub).
        #[arg(long)]
        key: String,
    },
}

pub(crate) async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Export { config, out } => export(&config, &out).await,
        AuditCommand::Verify { export, key } => verify(&export, &key),
    }
}

async fn export(config: &std::path::Path, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config, std::env::vars())?;
    let location = StoreLocation::parse(&config.store.url)?;
    let store = Store::open(&location, StoreOptions::default()).await?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("{} (it must not exist)", out.display()))?;
    let mut writer = BufWriter::new(file);
    let leaves = store.export(&config.audit_origin(), &mut writer).await?;
    writer.flush().with_context(|| out.display().to_string())?;
    store.close().await;
    println!(
        "exported {leaves} leaves of {} to {}",
        config.audit_origin(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(export: &std::path::Path, key: &str) -> anyhow::Result<ExitCode> {
    let key_text = if key.contains('+') {
        key.to_owned()
    } else {
        std::fs::read_to_string(key).with_context(|| format!("verifier key file {key}"))?
    };
    let key = VerifierKey::parse(key_text.trim())?;
    let file = std::fs::File::open(export).with_context(|| export.display().to_string())?;
    let (origin, contents) = jembatan_audit::export::read(BufReader::new(file))?;
    match jembatan_audit::verify::verify_log(&contents, &key, &origin) {
        Ok(verified) => {
            let root: String = verified.root.iter().map(|b| format!("{b:02x}")).collect();
            println!(
                "ok: {origin}: {} leaves, {} nodes and {} checkpoints verified; root {root}",
                verified.leaves, verified.nodes, verified.checkpoints
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(finding) => {
            eprintln!("jembatan: {origin}: FAILED: {finding}");
            Ok(ExitCode::FAILURE)
        }
    }
}
