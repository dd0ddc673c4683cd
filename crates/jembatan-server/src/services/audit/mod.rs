//! The AuditService: entries, checkpoints and proofs of the audit log, answered from the store.
//!
//! Every method first asks the policies for the data class `audit_metadata`, as the handlers of
//! every service ask for the classes they return. Agencies (the witness role) may prove only
//! leaves written for their own agency. AddCosignature takes a witness's cosignature only with a
//! key registered for the caller in `[audit.witnesses]`. ListSubjectAccesses answers a worker's
//! UU PDP Article 32 request from the leaves of the worker's stored records (found through the
//! subject key of the NIK); after an erasure those records, and so the link, are gone.
//!
//! Every answer that shows what leaves hold, and every cosignature, is logged before it is sent:
//! one leaf per call (record type `audit_entries`, `audit_entry`, `audit_summary`,
//! `cosignature`, or `subject_access`), with the digest of the answer as encoded, so that who looked at what is
//! itself on the record. Checkpoints and proofs are not: they carry hashes and the log's signed
//! commitments, which are meant to be passed around, and a witness or verifier that grew the
//! log with every look would never find it at rest. A refused call is logged by the policy
//! layer on its way back (see `crate::layers::refusals`).

use std::sync::Arc;

use jembatan_audit::leaf::{LeafEntry, Outcome, timestamp};
use jembatan_audit::merkle;
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_pki::{Principal, PrincipalKind, TrustDomain};
use jembatan_policy::DataClass;
use jembatan_proto::convert::ShortCode;
use jembatan_proto::v1::{
    self, AddCosignatureRequest, AddCosignatureResponse, GetCheckpointRequest,
    GetCheckpointResponse, GetConsistencyProofRequest, GetConsistencyProofResponse,
    GetEntryRequest, GetEntryResponse, GetInclusionProofRequest, GetInclusionProofResponse,
    InclusionProof, ListEntriesRequest, ListEntriesResponse, ListSubjectAccessesRequest,
    ListSubjectAccessesResponse, SubjectAccess, SummarizeEntriesRequest, SummarizeEntriesResponse,
    audit_service_server::AuditService, get_inclusion_proof_request::Leaf,
};
use jembatan_store::{LeafFilter, Store, StoreError, StoredCheckpoint, StoredCosignature};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::call::Caller;
use crate::services::paging;
use crate::status::store_status;
use entries::{cosignature_message, entry_message, parse_leaf, stored_time, time_range};
use witnesses::Witnesses;

mod entries;
mod summary;
pub(crate) mod witnesses;

/// The AuditService over the store.
#[derive(Debug, Clone)]
pub(crate) struct AuditApi {
    store: Store,
    trust_domain: TrustDomain,
    witnesses: Arc<Witnesses>,
    personal_data_key: Arc<PersonalDataKey>,
}

impl AuditApi {
    pub(crate) fn new(
        store: Store,
        trust_domain: TrustDomain,
        witnesses: Witnesses,
        personal_data_key: Arc<PersonalDataKey>,
    ) -> Self {
        Self {
            store,
            trust_domain,
            witnesses: Arc::new(witnesses),
            personal_data_key,
        }
    }

    /// `answer` to `caller`, once its leaf (`record_type`, `record_key`) is committed.
    async fn logged<T: Message>(
        &self,
        caller: &Caller,
        record_type: &str,
        record_key: String,
        answer: T,
    ) -> Result<Response<T>, Status> {
        let leaf = caller.audit_read(record_type, &record_key, &answer.encode_to_vec());
        self.store
            .log(caller.ticket(1), vec![leaf])
            .await
            .map_err(store_status)?;
        Ok(Response::new(answer))
    }

    /// The caller, after checking that it may read audit metadata for its stated purpose.
    fn reader<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let caller = Caller::of(request)?;
        caller.require(DataClass::AuditMetadata)?;
        Ok(caller)
    }

    /// The latest checkpoint, or the one of exactly `size` leaves (0 for the latest).
    async fn checkpoint(&self, size: u64) -> Result<StoredCheckpoint, Status> {
        let wanted = (size != 0).then_some(size);
        self.store
            .checkpoint(wanted)
            .await
            .map_err(store_status)?
            .ok_or_else(|| match wanted {
                Some(size) => Status::not_found(format!("no checkpoint of tree_size {size}")),
                None => Status::unavailable("the log has no checkpoint yet"),
            })
    }

    /// A tree size to prove against: 0 for the latest checkpoint, else at most its size.
    async fn provable_size(&self, field: &str, size: u64) -> Result<u64, Status> {
        let latest = self.checkpoint(0).await?.size;
        match size {
            0 => Ok(latest),
            size if size > latest => Err(Status::failed_precondition(format!(
                "{field} {size} is beyond the latest checkpoint ({latest} leaves)"
            ))),
            size => Ok(size),
        }
    }

    /// The stored leaf `index`, parsed.
    async fn leaf(&self, index: u64) -> Result<(Vec<u8>, LeafEntry), Status> {
        let data = self
            .store
            .leaf(index)
            .await
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found(format!("no leaf {index}")))?;
        let entry = parse_leaf(index, &data)?;
        Ok((data, entry))
    }

    /// One page of leaves matching `filter` after index `after`, and the token of the next page
    /// (empty on the last).
    async fn leaves_page(
        &self,
        filter: &LeafFilter,
        after: Option<u64>,
        page_size: u32,
    ) -> Result<(Vec<(u64, Vec<u8>)>, String), Status> {
        let rows = self
            .store
            .list_leaves(filter, after, u64::MAX, page_size)
            .await
            .map_err(store_status)?;
        let next_page_token = match rows.last() {
            Some((index, _)) if rows.len() == page_size as usize => paging::token("after", *index),
            _ => String::new(),
        };
        Ok((rows, next_page_token))
    }

    /// Agencies prove only their own leaves; auditors any.
    fn may_prove(&self, principal: &Principal, index: u64, leaf: &LeafEntry) -> Result<(), Status> {
        let PrincipalKind::Agency { agency, .. } = principal.kind() else {
            return Ok(());
        };
        let own = format!("spiffe://{}/agency/{agency}/", self.trust_domain);
        if leaf.principal.starts_with(&own) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "leaf {index} was not written for agency {agency}"
            )))
        }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_entries(
        &self,
        request: Request<ListEntriesRequest>,
    ) -> Result<Response<ListEntriesResponse>, Status> {
        let caller = self.reader(&request)?;
        let r = request.into_inner();
        let page_size = paging::page_size(r.page_size)?;
        let after = match (
            paging::parse("page_token", "after", &r.page_token)?,
            r.from_index.checked_sub(1),
        ) {
            (Some(token), Some(from)) => Some(token.max(from)),
            (token, from) => token.or(from),
        };
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let (from_time, to_time) = time_range(r.from_time, r.to_time)?;
        let filter = LeafFilter {
            from_time,
            to_time,
            principal: non_empty(r.principal),
            principal_prefix: non_empty(r.agency)
                .map(|agency| format!("spiffe://{}/agency/{agency}/", self.trust_domain)),
            method: non_empty(r.method).map(|m| {
                m.strip_prefix("/jembatan.v1.")
                    .map(str::to_owned)
                    .unwrap_or(m)
            }),
            purpose: match v1::Purpose::try_from(r.purpose) {
                Ok(v1::Purpose::Unspecified) => None,
                Ok(purpose) => Some(purpose.code().to_owned()),
                Err(_) => return Err(Status::invalid_argument("purpose is not a known value")),
            },
            outcome: match v1::Decision::try_from(r.decision) {
                Ok(v1::Decision::Unspecified) => None,
                Ok(v1::Decision::Allow) => Some(Outcome::Allow),
                Ok(v1::Decision::Deny) => Some(Outcome::Deny),
                Err(_) => return Err(Status::invalid_argument("decision is not a known value")),
            },
            record_type: non_empty(r.record_type),
            subject_key: None,
        };
        let (rows, next_page_token) = self.leaves_page(&filter, after, page_size).await?;
        let entries = rows
            .iter()
            .map(|(index, data)| entry_message(*index, data))
            .collect::<Result<_, _>>()?;
        let first = rows.first().map(|(index, _)| index.to_string());
        let answer = ListEntriesResponse {
            entries,
            next_page_token,
        };
        self.logged(&caller, "audit_entries", first.unwrap_or_default(), answer)
            .await
    }

    async fn get_entry(
        &self,
        request: Request<GetEntryRequest>,
    ) -> Result<Response<GetEntryResponse>, Status> {
        let caller = self.reader(&request)?;
        let r = request.into_inner();
        let checkpoint = self.checkpoint(r.tree_size).await?;
        let (data, leaf) = self.leaf(r.index).await?;
        self.may_prove(&caller.principal, r.index, &leaf)?;
        let proof = self.inclusion(r.index, checkpoint.size).await?;
        let answer = GetEntryResponse {
            entry: Some(entry_message(r.index, &data)?),
            proof: Some(proof),
            checkpoint: Some(self.checkpoint_message(&checkpoint).await?),
        };
        self.logged(&caller, "audit_entry", r.index.to_string(), answer)
            .await
    }

    async fn get_checkpoint(
        &self,
        request: Request<GetCheckpointRequest>,
    ) -> Result<Response<GetCheckpointResponse>, Status> {
        self.reader(&request)?;
        let checkpoint = self.checkpoint(request.into_inner().tree_size).await?;
        let answer = GetCheckpointResponse {
            checkpoint: Some(self.checkpoint_message(&checkpoint).await?),
        };
        Ok(Response::new(answer))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<GetInclusionProofRequest>,
    ) -> Result<Response<GetInclusionProofResponse>, Status> {
        let caller = self.reader(&request)?;
        let principal = &caller.principal;
        let r = request.into_inner();
        let index = match r.leaf {
            Some(Leaf::LeafIndex(index)) => index,
            Some(Leaf::LeafHash(hash)) => {
                let hash: merkle::Hash = hash
                    .try_into()
                    .map_err(|_| Status::invalid_argument("leaf_hash must be 32 bytes"))?;
                self.store
                    .leaf_index(&hash)
                    .await
                    .map_err(store_status)?
                    .ok_or_else(|| Status::not_found("no leaf with that leaf_hash"))?
            }
            None => return Err(Status::invalid_argument("give leaf_index or leaf_hash")),
        };
        let size = self.provable_size("tree_size", r.tree_size).await?;
        if matches!(principal.kind(), PrincipalKind::Agency { .. }) {
            // An agency proves its own receipts only; auditors prove any leaf, so their proofs
            // skip reading it.
            let (_, leaf) = self.leaf(index).await?;
            self.may_prove(principal, index, &leaf)?;
        }
        let answer = GetInclusionProofResponse {
            proof: Some(self.inclusion(index, size).await?),
        };
        Ok(Response::new(answer))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<GetConsistencyProofRequest>,
    ) -> Result<Response<GetConsistencyProofResponse>, Status> {
        self.reader(&request)?;
        let r = request.into_inner();
        if r.from_size == 0 {
            return Err(Status::invalid_argument("from_size must be at least 1"));
        }
        let to_size = self.provable_size("to_size", r.to_size).await?;
        if r.from_size > to_size {
            return Err(Status::invalid_argument(format!(
                "from_size {} is above to_size {to_size}",
                r.from_size
            )));
        }
        let hashes = self
            .store
            .consistency_proof(r.from_size, to_size)
            .await
            .map_err(store_status)?;
        let answer = GetConsistencyProofResponse {
            from_size: r.from_size,
            to_size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
        };
        Ok(Response::new(answer))
    }

    async fn list_subject_accesses(
        &self,
        request: Request<ListSubjectAccessesRequest>,
    ) -> Result<Response<ListSubjectAccessesResponse>, Status> {
        let caller = self.reader(&request)?;
        let r = request.into_inner();
        let nik = jembatan_domain::Nik::parse(&r.nik)
            .map_err(|reason| Status::invalid_argument(format!("nik: {reason}")))?;
        let page_size = paging::page_size(r.page_size)?;
        // Everything the caller sent is checked before the lookup is logged: a refusal is
        // logged once, as a refusal.
        let (from_time, to_time) = time_range(r.from_time, r.to_time)?;
        let after = paging::parse("page_token", "after", &r.page_token)?;
        let subject_key = self.personal_data_key.subject_key(nik.as_str());
        // The lookup is itself a processing of the worker's data: logged under the worker's
        // first record, so that it shows in the history it answers.
        let ticket = caller.ticket(1);
        let lookup_key = subject_key.clone();
        self.store
            .write(ticket, move |write| {
                Box::pin(async move {
                    let record_key = write
                        .subject_placements(&lookup_key)
                        .await?
                        .first()
                        .map(|p| p.record_key.clone())
                        .unwrap_or_default();
                    let leaf = caller.shared(
                        "subject_access",
                        &record_key,
                        &[DataClass::AuditMetadata],
                        String::new(),
                    );
                    Ok::<_, StoreError>(((), vec![leaf]))
                })
            })
            .await
            .map_err(store_status)?;
        let filter = LeafFilter {
            from_time,
            to_time,
            subject_key: Some(subject_key),
            ..LeafFilter::default()
        };
        let (rows, next_page_token) = self.leaves_page(&filter, after, page_size).await?;
        let accesses = rows
            .iter()
            .map(|(index, data)| {
                let leaf = parse_leaf(*index, data)?;
                Ok(SubjectAccess {
                    time: stored_time(&leaf.time),
                    principal: leaf.principal,
                    method: format!("/jembatan.v1.{}", leaf.method),
                    purpose: v1::Purpose::number_of_code(&leaf.purpose).unwrap_or(0),
                    legal_basis: v1::LegalBasis::number_of_code(&leaf.legal_basis).unwrap_or(0),
                    data_classes: leaf.data_classes,
                    leaf_index: *index,
                })
            })
            .collect::<Result<_, Status>>()?;
        Ok(Response::new(ListSubjectAccessesResponse {
            accesses,
            next_page_token,
        }))
    }

    async fn add_cosignature(
        &self,
        request: Request<AddCosignatureRequest>,
    ) -> Result<Response<AddCosignatureResponse>, Status> {
        let caller = self.reader(&request)?;
        let principal = &caller.principal;
        let r = request.into_inner();
        let key = self.witnesses.key_of(principal.kind(), &r.verifier_key)?;
        let size = r.tree_size;
        let checkpoint = self
            .store
            .checkpoint(Some(size))
            .await
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found(format!("no checkpoint of tree_size {size}")))?;
        if checkpoint.root.as_slice() != r.root_hash.as_slice() {
            tracing::warn!(%principal, size, "a witness cosigned another root than the log's");
            return Err(Status::failed_precondition(format!(
                "root_hash differs from the root of this log's checkpoint of {size} leaves: \
                 the witness has seen another history"
            )));
        }
        let line = format!("{}\n", r.signature_line.trim_end_matches('\n'));
        key.verify(&checkpoint.note.text, &line).map_err(|_| {
            Status::invalid_argument(format!(
                "signature_line is not {}'s signature of the checkpoint of {size} leaves",
                key.name()
            ))
        })?;
        let offered = StoredCosignature {
            size,
            witness: key.name().to_owned(),
            verifier_key: key.to_text(),
            signature: line,
            principal: principal.to_string(),
            received_at: timestamp(time::OffsetDateTime::now_utc()),
        };
        let stored = self
            .store
            .add_cosignature(&offered)
            .await
            .map_err(store_status)?;
        if stored.signature != offered.signature {
            return Err(Status::already_exists(format!(
                "{} cosigned the checkpoint of {size} leaves before, with another key",
                key.name()
            )));
        }
        tracing::info!(%principal, witness = key.name(), size, "checkpoint cosigned");
        crate::telemetry::metrics::metrics().cosignatures.add(
            1,
            &[opentelemetry::KeyValue::new(
                "jembatan.witness",
                key.name().to_owned(),
            )],
        );
        let answer = AddCosignatureResponse {
            cosignature: Some(cosignature_message(&stored)),
        };
        self.logged(&caller, "cosignature", size.to_string(), answer)
            .await
    }

    async fn summarize_entries(
        &self,
        request: Request<SummarizeEntriesRequest>,
    ) -> Result<Response<SummarizeEntriesResponse>, Status> {
        let caller = self.reader(&request)?;
        let r = request.into_inner();
        let (from, to) = summary::summary_range(&r)?;
        let prefix = summary::agency_prefix(&self.trust_domain, &r.agency)?;
        let tree_size = self.store.log_size().await.map_err(store_status)?;
        let counts = self
            .store
            .count_leaves(&from, &to, &prefix, tree_size)
            .await
            .map_err(store_status)?
            .into_iter()
            .map(|count| summary::count_message(&self.trust_domain, count))
            .collect();
        let answer = SummarizeEntriesResponse { counts, tree_size };
        self.logged(&caller, "audit_summary", format!("{from}/{to}"), answer)
            .await
    }
}

impl AuditApi {
    /// A checkpoint as the contract shows it: its note carries the cosignatures' lines too.
    async fn checkpoint_message(
        &self,
        checkpoint: &StoredCheckpoint,
    ) -> Result<v1::Checkpoint, Status> {
        let body = jembatan_audit::checkpoint::Checkpoint::parse_body(&checkpoint.note.text)
            .map_err(|error| {
                tracing::error!(%error, size = checkpoint.size, "stored checkpoint does not parse");
                Status::internal("a stored checkpoint is malformed")
            })?;
        let cosignatures = self
            .store
            .cosignatures(checkpoint.size)
            .await
            .map_err(store_status)?;
        let mut note = checkpoint.note.clone();
        note.signatures
            .extend(cosignatures.iter().map(|c| c.signature.clone()));
        Ok(v1::Checkpoint {
            origin: body.origin,
            tree_size: checkpoint.size,
            root_hash: checkpoint.root.to_vec(),
            signed_note: note.to_string(),
            cosignatures: cosignatures.iter().map(cosignature_message).collect(),
            signed_at: stored_time(&checkpoint.signed_at),
        })
    }

    async fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, Status> {
        if index >= size {
            return Err(Status::failed_precondition(format!(
                "leaf {index} is not in the tree of {size} leaves yet; ask after the next checkpoint"
            )));
        }
        let hashes = self
            .store
            .inclusion_proof(index, size)
            .await
            .map_err(store_status)?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
        })
    }
}
