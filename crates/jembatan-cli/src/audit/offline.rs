//! `jembatan audit export` from the exchange's database, and `jembatan audit verify`: offline
//! from an export, or from the exchange's API.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jembatan_server::Config;
use jembatan_store::{Store, StoreLocation, StoreOptions};

use super::{AuditCallArgs, NOT_VERIFIED};

/// Arguments of `jembatan audit export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
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
}

/// Arguments of `jembatan audit verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// Verify this export offline (with --log-key) instead of calling the exchange. Offline,
    /// every stored node and checkpoint is checked and the first bad leaf or node is named.
    #[arg(long)]
    export: Option<PathBuf>,
    #[command(flatten)]
    call: AuditCallArgs,
}

pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, std::env::vars())?;
    let location = StoreLocation::parse(&config.store.url)?;
    let store = Store::open(&location, StoreOptions::default()).await?;
    let out = &args.out;
    // Mode 0600: the leaves name callers and records.
    let file = jembatan_pki::private_file::create_new_private(out)
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

pub(crate) async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    match &args.export {
        Some(export) => verify_export(export, &args.call.log_key()?),
        None => verify_from_api(&args.call).await,
    }
}

fn verify_export(
    export: &Path,
    key: &jembatan_audit::note::VerifierKey,
) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(export).with_context(|| export.display().to_string())?;
    let (origin, contents) = jembatan_audit::export::read(BufReader::new(file))?;
    match jembatan_audit::verify::verify_log(&contents, key, &origin) {
        Ok(verified) => {
            println!(
                "ok: {origin}: {} leaves, {} nodes and {} checkpoints verified; root {}",
                verified.leaves,
                verified.nodes,
                verified.checkpoints,
                hex::encode(verified.root)
            );
            if verified.leaves > verified.integrated {
                println!(
                    "  the latest checkpoint covers {} leaves; {} more await the sequencer",
                    verified.integrated,
                    verified.leaves - verified.integrated
                );
            }
            for (witness, size) in &verified.witnessed {
                let name = witness.split('+').next().unwrap_or(witness);
                println!("  cosigned by {name} up to the checkpoint of {size} leaves");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(finding) => {
            eprintln!("jembatan: {origin}: FAILED: {finding}");
            Ok(ExitCode::from(NOT_VERIFIED))
        }
    }
}

async fn verify_from_api(call: &AuditCallArgs) -> anyhow::Result<ExitCode> {
    let log_key = call.log_key()?;
    let mut client = call.client("auditor").await?;
    let mut shown = 0u64;
    let verified = client
        .verify_log(&log_key, |done, total| {
            // A line per 10% on big logs, so that a long run shows it is alive.
            if total >= 100_000 && done * 10 / total > shown {
                shown = done * 10 / total;
                eprintln!("  {done} of {total} leaves");
            }
        })
        .await?;
    let checkpoint = &verified.checkpoint;
    call.require_cosignatures(checkpoint)?;
    println!(
        "ok: {}: {} leaves recomputed from the listed entries; root {} matches the checkpoint \
         signed by the log",
        checkpoint.checkpoint.origin,
        verified.leaves,
        hex::encode(checkpoint.checkpoint.root)
    );
    super::print_cosignatures(call, checkpoint)?;
    Ok(ExitCode::SUCCESS)
}
