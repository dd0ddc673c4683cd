//! [`v1::Date`] ↔ [`time::Date`], and dates as text, `YYYY-MM-DD`. A date is valid when its
//! year is 1 to 9999 (as `common.proto` says) and the day exists in its month.

use time::Month;

use crate::v1;

/// Why a date or its text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The year is not 1 to 9999.
    #[error("year {0} is not from 1 to 9999")]
    Year(i32),
    /// The month is not 1 to 12.
    #[error("month {0} is not from 1 to 12")]
    Month(i32),
    /// The month has no such day.
    #[error("{year:04}-{month:02} has no day {day}")]
    Day {
        /// The year, 1 to 9999.
        year: i32,
        /// The month, 1 to 12.
        month: i32,
        /// The day that does not exist.
        day: i32,
    },
    /// The text is not of the form `YYYY-MM-DD`; the value is the text, cut to 32 characters.
    #[error("{0:?} is not a date of the form YYYY-MM-DD")]
    Text(String),
}

/// `date` in the contract's form.
pub fn to_proto(date: time::Date) -> v1::Date {
    v1::Date {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

/// The date of a contract date, if it is valid.
pub fn from_proto(date: &v1::Date) -> Result<time::Date, DateError> {
    let v1::Date { year, month, day } = *date;
    if !(1..=9999).contains(&year) {
        return Err(DateError::Year(year));
    }
    let month_of_year = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(DateError::Month(month))?;
    u8::try_from(day)
        .ok()
        .and_then(|d| time::Date::from_calendar_date(year, month_of_year, d).ok())
        .ok_or(DateError::Day { year, month, day })
}

/// The date of `YYYY-MM-DD` text (exactly that: four, two and two digits), if it is valid.
pub fn parse_text(text: &str) -> Result<time::Date, DateError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let number = |from: usize, to: usize| text.get(from..to).and_then(|n| n.parse::<i32>().ok());
    match (shaped, number(0, 4), number(5, 7), number(8, 10)) {
        (true, Some(year), Some(month), Some(day)) => from_proto(&v1::Date { year, month, day }),
        _ => Err(DateError::Text(text.chars().take(32).collect())),
    }
}

/// `date` as `YYYY-MM-DD`.
pub fn to_text(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A contract date as `YYYY-MM-DD` text as it stands, even when it is not valid (for showing
/// what was received).
pub fn proto_text(date: &v1::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(year: i32, month: i32, day: i32) -> v1::Date {
        v1::Date { year, month, day }
    }

    #[test]
    fn valid_dates_round_trip() {
        for (text, date) in [
            ("2024-02-29", proto(2024, 2, 29)),
            ("0001-01-01", proto(1, 1, 1)),
            ("9999-12-31", proto(9999, 12, 31)),
            ("1999-08-05", proto(1999, 8, 5)),
        ] {
            let day = parse_text(text).expect(text);
            assert_eq!(to_text(day), text);
            assert_eq!(to_proto(day), date);
            assert_eq!(from_proto(&date), Ok(day));
            assert_eq!(proto_text(&date), text);
        }
    }

    #[test]
    fn invalid_dates_are_named() {
        assert_eq!(from_proto(&proto(0, 1, 1)), Err(DateError::Year(0)));
        assert_eq!(
            from_proto(&proto(10_000, 1, 1)),
            Err(DateError::Year(10_000))
        );
        assert_eq!(from_proto(&proto(2024, 13, 1)), Err(DateError::Month(13)));
        assert_eq!(from_proto(&proto(2024, 0, 1)), Err(DateError::Month(0)));
        for day in [0, -1, 32, 300] {
            assert_eq!(
                from_proto(&proto(2024, 1, day)),
                Err(DateError::Day {
                    year: 2024,
                    month: 1,
                    day
                })
            );
        }
        let leap = from_proto(&proto(2023, 2, 29)).expect_err("not a leap year");
        assert_eq!(leap.to_string(), "2023-02 has no day 29");
        assert_eq!(proto_text(&proto(2023, 2, 30)), "2023-02-30");
    }

    #[test]
    fn text_must_be_exactly_yyyy_mm_dd() {
        for bad in [
            "2024-2-29",
            "29-02-2024",
            "2024-02-29T00:00",
            "2024/02/29",
            "+024-02-29",
            "2024-02-2",
            "",
        ] {
            assert_eq!(
                parse_text(bad),
                Err(DateError::Text(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_text("2023-02-29"),
            Err(DateError::Day {
                year: 2023,
                month: 2,
                day: 29
            })
        );
        assert_eq!(parse_text("0000-01-01"), Err(DateError::Year(0)));
        assert_eq!(parse_text("2024-13-01"), Err(DateError::Month(13)));
        assert_eq!(
            DateError::Text("05-08-1999".to_owned()).to_string(),
            "\"05-08-1999\" is not a date of the form YYYY-MM-DD"
        );
    }
}
