//! The console's pages, one module each.

pub(crate) mod activity;
pub(crate) mod entries;
pub(crate) mod history;
pub(crate) mod overview;

use jembatan_client::v1;
use jembatan_proto::convert::ShortCode;

/// A purpose's code, e.g. `AUDIT`; empty when unknown or unspecified.
pub(crate) fn purpose_code(number: i32) -> &'static str {
    match v1::Purpose::try_from(number) {
        Ok(v1::Purpose::Unspecified) | Err(_) => "",
        Ok(purpose) => purpose.code(),
    }
}

/// A legal basis's code, e.g. `CONSENT`; empty when unknown or unspecified.
pub(crate) fn legal_basis_code(number: i32) -> &'static str {
    match v1::LegalBasis::try_from(number) {
        Ok(v1::LegalBasis::Unspecified) | Err(_) => "",
        Ok(basis) => basis.code(),
    }
}

/// `PlacementService/StreamPlacements` of `/jembatan.v1.PlacementService/StreamPlacements`.
pub(crate) fn short_method(method: &str) -> &str {
    method.strip_prefix("/jembatan.v1.").unwrap_or(method)
}

/// A day typed as `YYYY-MM-DD`.
pub(crate) fn parse_day(text: &str) -> Option<time::Date> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// A day as `YYYY-MM-DD`.
pub(crate) fn day_text(day: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
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
        assert_eq!(day_text(day), "2026-02-28");
        assert!(parse_day("2026-02-30").is_none());
        assert!(parse_day("yesterday").is_none());
        assert_eq!(purpose_code(v1::Purpose::Audit as i32), "AUDIT");
        assert_eq!(purpose_code(999), "");
    }
}
