//! The handlers of the contract, one module per gRPC service. A handler gets its
//! [`crate::call::Caller`] from the layers, validates the message, does its data work in one
//! logged write of the store (the work and its audit leaves, or nothing), and answers with the
//! leaves' receipts. Failures become statuses in [`crate::status`] only.
//!
//! A new service is a module here, its line in [`contract`], its policies and its proto.

use std::convert::Infallible;
use std::sync::Arc;

use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_pki::TrustDomain;
use jembatan_proto::v1::{
    audit_service_server::AuditServiceServer,
    market_intel_service_server::MarketIntelServiceServer,
    placement_service_server::PlacementServiceServer, program_service_server::ProgramServiceServer,
    workforce_service_server::WorkforceServiceServer,
};
use jembatan_store::Store;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::service::Routes;

mod audit;
mod fields;
mod market;
pub(crate) mod paging;
pub(crate) mod placement;
mod program;
mod record_keys;
mod versioned;
mod workforce;

pub(crate) use audit::witnesses::Witnesses;
pub(crate) use workforce::WorkforceSettings;

/// What the services are built from.
pub(crate) struct Deps {
    /// The store every service reads and writes through.
    pub(crate) store: Store,
    /// The trust domain callers' identities are in.
    pub(crate) trust_domain: TrustDomain,
    /// The key of subject keys and pseudonyms.
    pub(crate) personal_data_key: Arc<PersonalDataKey>,
    /// The witnesses' registered keys.
    pub(crate) witnesses: Witnesses,
    /// The count index.
    pub(crate) availability: Arc<jembatan_counts::Availability>,
    /// Settings of the WorkforceService.
    pub(crate) workforce: WorkforceSettings,
    /// Largest messages the services decode.
    pub(crate) messages: MessageLimits,
    /// Turns true when the exchange shuts down: streams that never end by themselves end.
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
}

/// Largest request messages, in bytes, and the most messages of a stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageLimits {
    /// Of the batches of up to 1,000 records: placements, market reports, programs and
    /// enrolments.
    pub(crate) placement: usize,
    /// Of every other service, whose requests are filters, tokens and signatures.
    pub(crate) request: usize,
    /// Messages one StreamPlacements call may carry.
    pub(crate) stream_messages: u64,
}

/// The contract's services as routes, and their names (for health).
pub(crate) struct Contract {
    /// The routes to every service.
    pub(crate) routes: Routes,
    /// The services' full names, e.g. `jembatan.v1.PlacementService`.
    pub(crate) names: Vec<&'static str>,
}

impl Contract {
    fn add<S>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }
}

/// Every service of the contract.
pub(crate) fn contract(deps: Deps) -> Contract {
    let Deps {
        store,
        trust_domain,
        personal_data_key: key,
        witnesses,
        availability,
        workforce,
        messages,
        stopping,
    } = deps;
    let perturbation = workforce.perturbation.clone();
    Contract {
        routes: Routes::default(),
        names: Vec::new(),
    }
    .add(
        PlacementServiceServer::new(placement::PlacementApi::new(
            store.clone(),
            Arc::clone(&key),
            Arc::clone(&availability),
            messages.stream_messages,
        ))
        .max_decoding_message_size(messages.placement),
    )
    .add(
        WorkforceServiceServer::new(workforce::WorkforceApi::new(
            store.clone(),
            Arc::clone(&key),
            availability,
            workforce,
            stopping,
        ))
        .max_decoding_message_size(messages.request),
    )
    .add(
        MarketIntelServiceServer::new(market::MarketApi::new(store.clone(), Arc::clone(&key)))
            .max_decoding_message_size(messages.placement),
    )
    .add(
        ProgramServiceServer::new(program::ProgramApi::new(
            store.clone(),
            Arc::clone(&key),
            perturbation,
        ))
        .max_decoding_message_size(messages.placement),
    )
    .add(
        AuditServiceServer::new(audit::AuditApi::new(store, trust_domain, witnesses, key))
            .max_decoding_message_size(messages.request),
    )
}

/// The latest calendar date anywhere on Earth at `now` (UTC+14): a date "not in the future"
/// is judged against it, since reports and enrolments are dated where they happen.
pub(crate) fn latest_date(now: time::OffsetDateTime) -> time::Date {
    (now + time::Duration::hours(14)).date()
}

/// Logs the leaves of the records of a page shared with `caller`, one per record (its
/// pseudonymous key, salt and bytes as stored), and returns their receipts in the same order;
/// an empty page logs nothing.
pub(crate) async fn log_shared<'a>(
    store: &Store,
    caller: &crate::call::Caller,
    record_type: &str,
    class: jembatan_policy::DataClass,
    records: impl Iterator<Item = (&'a str, &'a [u8], &'a [u8])>,
) -> Result<Vec<jembatan_proto::v1::Receipt>, tonic::Status> {
    let leaves: Vec<_> = records
        .map(|(record_key, salt, bytes)| {
            caller.shared(
                record_type,
                record_key,
                &[class],
                jembatan_audit::leaf::record_digest(salt, bytes),
            )
        })
        .collect();
    if leaves.is_empty() {
        return Ok(Vec::new());
    }
    let receipts = store
        .log(caller.ticket(leaves.len()), leaves)
        .await
        .map_err(crate::status::store_status)?;
    Ok(receipts.iter().map(receipt).collect())
}

/// A receipt as the contract carries it.
pub(crate) fn receipt(receipt: &jembatan_store::Receipt) -> jembatan_proto::v1::Receipt {
    jembatan_proto::v1::Receipt {
        leaf_index: receipt.leaf_index,
        leaf_hash: receipt.leaf_hash.to_vec(),
    }
}
