//! `/`: the log's size, its latest checkpoint and age, the ministries' cosignatures, and
//! whether the whole log verifies.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use jembatan_audit::note::VerifierKey;
use jembatan_client::ClientError;
use jembatan_client::audit::VerifiedCheckpoint;
use jembatan_client::v1::{self, ListEntriesRequest};
use time::OffsetDateTime;

use crate::AppState;
use crate::html::{self, Nav, escape};
use crate::i18n::Lang;
use crate::verify::Verification;

/// `GET /`.
pub(crate) async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    let t = lang.text();
    let mut body = String::new();
    let checkpoint = state.client().checkpoint(0, &state.config.log_key).await;
    match &checkpoint {
        Ok(checkpoint) => body.push_str(&checkpoint_section(lang, checkpoint)),
        Err(error) if error.is_verification_failure() => body.push_str(&format!(
            "<p class=\"status failed\" id=\"checkpoint-failed\">{}</p>",
            escape(&t.failed.replace("{reason}", &error.to_string()))
        )),
        Err(ClientError::Status(status))
            if status.code() == tonic::Code::Unavailable
                && status.message().contains("no checkpoint") =>
        {
            body.push_str(&format!(
                "<p class=\"note\" id=\"no-checkpoint\">{}</p>",
                escape(t.no_checkpoint)
            ));
        }
        Err(error) => body.push_str(&html::exchange_error(lang, error)),
    }
    body.push_str(&verification_section(lang, &state.verifier.current()));
    if let Ok(checkpoint) = &checkpoint {
        body.push_str(&witness_section(lang, &state, checkpoint).await);
    }
    html::page(lang, &state.config, Nav::Overview, t.nav_overview, &body)
}

/// `POST /verify`: a full pass again.
pub(crate) async fn verify_again(State(state): State<Arc<AppState>>) -> Response {
    state.verifier.restart();
    Redirect::to("/").into_response()
}

fn checkpoint_section(lang: Lang, checkpoint: &VerifiedCheckpoint) -> String {
    let t = lang.text();
    let size = checkpoint.checkpoint.size;
    let signed_at = checkpoint.message.signed_at.as_ref();
    let age = signed_at
        .and_then(|s| jembatan_proto::convert::timestamp::from_proto(s).ok())
        .map(|s| lang.age((OffsetDateTime::now_utc() - s).whole_seconds()))
        .unwrap_or_default();
    let root: String = checkpoint
        .checkpoint
        .root
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "<section aria-labelledby=\"size-h\"><h2 id=\"size-h\">{log_size}</h2>\
         <p class=\"figure\" id=\"log-size\" data-value=\"{size}\">{size_text}</p></section>\
         <section id=\"checkpoint\" aria-labelledby=\"checkpoint-h\"><h2 id=\"checkpoint-h\">{heading}</h2>\
         <dl class=\"facts\">\
         <dt>{tree_size}</dt><dd id=\"checkpoint-size\" data-value=\"{size}\">{size_text}</dd>\
         <dt>{signed}</dt><dd>{signed_at} UTC</dd>\
         <dt>{age_label}</dt><dd id=\"checkpoint-age\">{age}</dd>\
         <dt>{origin}</dt><dd>{origin_value}</dd>\
         <dt>{root_label}</dt><dd id=\"checkpoint-root\" class=\"key\">{root}</dd>\
         </dl></section>",
        log_size = escape(t.log_size),
        size_text = lang.number(size),
        heading = escape(t.checkpoint),
        tree_size = escape(t.tree_size),
        signed = escape(t.signed_at),
        signed_at = html::utc(signed_at),
        age_label = escape(t.age),
        origin = escape(t.origin),
        origin_value = escape(&checkpoint.message.origin),
        root_label = escape(t.root),
    )
}

fn verification_section(lang: Lang, verification: &Verification) -> String {
    let t = lang.text();
    let (class, text) = match verification {
        Verification::Running { done, total } => (
            "verifying",
            t.verifying
                .replace("{done}", &lang.number(*done))
                .replace("{total}", &lang.number(*total)),
        ),
        Verification::Verified { leaves, size, at } => (
            "verified",
            t.verified
                .replace("{leaves}", &lang.number(*leaves))
                .replace("{size}", &lang.number(*size))
                .replace(
                    "{ago}",
                    &lang.age((OffsetDateTime::now_utc() - *at).whole_seconds()),
                ),
        ),
        Verification::Failed { reason } => ("failed", t.failed.replace("{reason}", reason)),
        Verification::Unchecked { reason } => {
            ("unchecked", t.unchecked.replace("{reason}", reason))
        }
    };
    format!(
        "<section aria-labelledby=\"verification-h\"><h2 id=\"verification-h\">{heading}</h2>\
         <p id=\"verification\" class=\"status {class}\" role=\"status\">{text}</p>\
         <form id=\"verify-again\" method=\"post\" action=\"/verify\">\
         <button type=\"submit\" class=\"secondary\">{again}</button></form></section>",
        heading = escape(t.verification),
        text = escape(&text),
        again = escape(t.verify_again),
    )
}

/// How far back the overview looks for the witnesses' cosignatures.
const COSIGN_WINDOW: i64 = 86_400;
/// A witness that has not cosigned for longer than this is shown as a warning.
const STALE_AFTER: i64 = 3_600;
/// The most checkpoints fetched to find each witness's latest cosignature.
const MAX_CHECKPOINTS: usize = 20;

/// A witness's latest cosignature found: the checkpoint's size and when it was stored.
#[derive(Debug, Clone, Copy)]
struct Cosigned {
    size: u64,
    at: Option<OffsetDateTime>,
}

fn cosigned_in(checkpoint: &VerifiedCheckpoint, key: &VerifierKey) -> Option<Cosigned> {
    checkpoint.cosigned_by(key).then(|| Cosigned {
        size: checkpoint.checkpoint.size,
        at: checkpoint
            .message
            .cosignatures
            .iter()
            .find(|c| c.witness_name == key.name())
            .and_then(|c| c.received_at.as_ref())
            .and_then(|t| jembatan_proto::convert::timestamp::from_proto(t).ok()),
    })
}

/// Each witness's latest cosignature in the last [`COSIGN_WINDOW`]: every cosignature is a leaf
/// of the log (record type `cosignature`, keyed by the size cosigned), so the checkpoints they
/// name are fetched, newest first, and each witness's signature checked with its key. The
/// latest checkpoint alone would not do: each cosignature's own leaf makes the next one.
async fn latest_cosignatures(
    state: &AppState,
    latest: &VerifiedCheckpoint,
) -> Vec<Option<Cosigned>> {
    let keys = &state.config.witnesses;
    let mut found: Vec<Option<Cosigned>> = keys.iter().map(|k| cosigned_in(latest, k)).collect();
    let mut client = state.client();
    let since = OffsetDateTime::now_utc() - time::Duration::seconds(COSIGN_WINDOW);
    let mut sizes = Vec::new();
    let mut request = ListEntriesRequest {
        from_time: Some(jembatan_proto::convert::timestamp::to_proto(since)),
        record_type: "cosignature".into(),
        decision: v1::Decision::Allow as i32,
        page_size: 1000,
        ..ListEntriesRequest::default()
    };
    for _ in 0..5 {
        if found.iter().all(Option::is_some) {
            break;
        }
        let Ok(page) = client.list(request.clone()).await else {
            break;
        };
        sizes.extend(
            page.entries
                .iter()
                .filter_map(|e| e.record_key.parse::<u64>().ok()),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    sizes.sort_unstable();
    sizes.dedup();
    for size in sizes.into_iter().rev().take(MAX_CHECKPOINTS) {
        if found.iter().all(Option::is_some) {
            break;
        }
        let Ok(checkpoint) = client.checkpoint(size, &state.config.log_key).await else {
            continue;
        };
        for (slot, key) in found.iter_mut().zip(keys) {
            if slot.is_none() {
                *slot = cosigned_in(&checkpoint, key);
            }
        }
    }
    found
}

async fn witness_section(lang: Lang, state: &AppState, checkpoint: &VerifiedCheckpoint) -> String {
    let t = lang.text();
    let mut out = format!(
        "<section aria-labelledby=\"witnesses-h\"><h2 id=\"witnesses-h\">{}</h2>",
        escape(t.witnesses)
    );
    if state.config.witnesses.is_empty() {
        out.push_str(&format!("<p class=\"note\">{}</p>", escape(t.no_witnesses)));
    } else {
        let now = OffsetDateTime::now_utc();
        out.push_str(&format!(
            "<table id=\"witnesses\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            escape(t.witness),
            escape(t.status)
        ));
        let found = latest_cosignatures(state, checkpoint).await;
        for (key, cosigned) in state.config.witnesses.iter().zip(found) {
            let (class, text) = match cosigned {
                Some(Cosigned { size, at }) => {
                    let seconds = at.map_or(0, |at| (now - at).whole_seconds());
                    let text = if seconds > STALE_AFTER {
                        t.stale
                    } else {
                        t.cosigned
                    };
                    (
                        if seconds > STALE_AFTER {
                            "stale"
                        } else {
                            "cosigned"
                        },
                        text.replace("{size}", &lang.number(size))
                            .replace("{ago}", &lang.age(seconds)),
                    )
                }
                None => ("stale", t.not_cosigned.to_owned()),
            };
            out.push_str(&format!(
                "<tr data-witness=\"{name}\" class=\"{class}\"><td>{name}</td><td class=\"status {class}\">{text}</td></tr>",
                name = escape(key.name()),
                text = escape(&text),
            ));
        }
        out.push_str("</tbody></table>");
    }
    let unchecked: Vec<&str> = checkpoint
        .message
        .cosignatures
        .iter()
        .map(|c| c.witness_name.as_str())
        .filter(|name| !state.config.witnesses.iter().any(|key| key.name() == *name))
        .collect();
    if !unchecked.is_empty() {
        out.push_str(&format!(
            "<p class=\"note\">{}</p>",
            escape(
                &t.unchecked_cosignature
                    .replace("{names}", &unchecked.join(", "))
            )
        ));
    }
    out.push_str("</section>");
    out
}
