//! `jembatan market submit`'s batch method: the reports of a file (read by
//! `jembatan_records::market`) to SubmitMarketReports.

use jembatan_client::v1::market_intel_service_client::MarketIntelServiceClient;
use jembatan_client::v1::{self, SubmitMarketReportsRequest};
use jembatan_records::market::ReportRecord;
use tonic::transport::Channel;

use crate::batch_push::BatchMethod;

/// SubmitMarketReports.
#[derive(Clone)]
pub(crate) struct SubmitMarketReports(pub(crate) MarketIntelServiceClient<Channel>);

impl BatchMethod for SubmitMarketReports {
    type Record = ReportRecord;
    type Message = v1::MarketReport;
    const NAME: &'static str = "SubmitMarketReports";
    const FIELD: &'static str = "reports";

    fn message(record: &ReportRecord) -> v1::MarketReport {
        record.to_proto()
    }

    async fn call(
        mut self,
        request: tonic::Request<Vec<v1::MarketReport>>,
    ) -> Result<Vec<v1::RecordResult>, tonic::Status> {
        let request = request.map(|reports| SubmitMarketReportsRequest { reports });
        Ok(self
            .0
            .submit_market_reports(request)
            .await?
            .into_inner()
            .results)
    }
}
