//! `jembatan pki`: a certificate authority and certificates for agencies and auditors.

use std::path::PathBuf;
use std::process::ExitCode;

use jembatan_pki::{SpiffeId, TrustDomain, pki_dir};

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
    }
    Ok(ExitCode::SUCCESS)
}
