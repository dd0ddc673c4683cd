//! `jembatan dev`: one command to a working exchange. Makes (or reuses) one folder:
//!
//! ```text
//! jembatan.toml, jembatan.db
//! pki/ca.pem pki/ca-key.pem pki/server.pem pki/server-key.pem
//! pki/kemendag.pem pki/kp2mi.pem pki/auditor.pem (and their -key.pem)
//! pki/crl.pem pki/revoked.json (the CA's revocation list, signed anew at every start so that
//!   it never goes stale; `jembatan pki revoke --dir pki --name NAME` revokes)
//! audit/log.key (0600) audit/log.pub
//! audit/witness-kemendag.key (0600) audit/witness-kemendag.pub (and kp2mi's), registered in
//!   jembatan.toml's [audit.witnesses]
//! policies/ (the default policies of deploy/policies and their schema)
//! ```
//!
//! and serves it until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jembatan_audit::note::SignerKey;
use jembatan_pki::{SpiffeId, TrustDomain, pki_dir, revocation};
use jembatan_server::{Config, Exchange};

/// Trust domain of the dev exchange.
pub(crate) const TRUST_DOMAIN: &str = "dev.jembatan.local";

/// The dev identities: file name, and agency/system or auditor office.
const IDENTITIES: &[(&str, Who)] = &[
    ("kemendag", Who::Agency("kemendag", "export-portal")),
    ("kp2mi", Who::Agency("kp2mi", "siskop2mi")),
    ("auditor", Who::Auditor("inspectorate")),
];

/// The agencies whose witness keys the dev exchange makes and registers.
pub(crate) const WITNESS_AGENCIES: &[&str] = &["kemendag", "kp2mi"];

enum Who {
    Agency(&'static str, &'static str),
    Auditor(&'static str),
}

/// Arguments of `jembatan dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// The dev exchange's folder; made if missing, reused if present.
    #[arg(long, default_value = ".jembatan")]
    dir: PathBuf,
    /// Address to serve on [default: the config's, 127.0.0.1:7443 when new].
    #[arg(long)]
    listen: Option<SocketAddr>,
}

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let created = prepare(&args.dir, args.listen)?;
    let config_path = args.dir.join("jembatan.toml");
    let mut config = Config::load(&config_path, std::env::vars())?;
    use_dev_crl(&mut config, &args.dir);
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let telemetry = jembatan_server::Telemetry::start(&config.telemetry)?;
    crate::logging::init(&config.log, telemetry.as_ref())?;
    let exchange = Exchange::bind(&config).await?;
    let policy_set = exchange.policy().current().hash().to_string();
    print_welcome(&args.dir, exchange.local_addr(), created, &policy_set);
    let served = exchange.serve(crate::serve::shutdown_signal()).await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Makes whatever of the folder is missing; returns whether anything was made.
fn prepare(dir: &Path, listen: Option<SocketAddr>) -> anyhow::Result<bool> {
    let mut created = false;
    let pki = dir.join("pki");
    let trust_domain = TrustDomain::new(TRUST_DOMAIN)?;
    let ca = if pki_dir::cert_path(&pki, pki_dir::CA).exists() {
        pki_dir::load_ca(&pki).context("dev CA")?
    } else {
        created = true;
        pki_dir::init(&pki, &trust_domain).context("dev CA")?
    };
    // Made anew at every start, valid for the longest next update allowed: a folder of an
    // older version gets one, one left for longer than its next update is fresh again, and a
    // dev exchange left running does not start refusing everyone after a week.
    revocation::sign(&pki, &ca, revocation::MAX_NEXT_UPDATE_DAYS)
        .context("dev CA's revocation list")?;
    for (name, who) in IDENTITIES {
        if pki_dir::cert_path(&pki, name).exists() {
            continue;
        }
        let id = match who {
            Who::Agency(agency, system) => SpiffeId::agency(ca.trust_domain(), agency, system)?,
            Who::Auditor(office) => SpiffeId::auditor(ca.trust_domain(), office)?,
        };
        pki_dir::issue(&pki, &ca, name, &id)?;
        created = true;
    }

    let audit = dir.join("audit");
    let log_key = audit.join("log.key");
    if !log_key.exists() {
        std::fs::create_dir_all(&audit).with_context(|| audit.display().to_string())?;
        write_key_pair(&log_key, &format!("jembatan.{}/audit", ca.trust_domain()))?;
        created = true;
    }

    for agency in WITNESS_AGENCIES {
        let key = audit.join(format!("witness-{agency}.key"));
        if key.exists() {
            continue;
        }
        write_key_pair(&key, &format!("{agency}.{}/witness", ca.trust_domain()))?;
        created = true;
    }

    let personal_data_key = dir.join("keys/personal-data.key");
    if !personal_data_key.exists() {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).with_context(|| keys.display().to_string())?;
        let text = jembatan_domain::pseudonym::PersonalDataKey::generate()?;
        pki_dir::write_new(&personal_data_key, text.as_bytes(), 0o600)?;
        created = true;
    }

    // The folder is the operator's once made: a policy removed from it stays removed.
    let policies = dir.join("policies");
    if !policies.exists() {
        jembatan_policy::schema::write_defaults(&policies)?;
        created = true;
    }

    let config = dir.join("jembatan.toml");
    if !config.exists() {
        let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7443)));
        let mut witnesses = String::new();
        for agency in WITNESS_AGENCIES {
            let public = audit.join(format!("witness-{agency}.pub"));
            let key =
                std::fs::read_to_string(&public).with_context(|| public.display().to_string())?;
            witnesses.push_str(&format!("{agency} = [\"{}\"]\n", key.trim()));
        }
        pki_dir::write_new(
            &config,
            dev_config(listen, ca.trust_domain(), &witnesses).as_bytes(),
            0o644,
        )?;
        created = true;
    }
    Ok(created)
}

/// Checks client certificates against the dev CA's CRL even when the config predates its
/// `tls.crls` entry.
fn use_dev_crl(config: &mut Config, dir: &Path) {
    let crl = revocation::crl_path(&dir.join("pki"));
    if config.tls.crls.is_empty() && crl.is_file() {
        config.tls.crls.push(crl);
    }
}

/// A new signed-note signer key named `name` at `key` (0600), and its verifier key beside it
/// with the extension `.pub`, replacing a stale one of a lost signer key.
fn write_key_pair(key: &Path, name: &str) -> anyhow::Result<()> {
    let signer = SignerKey::generate(name)?;
    pki_dir::write_new(key, format!("{}\n", signer.to_text()).as_bytes(), 0o600)?;
    let public = key.with_extension("pub");
    let _ = std::fs::remove_file(&public);
    pki_dir::write_new(
        &public,
        format!("{}\n", signer.verifier().to_text()).as_bytes(),
        0o644,
    )?;
    Ok(())
}

fn dev_config(listen: SocketAddr, trust_domain: &TrustDomain, witnesses: &str) -> String {
    format!(
        r#"# The dev exchange's config, made by `jembatan dev`. Paths are relative to this file.
# Every key is documented in deploy/jembatan.example.toml.

[server]
listen = "{listen}"
# The contract's schema for grpcurl and the like; off by default outside the dev exchange.
reflection = true

[tls]
cert = "pki/server.pem"
key = "pki/server-key.pem"
client_ca = "pki/ca.pem"
# `jembatan pki revoke --dir pki --name NAME` adds a certificate to it.
crls = ["pki/crl.pem"]

[identity]
trust_domain = "{trust_domain}"

[policy]
# Edit the files there: the exchange reloads them when they change (and on SIGHUP),
# refusing a folder that does not validate. `jembatan policy check --dir policies` first.
dir = "policies"

[audit.witnesses]
# Each agency's witness key (audit/witness-<agency>.key): `jembatan audit witness --dev
# --as <agency> --state F` cosigns checkpoints with it.
{witnesses}
[store]
url = "sqlite://jembatan.db"
"#
    )
}

fn print_welcome(dir: &Path, addr: SocketAddr, created: bool, policy_set: &str) {
    let d = dir.display();
    let dir_flag = if dir == Path::new(".jembatan") {
        String::new()
    } else {
        format!(" --dir {d}")
    };
    let server_flag = if addr == SocketAddr::from(([127, 0, 0, 1], 7443)) {
        String::new()
    } else {
        format!(" --server https://{addr}")
    };
    println!(
        "Jembatan dev exchange {} {d}/ and serving on https://{addr}
  trust domain  {TRUST_DOMAIN}
  identities    {d}/pki/kemendag.pem  spiffe://{TRUST_DOMAIN}/agency/kemendag/export-portal
                {d}/pki/kp2mi.pem     spiffe://{TRUST_DOMAIN}/agency/kp2mi/siskop2mi
                {d}/pki/auditor.pem   spiffe://{TRUST_DOMAIN}/auditor/inspectorate
  revoked       {d}/pki/crl.pem  (jembatan pki revoke --dir {d}/pki --name NAME)
  audit key     {d}/audit/log.pub
  personal data {d}/keys/personal-data.key (NIKs are kept only as keyed hashes under it)
  witnesses     {d}/audit/witness-kemendag.key, {d}/audit/witness-kp2mi.key
  policies      {d}/policies/  {policy_set}
                what they allow: docs/policy-matrix.md

Try it from another terminal:
  jembatan health --dev{dir_flag}{server_flag} --details
  jembatan policy status --dev{dir_flag}{server_flag}
  jembatan demo seed --dev{dir_flag}{server_flag} --records 10000
  jembatan workforce availability --dev{dir_flag}{server_flag} --group-by province
  jembatan workforce candidates --dev{dir_flag}{server_flag} --returning-within 60
  jembatan audit checkpoint --dev{dir_flag}{server_flag}
  jembatan audit witness --dev{dir_flag}{server_flag} --state {d}/kemendag-witness.json
  jembatan console --dev{dir_flag}{server_flag}   (the auditors' web page; open what it prints)
  jembatan policy explain --dir {d}/policies --principal kemendag/export-portal \\
    --action ListCandidates --purpose BUSINESS_MATCHING
  (from a checkout: cargo run --release -p jembatan-cli -- health --dev{dir_flag}{server_flag})

Stop with Ctrl-C.",
        if created { "made in" } else { "reused from" },
    );
}

#[cfg(test)]
mod tests {
    use jembatan_pki::private_file::require_private;

    use super::*;

    fn load(dir: &Path) -> Config {
        Config::load(&dir.join("jembatan.toml"), std::iter::empty()).expect("config")
    }

    #[test]
    fn a_new_folder_checks_the_crl_and_writes_every_key_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(prepare(dir.path(), None).expect("prepare"));
        let config = load(dir.path());
        let crl = dir.path().join("pki/crl.pem");
        assert_eq!(config.tls.crls, vec![crl.clone()]);
        assert!(crl.is_file());
        for key in [
            "pki/ca-key.pem",
            "pki/server-key.pem",
            "pki/kemendag-key.pem",
            "pki/kp2mi-key.pem",
            "pki/auditor-key.pem",
            "audit/log.key",
            "audit/witness-kemendag.key",
            "audit/witness-kp2mi.key",
            "keys/personal-data.key",
            "pki/revoked.json",
        ] {
            require_private(&dir.path().join(key)).expect(key);
        }
    }

    #[test]
    fn an_older_folder_gets_a_crl_and_uses_it_without_a_crls_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        prepare(dir.path(), None).expect("prepare");
        // As an older version left it: no CRL, and a config without `crls`.
        let pki = dir.path().join("pki");
        std::fs::remove_file(revocation::crl_path(&pki)).expect("remove crl");
        std::fs::remove_file(revocation::revoked_path(&pki)).expect("remove record");
        let config_path = dir.path().join("jembatan.toml");
        let text = std::fs::read_to_string(&config_path).expect("config");
        let older: String = text
            .lines()
            .filter(|line| !line.starts_with("crls"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_ne!(older, text, "the config had no crls entry to remove");
        std::fs::write(&config_path, older).expect("write config");

        assert!(!prepare(dir.path(), None).expect("prepare again"), "remade");
        let crl = revocation::crl_path(&pki);
        assert!(crl.is_file(), "no CRL made for an older folder");
        let mut config = load(dir.path());
        assert!(config.tls.crls.is_empty());
        use_dev_crl(&mut config, dir.path());
        assert_eq!(config.tls.crls, vec![crl]);
    }
}
