//! `jembatan console`: the auditors' console, served on this machine.

use std::net::SocketAddr;
use std::process::ExitCode;

use jembatan_console::{Console, ConsoleConfig};

use crate::audit::AuditCallArgs;

/// `jembatan console`
#[derive(Debug, clap::Args)]
pub(crate) struct ConsoleArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    /// Where to serve the console. Anyone who reaches it acts with your certificate: keep it on
    /// the loopback address unless a firewall stands in front.
    #[arg(long, default_value = "127.0.0.1:7480")]
    listen: SocketAddr,
}

pub(crate) async fn run(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let log_key = args.call.log_key()?;
    let witnesses = args.call.witness_keys()?;
    let client = args.call.client("auditor").await?;
    let identity = args.call.identity_label("auditor");
    let config = ConsoleConfig {
        log_key,
        witnesses,
        identity,
        server: args.call.connection.server().to_owned(),
    };
    let console = Console::bind(args.listen, client, config).await?;
    let local = console.local_addr()?;
    if !local.ip().is_loopback() {
        eprintln!(
            "jembatan: warning: the console listens on {local}, beyond this machine; whoever \
             reaches it reads the log as you"
        );
    }
    println!("console on http://{local}");
    println!(
        "open {} (the token in its path lets you in; it is new at every start)",
        console.url()?
    );
    console.run().await?;
    Ok(ExitCode::SUCCESS)
}
