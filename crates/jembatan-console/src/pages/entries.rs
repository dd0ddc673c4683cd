//! `/entries`: the log's entries with the filters of `jembatan audit list`, a page at a time,
//! and `/entries/{index}`: one entry with its inclusion proof checked.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_audit::merkle::Hash;
use jembatan_client::ClientError;
use jembatan_client::audit::checked_entry;
use jembatan_client::v1::{self, AuditEntry, ListEntriesRequest};
use jembatan_domain::Purpose;
use jembatan_proto::convert::ShortCode;
use serde::Deserialize;
use time::Duration;

use super::{parse_day, start_of};
use crate::AppState;
use crate::html::{self, Nav, escape, url_encode};
use crate::i18n::Lang;

/// Entries per page on screen.
const PAGE_SIZE: u32 = 50;
/// The most entries one CSV export holds.
const CSV_MAX: usize = 10_000;

/// The filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    principal: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    record_type: String,
    #[serde(default)]
    page: String,
}

impl Filters {
    /// The request for the exchange, or what is wrong with the form (shown to the user).
    fn request(&self, lang: Lang, page_size: u32) -> Result<ListEntriesRequest, String> {
        let t = lang.text();
        let day = |text: &str, after: i64| -> Result<Option<prost_types::Timestamp>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            parse_day(text)
                .map(|d| Some(start_of(d + Duration::days(after))))
                .ok_or_else(|| t.bad_date.to_owned())
        };
        let purpose = if self.purpose.is_empty() {
            0
        } else {
            v1::Purpose::number_of_code(&self.purpose).map_err(|e| e.to_string())?
        };
        let decision = match self.decision.as_str() {
            "" => v1::Decision::Unspecified,
            "allow" => v1::Decision::Allow,
            "deny" => v1::Decision::Deny,
            other => return Err(format!("decision {other:?}: allow or deny")),
        };
        Ok(ListEntriesRequest {
            from_time: day(&self.from, 0)?,
            to_time: day(&self.to, 1)?,
            principal: self.principal.trim().to_owned(),
            agency: self.agency.trim().to_owned(),
            method: self.method.trim().to_owned(),
            purpose,
            decision: decision as i32,
            record_type: self.record_type.trim().to_owned(),
            page_size,
            page_token: self.page.clone(),
            from_index: 0,
        })
    }

    /// The filters as a query string, without the page.
    fn query(&self) -> String {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("agency", &self.agency),
            ("principal", &self.principal),
            ("method", &self.method),
            ("purpose", &self.purpose),
            ("decision", &self.decision),
            ("record_type", &self.record_type),
        ]
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", url_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
    }

    fn form(&self, lang: Lang) -> String {
        let t = lang.text();
        let input = |label: &str, name: &str, kind: &str, value: &str| {
            format!(
                "<label>{}<input type=\"{kind}\" name=\"{name}\" value=\"{}\"></label>",
                escape(label),
                escape(value)
            )
        };
        let mut purposes = format!("<option value=\"\">{}</option>", escape(t.any));
        for purpose in Purpose::ALL {
            let selected = if purpose.code() == self.purpose {
                " selected"
            } else {
                ""
            };
            purposes.push_str(&format!(
                "<option value=\"{code}\"{selected}>{code}</option>",
                code = purpose.code()
            ));
        }
        let mut decisions = String::new();
        for (value, label) in [("", t.any), ("allow", t.allowed), ("deny", t.refused)] {
            let selected = if value == self.decision {
                " selected"
            } else {
                ""
            };
            decisions.push_str(&format!(
                "<option value=\"{value}\"{selected}>{}</option>",
                escape(label)
            ));
        }
        format!(
            "<form id=\"entry-filters\" class=\"filters\" method=\"get\" action=\"entries\">\
             {from}{to}{agency}{principal}{method}\
             <label>{purpose_label}<select name=\"purpose\">{purposes}</select></label>\
             <label>{decision_label}<select name=\"decision\">{decisions}</select></label>\
             {record_type}<button type=\"submit\">{filter}</button></form>",
            from = input(t.from, "from", "date", &self.from),
            to = input(t.to, "to", "date", &self.to),
            agency = input(t.agency, "agency", "text", &self.agency),
            principal = input(t.principal, "principal", "text", &self.principal),
            method = input(t.method, "method", "text", &self.method),
            purpose_label = escape(t.purpose),
            decision_label = escape(t.decision),
            record_type = input(t.record_type, "record_type", "text", &self.record_type),
            filter = escape(t.filter),
        )
    }
}

/// `GET /entries`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = lang.text();
    let mut body = filters.form(lang);
    match filters.request(lang, PAGE_SIZE) {
        Err(message) => body.push_str(&html::error(&message)),
        Ok(request) => match state.client().list(request).await {
            Err(error) => body.push_str(&html::exchange_error(lang, &error)),
            Ok(page) => {
                let query = filters.query();
                body.push_str(&format!(
                    "<p><a id=\"export-csv\" href=\"entries.csv?{}\">{}</a></p>",
                    escape(&query),
                    escape(t.export_csv)
                ));
                match checked(&page.entries) {
                    Ok(entries) => body.push_str(&entries_table(lang, &entries)),
                    Err(error) => body.push_str(&format!(
                        "<p id=\"proof\" class=\"status failed\" role=\"alert\">{}</p>",
                        escape(&t.failed.replace("{reason}", &error.to_string()))
                    )),
                }
                body.push_str("<p class=\"pager\">");
                if !filters.page.is_empty() {
                    body.push_str(&format!(
                        "<a id=\"first-page\" href=\"entries?{}\">{}</a>",
                        escape(&query),
                        escape(t.first_page)
                    ));
                }
                if !page.next_page_token.is_empty() {
                    let separator = if query.is_empty() { "" } else { "&" };
                    body.push_str(&format!(
                        "<a id=\"next-page\" href=\"entries?{}\">{}</a>",
                        escape(&format!(
                            "{query}{separator}page={}",
                            url_encode(&page.next_page_token)
                        )),
                        escape(t.next_page)
                    ));
                }
                body.push_str("</p>");
            }
        },
    }
    html::page(lang, &state, Nav::Entries, t.nav_entries, &body)
}

/// The entries' own bytes checked against their leaf hashes and parsed: a listing shows what
/// the log holds, not the fields the exchange sends beside them.
fn checked(entries: &[AuditEntry]) -> Result<Vec<(u64, Hash, LeafEntry)>, ClientError> {
    entries
        .iter()
        .map(|entry| checked_entry(entry).map(|(hash, leaf)| (entry.index, hash, leaf)))
        .collect()
}

fn decision_word(lang: Lang, outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => lang.text().allowed,
        Outcome::Deny => lang.text().refused,
    }
}

fn entries_table(lang: Lang, entries: &[(u64, Hash, LeafEntry)]) -> String {
    let t = lang.text();
    if entries.is_empty() {
        return format!("<p id=\"no-entries\">{}</p>", escape(t.no_entries));
    }
    let mut out = String::from("<table id=\"entries\"><thead><tr>");
    for name in [
        t.index,
        t.time,
        t.principal,
        t.method,
        t.purpose,
        t.decision,
        t.record_type,
        t.record_key,
        t.data_classes,
    ] {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(name)));
    }
    out.push_str("</tr></thead><tbody>");
    for (index, _, leaf) in entries {
        out.push_str(&format!(
            "<tr class=\"entry\" data-index=\"{index}\"><td class=\"n\"><a class=\"prove\" href=\"entries/{index}\" title=\"{prove}\">{index}</a></td>\
             <td>{time}</td><td class=\"key\">{principal}</td><td>{method}</td><td>{purpose}</td>\
             <td class=\"decision\">{decision}</td><td class=\"record-type\">{record_type}</td>\
             <td class=\"key\">{record_key}</td><td>{classes}</td></tr>",
            prove = escape(t.prove),
            time = escape(&leaf.time),
            principal = escape(&leaf.principal),
            method = escape(&leaf.method),
            purpose = escape(&leaf.purpose),
            decision = escape(decision_word(lang, leaf.outcome)),
            record_type = escape(&leaf.record_type),
            record_key = escape(&leaf.record_key),
            classes = escape(&leaf.data_classes.join(", ")),
        ));
    }
    out.push_str("</tbody></table>");
    out
}

/// `GET /entries.csv`: the entries matching the filters, at most [`CSV_MAX`].
pub(crate) async fn csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Response {
    let lang = Lang::of(&headers);
    let failed = |message: String| {
        html::page(
            lang,
            &state,
            Nav::Entries,
            lang.text().nav_entries,
            &message,
        )
    };
    let mut request = match filters.request(lang, 1000) {
        Ok(request) => request,
        Err(message) => return failed(html::error(&message)),
    };
    let mut client = state.client();
    let mut rows = Vec::new();
    let mut truncated = false;
    loop {
        let page = match client.list(request.clone()).await {
            Ok(page) => page,
            Err(error) => return failed(html::exchange_error(lang, &error)),
        };
        match checked(&page.entries) {
            Ok(entries) => rows.extend(entries.iter().map(csv_row)),
            Err(error) => {
                return failed(html::error(
                    &lang.text().failed.replace("{reason}", &error.to_string()),
                ));
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        if rows.len() >= CSV_MAX {
            truncated = true;
            break;
        }
        request.page_token = page.next_page_token;
    }
    if rows.len() > CSV_MAX {
        rows.truncate(CSV_MAX);
        truncated = true;
    }
    crate::export::csv(
        &if truncated {
            format!("jembatan-entries-first-{CSV_MAX}.csv")
        } else {
            "jembatan-entries.csv".to_owned()
        },
        &[
            "index",
            "time",
            "principal",
            "method",
            "purpose",
            "legal_basis",
            "case_ref",
            "operator",
            "record_type",
            "record_key",
            "data_classes",
            "decision",
            "refusal_code",
            "policy_ids",
            "trace_id",
            "leaf_hash",
        ],
        &rows,
    )
}

fn csv_row((index, hash, leaf): &(u64, Hash, LeafEntry)) -> Vec<String> {
    vec![
        index.to_string(),
        leaf.time.clone(),
        leaf.principal.clone(),
        leaf.method.clone(),
        leaf.purpose.clone(),
        leaf.legal_basis.clone(),
        leaf.case_ref.clone(),
        leaf.operator.clone(),
        leaf.record_type.clone(),
        leaf.record_key.clone(),
        leaf.data_classes.join(" "),
        match leaf.outcome {
            Outcome::Allow => "allow".to_owned(),
            Outcome::Deny => "deny".to_owned(),
        },
        leaf.status.clone(),
        leaf.policy_ids.join(" "),
        leaf.trace_id.clone(),
        hex::encode(hash),
    ]
}

/// `GET /entries/{index}`: the entry, its bytes checked against its leaf hash and its inclusion
/// proof against the latest signed checkpoint.
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(index): Path<u64>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = lang.text();
    let heading = t.entry.replace("{index}", &index.to_string());
    let body = match state
        .client()
        .prove(index, None, 0, &state.config.log_key)
        .await
    {
        Ok(proved) => {
            let mut body = format!(
                "<p id=\"proof\" class=\"status verified\" role=\"status\">{}</p>",
                escape(
                    &t.proof_ok
                        .replace("{size}", &lang.number(proved.checkpoint.checkpoint.size))
                )
            );
            let hash: String = proved
                .leaf_hash
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if let Some(entry) = &proved.entry {
                body.push_str(&entry_facts(lang, entry, &hash));
            }
            body
        }
        Err(error) if error.is_verification_failure() => format!(
            "<p id=\"proof\" class=\"status failed\" role=\"alert\">{}</p>",
            escape(&t.proof_failed.replace("{reason}", &error.to_string()))
        ),
        Err(error) => html::exchange_error(lang, &error),
    };
    html::page(lang, &state, Nav::Entries, &heading, &body)
}

fn entry_facts(lang: Lang, entry: &LeafEntry, hash: &str) -> String {
    let t = lang.text();
    let decision = decision_word(lang, entry.outcome);
    let facts: [(&str, String); 19] = [
        (t.time, entry.time.clone()),
        (t.principal, entry.principal.clone()),
        (t.certificate, entry.cert_fingerprint.clone()),
        (t.method, entry.method.clone()),
        (t.purpose, entry.purpose.clone()),
        (t.legal_basis, entry.legal_basis.clone()),
        (t.case_ref, entry.case_ref.clone()),
        (t.operator, entry.operator.clone()),
        (t.record_type, entry.record_type.clone()),
        (t.record_key, entry.record_key.clone()),
        (t.data_classes, entry.data_classes.join(", ")),
        (t.digest, entry.record_digest.clone()),
        (t.decision, decision.to_owned()),
        (t.refusal_code, entry.status.clone()),
        (t.policies, entry.policy_ids.join(", ")),
        (t.policy_set, entry.policy_set.clone()),
        (t.trace, entry.trace_id.clone()),
        (t.leaf_hash, hash.to_owned()),
        (
            t.count,
            if entry.refused_calls > 0 {
                entry.refused_calls.to_string()
            } else {
                String::new()
            },
        ),
    ];
    let mut out = String::from("<dl id=\"entry\" class=\"facts\">");
    for (label, value) in facts.iter().filter(|(_, value)| !value.is_empty()) {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            escape(label),
            escape(value)
        ));
    }
    out.push_str("</dl>");
    out
}
