//! Kemendagri region codes: the 38 provinces and their regencies (kabupaten, `PP.01`–`PP.69`)
//! and cities (kota, `PP.71`–`PP.99`), from the reference list embedded in
//! `data/provinces.tsv` and `data/regencies.tsv` (code, tab, name).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

/// Province code → name.
static PROVINCES: LazyLock<BTreeMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_table(include_str!("../data/provinces.tsv")));

/// Regency or city code (`PP.KK`) → name.
static REGENCIES: LazyLock<BTreeMap<&'static str, &'static str>> =
    LazyLock::new(|| parse_table(include_str!("../data/regencies.tsv")));

/// Reads `code<TAB>name` lines, skipping blank lines and `#` comments.
pub(crate) fn parse_table(text: &'static str) -> BTreeMap<&'static str, &'static str> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .collect()
}

/// Whether `code` is one of the 38 province codes.
pub(crate) fn is_province(code: &str) -> bool {
    PROVINCES.contains_key(code)
}

/// The province code `code` as it stands in the reference list, if it is one.
pub(crate) fn province_code(code: &str) -> Option<&'static str> {
    PROVINCES.get_key_value(code).map(|(code, _)| *code)
}

/// The name of a province, e.g. `Jawa Timur` for `35`, or `None` for an unknown code.
pub fn province_name(code: &str) -> Option<&'static str> {
    PROVINCES.get(code).copied()
}

/// A Kemendagri regency (kabupaten) or city (kota) code, `PP.KK`, known to the reference list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Regency {
    /// The code as it stands in the reference list.
    code: &'static str,
    /// The official name.
    name: &'static str,
}

impl Regency {
    /// Parses a regency or city code, `PP.KK`, e.g. `35.07`.
    pub fn parse(text: &str) -> Result<Regency, String> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 5
            && bytes[2] == b'.'
            && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
        if !shaped {
            return Err("must be a kemendagri regency or city code of the form PP.KK".to_owned());
        }
        if !is_province(&text[0..2]) {
            return Err("province part is not a known province code".to_owned());
        }
        REGENCIES
            .get_key_value(text)
            .map(|(code, name)| Regency { code, name })
            .ok_or_else(|| "is not a known regency or city of its province".to_owned())
    }

    /// The code, e.g. `35.07`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The province part of the code, e.g. `35`.
    pub fn province(&self) -> &'static str {
        &self.code[0..2]
    }

    /// The official name, e.g. `Kabupaten Malang`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The name of the province, e.g. `Jawa Timur`.
    pub fn province_name(&self) -> &'static str {
        province_name(self.province()).unwrap_or_default()
    }

    /// Whether this is a city (kota, `KK` 71 and above) rather than a regency.
    pub fn is_city(&self) -> bool {
        self.code.as_bytes()[3] >= b'7'
    }

    /// Every regency and city of the reference list, in code order.
    pub fn all() -> impl Iterator<Item = Regency> {
        REGENCIES.iter().map(|(code, name)| Regency { code, name })
    }
}

impl fmt::Display for Regency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_list_is_complete() {
        assert_eq!(PROVINCES.len(), 38);
        assert_eq!(REGENCIES.len(), 514);
        assert_eq!(Regency::all().filter(Regency::is_city).count(), 98);
        for regency in Regency::all() {
            assert!(is_province(regency.province()), "{}", regency.code());
            assert_eq!(Regency::parse(regency.code()).as_ref(), Ok(&regency));
            assert!(
                regency.name().starts_with(if regency.is_city() {
                    "Kota "
                } else {
                    "Kabupaten "
                }),
                "{}",
                regency.name()
            );
        }
        let with_regencies: BTreeMap<_, _> = Regency::all()
            .map(|r| (r.province().to_owned(), ()))
            .collect();
        assert_eq!(with_regencies.len(), 38, "every province has a regency");
    }

    #[test]
    fn known_regencies_parse() {
        for (code, name, province) in [
            ("35.07", "Kabupaten Malang", "Jawa Timur"),
            ("35.78", "Kota Surabaya", "Jawa Timur"),
            (
                "31.71",
                "Kota Administrasi Jakarta Pusat",
                "Daerah Khusus Ibukota Jakarta",
            ),
            (
                "31.74",
                "Kota Administrasi Jakarta Selatan",
                "Daerah Khusus Ibukota Jakarta",
            ),
            ("51.71", "Kota Denpasar", "Bali"),
            ("52.03", "Kabupaten Lombok Timur", "Nusa Tenggara Barat"),
            ("96.71", "Kota Sorong", "Papua Barat Daya"),
            ("91.03", "Kabupaten Jayapura", "Papua"),
        ] {
            let regency = Regency::parse(code).expect(code);
            assert_eq!(regency.code(), code);
            assert_eq!(regency.province(), &code[..2]);
            assert_eq!(regency.name(), name);
            assert_eq!(regency.province_name(), province);
        }
    }

    #[test]
    fn unknown_or_malformed_codes_are_refused() {
        for (text, why) in [
            ("3507", "PP.KK"),
            ("35-07", "PP.KK"),
            ("35.7", "PP.KK"),
            (" 35.07", "PP.KK"),
            ("35.07.01", "PP.KK"),
            ("99.01", "province"),
            ("35.30", "not a known"),
            ("35.00", "not a known"),
            ("91.01", "not a known"),
        ] {
            let reason = Regency::parse(text).expect_err(text);
            assert!(reason.contains(why), "{text}: {reason}");
        }
    }
}
