//! `jembatan workforce availability`: grouped counts of workers, perturbed, small counts left
//! out.

use std::process::ExitCode;

use jembatan_client::ClientError;
use jembatan_client::convert::thousands;
use jembatan_client::v1::workforce_service_client::WorkforceServiceClient;
use jembatan_client::v1::{self, QueryAvailabilityRequest};
use jembatan_domain::region::province_name;
use jembatan_domain::{Country, LegalBasis, Occupation, Purpose, Regency};
use serde_json::{Map, Value, json};

use super::FilterArgs;
use crate::connection::ConnectionArgs;
use crate::table::{Table, truncate};
use crate::value_parsers::parse_code;

/// Characters of a name shown beside its code in the table.
const NAME_SHOWN: usize = 40;

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

    /// The name of a key of this dimension, e.g. `Jawa Timur` for province `35`; `None` for a
    /// dimension without names or an unknown code.
    fn key_name(self, key: &str) -> Option<&'static str> {
        match self {
            GroupBy::Province => province_name(key),
            GroupBy::Regency => Regency::parse(key).ok().map(|r| r.name()),
            GroupBy::Occupation => Occupation::parse(key).ok().map(|o| o.title()),
            GroupBy::Country => Country::parse(key).ok().map(|c| c.name()),
            GroupBy::ReturnMonth | GroupBy::Sex => None,
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
    /// Answer only from counts that reflect at least this change: the audit leaf index of a
    /// push's or an erasure's receipt, to read one's own writes; 0 for any.
    #[arg(long, value_name = "N", default_value_t = 0)]
    min_change: u64,
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
        min_change: args.min_change,
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

/// The answer for machines: each cell's keys (codes) and their names by dimension, the counts,
/// and how they were protected.
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
            let names: Map<String, Value> = group_by
                .iter()
                .zip(&cell.keys)
                .map(|(g, key)| (g.name().to_owned(), json!(g.key_name(key))))
                .collect();
            json!({"keys": keys, "names": names, "count": cell.count})
        })
        .collect();
    json!({
        "group_by": group_by.iter().map(|g| g.name()).collect::<Vec<_>>(),
        "cells": cells,
        "total": response.total,
        "suppression_threshold": response.suppression_threshold,
        "minimum_workers": response.minimum_workers,
        "perturbation": response.perturbation.as_ref().map(|p| json!({
            "table": p.table,
            "max_noise": p.max_noise,
            "variance": p.variance,
        })),
        "change": response.change,
        "receipt": crate::receipt::json(response.receipt.as_ref()),
    })
}

/// A cell's key as the table shows it: the code, and its name when it has one.
fn key_text(group: GroupBy, key: &str) -> String {
    match group.key_name(key) {
        Some(name) => format!("{key} {}", truncate(name, NAME_SHOWN)),
        None => key.to_owned(),
    }
}

/// The answer for people: the counts, then how they were protected, the change they reflect
/// and the receipt.
fn answer_lines(group_by: &[GroupBy], response: &v1::QueryAvailabilityResponse) -> Vec<String> {
    let threshold = response.suppression_threshold;
    let total = response
        .total
        .map_or_else(|| format!("under {threshold}"), thousands);
    let mut lines = if response.cells.is_empty() && response.total.is_none() {
        vec![format!(
            "no counts: the filter matches fewer than {} workers (perturbed), the minimum for \
             any count to be shown",
            response.minimum_workers.max(threshold)
        )]
    } else if group_by.is_empty() {
        // One cell, the total.
        vec![format!(
            "workers: {}",
            response
                .cells
                .first()
                .map_or(total, |cell| thousands(cell.count))
        )]
    } else {
        let headers = group_by
            .iter()
            .map(|g| g.name().replace('_', " ").to_uppercase())
            .chain(std::iter::once("WORKERS".to_owned()));
        let mut table = Table::new(headers).align_right(group_by.len());
        for cell in &response.cells {
            let mut row: Vec<String> = group_by
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    cell.keys
                        .get(i)
                        .map_or_else(String::new, |k| key_text(*g, k))
                })
                .collect();
            row.push(thousands(cell.count));
            table.row(row);
        }
        let mut last = vec![String::new(); group_by.len()];
        last[0] = "total".to_owned();
        last.push(total);
        table.row(last);
        table.lines()
    };
    lines.push(match &response.perturbation {
        Some(p) => format!(
            "counts are perturbed by up to ±{} (table {}, variance {}); the same workers always \
             get the same count",
            p.max_noise, p.table, p.variance
        ),
        None => "counts are perturbed (the exchange did not say how)".to_owned(),
    });
    lines.push(format!(
        "cells under {threshold} workers are left out: a missing cell may have no workers or a few"
    ));
    lines.push(format!(
        "counts reflect changes up to audit leaf {}",
        response.change
    ));
    lines.push(crate::receipt::line(response.receipt.as_ref()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(keys: &[&str], count: u64) -> v1::AvailabilityCell {
        v1::AvailabilityCell {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            count,
        }
    }

    fn response(
        cells: Vec<v1::AvailabilityCell>,
        total: Option<u64>,
    ) -> v1::QueryAvailabilityResponse {
        v1::QueryAvailabilityResponse {
            cells,
            total,
            suppression_threshold: 5,
            receipt: Some(v1::Receipt {
                leaf_index: 42,
                leaf_hash: vec![0xab; 32],
            }),
            change: 41,
            perturbation: Some(v1::Perturbation {
                table: "jembatan-ptable-v1".to_owned(),
                max_noise: 3,
                variance: 1.5,
            }),
            minimum_workers: 20,
        }
    }

    #[test]
    fn a_grouped_answer_is_a_table_with_names_beside_codes() {
        let group_by = [GroupBy::Province, GroupBy::Occupation, GroupBy::Country];
        let answer = response(
            vec![
                cell(&["35", "5322", "HK"], 1234),
                cell(&["52", "9999", "TW"], 7),
            ],
            Some(1250),
        );
        let lines = answer_lines(&group_by, &answer);
        assert_eq!(
            lines[..4],
            [
                "PROVINCE                OCCUPATION                             COUNTRY                       WORKERS",
                "35 Jawa Timur           5322 Home-based personal care workers  HK Hong Kong                    1,234",
                "52 Nusa Tenggara Barat  9999                                   TW Taiwan, Province of China        7",
                "total                                                                                          1,250",
            ]
        );
        assert_eq!(
            lines[4..],
            [
                "counts are perturbed by up to ±3 (table jembatan-ptable-v1, variance 1.5); the same \
                 workers always get the same count",
                "cells under 5 workers are left out: a missing cell may have no workers or a few",
                "counts reflect changes up to audit leaf 41",
                &crate::receipt::line(answer.receipt.as_ref()),
            ]
        );
        let lines = answer_lines(
            &[GroupBy::Regency],
            &response(vec![cell(&["35.07"], 9)], None),
        );
        assert_eq!(lines[1], "35.07 Kabupaten Malang        9");
        assert_eq!(lines[2], "total                   under 5");
    }

    #[test]
    fn an_ungrouped_answer_is_one_number() {
        let lines = answer_lines(&[], &response(vec![cell(&[], 297_434)], Some(297_434)));
        assert_eq!(lines[0], "workers: 297,434");
        assert!(
            lines[1].starts_with("counts are perturbed by up to ±3"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn an_answer_under_the_minimum_says_so() {
        let lines = answer_lines(&[GroupBy::Province], &response(Vec::new(), None));
        assert_eq!(
            lines[0],
            "no counts: the filter matches fewer than 20 workers (perturbed), the minimum for any \
             count to be shown"
        );
        assert_eq!(lines.len(), 5, "{lines:?}");
        let lines = answer_lines(&[], &response(Vec::new(), None));
        assert!(lines[0].starts_with("no counts: "), "{}", lines[0]);
    }

    #[test]
    fn json_keeps_codes_as_keys_and_adds_names_and_the_protection() {
        let group_by = [GroupBy::Province, GroupBy::ReturnMonth];
        let json = answer_json(
            &group_by,
            &response(
                vec![cell(&["35", "2026-12"], 1234), cell(&["99", "2027-01"], 6)],
                None,
            ),
        );
        assert_eq!(
            json["cells"][0],
            json!({
                "keys": {"province": "35", "return_month": "2026-12"},
                "names": {"province": "Jawa Timur", "return_month": null},
                "count": 1234,
            })
        );
        assert_eq!(json["cells"][1]["names"]["province"], Value::Null);
        assert_eq!(json["total"], Value::Null);
        assert_eq!(json["suppression_threshold"], 5);
        assert_eq!(json["minimum_workers"], 20);
        assert_eq!(
            json["perturbation"],
            json!({"table": "jembatan-ptable-v1", "max_noise": 3, "variance": 1.5})
        );
        assert_eq!(json["change"], 41);
        assert_eq!(json["receipt"]["leaf_index"], 42);
        assert_eq!(json["group_by"], json!(["province", "return_month"]));
    }
}
