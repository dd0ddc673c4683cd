//! `jembatan programs outcomes`: Kemendag follows what its programs achieved, in protected
//! counts.

use std::process::ExitCode;

use jembatan_client::ClientError;
use jembatan_client::convert::thousands;
use jembatan_client::v1::program_service_client::ProgramServiceClient;
use jembatan_client::v1::{self, QueryProgramOutcomesRequest};
use jembatan_domain::region::province_name;
use jembatan_domain::{LegalBasis, Purpose};
use serde_json::{Value, json};

use crate::connection::ConnectionArgs;
use crate::table::Table;
use crate::value_parsers::parse_code;

/// What the table shows for a withheld count.
const WITHHELD: &str = "-";

/// Arguments of `jembatan programs outcomes`.
#[derive(Debug, clap::Args)]
pub(crate) struct OutcomesArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// A program's id; none for every program with enrolments.
    #[arg(long = "program", value_name = "ID", value_delimiter = ',')]
    programs: Vec<String>,
    /// Outcomes per program and province of origin of the workers.
    #[arg(long)]
    by_province: bool,
    /// The purpose stated with the call.
    #[arg(long, default_value = "PROGRAM_MONITORING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with the call.
    #[arg(long, default_value = "PUBLIC_TASK", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(args: OutcomesArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let stated = args.acting.stated(args.purpose, args.legal_basis);
    let request = stated.request(QueryProgramOutcomesRequest {
        program_ids: args.programs.clone(),
        by_origin_province: args.by_province,
    })?;
    let answer = ProgramServiceClient::new(client.channel())
        .query_program_outcomes(request)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    if args.json {
        println!("{}", answer_json(&answer));
    } else {
        for line in answer_lines(args.by_province, &answer) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A count, or `-` when withheld.
fn count_text(count: Option<u64>) -> String {
    count.map_or_else(|| WITHHELD.to_owned(), thousands)
}

/// The answer for people: one row per program (and province), then how counts are protected
/// and the receipt.
fn answer_lines(by_province: bool, answer: &v1::QueryProgramOutcomesResponse) -> Vec<String> {
    let mut lines = if answer.outcomes.is_empty() {
        vec!["no outcomes: no enrolments in these programs".to_owned()]
    } else {
        let mut headers = vec!["PROGRAM"];
        if by_province {
            headers.push("PROVINCE");
        }
        let first_count = headers.len();
        headers.extend([
            "ENROLLED",
            "COMPLETED",
            "DROPPED",
            "BUSINESSES",
            "EXPORT DEALS USD",
        ]);
        let mut table = Table::new(headers);
        for column in first_count..first_count + 5 {
            table = table.align_right(column);
        }
        for o in &answer.outcomes {
            let mut row = vec![o.program_id.clone()];
            if by_province {
                row.push(match province_name(&o.origin_province) {
                    Some(name) => format!("{} {name}", o.origin_province),
                    None => o.origin_province.clone(),
                });
            }
            row.extend([
                count_text(o.enrolled),
                count_text(o.completed),
                count_text(o.dropped),
                count_text(o.businesses_started),
                count_text(o.export_deals_usd),
            ]);
            table.row(row);
        }
        table.lines()
    };
    lines.push(format!(
        "counts under {} workers are withheld ({WITHHELD}); the others are perturbed",
        answer.suppression_threshold
    ));
    lines.push(
        "export deals are withheld with the enrolled count, and when one worker's deals are \
         more than half of the sum"
            .to_owned(),
    );
    lines.push(crate::receipt::line(answer.receipt.as_ref()));
    lines
}

/// The answer for machines: withheld counts are null.
fn answer_json(answer: &v1::QueryProgramOutcomesResponse) -> Value {
    let outcomes: Vec<Value> = answer
        .outcomes
        .iter()
        .map(|o| {
            let province = (!o.origin_province.is_empty()).then_some(&o.origin_province);
            json!({
                "program_id": o.program_id,
                "origin_province": province,
                "origin_province_name": province.and_then(|p| province_name(p)),
                "enrolled": o.enrolled,
                "completed": o.completed,
                "dropped": o.dropped,
                "businesses_started": o.businesses_started,
                "export_deals_usd": o.export_deals_usd,
                "suppressed": o.suppressed,
            })
        })
        .collect();
    json!({
        "outcomes": outcomes,
        "suppression_threshold": answer.suppression_threshold,
        "receipt": crate::receipt::json(answer.receipt.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> v1::QueryProgramOutcomesResponse {
        v1::QueryProgramOutcomesResponse {
            outcomes: vec![
                v1::ProgramOutcome {
                    program_id: "DBE-2026-JATIM".to_owned(),
                    enrolled: Some(1234),
                    completed: Some(40),
                    dropped: None,
                    businesses_started: Some(12),
                    export_deals_usd: Some(250_000),
                    suppressed: true,
                    origin_province: "35".to_owned(),
                },
                v1::ProgramOutcome {
                    program_id: "DBE-2026-JATIM".to_owned(),
                    suppressed: true,
                    origin_province: "52".to_owned(),
                    ..v1::ProgramOutcome::default()
                },
            ],
            suppression_threshold: 5,
            receipt: Some(v1::Receipt {
                leaf_index: 3,
                leaf_hash: vec![0; 32],
            }),
        }
    }

    #[test]
    fn withheld_counts_are_dashes_and_the_threshold_is_said() {
        let lines = answer_lines(true, &answer());
        assert_eq!(
            lines[..3],
            [
                "PROGRAM         PROVINCE                ENROLLED  COMPLETED  DROPPED  BUSINESSES  EXPORT DEALS USD",
                "DBE-2026-JATIM  35 Jawa Timur              1,234         40        -          12           250,000",
                "DBE-2026-JATIM  52 Nusa Tenggara Barat         -          -        -           -                 -",
            ]
        );
        assert_eq!(
            lines[3],
            "counts under 5 workers are withheld (-); the others are perturbed"
        );
        assert!(
            lines[4].starts_with("export deals are withheld"),
            "{}",
            lines[4]
        );
        assert!(
            lines[5].starts_with("receipt: audit leaf 3"),
            "{}",
            lines[5]
        );
        let lines = answer_lines(false, &v1::QueryProgramOutcomesResponse::default());
        assert_eq!(lines[0], "no outcomes: no enrolments in these programs");
    }

    #[test]
    fn json_has_nulls_for_withheld_counts() {
        let json = answer_json(&answer());
        assert_eq!(json["outcomes"][0]["origin_province_name"], "Jawa Timur");
        assert_eq!(json["outcomes"][0]["dropped"], Value::Null);
        assert_eq!(json["outcomes"][1]["enrolled"], Value::Null);
        assert_eq!(json["outcomes"][1]["suppressed"], true);
        assert_eq!(json["suppression_threshold"], 5);
        assert_eq!(json["receipt"]["leaf_index"], 3);
    }
}
