//! `/`: the log's size, its latest checkpoint and age, the ministries' cosignatures, and
//! whether the whole log verifies.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use jembatan_client::ClientError;
use jembatan_client::audit::{VerifiedCheckpoint, checked_entry};
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
    html::page(lang, &state, Nav::Overview, t.nav_overview, &body)
}

/// `POST /verify`: a full pass again.
pub(crate) async fn verify_again(State(state): State<Arc<AppState>>) -> Response {
    state.verifier.restart();
    Redirect::to(&state.base).into_response()
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
    let now = OffsetDateTime::now_utc();
    let (class, text) = match verification {
        Verification::Running { done, total } => (
            "verifying",
            t.verifying
                .replace("{done}", &lang.number(*done))
                .replace("{total}", &lang.number(*total)),
        ),
        Verification::Verified {
            leaves,
            full_at,
            size,
            checked_at,
        } => (
            "verified",
            t.verified
                .replace("{leaves}", &lang.number(*leaves))
                .replace("{full_ago}", &lang.age((now - *full_at).whole_seconds()))
                .replace("{size}", &lang.number(*size))
                .replace("{ago}", &lang.age((now - *checked_at).whole_seconds())),
        ),
        Verification::Failed { reason } => ("failed", t.failed.replace("{reason}", reason)),
        Verification::Unchecked { reason, .. } => {
            ("unchecked", t.unchecked.replace("{reason}", reason))
        }
    };
    format!(
        "<section aria-labelledby=\"verification-h\"><h2 id=\"verification-h\">{heading}</h2>\
         <p id=\"verification\" class=\"status {class}\" role=\"status\">{text}</p>\
         <form id=\"verify-again\" method=\"post\" action=\"verify\">\
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
/// How long the witnesses' status is reused before it is looked up again (each look is a
/// logged read of the log).
const WITNESS_CACHE: std::time::Duration = std::time::Duration::from_secs(60);

/// What the overview found of one witness.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Witnessed {
    /// Its latest cosignature in the window: of a checkpoint of `size` leaves that the latest
    /// checkpoint is proved to extend, logged at `at`.
    Cosigned { size: u64, at: OffsetDateTime },
    /// It cosigned a checkpoint of `size` leaves that the latest checkpoint does not extend.
    Forked { size: u64 },
    /// No cosignature in the window.
    Never,
    /// This identity may not list the log, so its cosignature leaves cannot be read.
    Unknown,
}

/// The witnesses' status as last looked up: when, for which latest size, and what was found.
pub(crate) type WitnessCache = Option<(std::time::Instant, u64, Vec<Witnessed>)>;

/// Each witness's latest cosignature in the last [`COSIGN_WINDOW`]. Every cosignature is a
/// leaf of the log (record type `cosignature`, keyed by the size cosigned, its time in the
/// leaf's own checked bytes), so the checkpoints they name are fetched, newest first, their
/// log signature and each witness's cosignature checked, and each proved to be extended by the
/// latest checkpoint: a cosignature of another history is a fork, not a cosignature. The latest
/// checkpoint alone would not do, since each cosignature's own leaf makes the next one.
async fn latest_cosignatures(state: &AppState, latest: &VerifiedCheckpoint) -> Vec<Witnessed> {
    let keys = &state.config.witnesses;
    let mut found = vec![Witnessed::Never; keys.len()];
    let mut client = state.client();
    let since = OffsetDateTime::now_utc() - time::Duration::seconds(COSIGN_WINDOW);
    let mut logged: BTreeMap<u64, OffsetDateTime> = BTreeMap::new();
    let mut request = ListEntriesRequest {
        from_time: Some(jembatan_proto::convert::timestamp::to_proto(since)),
        record_type: "cosignature".into(),
        decision: v1::Decision::Allow as i32,
        page_size: 1000,
        ..ListEntriesRequest::default()
    };
    for _ in 0..5 {
        let Ok(page) = client.list(request.clone()).await else {
            break;
        };
        for entry in &page.entries {
            let Ok((_, leaf)) = checked_entry(entry) else {
                continue;
            };
            if let (Ok(size), Ok(at)) = (
                leaf.record_key.parse::<u64>(),
                jembatan_proto::convert::timestamp::parse_rfc3339(&leaf.time),
            ) {
                let newest = logged.entry(size).or_insert(at);
                *newest = (*newest).max(at);
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    for (size, at) in logged.into_iter().rev().take(MAX_CHECKPOINTS) {
        if found.iter().all(|w| !matches!(w, Witnessed::Never)) {
            break;
        }
        let checkpoint = if size == latest.checkpoint.size {
            latest.clone()
        } else {
            match client.checkpoint(size, &state.config.log_key).await {
                Ok(checkpoint) => checkpoint,
                Err(_) => continue,
            }
        };
        let extended = client
            .prove_extends(Some(&checkpoint.checkpoint), &latest.checkpoint)
            .await;
        for (slot, key) in found.iter_mut().zip(keys) {
            if matches!(slot, Witnessed::Never) && checkpoint.cosigned_by(key) {
                *slot = match &extended {
                    Ok(()) => Witnessed::Cosigned { size, at },
                    Err(_) => Witnessed::Forked { size },
                };
            }
        }
    }
    found
}

/// [`latest_cosignatures`], reused for [`WITNESS_CACHE`] while the latest size is the same.
async fn witnesses_of(state: &AppState, latest: &VerifiedCheckpoint) -> Vec<Witnessed> {
    if matches!(
        state.verifier.current(),
        Verification::Unchecked { refused: true, .. }
    ) {
        return vec![Witnessed::Unknown; state.config.witnesses.len()];
    }
    let size = latest.checkpoint.size;
    if let Some((when, cached_size, found)) = &*cache(state)
        && *cached_size == size
        && when.elapsed() < WITNESS_CACHE
    {
        return found.clone();
    }
    let found = latest_cosignatures(state, latest).await;
    *cache(state) = Some((std::time::Instant::now(), size, found.clone()));
    found
}

fn cache(state: &AppState) -> std::sync::MutexGuard<'_, WitnessCache> {
    state
        .witnesses
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let found = witnesses_of(state, checkpoint).await;
        for (key, witnessed) in state.config.witnesses.iter().zip(found) {
            let (class, text) = match witnessed {
                Witnessed::Cosigned { size, at } => {
                    let seconds = (now - at).whole_seconds();
                    let (class, text) = if seconds > STALE_AFTER {
                        ("stale", t.stale)
                    } else {
                        ("cosigned", t.cosigned)
                    };
                    (
                        class,
                        text.replace("{size}", &lang.number(size))
                            .replace("{ago}", &lang.age(seconds)),
                    )
                }
                Witnessed::Forked { size } => (
                    "failed",
                    t.forked_cosignature.replace("{size}", &lang.number(size)),
                ),
                Witnessed::Never => ("stale", t.not_cosigned.to_owned()),
                Witnessed::Unknown => ("unchecked", t.witness_unknown.to_owned()),
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
