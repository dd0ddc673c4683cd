//! `jembatan pki`: a certificate authority and certificates for agencies and auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use jembatan_pki::{Reason, SignedCrl, SpiffeId, TrustDomain, pki_dir, revocation};

/// PKI commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PkiCommand {
    /// Create an ECDSA P-256 CA and a server certificate (localhost, 127.0.0.1, ::1).
    Init {
        /// Folder to write ca.pem, ca-key.pem, server.pem, server-key.pem into.
        #[arg(long)]
        dir: PathBuf,
        /// SPIFFE trust domain of the identities the CA will issue.
        #[arg(long)]
        trust_domain: String,
    },
    /// Issue a client certificate for an agency's system or an auditor's office.
    Issue(IssueArgs),
    /// Revoke a certificate of the folder and write its crl.pem anew, listing every certificate
    /// revoked so far.
    Revoke(RevokeArgs),
    /// Sign the folder's crl.pem anew with a fresh next update (run it from cron, well within
    /// the days given, so that the CRL never goes stale).
    Crl {
        /// The folder made by `jembatan pki init`.
        #[arg(long)]
        dir: PathBuf,
        /// Days until the CRL's next update.
        #[arg(long, default_value_t = revocation::DEFAULT_NEXT_UPDATE_DAYS, value_parser = next_update_days())]
        next_update_days: u32,
    },
}

/// Arguments of `jembatan pki revoke`.
#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    /// The folder made by `jembatan pki init`.
    #[arg(long)]
    dir: PathBuf,
    /// File name stem of the certificate, as `jembatan pki issue` wrote it: revokes NAME.pem.
    #[arg(long)]
    name: String,
    /// Why (RFC 5280): unspecified, key-compromise, ca-compromise, affiliation-changed,
    /// superseded, cessation-of-operation, privilege-withdrawn, aa-compromise.
    #[arg(long, default_value = "unspecified")]
    reason: Reason,
    /// Days until the CRL's next update.
    #[arg(long, default_value_t = revocation::DEFAULT_NEXT_UPDATE_DAYS, value_parser = next_update_days())]
    next_update_days: u32,
}

fn next_update_days() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=i64::from(revocation::MAX_NEXT_UPDATE_DAYS))
}

/// Arguments of `jembatan pki issue`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["agency", "auditor"])))]
pub(crate) struct IssueArgs {
    /// The folder made by `jembatan pki init`.
    #[arg(long)]
    dir: PathBuf,
    /// The agency, e.g. kemendag or kp2mi (needs --system).
    #[arg(long, requires = "system")]
    agency: Option<String>,
    /// The agency's system, e.g. export-portal.
    #[arg(long, requires = "agency")]
    system: Option<String>,
    /// The auditor's office, e.g. inspectorate.
    #[arg(long, conflicts_with_all = ["agency", "system"])]
    auditor: Option<String>,
    /// File name stem: writes NAME.pem and NAME-key.pem [default: AGENCY-SYSTEM or auditor-OFFICE].
    #[arg(long)]
    name: Option<String>,
}

pub(crate) fn run(command: PkiCommand) -> anyhow::Result<ExitCode> {
    match command {
        PkiCommand::Init { dir, trust_domain } => {
            let trust_domain = TrustDomain::new(&trust_domain)?;
            pki_dir::init(&dir, &trust_domain)?;
            println!(
                "created CA and server certificate for trust domain {trust_domain} in {}",
                dir.display()
            );
        }
        PkiCommand::Issue(args) => {
            let ca = pki_dir::load_ca(&args.dir)?;
            let (id, default_name) = match (&args.agency, &args.system, &args.auditor) {
                (Some(agency), Some(system), None) => (
                    SpiffeId::agency(ca.trust_domain(), agency, system)?,
                    format!("{agency}-{system}"),
                ),
                (None, None, Some(office)) => (
                    SpiffeId::auditor(ca.trust_domain(), office)?,
                    format!("auditor-{office}"),
                ),
                _ => anyhow::bail!("give --agency and --system, or --auditor"),
            };
            let name = args.name.unwrap_or(default_name);
            let path = pki_dir::issue(&args.dir, &ca, &name, &id)?;
            println!(
                "issued {id} to {} (key {})",
                path.display(),
                pki_dir::key_path(&args.dir, &name).display()
            );
        }
        PkiCommand::Revoke(args) => {
            let ca = pki_dir::load_ca(&args.dir)?;
            let (revoked, crl) = revocation::revoke(
                &args.dir,
                &ca,
                &args.name,
                args.reason,
                args.next_update_days,
            )?;
            println!(
                "revoked {} (serial {}, {}) at {}",
                pki_dir::cert_path(&args.dir, &revoked.name).display(),
                revoked.serial,
                revoked.reason,
                revoked.revoked_at
            );
            print_crl(&crl);
        }
        PkiCommand::Crl {
            dir,
            next_update_days,
        } => {
            let ca = pki_dir::load_ca(&dir)?;
            print_crl(&revocation::sign(&dir, &ca, next_update_days)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_crl(crl: &SignedCrl) {
    println!(
        "wrote {}: CRL number {}, {} revoked, next update {} (sign it again before then: \
         jembatan pki crl)",
        crl.path.display(),
        crl.number,
        crl.revoked.len(),
        crl.next_update.date()
    );
}
