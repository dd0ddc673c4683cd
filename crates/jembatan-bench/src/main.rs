//! `jembatan-bench`: benchmark programs that print figures.
//!
//! ```text
//! cargo run --release -p jembatan-bench -- policy-decision [--iterations N] [--dir deploy/policies]
//! cargo run --release -p jembatan-bench -- audit-verify [--leaves 1000000]
//! ```

#![forbid(unsafe_code)]

mod audit_verify;
mod policy_decision;

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
    /// The cost of one policy decision, over every cell of the policy matrix.
    PolicyDecision(policy_decision::Args),
    /// Offline verification of an exported audit log (default 1,000,000 leaves).
    AuditVerify(audit_verify::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::PolicyDecision(args) => policy_decision::run(&args),
        Command::AuditVerify(args) => audit_verify::run(&args),
    }
}
