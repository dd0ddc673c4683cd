//! `jembatan serve`: run the exchange from a config file until SIGINT or SIGTERM.
//!
//! By default the exchange applies pending migrations at start, as the role of `store.url`. On
//! PostgreSQL it should run as a role that owns nothing and may never UPDATE or DELETE the audit
//! log (deploy/postgres): `store.migrate = false`, and the owner runs `jembatan migrate` before
//! each start of a new version ([`SERVE_HELP`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jembatan_server::{Config, Exchange, Telemetry};

/// How to run migrations as the owner, shown by `jembatan serve --help`.
const SERVE_HELP: &str = "\
Migrations: with store.migrate = true (the default) the exchange applies pending migrations at
start, as the role of store.url, which must then own the schema. On PostgreSQL run it instead as
a role that owns nothing and may never UPDATE or DELETE the audit log (deploy/postgres/README.md):
set store.migrate = false, and before each start of a new version apply the migrations as the
schema's owner and grant the exchange's role what it needs:

  JEMBATAN_STORE_URL=postgres://jembatan_owner@db:5432/jembatan \\
    jembatan migrate --config /etc/jembatan/jembatan.toml --grant-to jembatan_app

With store.migrate = false an exchange whose database lacks a migration of its version refuses
to start, naming that command.";

/// Arguments of `jembatan serve`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = SERVE_HELP)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    config: ConfigFile,
}

/// The exchange's config file, as `serve` and `migrate` take it.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigFile {
    /// The config file (see deploy/jembatan.example.toml); JEMBATAN_* variables override its
    /// keys.
    #[arg(
        long,
        short,
        env = "JEMBATAN_CONFIG",
        default_value = "/etc/jembatan/jembatan.toml"
    )]
    config: PathBuf,
}

impl ConfigFile {
    /// The config, read with the environment's overrides.
    pub(crate) fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.config, std::env::vars())?)
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let telemetry = Telemetry::start(&config.telemetry)?;
    crate::logging::init(&config.log, telemetry.as_ref())?;
    let exchange = Exchange::bind(&config).await?;
    tracing::info!(addr = %exchange.local_addr(), telemetry = telemetry.is_some(), "serving");
    let served = exchange.serve(shutdown_signal()).await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    served?;
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
