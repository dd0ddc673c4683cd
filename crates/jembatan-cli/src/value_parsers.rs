//! Parsers of argument values that several commands share.

use jembatan_client::convert::{TimestampError, timestamp};
use time::OffsetDateTime;

/// A purpose or legal-basis code, e.g. `BUSINESS_MATCHING`; the error lists the known codes.
pub(crate) fn parse_code<T: std::str::FromStr<Err = jembatan_domain::DomainError>>(
    code: &str,
) -> Result<T, String> {
    code.parse()
        .map_err(|e: jembatan_domain::DomainError| e.to_string())
}

/// An RFC 3339 time, e.g. `2026-11-22T08:30:00Z`, in the range of the contract's timestamps.
pub(crate) fn parse_time(text: &str) -> Result<OffsetDateTime, TimestampError> {
    timestamp::parse_rfc3339(text)
}
