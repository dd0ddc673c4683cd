//! The WorkforceService: Kemendag asks how many workers are available (counts from the
//! in-memory index, perturbed by the cell-key method, small counts never published), lists
//! consented workers under pairwise pseudonyms, and watches for workers newly matching a
//! filter.
//!
//! Every answer is logged before it is sent, in the same transaction as the read: one leaf per
//! candidate returned or streamed, one per aggregate answer. Individual workers are shown only
//! when their consent covers the stated purpose; name and contact only when the policies let
//! the caller read the `contact` class for that purpose.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jembatan_audit::leaf::record_digest;
use jembatan_counts::{Availability, CountsError, ExactCounts, Perturbation};
use jembatan_domain::Purpose;
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_policy::DataClass;
use jembatan_proto::v1::{
    self, AvailabilityCell, Candidate, ListCandidatesRequest, ListCandidatesResponse,
    QueryAvailabilityRequest, QueryAvailabilityResponse, WatchAvailabilityRequest,
    WatchAvailabilityResponse, workforce_service_server::WorkforceService,
};
use jembatan_store::{CandidateOrder, CandidateRow, PlacementFilter, Store};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::call::Caller;
use crate::services::{paging, receipt};
use crate::status::{WriteFailed, refusal_name, store_status};
use filter::{count_filter, dimensions, placement_filter};

mod filter;

/// Times a page, or a count, is read again when what it drew from changed before it was logged.
const MAX_READS: usize = 3;

/// Candidates a watch reads, logs and sends at a time.
const WATCH_BATCH: u32 = 32;

/// Settings of the service.
#[derive(Debug, Clone)]
pub(crate) struct WorkforceSettings {
    /// How counts are published.
    pub(crate) perturbation: Perturbation,
    /// Time between a watch's looks for new records.
    pub(crate) watch_interval: Duration,
    /// How long a watch stream lasts before it is ended.
    pub(crate) watch_lifetime: Duration,
}

/// The WorkforceService over the store.
#[derive(Debug, Clone)]
pub(crate) struct WorkforceApi {
    store: Store,
    key: Arc<PersonalDataKey>,
    availability: Arc<Availability>,
    settings: Arc<WorkforceSettings>,
    /// Turns true when the exchange shuts down: watches end, their clients resume elsewhere.
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// What a caller may see of individual workers in one call.
#[derive(Debug, Clone)]
struct View {
    caller: Caller,
    recipient: String,
    contact: bool,
    filter: PlacementFilter,
}

impl WorkforceApi {
    pub(crate) fn new(
        store: Store,
        key: Arc<PersonalDataKey>,
        availability: Arc<Availability>,
        settings: WorkforceSettings,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            key,
            availability,
            settings: Arc::new(settings),
            stopping,
        }
    }

    /// The caller's view of individual workers: profiles must be allowed for the purpose,
    /// contact details may be; only workers whose consent covers the purpose match.
    fn view(
        &self,
        caller: Caller,
        filter: Option<&v1::AvailabilityFilter>,
    ) -> Result<View, Status> {
        let contact = Self::grants_contact(&caller)?;
        let recipient = caller
            .agency()
            .ok_or_else(|| Status::permission_denied("only agencies receive worker profiles"))?
            .to_owned();
        let mut filter = placement_filter(filter)?;
        filter.consented_to = Some(caller.purpose.code().to_owned());
        Ok(View {
            caller,
            recipient,
            contact,
            filter,
        })
    }

    /// PERMISSION_DENIED unless the caller may read profiles; whether it may read contact
    /// details too, which needs the purpose BUSINESS_MATCHING whatever the policies say.
    fn grants_contact(caller: &Caller) -> Result<bool, Status> {
        caller.require(DataClass::Profile)?;
        Ok(caller.purpose == Purpose::BusinessMatching && caller.may_read(DataClass::Contact)?)
    }

    /// Decides a long-lived call again with the policies in force now: a stream stops when its
    /// caller loses the right to it.
    fn refresh(view: &mut View) -> Result<(), Status> {
        view.caller.redecide()?;
        view.contact = Self::grants_contact(&view.caller)?;
        Ok(())
    }

    /// Candidates of `rows` as `view` may see them, and the leaves that log them.
    fn candidates(
        &self,
        view: &View,
        rows: &[CandidateRow],
    ) -> Result<(Vec<Candidate>, Vec<jembatan_audit::leaf::LeafEntry>), Status> {
        let mut candidates = Vec::with_capacity(rows.len());
        let mut leaves = Vec::with_capacity(rows.len());
        for row in rows {
            let mut candidate = Candidate::decode(row.profile.as_slice()).map_err(|error| {
                tracing::error!(%error, record_key = %row.record_key, "stored profile does not decode");
                Status::internal("a stored record is malformed; nothing was shared")
            })?;
            candidate.pseudonym = self.key.pseudonym(&view.recipient, &row.subject_key);
            if view.contact {
                candidate.full_name = row.full_name.clone().unwrap_or_default();
                if row.phone.is_some() || row.email.is_some() {
                    candidate.contact = Some(v1::Contact {
                        phone: row.phone.clone().unwrap_or_default(),
                        email: row.email.clone().unwrap_or_default(),
                    });
                }
            }
            let classes: &[DataClass] =
                if candidate.full_name.is_empty() && candidate.contact.is_none() {
                    &[DataClass::Profile]
                } else {
                    &[DataClass::Profile, DataClass::Contact]
                };
            let digest = record_digest(&row.salt, &candidate.encode_to_vec());
            leaves.push(
                view.caller
                    .shared("placement", &row.record_key, classes, digest),
            );
            candidates.push(candidate);
        }
        Ok((candidates, leaves))
    }

    /// Reads up to `limit` candidates from `order` outside any write, then logs and returns
    /// them unless a record read changed meanwhile (an erasure, a consent withdrawal, a new
    /// version): then the page is read again. Returns the shared candidates and where the
    /// listing goes on (`None`: the table was read to its end).
    async fn share(
        &self,
        view: &View,
        order: CandidateOrder,
        limit: u32,
    ) -> Result<Shared, Status> {
        for _ in 0..MAX_READS {
            let page = self
                .store
                .candidates(&view.filter, order, limit)
                .await
                .map_err(store_status)?;
            if page.rows.is_empty() {
                return Ok((Vec::new(), page.resume_after));
            }
            let (candidates, leaves) = self.candidates(view, &page.rows)?;
            let purpose = view.caller.purpose.code();
            let rows = page.rows;
            let ((rows, as_read), receipts) = self
                .store
                .write(view.caller.ticket(leaves.len()), move |write| {
                    Box::pin(async move {
                        let as_read = write.still_as_read(&rows, purpose).await?;
                        let leaves = if as_read { leaves } else { Vec::new() };
                        Ok::<_, WriteFailed>(((rows, as_read), leaves))
                    })
                })
                .await
                .map_err(Status::from)?;
            if as_read {
                let shared = rows
                    .into_iter()
                    .zip(candidates)
                    .zip(receipts.iter().map(receipt))
                    .map(|((row, candidate), receipt)| (row, candidate, receipt))
                    .collect();
                return Ok((shared, page.resume_after));
            }
        }
        Err(Status::aborted(format!(
            "the records read changed {MAX_READS} times before they could be shared; nothing \
             was shared; retry"
        )))
    }
}

/// The answer to a count: `exact` perturbed and thresholded as `perturbation` says.
fn published(perturbation: &Perturbation, exact: &ExactCounts) -> QueryAvailabilityResponse {
    let shown = perturbation.shows_cells_of(&exact.total);
    let cells: Vec<AvailabilityCell> = if shown {
        exact
            .cells
            .iter()
            .filter_map(|cell| {
                perturbation.publish(cell).map(|count| AvailabilityCell {
                    keys: cell.keys.clone(),
                    count,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let table = &perturbation.table;
    QueryAvailabilityResponse {
        cells,
        total: shown.then(|| perturbation.publish(&exact.total)).flatten(),
        suppression_threshold: u32::try_from(perturbation.threshold).unwrap_or(u32::MAX),
        receipt: None,
        change: exact.change.unwrap_or(0),
        perturbation: Some(v1::Perturbation {
            table: table.name(),
            max_noise: table.max_noise(),
            variance: table.variance(),
        }),
        minimum_workers: u32::try_from(perturbation.minimum_workers).unwrap_or(u32::MAX),
    }
}

/// The status of a count that could not be read.
fn counts_status(error: CountsError) -> Status {
    match error {
        CountsError::NotYet { .. } => Status::failed_precondition(error.to_string()),
        error => {
            tracing::error!(%error, "counting failed");
            Status::unavailable("the counts cannot be read now; retry")
        }
    }
}

/// Candidates shared, each with its row and receipt, and where the listing goes on.
type Shared = (Vec<(CandidateRow, Candidate, v1::Receipt)>, Option<i64>);

type WatchStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<WatchAvailabilityResponse, Status>> + Send>>;

#[tonic::async_trait]
impl WorkforceService for WorkforceApi {
    async fn query_availability(
        &self,
        request: Request<QueryAvailabilityRequest>,
    ) -> Result<Response<QueryAvailabilityResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.require(DataClass::Aggregate)?;
        let request = request.into_inner();
        let filter = count_filter(request.filter.as_ref())?;
        let group_by = dimensions(&request.group_by)?;
        let min_change = (request.min_change > 0).then_some(request.min_change);
        let exact = self
            .availability
            .count(&filter, &group_by, min_change)
            .await
            .map_err(counts_status)?;
        // The count is read before its leaf's turn to write. In the leaf's own transaction,
        // holding the writer's turn (no other write commits meanwhile), it is checked against
        // the erasures committed after the change it reflects; if one is missing it is counted
        // again: this process applies its own erasures to the index before they commit, and
        // follows another process's, committed, by a refresh. So no answer drawn from erased
        // data follows the erasure in the log.
        let availability = Arc::clone(&self.availability);
        let perturbation = self.settings.perturbation.clone();
        let ticket = caller.ticket(1);
        let (response, receipts) = self
            .store
            .write(ticket, move |write| {
                Box::pin(async move {
                    let mut exact = exact;
                    for attempt in 0..MAX_READS {
                        let through = exact.change.unwrap_or(0);
                        let ahead = &exact.erased_ahead;
                        let limit = u32::try_from(ahead.len() + 1).unwrap_or(u32::MAX);
                        let later = write.erased_after(through, limit).await?;
                        if later.iter().all(|at| ahead.binary_search(at).is_ok()) {
                            let response = published(&perturbation, &exact);
                            let leaf = caller.aggregate(&response.encode_to_vec());
                            return Ok((Some(response), vec![leaf]));
                        }
                        if attempt > 0 && availability.refresh().await.is_err() {
                            break;
                        }
                        exact = availability.count_now(&filter, &group_by);
                    }
                    Ok((None, Vec::new()))
                })
            })
            .await
            .map_err(store_status)?;
        let Some(mut response) = response else {
            return Err(Status::unavailable(
                "the counts are catching up with erasures; retry",
            ));
        };
        response.receipt = receipts.first().map(receipt);
        Ok(Response::new(response))
    }

    async fn list_candidates(
        &self,
        request: Request<ListCandidatesRequest>,
    ) -> Result<Response<ListCandidatesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let view = self.view(caller, request.filter.as_ref())?;
        let page_size = paging::page_size(request.page_size)?;
        let after = paging::parse("page_token", "after", &request.page_token)?.unwrap_or(0);
        let (mut shared, resume_after) = self
            .share(&view, CandidateOrder::AfterId(to_i64(after)), page_size)
            .await?;
        // A page may be short, even empty, and still have a next one: each page reads a
        // bounded number of records, whatever the filter.
        let next_page_token = resume_after
            .map(|id| paging::token("after", to_u64(id)))
            .unwrap_or_default();
        let mut candidates = Vec::with_capacity(shared.len());
        let mut receipts = Vec::with_capacity(shared.len());
        for (_, candidate, receipt) in shared.drain(..) {
            candidates.push(candidate);
            receipts.push(receipt);
        }
        Ok(Response::new(ListCandidatesResponse {
            candidates,
            next_page_token,
            receipts,
        }))
    }

    async fn watch_availability(
        &self,
        request: Request<WatchAvailabilityRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let view = self.view(caller, request.filter.as_ref())?;
        let resumed = paging::parse("resume_cursor", "change", &request.resume_cursor)?;
        let mut cursor = match resumed {
            Some(cursor) => to_i64(cursor),
            // From now: every change from here on has a leaf index at or above the log's size.
            None => to_i64(self.store.log_size().await.map_err(store_status)?) - 1,
        };
        let (sender, receiver) = mpsc::channel(WATCH_BATCH as usize);
        let api = self.clone();
        let mut view = view;
        let ends = tokio::time::Instant::now() + self.settings.watch_lifetime;
        let mut stopping = self.stopping.clone();
        // The watch runs in the call's span: its writes are in the call's trace.
        let watch = async move {
            loop {
                // Past its lifetime, or the exchange shutting down: the stream ends with OK
                // and the client resumes from its cursor.
                if tokio::time::Instant::now() >= ends || *stopping.borrow() {
                    return;
                }
                // Placements commit in change order, so every change up to `latest` is
                // visible once `latest` is.
                let latest = match api.store.latest_change().await {
                    Ok(latest) => latest.map_or(-1, to_i64),
                    Err(error) => {
                        let _ = sender.send(Err(store_status(error))).await;
                        return;
                    }
                };
                if latest <= cursor {
                    tokio::select! {
                        () = tokio::time::sleep(api.settings.watch_interval) => continue,
                        () = tokio::time::sleep_until(ends) => return,
                        _ = stopping.changed() => return,
                        () = sender.closed() => return,
                    }
                }
                // Read (and log) only what the client has room for: a stalled client holds
                // no more than one batch, and nothing read before a withdrawal waits long.
                let Ok(mut permits) = sender.reserve_many(WATCH_BATCH as usize).await else {
                    return;
                };
                let shared = match Self::refresh(&mut view) {
                    Ok(()) => {
                        api.share(&view, CandidateOrder::AfterChange(cursor), WATCH_BATCH)
                            .await
                    }
                    Err(status) => Err(status),
                };
                let (shared, resume_after) = match shared {
                    Ok(shared) => shared,
                    Err(status) => {
                        // A refusal in the stream (the caller lost its right) comes after the
                        // response headers, where the policy layer cannot see it: logged here.
                        let status = api.logged_refusal(&view.caller, status).await;
                        if let Some(permit) = permits.next() {
                            permit.send(Err(status));
                        }
                        return;
                    }
                };
                if shared.is_empty() {
                    // None of the changes read matches: on from the last one read, or from
                    // `latest` once every change has been read.
                    cursor = resume_after.unwrap_or(latest);
                    continue;
                }
                for ((row, candidate, receipt), permit) in shared.into_iter().zip(permits) {
                    cursor = row.change_seq;
                    permit.send(Ok(WatchAvailabilityResponse {
                        candidate: Some(candidate),
                        cursor: paging::token("change", to_u64(row.change_seq)),
                        receipt: Some(receipt),
                    }));
                }
            }
        };
        tokio::spawn(watch.in_current_span());
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

impl WorkforceApi {
    /// `status`, once its leaf is committed if it is a refusal; the store's status if the leaf
    /// cannot be written.
    async fn logged_refusal(&self, caller: &Caller, status: Status) -> Status {
        let Some(name) = refusal_name(status.code()) else {
            return status;
        };
        match self
            .store
            .log(caller.ticket(1), vec![caller.refused(name)])
            .await
        {
            Ok(_) => status,
            Err(error) => store_status(error),
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
