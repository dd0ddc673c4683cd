//! The console's pages, one module each.

pub(crate) mod activity;
pub(crate) mod entries;
pub(crate) mod history;
pub(crate) mod overview;

use jembatan_client::v1;
use jembatan_proto::convert::{ShortCode, date};

/// A purpose's code, e.g. `AUDIT`; empty when unspecified.
pub(crate) fn purpose_code(number: i32) -> String {
    v1::Purpose::code_of(number).unwrap_or_default()
}

/// A legal basis's code, e.g. `CONSENT`; empty when unspecified.
pub(crate) fn legal_basis_code(number: i32) -> String {
    v1::LegalBasis::code_of(number).unwrap_or_default()
}

/// `PlacementService/StreamPlacements` of `/jembatan.v1.PlacementService/StreamPlacements`.
pub(crate) fn short_method(method: &str) -> &str {
    method.strip_prefix("/jembatan.v1.").unwrap_or(method)
}

/// A day typed as `YYYY-MM-DD`, from year 1 to 9998 (so that the next day exists).
pub(crate) fn parse_day(text: &str) -> Option<time::Date> {
    date::parse_text(text.trim())
        .ok()
        .filter(|day| (1..9999).contains(&day.year()))
}

/// Midnight UTC at the start of `day`, as the contract carries time.
pub(crate) fn start_of(day: time::Date) -> prost_types::Timestamp {
    jembatan_proto::convert::timestamp::to_proto(day.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_refuse_nonsense() {
        let day = parse_day("2026-02-28").expect("day");
        assert_eq!(date::to_text(day), "2026-02-28");
        assert!(parse_day("2026-02-30").is_none());
        assert!(
            parse_day("9999-12-31").is_none(),
            "its next day would overflow"
        );
        assert!(parse_day("yesterday").is_none());
        assert_eq!(purpose_code(v1::Purpose::Audit as i32), "AUDIT");
        assert_eq!(purpose_code(0), "");
    }
}
