//! The human forms of contract values, as files and tables show them: enum values as their
//! short codes (`FEMALE` for `SEX_FEMALE`), dates as `YYYY-MM-DD`, timestamps as RFC 3339.

use std::fmt;
use std::marker::PhantomData;

use jembatan_client::v1;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A contract enum whose values are written as their names without the enum's prefix.
pub(crate) trait ShortCode: Sized + Copy + 'static {
    /// The prefix of every value name, e.g. `SEX_`.
    const PREFIX: &'static str;
    /// What the values are, for errors, e.g. `sex`.
    const WHAT: &'static str;

    /// The full value name, e.g. `SEX_FEMALE`.
    fn full_name(self) -> &'static str;
    /// The value of a full name.
    fn from_full_name(name: &str) -> Option<Self>;
    /// The value of a wire number.
    fn from_number(number: i32) -> Option<Self>;
    /// The wire number.
    fn number(self) -> i32;

    /// The short code, e.g. `FEMALE`.
    fn code(self) -> &'static str {
        let name = self.full_name();
        name.strip_prefix(Self::PREFIX).unwrap_or(name)
    }

    /// The value of a short code; `UNSPECIFIED` is not one. The error names the known codes.
    fn parse_code(code: &str) -> Result<Self, String> {
        let value = (!code.is_empty() && code != "UNSPECIFIED")
            .then(|| Self::from_full_name(&format!("{}{code}", Self::PREFIX)))
            .flatten();
        value.ok_or_else(|| {
            format!(
                "unknown {} code {:?}, expected one of {}",
                Self::WHAT,
                code.chars().take(64).collect::<String>(),
                Self::codes().join(", ")
            )
        })
    }

    /// Every code but `UNSPECIFIED`, in the contract's order.
    fn codes() -> Vec<&'static str> {
        (1..64)
            .filter_map(Self::from_number)
            .map(Self::code)
            .collect()
    }

    /// The code of a wire number: `None` for 0 (unspecified), the number itself for a value this
    /// program does not know (from a newer contract).
    fn code_of(number: i32) -> Option<String> {
        match Self::from_number(number) {
            _ if number == 0 => None,
            Some(value) => Some(value.code().to_owned()),
            None => Some(number.to_string()),
        }
    }
}

macro_rules! short_code {
    ($($ty:ident => $prefix:literal, $what:literal;)+) => {$(
        impl ShortCode for v1::$ty {
            const PREFIX: &'static str = $prefix;
            const WHAT: &'static str = $what;

            fn full_name(self) -> &'static str {
                self.as_str_name()
            }

            fn from_full_name(name: &str) -> Option<Self> {
                v1::$ty::from_str_name(name)
            }

            fn from_number(number: i32) -> Option<Self> {
                v1::$ty::try_from(number).ok()
            }

            fn number(self) -> i32 {
                self as i32
            }
        }
    )+};
}

short_code! {
    Sex => "SEX_", "sex";
    Education => "EDUCATION_", "education";
    EmployerType => "EMPLOYER_TYPE_", "employer type";
    PlacementScheme => "PLACEMENT_SCHEME_", "placement scheme";
    PlacementStatus => "PLACEMENT_STATUS_", "placement status";
    ReturnDateKind => "RETURN_DATE_KIND_", "return date kind";
    ConsentMethod => "CONSENT_METHOD_", "consent method";
    Purpose => "PURPOSE_", "purpose";
}

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
pub(crate) struct Day(pub(crate) time::Date);

impl Day {
    /// Parses `YYYY-MM-DD`, a date that exists.
    pub(crate) fn parse(text: &str) -> Result<Day, String> {
        let fail = || {
            format!(
                "{:?} is not a date of the form YYYY-MM-DD",
                text.chars().take(32).collect::<String>()
            )
        };
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shaped {
            return Err(fail());
        }
        let number = |range: std::ops::Range<usize>| text[range].parse::<u16>().map_err(|_| fail());
        let year = i32::from(number(0..4)?);
        let month = u8::try_from(number(5..7)?)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .ok_or_else(fail)?;
        let day = u8::try_from(number(8..10)?).map_err(|_| fail())?;
        time::Date::from_calendar_date(year, month, day)
            .map(Day)
            .map_err(|_| format!("{text} is not a date that exists"))
    }

    /// The contract's form.
    pub(crate) fn to_proto(self) -> v1::Date {
        v1::Date {
            year: self.0.year(),
            month: i32::from(u8::from(self.0.month())),
            day: i32::from(self.0.day()),
        }
    }

    /// From the contract's form; an impossible date is an error naming it.
    pub(crate) fn from_proto(date: &v1::Date) -> Result<Day, String> {
        let month = u8::try_from(date.month)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok());
        let day = u8::try_from(date.day).ok();
        match (month, day) {
            (Some(month), Some(day)) => time::Date::from_calendar_date(date.year, month, day)
                .map(Day)
                .map_err(|_| Self::describe_proto(date)),
            _ => Err(Self::describe_proto(date)),
        }
    }

    fn describe_proto(date: &v1::Date) -> String {
        format!(
            "{}-{}-{} is not a date that exists",
            date.year, date.month, date.day
        )
    }

    /// A contract date as text, `YYYY-MM-DD`, even when it does not exist.
    pub(crate) fn text_of(date: &v1::Date) -> String {
        format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
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
pub(crate) struct Moment(pub(crate) OffsetDateTime);

impl Moment {
    /// Parses RFC 3339.
    pub(crate) fn parse(text: &str) -> Result<Moment, String> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Moment)
            .map_err(|_| {
                format!(
                    "{:?} is not an RFC 3339 time such as 2025-06-01T08:30:00Z",
                    text.chars().take(40).collect::<String>()
                )
            })
    }

    /// The contract's form.
    pub(crate) fn to_proto(self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.0.unix_timestamp(),
            nanos: i32::try_from(self.0.nanosecond()).unwrap_or(0),
        }
    }

    /// From the contract's form.
    pub(crate) fn from_proto(timestamp: &prost_types::Timestamp) -> Result<Moment, String> {
        let nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map(Moment)
            .map_err(|_| format!("timestamp {}s is out of range", timestamp.seconds))
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        match utc.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{}s", utc.unix_timestamp()),
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

/// Today's date in Jakarta (UTC+7), where the placements' dates are kept.
pub(crate) fn today_in_jakarta() -> time::Date {
    let wib = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(wib).date()
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_parse_and_print_without_their_prefix() {
        assert_eq!(v1::Sex::parse_code("FEMALE"), Ok(v1::Sex::Female));
        assert_eq!(v1::Sex::Female.code(), "FEMALE");
        assert_eq!(
            v1::PlacementStatus::parse_code("CONTRACT_ENDED"),
            Ok(v1::PlacementStatus::ContractEnded)
        );
        let error = v1::Sex::parse_code("UNSPECIFIED").expect_err("unspecified");
        assert!(error.contains("FEMALE, MALE"), "{error}");
        assert!(v1::Sex::parse_code("SEX_FEMALE").is_err());
        assert_eq!(v1::Sex::code_of(0), None);
        assert_eq!(v1::Sex::code_of(2).as_deref(), Some("MALE"));
        assert_eq!(v1::Sex::code_of(9).as_deref(), Some("9"));
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

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(297_434), "297,434");
        assert_eq!(thousands(5_200_000), "5,200,000");
    }
}
