//! Placement records for the tests: valid ones to vary, and calls of the placement and
//! workforce services stating a purpose.

use jembatan_client::{Client, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{
    self, BusinessInterest, CompetencyCertificate, Consent, Contact, Date, Placement,
    placement_service_client::PlacementServiceClient,
    workforce_service_client::WorkforceServiceClient,
};
use tonic::transport::Channel;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// A valid placement of worker `n` (a woman born 5 August 1990 from Kabupaten Malang, caregiver
/// in Hong Kong, returning 10 December 2026), consenting to business matching and capacity
/// building, with contact details. Workers differ by the NIK's kecamatan and serial digits.
pub fn placement(n: u32) -> Placement {
    let kecamatan = 1 + n / 9999;
    let serial = 1 + n % 9999;
    Placement {
        placement_id: format!("PL-2024-{n:06}"),
        version: 1,
        updated_at: timestamp(1_730_419_200), // 2024-11-01
        nik: format!("3507{kecamatan:02}450890{serial:04}"),
        full_name: format!("Siti Aminah {n}"),
        sex: v1::Sex::Female.into(),
        birth_date: date(1990, 8, 5),
        origin_regency_code: "35.07".into(),
        education: v1::Education::SeniorSecondary.into(),
        job_title: "Caregiver".into(),
        occupation_code: "5322".into(),
        certificates: vec![CompetencyCertificate {
            scheme_code: "SKM-PRT-2021".into(),
            scheme_name: "Perawat Lansia".into(),
            kkni_level: 2,
            lsp_id: "LSP-P3MI-01".into(),
            issued_on: date(2024, 1, 10),
            expires_on: None,
        }],
        languages: vec!["id".into(), "zh".into()],
        destination_country: "HK".into(),
        employer_type: v1::EmployerType::Individual.into(),
        sector: None,
        p3mi_id: "P3MI-0421".into(),
        placement_scheme: v1::PlacementScheme::P2p.into(),
        contract_start: date(2024, 12, 1),
        contract_end: date(2026, 12, 1),
        departure_date: date(2024, 12, 5),
        status: v1::PlacementStatus::Working.into(),
        return_date: date(2026, 12, 10),
        return_date_kind: v1::ReturnDateKind::Expected.into(),
        business_interest: Some(BusinessInterest {
            wants_to_export: true,
            hs_chapters: vec!["09".into(), "21".into()],
        }),
        contact: Some(Contact {
            phone: "+6281234567890".into(),
            email: format!("worker{n}@example.id"),
        }),
        consent: Some(Consent {
            purposes: vec![
                v1::Purpose::BusinessMatching.into(),
                v1::Purpose::CapacityBuilding.into(),
            ],
            granted_at: timestamp(1_730_419_200),
            method: v1::ConsentMethod::Electronic.into(),
            withdrawn_at: None,
        }),
    }
}

/// KP2MI's placement service, stating a public-task purpose as its placement system does.
pub fn placements(client: &Client) -> PlacementServiceClient<Channel> {
    PlacementServiceClient::new(client.channel())
}

/// Kemendag's workforce service.
pub fn workforce(client: &Client) -> WorkforceServiceClient<Channel> {
    WorkforceServiceClient::new(client.channel())
}

/// `message` stating `purpose` and `basis`.
pub fn stated<T>(purpose: Purpose, basis: LegalBasis, message: T) -> tonic::Request<T> {
    Stated::new(purpose, basis)
        .request(message)
        .expect("printable metadata")
}

/// `message` as KP2MI pushes: program monitoring on a legal obligation.
pub fn as_kp2mi<T>(message: T) -> tonic::Request<T> {
    stated(
        Purpose::ProgramMonitoring,
        LegalBasis::LegalObligation,
        message,
    )
}

/// Pushes `records` and returns the response.
pub async fn push(client: &Client, records: Vec<Placement>) -> v1::PushPlacementsResponse {
    placements(client)
        .push_placements(as_kp2mi(v1::PushPlacementsRequest {
            placements: records,
            all_or_nothing: false,
        }))
        .await
        .expect("push")
        .into_inner()
}
