//! Log output of the server commands, and the spans they export.

use jembatan_server::Telemetry;
use jembatan_server::config::{LogFormat, LogSection};
use tracing_subscriber::filter::{EnvFilter, FilterExt as _, filter_fn};
use tracing_subscriber::prelude::*;

/// Installs the global subscriber: log lines on stderr as `[log]` asks (a filter, text or JSON;
/// spans are left out of them), and the exchange's spans to `telemetry` when it exports them.
pub(crate) fn init(log: &LogSection, telemetry: Option<&Telemetry>) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(&log.level).map_err(|e| anyhow::anyhow!("config key log.level: {e}"))?;
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match log.format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    // Call spans would repeat their attributes in every line; the lines say what they need.
    let lines = lines.with_filter(filter.and(filter_fn(|meta| !meta.is_span())));
    tracing_subscriber::registry()
        .with(telemetry.and_then(Telemetry::layer))
        .with(lines)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
