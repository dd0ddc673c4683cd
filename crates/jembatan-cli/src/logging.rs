//! Log output of the server commands.

use jembatan_server::config::{LogFormat, LogSection};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber as `[log]` asks: a filter and text or JSON lines on stderr.
pub(crate) fn init(log: &LogSection) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(&log.level).map_err(|e| anyhow::anyhow!("config key log.level: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
