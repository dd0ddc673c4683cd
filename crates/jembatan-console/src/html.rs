//! The page frame, escaping, and the stylesheet.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;
use crate::i18n::Lang;

/// Text made safe for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query string value, percent-encoded.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Which menu item a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Activity,
    Entries,
    History,
}

/// A whole page: header, menu, language switch, and `body` (already HTML).
pub(crate) fn page(lang: Lang, state: &AppState, nav: Nav, heading: &str, body: &str) -> Response {
    let t = lang.text();
    let item = |which: Nav, id: &str, href: &str, label: &str| {
        let current = if which == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!(
            "<li><a id=\"{id}\" href=\"{href}\"{current}>{}</a></li>",
            escape(label)
        )
    };
    let config = &state.config;
    let connected = t
        .connected
        .replace("{server}", &config.server)
        .replace("{identity}", &config.identity);
    let other = lang.other();
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{heading} · {title}</title>\n\
         <base href=\"{base}\">\n\
         <link rel=\"stylesheet\" href=\"static/console.css\">\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">{skip}</a>\n\
         <header><p class=\"brand\">{title}</p><p class=\"connected\">{connected}</p>\
         <p class=\"lang\"><a id=\"lang-switch\" href=\"lang/{other_code}\" referrerpolicy=\"same-origin\" hreflang=\"{other_code}\" lang=\"{other_code}\">{switch}</a></p></header>\n\
         <nav id=\"menu\" aria-label=\"{title}\"><ul>{overview}{activity}{entries}{history}</ul></nav>\n\
         <main id=\"main\" tabindex=\"-1\">\n<h1>{heading}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        code = lang.code(),
        base = escape(&state.base),
        heading = escape(heading),
        title = escape(t.title),
        skip = escape(t.skip),
        connected = escape(&connected),
        other_code = other.code(),
        switch = escape(t.switch_to),
        overview = item(Nav::Overview, "nav-overview", "./", t.nav_overview),
        activity = item(Nav::Activity, "nav-activity", "activity", t.nav_activity),
        entries = item(Nav::Entries, "nav-entries", "entries", t.nav_entries),
        history = item(Nav::History, "nav-history", "history", t.nav_history),
    ))
    .into_response()
}

/// The paragraph that shows an error of the exchange or of the input.
pub(crate) fn error(message: &str) -> String {
    format!(
        "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>",
        escape(message)
    )
}

/// The exchange's error, as the console shows it.
pub(crate) fn exchange_error(lang: Lang, error: &jembatan_client::ClientError) -> String {
    error_text(lang, &error.to_string())
}

fn error_text(lang: Lang, error: &str) -> String {
    self::error(&lang.text().exchange_error.replace("{error}", error))
}

/// A timestamp of the contract as `YYYY-MM-DD HH:MM:SS`, UTC; empty when absent or invalid.
pub(crate) fn utc(time: Option<&prost_types::Timestamp>) -> String {
    time.and_then(|t| jembatan_proto::convert::timestamp::from_proto(t).ok())
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

/// `GET /static/console.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/console.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_urls() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
    }
}
