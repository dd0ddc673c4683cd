//! The batch methods that carry programs and enrolments, as `jembatan_records::programs` reads
//! them from their files.

use jembatan_client::v1::program_service_client::ProgramServiceClient;
use jembatan_client::v1::{self, PublishProgramsRequest, RecordEnrollmentsRequest};
use jembatan_records::programs::{EnrollmentRecord, ProgramRecord};
use tonic::transport::Channel;

use crate::batch_push::BatchMethod;

/// PublishPrograms.
#[derive(Clone)]
pub(crate) struct PublishPrograms(pub(crate) ProgramServiceClient<Channel>);

impl BatchMethod for PublishPrograms {
    type Record = ProgramRecord;
    type Message = v1::ExportProgram;
    const NAME: &'static str = "PublishPrograms";
    const FIELD: &'static str = "programs";

    fn message(record: &ProgramRecord) -> v1::ExportProgram {
        record.to_proto()
    }

    async fn call(
        mut self,
        request: tonic::Request<Vec<v1::ExportProgram>>,
    ) -> Result<Vec<v1::RecordResult>, tonic::Status> {
        let request = request.map(|programs| PublishProgramsRequest { programs });
        Ok(self.0.publish_programs(request).await?.into_inner().results)
    }
}

/// RecordEnrollments.
#[derive(Clone)]
pub(crate) struct RecordEnrollments(pub(crate) ProgramServiceClient<Channel>);

impl BatchMethod for RecordEnrollments {
    type Record = EnrollmentRecord;
    type Message = v1::Enrollment;
    const NAME: &'static str = "RecordEnrollments";
    const FIELD: &'static str = "enrollments";

    fn message(record: &EnrollmentRecord) -> v1::Enrollment {
        record.to_proto()
    }

    async fn call(
        mut self,
        request: tonic::Request<Vec<v1::Enrollment>>,
    ) -> Result<Vec<v1::RecordResult>, tonic::Status> {
        let request = request.map(|enrollments| RecordEnrollmentsRequest { enrollments });
        Ok(self
            .0
            .record_enrollments(request)
            .await?
            .into_inner()
            .results)
    }
}
