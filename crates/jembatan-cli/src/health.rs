//! `jembatan health`: prints the exchange's serving status.

use std::process::ExitCode;

use jembatan_client::ServingStatus;

use crate::connection::ConnectionArgs;

/// Arguments of `jembatan health`.
#[derive(Debug, clap::Args)]
pub(crate) struct HealthArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// A service to ask about, e.g. jembatan.v1.WorkforceService; the whole server if empty.
    #[arg(long, default_value = "")]
    service: String,
}

pub(crate) async fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let status = client.health(&args.service).await?;
    println!("{}", status.as_str_name());
    Ok(if status == ServingStatus::Serving {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
