//! `jembatan`: the exchange server, its dev exchange, PKI tools and client commands.

#![forbid(unsafe_code)]

mod acting;
mod audit;
mod batch_push;
mod codes;
mod connection;
mod console;
mod demo;
mod dev;
mod health;
mod logging;
mod market;
mod migrate;
mod pki;
mod placements;
mod policy;
mod programs;
mod progress;
mod receipt;
mod serve;
mod table;
mod value_parsers;
mod workforce;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Jembatan: the Kemendag–KP2MI data exchange.
#[derive(Debug, Parser)]
#[command(name = "jembatan", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the exchange with a config file.
    Serve(serve::ServeArgs),
    /// Make (or reuse) a development exchange in one folder and serve it.
    Dev(dev::DevArgs),
    /// Apply the store's migrations as the schema's owner, and grant the exchange's role what
    /// it needs.
    Migrate(migrate::MigrateArgs),
    /// Make a certificate authority and issue certificates.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Export the audit log and verify an export offline.
    #[command(subcommand)]
    Audit(Box<audit::AuditCommand>),
    /// Serve the auditors' console, a local web page over the audit log, verified as the CLI
    /// verifies it.
    Console(Box<console::ConsoleArgs>),
    /// Check, explain and inspect access policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Ask the exchange whether it is serving.
    Health(health::HealthArgs),
    /// Push placement records (KP2MI).
    #[command(subcommand)]
    Placements(Box<placements::PlacementsCommand>),
    /// Ask about workers' availability: counts and consented candidates (Kemendag).
    #[command(subcommand)]
    Workforce(Box<workforce::WorkforceCommand>),
    /// Market opportunities reported by workers abroad: submit (KP2MI), query and digest
    /// (Kemendag).
    #[command(subcommand)]
    Market(Box<market::MarketCommand>),
    /// Export programs: publish and outcomes (Kemendag), list and enrol workers (KP2MI).
    #[command(subcommand)]
    Programs(Box<programs::ProgramsCommand>),
    /// Fill an exchange with realistic synthetic data.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("jembatan: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Dev(args) => dev::run(args).await,
            Command::Migrate(args) => migrate::run(args).await,
            Command::Pki(command) => pki::run(command),
            Command::Audit(command) => audit::run(*command).await,
            Command::Console(args) => console::run(*args).await,
            Command::Policy(command) => policy::run(command).await,
            Command::Health(args) => health::run(args).await,
            Command::Placements(command) => placements::run(*command).await,
            Command::Workforce(command) => workforce::run(*command).await,
            Command::Market(command) => market::run(*command).await,
            Command::Programs(command) => programs::run(*command).await,
            Command::Demo(command) => demo::run(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("jembatan: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error with its causes, each once: many errors already quote their source's text.
pub(crate) fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}
