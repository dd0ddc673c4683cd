//! The load generator: one kind of call, sent by a bounded number of concurrent workers, for a
//! number of calls or for a while, then it stops by itself.
//!
//! Closed loop: each worker sends its next call when the last is answered, which finds the
//! saturation rate. Open loop: calls are due at a fixed rate and each one's latency counts from
//! when it was due, not from when a worker got round to it, so a server that falls behind shows
//! its queue in the figures instead of hiding it (no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// When a run stops.
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    /// After this many calls.
    Calls(u64),
    /// After this long (calls in flight then are finished and counted).
    For(Duration),
    /// When a [`Stop`] is raised: calls due before then are still sent, later ones are not.
    Until(watch::Receiver<Option<Instant>>),
}

/// Ends the runs bound by it, while another part of a scenario decides when.
#[derive(Debug)]
pub(crate) struct Stop(watch::Sender<Option<Instant>>);

impl Stop {
    /// A stop not yet raised.
    pub(crate) fn new() -> Self {
        Self(watch::Sender::new(None))
    }

    /// The bound of a run that ends when this is raised (or dropped unraised).
    pub(crate) fn bound(&self) -> Bound {
        Bound::Until(self.0.subscribe())
    }

    /// Ends the runs bound by it as of now.
    pub(crate) fn raise(&self) {
        self.0.send_replace(Some(Instant::now()));
    }
}

/// How a run sends its calls.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Calls in flight at most.
    pub(crate) concurrency: usize,
    /// When to stop.
    pub(crate) bound: Bound,
    /// Calls per second, open loop; `None` for closed loop.
    pub(crate) rate: Option<f64>,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// Calls answered with success.
    pub(crate) calls: u64,
    /// Items the successful calls carried (records pushed, candidates listed; 1 per call
    /// otherwise).
    pub(crate) items: u64,
    /// Calls that failed.
    pub(crate) errors: u64,
    /// The first failure, to print.
    pub(crate) first_error: Option<String>,
    /// From the first call due to the last answer.
    pub(crate) elapsed: Duration,
    /// Latencies of the successful calls, sorted.
    latencies: Vec<Duration>,
}

impl Report {
    /// A report of no calls, to merge parts into.
    pub(crate) fn empty() -> Self {
        Self {
            calls: 0,
            items: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        }
    }

    /// Adds the calls and time of `other`, a run after this one.
    pub(crate) fn merge(&mut self, other: Report) {
        self.calls += other.calls;
        self.items += other.items;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
    }

    /// Successful calls per second.
    pub(crate) fn calls_per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Items per second.
    pub(crate) fn items_per_second(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which a share `q` (0 to 1) of the calls were answered.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    /// The slowest call.
    pub(crate) fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// One line for the console.
    pub(crate) fn summary(&self) -> String {
        let mut line = format!(
            "{:.0} calls/s, {:.0} items/s; p50 {} p90 {} p99 {} max {}; {} calls in {:.1} s, {} errors",
            self.calls_per_second(),
            self.items_per_second(),
            millis(self.quantile(0.5)),
            millis(self.quantile(0.9)),
            millis(self.quantile(0.99)),
            millis(self.max()),
            self.calls,
            self.elapsed.as_secs_f64(),
            self.errors,
        );
        if let Some(error) = &self.first_error {
            line.push_str(&format!(" (first: {error})"));
        }
        line
    }
}

/// A duration in milliseconds, for tables.
pub(crate) fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// Runs `call` by `plan`. `call` gets the call's number (from 0) and answers how many items the
/// call carried, or why it failed.
pub(crate) async fn run<F, Fut>(plan: Plan, call: F) -> Report
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency.max(1) {
        let (call, next) = (Arc::clone(&call), Arc::clone(&next));
        let (rate, mut bound) = (plan.rate, plan.bound.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Report::empty();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let due = match rate {
                    Some(rate) => start + Duration::from_secs_f64(n as f64 / rate),
                    None => Instant::now(),
                };
                let over = match &bound {
                    Bound::Calls(calls) => n >= *calls,
                    Bound::For(duration) => due >= start + *duration,
                    Bound::Until(_) => false,
                };
                if over || !until_due(due, &mut bound).await {
                    break;
                }
                match call(n).await {
                    Ok(items) => {
                        mine.calls += 1;
                        mine.items += items;
                        mine.latencies.push(due.elapsed());
                    }
                    Err(error) => {
                        mine.errors += 1;
                        mine.first_error.get_or_insert(error);
                    }
                }
            }
            mine
        }));
    }
    let mut report = Report::empty();
    for worker in workers {
        match worker.await {
            Ok(mine) => {
                report.calls += mine.calls;
                report.items += mine.items;
                report.errors += mine.errors;
                if report.first_error.is_none() {
                    report.first_error = mine.first_error;
                }
                report.latencies.extend(mine.latencies);
            }
            Err(panic) => {
                report.errors += 1;
                report.first_error.get_or_insert(panic.to_string());
            }
        }
    }
    report.elapsed = start.elapsed();
    report.latencies.sort_unstable();
    report
}

/// Waits until `due`; false when `bound` is a [`Stop`] raised by then, so the call is not sent.
async fn until_due(due: Instant, bound: &mut Bound) -> bool {
    let Bound::Until(stop) = bound else {
        tokio::time::sleep_until(due).await;
        return true;
    };
    tokio::select! {
        biased;
        _ = stop.wait_for(|raised| raised.is_some_and(|at| at <= due)) => false,
        () = tokio::time::sleep_until(due) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_after_the_calls_asked_and_counts_failures() {
        let plan = Plan {
            concurrency: 4,
            bound: Bound::Calls(103),
            rate: None,
        };
        let report = run(plan, |n| async move {
            if n % 10 == 0 {
                Err(format!("call {n} failed"))
            } else {
                Ok(2)
            }
        })
        .await;
        assert_eq!(report.calls + report.errors, 103);
        assert_eq!(report.errors, 11);
        assert_eq!(report.items, 2 * 92);
        assert!(report.first_error.is_some_and(|e| e.ends_with("0 failed")));
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_counts_latency_from_when_a_call_was_due() {
        // One worker, 100 calls/s, each call taking 20 ms: the worker falls behind by 10 ms
        // per call, and the latencies must show the growing queue.
        let plan = Plan {
            concurrency: 1,
            bound: Bound::Calls(10),
            rate: Some(100.0),
        };
        let report = run(plan, |_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(1)
        })
        .await;
        assert_eq!(report.calls, 10);
        assert_eq!(report.quantile(0.0), Duration::from_millis(20));
        assert_eq!(report.max(), Duration::from_millis(20 + 9 * 10));
    }

    #[tokio::test(start_paused = true)]
    async fn until_sends_the_calls_due_before_the_stop_and_no_later_ones() {
        // One worker, 10 calls/s, each call taking 300 ms, stopped at 1.05 s: the 11 calls due
        // at 0 to 1.0 s are all sent, the backlog after the stop included.
        let stop = Stop::new();
        let plan = Plan {
            concurrency: 1,
            bound: stop.bound(),
            rate: Some(10.0),
        };
        let calls = run(plan, |_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(1)
        });
        let raise = async {
            tokio::time::sleep(Duration::from_millis(1050)).await;
            stop.raise();
        };
        let (report, ()) = tokio::join!(calls, raise);
        assert_eq!(report.calls, 11);
        assert_eq!(report.max(), Duration::from_millis(11 * 300 - 1000));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let report = Report {
            calls: 100,
            items: 100,
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(1),
            latencies: (1..=100).map(Duration::from_millis).collect(),
        };
        assert_eq!(report.quantile(0.5), Duration::from_millis(50));
        assert_eq!(report.quantile(0.99), Duration::from_millis(99));
        assert_eq!(report.max(), Duration::from_millis(100));
    }
}
