//! The store's writer: queued writes taken in turn per caller into bounded groups, each group
//! committed as one transaction by [`super::commit_group`].
//!
//! Each caller (a lane: its principal and method) has its own queue; a group takes one write
//! from each lane in turn until it holds [`MAX_GROUP_WRITES`] writes or about
//! [`MAX_GROUP_RECORDS`] records. A lane whose next write would not fit sits out the rest of
//! the group while the small writes of the others fill it, so a bulk load by one caller
//! neither starves another caller nor makes it wait for more than one group. There is no artificial wait for a group to fill: the writes that queue
//! while one group commits make the next group, so a lone write is committed at once and a
//! loaded store commits in large transactions. A write still queued at its caller's deadline
//! (or after the store's timeout) fails without running.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{QueuedWork, WriteTicket, commit_group};
use crate::{Pool, StoreError, WriteQueue};

/// Most writes in one group.
pub(crate) const MAX_GROUP_WRITES: usize = 256;

/// About the most records in one group (a single larger write makes a group of its own): large
/// enough that a transaction's fixed cost is spread over many records, small enough that a
/// group commits in tens of milliseconds, the wait of a caller queued behind it.
pub(crate) const MAX_GROUP_RECORDS: usize = 2_000;

/// A write waiting for its group.
pub(crate) struct Job {
    lane: String,
    /// When it stops waiting, and the error it then gets.
    expires: Instant,
    caller_deadline: bool,
    records: usize,
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
        // A timeout too large to add is no timeout.
        let store_deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
        let (expires, caller_deadline) = match ticket.deadline {
            Some(deadline) if deadline <= store_deadline => (deadline, true),
            _ => (store_deadline, false),
        };
        Self {
            lane: ticket.lane,
            expires,
            caller_deadline,
            records: ticket.records,
            data_work,
            work,
            span,
        }
    }

    /// The error of a write still waiting at `now`, if it has waited too long.
    fn expired(&self, now: Instant) -> Option<StoreError> {
        if now < self.expires {
            None
        } else if self.caller_deadline {
            Some(StoreError::DeadlineExceeded)
        } else {
            Some(StoreError::Busy {
                what: "no turn to write",
            })
        }
    }
}

/// The queued writes, one queue per lane, lanes in turn.
#[derive(Default)]
struct Lanes {
    lanes: VecDeque<(String, VecDeque<Job>)>,
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

    /// The next group: one write from each lane in turn, within the group's bounds. A lane
    /// whose next write does not fit sits out the rest of this group and goes first in the
    /// next, while the small writes of other lanes (an erasure, a query's leaf) go on filling
    /// this one. Writes that waited past their deadline are answered and left out.
    fn next_group(&mut self, now: Instant) -> Vec<Job> {
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
            if let Some(error) = job.expired(now) {
                job.work.fail(error);
                if !queue.is_empty() {
                    self.lanes.push_front((lane, queue));
                }
                continue;
            }
            if !group.is_empty() && records + job.records > MAX_GROUP_RECORDS {
                queue.push_front(job);
                sitting_out.push((lane, queue));
                continue;
            }
            records += job.records;
            group.push(job);
            if !queue.is_empty() {
                self.lanes.push_back((lane, queue));
            }
        }
        for lane in sitting_out.into_iter().rev() {
            self.lanes.push_front(lane);
        }
        group
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

    /// A write that only records how it was answered.
    struct Probe(Arc<Mutex<Vec<String>>>, &'static str);

    impl QueuedWork for Probe {
        fn run<'w>(
            self: Box<Self>,
            _: &'w mut LoggedWrite,
        ) -> Pin<Box<dyn Future<Output = Option<Staged>> + Send + 'w>> {
            Box::pin(std::future::ready(None))
        }
        fn fail(self: Box<Self>, error: StoreError) {
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
        let ticket = WriteTicket::new(lane).records(records);
        Job::new(
            ticket,
            Duration::from_secs(5),
            true,
            Box::new(Probe(Arc::clone(answers), name)),
            tracing::Span::none(),
        )
    }

    fn lanes_of(group: &[Job]) -> Vec<&str> {
        group.iter().map(|job| job.lane.as_str()).collect()
    }

    #[test]
    fn lanes_take_turns_within_the_group_bounds() {
        let answers = Arc::default();
        let mut lanes = Lanes::default();
        for _ in 0..10 {
            lanes.push(job("kp2mi", 1000, "bulk", &answers));
        }
        lanes.push(job("kemendag", 1, "query", &answers));
        lanes.push(job("kemendag", 1, "query", &answers));
        let now = Instant::now();
        // Groups of at most 2,000 records: the bulk lane sits out once its next write does
        // not fit, and the small queries fill the first group.
        assert_eq!(
            lanes_of(&lanes.next_group(now)),
            ["kp2mi", "kemendag", "kemendag"]
        );
        assert_eq!(
            lanes_of(&lanes.next_group(now)),
            ["kp2mi"; 2],
            "bounded by records"
        );
        let rest: usize = std::iter::from_fn(|| {
            let group = lanes.next_group(now);
            (!group.is_empty()).then_some(group.len())
        })
        .sum();
        assert_eq!(rest, 7);
        assert!(lanes.is_empty());

        lanes.push(job("kp2mi", 50_000, "huge", &answers));
        assert_eq!(
            lanes.next_group(now).len(),
            1,
            "a large write is a group of its own"
        );
    }

    #[test]
    fn writes_past_their_deadline_fail_without_running() {
        let answers: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut lanes = Lanes::default();
        let now = Instant::now();
        let mut late = job("kemendag", 1, "late", &answers);
        late.expires = now;
        late.caller_deadline = true;
        lanes.push(late);
        let mut slow = job("kemendag", 1, "slow", &answers);
        slow.expires = now;
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
