//! The current view as CSV (RFC 4180), for a spreadsheet or a report.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A CSV download named `filename` of `header` and `rows`.
pub(crate) fn csv(filename: &str, header: &[&str], rows: &[Vec<String>]) -> Response {
    let Some(body) = encode(header, rows) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the CSV could not be written",
        )
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `header` and `rows` as CSV, every cell made inert.
fn encode(header: &[&str], rows: &[Vec<String>]) -> Option<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).ok()?;
    for row in rows {
        out.write_record(row.iter().map(|cell| inert(cell))).ok()?;
    }
    out.into_inner().ok()
}

/// A cell that a spreadsheet will not run: a leading `=`, `+`, `-` or `@` gets a `'` before it.
fn inert(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_formulas() {
        let rows = [
            vec!["a,b".to_owned(), "say \"hi\"".to_owned()],
            vec!["=HYPERLINK(1)".to_owned(), "plain".to_owned()],
        ];
        let body = encode(&["a", "b"], &rows).expect("csv");
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            "a,b\n\"a,b\",\"say \"\"hi\"\"\"\n'=HYPERLINK(1),plain\n"
        );
    }
}
