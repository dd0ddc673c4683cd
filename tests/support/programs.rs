//! Export programs and enrolments for the tests: valid ones to vary, calls of the program
//! service stating a purpose, and the stored enrolments read past the store's API.

use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    self, Enrollment, EnrollmentStatus, ExportProgram, ProgramKind,
    program_service_client::ProgramServiceClient,
};
use jembatan_store::Store;
use jembatan_store::test_door::RawPool;
use tonic::transport::Channel;

use crate::market::date;
use crate::placements::stated;

/// A valid program `n`: Desa BISA Ekspor in Kabupaten Malang for coffee to Hong Kong, all of
/// 2026, without a limit of places.
pub fn program(n: u32) -> ExportProgram {
    ExportProgram {
        program_id: format!("PRG-2026-{n:04}"),
        version: 1,
        name: format!("Desa BISA Ekspor Kopi Malang {n}"),
        kind: ProgramKind::DesaBisaEkspor.into(),
        description: "Coaching of village coffee producers towards their first export.".into(),
        organizer: "Ditjen PEN, Direktorat Pengembangan Ekspor Nasional".into(),
        target_countries: vec!["HK".into()],
        hs_chapters: vec!["09".into()],
        regency_codes: vec!["35.07".into()],
        starts_on: date(2026, 1, 1),
        ends_on: date(2026, 12, 31),
        capacity: 0,
    }
}

/// A valid enrolment `n` of the worker with `nik` in `program_id`, enrolled on 1 February 2026.
pub fn enrollment(n: u32, program_id: &str, nik: &str) -> Enrollment {
    Enrollment {
        enrollment_id: format!("EN-2026-{n:06}"),
        version: 1,
        program_id: program_id.to_owned(),
        nik: nik.to_owned(),
        enrolled_on: date(2026, 2, 1),
        status: EnrollmentStatus::Enrolled.into(),
        business_started: false,
        export_deals_usd: 0,
    }
}

/// The program service of `client`.
pub fn programs(client: &Client) -> ProgramServiceClient<Channel> {
    ProgramServiceClient::new(client.channel())
}

/// `message` for capacity building on a public task: Kemendag publishes, KP2MI lists.
pub fn for_capacity_building<T>(message: T) -> tonic::Request<T> {
    stated(Purpose::CapacityBuilding, LegalBasis::PublicTask, message)
}

/// `message` as KP2MI records enrolments: capacity building on the worker's consent.
pub fn on_consent<T>(message: T) -> tonic::Request<T> {
    stated(Purpose::CapacityBuilding, LegalBasis::Consent, message)
}

/// Publishes `records` as Kemendag and returns the response.
pub async fn publish(client: &Client, records: Vec<ExportProgram>) -> v1::PublishProgramsResponse {
    programs(client)
        .publish_programs(for_capacity_building(v1::PublishProgramsRequest {
            programs: records,
        }))
        .await
        .expect("publish programs")
        .into_inner()
}

/// Records `records` as KP2MI and returns the response.
pub async fn enrol(client: &Client, records: Vec<Enrollment>) -> v1::RecordEnrollmentsResponse {
    programs(client)
        .record_enrollments(on_consent(v1::RecordEnrollmentsRequest {
            enrollments: records,
        }))
        .await
        .expect("record enrollments")
        .into_inner()
}

/// The ids of every program matching `request`, following pages.
pub async fn list_ids(client: &Client, request: v1::ListProgramsRequest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut request = request;
    loop {
        let page = programs(client)
            .list_programs(for_capacity_building(request.clone()))
            .await
            .expect("list programs")
            .into_inner();
        ids.extend(page.programs.into_iter().map(|p| p.program_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        request.page_token = page.next_page_token;
    }
}

/// Outcomes as Kemendag asks for them: program monitoring on a public task.
pub async fn outcomes(
    client: &Client,
    request: v1::QueryProgramOutcomesRequest,
) -> v1::QueryProgramOutcomesResponse {
    programs(client)
        .query_program_outcomes(stated(
            Purpose::ProgramMonitoring,
            LegalBasis::PublicTask,
            request,
        ))
        .await
        .expect("query program outcomes")
        .into_inner()
}

/// The ids of the stored enrolments, in order, read past the store's API.
pub async fn stored_enrollments(store: &Store) -> Vec<String> {
    const SQL: &str = "SELECT enrollment_id FROM enrollments ORDER BY enrollment_id";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        RawPool::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
    }
    .expect("read enrollments")
}

/// The ids of the stored programs, in order, read past the store's API.
pub async fn stored_programs(store: &Store) -> Vec<String> {
    const SQL: &str = "SELECT program_id FROM programs ORDER BY program_id";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        RawPool::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
    }
    .expect("read programs")
}
