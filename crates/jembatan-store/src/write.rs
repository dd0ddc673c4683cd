//! The one logged write, group-committed: data work and its audit leaves in one transaction,
//! or nothing.
//!
//! A caller hands [`Store::write`] its data work as a closure over a [`LoggedWrite`] that
//! returns the work's leaves. The store's writer (one task per open store, [`group`]) takes the
//! queued writes in turn per caller, runs many of them one after another in one transaction
//! with the log's head locked (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `SELECT … FOR UPDATE`),
//! appends their leaves in that order and commits once. Each write sees the index its first
//! leaf will get ([`LoggedWrite::first_leaf_index`]) and runs inside its own savepoint: a write
//! that fails, or returns no leaves, is rolled back alone and the others commit. Each caller is
//! answered only once the transaction holding its leaves is committed; if the commit fails,
//! every write of the group fails (fail closed: no leaf, no answer).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt as _;
use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::audit::{INSERT_CHUNK, Receipt, outcome_name, to_i64, to_u64};
use crate::{Pool, Store, StoreError, WriteQueue};

pub(crate) mod group;

/// A transaction, holding its turn in the store's write queue (if it took one) until it ends.
#[derive(Debug)]
pub(crate) struct Tx {
    pub(crate) conn: Conn,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// A transaction of either engine.
#[derive(Debug)]
pub(crate) enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same body on either backend's transaction (a [`Conn`], by value or reference).
macro_rules! on_tx {
    ($conn_value:expr, $conn:ident => $body:expr) => {
        match $conn_value {
            $crate::write::Conn::Sqlite($conn) => $body,
            $crate::write::Conn::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_tx;

impl Tx {
    /// Begins a transaction after waiting for a turn in the write queue (`queue`), or at once.
    /// On SQLite the write lock is taken at once (`BEGIN IMMEDIATE`).
    pub(crate) async fn begin(pool: &Pool, queue: Option<&WriteQueue>) -> Result<Self, StoreError> {
        let turn = match queue {
            Some(queue) => Some(queue.turn().await?),
            None => None,
        };
        let conn = match pool {
            Pool::Sqlite(pool) => Conn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // The writes' statements are planned for their own parameters. A prepared
                // statement's generic plan is made once and kept: made while a table is nearly
                // empty (a new exchange's first pushes) it scans the whole table, and keeps
                // doing so as the table grows until an ANALYZE invalidates it, which never
                // comes with autovacuum off. The push's lookup of stored versions ran so, a
                // sequential scan per write, for the first 100,000 records of a benchmark
                // (1,252 records/s instead of 13,185; see BENCHMARKS.md). Reads keep the
                // server's setting, so that a proof's query is not planned again at each call.
                sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
                    .execute(&mut *tx)
                    .await?;
                Conn::Postgres(tx)
            }
        };
        Ok(Tx { conn, _turn: turn })
    }

    /// Commits, then gives up the turn.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        on_tx!(self.conn, tx => tx.commit().await?);
        Ok(())
    }

    /// Runs one statement with no result.
    async fn execute(&mut self, sql: &'static str) -> Result<(), StoreError> {
        on_tx!(&mut self.conn, conn => { sqlx::query(sql).execute(&mut **conn).await?; });
        Ok(())
    }
}

/// The start of the leaves' insert: its columns.
macro_rules! insert_leaves {
    () => {
        "INSERT INTO audit_leaves (leaf_index, leaf_hash, data, time, principal, method, \
         purpose, outcome, record_type, record_key) "
    };
}
const INSERT_LEAVES: &str = insert_leaves!();

/// The leaves' insert on PostgreSQL: one array per column, so that it is planned in no time
/// whatever the number of leaves (see the placements' `UPSERT_POSTGRES`).
const INSERT_LEAVES_POSTGRES: &str = concat!(
    insert_leaves!(),
    "SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])"
);

/// The data work of one write: a future over the [`LoggedWrite`] it runs in, ending with the
/// work's result and the leaves that log it.
pub type Work<'w, T, E> = Pin<Box<dyn Future<Output = Result<(T, Vec<LeafEntry>), E>> + Send + 'w>>;

/// Who a write is for, how long it may wait for its turn, and how large it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteTicket {
    /// Writes are served in turn per lane, e.g. the caller's principal and method.
    lane: String,
    /// The caller's deadline, if it gave one.
    deadline: Option<Instant>,
    /// About how many records the write holds, to bound a group.
    records: usize,
    /// The chain the write is in, if any.
    chain: Option<WriteChain>,
}

impl WriteTicket {
    /// A write of one record in `lane` (writes of one lane run in the order they were
    /// queued, lanes in turn), with no deadline of its own.
    pub fn new(lane: impl Into<String>) -> Self {
        Self {
            lane: lane.into(),
            deadline: None,
            records: 1,
            chain: None,
        }
    }

    /// The caller's deadline: a write still waiting for its turn then fails with
    /// [`StoreError::DeadlineExceeded`].
    #[must_use]
    pub fn until(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// About how many records (and leaves) the write holds.
    #[must_use]
    pub fn records(mut self, records: usize) -> Self {
        self.records = records.max(1);
        self
    }

    /// The write is the next in `chain`: it runs only if every write queued before it in the
    /// chain succeeded (the chain's writes must share this ticket's lane). The store's timeout
    /// for it starts when the write before it in the chain is taken into a group, so a chain
    /// queued ahead does not spend its later writes' time waiting for its earlier ones; the
    /// caller's deadline counts from the start.
    #[must_use]
    pub fn chained(mut self, chain: &WriteChain) -> Self {
        self.chain = Some(chain.clone());
        self
    }
}

/// Writes queued one after another that stand or fall in order, e.g. the messages of one
/// stream queued ahead of their commits: once one fails (its work, its group, its deadline, or
/// its caller gone), every write queued after it in the chain fails with
/// [`StoreError::EarlierWriteFailed`] without running. So a failing write still leaves nothing
/// after it stored, as if each had waited for the one before.
///
/// Sound because the writer takes a lane's writes in the order they were queued, and answers
/// (or runs) each write before it runs the next of its lane.
#[derive(Debug, Clone, Default)]
pub struct WriteChain(Arc<AtomicBool>);

impl WriteChain {
    /// A new chain, unbroken.
    pub fn new() -> Self {
        Self::default()
    }

    fn broken(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn break_off(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl PartialEq for WriteChain {
    /// The same chain, not merely one in the same state.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for WriteChain {}

/// Breaks `chain`, if there is one.
fn break_chain(chain: Option<&WriteChain>) {
    if let Some(chain) = chain {
        chain.break_off();
    }
}

/// Data work and its audit leaves within a group-committed transaction; see the module docs.
#[derive(Debug)]
pub struct LoggedWrite {
    pub(crate) tx: Tx,
    /// The index this write's first leaf will get.
    first_index: u64,
}

impl LoggedWrite {
    /// The index the first leaf of this write will get when it commits.
    pub fn first_leaf_index(&self) -> u64 {
        self.first_index
    }
}

impl Store {
    /// Runs `work` in the next group-committed logged write and returns its result with the
    /// receipts of its leaves, once they are committed. Work that fails, or returns no leaves,
    /// is rolled back alone. A write that does not get its turn before the caller's deadline
    /// fails with [`StoreError::DeadlineExceeded`], or within the store's timeout with
    /// [`StoreError::Busy`]; in both cases nothing was done.
    ///
    /// The write is queued when this is called, not when the future is first polled: writes
    /// of one lane queued one after another run in that order, even while the caller awaits
    /// none of them yet.
    pub fn write<T, E, F>(
        &self,
        ticket: WriteTicket,
        work: F,
    ) -> impl Future<Output = Result<(T, Vec<Receipt>), E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'w> FnOnce(&'w mut LoggedWrite) -> Work<'w, T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let span = write_span();
        let chain = ticket.chain.clone();
        let job = group::Job::new(
            ticket,
            self.queue.timeout,
            true,
            Box::new(Typed { work, reply, chain }),
            span.clone(),
        );
        let queued = self.writer.send(job).is_ok();
        async move {
            if !queued {
                return Err(E::from(StoreError::Stopped));
            }
            answer.await.map_err(|_| E::from(StoreError::Stopped))?
        }
        .instrument(span)
    }

    /// Commits `leaves` with no data work (refused calls, aggregate answers) and returns their
    /// receipts.
    pub async fn log(
        &self,
        ticket: WriteTicket,
        leaves: Vec<LeafEntry>,
    ) -> Result<Vec<Receipt>, StoreError> {
        let (reply, answer) = oneshot::channel();
        // A write's size counts its leaves, however the ticket was made.
        let ticket = WriteTicket {
            records: ticket.records.max(leaves.len()),
            ..ticket
        };
        let work = leaves_only(leaves);
        let span = write_span();
        let chain = ticket.chain.clone();
        let job = group::Job::new(
            ticket,
            self.queue.timeout,
            false,
            Box::new(Typed { work, reply, chain }),
            span.clone(),
        );
        self.writer.send(job).map_err(|_| StoreError::Stopped)?;
        let ((), receipts) = answer
            .instrument(span)
            .await
            .map_err(|_| StoreError::Stopped)??;
        Ok(receipts)
    }
}

/// The span of one logged write, from its queueing to its answer, a child of the caller's
/// span; the writer's `store.work` and `store.commit` spans of it are its children.
fn write_span() -> tracing::Span {
    tracing::info_span!("store.write")
}

/// Work of no data, only `leaves`.
fn leaves_only(
    leaves: Vec<LeafEntry>,
) -> impl for<'w> FnOnce(&'w mut LoggedWrite) -> Work<'w, (), StoreError> + Send + 'static {
    move |_| Box::pin(std::future::ready(Ok(((), leaves))))
}

/// What a write that ran successfully hands the group: its leaves, and how to answer it.
pub(crate) struct Staged {
    pub(crate) leaves: Vec<LeafEntry>,
    pub(crate) finish: Box<dyn FnOnce(Result<Vec<Receipt>, StoreError>) + Send>,
}

/// A queued write, its result type erased.
pub(crate) trait QueuedWork: Send {
    /// Runs the work in `write`: its leaves and answer, or `None` once it has answered its
    /// failure.
    fn run<'w>(
        self: Box<Self>,
        write: &'w mut LoggedWrite,
    ) -> Pin<Box<dyn Future<Output = Option<Staged>> + Send + 'w>>;
    /// Answers a failure without running.
    fn fail(self: Box<Self>, error: StoreError);
    /// The caller no longer waits for the answer. The writer then drops the write unrun,
    /// which breaks a chain it is in.
    fn abandoned(&self) -> bool;
}

/// A write with its result type and its caller's answer. Every way it ends other than
/// committed breaks its chain, in the writer, before the writer runs the chain's next write.
struct Typed<F, T, E> {
    work: F,
    reply: oneshot::Sender<Result<(T, Vec<Receipt>), E>>,
    chain: Option<WriteChain>,
}

impl<F, T, E> QueuedWork for Typed<F, T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'w> FnOnce(&'w mut LoggedWrite) -> Work<'w, T, E> + Send + 'static,
{
    fn run<'w>(
        self: Box<Self>,
        write: &'w mut LoggedWrite,
    ) -> Pin<Box<dyn Future<Output = Option<Staged>> + Send + 'w>> {
        let Typed { work, reply, chain } = *self;
        Box::pin(async move {
            if chain.as_ref().is_some_and(WriteChain::broken) {
                let _ = reply.send(Err(E::from(StoreError::EarlierWriteFailed)));
                return None;
            }
            let ran = match AssertUnwindSafe(work(write)).catch_unwind().await {
                Ok(ran) => ran,
                Err(panic) => {
                    // The caller is told, then the group is rolled back (see `run_alone`).
                    break_chain(chain.as_ref());
                    let _ = reply.send(Err(E::from(StoreError::Panicked)));
                    std::panic::resume_unwind(panic)
                }
            };
            match ran {
                Ok((value, leaves)) => Some(Staged {
                    leaves,
                    finish: Box::new(move |receipts: Result<Vec<Receipt>, StoreError>| {
                        if receipts.is_err() {
                            break_chain(chain.as_ref());
                        }
                        let _ = reply.send(receipts.map(|r| (value, r)).map_err(E::from));
                    }),
                }),
                Err(error) => {
                    break_chain(chain.as_ref());
                    let _ = reply.send(Err(error));
                    None
                }
            }
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        break_chain(self.chain.as_ref());
        let _ = self.reply.send(Err(E::from(error)));
    }

    fn abandoned(&self) -> bool {
        let gone = self.reply.is_closed();
        if gone {
            break_chain(self.chain.as_ref());
        }
        gone
    }
}

/// Starts the writer of a store: the task that group-commits the writes sent on the returned
/// channel, until every sender is dropped. The watch turns true if the writer panics outside a
/// write's own work (a fault of the exchange). It is not started again: the writes it held
/// are answered [`StoreError::Stopped`], as is every later write, and the store's owner is
/// to stop (see [`Store::writer_failed`]).
pub(crate) fn spawn_writer(
    pool: Pool,
    queue: WriteQueue,
) -> (mpsc::UnboundedSender<group::Job>, watch::Receiver<bool>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (failed_tx, failed) = watch::channel(false);
    tokio::spawn(async move {
        let ended = AssertUnwindSafe(group::writer(receiver, pool, queue))
            .catch_unwind()
            .await;
        if ended.is_err() {
            tracing::error!(
                "the store's writer panicked: no write can be committed until the exchange \
                 starts again"
            );
            failed_tx.send_replace(true);
        }
    });
    (sender, failed)
}

/// Runs one group of writes in one transaction and answers each; see the module docs.
pub(crate) async fn commit_group(pool: &Pool, queue: &WriteQueue, jobs: Vec<group::Job>) {
    let mut write = match LoggedWrite::begin(pool, queue).await {
        Ok(write) => write,
        Err(error) => return fail_all(jobs, Vec::new(), error),
    };
    let head = write.first_index;
    let mut next = head;
    let mut staged: Vec<Staged> = Vec::with_capacity(jobs.len());
    let mut callers: Vec<tracing::Span> = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        if job.work.abandoned() {
            continue;
        }
        write.first_index = next;
        let caller = job.span.clone();
        let work = tracing::info_span!(parent: &caller, "store.work");
        match write.run_alone(job).instrument(work).await {
            Ok(Some(done)) => {
                next += done.leaves.len() as u64;
                staged.push(done);
                callers.push(caller);
            }
            Ok(None) => {}
            // The transaction cannot go on: nothing of the group is committed, and every
            // write of it is answered so, the one that was running included.
            Err(Halted { error, unanswered }) => {
                write.rollback().await;
                let mut waiting: Vec<group::Job> = jobs.collect();
                match unanswered {
                    Some(Unanswered::Queued(job)) => waiting.push(job),
                    Some(Unanswered::Staged(done)) => staged.push(done),
                    None => {}
                }
                return fail_all(waiting, staged, error);
            }
        }
    }
    if staged.is_empty() {
        write.rollback().await;
        return;
    }
    write.first_index = head;
    let leaves: Vec<&LeafEntry> = staged.iter().flat_map(|s| &s.leaves).collect();
    // One commit serves every write of the group: each caller's trace shows it, with the
    // group's size.
    let commit_spans: Vec<tracing::Span> = callers
        .iter()
        .map(|caller| {
            tracing::info_span!(
                parent: caller,
                "store.commit",
                jembatan.group.writes = staged.len(),
                jembatan.group.leaves = leaves.len(),
            )
        })
        .collect();
    let committed = write.append_and_commit(&leaves).await;
    drop(commit_spans);
    match committed {
        Ok(receipts) => {
            if let Some(observer) = queue.observer.get() {
                // What is committed stays committed and is answered, whatever the observer does.
                let observed = std::panic::catch_unwind(AssertUnwindSafe(|| observer(&leaves)));
                if observed.is_err() {
                    tracing::error!("the commit observer panicked");
                }
            }
            let mut receipts = receipts.into_iter();
            for done in staged {
                let own: Vec<Receipt> = receipts.by_ref().take(done.leaves.len()).collect();
                (done.finish)(Ok(own));
            }
        }
        Err(error) => fail_all(Vec::new(), staged, error),
    }
}

/// Why a group's transaction cannot go on, with the write that was running when it stopped if
/// that write is not answered yet.
struct Halted {
    error: StoreError,
    unanswered: Option<Unanswered>,
}

/// A write not yet answered.
enum Unanswered {
    /// Its work did not run.
    Queued(group::Job),
    /// Its work ran and staged leaves that will not be committed.
    Staged(Staged),
}

impl Halted {
    fn new(error: impl Into<StoreError>, unanswered: Option<Unanswered>) -> Self {
        Halted {
            error: error.into(),
            unanswered,
        }
    }
}

/// Answers every write of a failed group with `error`.
fn fail_all(waiting: Vec<group::Job>, staged: Vec<Staged>, error: StoreError) {
    tracing::warn!(%error, writes = waiting.len() + staged.len(), "a group commit failed");
    let error = Arc::new(error);
    for job in waiting {
        job.work.fail(StoreError::Group(Arc::clone(&error)));
    }
    for done in staged {
        (done.finish)(Err(StoreError::Group(Arc::clone(&error))));
    }
}

impl LoggedWrite {
    /// Waits for the store's turn to write, begins a transaction and locks the log's head.
    async fn begin(pool: &Pool, queue: &WriteQueue) -> Result<Self, StoreError> {
        let mut tx = Tx::begin(pool, Some(queue)).await?;
        const HEAD: &str = "SELECT next_index FROM audit_head WHERE singleton = 1";
        const LOCKED_HEAD: &str =
            "SELECT next_index FROM audit_head WHERE singleton = 1 FOR UPDATE";
        let head: i64 = match &mut tx.conn {
            Conn::Sqlite(conn) => sqlx::query_scalar(HEAD).fetch_one(&mut **conn).await?,
            Conn::Postgres(conn) => {
                sqlx::query_scalar(LOCKED_HEAD)
                    .fetch_one(&mut **conn)
                    .await?
            }
        };
        Ok(LoggedWrite {
            tx,
            first_index: to_u64(head),
        })
    }

    /// Runs one write of a group in its own savepoint: its staged leaves, or `None` when it
    /// failed or had no leaves (rolled back and answered). An error means the transaction
    /// itself cannot go on; it carries the write if it is not answered yet.
    async fn run_alone(&mut self, job: group::Job) -> Result<Option<Staged>, Halted> {
        if !job.data_work {
            // Leaves alone: nothing to roll back.
            return Ok(job.work.run(self).await);
        }
        if let Err(error) = self.tx.execute("SAVEPOINT logged_write").await {
            return Err(Halted::new(error, Some(Unanswered::Queued(job))));
        }
        let ran = AssertUnwindSafe(job.work.run(self)).catch_unwind().await;
        let kept = match ran {
            Ok(Some(done)) if !done.leaves.is_empty() => Some(done),
            Ok(Some(done)) => {
                // Data work is never stored unlogged.
                (done.finish)(Ok(Vec::new()));
                None
            }
            Ok(None) => None,
            Err(_) => {
                // The write answered its caller before the panic went on.
                tracing::error!("a logged write panicked; its group is rolled back");
                return Err(Halted::new(StoreError::Panicked, None));
            }
        };
        let ended = match kept {
            Some(_) => self.tx.execute("RELEASE SAVEPOINT logged_write").await,
            None => match self.tx.execute("ROLLBACK TO SAVEPOINT logged_write").await {
                Ok(()) => self.tx.execute("RELEASE SAVEPOINT logged_write").await,
                Err(error) => Err(error),
            },
        };
        match ended {
            Ok(()) => Ok(kept),
            Err(error) => Err(Halted::new(error, kept.map(Unanswered::Staged))),
        }
    }

    /// Appends one leaf per entry, in order, from [`Self::first_leaf_index`], and commits them
    /// with the data work done in this transaction; returns their receipts.
    async fn append_and_commit(
        mut self,
        leaves: &[&LeafEntry],
    ) -> Result<Vec<Receipt>, StoreError> {
        let first = self.first_index;
        let next = first + leaves.len() as u64;
        let rows: Vec<(u64, Vec<u8>, merkle::Hash, &LeafEntry)> = leaves
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let data = entry.to_bytes();
                let hash = merkle::leaf_hash(&data);
                (first + i as u64, data, hash, *entry)
            })
            .collect();
        let moved = on_tx!(&mut self.tx.conn, conn => {
            sqlx::query(
                "UPDATE audit_head SET next_index = $1 WHERE singleton = 1 AND next_index = $2",
            )
            .bind(to_i64(next))
            .bind(to_i64(first))
            .execute(&mut **conn)
            .await?
            .rows_affected()
        });
        if moved != 1 {
            return Err(StoreError::Corrupt(format!(
                "the log's head moved from {first} while this write held it"
            )));
        }
        // The head is held, so a taken index means the head is behind its leaves.
        let taken = |error: sqlx::Error| match StoreError::from(error) {
            StoreError::Conflict(error) => StoreError::Corrupt(format!(
                "leaf indexes from {first} are taken: the log's head is behind its leaves \
                 ({error})"
            )),
            other => other,
        };
        match &mut self.tx.conn {
            Conn::Sqlite(conn) => {
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let mut insert = QueryBuilder::new(INSERT_LEAVES);
                    insert.push_values(chunk, |mut row, (index, data, hash, entry)| {
                        row.push_bind(to_i64(*index))
                            .push_bind(hash.to_vec())
                            .push_bind(data.clone())
                            .push_bind(entry.time.clone())
                            .push_bind(entry.principal.clone())
                            .push_bind(entry.method.clone())
                            .push_bind(entry.purpose.clone())
                            .push_bind(outcome_name(entry.outcome))
                            .push_bind(entry.record_type.clone())
                            .push_bind(entry.record_key.clone());
                    });
                    insert.build().execute(&mut **conn).await.map_err(taken)?;
                }
            }
            Conn::Postgres(conn) => {
                let text = |field: fn(&LeafEntry) -> &str| -> Vec<&str> {
                    rows.iter().map(|(_, _, _, entry)| field(entry)).collect()
                };
                sqlx::query(INSERT_LEAVES_POSTGRES)
                    .bind(rows.iter().map(|row| to_i64(row.0)).collect::<Vec<_>>())
                    .bind(rows.iter().map(|row| row.2.as_slice()).collect::<Vec<_>>())
                    .bind(rows.iter().map(|row| row.1.as_slice()).collect::<Vec<_>>())
                    .bind(text(|entry| &entry.time))
                    .bind(text(|entry| &entry.principal))
                    .bind(text(|entry| &entry.method))
                    .bind(text(|entry| &entry.purpose))
                    .bind(text(|entry| outcome_name(entry.outcome)))
                    .bind(text(|entry| &entry.record_type))
                    .bind(text(|entry| &entry.record_key))
                    .execute(&mut **conn)
                    .await
                    .map_err(taken)?;
            }
        }
        self.tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(leaf_index, _, leaf_hash, _)| Receipt {
                leaf_index,
                leaf_hash,
            })
            .collect())
    }

    /// Rolls everything back; a failure to roll back is logged (the database rolls back an
    /// abandoned transaction itself).
    async fn rollback(self) {
        if let Err(error) = on_tx!(self.tx.conn, tx => tx.rollback().await) {
            tracing::warn!(%error, "rollback of a logged write failed");
        }
    }
}
