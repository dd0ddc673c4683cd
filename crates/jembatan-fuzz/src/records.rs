//! The partner files the `jembatan` command reads (`jembatan_records`): placements, market
//! reports, export programs and enrolments, as CSV or JSON Lines. The first byte of an input
//! chooses the kind of record, the rest is the file.

use std::fmt::Debug;
use std::path::Path;

use jembatan_records::market::ReportRecord;
use jembatan_records::placement::{PlacementRecord, csv_header, csv_row};
use jembatan_records::programs::{EnrollmentRecord, ProgramRecord};
use jembatan_records::{Error, FileRecord, Format, Line, Source, count_in};
use serde_json::{Value, json};

/// What the file is called in errors.
const ORIGIN: &str = "input";

/// Refusals of a whole line, which name no field: the rejected-lines file gives them the field
/// `line`.
const WHOLE_LINE: &[&str] = &[
    "not a JSON object",
    "the line is not UTF-8",
    "the row is not UTF-8",
    "the row has ",
];

/// A placements, market reports, programs or enrolments CSV file (header row first), chosen by
/// the first byte (`p`, `m`, `x`, `e`; any other byte by its remainder of 4). Every line is
/// numbered after the one before, and as many are read as the quick count says; an accepted
/// record converts to its protobuf, and the row as given reads again as the same record or
/// the same refusal; a refusal names a field of the record (or is one of the whole line's) and
/// never quotes the line's NIK. A placement's protobuf reads back as itself, and
/// `csv_header`/`csv_row` of it read back as the same record. An enrolment's rejected-lines
/// entry holds no run of 12 digits.
pub fn records_csv(data: &[u8]) {
    records(data, Format::Csv);
}

/// The same as [`records_csv`], for JSON Lines files; a placement's JSON line reads back as
/// the same record.
pub fn records_jsonl(data: &[u8]) {
    records(data, Format::Jsonl);
}

fn records(data: &[u8], format: Format) {
    let Some((&kind, file)) = data.split_first() else {
        return;
    };
    match kind {
        b'p' => read::<PlacementRecord>(file, format),
        b'm' => read::<ReportRecord>(file, format),
        b'x' => read::<ProgramRecord>(file, format),
        b'e' => read::<EnrollmentRecord>(file, format),
        other => match other % 4 {
            0 => read::<PlacementRecord>(file, format),
            1 => read::<ReportRecord>(file, format),
            2 => read::<ProgramRecord>(file, format),
            _ => read::<EnrollmentRecord>(file, format),
        },
    }
}

/// A kind of record, with what must hold of one the file gives.
trait Kind: FileRecord + Clone + PartialEq + Debug {
    /// The top-level keys of its JSON object: a refusal's path starts with one of them.
    const FIELDS: &'static [&'static str];

    /// What must hold of an accepted record.
    fn accepted(&self);

    /// What must hold of the records accepted from a file of `format`, together (a file read
    /// once: a CSV reader is slow to make).
    fn all_accepted(_records: &[Self], _format: Format) {}

    /// What must hold of the rejected-lines entry of a line refused for `reason`.
    fn refused(_line: &Line<Self>, _reason: &str) {}
}

impl Kind for PlacementRecord {
    const FIELDS: &'static [&'static str] = crate::server::FIELDS;

    fn accepted(&self) {
        let proto = self.to_proto();
        let back = PlacementRecord::from_proto(&proto)
            .unwrap_or_else(|e| panic!("{proto:?} does not read back: {e}"));
        assert_eq!(back.to_proto(), proto);
    }

    /// The records as `jembatan demo seed --out` writes them: JSON lines, and from a CSV file
    /// `csv_header` and `csv_row`, read back as themselves.
    fn all_accepted(records: &[Self], format: Format) {
        if records.is_empty() {
            return;
        }
        let expected: Vec<Result<Self, String>> = records.iter().cloned().map(Ok).collect();
        let mut jsonl = Vec::new();
        for record in records {
            jsonl.extend_from_slice(record.to_json().to_string().as_bytes());
            jsonl.push(b'\n');
        }
        assert_eq!(all_records(&jsonl, Format::Jsonl), expected);
        if format == Format::Csv {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(csv_header()).expect("header");
            for record in records {
                writer.write_record(csv_row(record)).expect("row");
            }
            let file = writer.into_inner().expect("a CSV file");
            assert_eq!(all_records(&file, Format::Csv), expected);
        }
    }
}

impl Kind for ReportRecord {
    const FIELDS: &'static [&'static str] = &[
        "report_id",
        "version",
        "country",
        "city",
        "kind",
        "hs_codes",
        "title",
        "summary",
        "estimated_value_usd",
        "observed_on",
        "reporter_ref",
    ];

    fn accepted(&self) {
        assert_eq!(self.to_proto().report_id, self.id());
    }
}

impl Kind for ProgramRecord {
    const FIELDS: &'static [&'static str] = &[
        "program_id",
        "version",
        "name",
        "kind",
        "description",
        "organizer",
        "target_countries",
        "hs_chapters",
        "regency_codes",
        "starts_on",
        "ends_on",
        "capacity",
    ];

    fn accepted(&self) {
        assert_eq!(self.to_proto().program_id, self.id());
    }
}

impl Kind for EnrollmentRecord {
    const FIELDS: &'static [&'static str] = &[
        "enrollment_id",
        "version",
        "program_id",
        "nik",
        "enrolled_on",
        "status",
        "business_started",
        "export_deals_usd",
    ];

    fn accepted(&self) {
        assert_eq!(self.to_proto().enrollment_id, self.id());
    }

    /// The entry `jembatan programs enrol` writes: no NIK, nor any run of 12 digits, in the
    /// record as given or the reason (docs/market-and-programs-files.md).
    fn refused(line: &Line<Self>, reason: &str) {
        let mut entry = json!({
            "line": line.number,
            "record_id": line.record_id(),
            "violations": [{"field": "line", "description": reason}],
            "record": line.original,
        });
        EnrollmentRecord::redact(&mut entry);
        for part in ["record", "violations"] {
            let longest = digit_run(&entry[part]);
            assert!(longest < 12, "{part} of {entry} holds {longest} digits");
        }
    }
}

/// The longest run of digits in a text, number or key of `value`.
fn digit_run(value: &Value) -> usize {
    let in_text = |text: &str| {
        text.split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0)
    };
    match value {
        Value::String(text) => in_text(text),
        Value::Number(number) => in_text(&number.to_string()),
        Value::Array(items) => items.iter().map(digit_run).max().unwrap_or(0),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| in_text(key).max(digit_run(value)))
            .max()
            .unwrap_or(0),
        Value::Null | Value::Bool(_) => 0,
    }
}

/// Reads the whole file as records `R`, checking each line.
fn read<R: Kind>(file: &[u8], format: Format) {
    let mut source = match Source::<R, &[u8]>::new(file, format, Path::new(ORIGIN)) {
        Ok(source) => source,
        Err(error) => return refused_file(&error, format),
    };
    let lines = lines(file, format);
    let (mut last, mut read) = (0, 0);
    let mut accepted = Vec::new();
    // The lines as given, again, and what they read as.
    let mut given = Given::new(format);
    while let Some(line) = source
        .next_line()
        .expect("bytes in memory can always be read")
    {
        read += 1;
        assert!(line.number > last, "line {} after {last}", line.number);
        // A CSV file's header is on a line of its own.
        assert!(
            format == Format::Jsonl || line.number > 1,
            "a row on line 1"
        );
        last = line.number;
        let text = usize::try_from(line.number - 1)
            .ok()
            .and_then(|i| lines.get(i))
            .unwrap_or_else(|| panic!("line {} of {}", line.number, lines.len()));
        assert!(
            !text.iter().all(u8::is_ascii_whitespace)
                || (format == Format::Csv && !text.is_empty()),
            "line {} is blank",
            line.number
        );
        match &line.parsed {
            Ok(record) => {
                if !record.id().is_empty() {
                    assert_eq!(line.record_id().as_deref(), Some(record.id()));
                }
                record.accepted();
                accepted.push(record.clone());
            }
            Err(reason) => refused_line(&line, reason),
        }
        given.add(&line);
    }
    R::all_accepted(&accepted, format);
    given.check();
    let counted = count_in(file, format).expect("bytes in memory can always be counted");
    assert_eq!(counted, read, "the quick count");
}

/// The lines of `file` as `format` numbers them: JSON Lines end in LF; CSV lines, as its rows,
/// in LF, CRLF or CR.
fn lines(file: &[u8], format: Format) -> Vec<&[u8]> {
    if format == Format::Jsonl {
        return file.split(|&b| b == b'\n').collect();
    }
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < file.len() {
        if file[i] == b'\r' || file[i] == b'\n' {
            lines.push(&file[start..i]);
            if file[i] == b'\r' && file.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    lines.push(&file[start..]);
    lines
}

/// A file that cannot be read at all: only a CSV file, whose header is not UTF-8 or names a
/// column the record does not have, or one twice.
fn refused_file(error: &Error, format: Format) {
    assert_eq!(format, Format::Csv, "{error}");
    let text = error.to_string();
    assert!(text.starts_with(ORIGIN), "{text}");
    match error {
        Error::Header { .. } => {}
        Error::Columns { line, reason, .. } => {
            assert!(*line >= 1);
            assert!(
                reason.starts_with("unknown column ") || reason.starts_with("column "),
                "{reason}"
            );
        }
        other => panic!("{other:?} for a file in memory"),
    }
}

/// A line refused: the reason names a field of the record (its path starts with one), an
/// unknown key, or is one of a whole line's; it never quotes the line's NIK.
fn refused_line<R: Kind>(line: &Line<R>, reason: &str) {
    let whole_line = WHOLE_LINE.iter().any(|start| reason.starts_with(start));
    if !whole_line && !reason.starts_with("unknown field `") {
        let (path, message) = reason
            .split_once(": ")
            .unwrap_or_else(|| panic!("{reason:?} names no field"));
        let field = path.split(['.', '[']).next().unwrap_or_default();
        assert!(R::FIELDS.contains(&field), "{reason:?} names no field");
        assert!(!message.is_empty(), "{reason:?}");
    }
    let nik = match line.original.get("nik") {
        Some(Value::String(nik)) => nik.clone(),
        Some(Value::Number(nik)) => nik.to_string(),
        _ => String::new(),
    };
    crate::check_no_nik(reason, &nik);
    R::refused(line, reason);
}

/// The lines of a file as given (their `original`), as a file again, and what they were read
/// as: a JSON object as its line; a CSV row (column name to cell) as a row under the header
/// of its columns. A line that was not an object, or a row not of the header's length, is left
/// out.
struct Given<R> {
    format: Format,
    /// The header of a CSV file's rows.
    header: Option<Vec<String>>,
    rows: Vec<Value>,
    read: Vec<Result<R, String>>,
}

/// Whether `value` holds a number with a fraction or an exponent. serde_json reads one to a
/// nearby double, not always the nearest, so that printed and read again it may change in its
/// last digit, and with it a reason that quotes it.
fn holds_float(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.is_f64(),
        Value::Array(items) => items.iter().any(holds_float),
        Value::Object(map) => map.values().any(holds_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

impl<R: Kind> Given<R> {
    fn new(format: Format) -> Self {
        Given {
            format,
            header: None,
            rows: Vec::new(),
            read: Vec::new(),
        }
    }

    fn add(&mut self, line: &Line<R>) {
        let Some(object) = line.original.as_object() else {
            return;
        };
        if self.format == Format::Csv {
            let columns: Vec<String> = object.keys().cloned().collect();
            // Every row of a CSV file has the header's columns.
            assert_eq!(*self.header.get_or_insert_with(|| columns.clone()), columns);
        }
        self.rows.push(line.original.clone());
        self.read.push(line.parsed.clone());
    }

    /// The lines as given read again as they were read.
    fn check(self) {
        if self.rows.is_empty() {
            return;
        }
        let file = match self.format {
            Format::Jsonl => {
                let lines: Vec<String> = self.rows.iter().map(Value::to_string).collect();
                lines.join("\n").into_bytes()
            }
            Format::Csv => {
                let header = self.header.unwrap_or_default();
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer.write_record(&header).expect("header");
                for row in &self.rows {
                    let cells = header
                        .iter()
                        .map(|column| row[column].as_str().unwrap_or_default());
                    writer.write_record(cells).expect("row");
                }
                writer.into_inner().expect("a CSV file")
            }
        };
        let again = all_records::<R>(&file, self.format);
        assert_eq!(again.len(), self.read.len(), "the lines as given");
        for ((again, read), row) in again.iter().zip(&self.read).zip(&self.rows) {
            if holds_float(row) {
                assert_eq!(again.is_ok(), read.is_ok(), "{row} reads otherwise");
            } else {
                assert_eq!(again, read, "{row} reads otherwise");
            }
        }
    }
}

/// Every record of `file`, or why it was refused.
fn all_records<R: Kind>(file: &[u8], format: Format) -> Vec<Result<R, String>> {
    let mut source = Source::<R, &[u8]>::new(file, format, Path::new(ORIGIN))
        .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(file)));
    let mut records = Vec::new();
    while let Some(line) = source.next_line().expect("bytes in memory") {
        records.push(line.parsed);
    }
    records
}
