//! `jembatan workforce candidates`: consented workers, under pseudonyms, page by page.

use std::process::ExitCode;

use jembatan_client::ClientError;
use jembatan_client::convert::{ShortCode, date};
use jembatan_client::v1::workforce_service_client::WorkforceServiceClient;
use jembatan_client::v1::{self, ListCandidatesRequest};
use jembatan_domain::{LegalBasis, Purpose};
use serde_json::{Value, json};

use super::FilterArgs;
use crate::connection::ConnectionArgs;
use crate::table::{Table, truncate};
use crate::value_parsers::parse_code;

/// Characters of a pseudonym shown in the table.
const PSEUDONYM_SHOWN: usize = 12;

/// Arguments of `jembatan workforce candidates`.
#[derive(Debug, clap::Args)]
pub(crate) struct CandidatesArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Candidates per page, 1 to 1000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Continue from this page token (printed after a page).
    #[arg(long, value_name = "TOKEN")]
    page_token: Option<String>,
    /// Follow the pages to the last one.
    #[arg(long)]
    all: bool,
    /// The purpose stated with the call.
    #[arg(long, default_value = "BUSINESS_MATCHING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with the call.
    #[arg(long, default_value = "CONSENT", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
    /// JSON Lines, one line per page: its candidates (full pseudonyms, with their receipts)
    /// and the next page's token.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: CandidatesArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.connect("kemendag").await?;
    let stated = args.acting.stated(args.purpose, args.legal_basis);
    let mut service = WorkforceServiceClient::new(client.channel());
    let mut request = ListCandidatesRequest {
        filter: Some(args.filter.request_filter()),
        page_size: args.page_size,
        page_token: args.page_token.clone().unwrap_or_default(),
    };
    let mut candidates: Vec<v1::Candidate> = Vec::new();
    let next_token = loop {
        let page = service
            .list_candidates(stated.request(request.clone())?)
            .await
            .map_err(ClientError::from)?
            .into_inner();
        if args.json {
            println!("{}", page_json(&page));
        } else {
            candidates.extend(page.candidates);
        }
        if !args.all || page.next_page_token.is_empty() {
            break page.next_page_token;
        }
        request.page_token = page.next_page_token;
    };
    if !args.json {
        candidates_table(&candidates).print_listing(candidates.len(), "candidate", &next_token);
    }
    Ok(ExitCode::SUCCESS)
}

/// A candidate's return date with its kind, e.g. `2026-12-01 (expected)`.
fn return_text(candidate: &v1::Candidate) -> String {
    let Some(day) = &candidate.return_date else {
        return String::new();
    };
    let kind = match candidate.return_date_kind() {
        v1::ReturnDateKind::Expected => " (expected)",
        v1::ReturnDateKind::Actual => " (actual)",
        v1::ReturnDateKind::Unspecified => "",
    };
    format!("{}{kind}", date::proto_text(day))
}

fn code<E: ShortCode>(number: i32) -> String {
    E::code_of(number).unwrap_or_default()
}

fn candidates_table(candidates: &[v1::Candidate]) -> Table {
    let personal = candidates
        .iter()
        .any(|c| !c.full_name.is_empty() || c.contact.is_some());
    let mut headers = vec![
        "PSEUDONYM",
        "SEX",
        "BORN",
        "REGENCY",
        "OCCUPATION",
        "JOB TITLE",
        "COUNTRIES",
        "STATUS",
        "RETURN",
        "LANGUAGES",
    ];
    if personal {
        headers.extend(["NAME", "CONTACT"]);
    }
    let mut table = Table::new(headers);
    for c in candidates {
        let mut row = vec![
            c.pseudonym.chars().take(PSEUDONYM_SHOWN).collect(),
            code::<v1::Sex>(c.sex),
            if c.birth_year == 0 {
                String::new()
            } else {
                c.birth_year.to_string()
            },
            c.origin_regency_code.clone(),
            c.occupation_code.clone(),
            truncate(&c.job_title, 28),
            c.destination_countries.join(","),
            code::<v1::PlacementStatus>(c.status),
            return_text(c),
            c.languages.join(","),
        ];
        if personal {
            row.push(c.full_name.clone());
            row.push(
                c.contact
                    .as_ref()
                    .map(|contact| {
                        [contact.phone.as_str(), contact.email.as_str()]
                            .into_iter()
                            .filter(|part| !part.is_empty())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default(),
            );
        }
        table.row(row);
    }
    table
}

/// One page as JSON: candidates with their receipts, and the next page's token.
fn page_json(page: &v1::ListCandidatesResponse) -> Value {
    let candidates: Vec<Value> = page
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| candidate_json(c, page.receipts.get(i)))
        .collect();
    json!({"candidates": candidates, "next_page_token": page.next_page_token})
}

fn candidate_json(c: &v1::Candidate, receipt: Option<&v1::Receipt>) -> Value {
    let certificates: Vec<Value> = c
        .certificates
        .iter()
        .map(|cert| {
            json!({
                "scheme_code": cert.scheme_code,
                "scheme_name": cert.scheme_name,
                "kkni_level": (cert.kkni_level != 0).then_some(cert.kkni_level),
                "lsp_id": cert.lsp_id,
                "issued_on": cert.issued_on.as_ref().map(date::proto_text),
                "expires_on": cert.expires_on.as_ref().map(date::proto_text),
            })
        })
        .collect();
    json!({
        "pseudonym": c.pseudonym,
        "sex": v1::Sex::code_of(c.sex),
        "birth_year": (c.birth_year != 0).then_some(c.birth_year),
        "origin_regency_code": c.origin_regency_code,
        "education": v1::Education::code_of(c.education),
        "occupation_code": c.occupation_code,
        "job_title": c.job_title,
        "certificates": certificates,
        "languages": c.languages,
        "destination_countries": c.destination_countries,
        "status": v1::PlacementStatus::code_of(c.status),
        "return_date": c.return_date.as_ref().map(date::proto_text),
        "return_date_kind": v1::ReturnDateKind::code_of(c.return_date_kind),
        "business_interest": c.business_interest.as_ref().map(|b| json!({
            "wants_to_export": b.wants_to_export,
            "hs_chapters": b.hs_chapters,
        })),
        "full_name": (!c.full_name.is_empty()).then_some(&c.full_name),
        "contact": c.contact.as_ref().map(|contact| json!({
            "phone": contact.phone,
            "email": contact.email,
        })),
        "receipt": crate::receipt::json(receipt),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str) -> v1::Candidate {
        v1::Candidate {
            pseudonym: "k7Qx2mPz9LwR4tYb8NcV".to_owned(),
            sex: v1::Sex::Female as i32,
            birth_year: 1994,
            origin_regency_code: "35.07".to_owned(),
            education: v1::Education::SeniorSecondary as i32,
            occupation_code: "5322".to_owned(),
            job_title: "Caregiver".to_owned(),
            destination_countries: vec!["TW".to_owned()],
            status: v1::PlacementStatus::Returned as i32,
            return_date: Some(v1::Date {
                year: 2026,
                month: 12,
                day: 1,
            }),
            return_date_kind: v1::ReturnDateKind::Actual as i32,
            languages: vec!["id".to_owned(), "zh".to_owned()],
            full_name: name.to_owned(),
            contact: (!name.is_empty()).then(|| v1::Contact {
                phone: "+6281234567890".to_owned(),
                email: String::new(),
            }),
            ..v1::Candidate::default()
        }
    }

    #[test]
    fn the_table_shortens_pseudonyms_and_shows_contact_only_when_given() {
        let lines = candidates_table(&[candidate("")]).lines();
        assert!(lines[0].starts_with("PSEUDONYM  "), "{}", lines[0]);
        assert!(!lines[0].contains("CONTACT"), "{}", lines[0]);
        assert!(lines[1].starts_with("k7Qx2mPz9LwR  "), "{}", lines[1]);
        assert!(lines[1].contains("2026-12-01 (actual)"), "{}", lines[1]);
        assert!(lines[1].contains("RETURNED"), "{}", lines[1]);
        let lines = candidates_table(&[candidate("Siti Aminah")]).lines();
        assert!(lines[0].ends_with("NAME         CONTACT"), "{}", lines[0]);
        assert!(
            lines[1].ends_with("Siti Aminah  +6281234567890"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn json_keeps_the_full_pseudonym_and_the_receipt() {
        let page = v1::ListCandidatesResponse {
            candidates: vec![candidate("")],
            next_page_token: "next".to_owned(),
            receipts: vec![v1::Receipt {
                leaf_index: 7,
                leaf_hash: vec![1; 32],
            }],
        };
        let json = page_json(&page);
        assert_eq!(json["candidates"][0]["pseudonym"], "k7Qx2mPz9LwR4tYb8NcV");
        assert_eq!(json["candidates"][0]["sex"], "FEMALE");
        assert_eq!(json["candidates"][0]["return_date"], "2026-12-01");
        assert_eq!(json["candidates"][0]["receipt"]["leaf_index"], 7);
        assert_eq!(json["candidates"][0]["full_name"], Value::Null);
        assert_eq!(json["next_page_token"], "next");
    }
}
