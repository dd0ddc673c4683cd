//! The audit log's tables: leaves appended in the caller's own transaction (no leaf, no commit),
//! node hashes and signed checkpoints written by the sequencer. All of them insert-only.

use std::collections::HashMap;

use jembatan_audit::checkpoint::{Checkpoint, SignedNote};
use jembatan_audit::compact::{CompactRange, Node};
use jembatan_audit::leaf::Outcome;
use jembatan_audit::merkle::{self, Hash, Subtrees};
use jembatan_audit::note::SignerKey;
use sqlx::QueryBuilder;

use crate::write::{Conn, Tx, on_tx};
use crate::{Backend, Store, StoreError, on_pool};

/// Rows per multi-row INSERT: far below both engines' limits on bound parameters.
pub(crate) const INSERT_CHUNK: usize = 1000;

/// The PostgreSQL advisory lock that one sequencer holds while it integrates.
const SEQUENCER_LOCK: i64 = 0x6a65_6d62_6175_6474; // "jembaudt"

/// Proof that a leaf was written: its index and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Zero-based index in the log.
    pub leaf_index: u64,
    /// RFC 6962 leaf hash.
    pub leaf_hash: Hash,
}

/// A checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note, with the log's signature line.
    pub note: SignedNote,
    /// When it was signed, RFC 3339 UTC.
    pub signed_at: String,
}

/// A witness's cosignature of a checkpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCosignature {
    /// The cosigned checkpoint's size.
    pub size: u64,
    /// The witness key's name.
    pub witness: String,
    /// The witness's verifier key, `<name>+<id>+<base64>`.
    pub verifier_key: String,
    /// The signature line over the checkpoint's text, ending in `\n`.
    pub signature: String,
    /// The principal that submitted it.
    pub principal: String,
    /// When it was stored, RFC 3339 UTC.
    pub received_at: String,
}

/// Which leaves to list; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct LeafFilter {
    /// Earliest time, inclusive, RFC 3339 UTC as leaves record it.
    pub from_time: Option<String>,
    /// Latest time, exclusive.
    pub to_time: Option<String>,
    /// Exact principal (SPIFFE ID).
    pub principal: Option<String>,
    /// Principals starting with this, e.g. `spiffe://td/agency/kemendag/`.
    pub principal_prefix: Option<String>,
    /// Exact method, `<Service>/<Method>`.
    pub method: Option<String>,
    /// Purpose code.
    pub purpose: Option<String>,
    /// Allowed or denied.
    pub outcome: Option<Outcome>,
    /// Record type.
    pub record_type: Option<String>,
    /// Only leaves of the records of the worker with this subject key (placements and
    /// enrolments stored now).
    pub subject_key: Option<String>,
}

/// Fetches stored subtree roots at `positions` (level 0: leaf hashes; above: nodes) in one
/// query on `executor`; evaluates to a map from (level, index) to hash.
macro_rules! fetch_subtrees {
    ($executor:expr, $positions:expr) => {{
        let positions: &[(u32, u64)] = $positions;
        let mut found: HashMap<(u32, u64), Vec<u8>> = HashMap::new();
        let leaves: Vec<u64> = positions.iter().filter(|p| p.0 == 0).map(|p| p.1).collect();
        let nodes: Vec<(u32, u64)> = positions.iter().filter(|p| p.0 > 0).copied().collect();
        let mut query = QueryBuilder::new("");
        if !leaves.is_empty() {
            query.push(
                "SELECT CAST(0 AS BIGINT), leaf_index, leaf_hash FROM audit_leaves \
                 WHERE leaf_index IN (",
            );
            let mut list = query.separated(", ");
            for index in &leaves {
                list.push_bind(to_i64(*index));
            }
            query.push(")");
        }
        if !nodes.is_empty() {
            if !leaves.is_empty() {
                query.push(" UNION ALL ");
            }
            query.push("SELECT CAST(level AS BIGINT), node_index, hash FROM audit_nodes WHERE ");
            for (i, (level, index)) in nodes.iter().enumerate() {
                query.push(if i == 0 { "(level = " } else { " OR (level = " });
                query
                    .push_bind(i64::from(*level))
                    .push(" AND node_index = ");
                query.push_bind(to_i64(*index)).push(")");
            }
        }
        if !positions.is_empty() {
            let rows: Vec<(i64, i64, Vec<u8>)> =
                query.build_query_as().fetch_all($executor).await?;
            found.extend(rows.into_iter().map(|(level, index, hash)| {
                (
                    (u32::try_from(level).unwrap_or(u32::MAX), to_u64(index)),
                    hash,
                )
            }));
        }
        found
    }};
}

/// The hashes at `positions`, in order; a missing or malformed one is a corrupt store.
fn subtree_hashes(
    positions: &[(u32, u64)],
    found: &HashMap<(u32, u64), Vec<u8>>,
) -> Result<Vec<Hash>, StoreError> {
    positions
        .iter()
        .map(|&(level, index)| {
            let hash = found.get(&(level, index)).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "subtree root at level {level}, index {index} is missing"
                ))
            })?;
            to_hash(hash, "node hash")
        })
        .collect()
}

/// The query of [`Store::leaf_index`]. The hash index is keyed by bucket of 4,096 leaves first
/// (migration 0009), so that appending leaves writes only its end; a lookup probes each bucket
/// once, 245 probes at a million leaves. The buckets' `0` must stay an untyped literal: SQLite's
/// planner does not match a `CAST(0 AS BIGINT)` column against the expression index, and
/// scans every leaf instead.
pub(crate) const LEAF_BY_HASH: &str = "WITH RECURSIVE buckets (n, last) AS ( \
         SELECT 0, (SELECT MAX(leaf_index) FROM audit_leaves) >> 12 \
         UNION ALL SELECT n + 1, last FROM buckets WHERE n < last) \
     SELECT MIN((SELECT MIN(leaf_index) FROM audit_leaves \
                 WHERE (leaf_index >> 12) = buckets.n AND leaf_hash = $1)) \
     FROM buckets";

impl Store {
    /// Integrates committed leaves not yet in a checkpoint (at most `max_leaves`): stores the
    /// subtree roots they complete and a checkpoint signed by `signer` under `origin`. The first
    /// call also signs the empty tree. Returns `None` when there is nothing new or another
    /// sequencer holds the lock.
    pub async fn integrate(
        &self,
        signer: &SignerKey,
        origin: &str,
        max_leaves: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.integrate_at(signer, origin, max_leaves, time::OffsetDateTime::now_utc())
            .await
    }

    /// [`Store::integrate`] with `now` as the wall clock. A checkpoint is never recorded as
    /// signed before the one it follows: after the clock jumped back, it is recorded at the
    /// previous checkpoint's time (and a warning is logged), so that checkpoint times only
    /// move forward.
    pub async fn integrate_at(
        &self,
        signer: &SignerKey,
        origin: &str,
        max_leaves: u64,
        now: time::OffsetDateTime,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        // On PostgreSQL the sequencer waits for no writer: it takes its own advisory lock and
        // reads only committed leaves, never the log's head row.
        let queue = (self.backend() == Backend::Sqlite).then_some(&self.queue);
        let mut tx = Tx::begin(&self.writes, queue).await?;
        if let Conn::Postgres(conn) = &mut tx.conn {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(SEQUENCER_LOCK)
                .fetch_one(&mut **conn)
                .await?;
            if !locked {
                return Ok(None);
            }
        }
        let latest: Option<i64> = on_tx!(&mut tx.conn, conn => {
            sqlx::query_scalar("SELECT MAX(tree_size) FROM audit_checkpoints")
                .fetch_one(&mut **conn)
                .await?
        });
        let head: i64 = on_tx!(&mut tx.conn, conn => {
            sqlx::query_scalar("SELECT next_index FROM audit_head WHERE singleton = 1")
                .fetch_one(&mut **conn)
                .await?
        });
        let size = latest.map_or(0, to_u64);
        let head = to_u64(head);
        if latest.is_some() && head == size {
            return Ok(None);
        }
        let positions = CompactRange::positions(size);
        let found = on_tx!(&mut tx.conn, conn => fetch_subtrees!(&mut **conn, &positions));
        let border = subtree_hashes(&positions, &found)?;
        let mut range = CompactRange::new(size, border).map_err(StoreError::Audit)?;
        let end = head.min(size.saturating_add(max_leaves));
        let hashes: Vec<Vec<u8>> = on_tx!(&mut tx.conn, conn => {
            sqlx::query_scalar(
                "SELECT leaf_hash FROM audit_leaves \
                 WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
            )
            .bind(to_i64(size))
            .bind(to_i64(end))
            .fetch_all(&mut **conn)
            .await?
        });
        if hashes.len() as u64 != end - size {
            return Err(StoreError::Corrupt(format!(
                "leaves {size}..{end} are not all stored"
            )));
        }
        let mut nodes: Vec<Node> = Vec::new();
        for hash in hashes {
            let hash = to_hash(&hash, "leaf hash")?;
            range.append(hash, |node| {
                if node.level > 0 {
                    nodes.push(node);
                }
            });
        }
        for chunk in nodes.chunks(INSERT_CHUNK) {
            on_tx!(&mut tx.conn, conn => {
                let mut insert = QueryBuilder::new("INSERT INTO audit_nodes (level, node_index, hash) ");
                insert.push_values(chunk, |mut row, node| {
                    row.push_bind(i64::from(node.level))
                        .push_bind(to_i64(node.index))
                        .push_bind(node.hash.to_vec());
                });
                insert.build().execute(&mut **conn).await?;
            });
        }
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size: range.size(),
            root: range.root(),
        };
        let note = checkpoint.sign(signer);
        // Timestamps are fixed-width RFC 3339 in UTC: text order is time order.
        let previous: Option<String> = on_tx!(&mut tx.conn, conn => {
            sqlx::query_scalar("SELECT created_at FROM audit_checkpoints WHERE tree_size = $1")
                .bind(latest.unwrap_or(-1))
                .fetch_optional(&mut **conn)
                .await?
        });
        let mut signed_at = jembatan_audit::leaf::timestamp(now);
        if let Some(previous) = previous.filter(|previous| *previous > signed_at) {
            tracing::warn!(
                clock = %signed_at,
                previous = %previous,
                "the clock is behind the previous checkpoint; recorded at its time"
            );
            signed_at = previous;
        }
        on_tx!(&mut tx.conn, conn => {
            sqlx::query(
                "INSERT INTO audit_checkpoints (tree_size, root, note, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(to_i64(checkpoint.size))
            .bind(checkpoint.root.to_vec())
            .bind(note.to_string())
            .bind(&signed_at)
            .execute(&mut **conn)
            .await?;
        });
        tx.commit().await?;
        Ok(Some(StoredCheckpoint {
            size: checkpoint.size,
            root: checkpoint.root,
            note,
            signed_at,
        }))
    }

    /// The latest checkpoint, or the one of exactly `size` leaves.
    pub async fn checkpoint(
        &self,
        size: Option<u64>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        const LATEST: &str = "SELECT tree_size, root, note, created_at FROM audit_checkpoints \
                              ORDER BY tree_size DESC LIMIT 1";
        const AT: &str = "SELECT tree_size, root, note, created_at FROM audit_checkpoints \
                          WHERE tree_size = $1";
        let row: Option<(i64, Vec<u8>, String, String)> = on_pool!(self, pool => match size {
            None => sqlx::query_as(LATEST).fetch_optional(pool).await?,
            Some(size) => sqlx::query_as(AT).bind(to_i64(size)).fetch_optional(pool).await?,
        });
        row.map(|(size, root, note, signed_at)| {
            Ok(StoredCheckpoint {
                size: to_u64(size),
                root: to_hash(&root, "checkpoint root")?,
                note: SignedNote::parse(&note).map_err(StoreError::Audit)?,
                signed_at,
            })
        })
        .transpose()
    }

    /// Stores a cosignature, already verified by the caller, unless the witness cosigned this
    /// checkpoint before. Returns the cosignature stored for the witness, which differs from
    /// `cosignature` only if an earlier one was kept.
    pub async fn add_cosignature(
        &self,
        cosignature: &StoredCosignature,
    ) -> Result<StoredCosignature, StoreError> {
        const INSERT: &str = "INSERT INTO audit_cosignatures \
             (tree_size, witness, signature, created_at, verifier_key, principal) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tree_size, witness) DO NOTHING";
        on_pool!(self, pool => {
            sqlx::query(INSERT)
                .bind(to_i64(cosignature.size))
                .bind(&cosignature.witness)
                .bind(&cosignature.signature)
                .bind(&cosignature.received_at)
                .bind(&cosignature.verifier_key)
                .bind(&cosignature.principal)
                .execute(pool)
                .await?;
        });
        self.cosignatures(cosignature.size)
            .await?
            .into_iter()
            .find(|stored| stored.witness == cosignature.witness)
            .ok_or_else(|| StoreError::Corrupt("a stored cosignature vanished".into()))
    }

    /// The cosignatures of the checkpoint of `size` leaves, in the order they arrived.
    pub async fn cosignatures(&self, size: u64) -> Result<Vec<StoredCosignature>, StoreError> {
        const SQL: &str = "SELECT tree_size, witness, verifier_key, signature, principal, \
                           created_at FROM audit_cosignatures WHERE tree_size = $1 \
                           ORDER BY created_at, witness";
        let rows: Vec<CosignatureRow> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(to_i64(size)).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(CosignatureRow::into_stored).collect())
    }

    /// Writes the whole log in the export format of [`jembatan_audit::export`], streaming rows,
    /// and returns how many leaves it wrote.
    pub async fn export(
        &self,
        origin: &str,
        out: &mut impl std::io::Write,
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        use jembatan_audit::export::Line;

        let write = |line: Line, out: &mut dyn std::io::Write| {
            let mut out = out;
            line.write(&mut out).map_err(StoreError::Audit)
        };
        write(Line::header(origin), out)?;
        let mut leaves = 0u64;
        on_pool!(self, pool => {
            // Checkpoints first: the leaves and nodes they cover were committed with or before
            // them, so whatever the sequencer does meanwhile, the export is consistent.
            let mut exported_size = 0i64;
            let mut rows = sqlx::query_as::<_, (i64, String)>(
                "SELECT tree_size, note FROM audit_checkpoints ORDER BY tree_size",
            )
            .fetch(pool);
            while let Some((size, note)) = rows.try_next().await? {
                exported_size = size;
                write(Line::Checkpoint { note }, out)?;
            }
            drop(rows);
            let mut rows = sqlx::query_as::<_, CosignatureRow>(
                "SELECT tree_size, witness, verifier_key, signature, principal, created_at \
                 FROM audit_cosignatures WHERE tree_size <= $1 \
                 ORDER BY tree_size, created_at, witness",
            )
            .bind(exported_size)
            .fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let stored = row.into_stored();
                write(
                    Line::Cosignature {
                        size: stored.size,
                        verifier_key: stored.verifier_key,
                        signature: stored.signature,
                        principal: stored.principal,
                        received_at: stored.received_at,
                    },
                    out,
                )?;
            }
            drop(rows);
            let mut rows = sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>)>(
                "SELECT leaf_index, leaf_hash, data FROM audit_leaves ORDER BY leaf_index",
            )
            .fetch(pool);
            while let Some((index, hash, data)) = rows.try_next().await? {
                write(Line::leaf(to_u64(index), &hash, &data), out)?;
                leaves += 1;
            }
            drop(rows);
            let mut rows = sqlx::query_as::<_, (i64, i64, Vec<u8>)>(
                "SELECT CAST(level AS BIGINT), node_index, hash FROM audit_nodes \
                 ORDER BY level, node_index",
            )
            .fetch(pool);
            while let Some((level, index, hash)) = rows.try_next().await? {
                let level = u32::try_from(level).unwrap_or(u32::MAX);
                write(Line::node(level, to_u64(index), &hash), out)?;
            }
        });
        Ok(leaves)
    }

    /// How many leaves the log holds, committed (the next leaf's index).
    pub async fn log_size(&self) -> Result<u64, StoreError> {
        const SQL: &str = "SELECT next_index FROM audit_head WHERE singleton = 1";
        let size: i64 = on_pool!(self, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(to_u64(size))
    }

    /// The stored bytes of leaf `index`.
    pub async fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        const SQL: &str = "SELECT data FROM audit_leaves WHERE leaf_index = $1";
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(SQL).bind(to_i64(index)).fetch_optional(pool).await?
        }))
    }

    /// The index of the first leaf with hash `hash`, by [`LEAF_BY_HASH`].
    pub async fn leaf_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        let index: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar(LEAF_BY_HASH).bind(hash.to_vec()).fetch_one(pool).await?
        });
        Ok(index.map(to_u64))
    }

    /// Up to `limit` leaves after index `after` (all when `None`) that match `filter`, in index
    /// order, as (index, stored bytes).
    pub async fn list_leaves(
        &self,
        filter: &LeafFilter,
        after: Option<u64>,
        below: u64,
        limit: u32,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = on_pool!(self, pool => {
            let mut query = QueryBuilder::new("SELECT leaf_index, data FROM audit_leaves WHERE leaf_index < ");
            query.push_bind(to_i64(below));
            if let Some(after) = after {
                query.push(" AND leaf_index > ").push_bind(to_i64(after));
            }
            let exact = [
                (" AND time >= ", &filter.from_time),
                (" AND time < ", &filter.to_time),
                (" AND principal = ", &filter.principal),
                (" AND method = ", &filter.method),
                (" AND purpose = ", &filter.purpose),
                (" AND record_type = ", &filter.record_type),
            ];
            for (condition, value) in exact {
                if let Some(value) = value {
                    query.push(condition).push_bind(value.clone());
                }
            }
            if let Some(prefix) = &filter.principal_prefix {
                // substr and length are alike on both engines; LIKE would need escaping.
                query
                    .push(" AND substr(principal, 1, length(")
                    .push_bind(prefix.clone())
                    .push(")) = ")
                    .push_bind(prefix.clone());
            }
            if let Some(outcome) = filter.outcome {
                query.push(" AND outcome = ").push_bind(outcome_name(outcome));
            }
            if let Some(subject_key) = &filter.subject_key {
                query
                    .push(" AND record_key IN (SELECT record_key FROM placements WHERE subject_key = ")
                    .push_bind(subject_key.clone())
                    .push(" UNION ALL SELECT record_key FROM enrollments WHERE subject_key = ")
                    .push_bind(subject_key.clone())
                    .push(")");
            }
            query.push(" ORDER BY leaf_index LIMIT ").push_bind(i64::from(limit));
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(index, data)| (to_u64(index), data))
            .collect())
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, from stored hashes.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        let nodes = self
            .nodes_for(|tree| merkle::inclusion_proof(tree, index, size))
            .await?;
        merkle::inclusion_proof(&nodes, index, size).map_err(StoreError::Audit)
    }

    /// The consistency proof from `size1` to `size2` leaves, from stored hashes.
    pub async fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, StoreError> {
        let nodes = self
            .nodes_for(|tree| merkle::consistency_proof(tree, size1, size2))
            .await?;
        merkle::consistency_proof(&nodes, size1, size2).map_err(StoreError::Audit)
    }

    /// Fetches the subtree roots that `proof` asks for. Which roots a proof needs depends only
    /// on sizes and indexes, so a first pass with placeholder hashes finds them.
    async fn nodes_for<T>(
        &self,
        proof: impl Fn(&Fetched) -> Result<T, jembatan_audit::AuditError>,
    ) -> Result<Fetched, StoreError> {
        let wanted = Fetched::default();
        proof(&wanted).map_err(StoreError::Audit)?;
        let positions: Vec<(u32, u64)> = wanted.asked.take();
        let found = on_pool!(self, pool => fetch_subtrees!(pool, &positions));
        let hashes = subtree_hashes(&positions, &found)?;
        let known = positions.into_iter().zip(hashes).collect();
        Ok(Fetched {
            known: Some(known),
            asked: std::cell::RefCell::default(),
        })
    }
}

/// A row of `audit_cosignatures`.
#[derive(sqlx::FromRow)]
struct CosignatureRow {
    tree_size: i64,
    witness: String,
    verifier_key: String,
    signature: String,
    principal: String,
    created_at: String,
}

impl CosignatureRow {
    fn into_stored(self) -> StoredCosignature {
        StoredCosignature {
            size: to_u64(self.tree_size),
            witness: self.witness,
            verifier_key: self.verifier_key,
            signature: self.signature,
            principal: self.principal,
            received_at: self.created_at,
        }
    }
}

/// Subtree roots fetched for one proof. Without `known` it only records what it is asked for
/// and answers placeholders.
#[derive(Debug, Default)]
struct Fetched {
    known: Option<HashMap<(u32, u64), Hash>>,
    asked: std::cell::RefCell<Vec<(u32, u64)>>,
}

impl Subtrees for Fetched {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, jembatan_audit::AuditError> {
        let Some(known) = &self.known else {
            self.asked.borrow_mut().push((level, index));
            return Ok([0; 32]);
        };
        known
            .get(&(level, index))
            .copied()
            .ok_or(jembatan_audit::AuditError::MissingNode { level, index })
    }
}

pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
    }
}

fn to_hash(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("a stored {what} is not 32 bytes")))
}

/// Indexes and sizes are stored as BIGINT; a log never reaches 2^63 leaves.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
