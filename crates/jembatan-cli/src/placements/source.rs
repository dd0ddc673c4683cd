//! Reading a placements file, JSON Lines or CSV, one record at a time with its line number.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use super::record::{CsvLayout, PlacementRecord};

/// The format of a placements file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row and one row per record.
    Csv,
}

impl Format {
    /// The format a file's extension names: `.jsonl`, `.ndjson` or `.json` for JSON Lines,
    /// `.csv` for CSV.
    pub(crate) fn of_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// One record of the file.
#[derive(Debug)]
pub(crate) struct Line {
    /// Its line number in the file, from 1 (for CSV: the line its row starts on).
    pub(crate) number: u64,
    /// The record as given: the JSON object of the line (its text if it is not JSON), or for
    /// CSV the row as column name to cell text.
    pub(crate) original: Value,
    /// The record, or why it cannot be read.
    pub(crate) parsed: Result<PlacementRecord, String>,
}

impl Line {
    /// The record's placement id as given, if it has one.
    pub(crate) fn record_id(&self) -> Option<String> {
        match &self.parsed {
            Ok(record) if !record.placement_id.is_empty() => Some(record.placement_id.clone()),
            _ => self
                .original
                .get("placement_id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        }
    }
}

/// An open placements file.
pub(crate) enum Source {
    /// JSON Lines: the reader and the number of the last line read.
    Jsonl(BufReader<File>, u64),
    /// CSV: the reader and the header's layout.
    Csv(Box<csv::Reader<File>>, CsvLayout),
}

impl Source {
    /// Opens `path`; for CSV, reads and checks the header.
    pub(crate) fn open(path: &Path, format: Format) -> anyhow::Result<Source> {
        let file = File::open(path).with_context(|| path.display().to_string())?;
        match format {
            Format::Jsonl => Ok(Source::Jsonl(BufReader::new(file), 0)),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .from_reader(file);
                let header = reader
                    .headers()
                    .with_context(|| format!("{}: header row", path.display()))?;
                let layout = CsvLayout::from_header(header)
                    .map_err(|e| anyhow::anyhow!("{}: line 1: {e}", path.display()))?;
                Ok(Source::Csv(Box::new(reader), layout))
            }
        }
    }

    /// The number of records in `path`, read quickly without checking them.
    pub(crate) fn count(path: &Path, format: Format) -> anyhow::Result<u64> {
        let file = File::open(path).with_context(|| path.display().to_string())?;
        let mut count = 0;
        match format {
            Format::Jsonl => {
                let mut reader = BufReader::new(file);
                let mut buffer = Vec::new();
                loop {
                    buffer.clear();
                    if reader.read_until(b'\n', &mut buffer)? == 0 {
                        break;
                    }
                    if !buffer.iter().all(u8::is_ascii_whitespace) {
                        count += 1;
                    }
                }
            }
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .from_reader(file);
                let mut record = csv::ByteRecord::new();
                while reader.read_byte_record(&mut record)? {
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// The next record, `None` at the end. A record that cannot be read comes back with its
    /// reason; only a failure to read the file at all is an error.
    pub(crate) fn next_line(&mut self) -> anyhow::Result<Option<Line>> {
        match self {
            Source::Jsonl(reader, number) => next_json_line(reader, number),
            Source::Csv(reader, layout) => next_csv_row(reader, layout),
        }
    }
}

fn next_json_line(reader: &mut BufReader<File>, number: &mut u64) -> anyhow::Result<Option<Line>> {
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(None);
        }
        *number += 1;
        if buffer.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match std::str::from_utf8(&buffer) {
            Ok(text) => text.trim_end_matches(['\n', '\r']),
            Err(_) => {
                return Ok(Some(Line {
                    number: *number,
                    original: Value::String(String::from_utf8_lossy(&buffer).trim_end().to_owned()),
                    parsed: Err("the line is not UTF-8".to_owned()),
                }));
            }
        };
        let line = match serde_json::from_str::<Value>(text) {
            Ok(value) => Line {
                number: *number,
                parsed: PlacementRecord::from_json(&value),
                original: value,
            },
            Err(error) => Line {
                number: *number,
                original: Value::String(text.to_owned()),
                parsed: Err(json_syntax_error(&error)),
            },
        };
        return Ok(Some(line));
    }
}

/// A JSON syntax error of one line, with its column (the line is given elsewhere).
fn json_syntax_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    format!("not a JSON object: {message} (column {})", error.column())
}

fn next_csv_row(
    reader: &mut csv::Reader<File>,
    layout: &CsvLayout,
) -> anyhow::Result<Option<Line>> {
    let mut row = csv::StringRecord::new();
    match reader.read_record(&mut row) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let number = row.position().map_or(0, csv::Position::line);
            let parsed = layout
                .to_json(&row)
                .and_then(|value| PlacementRecord::from_json(&value));
            Ok(Some(Line {
                number,
                original: layout.original(&row),
                parsed,
            }))
        }
        Err(error) => {
            let number = error.position().map_or(0, csv::Position::line);
            let message = match error.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("the row has {len} cells, the header {expected_len}"),
                csv::ErrorKind::Utf8 { .. } => "the row is not UTF-8".to_owned(),
                csv::ErrorKind::Io(_) => return Err(error.into()),
                _ => error.to_string(),
            };
            let cells = row.iter().map(|cell| Value::String(cell.to_owned()));
            Ok(Some(Line {
                number,
                original: Value::Array(cells.collect()),
                parsed: Err(message),
            }))
        }
    }
}
