//! A throw-away deployment for one benchmark run: a dev CA, the server's and the callers'
//! certificates, the audit log's and the personal-data keys, a config file per store, and a
//! PostgreSQL database made for the run and dropped after it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use jembatan_audit::note::{SignerKey, VerifierKey};
use jembatan_client::{Client, ClientTls};
use jembatan_domain::pseudonym::PersonalDataKey;
use jembatan_pki::{DevCa, SpiffeId, TrustDomain, pki_dir};
use sqlx::Connection;

/// Trust domain of the benchmark's PKI.
const TRUST_DOMAIN: &str = "bench.jembatan.local";

/// Where the benchmark's PostgreSQL server is, unless `JEMBATAN_BENCH_POSTGRES_URL` says.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database a run stores in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Database {
    /// An SQLite file in the run's folder.
    Sqlite,
    /// A database made on the PostgreSQL server for the run.
    Postgres,
}

impl Database {
    /// Its name in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Database::Sqlite => "SQLite",
            Database::Postgres => "PostgreSQL",
        }
    }
}

/// The callers of the run.
#[derive(Debug, Clone)]
pub(crate) struct Callers {
    /// KP2MI's placement system.
    pub(crate) kp2mi: ClientTls,
    /// Kemendag's export portal.
    pub(crate) kemendag: ClientTls,
    /// Another system of Kemendag, a caller of its own for the limits scenario.
    pub(crate) kemendag_other: ClientTls,
    /// An auditor's office.
    pub(crate) auditor: ClientTls,
}

/// The run's folder and PKI.
pub(crate) struct Site {
    dir: tempfile::TempDir,
    /// The callers' TLS material.
    pub(crate) callers: Callers,
    /// The audit log's verifier key.
    pub(crate) log_verifier: VerifierKey,
}

impl Site {
    /// Makes the PKI and keys in a new temporary folder.
    pub(crate) fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("a temporary folder for the run")?;
        let trust_domain = TrustDomain::new(TRUST_DOMAIN)?;
        let ca = pki_dir::init(dir.path(), &trust_domain)?;
        let key = SignerKey::generate(&origin())?;
        std::fs::create_dir_all(dir.path().join("audit"))?;
        write_private(&dir.path().join("audit/log.key"), key.to_text().as_bytes())?;
        std::fs::create_dir_all(dir.path().join("keys"))?;
        write_private(
            &dir.path().join("keys/personal-data.key"),
            PersonalDataKey::generate()?.as_bytes(),
        )?;
        let agency = |agency: &str, system: &str| -> anyhow::Result<ClientTls> {
            client_tls(&ca, &SpiffeId::agency(&trust_domain, agency, system)?)
        };
        let callers = Callers {
            kp2mi: agency("kp2mi", "siskop2mi")?,
            kemendag: agency("kemendag", "export-portal")?,
            kemendag_other: agency("kemendag", "market-research")?,
            auditor: client_tls(&ca, &SpiffeId::auditor(&trust_domain, "inspectorate")?)?,
        };
        Ok(Self {
            dir,
            callers,
            log_verifier: key.verifier(),
        })
    }

    /// The audit log's origin, as the exchange names it by default.
    pub(crate) fn origin(&self) -> String {
        origin()
    }

    /// The run's folder.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a config file named `name` for a server on 127.0.0.1 storing at `store_url`,
    /// with the default policies, and returns its path. The per-caller limits are raised far
    /// above what the machine can carry: the capacity scenarios measure the exchange, from one
    /// caller, not the limits (the `limits` benchmark measures those, with the defaults).
    pub(crate) fn config(&self, name: &str, store_url: &str) -> anyhow::Result<PathBuf> {
        self.write_config(
            name,
            store_url,
            "[limits]\nwrite_per_sec = 1e9\nwrite_burst = 1000000\nread_per_sec = 1e9\n\
             read_burst = 1000000\naudit_per_sec = 1e9\naudit_burst = 1000000\n\
             other_per_sec = 1e9\nother_burst = 1000000\n\
             max_calls_per_principal = 100000\nmax_calls_in_flight = 100000\n",
            "max_connections_per_caller = 100000\n",
        )
    }

    /// As [`Site::config`], with the default limits.
    pub(crate) fn config_with_default_limits(
        &self,
        name: &str,
        store_url: &str,
    ) -> anyhow::Result<PathBuf> {
        self.write_config(name, store_url, "", "")
    }

    fn write_config(
        &self,
        name: &str,
        store_url: &str,
        limits: &str,
        server: &str,
    ) -> anyhow::Result<PathBuf> {
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policies");
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n{server}\
             [tls]\ncert = \"server.pem\"\nkey = \"server-key.pem\"\nclient_ca = \"ca.pem\"\n\
             [identity]\ntrust_domain = \"{TRUST_DOMAIN}\"\n\
             [policy]\ndir = {policies:?}\nwatch_interval_ms = 0\n\
             [store]\nurl = {store_url:?}\n{limits}",
            policies = policies.display().to_string(),
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// Writes a key file with mode 0600, as the exchange requires of its keys.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    jembatan_pki::private_file::create_private(path)
        .and_then(|mut file| file.write_all(contents))
        .with_context(|| path.display().to_string())
}

fn origin() -> String {
    format!("jembatan.{TRUST_DOMAIN}/audit")
}

fn client_tls(ca: &DevCa, id: &SpiffeId) -> anyhow::Result<ClientTls> {
    let issued = ca.issue_client(id)?;
    Ok(ClientTls {
        ca_pem: ca.cert_pem().as_bytes().to_vec(),
        identity: Some((issued.cert_pem.into_bytes(), issued.key_pem.into_bytes())),
    })
}

/// `count` connections to `url`, each its own HTTP/2 connection.
pub(crate) async fn connect(
    url: &str,
    tls: &ClientTls,
    count: usize,
) -> anyhow::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(Client::connect(url, tls.clone()).await?);
    }
    Ok(clients)
}

/// A PostgreSQL database made for the run; dropped by [`PgDatabase::drop_now`].
pub(crate) struct PgDatabase {
    /// Its URL.
    pub(crate) url: String,
    name: String,
    admin_url: String,
}

impl PgDatabase {
    /// Creates an empty database with a name of our own making (so the DDL is safe).
    pub(crate) async fn create() -> anyhow::Result<Self> {
        let admin_url = std::env::var("JEMBATAN_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        let name = format!("jembatan_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .with_context(|| {
                format!("PostgreSQL at {admin_url} (set JEMBATAN_BENCH_POSTGRES_URL)")
            })?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        })
    }

    /// Drops the database.
    pub(crate) async fn drop_now(self) -> anyhow::Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}
