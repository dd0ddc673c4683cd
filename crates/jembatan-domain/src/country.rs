//! Countries: the officially assigned ISO 3166-1 alpha-2 codes, from the reference list
//! embedded in `data/iso3166.tsv` (code, tab, short name).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use crate::region::parse_table;

/// Alpha-2 code → short name.
static COUNTRIES: LazyLock<BTreeMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_table(include_str!("../data/iso3166.tsv")));

/// An officially assigned ISO 3166-1 alpha-2 country code, upper case, e.g. `HK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country {
    /// The code as it stands in the reference list.
    code: &'static str,
    /// The ISO short name.
    name: &'static str,
}

impl Country {
    /// Parses an alpha-2 code; lower case is refused.
    pub fn parse(text: &str) -> Result<Country, String> {
        if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err("must be an iso 3166-1 alpha-2 code in upper case".to_owned());
        }
        COUNTRIES
            .get_key_value(text)
            .map(|(code, name)| Country { code, name })
            .ok_or_else(|| "is not an officially assigned iso 3166-1 alpha-2 code".to_owned())
    }

    /// The alpha-2 code, e.g. `HK`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The ISO short name, e.g. `Hong Kong`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Every country of the reference list, in code order.
    pub fn all() -> impl Iterator<Item = Country> {
        COUNTRIES.iter().map(|(code, name)| Country { code, name })
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_officially_assigned_code_is_known() {
        assert_eq!(Country::all().count(), 249);
        for (code, name) in [("HK", "Hong Kong"), ("MY", "Malaysia"), ("ID", "Indonesia")] {
            let country = Country::parse(code).expect(code);
            assert_eq!((country.code(), country.name()), (code, name));
        }
        for code in ["TW", "SA", "KR", "JP", "SG", "BN", "ZM", "PG"] {
            assert!(Country::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn other_codes_are_refused() {
        for text in ["hk", "Hk", "HKG", "H", "", "XK", "UK", "EU", "AA", "ZZ"] {
            assert!(Country::parse(text).is_err(), "{text}");
        }
    }
}
