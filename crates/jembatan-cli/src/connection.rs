//! The connection flags every client command shares.

use std::path::{Path, PathBuf};

use anyhow::Context;
use jembatan_client::{Client, ClientTls};
use jembatan_pki::pki_dir;

/// How a client command reaches the exchange: explicit files, or `--dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct ConnectionArgs {
    /// The exchange's URL.
    #[arg(
        long,
        env = "JEMBATAN_SERVER",
        default_value = "https://127.0.0.1:7443"
    )]
    server: String,
    /// CA bundle of the exchange's certificate, PEM (or --dev).
    #[arg(long, conflicts_with = "dev")]
    ca: Option<PathBuf>,
    /// Your client certificate, PEM (or --dev).
    #[arg(long, conflicts_with = "dev")]
    cert: Option<PathBuf>,
    /// Your client certificate's private key, PEM (or --dev).
    #[arg(long, conflicts_with = "dev")]
    key: Option<PathBuf>,
    /// Use the dev exchange's CA and the identity that fits the command.
    #[arg(long)]
    dev: bool,
    /// The dev exchange's folder.
    #[arg(long, default_value = ".jembatan", requires = "dev")]
    dir: PathBuf,
    /// With --dev, the identity to use instead: kemendag, kp2mi, auditor or another NAME in
    /// the dev folder's pki/.
    #[arg(long = "as", value_name = "NAME", requires = "dev")]
    identity: Option<String>,
}

impl ConnectionArgs {
    /// With `--dev`, the dev exchange's folder.
    pub(crate) fn dev_dir(&self) -> Option<&Path> {
        self.dev.then_some(self.dir.as_path())
    }

    /// With `--dev`, the identity used: `--as`, or else `default_identity`.
    pub(crate) fn dev_identity<'a>(&'a self, default_identity: &'a str) -> &'a str {
        self.identity.as_deref().unwrap_or(default_identity)
    }

    /// The exchange's URL.
    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    /// Who the calls are made as, for people to read: `--as` or `default_identity` with
    /// `--dev`, else the certificate file.
    pub(crate) fn identity_label(&self, default_identity: &str) -> String {
        match &self.cert {
            Some(cert) if !self.dev => cert.display().to_string(),
            _ => self.dev_identity(default_identity).to_owned(),
        }
    }

    /// SHA-256 of the client certificate (DER), hex, as audit entries record it; with `--dev`,
    /// of `--as` or else `default_identity`.
    pub(crate) fn certificate_fingerprint(&self, default_identity: &str) -> anyhow::Result<String> {
        let path = if self.dev {
            pki_dir::cert_path(&self.dir.join("pki"), self.dev_identity(default_identity))
        } else {
            self.cert
                .clone()
                .context("give --ca, --cert and --key, or --dev")?
        };
        let certs = jembatan_pki::tls::read_certs(&path)?;
        let leaf = certs.first().context("no certificate")?;
        Ok(jembatan_pki::certificate_fingerprint(leaf))
    }

    /// Connects; with `--dev`, as `--as` or else `default_identity`.
    pub(crate) async fn connect(&self, default_identity: &str) -> anyhow::Result<Client> {
        let tls = if self.dev {
            let pki = self.dir.join("pki");
            let name = self.dev_identity(default_identity);
            ClientTls::from_files(
                &pki_dir::cert_path(&pki, pki_dir::CA),
                &pki_dir::cert_path(&pki, name),
                &pki_dir::key_path(&pki, name),
            )
            .with_context(|| {
                format!(
                    "dev identity {name:?} (is `jembatan dev` set up in {}?)",
                    self.dir.display()
                )
            })?
        } else {
            match (&self.ca, &self.cert, &self.key) {
                (Some(ca), Some(cert), Some(key)) => ClientTls::from_files(ca, cert, key)?,
                _ => anyhow::bail!("give --ca, --cert and --key, or --dev"),
            }
        };
        Ok(Client::connect(&self.server, tls).await?)
    }

    /// Connects to the same exchange as another party: with `--dev`, as the dev folder's
    /// `dev_identity` (whatever `--as` says); else with `files` (certificate, key) and `--ca`.
    pub(crate) async fn connect_other(
        &self,
        dev_identity: &str,
        files: Option<(&Path, &Path)>,
    ) -> anyhow::Result<Client> {
        let tls = if self.dev {
            let pki = self.dir.join("pki");
            ClientTls::from_files(
                &pki_dir::cert_path(&pki, pki_dir::CA),
                &pki_dir::cert_path(&pki, dev_identity),
                &pki_dir::key_path(&pki, dev_identity),
            )
            .with_context(|| format!("dev identity {dev_identity:?}"))?
        } else {
            match (&self.ca, files) {
                (Some(ca), Some((cert, key))) => ClientTls::from_files(ca, cert, key)?,
                _ => anyhow::bail!("give --ca and the certificate and key of {dev_identity}"),
            }
        };
        Ok(Client::connect(&self.server, tls).await?)
    }
}
