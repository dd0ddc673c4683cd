//! The current view as CSV (RFC 4180), for a spreadsheet or a report.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A CSV download named `filename` of `header` and `rows`.
pub(crate) fn csv(filename: &str, header: &[&str], rows: &[Vec<String>]) -> Response {
    let mut out = String::new();
    line(&mut out, header.iter().copied());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response()
}

fn line<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(cell));
    }
    out.push_str("\r\n");
}

/// A field quoted when it must be; a leading `=`, `+`, `-` or `@` is prefixed with `'` so that
/// a spreadsheet does not run it as a formula.
fn field(cell: &str) -> String {
    let cell = if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
