//! Calendar dates as the contract carries them: a year, a month and a day, each an `int32`.

/// The date of `year` (1 to 9999), `month` (1 to 12) and `day` (valid for the month), or why not.
pub fn date(year: i32, month: i32, day: i32) -> Result<time::Date, String> {
    if !(1..=9999).contains(&year) {
        return Err("year must be 1 to 9999".to_owned());
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| "month must be 1 to 12".to_owned())?;
    let day = u8::try_from(day)
        .ok()
        .filter(|d| *d >= 1)
        .ok_or_else(|| "day must be a day of the month".to_owned())?;
    time::Date::from_calendar_date(year, month, day)
        .map_err(|_| "day must be a day of the month".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates_are_accepted() {
        let leap = date(2024, 2, 29).expect("leap day");
        assert_eq!(
            (leap.year(), u8::from(leap.month()), leap.day()),
            (2024, 2, 29)
        );
        assert!(date(1, 1, 1).is_ok());
        assert!(date(9999, 12, 31).is_ok());
    }

    #[test]
    fn impossible_dates_are_refused() {
        for (y, m, d, why) in [
            (0, 1, 1, "year"),
            (10_000, 1, 1, "year"),
            (-5, 1, 1, "year"),
            (2023, 0, 1, "month"),
            (2023, 13, 1, "month"),
            (2023, -1, 1, "month"),
            (2023, 2, 29, "day"),
            (2023, 4, 31, "day"),
            (2023, 1, 0, "day"),
            (2023, 1, 256, "day"),
            (0, 0, 0, "year"),
        ] {
            let reason = date(y, m, d).expect_err("invalid");
            assert!(reason.contains(why), "{y}-{m}-{d}: {reason}");
        }
    }
}
