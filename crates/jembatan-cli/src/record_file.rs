//! Reading a file of records, JSON Lines or CSV, one record at a time with its line number.
//!
//! A JSON Lines record mirrors a contract message with snake_case keys, in human form (dates
//! `YYYY-MM-DD`, enum values as short codes); unknown keys are refused. A CSV row is first
//! turned into the same JSON object by its record's [`Column`]s, so that both formats are read,
//! and refused, by the same rules. Reading checks the form of every value; whether a record is
//! valid is the exchange's to decide.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The format of a file of records.
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

    /// `format`, or else the one `path`'s extension names; an error asks for `--format`.
    pub(crate) fn chosen(format: Option<Format>, path: &Path) -> anyhow::Result<Format> {
        match format.or_else(|| Format::of_path(path)) {
            Some(format) => Ok(format),
            None => anyhow::bail!(
                "cannot tell the format of {} by its extension: give --format jsonl or --format csv",
                path.display()
            ),
        }
    }
}

/// A record of a file: read from its JSON object, known by its id.
pub(crate) trait FileRecord: DeserializeOwned {
    /// The key of the record's id, e.g. `placement_id`.
    const ID_KEY: &'static str;
    /// The columns of the record's CSV files, in their documented order.
    const COLUMNS: &'static [Column];

    /// The record's id as given (empty if none).
    fn id(&self) -> &str;

    /// Reads a record from a JSON value (a parsed line, or a CSV row turned into JSON). The
    /// error names the field, e.g. `sex: unknown sex code "F", expected one of FEMALE, MALE`.
    fn from_json(value: &Value) -> Result<Self, String> {
        if !value.is_object() {
            return Err("not a JSON object".to_owned());
        }
        serde_path_to_error::deserialize(value).map_err(|error| {
            let mut path = error.path().to_string();
            let mut message = error.inner().to_string();
            if message.starts_with("unknown field") {
                // The path ends with the unknown key, which the message names; serde lists
                // every known key after it, which is too long to help.
                if let Some(at) = message.find(", expected") {
                    message.truncate(at);
                }
                path = path
                    .rsplit_once('.')
                    .map_or(String::new(), |(parent, _)| parent.to_owned());
            }
            if path.is_empty() || path == "." {
                message
            } else {
                format!("{path}: {message}")
            }
        })
    }

    /// Takes out of an entry of the rejected-lines file what it must not hold; by default
    /// nothing (the file is its owner's, mode 0600).
    fn redact(_entry: &mut Value) {}
}

/// One record of the file.
#[derive(Debug)]
pub(crate) struct Line<R> {
    /// Its line number in the file, from 1 (for CSV: the line its row starts on).
    pub(crate) number: u64,
    /// The record as given: the JSON object of the line (its text if it is not JSON), or for
    /// CSV the row as column name to cell text.
    pub(crate) original: Value,
    /// The record, or why it cannot be read.
    pub(crate) parsed: Result<R, String>,
}

impl<R: FileRecord> Line<R> {
    /// The record's id as given, if it has one.
    pub(crate) fn record_id(&self) -> Option<String> {
        match &self.parsed {
            Ok(record) if !record.id().is_empty() => Some(record.id().to_owned()),
            _ => self
                .original
                .get(R::ID_KEY)
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        }
    }
}

/// An open file of records `R`.
pub(crate) struct Source<R> {
    reader: Reader,
    record: PhantomData<R>,
}

enum Reader {
    /// JSON Lines: the reader and the number of the last line read.
    Jsonl(BufReader<File>, u64),
    /// CSV: the reader and the header's layout.
    Csv(Box<csv::Reader<File>>, CsvLayout),
}

impl<R: FileRecord> Source<R> {
    /// Opens `path`; for CSV, reads and checks the header.
    pub(crate) fn open(path: &Path, format: Format) -> anyhow::Result<Source<R>> {
        let file = File::open(path).with_context(|| path.display().to_string())?;
        let reader = match format {
            Format::Jsonl => Reader::Jsonl(BufReader::new(file), 0),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .from_reader(file);
                let header = reader
                    .headers()
                    .with_context(|| format!("{}: header row", path.display()))?;
                let layout = CsvLayout::from_header(R::COLUMNS, header)
                    .map_err(|e| anyhow::anyhow!("{}: line 1: {e}", path.display()))?;
                Reader::Csv(Box::new(reader), layout)
            }
        };
        Ok(Source {
            reader,
            record: PhantomData,
        })
    }

    /// The next record, `None` at the end. A record that cannot be read comes back with its
    /// reason; only a failure to read the file at all is an error.
    pub(crate) fn next_line(&mut self) -> anyhow::Result<Option<Line<R>>> {
        match &mut self.reader {
            Reader::Jsonl(reader, number) => next_json_line(reader, number),
            Reader::Csv(reader, layout) => next_csv_row(reader, layout),
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

fn next_json_line<R: FileRecord>(
    reader: &mut BufReader<File>,
    number: &mut u64,
) -> anyhow::Result<Option<Line<R>>> {
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
                parsed: R::from_json(&value),
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

fn next_csv_row<R: FileRecord>(
    reader: &mut csv::Reader<File>,
    layout: &CsvLayout,
) -> anyhow::Result<Option<Line<R>>> {
    let mut row = csv::StringRecord::new();
    match reader.read_record(&mut row) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let number = row.position().map_or(0, csv::Position::line);
            let parsed = layout.to_json(&row).and_then(|value| R::from_json(&value));
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

/// How the text of a CSV cell reads as the JSON value of its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Form {
    /// Text as it is: texts, codes, dates and times.
    Text,
    /// A whole number; other text stays text, which the record then refuses naming the field.
    Integer,
    /// `true` or `false`, in any case; other text stays text.
    Flag,
    /// Texts separated by this character.
    List(char),
    /// A value of its own form, read by the function; the error names what does not fit.
    Parsed(fn(&str) -> Result<Value, String>),
}

impl Form {
    /// The JSON value of a non-empty cell; only [`Form::Parsed`] can fail here.
    pub(crate) fn read(self, text: &str) -> Result<Value, String> {
        Ok(match self {
            Form::Text => Value::String(text.to_owned()),
            Form::Integer => text
                .parse::<u64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            Form::Flag => match text.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(text.to_owned()),
            },
            Form::List(separator) => Value::Array(
                text.split(separator)
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            ),
            Form::Parsed(parse) => parse(text)?,
        })
    }
}

/// A column of a CSV file: the key of the record's JSON object it fills, in the record itself
/// or in one of its nested objects, and the form of its text.
#[derive(Debug)]
pub(crate) struct Column {
    /// The name in the header.
    pub(crate) name: &'static str,
    /// The nested object, e.g. `sector`; `None` for the record itself.
    pub(crate) within: Option<&'static str>,
    /// The key in that object.
    pub(crate) key: &'static str,
    /// How the cell reads.
    pub(crate) form: Form,
}

impl Column {
    /// A column of the record's key of the same name.
    pub(crate) const fn top(name: &'static str, form: Form) -> Column {
        Column {
            name,
            within: None,
            key: name,
            form,
        }
    }

    /// A column of `key` in the record's nested object `within`.
    pub(crate) const fn nested(
        name: &'static str,
        within: &'static str,
        key: &'static str,
        form: Form,
    ) -> Column {
        Column {
            name,
            within: Some(within),
            key,
            form,
        }
    }
}

/// The layout of a CSV file: which known column each cell of a row is.
#[derive(Debug, Clone)]
pub(crate) struct CsvLayout {
    /// Every column the record has, in their documented order.
    known: &'static [Column],
    /// The file's columns, in the header's order.
    columns: Vec<&'static Column>,
}

impl CsvLayout {
    /// Checks a header row against the `known` columns: every column must be known and given
    /// once. Columns may come in any order, and columns left out are empty.
    pub(crate) fn from_header(
        known: &'static [Column],
        header: &csv::StringRecord,
    ) -> Result<CsvLayout, String> {
        let mut seen = HashSet::new();
        let mut columns = Vec::with_capacity(header.len());
        for name in header {
            let name = name.trim();
            let column = known
                .iter()
                .find(|column| column.name == name)
                .ok_or_else(|| {
                    format!(
                        "unknown column {:?} in the header (columns: {})",
                        name.chars().take(64).collect::<String>(),
                        known.iter().map(|c| c.name).collect::<Vec<_>>().join(",")
                    )
                })?;
            if !seen.insert(column.name) {
                return Err(format!(
                    "column {:?} appears twice in the header",
                    column.name
                ));
            }
            columns.push(column);
        }
        Ok(CsvLayout { known, columns })
    }

    /// The row as given: column name to cell text, for the rejected-lines file.
    pub(crate) fn original(&self, row: &csv::StringRecord) -> Value {
        Value::Object(
            self.columns
                .iter()
                .zip(row.iter())
                .map(|(column, cell)| (column.name.to_owned(), Value::String(cell.to_owned())))
                .collect(),
        )
    }

    /// The row as the JSON object a JSON Lines file would hold for it; a cell that cannot be
    /// turned into its part of the object is an error naming the column.
    pub(crate) fn to_json(&self, row: &csv::StringRecord) -> Result<Value, String> {
        let mut cells: HashMap<&str, &str> = self
            .columns
            .iter()
            .zip(row.iter())
            .map(|(column, cell)| (column.name, cell.trim()))
            .filter(|(_, cell)| !cell.is_empty())
            .collect();
        // Reading the object stops at its first bad value, in key order: the record's plain
        // texts go first, then the other columns, so that a bad code or date is named before a
        // bad number, list or nested value.
        let (texts, others): (Vec<&Column>, Vec<&Column>) = self
            .known
            .iter()
            .partition(|column| column.within.is_none() && matches!(column.form, Form::Text));
        let mut record = Map::new();
        for column in texts.into_iter().chain(others) {
            let Some(text) = cells.remove(column.name) else {
                continue;
            };
            let value = column.form.read(text)?;
            let object = match column.within {
                None => &mut record,
                Some(within) => record
                    .entry(within)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .ok_or_else(|| format!("{within}: not an object"))?,
            };
            object.insert(column.key.to_owned(), value);
        }
        Ok(Value::Object(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_cells_split_on_their_separator() {
        assert_eq!(
            Form::List('|').read("0901 | 090111||21").expect("a list"),
            serde_json::json!(["0901", "090111", "21"])
        );
        assert_eq!(
            Form::List(';').read("a|b").expect("a list"),
            serde_json::json!(["a|b"])
        );
    }

    #[test]
    fn the_format_is_given_or_read_from_the_extension() {
        assert_eq!(
            Format::chosen(None, Path::new("a.NDJSON")).expect("jsonl"),
            Format::Jsonl
        );
        assert_eq!(
            Format::chosen(Some(Format::Csv), Path::new("a.txt")).expect("csv"),
            Format::Csv
        );
        let error = Format::chosen(None, Path::new("a.txt")).expect_err("unknown");
        assert!(error.to_string().contains("--format"), "{error}");
    }
}
