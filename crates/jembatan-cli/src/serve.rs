//! `jembatan serve`: run the exchange from a config file until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jembatan_server::{Config, Exchange};

/// Arguments of `jembatan serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The config file (see deploy/jembatan.example.toml).
    #[arg(
        long,
        short,
        env = "JEMBATAN_CONFIG",
        default_value = "/etc/jembatan/jembatan.toml"
    )]
    config: PathBuf,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, std::env::vars())?;
    crate::logging::init(&config.log)?;
    let exchange = Exchange::bind(&config).await?;
    tracing::info!(addr = %exchange.local_addr(), "serving");
    exchange.serve(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()).context("cannot watch SIGTERM") {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!("{error:#}; only SIGINT stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
