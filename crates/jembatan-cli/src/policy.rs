//! `jembatan policy`: check a policy folder, explain one decision, ask the exchange which set is
//! in force.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::PrincipalKind;
use jembatan_policy::{DataClass, Engine, Policies, PolicyError, Query};
use time::OffsetDateTime;

use crate::connection::ConnectionArgs;
use crate::value_parsers::{parse_code, parse_time};

/// `jembatan policy …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy folder against the built-in schema; exit non-zero on any problem.
    Check {
        /// The policy folder.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Decide one request with a policy folder and print the deciding policies.
    Explain(ExplainArgs),
    /// Ask the exchange which policy set is in force, and whether a newer one was refused.
    Status(StatusArgs),
}

/// Arguments of `jembatan policy explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    /// The policy folder.
    #[arg(long)]
    dir: PathBuf,
    /// Who asks: AGENCY/SYSTEM (kemendag/export-portal), auditor/OFFICE, agency/AGENCY/SYSTEM,
    /// or a spiffe:// URI.
    #[arg(long)]
    principal: String,
    /// A method (ListCandidates, WorkforceService/ListCandidates) or a data class read
    /// (contact, read/contact).
    #[arg(long)]
    action: String,
    /// The stated purpose, e.g. BUSINESS_MATCHING.
    #[arg(long, value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The stated legal basis, e.g. CONSENT [default: every basis, one line each].
    #[arg(long, value_parser = parse_code::<LegalBasis>)]
    legal_basis: Option<LegalBasis>,
    /// When the request is made, RFC 3339 [default: now].
    #[arg(long, value_parser = parse_time)]
    time: Option<OffsetDateTime>,
}

/// Arguments of `jembatan policy status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
}

pub(crate) async fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir } => Ok(check(&dir)),
        PolicyCommand::Explain(args) => explain(&args),
        PolicyCommand::Status(args) => status(&args).await,
    }
}

fn check(dir: &std::path::Path) -> ExitCode {
    match Policies::load_dir(dir) {
        Ok(policies) => {
            for warning in policies.warnings() {
                println!("warning: {warning}");
            }
            let files: std::collections::BTreeSet<&str> = policies
                .origins()
                .values()
                .map(|o| o.file.as_str())
                .collect();
            println!(
                "ok: {} policies in {} files of {}, valid against the built-in schema\n\
                 policy set {}",
                policies.origins().len(),
                files.len(),
                dir.display(),
                policies.hash()
            );
            ExitCode::SUCCESS
        }
        Err(PolicyError::Invalid { dir, problems }) => {
            for problem in &problems {
                eprintln!("{}/{problem}", dir.display());
            }
            eprintln!(
                "jembatan: {} problem(s); the exchange would refuse this folder",
                problems.len()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("jembatan: {error}");
            ExitCode::FAILURE
        }
    }
}

fn explain(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let policies = Policies::load_dir(&args.dir)?;
    let principal = parse_principal(&args.principal)?;
    let action = resolve_action(&policies, &args.action)?;
    let hash = policies.hash().to_string();
    let origins = policies.origins().clone();
    let engine = Engine::new(policies)?;
    let time = args.time.unwrap_or_else(OffsetDateTime::now_utc);
    let entity = match &principal {
        PrincipalKind::Agency { agency, system } => {
            format!("Jembatan::System::\"{agency}/{system}\" in Jembatan::Agency::\"{agency}\"")
        }
        PrincipalKind::Auditor { office } => format!("Jembatan::Auditor::\"{office}\""),
    };
    println!("policy set   {hash} ({})", args.dir.display());
    println!("principal    {entity}");
    println!("action       {action}");
    println!("purpose      {}", args.purpose);
    println!();
    println!("{:<20} {:<8} deciding policies", "legal basis", "decision");
    let bases = match args.legal_basis {
        Some(basis) => vec![basis],
        None => LegalBasis::ALL.to_vec(),
    };
    for legal_basis in bases {
        let decision = engine.decide(&Query {
            principal: &principal,
            action: &action,
            purpose: args.purpose,
            legal_basis,
            time,
        })?;
        let verdict = if decision.allowed { "ALLOW" } else { "DENY" };
        let deciding = if decision.policy_ids.is_empty() {
            "none permits it (deny by default)".to_owned()
        } else {
            decision
                .policy_ids
                .iter()
                .map(|id| match origins.get(id) {
                    Some(origin) => format!("{id} ({}:{})", origin.file, origin.line),
                    None => id.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("{:<20} {verdict:<8} {deciding}", legal_basis.code());
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let status = client.policy_status().await?;
    let Some(policy_set) = status.policy_set else {
        anyhow::bail!("the exchange did not say which policy set is in force");
    };
    println!("policy set in force  {policy_set}");
    match status.refused {
        Some(refused) => {
            println!(
                "refused              {refused}: a newer policy folder failed validation; \
                 the server log names each problem, and `jembatan policy check` shows them"
            );
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `kemendag/export-portal`, `auditor/inspectorate`, `agency/kemendag/export-portal`, or a
/// `spiffe://` URI of any trust domain.
fn parse_principal(text: &str) -> anyhow::Result<PrincipalKind> {
    let path = match text.strip_prefix("spiffe://") {
        Some(rest) => rest.split_once('/').map_or("", |(_, path)| path),
        None => text,
    };
    let segments: Vec<&str> = path.split('/').collect();
    // Parsed as a SPIFFE ID of a stand-in trust domain, to apply the same name rules as the
    // identity layer; policies do not see trust domains.
    let trust_domain = jembatan_pki::TrustDomain::new("explain.local")?;
    let uri = match segments.as_slice() {
        ["agency", agency, system] => format!("spiffe://explain.local/agency/{agency}/{system}"),
        ["auditor", office] => format!("spiffe://explain.local/auditor/{office}"),
        [agency, system] => format!("spiffe://explain.local/agency/{agency}/{system}"),
        _ => anyhow::bail!(
            "principal {text:?}: expected AGENCY/SYSTEM, auditor/OFFICE, agency/AGENCY/SYSTEM \
             or a spiffe:// URI"
        ),
    };
    let id = jembatan_pki::SpiffeId::parse(&uri, &trust_domain)
        .with_context(|| format!("principal {text:?}"))?;
    Ok(id.kind().clone())
}

/// The schema action `text` names: exact, a unique method name, or a data class.
fn resolve_action(policies: &Policies, text: &str) -> anyhow::Result<String> {
    if policies.declares(text) {
        return Ok(text.to_owned());
    }
    if let Some(class) = DataClass::from_name(text) {
        return Ok(class.action().to_owned());
    }
    let suffix = format!("/{text}");
    let matches: Vec<&str> = policies
        .action_names()
        .into_iter()
        .filter(|name| name.ends_with(&suffix) && !name.starts_with("read/"))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).to_owned()),
        _ => anyhow::bail!(
            "action {text:?} is not declared; one of: {}",
            policies.action_names().join(", ")
        ),
    }
}
