//! The server's configuration: one TOML file, `JEMBATAN_<SECTION>_<KEY>` environment overrides.
//!
//! Every key is documented in `deploy/jembatan.example.toml`. Unknown keys and badly typed
//! values are errors that name the key. Relative paths (certificates, the SQLite file) are
//! taken relative to the directory of the config file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ServerError;

/// Sections of the file; an environment variable `JEMBATAN_<SECTION>_<KEY>` overrides
/// `<section>.<key>`, lower-cased. Other `JEMBATAN_*` variables are not configuration.
const SECTIONS: &[&str] = &[
    "server",
    "tls",
    "identity",
    "policy",
    "audit",
    "placements",
    "store",
    "limits",
    "log",
    "telemetry",
];

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The listener.
    #[serde(default)]
    pub server: ServerSection,
    /// Certificates and TLS versions.
    #[serde(default)]
    pub tls: TlsSection,
    /// Whose identities are accepted.
    pub identity: IdentitySection,
    /// Access policy.
    #[serde(default)]
    pub policy: PolicySection,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditSection,
    /// Placement records and what Kemendag may see of them.
    #[serde(default)]
    pub placements: PlacementsSection,
    /// The database.
    #[serde(default)]
    pub store: StoreSection,
    /// What one caller may ask of the exchange.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// Traces and metrics over OTLP.
    #[serde(default)]
    pub telemetry: TelemetrySection,
}

/// `[server]`: the listener and its limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Seconds a client has to complete the TLS handshake.
    pub handshake_timeout_secs: u64,
    /// TLS handshakes in progress at once, from all addresses.
    pub max_concurrent_handshakes: usize,
    /// TLS handshakes in progress at once from one IP address: one address holds at most this
    /// many of the slots.
    pub max_handshakes_per_address: usize,
    /// Milliseconds a new connection waits for a handshake slot before it is closed.
    pub handshake_queue_ms: u64,
    /// Milliseconds a client has to send its TLS ClientHello after connecting.
    pub client_hello_timeout_ms: u64,
    /// Seconds in-flight calls get to finish after SIGINT or SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Connections open at once per caller (one certificate identity).
    pub max_connections_per_caller: usize,
    /// Calls (HTTP/2 streams) open at once on one connection.
    pub max_concurrent_streams: u32,
    /// Largest metadata (HTTP/2 header list) of one call, in bytes.
    pub max_header_list_bytes: u32,
    /// Seconds between HTTP/2 pings to an idle client; 0 turns them off.
    pub keepalive_interval_secs: u64,
    /// Seconds a client has to answer a ping before its connection is closed.
    pub keepalive_timeout_secs: u64,
    /// Seconds after which a connection is asked to close (clients reconnect, and are checked
    /// again); 0 for never.
    pub max_connection_age_secs: u64,
    /// Seconds the calls of a connection past its age get to finish before it is closed.
    pub max_connection_age_grace_secs: u64,
    /// Serve gRPC reflection (the public contract's schema) to callers the policies name.
    pub reflection: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            handshake_timeout_secs: 10,
            max_concurrent_handshakes: 1024,
            max_handshakes_per_address: 64,
            handshake_queue_ms: 1000,
            client_hello_timeout_ms: 3000,
            shutdown_grace_secs: 10,
            max_connections_per_caller: 64,
            max_concurrent_streams: 64,
            max_header_list_bytes: 16 * 1024,
            keepalive_interval_secs: 30,
            keepalive_timeout_secs: 10,
            max_connection_age_secs: 3600,
            max_connection_age_grace_secs: 600,
            reflection: false,
        }
    }
}

/// `[tls]`: the server's certificate and the CA that client certificates must chain to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// Server certificate chain, PEM.
    pub cert: PathBuf,
    /// Server private key, PEM.
    pub key: PathBuf,
    /// CA bundle for client certificates, PEM.
    pub client_ca: PathBuf,
    /// Certificate revocation lists of the client CAs, PEM or DER.
    pub crls: Vec<PathBuf>,
    /// Accept TLS 1.2 besides TLS 1.3.
    pub allow_tls12: bool,
    /// Milliseconds between looks at the CA bundle and CRLs for changes (SIGHUP reloads at
    /// once), and between checks of open connections' certificates against them; 0 turns the
    /// looks off.
    pub reload_interval_ms: u64,
    /// Refuse every client certificate while a CRL is past its next update, instead of
    /// trusting a list that may miss recent revocations.
    pub enforce_crl_next_update: bool,
}

impl Default for TlsSection {
    fn default() -> Self {
        Self {
            cert: "pki/server.pem".into(),
            key: "pki/server-key.pem".into(),
            client_ca: "pki/ca.pem".into(),
            crls: Vec::new(),
            allow_tls12: false,
            reload_interval_ms: 5000,
            enforce_crl_next_update: true,
        }
    }
}

/// `[identity]`: the SPIFFE trust domain of callers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Trust domain of client certificates' URI SANs, e.g. `exchange.go.id`.
    pub trust_domain: String,
}

/// `[policy]`: the Cedar policy folder and how it is reloaded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// Folder of `*.cedar` policy files, validated against the built-in schema.
    pub dir: PathBuf,
    /// Milliseconds between checks of the folder for changes; 0 turns watching off (SIGHUP
    /// still reloads).
    pub watch_interval_ms: u64,
}

impl Default for PolicySection {
    fn default() -> Self {
        Self {
            dir: "policies".into(),
            watch_interval_ms: 2000,
        }
    }
}

/// `[audit]`: the audit log's signing key and checkpoints.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    /// The log's C2SP signer key (`PRIVATE+KEY+…`), mode 0600.
    pub key: PathBuf,
    /// The checkpoints' origin line; empty for `jembatan.<trust_domain>/audit`.
    pub origin: String,
    /// Milliseconds between checkpoints while leaves arrive.
    pub checkpoint_interval_ms: u64,
    /// Witnesses' verifier keys (`<name>+<id>+<base64>`) by owner: an agency (`kemendag`),
    /// whose systems may submit their cosignatures, or `auditor/<office>`.
    pub witnesses: BTreeMap<String, Vec<String>>,
}

impl Default for AuditSection {
    fn default() -> Self {
        Self {
            key: "audit/log.key".into(),
            origin: String::new(),
            checkpoint_interval_ms: 1000,
            witnesses: BTreeMap::new(),
        }
    }
}

/// `[placements]`: personal data of placement records.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementsSection {
    /// The personal-data key (64 hex digits, mode 0600): makes subject keys from NIKs and
    /// pairwise pseudonyms. Back it up: without it stored records cannot be matched to workers.
    pub key: PathBuf,
    /// Counts of fewer workers than this, true or perturbed, are not published.
    pub suppression_threshold: u32,
    /// Weights of the noise added to counts, from `-d` to `+d` (the cell-key method's
    /// perturbation table): an odd number, symmetric.
    pub count_noise: Vec<u32>,
    /// Fewest workers (perturbed) a whole count filter must match before any cell is shown.
    pub count_minimum_workers: u32,
    /// Milliseconds between the count index's looks for changes made by other exchange
    /// processes on the same database; this process's own erasures apply at once.
    pub count_refresh_ms: u64,
    /// Milliseconds between WatchAvailability's looks for newly matching workers.
    pub watch_interval_ms: u64,
    /// Seconds a WatchAvailability stream lasts before the exchange ends it; the client resumes
    /// from its last cursor, its certificate checked again.
    pub watch_max_secs: u64,
}

impl Default for PlacementsSection {
    fn default() -> Self {
        Self {
            key: "keys/personal-data.key".into(),
            suppression_threshold: 5,
            count_noise: vec![3, 9, 16, 9, 3],
            count_minimum_workers: 20,
            count_refresh_ms: 250,
            watch_interval_ms: 500,
            watch_max_secs: 3600,
        }
    }
}

/// `[store]`: the database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    pub url: String,
    /// Maximum open database connections.
    pub max_connections: u32,
    /// Apply pending migrations at start (the role of `url` must own the schema). When false,
    /// apply none and refuse to start unless `jembatan migrate` has applied every one: for a
    /// PostgreSQL role that owns nothing (deploy/postgres).
    pub migrate: bool,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            url: "sqlite://jembatan.db".into(),
            max_connections: 8,
            migrate: true,
        }
    }
}

/// `[limits]`: what one caller may ask, so that no caller starves another. Rates are per
/// principal (one certificate identity) and per class of method; a call over them is
/// RESOURCE_EXHAUSTED with the time to wait, and logged in aggregate.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Calls of writing methods (pushes, streams, erasures, consent) per second and principal.
    pub write_per_sec: f64,
    /// Writing calls a principal may make at once above its rate.
    pub write_burst: u32,
    /// Calls of reading methods (counts, candidates, watches) per second and principal.
    pub read_per_sec: f64,
    /// Reading calls a principal may make at once above its rate.
    pub read_burst: u32,
    /// Calls of the audit service per second and principal.
    pub audit_per_sec: f64,
    /// Audit calls a principal may make at once above its rate.
    pub audit_burst: u32,
    /// Calls of health and reflection per second and principal.
    pub other_per_sec: f64,
    /// Health and reflection calls a principal may make at once above its rate.
    pub other_burst: u32,
    /// Calls in progress at once for one principal, streams included.
    pub max_calls_per_principal: u32,
    /// WatchAvailability streams open at once for one principal.
    pub max_watches_per_principal: u32,
    /// Calls in progress at once in the whole exchange; beyond, calls are refused at once.
    pub max_calls_in_flight: u32,
    /// Seconds a call may take when the client sets no shorter `grpc-timeout`; streams of
    /// records are bounded by `stream_max_secs` instead.
    pub call_deadline_secs: u64,
    /// Seconds a StreamPlacements call may last.
    pub stream_max_secs: u64,
    /// Messages one StreamPlacements call may carry.
    pub stream_max_messages: u64,
    /// Largest message of PlacementService, in bytes: a push of 1,000 records fits.
    pub max_placement_message_bytes: usize,
    /// Largest request message of the other services, in bytes.
    pub max_request_message_bytes: usize,
    /// Seconds of one window of refused calls: each principal's calls refused for a limit in a
    /// window are logged as one audit leaf.
    pub refusal_window_secs: u64,
}

impl LimitsSection {
    /// Refuses rates that are not positive and finite: a rate of 0 does not forbid a class of
    /// calls (the policies do that), and would make every call of it wait for ever.
    pub fn validate(&self) -> Result<(), ServerError> {
        for (key, rate) in [
            ("limits.write_per_sec", self.write_per_sec),
            ("limits.read_per_sec", self.read_per_sec),
            ("limits.audit_per_sec", self.audit_per_sec),
            ("limits.other_per_sec", self.other_per_sec),
        ] {
            if !rate.is_finite() || rate < 0.001 {
                return Err(ServerError::InvalidValue {
                    key,
                    reason: format!(
                        "{rate} is not a rate: at least 0.001 calls a second; refuse a class \
                         of calls with the policies instead"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            write_per_sec: 50.0,
            write_burst: 100,
            read_per_sec: 100.0,
            read_burst: 200,
            audit_per_sec: 50.0,
            audit_burst: 100,
            other_per_sec: 10.0,
            other_burst: 20,
            max_calls_per_principal: 64,
            max_watches_per_principal: 8,
            max_calls_in_flight: 512,
            call_deadline_secs: 60,
            stream_max_secs: 3600,
            stream_max_messages: 10_000,
            max_placement_message_bytes: 1024 * 1024,
            max_request_message_bytes: 64 * 1024,
            refusal_window_secs: 60,
        }
    }
}

/// `[log]`: what is logged and how.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// A tracing filter, e.g. `info` or `info,jembatan_server=debug`.
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// `[telemetry]`: traces and metrics over OTLP/gRPC. Off unless an endpoint is set here or by
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or its `_TRACES_`/`_METRICS_` forms); the other `OTEL_*`
/// variables are read as the OpenTelemetry SDK reads them (see docs/operations.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// The collector, `https://host:4317` (or `http://` for one on the same host); when set it
    /// takes precedence over `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    /// CA bundle the collector's certificate must chain to (else
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`); required for an `https` endpoint.
    pub ca: Option<PathBuf>,
    /// The exchange's client certificate for a collector that asks for one (else
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`).
    pub cert: Option<PathBuf>,
    /// The key of `cert` (else `OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub key: Option<PathBuf>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Reads the file at `path`, applies `JEMBATAN_*` overrides from `env`, and resolves relative
    /// paths against the file's directory.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::ConfigRead {
            path: path.into(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, env, base).map_err(|reason| ServerError::Config {
            path: path.into(),
            reason,
        })
    }

    /// Parses TOML text with overrides; relative paths are resolved against `base`.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        base: &Path,
    ) -> Result<Self, String> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut overridden = Vec::new();
        for (name, raw) in env {
            let Some((section, key)) = override_key(&name) else {
                continue;
            };
            let section_table = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(section_table) = section_table else {
                return Err(format!("{section}: must be a table"));
            };
            section_table.insert(key.clone(), env_value(&raw));
            overridden.push((format!("{section}.{key}"), name));
        }
        let mut config: Self = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let key = e.path().to_string();
                let from_env = overridden
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, var)| format!(" (set by {var})"))
                    .unwrap_or_default();
                format!("key {key}{from_env}: {}", e.inner())
            })?;
        config.resolve_paths(base);
        Ok(config)
    }

    /// The audit log's origin: `audit.origin`, or `jembatan.<identity.trust_domain>/audit`.
    pub fn audit_origin(&self) -> String {
        if self.audit.origin.is_empty() {
            format!("jembatan.{}/audit", self.identity.trust_domain)
        } else {
            self.audit.origin.clone()
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
        let tls = &mut self.tls;
        for path in [&mut tls.cert, &mut tls.key, &mut tls.client_ca]
            .into_iter()
            .chain(tls.crls.iter_mut())
            .chain([
                &mut self.policy.dir,
                &mut self.audit.key,
                &mut self.placements.key,
            ])
        {
            *path = base.join(&*path);
        }
        let telemetry = &mut self.telemetry;
        for path in [&mut telemetry.ca, &mut telemetry.cert, &mut telemetry.key]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
        if let Some(path) = self.store.url.strip_prefix("sqlite://") {
            self.store.url = format!("sqlite://{}", base.join(path).display());
        }
    }
}

/// `JEMBATAN_SERVER_LISTEN` → (`server`, `listen`), for known sections only.
fn override_key(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("JEMBATAN_")?.to_ascii_lowercase();
    let (section, key) = rest.split_once('_')?;
    (SECTIONS.contains(&section) && !key.is_empty()).then(|| (section.to_owned(), key.to_owned()))
}

/// An override's value: a TOML value (`10`, `true`, `["a.pem"]`, `"x"`), else the raw string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[identity]\ntrust_domain = \"dev.jembatan.local\"\n";

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::parse(text, env, Path::new("/etc/jembatan"))
    }

    #[test]
    fn minimal_config_takes_defaults_and_resolves_paths() {
        let config = parse(MINIMAL, &[]).expect("valid");
        assert_eq!(
            config.server.listen,
            SocketAddr::from(([127, 0, 0, 1], 7443))
        );
        assert_eq!(
            config.tls.cert,
            PathBuf::from("/etc/jembatan/pki/server.pem")
        );
        assert_eq!(config.store.url, "sqlite:///etc/jembatan/jembatan.db");
    }

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        let err =
            parse(&format!("{MINIMAL}[server]\nlisten_on = \"x\"\n"), &[]).expect_err("unknown");
        assert!(err.contains("server.listen_on"), "{err}");
        let err = parse(
            &format!("{MINIMAL}[server]\nhandshake_timeout_secs = \"ten\"\n"),
            &[],
        )
        .expect_err("mistyped");
        assert!(err.contains("server.handshake_timeout_secs"), "{err}");
        let err = parse(&format!("{MINIMAL}[storage]\n"), &[]).expect_err("unknown section");
        assert!(err.contains("storage"), "{err}");
        let err = parse("", &[]).expect_err("missing identity");
        assert!(err.contains("identity"), "{err}");
    }

    #[test]
    fn environment_overrides_keys_and_is_named_when_wrong() {
        let config = parse(
            MINIMAL,
            &[
                ("JEMBATAN_SERVER_LISTEN", "0.0.0.0:8443"),
                ("JEMBATAN_SERVER_SHUTDOWN_GRACE_SECS", "3"),
                ("JEMBATAN_TLS_ALLOW_TLS12", "true"),
                ("JEMBATAN_STORE_URL", "postgres://postgres@127.0.0.1:5432/x"),
                ("JEMBATAN_TEST_POSTGRES_URL", "not configuration"),
            ],
        )
        .expect("valid");
        assert_eq!(config.server.listen, SocketAddr::from(([0, 0, 0, 0], 8443)));
        assert_eq!(config.server.shutdown_grace_secs, 3);
        assert!(config.tls.allow_tls12);
        assert_eq!(config.store.url, "postgres://postgres@127.0.0.1:5432/x");

        let err = parse(MINIMAL, &[("JEMBATAN_SERVER_LISTEN", "nowhere")]).expect_err("bad env");
        assert!(
            err.contains("server.listen (set by JEMBATAN_SERVER_LISTEN)"),
            "{err}"
        );
    }

    #[test]
    fn example_config_documents_every_key() {
        // Read at run time, wherever the checkout is.
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo");
        let path = format!("{manifest_dir}/../../deploy/jembatan.example.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let example: toml::Table = text.parse().expect("example is TOML");
        let config = parse(&text, &[]).expect("example config is valid");
        let full = toml::Table::try_from(&config).expect("serializes");
        for (section, keys) in &full {
            let keys = keys.as_table().expect("section");
            for key in keys.keys() {
                assert!(
                    example.get(section).and_then(|s| s.get(key)).is_some(),
                    "{section}.{key} is not in deploy/jembatan.example.toml"
                );
            }
        }
    }
}
