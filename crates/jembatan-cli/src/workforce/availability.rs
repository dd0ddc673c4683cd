//! `jembatan workforce availability`: grouped counts of workers, small cells suppressed.

use std::process::ExitCode;

use jembatan_client::ClientError;
use jembatan_client::convert::thousands;
use jembatan_client::v1::workforce_service_client::WorkforceServiceClient;
use jembatan_client::v1::{self, QueryAvailabilityRequest};
use jembatan_domain::{LegalBasis, Purpose};
use serde_json::{Map, Value, json};

use super::FilterArgs;
use crate::connection::ConnectionArgs;
use crate::table::Table;
use crate::value_parsers::parse_code;

/// A dimension to group counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GroupBy {
    /// Province of origin (2-digit code).
    Province,
    /// Regency or city of origin (`PP.KK`).
    Regency,
    /// Occupation (4-digit code).
    Occupation,
    /// Destination country (alpha-2).
    #[value(alias = "destination-country")]
    Country,
    /// Month of return (`YYYY-MM`).
    ReturnMonth,
    /// Sex.
    Sex,
}

impl GroupBy {
    fn to_proto(self) -> v1::GroupBy {
        match self {
            GroupBy::Province => v1::GroupBy::Province,
            GroupBy::Regency => v1::GroupBy::Regency,
            GroupBy::Occupation => v1::GroupBy::Occupation,
            GroupBy::Country => v1::GroupBy::DestinationCountry,
            GroupBy::ReturnMonth => v1::GroupBy::ReturnMonth,
            GroupBy::Sex => v1::GroupBy::Sex,
        }
    }

    /// The dimension's name in JSON and, upper-case, as a column header.
    fn name(self) -> &'static str {
        match self {
            GroupBy::Province => "province",
            GroupBy::Regency => "regency",
            GroupBy::Occupation => "occupation",
            GroupBy::Country => "country",
            GroupBy::ReturnMonth => "return_month",
            GroupBy::Sex => "sex",
        }
    }
}

/// Arguments of `jembatan workforce availability`.
#[derive(Debug, clap::Args)]
pub(crate) struct AvailabilityArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Dimensions to group by, at most three, comma-separated, e.g. province,occupation; none
    /// gives one total.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "DIMENSION")]
    group_by: Vec<GroupBy>,
    /// The purpose stated with the call.
    #[arg(long, default_value = "STATISTICS", value_parser = parse_code::<Purpose>)]
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

pub(crate) async fn run(args: AvailabilityArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let stated = args.acting.stated(args.purpose, args.legal_basis);
    let request = stated.request(QueryAvailabilityRequest {
        filter: Some(args.filter.request_filter()),
        group_by: args.group_by.iter().map(|g| g.to_proto() as i32).collect(),
    })?;
    let response = WorkforceServiceClient::new(client.channel())
        .query_availability(request)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    if args.json {
        println!("{}", answer_json(&args.group_by, &response));
    } else {
        for line in answer_lines(&args.group_by, &response) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn answer_json(group_by: &[GroupBy], response: &v1::QueryAvailabilityResponse) -> Value {
    let cells: Vec<Value> = response
        .cells
        .iter()
        .map(|cell| {
            let keys: Map<String, Value> = group_by
                .iter()
                .zip(&cell.keys)
                .map(|(g, key)| (g.name().to_owned(), Value::String(key.clone())))
                .collect();
            json!({"keys": keys, "count": cell.count, "suppressed": cell.suppressed})
        })
        .collect();
    json!({
        "group_by": group_by.iter().map(|g| g.name()).collect::<Vec<_>>(),
        "cells": cells,
        "total": response.total,
        "suppression_threshold": response.suppression_threshold,
        "receipt": crate::receipt::json(response.receipt.as_ref()),
    })
}

fn answer_lines(group_by: &[GroupBy], response: &v1::QueryAvailabilityResponse) -> Vec<String> {
    let count = |cell: &v1::AvailabilityCell| match cell.count {
        Some(count) if !cell.suppressed => thousands(count),
        _ => "suppressed".to_owned(),
    };
    let total = response.total.map_or("withheld".to_owned(), thousands);
    let mut lines = if group_by.is_empty() {
        // One cell, the total.
        vec![format!(
            "workers: {}",
            response.cells.first().map_or(total, count)
        )]
    } else {
        let headers = group_by
            .iter()
            .map(|g| g.name().replace('_', " ").to_uppercase())
            .chain(std::iter::once("WORKERS".to_owned()));
        let mut table = Table::new(headers).align_right(group_by.len());
        for cell in &response.cells {
            let mut row: Vec<String> = (0..group_by.len())
                .map(|i| cell.keys.get(i).cloned().unwrap_or_default())
                .collect();
            row.push(count(cell));
            table.row(row);
        }
        let mut last = vec![String::new(); group_by.len()];
        last[0] = "total".to_owned();
        last.push(total);
        table.row(last);
        table.lines()
    };
    lines.push(format!(
        "cells under {} workers are suppressed{}",
        response.suppression_threshold,
        if response.total.is_none() {
            "; the total is withheld as it would reveal one"
        } else {
            ""
        }
    ));
    lines.push(crate::receipt::line(response.receipt.as_ref()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(keys: &[&str], count: Option<u64>) -> v1::AvailabilityCell {
        v1::AvailabilityCell {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            count,
            suppressed: count.is_none(),
        }
    }

    #[test]
    fn a_grouped_answer_is_a_table_with_suppressed_cells_marked() {
        let response = v1::QueryAvailabilityResponse {
            cells: vec![
                cell(&["35", "5322"], Some(1234)),
                cell(&["52", "5322"], None),
            ],
            total: None,
            suppression_threshold: 5,
            receipt: Some(v1::Receipt {
                leaf_index: 42,
                leaf_hash: vec![0xab; 32],
            }),
        };
        let lines = answer_lines(&[GroupBy::Province, GroupBy::Occupation], &response);
        assert_eq!(lines[0], "PROVINCE  OCCUPATION     WORKERS");
        assert_eq!(lines[1], "35        5322             1,234");
        assert_eq!(lines[2], "52        5322        suppressed");
        assert_eq!(lines[3], "total                   withheld");
        assert!(
            lines[4].starts_with("cells under 5 workers"),
            "{}",
            lines[4]
        );
        assert!(
            lines[5].starts_with("receipt: audit leaf 42 "),
            "{}",
            lines[5]
        );
        let json = answer_json(&[GroupBy::Province, GroupBy::Occupation], &response);
        assert_eq!(json["cells"][0]["keys"]["province"], "35");
        assert_eq!(json["cells"][1]["suppressed"], true);
        assert_eq!(json["total"], Value::Null);
        assert_eq!(json["receipt"]["leaf_index"], 42);
    }

    #[test]
    fn an_ungrouped_answer_is_one_number() {
        let response = v1::QueryAvailabilityResponse {
            cells: vec![cell(&[], Some(297_434))],
            total: Some(297_434),
            suppression_threshold: 5,
            receipt: None,
        };
        let lines = answer_lines(&[], &response);
        assert_eq!(lines[0], "workers: 297,434");
    }
}
