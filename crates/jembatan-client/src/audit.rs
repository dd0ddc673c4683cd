//! The audit log seen from outside: proofs checked against the log's signed checkpoints, the
//! whole log recomputed from its entries, and the witness's cosigning step. Nothing the exchange
//! answers is trusted until it verifies against the log's verifier key.

use jembatan_audit::checkpoint::{Checkpoint, SignedNote};
use jembatan_audit::compact::CompactRange;
use jembatan_audit::merkle::{self, Hash};
use jembatan_audit::note::{SignerKey, VerifierKey};
use jembatan_audit::witness::{WitnessState, check_extends};
use jembatan_audit::{AuditError, leaf::LeafEntry};
use jembatan_proto::v1::audit_service_client::AuditServiceClient;
use jembatan_proto::v1::{
    self, AddCosignatureRequest, AuditEntry, GetCheckpointRequest, GetConsistencyProofRequest,
    GetEntryRequest, GetInclusionProofRequest, ListEntriesRequest, ListSubjectAccessesRequest,
    SummarizeEntriesRequest, get_inclusion_proof_request,
};
use tonic::transport::Channel;

use crate::{ClientError, Stated};

/// Largest page ListEntries gives.
const PAGE: u32 = 1000;

/// The AuditService, called with one stated context (purpose AUDIT).
#[derive(Debug, Clone)]
pub struct AuditClient {
    inner: AuditServiceClient<Channel>,
    stated: Stated,
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedCheckpoint {
    /// Origin, size and root.
    pub checkpoint: Checkpoint,
    /// The note as the exchange sent it, cosignature lines included.
    pub note: SignedNote,
    /// The checkpoint message as sent (cosignatures, time).
    pub message: v1::Checkpoint,
}

impl VerifiedCheckpoint {
    /// Whether `witness` cosigned this checkpoint.
    pub fn cosigned_by(&self, witness: &VerifierKey) -> bool {
        self.note.verify(witness).is_ok()
    }
}

/// A leaf proved to be in a signed checkpoint.
#[derive(Debug, Clone)]
pub struct Proved {
    /// The leaf index.
    pub index: u64,
    /// The leaf hash that was proved.
    pub leaf_hash: Hash,
    /// The leaf's fields, when the leaf's bytes were fetched and matched the hash.
    pub entry: Option<LeafEntry>,
    /// The checkpoint the proof leads to.
    pub checkpoint: VerifiedCheckpoint,
}

/// What a witness did in one round.
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// The size verified before, if any.
    pub previous: Option<u64>,
    /// The checkpoint verified and cosigned.
    pub checkpoint: Checkpoint,
    /// The state to keep for the next round.
    pub state: WitnessState,
}

/// What a verification from the API covered.
#[derive(Debug, Clone)]
pub struct LogVerified {
    /// The signed checkpoint whose root was recomputed.
    pub checkpoint: VerifiedCheckpoint,
    /// Entries fetched and hashed.
    pub leaves: u64,
}

impl AuditClient {
    /// The AuditService on `channel`, each call stating `stated`.
    pub fn new(channel: Channel, stated: Stated) -> Self {
        Self {
            inner: AuditServiceClient::new(channel),
            stated,
        }
    }

    /// The generated client, for calls this type does not wrap.
    pub fn inner(&mut self) -> &mut AuditServiceClient<Channel> {
        &mut self.inner
    }

    /// A page of entries.
    pub async fn list(
        &mut self,
        filter: ListEntriesRequest,
    ) -> Result<v1::ListEntriesResponse, ClientError> {
        let request = self.stated.request(filter)?;
        Ok(self.inner.list_entries(request).await?.into_inner())
    }

    /// The latest checkpoint (`size` 0) or the one of `size` leaves, its log signature checked.
    pub async fn checkpoint(
        &mut self,
        size: u64,
        log_key: &VerifierKey,
    ) -> Result<VerifiedCheckpoint, ClientError> {
        let request = self
            .stated
            .request(GetCheckpointRequest { tree_size: size })?;
        let message = self
            .inner
            .get_checkpoint(request)
            .await?
            .into_inner()
            .checkpoint
            .ok_or(ClientError::Incomplete("checkpoint"))?;
        verified_checkpoint(message, log_key)
    }

    /// Proves that leaf `index` is in the log's latest checkpoint (`size` 0) or the one of
    /// `size` leaves. With `leaf_hash` (a receipt), asks only for the proof; without, fetches
    /// the entry (auditors) and checks its bytes against its hash.
    pub async fn prove(
        &mut self,
        index: u64,
        leaf_hash: Option<Hash>,
        size: u64,
        log_key: &VerifierKey,
    ) -> Result<Proved, ClientError> {
        let (leaf_hash, entry, proof, checkpoint) = match leaf_hash {
            Some(leaf_hash) => {
                let request = self.stated.request(GetInclusionProofRequest {
                    leaf: Some(get_inclusion_proof_request::Leaf::LeafIndex(index)),
                    tree_size: size,
                })?;
                let proof = self
                    .inner
                    .get_inclusion_proof(request)
                    .await?
                    .into_inner()
                    .proof
                    .ok_or(ClientError::Incomplete("proof"))?;
                let checkpoint = self.checkpoint(proof.tree_size, log_key).await?;
                (leaf_hash, None, proof, checkpoint)
            }
            None => {
                let request = self.stated.request(GetEntryRequest {
                    index,
                    tree_size: size,
                })?;
                let response = self.inner.get_entry(request).await?.into_inner();
                let entry = response.entry.ok_or(ClientError::Incomplete("entry"))?;
                let (leaf_hash, parsed) = checked_entry(&entry)?;
                let proof = response.proof.ok_or(ClientError::Incomplete("proof"))?;
                let message = response
                    .checkpoint
                    .ok_or(ClientError::Incomplete("checkpoint"))?;
                let checkpoint = verified_checkpoint(message, log_key)?;
                (leaf_hash, Some(parsed), proof, checkpoint)
            }
        };
        if proof.leaf_index != index || proof.tree_size != checkpoint.checkpoint.size {
            return Err(ClientError::Proof(AuditError::BadProof(
                "the proof is for another leaf or tree size than asked",
            )));
        }
        merkle::verify_inclusion(
            index,
            checkpoint.checkpoint.size,
            &leaf_hash,
            &proof.hashes,
            &checkpoint.checkpoint.root,
        )
        .map_err(ClientError::Proof)?;
        Ok(Proved {
            index,
            leaf_hash,
            entry,
            checkpoint,
        })
    }

    /// One witness round: fetches the latest checkpoint, checks that it extends the one in
    /// `state` (trusting the first on first use), cosigns it with `witness` and submits the
    /// cosignature. A fork, a rollback or a rewrite is refused with [`ClientError::Proof`] before
    /// anything is signed; the caller keeps its old state.
    pub async fn witness(
        &mut self,
        state: Option<&WitnessState>,
        witness: &SignerKey,
        log_key: &VerifierKey,
    ) -> Result<Witnessed, ClientError> {
        let remembered = state
            .map(|state| state.checkpoint(log_key))
            .transpose()
            .map_err(ClientError::Proof)?;
        let offered = self.extending(remembered.as_ref(), log_key).await?;
        let state = WitnessState {
            note: SignedNote {
                text: offered.note.text.clone(),
                signatures: log_signature(&offered.note, log_key),
            }
            .to_string(),
        };
        let request = self.stated.request(AddCosignatureRequest {
            tree_size: offered.checkpoint.size,
            root_hash: offered.checkpoint.root.to_vec(),
            signature_line: witness.sign(&offered.note.text),
            verifier_key: witness.verifier().to_text(),
        })?;
        self.inner.add_cosignature(request).await?;
        Ok(Witnessed {
            previous: remembered.map(|c| c.size),
            checkpoint: offered.checkpoint,
            state,
        })
    }

    /// The latest checkpoint, its signature checked and proved to extend `previous` (a
    /// checkpoint verified before; `None` trusts the latest on first use). A fork, a rollback or
    /// a rewrite is [`ClientError::Proof`].
    pub async fn extending(
        &mut self,
        previous: Option<&Checkpoint>,
        log_key: &VerifierKey,
    ) -> Result<VerifiedCheckpoint, ClientError> {
        let offered = self.checkpoint(0, log_key).await?;
        self.prove_extends(previous, &offered.checkpoint).await?;
        Ok(offered)
    }

    /// Proves that `newer` (a checkpoint whose signature was checked) extends `older` with a
    /// consistency proof from the exchange; `None` proves nothing. A fork, a rollback or a
    /// rewrite is [`ClientError::Proof`].
    pub async fn prove_extends(
        &mut self,
        older: Option<&Checkpoint>,
        newer: &Checkpoint,
    ) -> Result<(), ClientError> {
        let proof = match older {
            Some(old) if old.size > 0 && newer.size > old.size => {
                let request = self.stated.request(GetConsistencyProofRequest {
                    from_size: old.size,
                    to_size: newer.size,
                })?;
                let response = self
                    .inner
                    .get_consistency_proof(request)
                    .await?
                    .into_inner();
                response
                    .hashes
                    .iter()
                    .map(|h| {
                        Hash::try_from(h.as_slice())
                            .map_err(|_| ClientError::Proof(AuditError::NotAHash("proof hash")))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            _ => Vec::new(),
        };
        check_extends(older, newer, &proof).map_err(ClientError::Proof)
    }

    /// A worker's processing history (ListSubjectAccesses), oldest first, page after page: at
    /// most `most` accesses, and whether there were more.
    pub async fn subject_history(
        &mut self,
        nik: &str,
        most: usize,
    ) -> Result<(Vec<v1::SubjectAccess>, bool), ClientError> {
        let mut accesses = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = self.stated.request(ListSubjectAccessesRequest {
                nik: nik.to_owned(),
                page_size: PAGE,
                page_token,
                ..ListSubjectAccessesRequest::default()
            })?;
            let page = self
                .inner
                .list_subject_accesses(request)
                .await?
                .into_inner();
            accesses.extend(page.accesses);
            if accesses.len() > most || (accesses.len() == most && !page.next_page_token.is_empty())
            {
                accesses.truncate(most);
                return Ok((accesses, true));
            }
            if page.next_page_token.is_empty() {
                return Ok((accesses, false));
            }
            page_token = page.next_page_token;
        }
    }

    /// Counts of the log's entries per day (SummarizeEntries).
    pub async fn summarize(
        &mut self,
        request: SummarizeEntriesRequest,
    ) -> Result<v1::SummarizeEntriesResponse, ClientError> {
        let request = self.stated.request(request)?;
        Ok(self.inner.summarize_entries(request).await?.into_inner())
    }

    /// Recomputes the root of the latest signed checkpoint from every entry the exchange lists.
    /// On a mismatch, finds where the listed leaves stop being a provable prefix of the signed
    /// tree by asking for consistency proofs of prefixes, and names that leaf. `progress` is called after each page with
    /// the leaves fetched so far.
    pub async fn verify_log(
        &mut self,
        log_key: &VerifierKey,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<LogVerified, ClientError> {
        let checkpoint = self.checkpoint(0, log_key).await?;
        let size = checkpoint.checkpoint.size;
        let mut hashes: Vec<Hash> = Vec::new();
        let mut range = CompactRange::default();
        let mut page_token = String::new();
        while range.size() < size {
            let page = self
                .list(ListEntriesRequest {
                    page_size: PAGE,
                    page_token: std::mem::take(&mut page_token),
                    ..ListEntriesRequest::default()
                })
                .await?;
            for entry in page.entries.iter().take_while(|e| e.index < size) {
                if entry.index != range.size() {
                    return Err(ClientError::LeafMissing(range.size()));
                }
                let (hash, _) = checked_entry(entry)?;
                hashes.push(hash);
                range.append(hash, |_| {});
            }
            progress(range.size(), size);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        if range.size() < size {
            return Err(ClientError::LeafMissing(range.size()));
        }
        if range.root() != checkpoint.checkpoint.root {
            let first_bad = self.first_bad_leaf(&hashes, &checkpoint.checkpoint).await?;
            return Err(ClientError::LeafNotInCheckpoint {
                index: first_bad,
                size,
            });
        }
        Ok(LogVerified {
            checkpoint,
            leaves: size,
        })
    }

    /// The smallest `k` such that the exchange cannot prove the listed leaves `0..=k` to be a
    /// prefix of the signed tree: a binary search over consistency proofs, checked against the
    /// signed root, so that the exchange cannot move the answer past a change.
    async fn first_bad_leaf(
        &mut self,
        hashes: &[Hash],
        signed: &Checkpoint,
    ) -> Result<u64, ClientError> {
        // Invariant: the prefix of `good` leaves is consistent; the prefix of `bad` is not.
        let (mut good, mut bad) = (0u64, signed.size);
        while bad - good > 1 {
            let middle = good + (bad - good) / 2;
            if self.prefix_consistent(hashes, middle, signed).await? {
                good = middle;
            } else {
                bad = middle;
            }
        }
        Ok(bad - 1)
    }

    async fn prefix_consistent(
        &mut self,
        hashes: &[Hash],
        prefix: u64,
        signed: &Checkpoint,
    ) -> Result<bool, ClientError> {
        let leaves = usize::try_from(prefix).map_err(|_| ClientError::Incomplete("prefix"))?;
        let root = merkle::root(&hashes[..leaves], prefix).map_err(ClientError::Proof)?;
        let request = self.stated.request(GetConsistencyProofRequest {
            from_size: prefix,
            to_size: signed.size,
        })?;
        let proof = self
            .inner
            .get_consistency_proof(request)
            .await?
            .into_inner();
        Ok(
            merkle::verify_consistency(prefix, signed.size, &root, &signed.root, &proof.hashes)
                .is_ok(),
        )
    }
}

/// An entry's leaf hash recomputed from its bytes, and its fields parsed from them: what a
/// listing shows must come from here, not from the entry's other fields, which the exchange
/// sends beside the bytes and nobody has checked.
pub fn checked_entry(entry: &AuditEntry) -> Result<(Hash, LeafEntry), ClientError> {
    let hash = merkle::leaf_hash(&entry.leaf_data);
    if entry.leaf_hash.as_slice() != hash.as_slice() {
        return Err(ClientError::LeafHashMismatch(entry.index));
    }
    let parsed = LeafEntry::parse(&entry.leaf_data).map_err(ClientError::Proof)?;
    Ok((hash, parsed))
}

fn verified_checkpoint(
    message: v1::Checkpoint,
    log_key: &VerifierKey,
) -> Result<VerifiedCheckpoint, ClientError> {
    let note = SignedNote::parse(&message.signed_note).map_err(ClientError::Proof)?;
    let checkpoint = note
        .verify_checkpoint(log_key)
        .map_err(ClientError::Proof)?;
    if checkpoint.size != message.tree_size || checkpoint.root.as_slice() != message.root_hash {
        return Err(ClientError::Proof(AuditError::MalformedCheckpoint(
            "the signed note and the checkpoint's fields disagree",
        )));
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        note,
        message,
    })
}

/// The log's own signature lines of a note, without cosignatures.
fn log_signature(note: &SignedNote, log_key: &VerifierKey) -> Vec<String> {
    note.signatures
        .iter()
        .filter(|line| log_key.verify(&note.text, line).is_ok())
        .cloned()
        .collect()
}
