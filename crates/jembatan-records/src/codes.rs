//! Contract values in partner files (JSON Lines, CSV), as serde types: enum values as their
//! short codes (`FEMALE` for `SEX_FEMALE`), dates as `YYYY-MM-DD`, timestamps as RFC 3339. The
//! conversions themselves are the contract's, `jembatan_proto::convert`.

use std::fmt;
use std::marker::PhantomData;

use jembatan_proto::convert::{DateError, ShortCode, TimestampError, date, timestamp};
use jembatan_proto::v1;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

/// An enum value in a file: its short code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Code<E>(pub(crate) E);

impl<E: ShortCode> Serialize for Code<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.code())
    }
}

impl<'de, E: ShortCode> Deserialize<'de> for Code<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor<E>(PhantomData<E>);

        impl<E: ShortCode> Visitor<'_> for CodeVisitor<E> {
            type Value = Code<E>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {} code such as {:?}", E::WHAT, E::codes().join(", "))
            }

            fn visit_str<Err: de::Error>(self, code: &str) -> Result<Code<E>, Err> {
                E::parse_code(code).map(Code).map_err(Err::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor(PhantomData))
    }
}

/// A calendar date in a file: `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub time::Date);

impl Day {
    /// Parses `YYYY-MM-DD`, a date that exists.
    pub fn parse(text: &str) -> Result<Day, DateError> {
        date::parse_text(text).map(Day)
    }

    /// The contract's form.
    pub fn to_proto(self) -> v1::Date {
        date::to_proto(self.0)
    }

    /// From the contract's form; an impossible date is an error naming it.
    pub fn from_proto(proto: &v1::Date) -> Result<Day, DateError> {
        date::from_proto(proto).map(Day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&date::to_text(self.0))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DayVisitor;

        impl Visitor<'_> for DayVisitor {
            type Value = Day;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date of the form YYYY-MM-DD")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Day, E> {
                Day::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DayVisitor)
    }
}

/// A point in time in a file: RFC 3339, e.g. `2025-06-01T08:30:00Z` or `…+07:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(pub(crate) OffsetDateTime);

impl Moment {
    /// Parses RFC 3339; the moment is kept in UTC.
    pub fn parse(text: &str) -> Result<Moment, TimestampError> {
        timestamp::parse_rfc3339(text).map(Moment)
    }

    /// The contract's form.
    pub fn to_proto(self) -> prost_types::Timestamp {
        timestamp::to_proto(self.0)
    }

    /// From the contract's form, which must be a valid timestamp.
    pub fn from_proto(proto: &prost_types::Timestamp) -> Result<Moment, TimestampError> {
        timestamp::from_proto(proto).map(Moment)
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match timestamp::to_rfc3339(&self.to_proto()) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{}s", self.0.unix_timestamp()),
        }
    }
}

impl Serialize for Moment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Moment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MomentVisitor;

        impl Visitor<'_> for MomentVisitor {
            type Value = Moment;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time such as 2025-06-01T08:30:00Z")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Moment, E> {
                Moment::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(MomentVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_files_are_short_and_checked() {
        let code: Code<v1::Sex> = serde_json::from_str("\"FEMALE\"").expect("a code");
        assert_eq!(code, Code(v1::Sex::Female));
        assert_eq!(serde_json::to_string(&code).expect("json"), "\"FEMALE\"");
        let error = serde_json::from_str::<Code<v1::Sex>>("\"SEX_FEMALE\"").expect_err("prefixed");
        assert!(error.to_string().contains("FEMALE, MALE"), "{error}");
    }

    #[test]
    fn days_are_strict_and_must_exist() {
        let day = Day::parse("2024-02-29").expect("leap day");
        assert_eq!(day.to_string(), "2024-02-29");
        assert_eq!(Day::from_proto(&day.to_proto()), Ok(day));
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "29-02-2024",
            "2024-13-01",
            "2024-02-29T00:00",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn moments_print_in_utc_and_keep_their_nanoseconds() {
        let moment = Moment::parse("2025-06-01T15:30:00.25+07:00").expect("parse");
        assert_eq!(moment.to_string(), "2025-06-01T08:30:00.25Z");
        assert_eq!(Moment::from_proto(&moment.to_proto()), Ok(moment));
        assert!(Moment::parse("2025-06-01 08:30").is_err());
    }
}
