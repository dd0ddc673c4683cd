//! `jembatan audit checkpoint|prove`: signed checkpoints and inclusion proofs, each checked
//! against the log's verifier key before anything is printed as true.

use std::process::ExitCode;

use anyhow::Context;
use jembatan_audit::merkle::Hash;
use jembatan_client::convert::timestamp;

use super::{AuditCallArgs, print_cosignatures};

/// Arguments of `jembatan audit checkpoint`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckpointArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    /// The checkpoint of this many leaves; the latest if not given.
    #[arg(long, default_value_t = 0)]
    size: u64,
    /// Print the signed note as the exchange sent it (cosignatures included), nothing else.
    #[arg(long, conflicts_with = "json")]
    note: bool,
    /// JSON instead of a readable list.
    #[arg(long)]
    json: bool,
}

/// Arguments of `jembatan audit prove`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    /// The leaf index (a receipt's leaf_index).
    index: u64,
    /// The leaf hash from a receipt, hex; without it the entry is fetched (auditors only) and
    /// its bytes hashed.
    #[arg(long, value_parser = parse_hash)]
    leaf_hash: Option<Hash>,
    /// Prove inclusion in the checkpoint of this many leaves; the latest if not given.
    #[arg(long, default_value_t = 0)]
    size: u64,
    /// JSON instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn checkpoint(args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let log_key = args.call.log_key()?;
    let mut client = args.call.client("auditor").await?;
    let verified = client.checkpoint(args.size, &log_key).await?;
    args.call.require_cosignatures(&verified)?;
    let message = &verified.message;
    if args.note {
        print!("{}", message.signed_note);
        return Ok(ExitCode::SUCCESS);
    }
    // As leaves record times; `?` for a timestamp that is not valid.
    let signed_at = match message.signed_at.as_ref().map(timestamp::from_proto) {
        Some(Ok(time)) => jembatan_audit::leaf::timestamp(time),
        Some(Err(_)) => "?".to_owned(),
        None => String::new(),
    };
    if args.json {
        let cosignatures: Vec<serde_json::Value> = message
            .cosignatures
            .iter()
            .map(|c| {
                serde_json::json!({
                    "witness": c.witness_name,
                    "key_id": c.key_id,
                    "principal": c.principal,
                    "signature_line": c.signature_line,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "origin": verified.checkpoint.origin,
                "size": verified.checkpoint.size,
                "root": hex::encode(verified.checkpoint.root),
                "signed_at": signed_at,
                "signed_note": message.signed_note,
                "log_signature_verified": true,
                "cosignatures": cosignatures,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("origin     {}", verified.checkpoint.origin);
    println!("size       {}", verified.checkpoint.size);
    println!("root       {}", hex::encode(verified.checkpoint.root));
    println!("signed at  {signed_at}");
    println!("signature  verified with {}", log_key.name());
    print_cosignatures(&args.call, &verified)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn prove(args: ProveArgs) -> anyhow::Result<ExitCode> {
    let log_key = args.call.log_key()?;
    let mut client = args.call.client("auditor").await?;
    let proved = client
        .prove(args.index, args.leaf_hash, args.size, &log_key)
        .await?;
    args.call.require_cosignatures(&proved.checkpoint)?;
    let checkpoint = &proved.checkpoint.checkpoint;
    let cosigned: Vec<&str> = proved
        .checkpoint
        .message
        .cosignatures
        .iter()
        .map(|c| c.witness_name.as_str())
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "proved": true,
                "index": proved.index,
                "leaf_hash": hex::encode(proved.leaf_hash),
                "leaf": proved.entry,
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root": hex::encode(checkpoint.root),
                "cosignatures": cosigned,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "proved: leaf {} (hash {}) is in the checkpoint of {} leaves (root {}) signed by {}",
        proved.index,
        hex::encode(proved.leaf_hash),
        checkpoint.size,
        hex::encode(checkpoint.root),
        log_key.name()
    );
    if let Some(entry) = &proved.entry {
        println!(
            "  {} {} by {} for {} at {}",
            entry.method, entry.record_type, entry.principal, entry.purpose, entry.time
        );
    }
    print_cosignatures(&args.call, &proved.checkpoint)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_hash(text: &str) -> anyhow::Result<Hash> {
    let bytes = hex::decode(text).ok().context("not hex")?;
    Hash::try_from(bytes).map_err(|_| anyhow::anyhow!("not 32 bytes (64 hex digits)"))
}
