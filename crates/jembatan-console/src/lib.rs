//! The auditors' console: a local web application over the AuditService.
//!
//! `jembatan console` serves it on the auditor's own machine (127.0.0.1 by default). It calls
//! the exchange over mutual TLS with the auditor's certificate, so the key never leaves that
//! machine, and checks everything it shows against the log's verifier key and the witnesses'
//! keys, as the CLI does: the whole log is recomputed in the background against the signed
//! checkpoint, later checkpoints are proved consistent with it, and an entry's inclusion proof
//! is checked when it is opened. Pages are HTML rendered here, with charts drawn as SVG: no
//! JavaScript at all. Bahasa Indonesia and English.

#![forbid(unsafe_code)]

mod chart;
mod error;
mod export;
mod guard;
mod html;
mod i18n;
mod pages;
mod verify;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use jembatan_audit::note::VerifierKey;
use jembatan_client::AuditClient;
use tokio::net::TcpListener;

pub use error::ConsoleError;

/// What the console checks against and shows about itself.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The log's verifier key: every checkpoint shown is verified with it.
    pub log_key: VerifierKey,
    /// The witnesses (one per ministry) whose cosignatures the overview checks.
    pub witnesses: Vec<VerifierKey>,
    /// Who the console calls the exchange as, shown in the page header (e.g. `auditor`).
    pub identity: String,
    /// The exchange's URL, shown in the page header.
    pub server: String,
}

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) client: AuditClient,
    pub(crate) config: ConsoleConfig,
    pub(crate) verifier: verify::Verifier,
    /// The witnesses' status as last looked up.
    pub(crate) witnesses: std::sync::Mutex<pages::overview::WitnessCache>,
    /// The path every page lives under, `/<token>/`: the secret that lets a browser in.
    pub(crate) base: String,
}

impl AppState {
    /// A client for one request (tonic clients are cheap clones over one channel).
    pub(crate) fn client(&self) -> AuditClient {
        self.client.clone()
    }
}

/// The console, bound and ready to serve.
#[derive(Debug)]
pub struct Console {
    listener: TcpListener,
    state: Arc<AppState>,
    /// The first segment of every path (see `guard`): 16 random bytes, hex.
    token: String,
}

impl Console {
    /// Binds `listen` and starts verifying the log in the background. An unspecified address
    /// (0.0.0.0, ::) is refused: the console answers only at the address it is given.
    pub async fn bind(
        listen: SocketAddr,
        client: AuditClient,
        config: ConsoleConfig,
    ) -> Result<Self, ConsoleError> {
        if listen.ip().is_unspecified() {
            return Err(ConsoleError::Unspecified(listen));
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ConsoleError::Bind { listen, source })?;
        let verifier = verify::Verifier::start(client.clone(), config.log_key.clone());
        let mut token = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut token)
            .map_err(|_| ConsoleError::Random)?;
        let token = hex::encode(token);
        Ok(Self {
            listener,
            state: Arc::new(AppState {
                client,
                config,
                verifier,
                witnesses: std::sync::Mutex::new(None),
                base: format!("/{token}/"),
            }),
            token,
        })
    }

    /// Where the console listens.
    pub fn local_addr(&self) -> Result<SocketAddr, ConsoleError> {
        self.listener.local_addr().map_err(ConsoleError::Serve)
    }

    /// The address to open: the console's, under the token that lets the browser in.
    pub fn url(&self) -> Result<String, ConsoleError> {
        Ok(format!("http://{}/{}/", self.local_addr()?, self.token))
    }

    /// The token every path starts with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Serves until the process ends.
    pub async fn run(self) -> Result<(), ConsoleError> {
        let local = self.local_addr()?;
        let app = router(self.state).layer(axum::middleware::from_fn_with_state(
            Arc::new(guard::Allowed::new(local, &self.token)),
            guard::check,
        ));
        axum::serve(self.listener, app)
            .await
            .map_err(ConsoleError::Serve)
    }
}

/// Every page under the state's base path, `/<token>/`; pages link relatively, under a
/// `<base>` of that path.
fn router(state: Arc<AppState>) -> Router {
    let at = |path: &str| format!("{}{path}", state.base);
    Router::new()
        .route(&at(""), get(pages::overview::page))
        .route(&at("verify"), post(pages::overview::verify_again))
        .route(&at("activity"), get(pages::activity::page))
        .route(&at("activity.csv"), get(pages::activity::csv))
        .route(&at("entries"), get(pages::entries::list))
        .route(&at("entries.csv"), get(pages::entries::csv))
        .route(&at("entries/{index}"), get(pages::entries::show))
        .route(
            &at("history"),
            get(pages::history::form).post(pages::history::answer),
        )
        .route(&at("lang/{lang}"), get(i18n::switch))
        .route(&at("static/console.css"), get(html::stylesheet))
        .with_state(state)
}
