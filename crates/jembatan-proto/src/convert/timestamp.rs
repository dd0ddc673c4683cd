//! `google.protobuf.Timestamp` ↔ [`OffsetDateTime`], under one rule: a timestamp is valid when
//! its `nanos` are 0 to 999,999,999 and it falls from 0001-01-01T00:00:00Z to
//! 9999-12-31T23:59:59.999999999Z, the range `timestamp.proto` documents. Nothing is normalised:
//! a negative or overflowing `nanos` is refused, not carried into `seconds`.
//!
//! Text is RFC 3339, e.g. `2026-11-22T08:30:00.123Z` or `2026-11-22T15:30:00+07:00`.

use prost_types::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Seconds of 0001-01-01T00:00:00Z since the Unix epoch.
const MIN_SECONDS: i64 = -62_135_596_800;
/// Seconds of 9999-12-31T23:59:59Z since the Unix epoch.
const MAX_SECONDS: i64 = 253_402_300_799;

/// Why a timestamp or its text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// `nanos` is negative or a whole second or more.
    #[error("timestamp nanos {0} are not from 0 to 999999999")]
    Nanos(i32),
    /// The time is before year 1 or after year 9999; the value is its Unix seconds.
    #[error("timestamp of {0} unix seconds is not from year 1 to 9999")]
    OutOfRange(i64),
    /// The text is not RFC 3339; the value is the text, cut to 64 characters.
    #[error("{0:?} is not an RFC 3339 time such as 2026-11-22T08:30:00Z")]
    Text(String),
}

/// `time` as a timestamp, to the nanosecond. A time before year 1 gives one that
/// [`from_proto`] refuses.
pub fn to_proto(time: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: time.unix_timestamp(),
        // Always below 1e9, so it fits.
        nanos: i32::try_from(time.nanosecond()).unwrap_or(0),
    }
}

/// The time of a valid timestamp, in UTC.
pub fn from_proto(timestamp: &Timestamp) -> Result<OffsetDateTime, TimestampError> {
    let nanos = u32::try_from(timestamp.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .ok_or(TimestampError::Nanos(timestamp.nanos))?;
    let out_of_range = TimestampError::OutOfRange(timestamp.seconds);
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&timestamp.seconds) {
        return Err(out_of_range);
    }
    OffsetDateTime::from_unix_timestamp(timestamp.seconds)
        .and_then(|time| time.replace_nanosecond(nanos))
        .map_err(|_| out_of_range)
}

/// The time of RFC 3339 text, in UTC, if it is in the range a timestamp may take.
pub fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, TimestampError> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| TimestampError::Text(text.chars().take(64).collect()))?;
    from_proto(&to_proto(time))
}

/// The timestamp of RFC 3339 text, e.g. of a time an audit leaf records.
pub fn from_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
    parse_rfc3339(text).map(to_proto)
}

/// A valid timestamp as RFC 3339 in UTC, with as many fractional digits as it needs:
/// `2025-06-01T08:30:00Z`, `2025-06-01T08:30:00.25Z`.
pub fn to_rfc3339(timestamp: &Timestamp) -> Result<String, TimestampError> {
    from_proto(timestamp)?
        .format(&Rfc3339)
        .map_err(|_| TimestampError::OutOfRange(timestamp.seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    #[test]
    fn nanos_must_be_within_a_second() {
        assert_eq!(from_proto(&stamp(0, -1)), Err(TimestampError::Nanos(-1)));
        assert_eq!(
            from_proto(&stamp(0, 1_000_000_000)),
            Err(TimestampError::Nanos(1_000_000_000))
        );
        assert_eq!(
            from_proto(&stamp(0, i32::MIN)),
            Err(TimestampError::Nanos(i32::MIN))
        );
        let last = from_proto(&stamp(0, 999_999_999)).expect("the last nanosecond");
        assert_eq!(last.nanosecond(), 999_999_999);
        assert_eq!(from_proto(&stamp(0, 0)), Ok(OffsetDateTime::UNIX_EPOCH));
    }

    #[test]
    fn times_must_be_from_year_1_to_9999() {
        let first = from_proto(&stamp(MIN_SECONDS, 0)).expect("0001-01-01");
        assert_eq!((first.year(), first.ordinal()), (1, 1));
        let last = from_proto(&stamp(MAX_SECONDS, 999_999_999)).expect("9999-12-31");
        assert_eq!(
            (last.year(), last.ordinal(), last.second()),
            (9999, 365, 59)
        );
        for seconds in [MIN_SECONDS - 1, MAX_SECONDS + 1, i64::MIN, i64::MAX] {
            assert_eq!(
                from_proto(&stamp(seconds, 0)),
                Err(TimestampError::OutOfRange(seconds))
            );
        }
    }

    #[test]
    fn valid_timestamps_round_trip() {
        for t in [
            stamp(0, 0),
            stamp(1_795_336_200, 123_000_000),
            stamp(-1, 999_999_999),
            stamp(MIN_SECONDS, 1),
            stamp(MAX_SECONDS, 999_999_999),
        ] {
            let time = from_proto(&t).expect("valid");
            assert_eq!(to_proto(time), t);
            assert_eq!(from_rfc3339(&to_rfc3339(&t).expect("text")), Ok(t));
        }
    }

    #[test]
    fn times_keep_their_instant_and_nanoseconds() {
        let time = parse_rfc3339("2025-06-01T15:30:00.000000025+07:00").expect("parse");
        assert_eq!(time.offset(), time::UtcOffset::UTC);
        assert_eq!(from_proto(&to_proto(time)), Ok(time));
        assert_eq!(to_proto(time), stamp(1_748_766_600, 25));
    }

    #[test]
    fn text_is_rfc_3339_in_utc() {
        let logged = "2026-11-22T08:30:00.123Z";
        assert_eq!(from_rfc3339(logged), Ok(stamp(1_795_336_200, 123_000_000)));
        assert_eq!(
            to_rfc3339(&stamp(1_795_336_200, 123_000_000)).as_deref(),
            Ok(logged)
        );
        let east = from_rfc3339("2025-06-01T15:30:00.25+07:00").expect("with an offset");
        assert_eq!(to_rfc3339(&east).as_deref(), Ok("2025-06-01T08:30:00.25Z"));
        assert_eq!(
            to_rfc3339(&stamp(1_748_766_600, 0)).as_deref(),
            Ok("2025-06-01T08:30:00Z")
        );
        assert_eq!(to_rfc3339(&stamp(0, -1)), Err(TimestampError::Nanos(-1)));
    }

    #[test]
    fn bad_text_is_refused_and_named() {
        for bad in ["2025-06-01", "2025-06-01T08:30Z", "2025-06-01T08:30:00", ""] {
            assert_eq!(
                from_rfc3339(bad),
                Err(TimestampError::Text(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            from_rfc3339("0000-12-31T23:59:59Z"),
            Err(TimestampError::OutOfRange(MIN_SECONDS - 1))
        );
        let long = format!("{}Z", "9".repeat(100));
        match from_rfc3339(&long) {
            Err(TimestampError::Text(text)) => assert_eq!(text.len(), 64),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_are_lower_case_and_name_the_value() {
        assert_eq!(
            TimestampError::Nanos(-1).to_string(),
            "timestamp nanos -1 are not from 0 to 999999999"
        );
        assert_eq!(
            TimestampError::OutOfRange(MAX_SECONDS + 1).to_string(),
            "timestamp of 253402300800 unix seconds is not from year 1 to 9999"
        );
        assert_eq!(
            TimestampError::Text("noon".to_owned()).to_string(),
            "\"noon\" is not an RFC 3339 time such as 2026-11-22T08:30:00Z"
        );
    }
}
