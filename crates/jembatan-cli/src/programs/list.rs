//! `jembatan programs list`: KP2MI finds programs for returning workers.

use std::process::ExitCode;

use jembatan_client::ClientError;
use jembatan_client::convert::{CodeError, ShortCode, date, thousands};
use jembatan_client::v1::program_service_client::ProgramServiceClient;
use jembatan_client::v1::{self, ListProgramsRequest};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_records::codes::Day;
use serde_json::{Value, json};

use crate::connection::ConnectionArgs;
use crate::table::{Table, truncate};
use crate::value_parsers::parse_code;

/// Characters of a name shown in the table.
const NAME_SHOWN: usize = 40;

/// Arguments of `jembatan programs list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Only programs running on this date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = Day::parse)]
    active_on: Option<Day>,
    /// Kind: DESA_BISA_EKSPOR, UMKM_BISA_EKSPOR, TRAINING, TRADE_MISSION or OTHER.
    #[arg(long = "kind", value_name = "KIND", value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<v1::ProgramKind>,
    /// Regency or city, Kemendagri code `PP.KK`, e.g. 35.07: its programs, its province's and
    /// nationwide ones.
    #[arg(long = "regency", value_name = "PP.KK", value_delimiter = ',')]
    regencies: Vec<String>,
    /// Programs per page, 1 to 1000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Continue from this page token (printed after a page).
    #[arg(long, value_name = "TOKEN")]
    page_token: Option<String>,
    /// Follow the pages to the last one.
    #[arg(long)]
    all: bool,
    /// The purpose stated with the call.
    #[arg(long, default_value = "CAPACITY_BUILDING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with the call.
    #[arg(long, default_value = "PUBLIC_TASK", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
    /// JSON Lines, one line per page: its programs (in the form of a programs file, each with
    /// its receipt) and the next page's token.
    #[arg(long)]
    json: bool,
}

fn parse_kind(code: &str) -> Result<v1::ProgramKind, CodeError> {
    v1::ProgramKind::parse_code(code)
}

pub(super) async fn run(args: ListArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kp2mi").await?;
    let stated = args.acting.stated(args.purpose, args.legal_basis);
    let mut service = ProgramServiceClient::new(client.channel());
    let mut request = ListProgramsRequest {
        active_on: args.active_on.map(Day::to_proto),
        kinds: args.kinds.iter().map(|k| *k as i32).collect(),
        regency_codes: args.regencies.clone(),
        page_size: args.page_size,
        page_token: args.page_token.clone().unwrap_or_default(),
    };
    let mut programs: Vec<v1::ExportProgram> = Vec::new();
    let next_token = loop {
        let page = service
            .list_programs(stated.request(request.clone())?)
            .await
            .map_err(ClientError::from)?
            .into_inner();
        if args.json {
            println!("{}", page_json(&page));
        } else {
            programs.extend(page.programs);
        }
        if !args.all || page.next_page_token.is_empty() {
            break page.next_page_token;
        }
        request.page_token = page.next_page_token;
    };
    if !args.json {
        programs_table(&programs).print_listing(programs.len(), "program", &next_token);
    }
    Ok(ExitCode::SUCCESS)
}

fn day_text(day: Option<&v1::Date>) -> String {
    day.map(date::proto_text).unwrap_or_default()
}

fn programs_table(programs: &[v1::ExportProgram]) -> Table {
    let mut table =
        Table::new(["PROGRAM", "KIND", "NAME", "FROM", "TO", "WHERE", "CAPACITY"]).align_right(6);
    for p in programs {
        table.row(vec![
            p.program_id.clone(),
            v1::ProgramKind::code_of(p.kind).unwrap_or_default(),
            truncate(&p.name, NAME_SHOWN),
            day_text(p.starts_on.as_ref()),
            day_text(p.ends_on.as_ref()),
            if p.regency_codes.is_empty() {
                "nationwide".to_owned()
            } else {
                p.regency_codes.join(",")
            },
            if p.capacity == 0 {
                "unlimited".to_owned()
            } else {
                thousands(u64::from(p.capacity))
            },
        ]);
    }
    table
}

/// One page as JSON: its programs with their receipts, and the next page's token.
fn page_json(page: &v1::ListProgramsResponse) -> Value {
    let programs: Vec<Value> = page
        .programs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "program_id": p.program_id,
                "version": p.version,
                "name": p.name,
                "kind": v1::ProgramKind::code_of(p.kind),
                "description": p.description,
                "organizer": p.organizer,
                "target_countries": p.target_countries,
                "hs_chapters": p.hs_chapters,
                "regency_codes": p.regency_codes,
                "starts_on": p.starts_on.as_ref().map(date::proto_text),
                "ends_on": p.ends_on.as_ref().map(date::proto_text),
                "capacity": p.capacity,
                "receipt": crate::receipt::json(page.receipts.get(i)),
            })
        })
        .collect();
    json!({"programs": programs, "next_page_token": page.next_page_token})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(regencies: &[&str], capacity: u32) -> v1::ExportProgram {
        v1::ExportProgram {
            program_id: "DBE-2026-JATIM".to_owned(),
            version: 1,
            name: "Desa BISA Ekspor Jawa Timur".to_owned(),
            kind: v1::ProgramKind::DesaBisaEkspor as i32,
            regency_codes: regencies.iter().map(|r| (*r).to_owned()).collect(),
            starts_on: Some(v1::Date {
                year: 2026,
                month: 5,
                day: 4,
            }),
            capacity,
            ..v1::ExportProgram::default()
        }
    }

    #[test]
    fn the_table_says_where_and_how_many() {
        let lines = programs_table(&[program(&[], 0), program(&["35", "52.02"], 1500)]).lines();
        assert_eq!(
            lines[0],
            "PROGRAM         KIND              NAME                         FROM        TO  WHERE        CAPACITY"
        );
        assert!(
            lines[1].ends_with("2026-05-04      nationwide  unlimited"),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with("35,52.02        1,500"), "{}", lines[2]);
        let json = page_json(&v1::ListProgramsResponse {
            programs: vec![program(&["35"], 0)],
            next_page_token: "t".to_owned(),
            receipts: vec![v1::Receipt {
                leaf_index: 4,
                leaf_hash: vec![3; 32],
            }],
        });
        assert_eq!(json["programs"][0]["receipt"]["leaf_index"], 4);
        assert_eq!(json["programs"][0]["kind"], "DESA_BISA_EKSPOR");
        assert_eq!(json["programs"][0]["starts_on"], "2026-05-04");
        assert_eq!(json["programs"][0]["ends_on"], Value::Null);
        assert_eq!(json["next_page_token"], "t");
    }
}
