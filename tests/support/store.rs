//! Store-level helpers for the tests of logged writes: placement records, writes queued in a
//! known order, a write that holds the store's writer until released, and what is stored.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use jembatan_store::test_door::RawPool;
use jembatan_store::{PlacementRecord, Receipt, Store, StoreError, WriteTicket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Placement `n` as the store keeps it: id `P-{n:06}`, subject key `{n:064x}`, record key
/// `{n:032x}` (the record key of [`crate::placement_leaf`]`(n)`), consenting to business
/// matching, without contact details. Every 997th record returns in December 2026, the others
/// in 2027; its change is `3n + 7`, spread wider than ids as pushes interleave with other
/// leaves.
pub fn placement_record(n: u64) -> PlacementRecord {
    let sparse = n.is_multiple_of(997);
    PlacementRecord {
        placement_id: placement_id(n),
        subject_key: format!("{n:064x}"),
        record_key: format!("{n:032x}"),
        salt: vec![0; 16],
        digest: vec![0; 32],
        version: 1,
        updated_at: "2026-01-01T00:00:00Z".into(),
        profile: Vec::new(),
        sex: "FEMALE".into(),
        origin_province: "35".into(),
        origin_regency: "35.07".into(),
        occupation_code: "5322".into(),
        destination_country: "TW".into(),
        status: "WORKING".into(),
        return_date: Some(if sparse { "2026-12-01" } else { "2027-06-01" }.into()),
        wants_to_export: false,
        certificate_schemes: Vec::new(),
        languages: Vec::new(),
        hs_chapters: Vec::new(),
        consent_purposes: vec!["BUSINESS_MATCHING".into()],
        full_name: None,
        phone: None,
        email: None,
        change_seq: 3 * n + 7,
    }
}

/// The placement id of [`placement_record`]`(n)`.
pub fn placement_id(n: u64) -> String {
    format!("P-{n:06}")
}

/// The error of a test's write: the store's, or the write's own refusal.
#[derive(Debug)]
pub enum WriteError {
    /// The store failed the write.
    Store(StoreError),
    /// The write's own work refused to go on.
    Refused(&'static str),
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Spawns `write` (a future calling [`Store::write`] or [`Store::log`]) once it has queued its
/// write: writes passed here one after another are queued in that order, whatever the runtime
/// does with the tasks.
///
/// The write is polled once on the spot, with a waker that does nothing, which hands the job
/// to the store's writer; the spawned task polls it again and waits for the answer.
pub fn queue<T: Send + 'static>(write: impl Future<Output = T> + Send + 'static) -> JoinHandle<T> {
    let mut write = Box::pin(write);
    match write.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(answer) => tokio::spawn(std::future::ready(answer)),
        Poll::Pending => tokio::spawn(write),
    }
}

/// A write that holds the store's writer: its work waits until [`HeldWriter::release`], so
/// writes queued meanwhile wait too, and are then taken together into groups.
pub struct HeldWriter {
    release: oneshot::Sender<()>,
    done: JoinHandle<Result<((), Vec<Receipt>), StoreError>>,
}

/// Starts a write in lane `holder` that logs [`crate::placement_leaf`]`(leaf)`, and returns
/// once its work runs: the writer is then held.
pub async fn hold_writer(store: &Store, leaf: u64) -> HeldWriter {
    let (started, running) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    let store = store.clone();
    let done = tokio::spawn(async move {
        store
            .write(WriteTicket::new("holder"), move |_write| {
                Box::pin(async move {
                    let _ = started.send(());
                    let _ = released.await;
                    Ok(((), vec![crate::placement_leaf(leaf)]))
                })
            })
            .await
    });
    running.await.expect("the holding write runs");
    HeldWriter { release, done }
}

impl HeldWriter {
    /// Lets the holding write end, and returns the receipt of its leaf.
    pub async fn release(self) -> Receipt {
        self.release.send(()).expect("the holding write waits");
        let ((), receipts) = self
            .done
            .await
            .expect("holding task")
            .expect("the holding write commits");
        assert_eq!(receipts.len(), 1);
        receipts[0]
    }
}

/// Stores placements `numbers` ([`placement_record`]) in one logged write, each with its leaf
/// ([`crate::placement_leaf`]), as a push logs them; returns the receipts.
pub async fn store_placements(store: &Store, numbers: std::ops::Range<u64>) -> Vec<Receipt> {
    let records: Vec<PlacementRecord> = numbers.clone().map(placement_record).collect();
    let leaves = numbers.map(crate::placement_leaf).collect();
    let ticket = WriteTicket::new("kp2mi").records(records.len());
    let ((), receipts) = store
        .write(ticket, move |write| {
            Box::pin(async move {
                write.upsert_placements(&records).await?;
                Ok::<_, StoreError>(((), leaves))
            })
        })
        .await
        .expect("store placements");
    receipts
}

/// The ids of the stored placements, in order, read past the store's API.
pub async fn stored_placements(store: &Store) -> Vec<String> {
    const SQL: &str = "SELECT placement_id FROM placements ORDER BY placement_id";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        RawPool::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
    }
    .expect("read placements")
}

/// On PostgreSQL, how many transactions stored the leaves from index `from` on (their rows'
/// distinct `xmin`); `None` on SQLite, which does not say.
pub async fn transactions_of_leaves(store: &Store, from: u64) -> Option<i64> {
    const SQL: &str = "SELECT COUNT(DISTINCT xmin::text) FROM audit_leaves WHERE leaf_index >= $1";
    match store.raw_pool() {
        RawPool::Sqlite(_) => None,
        RawPool::Postgres(pool) => Some(
            sqlx::query_scalar(SQL)
                .bind(i64::try_from(from).expect("index"))
                .fetch_one(pool)
                .await
                .expect("read leaf transactions"),
        ),
    }
}

/// A stored placement as read past the store's API: its id, record key and change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRow {
    /// The caller's id of the placement.
    pub placement_id: String,
    /// The key its leaves name it by.
    pub record_key: String,
    /// The index of the leaf of its last stored change.
    pub change_seq: i64,
}

/// Every stored placement, read past the store's API, in placement id order.
pub async fn placement_rows(store: &Store) -> Vec<PlacementRow> {
    const SQL: &str =
        "SELECT placement_id, record_key, change_seq FROM placements ORDER BY placement_id";
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        RawPool::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
    }
    .expect("read placements")
    .into_iter()
    .map(|(placement_id, record_key, change_seq)| PlacementRow {
        placement_id,
        record_key,
        change_seq,
    })
    .collect()
}

/// A committed leaf as read past the store's API: the columns that copy its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRow {
    /// Its index in the log.
    pub leaf_index: i64,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Vec<u8>,
    /// The method of the call it logs.
    pub method: String,
    /// `allow` or `deny`.
    pub outcome: String,
    /// The type of the record it logs, if any.
    pub record_type: String,
    /// The key of the record it logs, if any.
    pub record_key: String,
}

/// The committed leaves from index `from` on, read past the store's API, in index order.
pub async fn leaf_rows_from(store: &Store, from: u64) -> Vec<LeafRow> {
    const SQL: &str = "SELECT leaf_index, leaf_hash, method, outcome, record_type, record_key \
                       FROM audit_leaves WHERE leaf_index >= $1 ORDER BY leaf_index";
    let from = i64::try_from(from).expect("index");
    match store.raw_pool() {
        RawPool::Sqlite(pool) => sqlx::query_as(SQL).bind(from).fetch_all(pool).await,
        RawPool::Postgres(pool) => sqlx::query_as(SQL).bind(from).fetch_all(pool).await,
    }
    .expect("read leaves")
    .into_iter()
    .map(
        |(leaf_index, leaf_hash, method, outcome, record_type, record_key)| LeafRow {
            leaf_index,
            leaf_hash,
            method,
            outcome,
            record_type,
            record_key,
        },
    )
    .collect()
}
