//! `jembatan audit`: read, prove, verify, export and cosign the audit log.
//!
//! Commands that call the exchange state the purpose AUDIT (the only purpose the policies allow
//! on the AuditService) and a legal basis. Whatever they show from a checkpoint or a proof is
//! checked against the log's verifier key first. A log that does not verify exits with status 2,
//! so that scripts tell it from an error of the call (status 1).

mod entries;
mod offline;
mod proofs;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jembatan_audit::AuditError;
use jembatan_audit::note::VerifierKey;
use jembatan_client::audit::VerifiedCheckpoint;
use jembatan_client::{AuditClient, ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};

use crate::connection::ConnectionArgs;
use crate::value_parsers::parse_code;

/// Exit status of a log, checkpoint or proof that does not verify.
const NOT_VERIFIED: u8 = 2;

/// `jembatan audit …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// List log entries matching a filter, oldest first.
    List(entries::ListArgs),
    /// Show the last entries, and with --follow the new ones as they are logged.
    Tail(entries::TailArgs),
    /// Show one entry in full.
    Show(entries::ShowArgs),
    /// Show the latest checkpoint (or the one of --size), its signature checked, with its
    /// cosignatures.
    Checkpoint(proofs::CheckpointArgs),
    /// Prove that a leaf is in a checkpoint signed by the log: by index (auditors), or by index
    /// and leaf hash from a receipt (agencies).
    Prove(proofs::ProveArgs),
    /// Recompute the whole log and check it against its signed checkpoints: from the exchange's
    /// API, or offline from an export (--export).
    Verify(offline::VerifyArgs),
    /// Write the whole log (leaves, node hashes, checkpoints, cosignatures) from the exchange's
    /// database to a JSON Lines file, the format `audit verify --export` reads (documented in
    /// jembatan-audit's export module).
    Export(offline::ExportArgs),
    /// The agency side of cosigning: check that the latest checkpoint extends the last one this
    /// witness verified (kept in --state), then cosign it. Refuses a fork, rollback or rewrite
    /// loudly, signs nothing and exits 2.
    Witness(witness::WitnessArgs),
}

pub(crate) async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let result = match command {
        AuditCommand::List(args) => entries::list(args).await,
        AuditCommand::Tail(args) => entries::tail(args).await,
        AuditCommand::Show(args) => entries::show(args).await,
        AuditCommand::Checkpoint(args) => proofs::checkpoint(args).await,
        AuditCommand::Prove(args) => proofs::prove(args).await,
        AuditCommand::Verify(args) => offline::verify(args).await,
        AuditCommand::Export(args) => offline::export(args).await,
        AuditCommand::Witness(args) => witness::run(args).await,
    };
    match result {
        Err(error)
            if error
                .downcast_ref::<ClientError>()
                .is_some_and(ClientError::is_verification_failure) =>
        {
            eprintln!("jembatan: FAILED: {}", crate::describe(&error));
            Ok(ExitCode::from(NOT_VERIFIED))
        }
        other => other,
    }
}

/// How an audit command reaches the AuditService: the connection, and what the call states.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditCallArgs {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    /// The legal basis stated with the purpose AUDIT.
    #[arg(long, default_value = "LEGAL_OBLIGATION", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
    /// The log's verifier key, `<name>+<id>+<base64>`, or a file holding it [default with
    /// --dev: <dir>/audit/log.pub].
    #[arg(long)]
    log_key: Option<String>,
    /// A witness's verifier key (text or file) whose cosignature the checkpoint must carry;
    /// repeat for each witness required.
    #[arg(long = "witness", value_name = "KEY")]
    witnesses: Vec<String>,
}

impl AuditCallArgs {
    /// The AuditService as `default_identity` under `--dev`.
    pub(crate) async fn client(&self, default_identity: &str) -> anyhow::Result<AuditClient> {
        let client = self.connection.connect(default_identity).await?;
        Ok(client.audit(self.stated()))
    }

    /// What every call states: purpose AUDIT, the legal basis, case reference and operator.
    pub(crate) fn stated(&self) -> Stated {
        self.acting.stated(Purpose::Audit, self.legal_basis)
    }

    /// The log's verifier key: `--log-key`, or the dev exchange's.
    pub(crate) fn log_key(&self) -> anyhow::Result<VerifierKey> {
        match (&self.log_key, self.connection.dev_dir()) {
            (Some(key), _) => read_verifier_key(key),
            (None, Some(dir)) => read_verifier_key(&dir.join("audit/log.pub").to_string_lossy()),
            (None, None) => anyhow::bail!("give --log-key (the log's verifier key), or --dev"),
        }
    }
}

impl AuditCallArgs {
    /// The witnesses' verifier keys: `--witness`, or with `--dev` and none given, the dev
    /// exchange's (audit/witness-<agency>.pub).
    pub(crate) fn witness_keys(&self) -> anyhow::Result<Vec<VerifierKey>> {
        if self.witnesses.is_empty()
            && let Some(dir) = self.connection.dev_dir()
        {
            return crate::dev::WITNESS_AGENCIES
                .iter()
                .map(|agency| dir.join(format!("audit/witness-{agency}.pub")))
                .filter(|path| path.exists())
                .map(|path| read_verifier_key(&path.to_string_lossy()))
                .collect();
        }
        self.witnesses
            .iter()
            .map(|given| read_verifier_key(given))
            .collect()
    }

    /// Who the calls are made as, for people to read: the dev identity, or the certificate file.
    pub(crate) fn identity_label(&self, default_identity: &str) -> String {
        self.connection.identity_label(default_identity)
    }

    /// Fails, as a verification failure, unless every `--witness` cosigned `checkpoint`.
    pub(crate) fn require_cosignatures(
        &self,
        checkpoint: &VerifiedCheckpoint,
    ) -> anyhow::Result<()> {
        for given in &self.witnesses {
            let key = read_verifier_key(given)?;
            if !checkpoint.cosigned_by(&key) {
                return Err(ClientError::Proof(AuditError::NotCosigned {
                    witness: key.name().to_owned(),
                    size: checkpoint.checkpoint.size,
                })
                .into());
            }
        }
        Ok(())
    }
}

/// Prints the checkpoint's cosignatures: checked ones for `--witness` keys, the others as
/// listed by the exchange.
pub(crate) fn print_cosignatures(
    call: &AuditCallArgs,
    checkpoint: &VerifiedCheckpoint,
) -> anyhow::Result<()> {
    let checked: Vec<String> = call
        .witnesses
        .iter()
        .map(|given| read_verifier_key(given).map(|key| key.name().to_owned()))
        .collect::<Result<_, _>>()?;
    for cosignature in &checkpoint.message.cosignatures {
        let how = if checked.contains(&cosignature.witness_name) {
            "signature checked"
        } else {
            "not checked: give --witness KEY"
        };
        println!(
            "  cosigned by {} ({}), submitted by {} ({how})",
            cosignature.witness_name, cosignature.key_id, cosignature.principal
        );
    }
    Ok(())
}

/// A verifier key given as text (`<name>+<id>+<base64>`) or as a file holding it.
pub(crate) fn read_verifier_key(given: &str) -> anyhow::Result<VerifierKey> {
    let text = if given.contains('+') {
        given.to_owned()
    } else {
        std::fs::read_to_string(given).with_context(|| format!("verifier key file {given}"))?
    };
    VerifierKey::parse(text.trim()).with_context(|| format!("verifier key {given}"))
}

/// A file path with `--dev` defaulting: `given`, else `<dev dir>/<dev_default>`.
pub(crate) fn dev_path(
    given: Option<PathBuf>,
    connection: &ConnectionArgs,
    dev_default: String,
    flag: &str,
) -> anyhow::Result<PathBuf> {
    match (given, connection.dev_dir()) {
        (Some(path), _) => Ok(path),
        (None, Some(dir)) => Ok(dir.join(dev_default)),
        (None, None) => anyhow::bail!("give {flag}, or --dev"),
    }
}
