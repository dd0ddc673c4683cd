//! `jembatan placements withdraw|erase|history`: KP2MI acting on one worker's request under UU
//! PDP (Articles 30, 43 and 32): withdraw consent, erase their personal data, or show who
//! received what about them.
//!
//! The worker is named by NIK. The exchange keeps only its keyed hash; the NIK is sent over
//! mutual TLS and never printed. Give `--nik -` to read it from standard input rather than
//! leave it in the shell's history.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use jembatan_client::convert::ShortCode;
use jembatan_client::v1::placement_service_client::PlacementServiceClient;
use jembatan_client::v1::{self, ErasePersonalDataRequest};
use jembatan_client::{ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_records::codes::Moment;
use serde_json::json;

use crate::connection::ConnectionArgs;
use crate::table::Table;
use crate::value_parsers::parse_code;

/// What every command here takes: the connection, the worker, and what the call states.
#[derive(Debug, clap::Args)]
pub(crate) struct SubjectArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The worker's NIK, 16 digits, or `-` to read it from standard input.
    #[arg(long, value_name = "NIK")]
    nik: String,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
    /// The legal basis stated with the call.
    #[arg(long, default_value = "LEGAL_OBLIGATION", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

impl SubjectArgs {
    /// The NIK given, read from standard input for `-`.
    fn nik(&self) -> anyhow::Result<String> {
        if self.nik != "-" {
            return Ok(self.nik.clone());
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the NIK from standard input")?;
        Ok(line.trim().to_owned())
    }

    fn stated(&self, purpose: Purpose) -> Stated {
        self.acting.stated(purpose, self.legal_basis)
    }
}

/// Arguments of `jembatan placements withdraw`.
#[derive(Debug, clap::Args)]
pub(crate) struct WithdrawArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    /// A purpose withdrawn, e.g. BUSINESS_MATCHING; repeat for several; none withdraws every
    /// purpose.
    #[arg(long = "purpose", value_name = "PURPOSE", value_parser = parse_code::<Purpose>)]
    purposes: Vec<Purpose>,
    /// When the worker withdrew consent, RFC 3339 [default: now].
    #[arg(long, value_parser = Moment::parse)]
    withdrawn_at: Option<Moment>,
}

/// Arguments of `jembatan placements erase`.
#[derive(Debug, clap::Args)]
pub(crate) struct EraseArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    /// KP2MI's reference of the worker's request, at most 128 characters.
    #[arg(long, default_value = "")]
    request_ref: String,
}

/// The contract's value of `purpose` (the domain's purposes are the contract's; a test of
/// jembatan-client holds it).
fn proto_purpose(purpose: Purpose) -> i32 {
    v1::Purpose::number_of_code(purpose.code()).unwrap_or(0)
}

pub(crate) async fn withdraw(args: WithdrawArgs) -> anyhow::Result<ExitCode> {
    let nik = args.subject.nik()?;
    let client = args.subject.connection.connect("kp2mi").await?;
    let request =
        args.subject
            .stated(Purpose::ProgramMonitoring)
            .request(v1::WithdrawConsentRequest {
                nik,
                purposes: args.purposes.iter().copied().map(proto_purpose).collect(),
                withdrawn_at: args.withdrawn_at.map(Moment::to_proto),
            })?;
    let answer = PlacementServiceClient::new(client.channel())
        .withdraw_consent(request)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    let remaining: Vec<String> = answer
        .remaining_purposes
        .iter()
        .filter_map(|p| v1::Purpose::code_of(*p))
        .collect();
    if args.subject.json {
        println!(
            "{}",
            json!({
                "placements_changed": answer.placements_changed,
                "remaining_purposes": remaining,
                "enrollments_erased": answer.enrollments_erased,
                "receipt": crate::receipt::json(answer.receipt.as_ref()),
            })
        );
    } else {
        println!(
            "consent changed on {} placement(s); still consented: {}",
            answer.placements_changed,
            if remaining.is_empty() {
                "nothing".to_owned()
            } else {
                remaining.join(", ")
            }
        );
        if answer.enrollments_erased > 0 {
            println!(
                "{} program enrolment(s) ended with the consent for capacity building",
                answer.enrollments_erased
            );
        }
        println!("{}", crate::receipt::line(answer.receipt.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn erase(args: EraseArgs) -> anyhow::Result<ExitCode> {
    let nik = args.subject.nik()?;
    let client = args.subject.connection.connect("kp2mi").await?;
    let request =
        args.subject
            .stated(Purpose::ProgramMonitoring)
            .request(ErasePersonalDataRequest {
                nik,
                request_ref: args.request_ref,
            })?;
    let answer = PlacementServiceClient::new(client.channel())
        .erase_personal_data(request)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    if args.subject.json {
        println!(
            "{}",
            json!({
                "placements_erased": answer.placements_erased,
                "enrollments_erased": answer.enrollments_erased,
                "receipt": crate::receipt::json(answer.receipt.as_ref()),
            })
        );
    } else {
        println!(
            "erased {} placement(s) and {} enrolment(s)",
            answer.placements_erased, answer.enrollments_erased
        );
        println!("{}", crate::receipt::line(answer.receipt.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn history(args: SubjectArgs) -> anyhow::Result<ExitCode> {
    let nik = args.nik()?;
    let client = args.connection.connect("kp2mi").await?;
    let (accesses, _) = client
        .audit(args.stated(Purpose::Audit))
        .subject_history(&nik, usize::MAX)
        .await?;
    let time = |access: &v1::SubjectAccess| {
        access
            .time
            .as_ref()
            .and_then(|t| Moment::from_proto(t).ok())
            .map(|m| m.to_string())
            .unwrap_or_default()
    };
    if args.json {
        for access in &accesses {
            println!(
                "{}",
                json!({
                    "time": time(access),
                    "principal": access.principal,
                    "method": access.method,
                    "purpose": v1::Purpose::code_of(access.purpose),
                    "legal_basis": v1::LegalBasis::code_of(access.legal_basis),
                    "data_classes": access.data_classes,
                    "leaf_index": access.leaf_index,
                })
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(["TIME", "WHO", "METHOD", "PURPOSE", "DATA", "LEAF"]).align_right(5);
    for access in &accesses {
        table.row(vec![
            time(access),
            access.principal.clone(),
            access
                .method
                .strip_prefix("/jembatan.v1.")
                .unwrap_or(&access.method)
                .to_owned(),
            v1::Purpose::code_of(access.purpose).unwrap_or_default(),
            access.data_classes.join(","),
            access.leaf_index.to_string(),
        ]);
    }
    table.print();
    println!(
        "{} processing(s) of this worker's data are logged",
        accesses.len()
    );
    Ok(ExitCode::SUCCESS)
}
