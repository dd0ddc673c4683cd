//! `jembatan placements push`: a placements file to the exchange, in batches of PushPlacements.

use std::process::ExitCode;

use jembatan_client::v1::placement_service_client::PlacementServiceClient;
use jembatan_client::v1::{self, PushPlacementsRequest};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_records::placement::PlacementRecord;
use tonic::transport::Channel;

use crate::batch_push::{BatchMethod, FileArgs};
use crate::value_parsers::parse_code;

/// Arguments of `jembatan placements push`.
#[derive(Debug, clap::Args)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    file: FileArgs,
    /// Store each batch whole or not at all: nothing is sent if any line cannot be read, and
    /// the push stops at the first batch the exchange refuses (earlier batches stay stored).
    #[arg(long)]
    all_or_nothing: bool,
    /// The purpose stated with every call.
    #[arg(long, default_value = "PROGRAM_MONITORING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with every call.
    #[arg(long, default_value = "LEGAL_OBLIGATION", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
}

/// PushPlacements, whole batches or not.
#[derive(Clone)]
struct PushPlacements {
    client: PlacementServiceClient<Channel>,
    all_or_nothing: bool,
}

impl BatchMethod for PushPlacements {
    type Record = PlacementRecord;
    type Message = v1::Placement;
    const NAME: &'static str = "PushPlacements";
    const FIELD: &'static str = "placements";

    fn message(record: &PlacementRecord) -> v1::Placement {
        record.to_proto()
    }

    async fn call(
        mut self,
        request: tonic::Request<Vec<v1::Placement>>,
    ) -> Result<Vec<v1::RecordResult>, tonic::Status> {
        let all_or_nothing = self.all_or_nothing;
        let request = request.map(|placements| PushPlacementsRequest {
            placements,
            all_or_nothing,
        });
        Ok(self
            .client
            .push_placements(request)
            .await?
            .into_inner()
            .results)
    }
}

pub(crate) async fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    let all_or_nothing = args.all_or_nothing;
    crate::batch_push::run(
        &args.file,
        "kp2mi",
        (args.purpose, args.legal_basis),
        all_or_nothing,
        |channel| PushPlacements {
            client: PlacementServiceClient::new(channel),
            all_or_nothing,
        },
    )
    .await
}
