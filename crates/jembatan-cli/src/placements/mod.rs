//! `jembatan placements`: KP2MI's side of the placement exchange.

mod push;
mod subject;

use std::process::ExitCode;

// Where `jembatan demo` finds it.
pub(crate) use crate::batch_push::MAX_BATCH;

/// `jembatan placements …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PlacementsCommand {
    /// Push placement records from a JSON Lines or CSV file, in batches.
    ///
    /// docs/placements-file.md describes the file. Lines that cannot be read are never sent.
    /// They, and the records the exchange rejects, are written next to the file as
    /// FILE.rejected.jsonl, each with its line number, record id, reasons and the record as
    /// given. Prints how many records were stored, unchanged, stale and rejected. Exits 0 when
    /// nothing was rejected, 1 otherwise (and on any error).
    Push(push::PushArgs),
    /// Withdraw a worker's consent, for some purposes or all (UU PDP Article 30).
    ///
    /// Takes effect for every later call; a later push whose consent was granted before the
    /// withdrawal does not restore it.
    Withdraw(subject::WithdrawArgs),
    /// Erase a worker's personal data from the exchange (UU PDP Article 43).
    ///
    /// The audit log keeps only digests and no longer links to the worker; a later push of a
    /// record last changed before the erasure is refused.
    Erase(subject::EraseArgs),
    /// Who received what about a worker, when and for which purpose (UU PDP Article 32), from
    /// the audit log; the lookup itself is logged.
    History(subject::SubjectArgs),
}

pub(crate) async fn run(command: PlacementsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PlacementsCommand::Push(args) => push::run(args).await,
        PlacementsCommand::Withdraw(args) => subject::withdraw(args).await,
        PlacementsCommand::Erase(args) => subject::erase(args).await,
        PlacementsCommand::History(args) => subject::history(args).await,
    }
}
