//! The store's writer: queued writes taken in turn per caller into bounded groups, each group
//! committed as one transaction by [`super::commit_group`].
//!
//! Each caller (a lane: its principal and method) has its own queue; a group takes one write
//! from each lane in turn until it holds [`MAX_GROUP_WRITES`] writes or about
//! [`MAX_GROUP_RECORDS`] records. A lane whose next write would not fit sits out the rest of
//! the group while the small writes of the others fill it, so a bulk load by one caller
//! neither starves another caller nor makes it wait for more than one group. Small writes (at
//! most [`SMALL_WRITE_RECORDS`] records: an erasure, a consent withdrawal, a query's leaf)
//! waiting at the head of their lanes go first, in a group of their own (of about
//! [`SMALL_GROUP_RECORDS`] records at most) that commits in a few milliseconds, so they wait
//! for the group being committed but not for the bulk writes queued beside them; when larger
//! writes sat out such a group, the next group takes every lane, so small writes arriving
//! without pause do not hold the bulk writes back either. There is no artificial wait for a
//! group to fill: the writes that queue while one group commits make the next group, so a lone
//! write is committed at once and a loaded store commits in large transactions. A write still
//! queued at its caller's deadline (or after the store's timeout) fails without running; a
//! write of a [`WriteChain`] counts the store's timeout from when the write before it in the
//! chain was taken into a group, and fails without running, at its turn, once an earlier write
//! of its chain has failed.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{QueuedWork, WriteChain, WriteTicket, commit_group};
use crate::{Pool, StoreError, WriteQueue};

/// Most writes in one group.
pub(crate) const MAX_GROUP_WRITES: usize = 256;

/// About the most records in one group (a single larger write makes a group of its own): large
/// enough that a transaction's fixed cost is spread over many records, small enough that a
/// group commits in tens of milliseconds, the wait of a small write queued behind it (a push
/// of 1,000 records takes 70 to 100 ms of the writer on the benchmark's machine).
pub(crate) const MAX_GROUP_RECORDS: usize = 1_000;

/// The most records of a small write, which goes in a group of small writes first.
pub(crate) const SMALL_WRITE_RECORDS: usize = 16;

/// About the most records in a group of small writes, so that it commits in milliseconds
/// however many small writes are queued.
pub(crate) const SMALL_GROUP_RECORDS: usize = 64;

/// A write waiting for its group.
pub(crate) struct Job {
    lane: String,
    /// The caller's deadline, if it gave one.
    caller_deadline: Option<Instant>,
    /// When the store's timeout runs out: counted from when the write was queued, or, in a
    /// chain, from when the write before it was taken (see [`start_next_of_chain`]).
    store_deadline: Instant,
    /// The store's timeout.
    timeout: Duration,
    records: usize,
    /// The chain the write is in, if any.
    chain: Option<WriteChain>,
    /// It has data work (run inside a savepoint), not only leaves.
    pub(crate) data_work: bool,
    pub(crate) work: Box<dyn QueuedWork>,
    /// The caller's `store.write` span: the writer's spans of this write are its children.
    pub(crate) span: tracing::Span,
}

impl Job {
    pub(crate) fn new(
        ticket: WriteTicket,
        timeout: Duration,
        data_work: bool,
        work: Box<dyn QueuedWork>,
        span: tracing::Span,
    ) -> Self {
        Self {
            lane: ticket.lane,
            caller_deadline: ticket.deadline,
            store_deadline: deadline_after(Instant::now(), timeout),
            timeout,
            records: ticket.records,
            chain: ticket.chain,
            data_work,
            work,
            span,
        }
    }

    /// The error of a write still waiting at `now`, if it has waited too long: that of
    /// whichever deadline passed first.
    fn expired(&self, now: Instant) -> Option<StoreError> {
        let caller = self.caller_deadline.filter(|d| *d <= now);
        let store = Some(self.store_deadline).filter(|d| *d <= now);
        match (caller, store) {
            (Some(caller), Some(store)) if store < caller => Some(busy()),
            (Some(_), _) => Some(StoreError::DeadlineExceeded),
            (None, Some(_)) => Some(busy()),
            (None, None) => None,
        }
    }

    /// The write follows `earlier` in the same chain.
    fn follows(&self, earlier: &Job) -> bool {
        self.chain.is_some() && self.chain == earlier.chain
    }
}

/// `now` plus `timeout`; a timeout too large to add is no timeout.
fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// The error of a write that did not get its turn within the store's timeout.
fn busy() -> StoreError {
    StoreError::Busy {
        what: "no turn to write",
    }
}

/// `taken` left its lane's `queue` at `now` for a group: the store's timeout starts again for
/// the next write of its chain there, if any. So the messages a stream queues ahead wait the
/// timeout each from when the one before them had its turn, not from when they were queued
/// behind it. (Other writes of the lane, such as another stream of the same caller, may still
/// come between.)
fn start_next_of_chain(queue: &mut VecDeque<Job>, taken: &Job, now: Instant) {
    if taken.chain.is_none() {
        return;
    }
    if let Some(next) = queue.iter_mut().find(|job| job.follows(taken)) {
        next.store_deadline = deadline_after(now, next.timeout);
    }
}

/// The queued writes, one queue per lane, lanes in turn.
#[derive(Default)]
struct Lanes {
    lanes: VecDeque<(String, VecDeque<Job>)>,
    /// The last group was of small writes, and larger ones sat it out: the next takes every
    /// lane.
    after_small: bool,
}

impl Lanes {
    fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    fn push(&mut self, job: Job) {
        match self.lanes.iter_mut().find(|(lane, _)| *lane == job.lane) {
            Some((_, queue)) => queue.push_back(job),
            None => self
                .lanes
                .push_back((job.lane.clone(), VecDeque::from([job]))),
        }
    }

    /// The next group: the small writes at the heads of the lanes, if there are any and the
    /// last group was not of small writes that larger ones sat out; else one write from each
    /// lane in turn, within the group's bounds.
    fn next_group(&mut self, now: Instant) -> Vec<Job> {
        if !std::mem::take(&mut self.after_small) {
            let (small, larger_waiting) =
                self.take_group(now, SMALL_WRITE_RECORDS, SMALL_GROUP_RECORDS);
            if !small.is_empty() {
                self.after_small = larger_waiting;
                return small;
            }
        }
        self.take_group(now, usize::MAX, MAX_GROUP_RECORDS).0
    }

    /// One write from each lane in turn, of at most `largest` records each, within
    /// [`MAX_GROUP_WRITES`] and about `most_records`; and whether a lane sat out. A lane whose
    /// next write is larger or does not fit sits out the rest of this group and goes first in
    /// the next, while the writes of other lanes go on filling this one. Writes that waited
    /// past their deadline, or behind a broken chain, are answered and left out.
    fn take_group(
        &mut self,
        now: Instant,
        largest: usize,
        most_records: usize,
    ) -> (Vec<Job>, bool) {
        let mut group = Vec::new();
        let mut records = 0usize;
        let mut sitting_out = Vec::new();
        while group.len() < MAX_GROUP_WRITES {
            let Some((lane, mut queue)) = self.lanes.pop_front() else {
                break;
            };
            let Some(job) = queue.pop_front() else {
                continue;
            };
            if job.chain.as_ref().is_some_and(WriteChain::broken) {
                // An earlier write of its chain failed (in an earlier group, or waiting): this
                // one fails now, takes no place in the group and starts no clock for the next.
                job.work.fail(StoreError::EarlierWriteFailed);
                if !queue.is_empty() {
                    self.lanes.push_front((lane, queue));
                }
                continue;
            }
            if let Some(error) = job.expired(now) {
                // Its chain breaks: the next write of the chain keeps its own clock and fails
                // without running, in this group's pass or when its turn comes.
                job.work.fail(error);
                if !queue.is_empty() {
                    self.lanes.push_front((lane, queue));
                }
                continue;
            }
            if job.records > largest || (!group.is_empty() && records + job.records > most_records)
            {
                queue.push_front(job);
                sitting_out.push((lane, queue));
                continue;
            }
            records += job.records;
            start_next_of_chain(&mut queue, &job, now);
            group.push(job);
            if !queue.is_empty() {
                self.lanes.push_back((lane, queue));
            }
        }
        let sat_out = !sitting_out.is_empty();
        for lane in sitting_out.into_iter().rev() {
            self.lanes.push_front(lane);
        }
        (group, sat_out)
    }
}

/// Takes writes from `incoming` and commits them group by group until every sender is gone.
pub(crate) async fn writer(
    mut incoming: mpsc::UnboundedReceiver<Job>,
    pool: Pool,
    queue: WriteQueue,
) {
    let mut lanes = Lanes::default();
    loop {
        if lanes.is_empty() {
            match incoming.recv().await {
                Some(job) => lanes.push(job),
                None => return,
            }
        }
        while let Ok(job) = incoming.try_recv() {
            lanes.push(job);
        }
        let group = lanes.next_group(Instant::now());
        if !group.is_empty() {
            commit_group(&pool, &queue, group).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::write::{LoggedWrite, Staged};

    /// A write that only records how it was answered; as the real ones do, a failure breaks
    /// its chain.
    struct Probe(Arc<Mutex<Vec<String>>>, &'static str, Option<WriteChain>);

    impl QueuedWork for Probe {
        fn run<'w>(
            self: Box<Self>,
            _: &'w mut LoggedWrite,
        ) -> Pin<Box<dyn Future<Output = Option<Staged>> + Send + 'w>> {
            Box::pin(std::future::ready(None))
        }
        fn fail(self: Box<Self>, error: StoreError) {
            if let Some(chain) = &self.2 {
                chain.break_off();
            }
            self.0
                .lock()
                .expect("probe")
                .push(format!("{}: {error}", self.1));
        }
        fn abandoned(&self) -> bool {
            false
        }
    }

    fn job(
        lane: &str,
        records: usize,
        name: &'static str,
        answers: &Arc<Mutex<Vec<String>>>,
    ) -> Job {
        job_in(None, lane, records, name, answers)
    }

    fn job_in(
        chain: Option<&WriteChain>,
        lane: &str,
        records: usize,
        name: &'static str,
        answers: &Arc<Mutex<Vec<String>>>,
    ) -> Job {
        let mut ticket = WriteTicket::new(lane).records(records);
        if let Some(chain) = chain {
            ticket = ticket.chained(chain);
        }
        Job::new(
            ticket,
            Duration::from_secs(5),
            true,
            Box::new(Probe(Arc::clone(answers), name, chain.cloned())),
            tracing::Span::none(),
        )
    }

    fn lanes_of(group: &[Job]) -> Vec<&str> {
        group.iter().map(|job| job.lane.as_str()).collect()
    }

    #[test]
    fn lanes_take_turns_within_the_group_bounds_and_small_writes_go_first() {
        let answers = Arc::default();
        let mut lanes = Lanes::default();
        for _ in 0..6 {
            lanes.push(job("kp2mi", 400, "bulk", &answers));
        }
        lanes.push(job("kemendag", 1, "query", &answers));
        lanes.push(job("kemendag", 1, "query", &answers));
        let now = Instant::now();
        // The small writes queued behind the bulk load go first, in a group of their own.
        assert_eq!(lanes_of(&lanes.next_group(now)), ["kemendag"; 2]);
        // Groups of at most 1,000 records: the bulk lane sits out once its next write does
        // not fit.
        assert_eq!(
            lanes_of(&lanes.next_group(now)),
            ["kp2mi"; 2],
            "bounded by records"
        );
        // Small writes arriving without pause: a group of them, then a group of every lane in
        // turn, so the bulk load goes on.
        lanes.push(job("kemendag", 1, "query", &answers));
        assert_eq!(lanes_of(&lanes.next_group(now)), ["kemendag"]);
        lanes.push(job("kemendag", 1, "query", &answers));
        assert_eq!(
            lanes_of(&lanes.next_group(now)),
            ["kp2mi", "kemendag", "kp2mi"]
        );
        lanes.push(job("kemendag", 1, "query", &answers));
        assert_eq!(lanes_of(&lanes.next_group(now)), ["kemendag"]);
        assert_eq!(lanes_of(&lanes.next_group(now)), ["kp2mi"; 2]);
        assert!(lanes.is_empty());

        lanes.push(job("kp2mi", 50_000, "huge", &answers));
        assert_eq!(
            lanes.next_group(now).len(),
            1,
            "a large write is a group of its own"
        );
        assert!(answers.lock().expect("answers").is_empty());
    }

    /// The names of the writes of `group`, which are answered (so taken out of `answers`).
    fn taken(group: Vec<Job>, answers: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
        for job in group {
            job.work.fail(StoreError::Stopped);
        }
        let mut answers = answers.lock().expect("answers");
        answers
            .drain(..)
            .map(|answer| answer.split(": ").next().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn small_writes_go_first_in_lane_order_in_bounded_groups_while_larger_ones_wait() {
        let answers: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut lanes = Lanes::default();
        let now = Instant::now();
        // A small write behind a bulk write of its own lane waits its turn there.
        lanes.push(job("kp2mi", 1000, "bulk", &answers));
        lanes.push(job("kp2mi", 1, "erasure", &answers));
        lanes.push(job("kemendag", 1, "query", &answers));
        assert_eq!(taken(lanes.next_group(now), &answers), ["query"]);
        assert_eq!(taken(lanes.next_group(now), &answers), ["bulk"]);
        assert_eq!(taken(lanes.next_group(now), &answers), ["erasure"]);
        assert!(lanes.is_empty());

        // A group of small writes that no larger write sat out does not make the next group
        // take every lane: a bulk write and a small one arriving later, the small one first.
        for _ in 0..2 {
            lanes.push(job("kemendag", 1, "query", &answers));
            assert_eq!(taken(lanes.next_group(now), &answers), ["query"]);
        }
        lanes.push(job("kp2mi", 1000, "bulk", &answers));
        lanes.push(job("kemendag", 1, "late query", &answers));
        assert_eq!(taken(lanes.next_group(now), &answers), ["late query"]);
        assert_eq!(taken(lanes.next_group(now), &answers), ["bulk"]);

        // Small writes go in groups of about SMALL_GROUP_RECORDS records, however many wait.
        for _ in 0..100 {
            lanes.push(job("kemendag", 1, "query", &answers));
        }
        assert_eq!(
            taken(lanes.next_group(now), &answers).len(),
            SMALL_GROUP_RECORDS
        );
        assert_eq!(taken(lanes.next_group(now), &answers).len(), 36);

        // Small writes whose time ran out are answered, and the bulk write behind them is
        // taken in the same turn.
        let mut late = job("kemendag", 1, "expired query", &answers);
        late.caller_deadline = Some(now);
        lanes.push(late);
        lanes.push(job("kp2mi", 1000, "bulk", &answers));
        let group = lanes.next_group(now);
        assert_eq!(
            *answers.lock().expect("answers"),
            ["expired query: the caller's deadline passed before its turn to write"]
        );
        answers.lock().expect("answers").clear();
        assert_eq!(taken(group, &answers), ["bulk"]);
        assert!(lanes.is_empty());
    }

    #[test]
    fn a_chained_write_waits_its_timeout_from_its_turn_behind_the_chain() {
        let answers: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut lanes = Lanes::default();
        let chain = WriteChain::new();
        let chained = |records, name| job_in(Some(&chain), "kp2mi", records, name, &answers);
        // The first message of a stream fills a group; the second waits behind it.
        lanes.push(chained(MAX_GROUP_RECORDS, "first"));
        lanes.push(chained(1, "second"));
        let queued = Instant::now();
        assert_eq!(lanes.next_group(queued + Duration::from_secs(1)).len(), 1);
        // The first's group took long: 5.5 s after the second was queued, but 4.5 s after the
        // first was taken, the second still gets its turn.
        let group = lanes.next_group(queued + Duration::from_millis(5_500));
        assert_eq!(group.len(), 1, "{:?}", answers.lock().expect("answers"));
        assert!(answers.lock().expect("answers").is_empty());
        // Its own timeout still holds once it is the chain's next.
        lanes.push(chained(MAX_GROUP_RECORDS, "third"));
        lanes.push(chained(1, "fourth"));
        let queued = Instant::now();
        assert_eq!(lanes.next_group(queued).len(), 1);
        assert!(lanes.next_group(queued + Duration::from_secs(6)).is_empty());
        assert_eq!(
            *answers.lock().expect("answers"),
            ["fourth: store busy: no turn to write"]
        );
    }

    #[test]
    fn a_write_behind_a_broken_chain_fails_at_once_without_a_place_in_the_group() {
        let answers: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut lanes = Lanes::default();
        let failed = "a write queued before this one in its chain failed; this one did not run";
        // A stream's first message fills a group, whose commit fails.
        let chain = WriteChain::new();
        lanes.push(job_in(
            Some(&chain),
            "kp2mi",
            MAX_GROUP_RECORDS,
            "first",
            &answers,
        ));
        lanes.push(job_in(Some(&chain), "kp2mi", 1, "second", &answers));
        lanes.push(job_in(Some(&chain), "kp2mi", 1, "third", &answers));
        let now = Instant::now();
        let mut group = lanes.next_group(now);
        assert_eq!(lanes_of(&group), ["kp2mi"]);
        group.remove(0).work.fail(busy());
        lanes.push(job("kemendag", 1, "query", &answers));
        // The messages queued behind it are answered at once; the next group holds only
        // the other caller's write.
        assert_eq!(lanes_of(&lanes.next_group(now)), ["kemendag"]);
        assert_eq!(
            *answers.lock().expect("answers"),
            [
                "first: store busy: no turn to write".to_string(),
                format!("second: {failed}"),
                format!("third: {failed}"),
            ]
        );
        assert!(lanes.is_empty());

        // A first message that waited out its timeout breaks the chain too: the second,
        // queued later and still within its own timeout, fails with it.
        answers.lock().expect("answers").clear();
        let chain = WriteChain::new();
        lanes.push(job_in(Some(&chain), "kp2mi", 1, "first", &answers));
        let mut second = job_in(Some(&chain), "kp2mi", 1, "second", &answers);
        second.store_deadline += Duration::from_secs(3);
        lanes.push(second);
        assert!(
            lanes
                .next_group(Instant::now() + Duration::from_secs(6))
                .is_empty()
        );
        assert_eq!(
            *answers.lock().expect("answers"),
            [
                "first: store busy: no turn to write".to_string(),
                format!("second: {failed}"),
            ]
        );
    }

    #[test]
    fn writes_past_their_deadline_fail_without_running() {
        let answers: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut lanes = Lanes::default();
        let now = Instant::now();
        let mut late = job("kemendag", 1, "late", &answers);
        late.caller_deadline = Some(now);
        lanes.push(late);
        let mut slow = job("kemendag", 1, "slow", &answers);
        slow.store_deadline = now;
        slow.caller_deadline = Some(now + Duration::from_secs(1));
        lanes.push(slow);
        lanes.push(job("kemendag", 1, "on time", &answers));
        let group = lanes.next_group(now);
        assert_eq!(group.len(), 1);
        assert_eq!(
            *answers.lock().expect("answers"),
            [
                "late: the caller's deadline passed before its turn to write",
                "slow: store busy: no turn to write"
            ]
        );
    }
}
