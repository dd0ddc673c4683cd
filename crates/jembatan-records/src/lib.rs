//! The partner files the `jembatan` command reads: placements, market reports, export programs
//! and enrolments, as CSV or JSON Lines, one record at a time with its line number.
//!
//! A JSON Lines record mirrors a contract message with snake_case keys, in human form (dates
//! `YYYY-MM-DD`, enum values as short codes); unknown keys are refused. A CSV row is first
//! turned into the same JSON object, so that both formats are read, and refused, by the same
//! rules. Reading checks the form of every value; whether a record is valid is the exchange's
//! to decide. The formats are documented in `docs/placements-file.md` and
//! `docs/market-and-programs-files.md`.

#![forbid(unsafe_code)]

pub mod codes;
mod file;
pub mod market;
pub mod placement;
pub mod programs;

use std::path::PathBuf;

pub use file::{Column, FileRecord, Format, Line, Source, count, count_in};

/// Why a file of records cannot be read at all. A record that cannot be read is no error: it
/// comes as a [`Line`] with its reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither a format was given nor does the file's extension name one.
    #[error(
        "cannot tell the format of {} by its extension: give --format jsonl or --format csv",
        .0.display()
    )]
    UnknownFormat(PathBuf),
    /// The file cannot be opened.
    #[error("{}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The header row of a CSV file cannot be read.
    #[error("{}: header row", .origin.display())]
    Header {
        /// The file.
        origin: PathBuf,
        /// Why.
        #[source]
        source: csv::Error,
    },
    /// The header row of a CSV file names a column the record does not have, or one twice.
    #[error("{}: line {line}: {reason}", .origin.display())]
    Columns {
        /// The file.
        origin: PathBuf,
        /// The header's line.
        line: u64,
        /// The column and what is wrong with it.
        reason: String,
    },
    /// Reading the file failed.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// Reading a CSV file failed.
    #[error(transparent)]
    Csv(#[from] csv::Error),
}
