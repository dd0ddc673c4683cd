//! A one-line progress display on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use jembatan_client::convert::thousands;

/// How often the line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(200);

/// Records sent out of a total, and the rate, on one line of stderr.
#[derive(Debug)]
pub(crate) struct Progress {
    enabled: bool,
    total: Option<u64>,
    start: Instant,
    last_drawn: Option<Instant>,
}

impl Progress {
    /// A progress line for `total` records (unknown if `None`), shown if stderr is a terminal.
    pub(crate) fn new(total: Option<u64>) -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
            total,
            start: Instant::now(),
            last_drawn: None,
        }
    }

    /// Sets the total, once known.
    pub(crate) fn set_total(&mut self, total: u64) {
        self.total = Some(total);
    }

    /// Whether the line is shown at all.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Redraws the line for `sent` records, unless it was drawn a moment ago.
    pub(crate) fn update(&mut self, sent: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last_drawn
            .is_some_and(|last| now.duration_since(last) < REDRAW)
        {
            return;
        }
        self.last_drawn = Some(now);
        let of = self
            .total
            .map(|total| format!(" / {}", thousands(total)))
            .unwrap_or_default();
        let rate = per_second(sent, self.start.elapsed());
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[K{}{of} records sent, {} records/s",
            thousands(sent),
            thousands(rate)
        );
        let _ = stderr.flush();
    }

    /// Clears the line.
    pub(crate) fn finish(&mut self) {
        if self.enabled && self.last_drawn.is_some() {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K");
            let _ = stderr.flush();
        }
        self.last_drawn = None;
    }
}

/// `count` over `elapsed`, per second, rounded down.
pub(crate) fn per_second(count: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return 0;
    }
    // Lossy on purpose: a rate for people to read.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rate = (count as f64 / seconds) as u64;
    rate
}
