//! `jembatan audit witness`: one round of the agency side of cosigning. Run it from cron or a
//! systemd timer; each round checks the latest checkpoint against the state file and cosigns.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jembatan_audit::note::SignerKey;
use jembatan_audit::witness::WitnessState;

use super::{AuditCallArgs, dev_path};

/// Arguments of `jembatan audit witness`.
#[derive(Debug, clap::Args)]
pub(crate) struct WitnessArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    /// The witness's state: the last checkpoint it verified (JSON). Made on first use, when
    /// the log's checkpoint is trusted as it is; keep it safe, as it is what catches a rewrite.
    #[arg(long)]
    state: PathBuf,
    /// The witness's signer key file (`PRIVATE+KEY+…`), registered with the exchange in
    /// [audit.witnesses] [default with --dev: <dir>/audit/witness-<identity>.key].
    #[arg(long)]
    witness_key: Option<PathBuf>,
}

pub(crate) async fn run(args: WitnessArgs) -> anyhow::Result<ExitCode> {
    let identity = args.call.connection.dev_identity("kemendag").to_owned();
    let key_path = dev_path(
        args.witness_key.clone(),
        &args.call.connection,
        format!("audit/witness-{identity}.key"),
        "--witness-key",
    )?;
    let key_text = std::fs::read_to_string(&key_path)
        .with_context(|| format!("witness key {}", key_path.display()))?;
    let witness = SignerKey::parse(key_text.trim())
        .with_context(|| format!("witness key {}", key_path.display()))?;
    let log_key = args.call.log_key()?;
    let state = read_state(&args.state)?;
    let mut client = args.call.client("kemendag").await?;
    let witnessed = client.witness(state.as_ref(), &witness, &log_key).await?;
    write_state(&args.state, &witnessed.state)?;
    let checkpoint = &witnessed.checkpoint;
    match witnessed.previous {
        None => println!(
            "first use: trusting the log's checkpoint of {} leaves as it is",
            checkpoint.size
        ),
        Some(previous) if previous == checkpoint.size => {
            println!("no new leaves since the checkpoint of {previous} leaves")
        }
        Some(previous) => println!(
            "the checkpoint of {} leaves extends the one of {previous} leaves verified before",
            checkpoint.size
        ),
    }
    println!(
        "cosigned: {} {} (root {}) as {}",
        checkpoint.origin,
        checkpoint.size,
        hex::encode(checkpoint.root),
        witness.verifier().name()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_state(path: &Path) -> anyhow::Result<Option<WitnessState>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("witness state {}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("witness state {}", path.display())),
    }
}

/// Replaces the state file atomically: a crash leaves the old state or the new, never half.
fn write_state(path: &Path, state: &WitnessState) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(state)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, format!("{text}\n"))
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| format!("witness state {}", path.display()))
}
