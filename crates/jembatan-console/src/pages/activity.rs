//! `/activity`: records shared per day by agency and refusals per day by reason, from the
//! exchange's SummarizeEntries counts, as charts and as tables.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jembatan_client::convert::date;
use jembatan_client::v1::{self, EntryCount, SummarizeEntriesRequest};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::{parse_day, purpose_code, short_method, start_of};
use crate::AppState;
use crate::chart::{Series, stacked_bars};
use crate::html::{self, Nav, escape, url_encode};
use crate::i18n::Lang;

/// The range asked for, inclusive days.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Range {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Record types of the log's own reads and cosignatures: not records shared between the
/// ministries, so left out of the chart of what crossed (the CSV keeps them).
const LOG_READS: [&str; 5] = [
    "audit_entries",
    "audit_entry",
    "audit_summary",
    "cosignature",
    "subject_access",
];

/// The longest range shown, in days (the exchange's bound).
const MAX_DAYS: i64 = 366;

impl Range {
    /// The first and last day: as given, or the last 30 days up to today (UTC).
    fn days(&self) -> Option<(time::Date, time::Date)> {
        let today = OffsetDateTime::now_utc().date();
        let to = if self.to.is_empty() {
            today
        } else {
            parse_day(&self.to)?
        };
        let from = if self.from.is_empty() {
            to - Duration::days(29)
        } else {
            parse_day(&self.from)?
        };
        let span = (to - from).whole_days();
        (0..MAX_DAYS).contains(&span).then_some((from, to))
    }
}

/// `GET /activity`.
pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = lang.text();
    let mut body = String::new();
    let days = range.days();
    let (from, to) = days
        .map(|(f, t)| (date::to_text(f), date::to_text(t)))
        .unwrap_or_else(|| (range.from.clone(), range.to.clone()));
    body.push_str(&format!(
        "<form id=\"activity-filters\" class=\"filters\" method=\"get\" action=\"activity\">\
         <label>{from_label}<input type=\"date\" name=\"from\" value=\"{from}\"></label>\
         <label>{to_label}<input type=\"date\" name=\"to\" value=\"{to}\"></label>\
         <button type=\"submit\">{show}</button></form>",
        from_label = escape(t.from),
        to_label = escape(t.to),
        from = escape(&from),
        to = escape(&to),
        show = escape(t.show),
    ));
    let Some((first, last)) = days else {
        body.push_str(&html::error(t.bad_date));
        return html::page(lang, &state, Nav::Activity, t.nav_activity, &body);
    };
    match summary(&state, first, last).await {
        Ok(answer) => {
            body.push_str(&format!(
                "<p><a id=\"export-csv\" href=\"activity.csv?from={}&amp;to={}\">{}</a></p>",
                url_encode(&from),
                url_encode(&to),
                escape(t.export_csv)
            ));
            body.push_str(&charts_and_tables(lang, first, last, &answer.counts));
            body.push_str(&format!(
                "<p class=\"note\">{}</p>",
                escape(
                    &t.counted_at
                        .replace("{size}", &lang.number(answer.tree_size))
                )
            ));
        }
        Err(error) => body.push_str(&html::exchange_error(lang, &error)),
    }
    html::page(lang, &state, Nav::Activity, t.nav_activity, &body)
}

/// `GET /activity.csv`: every count of the range.
pub(crate) async fn csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> Response {
    let lang = Lang::of(&headers);
    let Some((first, last)) = range.days() else {
        return html::page(
            lang,
            &state,
            Nav::Activity,
            lang.text().nav_activity,
            &html::error(lang.text().bad_date),
        );
    };
    match summary(&state, first, last).await {
        Ok(answer) => {
            let rows: Vec<Vec<String>> = answer
                .counts
                .iter()
                .map(|c| {
                    vec![
                        c.day.clone(),
                        c.agency.clone(),
                        c.principal.clone(),
                        short_method(&c.method).to_owned(),
                        purpose_code(c.purpose),
                        c.record_type.clone(),
                        decision_code(c.decision).to_owned(),
                        c.reason.clone(),
                        c.count.to_string(),
                    ]
                })
                .collect();
            crate::export::csv(
                &format!(
                    "jembatan-activity-{}-{}.csv",
                    date::to_text(first),
                    date::to_text(last)
                ),
                &[
                    "day",
                    "agency",
                    "principal",
                    "method",
                    "purpose",
                    "record_type",
                    "decision",
                    "reason",
                    "count",
                ],
                &rows,
            )
        }
        Err(error) => html::page(
            lang,
            &state,
            Nav::Activity,
            lang.text().nav_activity,
            &html::exchange_error(lang, &error),
        ),
    }
}

async fn summary(
    state: &AppState,
    first: time::Date,
    last: time::Date,
) -> Result<v1::SummarizeEntriesResponse, jembatan_client::ClientError> {
    state
        .client()
        .summarize(SummarizeEntriesRequest {
            from_time: Some(start_of(first)),
            to_time: Some(start_of(last + Duration::days(1))),
            agency: String::new(),
        })
        .await
}

fn decision_code(decision: i32) -> &'static str {
    match v1::Decision::try_from(decision) {
        Ok(v1::Decision::Allow) => "allow",
        Ok(v1::Decision::Deny) => "deny",
        _ => "",
    }
}

/// The agency as shown: its name, else the principal (a caller refused for its identity).
fn agency_label(count: &EntryCount) -> String {
    if count.agency.is_empty() {
        count.principal.clone()
    } else {
        count.agency.clone()
    }
}

fn charts_and_tables(
    lang: Lang,
    first: time::Date,
    last: time::Date,
    counts: &[EntryCount],
) -> String {
    let t = lang.text();
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        days.push(date::to_text(day));
        day += Duration::days(1);
    }
    let position: BTreeMap<&str, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let allowed = |c: &&EntryCount| {
        c.decision == v1::Decision::Allow as i32 && !LOG_READS.contains(&c.record_type.as_str())
    };
    let refused = |c: &&EntryCount| c.decision == v1::Decision::Deny as i32;
    let series_of = |pick: &dyn Fn(&&EntryCount) -> bool, name: &dyn Fn(&EntryCount) -> String| {
        let mut by_name: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for count in counts.iter().filter(|c| pick(c)) {
            if let Some(&i) = position.get(count.day.as_str()) {
                by_name
                    .entry(name(count))
                    .or_insert_with(|| vec![0; days.len()])[i] += count.count;
            }
        }
        by_name
            .into_iter()
            .map(|(name, values)| Series { name, values })
            .collect::<Vec<_>>()
    };
    let shared = series_of(&allowed, &agency_label);
    let refusals = series_of(&refused, &|c: &EntryCount| c.reason.clone());

    let mut out = format!(
        "<h2 id=\"shared-h\">{}</h2><p class=\"note\">{}</p>",
        escape(t.shared_chart),
        escape(t.reads_left_out)
    );
    out.push_str(&stacked_bars(
        "shared-chart",
        t.shared_chart,
        &days,
        &shared,
        lang,
    ));
    let mut shared_rows: BTreeMap<(String, String, String, String, String), u64> = BTreeMap::new();
    for c in counts.iter().filter(allowed) {
        *shared_rows
            .entry((
                c.day.clone(),
                agency_label(c),
                short_method(&c.method).to_owned(),
                purpose_code(c.purpose),
                c.record_type.clone(),
            ))
            .or_default() += c.count;
    }
    out.push_str(&table(
        "shared-table",
        lang,
        &[t.day, t.agency, t.method, t.purpose, t.record_type, t.count],
        shared_rows
            .into_iter()
            .map(|((day, agency, method, purpose, record_type), n)| {
                (
                    vec![day, agency, method, purpose.to_owned(), record_type],
                    n,
                )
            }),
    ));

    out.push_str(&format!(
        "<h2 id=\"refusals-h\">{}</h2>",
        escape(t.refusals_chart)
    ));
    out.push_str(&stacked_bars(
        "refusals-chart",
        t.refusals_chart,
        &days,
        &refusals,
        lang,
    ));
    let mut refusal_rows: BTreeMap<(String, String, String, String), u64> = BTreeMap::new();
    for c in counts.iter().filter(refused) {
        *refusal_rows
            .entry((
                c.day.clone(),
                agency_label(c),
                short_method(&c.method).to_owned(),
                c.reason.clone(),
            ))
            .or_default() += c.count;
    }
    out.push_str(&table(
        "refusals-table",
        lang,
        &[t.day, t.agency, t.method, t.reason, t.count],
        refusal_rows
            .into_iter()
            .map(|((day, agency, method, reason), n)| (vec![day, agency, method, reason], n)),
    ));
    out
}

/// A table whose last column is a count.
fn table(
    id: &str,
    lang: Lang,
    header: &[&str],
    rows: impl Iterator<Item = (Vec<String>, u64)>,
) -> String {
    let mut out = format!("<table id=\"{id}\"><thead><tr>");
    for (i, name) in header.iter().enumerate() {
        let class = if i + 1 == header.len() {
            " class=\"n\""
        } else {
            ""
        };
        out.push_str(&format!("<th scope=\"col\"{class}>{}</th>", escape(name)));
    }
    out.push_str("</tr></thead><tbody>");
    let mut any = false;
    for (cells, n) in rows {
        any = true;
        out.push_str("<tr class=\"row\">");
        for cell in cells {
            out.push_str(&format!("<td>{}</td>", escape(&cell)));
        }
        out.push_str(&format!("<td class=\"n\">{}</td></tr>", lang.number(n)));
    }
    if !any {
        out.push_str(&format!(
            "<tr><td colspan=\"{}\">{}</td></tr>",
            header.len(),
            escape(lang.text().nothing)
        ));
    }
    out.push_str("</tbody></table>");
    out
}
