//! Today's date as the commands take it. The contract values of files (codes, dates, times) are
//! `jembatan_records::codes`.

use time::OffsetDateTime;

/// Today's date in Jakarta (UTC+7), where the placements' dates are kept.
pub(crate) fn today_in_jakarta() -> time::Date {
    let wib = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(wib).date()
}
