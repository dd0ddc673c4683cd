//! The domain's parsers: the NIK and every code table.

use jembatan_domain::hs::{HsChapter, HsCode, parse_prefix};
use jembatan_domain::region::{Regency, province_name};
use jembatan_domain::{Country, Language, LegalBasis, Nik, Occupation, Purpose};

/// The NIK: an accepted one is 16 digits and parses again as itself.
pub fn nik(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    match Nik::parse(text) {
        Ok(nik) => {
            assert_eq!(nik.as_str(), text, "a NIK is taken as given");
            assert!(nik.as_str().bytes().all(|b| b.is_ascii_digit()));
            let _ = nik.sex();
        }
        // A refusal never echoes digits that might be a NIK. (Not any text: the first version
        // of this check failed on " exactly 16 digi", which the refusal quotes.)
        Err(reason) => {
            let digits = text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit());
            assert!(!digits || !reason.contains(text));
        }
    }
}

/// Every code-table lookup: an accepted code is the table's own and parses again as itself.
pub fn codes(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    if let Ok(occupation) = Occupation::parse(text) {
        assert_eq!(occupation.code(), text);
    }
    if let Ok(regency) = Regency::parse(text) {
        assert_eq!(Regency::parse(regency.code()), Ok(regency.clone()));
        assert_eq!(
            province_name(regency.province()),
            Some(regency.province_name())
        );
    }
    if let Ok(country) = Country::parse(text) {
        assert_eq!(
            Country::parse(country.code()).map(|c| c.code()),
            Ok(country.code())
        );
    }
    if let Ok(language) = Language::parse(text) {
        assert_eq!(
            Language::parse(language.code()).map(|l| l.code()),
            Ok(language.code())
        );
    }
    if let Ok(chapter) = HsChapter::parse(text) {
        assert_eq!(HsChapter::parse(chapter.code()), Ok(chapter));
    }
    if let Ok(code) = HsCode::parse(text) {
        assert_eq!(code.as_str(), text);
        assert_eq!(code.chapter().code(), &text[..2]);
    }
    if let Ok(prefix) = parse_prefix(text) {
        assert!(prefix.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(purpose) = text.parse::<Purpose>() {
        assert_eq!(purpose.code(), text);
    }
    if let Ok(basis) = text.parse::<LegalBasis>() {
        assert_eq!(basis.code(), text);
    }
}
