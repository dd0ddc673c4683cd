//! The HS 2022 nomenclature (World Customs Organization): chapters (2 digits), headings (4) and
//! subheadings (6), from the reference list embedded in `data/hs2022.tsv` (code, tab,
//! description; see `data/hs2022.README.md`), and Indonesia's 8-digit BTKI 2022 codes, whose
//! first 6 digits are a subheading.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use crate::region::parse_table;

/// Chapter, heading or subheading code → description.
static CODES: LazyLock<BTreeMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_table(include_str!("../data/hs2022.tsv")));

/// Whether `text` is only ASCII digits.
fn is_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// An HS 2022 chapter, e.g. `09` (coffee, tea, mate and spices): `01` to `97`, `77` being
/// reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HsChapter {
    /// The 2 digits as they stand in the reference list.
    code: &'static str,
    /// The description in the nomenclature.
    title: &'static str,
}

impl HsChapter {
    /// Parses a 2-digit chapter code.
    pub fn parse(text: &str) -> Result<HsChapter, String> {
        if text.len() != 2 || !is_digits(text) {
            return Err("must be a 2-digit hs 2022 chapter".to_owned());
        }
        HsChapter::find(text).ok_or_else(|| "is not an hs 2022 chapter".to_owned())
    }

    /// The chapter of the reference list whose code is `code`, if any.
    fn find(code: &str) -> Option<HsChapter> {
        CODES
            .get_key_value(code)
            .filter(|(code, _)| code.len() == 2)
            .map(|(code, title)| HsChapter { code, title })
    }

    /// The 2 digits, e.g. `09`.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// The description, e.g. `Coffee, tea, mate and spices`.
    pub fn title(self) -> &'static str {
        self.title
    }

    /// Every chapter of the nomenclature, in code order.
    pub fn all() -> impl Iterator<Item = HsChapter> {
        CODES
            .iter()
            .filter(|(code, _)| code.len() == 2)
            .map(|(code, title)| HsChapter { code, title })
    }
}

impl fmt::Display for HsChapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An HS 2022 chapter (2 digits), heading (4) or subheading (6) of the nomenclature, or a BTKI
/// 2022 code (8 digits) whose first 6 digits are a subheading, e.g. `0901`, `09011110`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HsCode {
    /// The digits.
    code: String,
    /// The description of the code, or, for 8 digits, of its subheading.
    title: &'static str,
    /// The chapter of the first 2 digits.
    chapter: HsChapter,
}

impl HsCode {
    /// Parses a code of 2, 4, 6 or 8 digits; the reason of a refusal says which level is
    /// unknown.
    pub fn parse(text: &str) -> Result<HsCode, String> {
        if !matches!(text.len(), 2 | 4 | 6 | 8) || !is_digits(text) {
            return Err("must be 2, 4, 6 or 8 digits".to_owned());
        }
        let Some(chapter) = HsChapter::find(&text[..2]) else {
            return Err(if text.len() == 2 {
                "is not an hs 2022 chapter"
            } else {
                "does not start with an hs 2022 chapter"
            }
            .to_owned());
        };
        let (described, unknown) = match text.len() {
            2 => (text, "is not an hs 2022 chapter"),
            4 => (text, "is not an hs 2022 heading"),
            6 => (text, "is not an hs 2022 subheading"),
            _ => (&text[..6], "does not start with an hs 2022 subheading"),
        };
        let title = CODES.get(described).ok_or_else(|| unknown.to_owned())?;
        Ok(HsCode {
            code: text.to_owned(),
            title,
            chapter,
        })
    }

    /// The digits, e.g. `0901`.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The chapter, e.g. `09` for `0901`.
    pub fn chapter(&self) -> HsChapter {
        self.chapter
    }

    /// The description of a chapter, heading or subheading; of an 8-digit BTKI code, its
    /// subheading's.
    pub fn title(&self) -> &'static str {
        self.title
    }
}

impl fmt::Display for HsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// Parses a query prefix of HS codes: 2 to 8 digits starting with a chapter; 4 digits must be
/// a heading and 6 a subheading, 3 and 5 the start of one, 7 and 8 must start with a
/// subheading. Returns the prefix.
pub fn parse_prefix(text: &str) -> Result<String, String> {
    if !(2..=8).contains(&text.len()) || !is_digits(text) {
        return Err("must be 2 to 8 digits".to_owned());
    }
    if HsChapter::find(&text[..2]).is_none() {
        return Err("does not start with an hs 2022 chapter".to_owned());
    }
    let known = match text.len() {
        2 => Ok(()),
        4 | 6 if CODES.contains_key(text) => Ok(()),
        4 => Err("is not an hs 2022 heading"),
        6 => Err("is not an hs 2022 subheading"),
        3 | 5 => {
            // Codes that start with `text` sort right after it.
            let starts_one = CODES
                .range(text..)
                .next()
                .is_some_and(|(code, _)| code.starts_with(text));
            if starts_one {
                Ok(())
            } else {
                Err("is the start of no hs 2022 heading or subheading")
            }
        }
        _ if CODES.contains_key(&text[..6]) => Ok(()),
        _ => Err("does not start with an hs 2022 subheading"),
    };
    known.map(|()| text.to_owned()).map_err(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_list_is_the_whole_nomenclature() {
        let chapters: Vec<&str> = HsChapter::all().map(HsChapter::code).collect();
        let expected: Vec<String> = (1..=97)
            .filter(|n| *n != 77)
            .map(|n| format!("{n:02}"))
            .collect();
        assert_eq!(chapters, expected, "01 to 97 without 77");
        let at = |digits: usize| CODES.keys().filter(|code| code.len() == digits).count();
        assert_eq!((at(2), at(4), at(6)), (96, 1228, 5612));
        assert_eq!(CODES.len(), 96 + 1228 + 5612, "no other lines");
        for (code, title) in CODES.iter() {
            assert!(is_digits(code), "{code}");
            assert!(!title.is_empty() && title.trim() == *title, "{code}");
            if code.len() > 2 {
                let parent = &code[..code.len() - 2];
                assert!(CODES.contains_key(parent), "{code} without {parent}");
            }
            assert_eq!(HsCode::parse(code).map(|c| c.title()), Ok(*title));
        }
    }

    #[test]
    fn codes_of_every_level_parse() {
        for (code, title, chapter) in [
            ("09", "Coffee, tea, mate and spices", "09"),
            (
                "0901",
                "Coffee, whether or not roasted or decaffeinated; husks and skins; coffee \
                 substitutes containing coffee in any proportion",
                "09",
            ),
            ("090111", "Coffee; not roasted or decaffeinated", "09"),
            ("09011110", "Coffee; not roasted or decaffeinated", "09"),
            (
                "610910",
                "T-shirts, singlets and other vests; of cotton, knitted or crocheted",
                "61",
            ),
            ("97", "Works of art; collectors' pieces and antiques", "97"),
        ] {
            let parsed = HsCode::parse(code).expect(code);
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.to_string(), code);
            assert_eq!(parsed.title(), title, "{code}");
            assert_eq!(parsed.chapter().code(), chapter);
            assert_eq!(parsed.chapter(), HsChapter::parse(chapter).expect(chapter));
        }
        assert_eq!(
            HsChapter::parse("61").map(HsChapter::title),
            Ok("Apparel and clothing accessories; knitted or crocheted")
        );
    }

    #[test]
    fn other_codes_are_refused_with_the_level_named() {
        for (text, why) in [
            ("", "2, 4, 6 or 8 digits"),
            ("9", "2, 4, 6 or 8 digits"),
            ("090", "2, 4, 6 or 8 digits"),
            ("09011", "2, 4, 6 or 8 digits"),
            ("0901111", "2, 4, 6 or 8 digits"),
            ("090111100", "2, 4, 6 or 8 digits"),
            ("0901.11", "2, 4, 6 or 8 digits"),
            (" 0901", "2, 4, 6 or 8 digits"),
            ("09a1", "2, 4, 6 or 8 digits"),
            ("０９", "2, 4, 6 or 8 digits"),
            ("00", "is not an hs 2022 chapter"),
            ("77", "is not an hs 2022 chapter"),
            ("98", "is not an hs 2022 chapter"),
            ("99", "is not an hs 2022 chapter"),
            ("9999", "does not start with an hs 2022 chapter"),
            ("77010000", "does not start with an hs 2022 chapter"),
            ("0999", "is not an hs 2022 heading"),
            ("090199", "is not an hs 2022 subheading"),
            ("09019900", "does not start with an hs 2022 subheading"),
        ] {
            let reason = HsCode::parse(text).expect_err(text);
            assert!(reason.contains(why), "{text:?}: {reason}");
        }
        for text in ["9", "090", "0901", "00", "77", "98", "99", "7a"] {
            assert!(HsChapter::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn query_prefixes_must_lead_somewhere() {
        for text in [
            "09", "090", "0901", "09011", "09019", "090111", "0901111", "09011110",
        ] {
            assert_eq!(parse_prefix(text).as_deref(), Ok(text));
        }
        for (text, why) in [
            ("0", "2 to 8 digits"),
            ("090111101", "2 to 8 digits"),
            ("09-1", "2 to 8 digits"),
            ("77", "chapter"),
            ("991", "chapter"),
            ("099", "is the start of no"),
            ("09015", "is the start of no"),
            ("0999", "heading"),
            ("090199", "subheading"),
            ("0901991", "subheading"),
        ] {
            let reason = parse_prefix(text).expect_err(text);
            assert!(reason.contains(why), "{text}: {reason}");
        }
    }
}
