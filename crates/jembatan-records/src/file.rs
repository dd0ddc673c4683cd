//! Reading a file of records, JSON Lines or CSV, one record at a time with its line number.
//!
//! A JSON Lines record mirrors a contract message with snake_case keys, in human form (dates
//! `YYYY-MM-DD`, enum values as short codes); unknown keys are refused. A CSV row is first
//! turned into the same JSON object by its record's [`Column`]s, so that both formats are read,
//! and refused, by the same rules. Reading checks the form of every value; whether a record is
//! valid is the exchange's to decide.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::Error;

/// What a reason or a rejected line shows in place of personal data.
pub(crate) const WITHHELD: &str = "(withheld)";

/// Digits in a row from which a number is taken for a NIK and withheld: a NIK has 16, a
/// mistyped one a few fewer.
pub(crate) const NIK_LIKE_DIGITS: usize = 12;

/// The format of a file of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row and one row per record.
    Csv,
}

impl Format {
    /// The format a file's extension names: `.jsonl`, `.ndjson` or `.json` for JSON Lines,
    /// `.csv` for CSV.
    pub fn of_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// `format`, or else the one `path`'s extension names; an error asks for `--format`.
    pub fn chosen(format: Option<Format>, path: &Path) -> Result<Format, Error> {
        format
            .or_else(|| Format::of_path(path))
            .ok_or_else(|| Error::UnknownFormat(path.to_owned()))
    }
}

/// A record of a file: read from its JSON object, known by its id.
pub trait FileRecord: DeserializeOwned {
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
                if let Some(at) = message.rfind(", expected") {
                    message.truncate(at);
                }
                // The key is taken off whole: it may hold dots.
                let parent = match error.path().iter().next_back() {
                    Some(Segment::Map { key }) => path.strip_suffix(key.as_str()),
                    _ => None,
                };
                path = parent
                    .map(|parent| parent.strip_suffix('.').unwrap_or(parent))
                    .unwrap_or_default()
                    .to_owned();
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
pub struct Line<R> {
    /// Its line number in the file, from 1 (for CSV: the line its row starts on, lines ending
    /// in LF, CRLF or CR as rows do).
    pub number: u64,
    /// The record as given: the JSON object of the line (its text if it is not JSON), or for
    /// CSV the row as column name to cell text.
    pub original: Value,
    /// The record, or why it cannot be read.
    pub parsed: Result<R, String>,
}

impl<R: FileRecord> Line<R> {
    /// The record's id as given, if it has one.
    pub fn record_id(&self) -> Option<String> {
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

/// An open file of records `R`, read from `I`: a file, or any bytes.
pub struct Source<R, I = File> {
    reader: Reader<I>,
    record: PhantomData<R>,
}

enum Reader<I> {
    /// JSON Lines: the reader and the number of the last line read.
    Jsonl(BufReader<I>, u64),
    /// CSV: the reader and the header's layout.
    Csv(Box<csv::Reader<Tape<I>>>, CsvLayout),
}

/// The input of a CSV reader, keeping the bytes the reader has read and not yet taken as a
/// row, to number the rows' lines: the reader's own positions count only LF, and place a row at
/// the start of the line breaks it skips before it (with CRLF, the header's line for the first
/// row).
struct Tape<I> {
    input: I,
    /// The bytes read from `input` from the end of the last row (`from`) on.
    kept: Vec<u8>,
    from: u64,
    /// The line of the byte at `from`, from 1.
    line: u64,
    /// Whether the byte before `from` is a CR, whose LF ends no other line.
    after_cr: bool,
}

impl<I: Read> Read for Tape<I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buf)?;
        self.kept
            .extend_from_slice(buf.get(..read).unwrap_or_default());
        Ok(read)
    }
}

impl<I> Tape<I> {
    fn new(input: I) -> Tape<I> {
        Tape {
            input,
            kept: Vec::new(),
            from: 0,
            line: 1,
            after_cr: false,
        }
    }

    /// Takes the bytes up to `end`, the reader's position after a row, and returns the line
    /// the row starts on: that of its first byte after the line breaks skipped before it.
    fn row_line(&mut self, end: u64) -> u64 {
        let taken = usize::try_from(end.saturating_sub(self.from))
            .unwrap_or(usize::MAX)
            .min(self.kept.len());
        let mut start = None;
        for &byte in &self.kept[..taken] {
            let line_break = byte == b'\r' || (byte == b'\n' && !self.after_cr);
            if start.is_none() && byte != b'\r' && byte != b'\n' {
                start = Some(self.line);
            }
            self.line += u64::from(line_break);
            self.after_cr = byte == b'\r';
        }
        self.kept.drain(..taken);
        self.from += taken as u64;
        start.unwrap_or(self.line)
    }
}

impl<R: FileRecord> Source<R> {
    /// Opens `path`; for CSV, reads and checks the header.
    pub fn open(path: &Path, format: Format) -> Result<Source<R>, Error> {
        let file = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Source::new(file, format, path)
    }
}

impl<R: FileRecord, I: Read> Source<R, I> {
    /// Reads records from `input`, which errors call `origin`; for CSV, reads and checks the
    /// header.
    pub fn new(input: I, format: Format, origin: &Path) -> Result<Source<R, I>, Error> {
        let reader = match format {
            Format::Jsonl => Reader::Jsonl(BufReader::new(input), 0),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .from_reader(Tape::new(input));
                let header = reader
                    .headers()
                    .map_err(|source| Error::Header {
                        origin: origin.to_owned(),
                        source,
                    })?
                    .clone();
                let end = reader.position().byte();
                let line = reader.get_mut().row_line(end);
                let layout = CsvLayout::from_header(R::COLUMNS, &header).map_err(|reason| {
                    Error::Columns {
                        origin: origin.to_owned(),
                        line,
                        reason,
                    }
                })?;
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
    pub fn next_line(&mut self) -> Result<Option<Line<R>>, Error> {
        match &mut self.reader {
            Reader::Jsonl(reader, number) => next_json_line(reader, number),
            Reader::Csv(reader, layout) => next_csv_row(reader, layout),
        }
    }
}

/// The number of records in `path`, read quickly without checking them.
pub fn count(path: &Path, format: Format) -> Result<u64, Error> {
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    count_in(file, format)
}

/// The number of records in `input`, read quickly without checking them: as many as
/// [`Source::next_line`] gives.
pub fn count_in(input: impl Read, format: Format) -> Result<u64, Error> {
    let mut count = 0;
    match format {
        Format::Jsonl => {
            let mut reader = BufReader::new(input);
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
                .from_reader(input);
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record)? {
                count += 1;
            }
        }
    }
    Ok(count)
}

fn next_json_line<R: FileRecord>(
    reader: &mut BufReader<impl Read>,
    number: &mut u64,
) -> Result<Option<Line<R>>, Error> {
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
                parsed: R::from_json(&value).map_err(|reason| without_nik(reason, &value)),
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

/// `reason`, why the line `original` cannot be read, without the line's NIK: each run of
/// [`NIK_LIKE_DIGITS`] or more digits of its `nik` is withheld wherever the reason quotes it
/// (a NIK given as a number, or typed into another field too).
fn without_nik(mut reason: String, original: &Value) -> String {
    let nik = match original.get("nik") {
        Some(Value::String(nik)) => nik.clone(),
        Some(Value::Number(nik)) => nik.to_string(),
        _ => return reason,
    };
    for digits in nik.split(|c: char| !c.is_ascii_digit()) {
        if digits.len() >= NIK_LIKE_DIGITS {
            reason = reason.replace(digits, WITHHELD);
        }
    }
    reason
}

/// A JSON syntax error of one line, with its column (the line is given elsewhere).
fn json_syntax_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    format!("not a JSON object: {message} (column {})", error.column())
}

fn next_csv_row<R: FileRecord>(
    reader: &mut csv::Reader<Tape<impl Read>>,
    layout: &CsvLayout,
) -> Result<Option<Line<R>>, Error> {
    let mut row = csv::StringRecord::new();
    let read = reader.read_record(&mut row);
    let end = reader.position().byte();
    let number = reader.get_mut().row_line(end);
    match read {
        Ok(false) => Ok(None),
        Ok(true) => {
            let original = layout.original(&row);
            let parsed = layout
                .to_json(&row)
                .and_then(|value| R::from_json(&value))
                .map_err(|reason| without_nik(reason, &original));
            Ok(Some(Line {
                number,
                original,
                parsed,
            }))
        }
        Err(error) => {
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
pub struct Column {
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
            if value.as_array().is_some_and(Vec::is_empty) {
                // A list of no items (`;`) is an empty cell: it makes no nested object.
                continue;
            }
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
    use crate::placement::PlacementRecord;

    /// Every line of `file`, as its number and its record's id or its reason.
    fn lines(file: &[u8], format: Format) -> Vec<(u64, Result<String, String>)> {
        let mut source =
            Source::<PlacementRecord, _>::new(file, format, Path::new("in.txt")).expect("source");
        let mut lines = Vec::new();
        while let Some(line) = source.next_line().expect("a line") {
            lines.push((line.number, line.parsed.map(|r| r.placement_id)));
        }
        assert_eq!(count_in(file, format).expect("count"), lines.len() as u64);
        lines
    }

    #[test]
    fn lines_are_numbered_in_the_file_blank_ones_skipped() {
        let file = b"{\"placement_id\":\"A\"}\n\n  \r\n{\"placement_id\":\"B\"}\r\n\xff\n[1]";
        assert_eq!(
            lines(file, Format::Jsonl),
            [
                (1, Ok("A".to_owned())),
                (4, Ok("B".to_owned())),
                (5, Err("the line is not UTF-8".to_owned())),
                (6, Err("not a JSON object".to_owned())),
            ]
        );
        let file = b"placement_id,sex\nA,\n\nB,MALE,\nC,FEMALE\n";
        assert_eq!(
            lines(file, Format::Csv),
            [
                (2, Ok("A".to_owned())),
                (4, Err("the row has 3 cells, the header 2".to_owned())),
                (5, Ok("C".to_owned())),
            ]
        );
    }

    /// Found by fuzzing: a reason quoted the line's NIK where it was given as a number, or
    /// typed into another field too.
    #[test]
    fn a_reason_never_quotes_the_lines_nik() {
        let file = br#"{"nik": 3507114508990001}
{"nik": "3507114508990001", "birth_date": "23507114508990001-02"}
{"nik": "3507114508990001", "sex": "F"}"#;
        let reasons: Vec<String> = lines(file, Format::Jsonl)
            .into_iter()
            .filter_map(|(_, parsed)| parsed.err())
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(
            reasons[0],
            "nik: invalid type: integer `(withheld)`, expected a string"
        );
        assert!(
            reasons[1].starts_with("birth_date: \"2(withheld)-02\" is not a date"),
            "{}",
            reasons[1]
        );
        assert!(
            reasons[2].starts_with("sex: unknown sex code \"F\""),
            "{}",
            reasons[2]
        );
        let file = b"nik,version\n 3507114508990001 ,3507114508990001x\n";
        assert_eq!(
            lines(file, Format::Csv),
            [(
                2,
                Err("version: invalid type: string \"(withheld)x\", expected u64".to_owned())
            )]
        );
    }

    /// Found while moving the reader: the csv crate's own positions put the first row of a
    /// CRLF file on the header's line, a row after blank lines on the first of them, and every
    /// row of a CR file on line 1.
    #[test]
    fn csv_rows_are_numbered_whatever_ends_their_lines() {
        let ids = |ids: &[(u64, &str)]| -> Vec<(u64, Result<String, String>)> {
            ids.iter()
                .map(|(line, id)| (*line, Ok((*id).to_owned())))
                .collect()
        };
        let crlf = b"placement_id,sex\r\nA,\r\n\r\nB,MALE\r\nC,\r\n";
        assert_eq!(
            lines(crlf, Format::Csv),
            ids(&[(2, "A"), (4, "B"), (5, "C")])
        );
        let cr = b"placement_id\rA\r\rB";
        assert_eq!(lines(cr, Format::Csv), ids(&[(2, "A"), (4, "B")]));
        let quoted = b"\n\nplacement_id,job_title\n\"A\",\"two\r\nlines\"\n\nB,x";
        assert_eq!(lines(quoted, Format::Csv), ids(&[(4, "A"), (7, "B")]));
    }

    #[test]
    fn a_file_that_cannot_be_read_names_itself_and_the_header_its_line() {
        let path = Path::new("/nonexistent/placements.csv");
        let Err(error) = Source::<PlacementRecord>::open(path, Format::Csv) else {
            panic!("a file that does not exist opens");
        };
        assert_eq!(error.to_string(), path.display().to_string());
        assert!(matches!(error, Error::Open { .. }), "{error:?}");
        assert!(matches!(
            count(path, Format::Jsonl),
            Err(Error::Open { .. })
        ));
        let origin = Path::new("placements.csv");
        for (file, line) in [(&b"nik,gender\n"[..], 1), (b"\nnik,gender\n", 2)] {
            let Err(error) = Source::<PlacementRecord, _>::new(file, Format::Csv, origin) else {
                panic!("an unknown column is taken");
            };
            let text = error.to_string();
            let start =
                format!("placements.csv: line {line}: unknown column \"gender\" in the header");
            assert!(text.starts_with(&start), "{text}");
        }
        let Err(error) = Source::<PlacementRecord, _>::new(&b"nik,\xff\n"[..], Format::Csv, origin)
        else {
            panic!("a header that is not UTF-8 is taken");
        };
        assert_eq!(error.to_string(), "placements.csv: header row");
    }

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
