//! Shared harness of the end-to-end tests: a throw-away PKI made by the project's own dev CA,
//! the real server on 127.0.0.1:0, and PostgreSQL databases made and dropped per test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jembatan_client::{Client, ClientError, ClientTls};
use jembatan_pki::{DevCa, IssuedCert, SpiffeId, TrustDomain, Validity, pki_dir};
use jembatan_server::{Config, Exchange};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod market;
pub mod placements;
pub mod policy_matrix;
pub mod programs;
pub mod raw_call;
pub mod store;
pub mod tamper;

/// Trust domain of the test PKI.
pub const TRUST_DOMAIN: &str = "test.jembatan.local";

/// A CA with a server certificate in a temporary folder.
pub struct TestPki {
    /// The folder holding ca.pem, server.pem and their keys.
    pub dir: tempfile::TempDir,
    /// The CA.
    pub ca: DevCa,
}

impl TestPki {
    /// Makes a CA for [`TRUST_DOMAIN`], a server certificate for localhost/127.0.0.1, the
    /// audit log's signing key at `audit/log.key` and the personal-data key at
    /// `keys/personal-data.key` (where the config's defaults look).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = pki_dir::init(dir.path(), &trust_domain()).expect("pki init");
        let key =
            jembatan_audit::note::SignerKey::generate(&format!("jembatan.{TRUST_DOMAIN}/audit"))
                .expect("log key");
        std::fs::create_dir_all(dir.path().join("audit")).expect("audit dir");
        write_private(&dir.path().join("audit/log.key"), key.to_text().as_bytes());
        std::fs::create_dir_all(dir.path().join("keys")).expect("keys dir");
        write_private(
            &dir.path().join("keys/personal-data.key"),
            jembatan_domain::pseudonym::PersonalDataKey::generate()
                .expect("personal-data key")
                .as_bytes(),
        );
        Self { dir, ca }
    }

    /// The audit log's verifier key.
    pub fn log_verifier(&self) -> jembatan_audit::note::VerifierKey {
        let text = std::fs::read_to_string(self.dir.path().join("audit/log.key")).expect("log key");
        jembatan_audit::note::SignerKey::parse(&text)
            .expect("log key")
            .verifier()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca.cert_pem().as_bytes().to_vec()
    }

    /// Client TLS material for an agency's system.
    pub fn agency(&self, agency: &str, system: &str) -> ClientTls {
        let id = SpiffeId::agency(&trust_domain(), agency, system).expect("agency id");
        self.client(&self.ca.issue_client(&id).expect("issue"))
    }

    /// Client TLS material for an auditor's office.
    pub fn auditor(&self, office: &str) -> ClientTls {
        let id = SpiffeId::auditor(&trust_domain(), office).expect("auditor id");
        self.client(&self.ca.issue_client(&id).expect("issue"))
    }

    /// Client TLS material with arbitrary URI SANs and validity, from this CA.
    pub fn with_uris(&self, uris: &[&str], validity: Validity) -> ClientTls {
        self.client(
            &self
                .ca
                .issue_client_with_uris(uris, validity)
                .expect("issue"),
        )
    }

    /// Client TLS material carrying `issued`, trusting this PKI's CA.
    pub fn client(&self, issued: &IssuedCert) -> ClientTls {
        ClientTls {
            ca_pem: self.ca_pem(),
            identity: Some((
                issued.cert_pem.clone().into_bytes(),
                issued.key_pem.clone().into_bytes(),
            )),
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes a key file with mode 0600, as the exchange requires of its keys.
pub fn write_private(path: &Path, contents: &[u8]) {
    use std::io::Write;
    jembatan_pki::private_file::create_private(path)
        .and_then(|mut file| file.write_all(contents))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The test trust domain.
pub fn trust_domain() -> TrustDomain {
    TrustDomain::new(TRUST_DOMAIN).expect("trust domain")
}

/// A path in the repository, wherever the checkout is and whichever package's tests ask.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A server config on 127.0.0.1:0 using `pki`, a store URL, and extra TOML for `[server]`; the
/// default policies of `deploy/policies`, not watched.
pub fn config(pki: &TestPki, store_url: &str, server_toml: &str) -> Config {
    Config::parse(
        &config_toml(store_url, server_toml),
        std::iter::empty(),
        pki.dir.path(),
    )
    .expect("test config")
}

/// The text of [`config`], for a `jembatan serve` process: write it into the PKI folder.
pub fn config_toml(store_url: &str, server_toml: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{server_toml}\n\
         [tls]\ncert = \"server.pem\"\nkey = \"server-key.pem\"\nclient_ca = \"ca.pem\"\n\
         [identity]\ntrust_domain = \"{TRUST_DOMAIN}\"\n\
         [policy]\ndir = \"{policies}\"\nwatch_interval_ms = 0\n\
         [store]\nurl = \"{store_url}\"\n",
        policies = repo_path("deploy/policies").display()
    )
}

/// A running exchange; stopped when dropped.
pub struct RunningExchange {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), jembatan_server::ServerError>>>,
}

impl RunningExchange {
    /// Binds and serves `config`.
    pub async fn start(config: &Config) -> Self {
        let exchange = Exchange::bind(config).await.expect("bind exchange");
        let addr = exchange.local_addr();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(exchange.serve(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts an exchange with `pki`, an SQLite file in the PKI folder and default limits.
    pub async fn sqlite(pki: &TestPki) -> Self {
        Self::start(&config(pki, "sqlite://jembatan.db", "")).await
    }

    /// The exchange's URL.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Connects with `tls`.
    pub async fn connect(&self, tls: ClientTls) -> Result<Client, ClientError> {
        Client::connect(&self.url(), tls).await
    }

    /// Stops the exchange and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("serve task").expect("serve result");
        }
    }
}

impl Drop for RunningExchange {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A PostgreSQL database made for one test and dropped after it. Its name is random hex of
/// our own making, so the DDL built from it is safe.
pub struct PgDatabase {
    /// The database's URL.
    pub url: String,
    name: String,
    admin_url: String,
}

impl PgDatabase {
    /// Creates an empty database on the server at `JEMBATAN_TEST_POSTGRES_URL`.
    pub async fn create() -> Self {
        let admin_url = std::env::var("JEMBATAN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("jembatan_test_{}", random_hex(8));
        let mut admin = admin_connection(&admin_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&admin_url);
        Self {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside a test's runtime; do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = admin_connection(&admin_url).await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map(|_| ())
                .map_err(std::io::Error::other)
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

async fn admin_connection(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} (set JEMBATAN_TEST_POSTGRES_URL): {e}"))
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).expect("random");
    hex::encode(bytes)
}

/// The location of a test exchange's store: `url` as given to [`config`] (a relative SQLite
/// path is in the PKI folder).
pub fn store_location(pki: &TestPki, url: &str) -> jembatan_store::StoreLocation {
    let url = match url.strip_prefix("sqlite://") {
        Some(path) => format!("sqlite://{}", pki.dir.path().join(path).display()),
        None => url.to_owned(),
    };
    jembatan_store::StoreLocation::parse(&url).expect("location")
}

/// Opens the store of a test exchange at `url` as given to [`config`], with default options.
pub async fn open_store(pki: &TestPki, url: &str) -> jembatan_store::Store {
    jembatan_store::Store::open(
        &store_location(pki, url),
        jembatan_store::StoreOptions::default(),
    )
    .await
    .expect("open store")
}

/// The SQLite store URL that [`on_both_databases!`] gives a test: a file in the PKI folder.
pub const SQLITE_URL: &str = "sqlite://jembatan.db";

/// A database engine a store test runs on, for a test that makes its own databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, in files.
    Sqlite,
    /// PostgreSQL, at `JEMBATAN_TEST_POSTGRES_URL`.
    Postgres,
}

/// Runs each test body on SQLite and on PostgreSQL, as the tests `sqlite::BODY` and
/// `postgres::BODY`.
///
/// - `on_both_databases!(a, b)`: `async fn a(pki: &TestPki, url: &str)`, given a new
///   [`TestPki`] and a store URL: [`SQLITE_URL`] (relative, so in the PKI folder: pass it to
///   [`config`] or [`open_store`] as it is) or a new [`PgDatabase`]'s, dropped after the body.
/// - `on_both_databases!(engine: a, b)`: `async fn a(engine: Engine)`, for a body that makes
///   its own databases.
///
/// The tests are `#[tokio::test]`; give other test attributes first to replace that, e.g.
/// `on_both_databases!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] a, b)`. One
/// use per module, since it defines the modules `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both_databases {
    (#[$first:meta] $(#[$test:meta])* engine: $($body:ident),+ $(,)?) => {
        $crate::on_both_databases!(@engine [#[$first] $(#[$test])*] $($body),+);
    };
    (engine: $($body:ident),+ $(,)?) => {
        $crate::on_both_databases!(@engine [#[::tokio::test]] $($body),+);
    };
    (#[$first:meta] $(#[$test:meta])* $($body:ident),+ $(,)?) => {
        $crate::on_both_databases!(@pki_url [#[$first] $(#[$test])*] $($body),+);
    };
    ($($body:ident),+ $(,)?) => {
        $crate::on_both_databases!(@pki_url [#[::tokio::test]] $($body),+);
    };
    (@pki_url $test:tt $($body:ident),+) => {
        mod sqlite {
            $($crate::on_both_databases!(@test $test $body {
                let pki = $crate::TestPki::new();
                super::$body(&pki, $crate::SQLITE_URL).await;
            });)+
        }
        mod postgres {
            $($crate::on_both_databases!(@test $test $body {
                let pki = $crate::TestPki::new();
                let db = $crate::PgDatabase::create().await;
                super::$body(&pki, &db.url).await;
            });)+
        }
    };
    (@engine $test:tt $($body:ident),+) => {
        mod sqlite {
            $($crate::on_both_databases!(@test $test $body {
                super::$body($crate::Engine::Sqlite).await;
            });)+
        }
        mod postgres {
            $($crate::on_both_databases!(@test $test $body {
                super::$body($crate::Engine::Postgres).await;
            });)+
        }
    };
    (@test [$($test:tt)*] $body:ident $run:block) => {
        $($test)*
        async fn $body() $run
    };
}

/// Makes one call that the policies deny (an agency pushing placements), which logs one leaf.
pub async fn denied_call(exchange: &RunningExchange, pki: &TestPki, agency: &str, system: &str) {
    let denied = denied_call_at(pki.agency(agency, system), &exchange.url()).await;
    assert_eq!(denied, Some(tonic::Code::PermissionDenied), "{agency}");
}

/// Makes the call of [`denied_call`] as `tls` to the exchange at `url`; the status code it was
/// answered with, or `None` if it could not connect.
pub async fn denied_call_at(tls: ClientTls, url: &str) -> Option<tonic::Code> {
    use jembatan_domain::{LegalBasis, Purpose};
    let client = Client::connect(url, tls).await.ok()?;
    let result = raw_call::call(
        client.channel(),
        "PlacementService/PushPlacements",
        &raw_call::stated(Purpose::Statistics, LegalBasis::PublicTask),
    )
    .await;
    Some(result.err().map_or(tonic::Code::Ok, |status| status.code()))
}

/// The audit leaf of placement `n` pushed by KP2MI, as a store test appends it.
pub fn placement_leaf(n: u64) -> jembatan_audit::leaf::LeafEntry {
    use jembatan_audit::leaf::{LEAF_VERSION, LeafEntry, Outcome};
    LeafEntry {
        v: LEAF_VERSION,
        time: "2026-11-22T08:30:00.000Z".into(),
        principal: format!("spiffe://{TRUST_DOMAIN}/agency/kp2mi/siskop2mi"),
        cert_fingerprint: "ab".repeat(32),
        method: "PlacementService/PushPlacements".into(),
        purpose: "PLACEMENT_PROTECTION".into(),
        legal_basis: "LEGAL_OBLIGATION".into(),
        case_ref: String::new(),
        operator: String::new(),
        record_type: "placement".into(),
        record_key: format!("{n:032x}"),
        data_classes: vec!["profile".into()],
        record_digest: "cd".repeat(32),
        outcome: Outcome::Allow,
        policy_ids: vec!["kp2mi-push-placements".into()],
        policy_set: format!("sha256:{}", "01".repeat(32)),
        trace_id: String::new(),
        status: String::new(),
        claimed: String::new(),
        refused_calls: 0,
    }
}

/// Path of a file in the PKI folder.
pub fn pki_file(pki: &TestPki, name: &str) -> PathBuf {
    Path::new(pki.dir.path()).join(name)
}

/// The stored leaf of `receipt`, checked against its hash.
pub async fn leaf_of(
    store: &jembatan_store::Store,
    receipt: &jembatan_proto::v1::Receipt,
) -> jembatan_audit::leaf::LeafEntry {
    let data = store
        .leaf(receipt.leaf_index)
        .await
        .expect("leaf")
        .expect("leaf is stored");
    assert_eq!(
        jembatan_audit::merkle::leaf_hash(&data).to_vec(),
        receipt.leaf_hash
    );
    jembatan_audit::leaf::LeafEntry::parse(&data).expect("parses")
}

/// The date `days` from today (UTC), as the contract carries it.
pub fn days_from_today(days: i64) -> Option<jembatan_proto::v1::Date> {
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    Some(jembatan_proto::convert::date::to_proto(day))
}

/// A rustls connector presenting `tls`'s certificate and offering h2, for tests that speak
/// below gRPC.
pub fn tls_connector(tls: &ClientTls) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let (cert, key) = tls.identity.clone().expect("client identity");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&tls.ca_pem).expect("CA"))
        .expect("root");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(&cert).expect("cert")],
            PrivateKeyDer::from_pem_slice(&key).expect("key"),
        )
        .expect("client config");
    client.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(client))
}

/// A TLS connection to the exchange at `addr` through `connector`, its handshake done.
pub async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("handshake")
}

/// The store's whole log, exported and verified against the test log's key as an auditor's
/// offline verification does it; panics with the finding if it does not verify.
pub async fn verify_exported(
    store: &jembatan_store::Store,
    pki: &TestPki,
) -> jembatan_audit::verify::Verified {
    let mut export = Vec::new();
    store
        .export(&format!("jembatan.{TRUST_DOMAIN}/audit"), &mut export)
        .await
        .expect("export");
    let (origin, contents) = jembatan_audit::export::read(export.as_slice()).expect("read");
    jembatan_audit::verify::verify_log(&contents, &pki.log_verifier(), &origin)
        .unwrap_or_else(|finding| panic!("the log does not verify: {finding}"))
}

/// Restarts the machine's PostgreSQL cluster (the first `pg_lsclusters` lists), as root or the
/// postgres user can, and checks that the server at `url` did restart (its start time moved):
/// for the tests that show the exchange going on across a restart.
pub async fn restart_postgres(url: &str) {
    let started = postmaster_start(url).await;
    tokio::task::spawn_blocking(|| {
        let listed = std::process::Command::new("pg_lsclusters")
            .arg("--no-header")
            .output()
            .expect("pg_lsclusters");
        let text = String::from_utf8_lossy(&listed.stdout);
        let mut fields = text.split_whitespace();
        let (version, cluster) = (
            fields.next().expect("a cluster's version"),
            fields.next().expect("its name"),
        );
        let status = std::process::Command::new("pg_ctlcluster")
            .args([version, cluster, "restart"])
            .status()
            .expect("pg_ctlcluster");
        assert!(
            status.success(),
            "pg_ctlcluster {version} {cluster} restart: {status}"
        );
    })
    .await
    .expect("restart");
    assert_ne!(
        postmaster_start(url).await,
        started,
        "PostgreSQL was restarted"
    );
}

/// When the PostgreSQL server at `url` started, as it says.
async fn postmaster_start(url: &str) -> String {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
    let started: String = sqlx::query_scalar("SELECT pg_postmaster_start_time()::text")
        .fetch_one(&mut connection)
        .await
        .expect("start time");
    let _ = connection.close().await;
    started
}

/// Waits (up to a minute) until a checkpoint of `store` covers `size` leaves.
pub async fn wait_for_checkpoint(store: &jembatan_store::Store, size: u64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let checkpoint = store.checkpoint(None).await.expect("checkpoint");
        if checkpoint.is_some_and(|c| c.size >= size) {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "no checkpoint of {size} leaves"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
