//! The ProgramService: Kemendag publishes export programs, KP2MI lists them and records
//! workers' enrolments, and Kemendag follows the outcomes as protected counts ([`outcomes`]).
//!
//! Programs and enrolments are validated field by field ([`input`]) and versioned per id
//! ([`versioned`]). An enrolment names the worker by NIK, kept only as the subject key, and is
//! refused for a worker with no placement whose consent covers CAPACITY_BUILDING, for an
//! unknown program, over the program's capacity (enrolments not DROPPED hold a place), and
//! for a worker already enrolled in the program under another id. Erasure and a withdrawal of
//! consent for capacity building delete the worker's enrolments (see the PlacementService).

use std::collections::HashMap;
use std::sync::Arc;

use jembatan_counts::{CellKeys, Perturbation};
use jembatan_domain::program::{Enrollment, ExportProgram};
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_domain::{Purpose, Regency};
use jembatan_policy::DataClass;
use jembatan_proto::convert::{self, ShortCode};
use jembatan_proto::v1::{
    self, ListProgramsRequest, ListProgramsResponse, PublishProgramsRequest,
    PublishProgramsResponse, QueryProgramOutcomesRequest, QueryProgramOutcomesResponse,
    RecordEnrollmentsRequest, RecordEnrollmentsResponse, program_service_server::ProgramService,
};
use jembatan_store::programs::{
    DROPPED, EnrollmentRecord, ProgramFilter, ProgramPlaces, ProgramRecord, StoredEnrollment,
};
use jembatan_store::{LoggedWrite, Store, VersionedTable};
use prost::Message;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::call::Caller;
use crate::services::versioned::{Batch, Judged, MAX_BATCH, Verdict, Versioned, summary};
use crate::services::{latest_date, log_shared, paging, receipt};
use crate::status::{WriteFailed, invalid_field, store_status};
use input::{enrollment_from_proto, program_from_proto};

mod input;
mod outcomes;

impl Versioned for v1::ExportProgram {
    fn id(&self) -> &str {
        &self.program_id
    }

    fn version(&self) -> u64 {
        self.version
    }
}

impl Versioned for v1::Enrollment {
    fn id(&self) -> &str {
        &self.enrollment_id
    }

    fn version(&self) -> u64 {
        self.version
    }
}

/// The ProgramService over the store.
#[derive(Debug, Clone)]
pub(crate) struct ProgramApi {
    store: Store,
    key: Arc<PersonalDataKey>,
    /// How outcome counts are published.
    perturbation: Perturbation,
}

impl ProgramApi {
    pub(crate) fn new(store: Store, key: Arc<PersonalDataKey>, perturbation: Perturbation) -> Self {
        Self {
            store,
            key,
            perturbation,
        }
    }
}

/// What the store keeps of a program judged to be stored.
fn program_to_store(program: &ExportProgram, encoded: &[u8], judged: &Judged) -> ProgramRecord {
    ProgramRecord {
        program_id: program.program_id.clone(),
        record_key: judged.record_key.clone(),
        salt: judged.salt.clone(),
        digest: judged.digest.clone().into_bytes(),
        version: program.version,
        kind: program.kind.code().to_owned(),
        areas: program.areas.iter().map(|a| a.code().to_owned()).collect(),
        starts_on: convert::date::to_text(program.starts_on),
        ends_on: convert::date::to_text(program.ends_on),
        capacity: program.capacity,
        program: encoded.to_vec(),
        change_seq: judged.leaf_index,
    }
}

/// What an enrolment's write knows before it judges the batch: the programs named, the
/// consenting workers, and the stored enrolments of the batch's ids and workers. Judging a
/// record updates it for the records after it.
struct EnrollmentContext {
    /// Program id → its places.
    programs: HashMap<String, ProgramPlaces>,
    /// Subject key → province of origin, for workers whose consent covers capacity building.
    consenting: HashMap<String, String>,
    /// (program id, subject key) → enrolment id.
    enrolled: HashMap<(String, String), String>,
    /// Enrolment id → its stored program, worker and status.
    stored: HashMap<String, StoredEnrollment>,
}

impl EnrollmentContext {
    async fn read(
        write: &mut LoggedWrite,
        batch: &Batch<v1::Enrollment, (Enrollment, String)>,
    ) -> Result<Self, WriteFailed> {
        let distinct = |mut values: Vec<String>| {
            values.sort();
            values.dedup();
            values
        };
        let valid = batch.valid();
        let program_ids = distinct(valid.iter().map(|r| r.value.0.program_id.clone()).collect());
        let subjects = distinct(valid.iter().map(|r| r.value.1.clone()).collect());
        let ids = distinct(valid.iter().map(|r| r.id.clone()).collect());
        Ok(Self {
            programs: write.program_places(&program_ids).await?,
            consenting: write
                .consenting_workers(&subjects, Purpose::CapacityBuilding.code())
                .await?,
            enrolled: write.enrollments_of(&subjects).await?,
            stored: write.stored_enrollments(&ids).await?,
        })
    }

    /// The row of an enrolment to be stored, or the field that refuses it and why.
    fn admit(
        &mut self,
        enrollment: &Enrollment,
        subject_key: &str,
        judged: &Judged,
    ) -> Result<EnrollmentRecord, (String, String)> {
        let refuse = |field: &str, reason: String| Err((field.to_owned(), reason));
        let id = &enrollment.enrollment_id;
        let program_id = &enrollment.program_id;
        let Some(places) = self.programs.get_mut(program_id) else {
            return refuse(
                "program_id",
                format!("no program {program_id} is published"),
            );
        };
        let enrolled_on = convert::date::to_text(enrollment.enrolled_on);
        if enrolled_on > places.ends_on {
            return refuse(
                "enrolled_on",
                format!("is after the program's last day, {}", places.ends_on),
            );
        }
        let Some(province) = self.consenting.get(subject_key) else {
            return refuse(
                "nik",
                "the worker has no placement whose consent covers CAPACITY_BUILDING; an \
                 enrolment needs that consent"
                    .to_owned(),
            );
        };
        let old = self.stored.get(id);
        if let Some(old) = old {
            if &old.program_id != program_id {
                return refuse(
                    "program_id",
                    format!(
                        "this enrolment is in program {}; an enrolment cannot move to another \
                         program, record a new one",
                        old.program_id
                    ),
                );
            }
            if old.subject_key != subject_key {
                return refuse(
                    "nik",
                    "this enrolment is another worker's; an enrolment cannot change worker, \
                     record a new one"
                        .to_owned(),
                );
            }
        }
        let worker_in_program = (program_id.clone(), subject_key.to_owned());
        if let Some(other) = self.enrolled.get(&worker_in_program)
            && other != id
        {
            return refuse(
                "nik",
                format!("the worker is enrolled in program {program_id} already, as {other}"),
            );
        }
        let holds_place = old.is_some_and(|old| old.status != DROPPED);
        let status = enrollment.status.code();
        if status == DROPPED {
            if holds_place {
                places.taken = places.taken.saturating_sub(1);
            }
        } else if !holds_place {
            if places.capacity > 0 && places.taken >= u64::from(places.capacity) {
                return refuse(
                    "program_id",
                    format!(
                        "program {program_id} is full: its {} places are taken",
                        places.capacity
                    ),
                );
            }
            places.taken += 1;
        }
        self.enrolled.insert(worker_in_program, id.clone());
        self.stored.insert(
            id.clone(),
            StoredEnrollment {
                enrollment_id: id.clone(),
                program_id: program_id.clone(),
                subject_key: subject_key.to_owned(),
                status: status.to_owned(),
            },
        );
        Ok(EnrollmentRecord {
            enrollment_id: id.clone(),
            record_key: judged.record_key.clone(),
            salt: judged.salt.clone(),
            digest: judged.digest.clone().into_bytes(),
            version: enrollment.version,
            program_id: program_id.clone(),
            subject_key: subject_key.to_owned(),
            origin_province: province.clone(),
            enrolled_on,
            status: status.to_owned(),
            business_started: enrollment.business_started,
            export_deals_usd: enrollment.export_deals_usd,
            change_seq: judged.leaf_index,
        })
    }
}

/// The filter of a listing, each field checked.
fn program_filter(r: &ListProgramsRequest) -> Result<ProgramFilter, Status> {
    let mut filter = ProgramFilter {
        active_on: r
            .active_on
            .as_ref()
            .map(|d| {
                convert::date::from_proto(d)
                    .map(convert::date::to_text)
                    .map_err(|error| invalid_field("active_on", &error.to_string()))
            })
            .transpose()?,
        ..ProgramFilter::default()
    };
    for (i, number) in r.kinds.iter().enumerate() {
        match v1::ProgramKind::from_number(*number) {
            Some(kind) if kind != v1::ProgramKind::Unspecified => {
                filter.kinds.push(kind.code().to_owned());
            }
            _ => {
                return Err(invalid_field(
                    &format!("kinds[{i}]"),
                    "is not a program kind",
                ));
            }
        }
    }
    for (i, code) in r.regency_codes.iter().enumerate() {
        let regency = Regency::parse(code)
            .map_err(|reason| invalid_field(&format!("regency_codes[{i}]"), &reason))?;
        filter
            .regencies
            .push((regency.code().to_owned(), regency.province().to_owned()));
    }
    Ok(filter)
}

#[tonic::async_trait]
impl ProgramService for ProgramApi {
    async fn publish_programs(
        &self,
        request: Request<PublishProgramsRequest>,
    ) -> Result<Response<PublishProgramsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let now = OffsetDateTime::now_utc();
        let batch = Batch::validate(
            request.into_inner().programs,
            "programs",
            now,
            program_from_proto,
        )?;
        let ticket = caller.ticket(batch.valid().len());
        let (batch, receipts) = self
            .store
            .write(ticket, move |write| {
                Box::pin(async move {
                    let mut batch = batch;
                    let (rows, leaves) = batch
                        .judge(
                            write,
                            VersionedTable::Programs,
                            (&caller, "program", DataClass::Program),
                            |record, judged| {
                                Ok((judged.verdict == Verdict::Store).then(|| {
                                    program_to_store(&record.value, &record.encoded, judged)
                                }))
                            },
                        )
                        .await?;
                    write.upsert_programs(&rows).await?;
                    Ok::<_, WriteFailed>((batch, leaves))
                })
            })
            .await
            .map_err(Status::from)?;
        let results = batch.results(&receipts);
        Ok(Response::new(PublishProgramsResponse {
            summary: Some(summary(&results)),
            results,
        }))
    }

    async fn list_programs(
        &self,
        request: Request<ListProgramsRequest>,
    ) -> Result<Response<ListProgramsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.require(DataClass::Program)?;
        let r = request.into_inner();
        let filter = program_filter(&r)?;
        let page_size = paging::page_size(r.page_size)?;
        let after = paging::parse("page_token", "after", &r.page_token)?.unwrap_or(0);
        let rows = self
            .store
            .programs(&filter, i64::try_from(after).unwrap_or(i64::MAX), page_size)
            .await
            .map_err(store_status)?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() == page_size as usize => {
                paging::token("after", u64::try_from(last.id).unwrap_or(0))
            }
            _ => String::new(),
        };
        let programs = rows
            .iter()
            .map(|row| {
                v1::ExportProgram::decode(row.program.as_slice()).map_err(|error| {
                    tracing::error!(%error, "a stored program does not decode");
                    Status::internal("a stored program is unreadable; nothing was shared")
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let shared = rows.iter().map(|row| {
            (
                row.record_key.as_str(),
                row.salt.as_slice(),
                row.program.as_slice(),
            )
        });
        let receipts =
            log_shared(&self.store, &caller, "program", DataClass::Program, shared).await?;
        Ok(Response::new(ListProgramsResponse {
            programs,
            next_page_token,
            receipts,
        }))
    }

    async fn record_enrollments(
        &self,
        request: Request<RecordEnrollmentsRequest>,
    ) -> Result<Response<RecordEnrollmentsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let now = OffsetDateTime::now_utc();
        let today = latest_date(now);
        let key = Arc::clone(&self.key);
        let batch = Batch::validate(
            request.into_inner().enrollments,
            "enrollments",
            now,
            |enrollment, prefix| {
                let enrollment = enrollment_from_proto(enrollment, prefix, today)?;
                let subject_key = key.subject_key(enrollment.nik.as_str());
                Ok((enrollment, subject_key))
            },
        )?;
        let ticket = caller.ticket(batch.valid().len());
        let (batch, receipts) = self
            .store
            .write(ticket, move |write| {
                Box::pin(async move {
                    let mut batch = batch;
                    let mut context = EnrollmentContext::read(write, &batch).await?;
                    let (rows, leaves) = batch
                        .judge(
                            write,
                            VersionedTable::Enrollments,
                            (&caller, "enrollment", DataClass::Outcome),
                            |record, judged| {
                                if judged.verdict != Verdict::Store {
                                    return Ok(None);
                                }
                                let (enrollment, subject_key) = &record.value;
                                context.admit(enrollment, subject_key, judged).map(Some)
                            },
                        )
                        .await?;
                    write.upsert_enrollments(&rows).await?;
                    Ok::<_, WriteFailed>((batch, leaves))
                })
            })
            .await
            .map_err(Status::from)?;
        let results = batch.results(&receipts);
        Ok(Response::new(RecordEnrollmentsResponse {
            summary: Some(summary(&results)),
            results,
        }))
    }

    async fn query_program_outcomes(
        &self,
        request: Request<QueryProgramOutcomesRequest>,
    ) -> Result<Response<QueryProgramOutcomesResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.require(DataClass::Outcome)?;
        let r = request.into_inner();
        if r.program_ids.len() > MAX_BATCH {
            return Err(invalid_field(
                "program_ids",
                &format!("at most {MAX_BATCH} programs"),
            ));
        }
        for (i, id) in r.program_ids.iter().enumerate() {
            if id.is_empty() || id.chars().count() > 64 {
                return Err(invalid_field(
                    &format!("program_ids[{i}]"),
                    "must be 1 to 64 characters",
                ));
            }
        }
        // Read and logged in one write: the answer reflects every erasure and withdrawal
        // logged before it, and none after.
        let keys = CellKeys::new(self.key.count_secret());
        let perturbation = self.perturbation.clone();
        // Sized by the programs it reads in the writer, so that a question of many programs
        // is not taken for a small write (which goes first).
        let ticket = caller.ticket(r.program_ids.len());
        let (mut answer, receipts) = self
            .store
            .write(ticket, move |write| {
                Box::pin(async move {
                    let rows = write.outcome_rows(&r.program_ids).await?;
                    let answer = QueryProgramOutcomesResponse {
                        outcomes: outcomes::publish(
                            &rows,
                            r.by_origin_province,
                            &keys,
                            &perturbation,
                        ),
                        suppression_threshold: u32::try_from(perturbation.threshold)
                            .unwrap_or(u32::MAX),
                        receipt: None,
                    };
                    let leaf = caller.aggregate_of(DataClass::Outcome, &answer.encode_to_vec());
                    Ok::<_, WriteFailed>((answer, vec![leaf]))
                })
            })
            .await
            .map_err(Status::from)?;
        answer.receipt = receipts.first().map(receipt);
        Ok(Response::new(answer))
    }
}
