//! `jembatan-bench`: benchmark programs that print figures.
//!
//! ```text
//! cargo run --release -p jembatan-bench -- all [--records 1000000] [--seconds 10] [--out FILE]
//! cargo run --release -p jembatan-bench -- policy-decision [--iterations N] [--dir deploy/policies]
//! cargo run --release -p jembatan-bench -- audit-verify [--leaves 1000000]
//! cargo run --release -p jembatan-bench -- limits [--seconds 10]
//! cargo run --release -p jembatan-bench -- market [--reports 100000] [--seconds 10]
//! ```

#![forbid(unsafe_code)]

mod all;
mod audit_verify;
mod echo;
mod limits;
mod load;
mod market;
mod policy_decision;
mod scenarios;
mod server;
mod site;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Benchmarks of the Jembatan exchange.
#[derive(Debug, Parser)]
#[command(name = "jembatan-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every scenario on SQLite and PostgreSQL, with the echo baseline, as a markdown table.
    All(all::Args),
    /// The cost of one policy decision, over every cell of the policy matrix.
    PolicyDecision(policy_decision::Args),
    /// Offline verification of an exported audit log (default 1,000,000 leaves).
    AuditVerify(audit_verify::Args),
    /// What the limits layer costs (echo with and without it), and what it buys: another
    /// caller's latency while one calls at ten times its rate.
    Limits(limits::Args),
    /// The market-intelligence scenarios on SQLite and PostgreSQL: SubmitMarketReports in
    /// batches of 1,000, then QueryMarketReports pages by country and HS chapter and by
    /// full-text search, as a markdown table.
    Market(market::Args),
    /// (internal) Serves the exchange for `all` until standard input closes.
    #[command(hide = true)]
    ServeExchange {
        #[arg(long)]
        config: PathBuf,
    },
    /// (internal) Serves the echo baseline for `all` until standard input closes.
    #[command(hide = true)]
    ServeEcho {
        #[arg(long)]
        config: PathBuf,
    },
    /// (internal) Serves the echo baseline behind the limits layer until standard input closes.
    #[command(hide = true)]
    ServeEchoLimited {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    match command {
        Command::PolicyDecision(args) => policy_decision::run(&args),
        Command::AuditVerify(args) => audit_verify::run(&args),
        Command::All(args) => runtime()?.block_on(all::run(&args)),
        Command::Limits(args) => runtime()?.block_on(limits::run(&args)),
        Command::Market(args) => runtime()?.block_on(market::run(&args)),
        Command::ServeExchange { config } => {
            runtime()?.block_on(server::serve(server::Kind::Exchange, &config))
        }
        Command::ServeEcho { config } => {
            runtime()?.block_on(server::serve(server::Kind::Echo, &config))
        }
        Command::ServeEchoLimited { config } => {
            runtime()?.block_on(server::serve(server::Kind::EchoLimited, &config))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
