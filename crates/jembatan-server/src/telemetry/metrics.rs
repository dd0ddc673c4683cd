//! The exchange's instruments, named by the OpenTelemetry semantic conventions where they have
//! a name, else under `jembatan.`. Attributes are callers (agencies, never people), methods,
//! purposes, codes and reasons: a bounded set, and never personal data.
//!
//! The instruments report to the meter provider [`super::Telemetry::start`] installs; before
//! that, or without it, they record nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_store::Connections;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, ObservableGauge};

/// Bucket boundaries of call durations, in seconds (the semantic conventions' advice).
const DURATION_BOUNDARIES: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Methods whose records come into the exchange (records, erasures, withdrawals of consent);
/// the records of every other method go out.
const INBOUND_METHODS: &[&str] = &[
    "PlacementService/PushPlacements",
    "PlacementService/StreamPlacements",
    "PlacementService/WithdrawConsent",
    "PlacementService/ErasePersonalData",
    "MarketIntelService/SubmitMarketReports",
    "ProgramService/PublishPrograms",
    "ProgramService/RecordEnrollments",
];

/// The instruments.
pub(crate) struct Metrics {
    /// `rpc.server.call.duration`: seconds per call, by method and status code.
    pub(crate) call_duration: Histogram<f64>,
    records_pushed: Counter<u64>,
    records_shared: Counter<u64>,
    leaves_appended: Counter<u64>,
    denials: Counter<u64>,
    log_size: Gauge<u64>,
    leaves_pending: Gauge<u64>,
    checkpoints_signed: Counter<u64>,
    /// `jembatan.cosignatures`: cosignatures taken, by witness.
    pub(crate) cosignatures: Counter<u64>,
    policy_reloads: Counter<u64>,
    /// `jembatan.limits.refusals`: calls refused for a limit, by limit.
    pub(crate) limits_refusals: Counter<u64>,
    /// `jembatan.tls.handshake.failures`: by reason.
    pub(crate) handshake_failures: Counter<u64>,
    store_connections: Gauge<u64>,
    /// Unix seconds of the latest checkpoint; 0 before the first.
    last_checkpoint: Arc<AtomicI64>,
    /// The policy set in force, `sha256:…`.
    policy_set: Arc<Mutex<String>>,
    _observed: [ObservableGauge<u64>; 2],
}

/// Whether metrics are exported: work done only to measure (queries of the log's size) is
/// skipped while they are not.
static EXPORTED: AtomicBool = AtomicBool::new(false);

/// Metrics are exported from now on.
pub(super) fn mark_exported() {
    EXPORTED.store(true, Ordering::Relaxed);
}

/// Whether metrics are exported.
pub(crate) fn exported() -> bool {
    EXPORTED.load(Ordering::Relaxed)
}

/// The instruments, made on first use from the global meter provider.
pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new(&opentelemetry::global::meter("jembatan")))
}

impl Metrics {
    fn new(meter: &Meter) -> Self {
        let last_checkpoint = Arc::new(AtomicI64::new(0));
        let policy_set = Arc::new(Mutex::new(String::new()));
        let since = Arc::clone(&last_checkpoint);
        let checkpoint_age = meter
            .u64_observable_gauge("jembatan.checkpoint.age")
            .with_unit("s")
            .with_description("Seconds since the latest signed checkpoint")
            .with_callback(move |observer| {
                let at = since.load(Ordering::Relaxed);
                if at > 0 {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    observer.observe(u64::try_from(now - at).unwrap_or(0), &[]);
                }
            })
            .build();
        let in_force = Arc::clone(&policy_set);
        let policy_gauge = meter
            .u64_observable_gauge("jembatan.policy.set")
            .with_description("1 for the policy set in force, named by its hash")
            .with_callback(move |observer| {
                let hash = in_force.lock().map(|h| h.clone()).unwrap_or_default();
                if !hash.is_empty() {
                    observer.observe(1, &[KeyValue::new("jembatan.policy_set", hash)]);
                }
            })
            .build();
        Self {
            call_duration: meter
                .f64_histogram("rpc.server.call.duration")
                .with_unit("s")
                .with_description("Duration of calls, from their headers to their status")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            records_pushed: meter
                .u64_counter("jembatan.records.pushed")
                .with_unit("{record}")
                .with_description("Records that came into the exchange, each with its leaf")
                .build(),
            records_shared: meter
                .u64_counter("jembatan.records.shared")
                .with_unit("{record}")
                .with_description("Records and answers that left the exchange, each with its leaf")
                .build(),
            leaves_appended: meter
                .u64_counter("jembatan.log.leaves.appended")
                .with_unit("{leaf}")
                .with_description("Audit leaves committed")
                .build(),
            denials: meter
                .u64_counter("jembatan.denials")
                .with_unit("{call}")
                .with_description("Calls refused and logged, by reason")
                .build(),
            log_size: meter
                .u64_gauge("jembatan.log.size")
                .with_unit("{leaf}")
                .with_description("Leaves committed to the audit log")
                .build(),
            leaves_pending: meter
                .u64_gauge("jembatan.log.leaves.pending")
                .with_unit("{leaf}")
                .with_description("Committed leaves not yet in a signed checkpoint")
                .build(),
            checkpoints_signed: meter
                .u64_counter("jembatan.checkpoints.signed")
                .with_unit("{checkpoint}")
                .build(),
            cosignatures: meter
                .u64_counter("jembatan.cosignatures")
                .with_unit("{cosignature}")
                .with_description("Witness cosignatures taken, by witness")
                .build(),
            policy_reloads: meter
                .u64_counter("jembatan.policy.reloads")
                .with_unit("{reload}")
                .with_description("Policy folder reloads, by outcome (applied or refused)")
                .build(),
            limits_refusals: meter
                .u64_counter("jembatan.limits.refusals")
                .with_unit("{call}")
                .with_description("Calls refused for a limit, by limit")
                .build(),
            handshake_failures: meter
                .u64_counter("jembatan.tls.handshake.failures")
                .with_unit("{handshake}")
                .with_description("TLS handshakes that failed, by reason")
                .build(),
            store_connections: meter
                .u64_gauge("db.client.connection.count")
                .with_unit("{connection}")
                .with_description("Open database connections, by state")
                .build(),
            last_checkpoint,
            policy_set,
            _observed: [checkpoint_age, policy_gauge],
        }
    }

    /// Counts the leaves of one committed transaction: leaves appended, records pushed and
    /// shared by agency, method and purpose, and refusals by reason.
    pub(crate) fn committed(&self, leaves: &[&LeafEntry]) {
        self.leaves_appended.add(leaves.len() as u64, &[]);
        let mut tally: HashMap<Tally<'_>, u64> = HashMap::new();
        for leaf in leaves {
            let tallied = match leaf.outcome {
                Outcome::Deny => Tally::Denied(&leaf.status),
                // Records and answers; leaves of the log's own workings (cosignatures taken)
                // have no method of a caller.
                Outcome::Allow if leaf.record_type.is_empty() => continue,
                Outcome::Allow => Tally::Record {
                    agency: agency_of(&leaf.principal),
                    method: &leaf.method,
                    purpose: &leaf.purpose,
                },
            };
            *tally.entry(tallied).or_default() += leaf.refused_calls.max(1);
        }
        for (tallied, count) in tally {
            match tallied {
                Tally::Denied(reason) => self.denials.add(
                    count,
                    &[KeyValue::new("jembatan.reason", reason.to_owned())],
                ),
                Tally::Record {
                    agency,
                    method,
                    purpose,
                } => {
                    let attributes = [
                        KeyValue::new("jembatan.agency", agency.to_owned()),
                        KeyValue::new("rpc.method", format!("jembatan.v1.{method}")),
                        KeyValue::new("jembatan.purpose", purpose.to_owned()),
                    ];
                    if INBOUND_METHODS.contains(&method) {
                        self.records_pushed.add(count, &attributes);
                    } else {
                        self.records_shared.add(count, &attributes);
                    }
                }
            }
        }
    }

    /// Counts a checkpoint signed.
    pub(crate) fn checkpoint_signed(&self) {
        self.checkpoints_signed.add(1, &[]);
    }

    /// Records the log's size, what awaits a checkpoint, and when the latest was signed.
    pub(crate) fn sequenced(&self, log_size: u64, checkpoint: Option<(u64, &str)>) {
        self.log_size.record(log_size, &[]);
        let integrated = checkpoint.map_or(0, |(size, _)| size);
        self.leaves_pending
            .record(log_size.saturating_sub(integrated), &[]);
        if let Some((_, signed_at)) = checkpoint {
            let format = time::format_description::well_known::Rfc3339;
            if let Ok(at) = time::OffsetDateTime::parse(signed_at, &format) {
                self.last_checkpoint
                    .store(at.unix_timestamp(), Ordering::Relaxed);
            }
        }
    }

    /// Records the policy set in force, and a reload's outcome (`applied` or `refused`).
    pub(crate) fn policy(&self, in_force: &str, reload: Option<&'static str>) {
        if let Ok(mut hash) = self.policy_set.lock() {
            in_force.clone_into(&mut hash);
        }
        if let Some(outcome) = reload {
            self.policy_reloads
                .add(1, &[KeyValue::new("jembatan.outcome", outcome)]);
        }
    }

    /// Records the store's connections.
    pub(crate) fn connections(&self, connections: Connections) {
        for (state, count) in [("used", connections.used), ("idle", connections.idle)] {
            self.store_connections.record(
                u64::from(count),
                &[KeyValue::new("db.client.connection.state", state)],
            );
        }
    }
}

/// What a leaf counts for.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Tally<'l> {
    Denied(&'l str),
    Record {
        agency: &'l str,
        method: &'l str,
        purpose: &'l str,
    },
}

/// The agency (or `auditor`) of a leaf's principal, `spiffe://<domain>/agency/<agency>/…`.
fn agency_of(principal: &str) -> &str {
    let mut segments = principal.split('/');
    while let Some(segment) = segments.next() {
        match segment {
            "agency" => return segments.next().unwrap_or("unidentified"),
            "auditor" => return "auditor",
            _ => {}
        }
    }
    "unidentified"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agencies_are_read_from_principals() {
        assert_eq!(
            agency_of("spiffe://dev.jembatan.local/agency/kp2mi/system/siskop2mi"),
            "kp2mi"
        );
        assert_eq!(
            agency_of("spiffe://dev.jembatan.local/auditor/inspectorate"),
            "auditor"
        );
        assert_eq!(agency_of("unidentified"), "unidentified");
    }
}
