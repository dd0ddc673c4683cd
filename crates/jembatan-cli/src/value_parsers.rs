//! Parsers of argument values that several commands share.

use time::OffsetDateTime;

/// A purpose or legal-basis code, e.g. `BUSINESS_MATCHING`; the error lists the known codes.
pub(crate) fn parse_code<T: std::str::FromStr<Err = jembatan_domain::DomainError>>(
    code: &str,
) -> Result<T, String> {
    code.parse()
        .map_err(|e: jembatan_domain::DomainError| e.to_string())
}

/// An RFC 3339 time, e.g. `2026-11-22T08:30:00Z`.
pub(crate) fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-11-22T08:30:00Z: {e}"))
}
