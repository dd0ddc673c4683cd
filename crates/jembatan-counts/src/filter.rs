//! Which workers a count covers: at most one value per classification, and a return period
//! of whole calendar months. The server checks codes and periods before it builds one.

/// A filter of counts. `None` (or an empty list) does not restrict; conditions are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CountFilter {
    /// An ISCO-08 group: 1 to 4 digits (major, sub-major, minor or unit group).
    pub occupation: Option<String>,
    /// A BNSP certification scheme held.
    pub certificate_scheme: Option<String>,
    /// A province of origin, 2 digits.
    pub province: Option<String>,
    /// A regency of origin, `PP.KK`.
    pub regency: Option<String>,
    /// A destination country, alpha-2.
    pub country: Option<String>,
    /// A language spoken, ISO 639-1.
    pub language: Option<String>,
    /// A placement status code.
    pub status: Option<String>,
    /// Months of return, `YYYY-MM`: those of one calendar month, quarter or year.
    pub return_months: Vec<String>,
    /// Only workers who want to export.
    pub wants_to_export: bool,
    /// An HS chapter of interest, 2 digits.
    pub hs_chapter: Option<String>,
}
