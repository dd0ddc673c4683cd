//! `/history`: a worker's processing history (UU PDP Article 32) looked up by NIK. The NIK is
//! typed into a form and posted: it never appears in an address (so not in the browser's
//! history, a proxy's log or a Referer), this console does not log it, and the answer is not
//! cached. The exchange allows the lookup to KP2MI's identity only.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jembatan_client::ClientError;
use jembatan_client::v1::SubjectAccess;
use jembatan_domain::Nik;
use serde::Deserialize;

use super::{legal_basis_code, purpose_code, short_method};
use crate::AppState;
use crate::html::{self, Nav, escape};
use crate::i18n::Lang;

/// The most accesses one answer shows.
const MAX_ACCESSES: usize = 10_000;

/// What the form posts.
#[derive(Deserialize)]
pub(crate) struct Lookup {
    #[serde(default)]
    nik: String,
    #[serde(default)]
    format: String,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("nik", &"<redacted>")
            .field("format", &self.format)
            .finish()
    }
}

/// `GET /history`: the form.
pub(crate) async fn form(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    let body = form_html(lang);
    html::page(lang, &state, Nav::History, lang.text().history, &body)
}

fn form_html(lang: Lang) -> String {
    let t = lang.text();
    format!(
        "<p>{intro}</p>\
         <form id=\"history-form\" class=\"filters\" method=\"post\" action=\"history\" autocomplete=\"off\">\
         <label>{nik}<input type=\"text\" name=\"nik\" inputmode=\"numeric\" pattern=\"[0-9]{{16}}\" \
         maxlength=\"16\" required autocomplete=\"off\"></label>\
         <button type=\"submit\">{look_up}</button>\
         <button type=\"submit\" class=\"secondary\" name=\"format\" value=\"csv\">{as_csv}</button>\
         </form>",
        intro = escape(t.history_intro),
        nik = escape(t.nik),
        look_up = escape(t.look_up),
        as_csv = escape(t.as_csv),
    )
}

/// `POST /history`: the worker's accesses, as a table or CSV.
pub(crate) async fn answer(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(lookup): Form<Lookup>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = lang.text();
    let mut body = form_html(lang);
    let nik = lookup.nik.trim();
    if let Err(reason) = Nik::parse(nik) {
        // The reason never echoes the digits.
        body.push_str(&html::error(&format!("{} NIK {reason}.", t.bad_nik)));
        return html::page(lang, &state, Nav::History, t.history, &body);
    }
    match accesses(&state, nik).await {
        Ok((accesses, _)) if lookup.format == "csv" => csv(&accesses),
        Ok((accesses, truncated)) => {
            if truncated {
                body.push_str(&format!(
                    "<p class=\"note\" id=\"truncated\">{}</p>",
                    escape(
                        &t.truncated
                            .replace("{n}", &lang.number(MAX_ACCESSES as u64))
                    )
                ));
            }
            body.push_str(&table(lang, &accesses));
            html::page(lang, &state, Nav::History, t.history, &body)
        }
        Err(ClientError::Status(status)) if status.code() == tonic::Code::PermissionDenied => {
            body.push_str(&html::error(t.only_kp2mi));
            html::page(lang, &state, Nav::History, t.history, &body)
        }
        Err(error) => {
            body.push_str(&html::exchange_error(lang, &error));
            html::page(lang, &state, Nav::History, t.history, &body)
        }
    }
}

/// The worker's accesses, at most [`MAX_ACCESSES`], and whether there were more.
async fn accesses(state: &AppState, nik: &str) -> Result<(Vec<SubjectAccess>, bool), ClientError> {
    state.client().subject_history(nik, MAX_ACCESSES).await
}

fn table(lang: Lang, accesses: &[SubjectAccess]) -> String {
    let t = lang.text();
    if accesses.is_empty() {
        return format!("<p id=\"no-accesses\">{}</p>", escape(t.no_accesses));
    }
    let mut out = String::from("<table id=\"accesses\"><thead><tr>");
    for name in [
        t.time,
        t.principal,
        t.method,
        t.purpose,
        t.legal_basis,
        t.data_classes,
        t.leaf,
    ] {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(name)));
    }
    out.push_str("</tr></thead><tbody>");
    for access in accesses {
        out.push_str(&format!(
            "<tr class=\"access\"><td>{}</td><td class=\"key\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            html::utc(access.time.as_ref()),
            escape(&access.principal),
            escape(short_method(&access.method)),
            purpose_code(access.purpose),
            legal_basis_code(access.legal_basis),
            escape(&access.data_classes.join(", ")),
            access.leaf_index,
        ));
    }
    out.push_str("</tbody></table>");
    out
}

fn csv(accesses: &[SubjectAccess]) -> Response {
    let rows: Vec<Vec<String>> = accesses
        .iter()
        .map(|a| {
            vec![
                html::utc(a.time.as_ref()),
                a.principal.clone(),
                short_method(&a.method).to_owned(),
                purpose_code(a.purpose),
                legal_basis_code(a.legal_basis),
                a.data_classes.join(" "),
                a.leaf_index.to_string(),
            ]
        })
        .collect();
    crate::export::csv(
        "jembatan-worker-history.csv",
        &[
            "time",
            "principal",
            "method",
            "purpose",
            "legal_basis",
            "data_classes",
            "leaf_index",
        ],
        &rows,
    )
}
