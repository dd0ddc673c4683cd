//! The NIK (Nomor Induk Kependudukan), Indonesia's 16-digit national identity number:
//! `PPKKCC DDMMYY SSSS`, the kecamatan of registration, the birth date (women: day + 40) and a
//! serial that is never `0000`. It has no checksum.

use std::fmt;

use crate::Sex;
use crate::region::is_province;

/// A NIK whose shape is valid: 16 digits, a known province, a possible birth date and a serial
/// other than `0000`.
///
/// Its [`Debug`](fmt::Debug) form hides the digits, so that a NIK does not leak into logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nik(String);

impl Nik {
    /// Parses a NIK; the reason of a refusal never echoes the digits.
    pub fn parse(text: &str) -> Result<Nik, String> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err("must be exactly 16 digits".to_owned());
        }
        if !is_province(&text[0..2]) {
            return Err("does not start with a known province code".to_owned());
        }
        let day = two_digits(bytes, 6);
        let month = two_digits(bytes, 8);
        if !(1..=12).contains(&month) {
            return Err("birth month (digits 9-10) must be 01 to 12".to_owned());
        }
        let day_of_month = if day > 40 { day - 40 } else { day };
        if day_of_month == 0 || day_of_month > max_day_of_month(month) {
            return Err(
                "birth day (digits 7-8) must be a day of the month, plus 40 for women".to_owned(),
            );
        }
        if &text[12..16] == "0000" {
            return Err("serial (digits 13-16) must not be 0000".to_owned());
        }
        Ok(Nik(text.to_owned()))
    }

    /// The 16 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sex the NIK encodes: female when the birth day is given plus 40.
    pub fn sex(&self) -> Sex {
        if two_digits(self.0.as_bytes(), 6) > 40 {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    /// Checks that the NIK's birth day, month and two-digit year agree with `sex` and
    /// `birth_date`; the reason of a refusal never echoes the digits.
    pub fn check_against(&self, sex: Sex, birth_date: time::Date) -> Result<(), String> {
        let bytes = self.0.as_bytes();
        let day = two_digits(bytes, 6);
        let month = two_digits(bytes, 8);
        let year = two_digits(bytes, 10);
        if self.sex() != sex {
            return Err("nik birth day encoding does not agree with sex".to_owned());
        }
        let expected_day = match sex {
            Sex::Female => birth_date.day() + 40,
            Sex::Male => birth_date.day(),
        };
        let expected_year = u8::try_from(birth_date.year().rem_euclid(100)).unwrap_or(u8::MAX);
        if day != expected_day || month != u8::from(birth_date.month()) || year != expected_year {
            return Err("nik birth date does not agree with birth_date".to_owned());
        }
        Ok(())
    }
}

/// The number written by the two ASCII digits at `at` (checked by the caller).
fn two_digits(bytes: &[u8], at: usize) -> u8 {
    (bytes[at] - b'0') * 10 + (bytes[at + 1] - b'0')
}

/// The longest a month can be in any year (February: 29, the century being unknown).
fn max_day_of_month(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nik(****************)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date;

    /// A woman born on 1 July 1990 in Kabupaten Malang.
    const WOMAN: &str = "3507014107900001";

    #[test]
    fn a_well_formed_nik_parses() {
        let nik = Nik::parse(WOMAN).expect("valid");
        assert_eq!(nik.as_str(), WOMAN);
        assert_eq!(nik.sex(), Sex::Female);
        assert_eq!(
            Nik::parse("3507010107900001").expect("valid").sex(),
            Sex::Male
        );
    }

    #[test]
    fn malformed_niks_are_refused_without_echoing_digits() {
        for (text, why) in [
            ("350701410790001", "16 digits"),
            ("35070141079000011", "16 digits"),
            ("35070141079000a1", "16 digits"),
            ("３５07014107900001", "16 digits"),
            ("9907014107900001", "province"),
            ("2007014107900001", "province"),
            ("3507010013900001", "month"),
            ("3507010007900001", "day"),
            ("3507013207900001", "day"),
            ("3507017207900001", "day"),
            ("3507014007900001", "day"),
            ("3507013102900001", "day"),
            ("3507014107900000", "serial"),
        ] {
            let reason = Nik::parse(text).expect_err(text);
            assert!(reason.contains(why), "{text}: {reason}");
            assert!(!reason.contains(&text[6..12]), "{reason}");
        }
        assert!(Nik::parse("3507016902000001").is_ok(), "29 February, women");
    }

    #[test]
    fn the_nik_is_checked_against_sex_and_birth_date() {
        let nik = Nik::parse(WOMAN).expect("valid");
        let born = date(1990, 7, 1).expect("date");
        assert_eq!(nik.check_against(Sex::Female, born), Ok(()));
        assert!(nik.check_against(Sex::Male, born).is_err());
        for other in [date(1990, 7, 2), date(1990, 8, 1), date(1991, 7, 1)] {
            let other = other.expect("date");
            let reason = nik.check_against(Sex::Female, other).expect_err("differs");
            assert_eq!(reason, "nik birth date does not agree with birth_date");
        }
        let next_century = date(2090, 7, 1).expect("date");
        assert_eq!(
            nik.check_against(Sex::Female, next_century),
            Ok(()),
            "the NIK does not encode the century"
        );
        let man = Nik::parse("3507010107900001").expect("valid");
        assert_eq!(man.check_against(Sex::Male, born), Ok(()));
        assert!(man.check_against(Sex::Female, born).is_err());
    }

    #[test]
    fn debug_hides_the_digits() {
        let nik = Nik::parse(WOMAN).expect("valid");
        assert!(!format!("{nik:?}").contains("3507"));
    }
}
