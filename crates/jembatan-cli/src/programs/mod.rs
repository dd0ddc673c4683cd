//! `jembatan programs`: export programs, enrolments and their outcomes. Kemendag publishes
//! programs and reads their outcomes; KP2MI lists programs and enrols returning workers.

mod list;
mod outcomes;
mod records;

use std::process::ExitCode;

use jembatan_client::v1::program_service_client::ProgramServiceClient;
use jembatan_domain::{LegalBasis, Purpose};

use crate::batch_push::FileArgs;
use crate::value_parsers::parse_code;

/// `jembatan programs …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ProgramsCommand {
    /// Publish export programs from a JSON Lines or CSV file, in batches (Kemendag).
    ///
    /// docs/market-and-programs-files.md describes the file. Lines that cannot be read are never
    /// sent. They, and the programs the exchange rejects, are written next to the file as
    /// FILE.rejected.jsonl, with their line numbers and reasons. Prints how many programs were
    /// stored, unchanged, stale and rejected. Exits 0 when nothing was rejected, 1 otherwise
    /// (and on any error).
    Publish(PublishArgs),
    /// List the programs matching a filter, a page at a time (KP2MI).
    ///
    /// A regency matches the programs of the regency, of its whole province, and nationwide
    /// ones. Without --all, prints the token that continues with the next page.
    List(list::ListArgs),
    /// Record workers' enrolments in programs from a JSON Lines or CSV file, in batches
    /// (KP2MI).
    ///
    /// docs/market-and-programs-files.md describes the file. Only workers with a placement whose
    /// consent covers CAPACITY_BUILDING can be enrolled; the call states legal basis CONSENT.
    /// NIKs are never printed: the rejected-lines file (FILE.rejected.jsonl) shows (withheld) in
    /// their place. Exits 0 when nothing was rejected, 1 otherwise (and on any error).
    Enrol(EnrolArgs),
    /// Outcomes per program, or per program and province of origin: workers enrolled,
    /// completed, dropped out and starting a business, and the export deals they closed
    /// (Kemendag).
    ///
    /// Counts are protected as availability counts are: perturbed, and withheld (shown as -)
    /// under the exchange's threshold; the export deals are withheld with the enrolled count,
    /// and when one worker's deals are more than half of the sum.
    Outcomes(outcomes::OutcomesArgs),
}

pub(crate) async fn run(command: ProgramsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProgramsCommand::Publish(args) => publish(args).await,
        ProgramsCommand::List(args) => list::run(args).await,
        ProgramsCommand::Enrol(args) => enrol(args).await,
        ProgramsCommand::Outcomes(args) => outcomes::run(args).await,
    }
}

/// Arguments of `jembatan programs publish`.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    file: FileArgs,
    /// The purpose stated with every call.
    #[arg(long, default_value = "CAPACITY_BUILDING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with every call.
    #[arg(long, default_value = "PUBLIC_TASK", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
}

async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    crate::batch_push::run(
        &args.file,
        "kemendag",
        (args.purpose, args.legal_basis),
        false,
        |channel| records::PublishPrograms(ProgramServiceClient::new(channel)),
    )
    .await
}

/// Arguments of `jembatan programs enrol`.
#[derive(Debug, clap::Args)]
pub(crate) struct EnrolArgs {
    #[command(flatten)]
    file: FileArgs,
    /// The purpose stated with every call.
    #[arg(long, default_value = "CAPACITY_BUILDING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with every call: the workers' consent.
    #[arg(long, default_value = "CONSENT", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
}

async fn enrol(args: EnrolArgs) -> anyhow::Result<ExitCode> {
    crate::batch_push::run(
        &args.file,
        "kp2mi",
        (args.purpose, args.legal_basis),
        false,
        |channel| records::RecordEnrollments(ProgramServiceClient::new(channel)),
    )
    .await
}
