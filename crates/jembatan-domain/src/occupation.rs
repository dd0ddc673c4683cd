//! Occupations: KBJI 2014 unit groups, identical to the ISCO-08 unit groups at 4 digits, from
//! the reference list embedded in `data/isco08.tsv` (code, tab, title).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use crate::region::parse_table;

/// ISCO-08 unit group code → title.
static UNIT_GROUPS: LazyLock<BTreeMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_table(include_str!("../data/isco08.tsv")));

/// A KBJI 2014 / ISCO-08 unit group, e.g. `9111` (domestic cleaners and helpers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Occupation {
    /// The 4-digit code as it stands in the reference list.
    code: &'static str,
    /// The ISCO-08 title.
    title: &'static str,
}

impl Occupation {
    /// Parses a 4-digit unit group code.
    pub fn parse(text: &str) -> Result<Occupation, String> {
        if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be a 4-digit kbji 2014 / isco-08 unit group code".to_owned());
        }
        UNIT_GROUPS
            .get_key_value(text)
            .map(|(code, title)| Occupation { code, title })
            .ok_or_else(|| "is not a kbji 2014 / isco-08 unit group".to_owned())
    }

    /// The 4-digit code, e.g. `9111`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The ISCO-08 title, e.g. `Domestic cleaners and helpers`.
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// Every unit group of the reference list, in code order.
    pub fn all() -> impl Iterator<Item = Occupation> {
        UNIT_GROUPS
            .iter()
            .map(|(code, title)| Occupation { code, title })
    }
}

impl fmt::Display for Occupation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_list_has_every_unit_group() {
        assert_eq!(Occupation::all().count(), 436);
        let minor: std::collections::BTreeSet<_> =
            Occupation::all().map(|o| &o.code()[..3]).collect();
        assert_eq!(minor.len(), 130);
        for (code, title) in [
            ("0110", "Commissioned armed forces officers"),
            ("9111", "Domestic cleaners and helpers"),
            ("5322", "Home-based personal care workers"),
            ("9211", "Crop farm labourers"),
            ("9313", "Building construction labourers"),
        ] {
            let occupation = Occupation::parse(code).expect(code);
            assert_eq!(occupation.code(), code);
            assert_eq!(occupation.title(), title);
        }
    }

    #[test]
    fn other_codes_are_refused() {
        for text in ["911", "91111", "9110", "9100", "0000", "91a1", ""] {
            assert!(Occupation::parse(text).is_err(), "{text}");
        }
    }
}
