//! `jembatan health`: prints the exchange's serving status, and with `--details` what the
//! exchange reports of its store, its audit log's sequencer, its policy set and its TLS
//! material.

use std::process::ExitCode;

use jembatan_client::{HealthDetails, ServingStatus};
use time::OffsetDateTime;

use crate::connection::ConnectionArgs;

/// A server certificate that expires within this many days is warned of.
const CERT_WARN_DAYS: i64 = 30;
/// A CRL due within this many days is warned of.
const CRL_WARN_DAYS: i64 = 2;
/// A checkpoint older than this, with leaves waiting, means the sequencer lags.
const LAG_WARN_SECS: i64 = 60;

/// Arguments of `jembatan health`.
#[derive(Debug, clap::Args)]
pub(crate) struct HealthArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// A service to ask about, e.g. jembatan.v1.WorkforceService; the whole server if empty.
    #[arg(long, default_value = "")]
    service: String,
    /// Also show the store, the audit log's size against its latest checkpoint, the policy set
    /// in force, and when the server certificate expires and the CRLs are due; exit non-zero
    /// also when the store does not answer, the certificate has expired or a CRL is past due.
    #[arg(long, conflicts_with = "service")]
    details: bool,
}

pub(crate) async fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    if !args.details {
        let status = client.health(&args.service).await?;
        println!("{}", status.as_str_name());
        return Ok(exit(status == ServingStatus::Serving));
    }
    let details = client.health_details().await?;
    let report = Report::of(&details, OffsetDateTime::now_utc());
    for line in &report.lines {
        println!("{line}");
    }
    for warning in &report.warnings {
        eprintln!("jembatan: warning: {warning}");
    }
    Ok(exit(report.healthy))
}

fn exit(healthy: bool) -> ExitCode {
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What `--details` prints, and whether the exchange is fit to serve.
#[derive(Debug)]
struct Report {
    lines: Vec<String>,
    warnings: Vec<String>,
    healthy: bool,
}

impl Report {
    fn of(details: &HealthDetails, now: OffsetDateTime) -> Self {
        let mut report = Report {
            lines: vec![details.status.as_str_name().to_owned()],
            warnings: Vec::new(),
            healthy: details.status == ServingStatus::Serving,
        };
        let unknown = || "not reported".to_owned();
        let policy = details.policy.policy_set.clone().unwrap_or_else(unknown);
        report.line("policy set", policy);
        if let Some(refused) = &details.policy.refused {
            report.line("policy refused", refused.clone());
            report.warn(format!(
                "a newer policy folder ({refused}) was refused; `jembatan policy check` says why"
            ));
        }
        let store = details.store.clone().unwrap_or_else(unknown);
        if store != "ok" {
            report.healthy = false;
            report.warn(format!("the store is {store}"));
        }
        report.line("store", store);
        match (details.log_size, details.checkpoint_size) {
            (Some(size), Some(signed)) => {
                let pending = size.saturating_sub(signed);
                let age = details
                    .checkpoint_signed_at
                    .as_deref()
                    .and_then(|t| seconds_since(t, now));
                let age_text = age.map_or_else(String::new, |s| format!(", signed {s} s ago"));
                report.line(
                    "audit log",
                    format!(
                        "{size} leaves; the latest checkpoint signs {signed} ({pending} \
                         pending){age_text}"
                    ),
                );
                if pending > 0 && age.is_some_and(|s| s > LAG_WARN_SECS) {
                    report.warn(format!(
                        "the sequencer lags: {pending} leaves wait, the last checkpoint is \
                         {} s old",
                        age.unwrap_or_default()
                    ));
                }
            }
            (Some(size), None) => {
                report.line("audit log", format!("{size} leaves; no checkpoint yet"))
            }
            _ => report.line("audit log", unknown()),
        }
        match details.server_cert_not_after.as_deref() {
            Some(at) => {
                let remaining = seconds_since(at, now).map(|s| -s);
                let left = remaining.map(|s| s.div_euclid(86_400));
                report.line("server cert", format!("expires {at}{}", days(left)));
                match left {
                    _ if remaining.is_some_and(|s| s <= 0) => {
                        report.healthy = false;
                        report.warn(format!("the server certificate expired on {at}"));
                    }
                    Some(left) if left < CERT_WARN_DAYS => report.warn(format!(
                        "the server certificate expires in {left} days: renew it"
                    )),
                    _ => {}
                }
            }
            None => report.line("server cert", unknown()),
        }
        match (&details.crl_this_update, &details.crl_next_update) {
            (None, None) => report.line("CRLs", "none configured".to_owned()),
            (this, next) => {
                let remaining = next
                    .as_deref()
                    .and_then(|at| seconds_since(at, now))
                    .map(|s| -s);
                let left = remaining.map(|s| s.div_euclid(86_400));
                report.line(
                    "CRLs",
                    format!(
                        "issued {}, next due {}{}",
                        this.clone().unwrap_or_else(unknown),
                        next.clone().unwrap_or_else(|| "never".to_owned()),
                        days(left)
                    ),
                );
                match left {
                    _ if remaining.is_some_and(|s| s <= 0) => {
                        report.healthy = false;
                        report.warn(
                            "a CRL is past its next update: every client is refused until \
                             `jembatan pki crl` signs it anew"
                                .to_owned(),
                        );
                    }
                    Some(left) if left < CRL_WARN_DAYS => report.warn(format!(
                        "a CRL is due in {left} days: run `jembatan pki crl`"
                    )),
                    _ => {}
                }
            }
        }
        report
    }

    fn line(&mut self, name: &str, value: String) {
        self.lines.push(format!("{name:<15} {value}"));
    }

    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }
}

/// Seconds from the RFC 3339 time `at` to `now` (negative when `at` is later).
fn seconds_since(at: &str, now: OffsetDateTime) -> Option<i64> {
    jembatan_client::convert::timestamp::parse_rfc3339(at)
        .ok()
        .map(|t| (now - t).whole_seconds())
}

fn days(left: Option<i64>) -> String {
    match left {
        Some(left) if left >= 0 => format!(" (in {left} days)"),
        Some(left) => format!(" ({} days ago)", -left),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use jembatan_client::PolicyStatus;

    use super::*;

    fn details() -> HealthDetails {
        HealthDetails {
            status: ServingStatus::Serving,
            policy: PolicyStatus {
                policy_set: Some("sha256:ab".into()),
                refused: None,
            },
            store: Some("ok".into()),
            log_size: Some(120),
            checkpoint_size: Some(100),
            checkpoint_signed_at: Some("2026-12-02T10:00:00.000Z".into()),
            server_cert_not_after: Some("2027-12-02T10:00:00.000Z".into()),
            crl_this_update: Some("2026-12-01T10:00:00.000Z".into()),
            crl_next_update: Some("2026-12-08T10:00:00.000Z".into()),
        }
    }

    fn at(text: &str) -> OffsetDateTime {
        jembatan_client::convert::timestamp::parse_rfc3339(text).expect("time")
    }

    #[test]
    fn a_healthy_exchange_is_described_and_passes() {
        let report = Report::of(&details(), at("2026-12-02T10:00:30Z"));
        assert!(report.healthy);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let text = report.lines.join("\n");
        assert!(
            text.contains(
                "120 leaves; the latest checkpoint signs 100 (20 pending), signed 30 s ago"
            ),
            "{text}"
        );
        assert!(
            text.contains("expires 2027-12-02T10:00:00.000Z (in 364 days)"),
            "{text}"
        );
        assert!(
            text.contains("next due 2026-12-08T10:00:00.000Z (in 5 days)"),
            "{text}"
        );
    }

    #[test]
    fn an_hour_past_due_is_past_due() {
        let report = Report::of(&details(), at("2026-12-08T11:00:00Z"));
        assert!(!report.healthy, "{:?}", report.lines);
        assert!(
            report.lines.join("\n").contains("(1 days ago)"),
            "{:?}",
            report.lines
        );
        let mut expired = details();
        expired.server_cert_not_after = Some("2026-12-02T09:00:00.000Z".into());
        let report = Report::of(&expired, at("2026-12-02T10:00:00Z"));
        assert!(!report.healthy);
        assert!(
            report.warnings.join("\n").contains("expired"),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn an_expired_crl_a_lagging_sequencer_and_a_silent_store_are_named() {
        let mut sick = details();
        sick.store = Some("unavailable".into());
        let report = Report::of(&sick, at("2026-12-09T10:00:00Z"));
        assert!(!report.healthy);
        let warnings = report.warnings.join("\n");
        assert!(warnings.contains("the store is unavailable"), "{warnings}");
        assert!(
            warnings.contains("the sequencer lags: 20 leaves wait"),
            "{warnings}"
        );
        assert!(
            warnings.contains("a CRL is past its next update"),
            "{warnings}"
        );
    }
}
