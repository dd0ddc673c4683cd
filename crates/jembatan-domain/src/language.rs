//! Languages: the ISO 639-1 two-letter codes, from the reference list embedded in
//! `data/iso639-1.tsv` (code, tab, English name).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use crate::region::parse_table;

/// ISO 639-1 code → English name.
static LANGUAGES: LazyLock<BTreeMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_table(include_str!("../data/iso639-1.tsv")));

/// An ISO 639-1 language code, lower case, e.g. `id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language {
    /// The code as it stands in the reference list.
    code: &'static str,
    /// The English name.
    name: &'static str,
}

impl Language {
    /// Parses a two-letter code; upper case is refused.
    pub fn parse(text: &str) -> Result<Language, String> {
        if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err("must be an iso 639-1 code in lower case".to_owned());
        }
        LANGUAGES
            .get_key_value(text)
            .map(|(code, name)| Language { code, name })
            .ok_or_else(|| "is not an iso 639-1 language code".to_owned())
    }

    /// The two-letter code, e.g. `id`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The English name, e.g. `Indonesian`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Every language of the reference list, in code order.
    pub fn all() -> impl Iterator<Item = Language> {
        LANGUAGES.iter().map(|(code, name)| Language { code, name })
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_letter_codes_are_known() {
        assert_eq!(Language::all().count(), 184);
        for (code, name) in [("id", "Indonesian"), ("jv", "Javanese"), ("zh", "Chinese")] {
            let language = Language::parse(code).expect(code);
            assert_eq!((language.code(), language.name()), (code, name));
        }
    }

    #[test]
    fn other_codes_are_refused() {
        for text in ["ID", "ind", "i", "", "zz", "in", "iw"] {
            assert!(Language::parse(text).is_err(), "{text}");
        }
    }
}
