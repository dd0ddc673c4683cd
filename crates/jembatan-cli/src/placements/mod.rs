//! `jembatan placements`: KP2MI's side of the placement exchange.

mod push;
pub(crate) mod record;
mod source;

use std::process::ExitCode;

pub(crate) use push::MAX_BATCH;
pub(crate) use source::Format;

/// `jembatan placements …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PlacementsCommand {
    /// Push placement records from a JSON Lines or CSV file, in batches.
    ///
    /// Lines that cannot be read are never sent. They, and the records the exchange rejects, are
    /// written next to the file as FILE.rejected.jsonl, each with its line number, record id,
    /// reasons and the record as given. Prints how many records were stored, unchanged, stale
    /// and rejected. Exits 0 when nothing was rejected, 1 otherwise (and on any error).
    Push(push::PushArgs),
}

pub(crate) async fn run(command: PlacementsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PlacementsCommand::Push(args) => push::run(args).await,
    }
}
