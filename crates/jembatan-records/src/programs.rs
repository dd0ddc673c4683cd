//! Export programs and enrolments as lines of their files, and their contract forms. The
//! formats are documented in `docs/market-and-programs-files.md`.

use jembatan_proto::convert::ShortCode;
use jembatan_proto::v1;
use serde::Deserialize;
use serde_json::Value;

use crate::codes::{Code, Day};
use crate::file::{Column, FileRecord, Form, NIK_LIKE_DIGITS, WITHHELD};

/// One export program of a file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProgramRecord {
    /// Kemendag's program id.
    program_id: String,
    /// Kemendag's version.
    version: u64,
    /// The program's name.
    name: String,
    /// The kind of program.
    kind: Option<Code<v1::ProgramKind>>,
    /// What the program offers and to whom.
    description: String,
    /// The organising unit.
    organizer: String,
    /// Target markets, ISO 3166-1 alpha-2.
    target_countries: Vec<String>,
    /// HS 2022 chapters in scope.
    hs_chapters: Vec<String>,
    /// Provinces (`PP`) and regencies (`PP.KK`) where it runs; none for nationwide.
    regency_codes: Vec<String>,
    /// First day.
    starts_on: Option<Day>,
    /// Last day.
    ends_on: Option<Day>,
    /// Places, 0 for unlimited.
    capacity: u32,
}

impl FileRecord for ProgramRecord {
    const ID_KEY: &'static str = "program_id";
    const COLUMNS: &'static [Column] = &PROGRAM_COLUMNS;

    fn id(&self) -> &str {
        &self.program_id
    }
}

/// The columns of a programs CSV file, in their documented order.
const PROGRAM_COLUMNS: [Column; 12] = {
    use Form::{Integer, Text};
    const LIST: Form = Form::List('|');
    [
        Column::top("program_id", Text),
        Column::top("version", Integer),
        Column::top("name", Text),
        Column::top("kind", Text),
        Column::top("description", Text),
        Column::top("organizer", Text),
        Column::top("target_countries", LIST),
        Column::top("hs_chapters", LIST),
        Column::top("regency_codes", LIST),
        Column::top("starts_on", Text),
        Column::top("ends_on", Text),
        Column::top("capacity", Integer),
    ]
};

/// One enrolment of a file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrollmentRecord {
    /// KP2MI's enrolment id.
    enrollment_id: String,
    /// KP2MI's version.
    version: u64,
    /// The program.
    program_id: String,
    /// The worker's NIK.
    nik: String,
    /// Date of enrolment.
    enrolled_on: Option<Day>,
    /// Where the worker stands.
    status: Option<Code<v1::EnrollmentStatus>>,
    /// The worker started a business.
    business_started: bool,
    /// Export deals closed, US dollars.
    export_deals_usd: u64,
}

impl FileRecord for EnrollmentRecord {
    const ID_KEY: &'static str = "enrollment_id";
    const COLUMNS: &'static [Column] = &ENROLLMENT_COLUMNS;

    fn id(&self) -> &str {
        &self.enrollment_id
    }

    /// The NIK is personal data: the rejected line shows `(withheld)` in its place, and any
    /// run of digits as long as a NIK, in the line or in a reason, is withheld too.
    fn redact(entry: &mut Value) {
        if let Some(record) = entry.get_mut("record") {
            if let Some(nik) = record.get_mut("nik") {
                *nik = Value::String(WITHHELD.to_owned());
            }
            withhold_digit_runs(record);
        }
        if let Some(violations) = entry.get_mut("violations") {
            withhold_digit_runs(violations);
        }
    }
}

/// Replaces, in every text and key of `value`, each run of at least [`NIK_LIKE_DIGITS`] digits
/// by `(withheld)`; a number that long becomes `(withheld)` too.
fn withhold_digit_runs(value: &mut Value) {
    match value {
        Value::String(text) => *text = withhold_in(text),
        Value::Number(number) if number.to_string().len() >= NIK_LIKE_DIGITS => {
            *value = Value::String(WITHHELD.to_owned());
        }
        Value::Array(items) => items.iter_mut().for_each(withhold_digit_runs),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(key, mut value)| {
                    withhold_digit_runs(&mut value);
                    (withhold_in(&key), value)
                })
                .collect();
        }
        _ => {}
    }
}

/// `text` with each run of at least [`NIK_LIKE_DIGITS`] digits replaced by `(withheld)`.
fn withhold_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.len() >= NIK_LIKE_DIGITS {
            out.push_str(WITHHELD);
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// The columns of an enrolments CSV file, in their documented order.
const ENROLLMENT_COLUMNS: [Column; 8] = {
    use Form::{Flag, Integer, Text};
    [
        Column::top("enrollment_id", Text),
        Column::top("version", Integer),
        Column::top("program_id", Text),
        Column::top("nik", Text),
        Column::top("enrolled_on", Text),
        Column::top("status", Text),
        Column::top("business_started", Flag),
        Column::top("export_deals_usd", Integer),
    ]
};

impl ProgramRecord {
    /// The contract's `ExportProgram`.
    pub fn to_proto(&self) -> v1::ExportProgram {
        v1::ExportProgram {
            program_id: self.program_id.clone(),
            version: self.version,
            name: self.name.clone(),
            kind: self.kind.map_or(0, |Code(kind)| kind.number()),
            description: self.description.clone(),
            organizer: self.organizer.clone(),
            target_countries: self.target_countries.clone(),
            hs_chapters: self.hs_chapters.clone(),
            regency_codes: self.regency_codes.clone(),
            starts_on: self.starts_on.map(Day::to_proto),
            ends_on: self.ends_on.map(Day::to_proto),
            capacity: self.capacity,
        }
    }
}

impl EnrollmentRecord {
    /// The contract's `Enrollment`.
    pub fn to_proto(&self) -> v1::Enrollment {
        v1::Enrollment {
            enrollment_id: self.enrollment_id.clone(),
            version: self.version,
            program_id: self.program_id.clone(),
            nik: self.nik.clone(),
            enrolled_on: self.enrolled_on.map(Day::to_proto),
            status: self.status.map_or(0, |Code(status)| status.number()),
            business_started: self.business_started,
            export_deals_usd: self.export_deals_usd,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::file::CsvLayout;

    #[test]
    fn a_program_line_reads_into_the_contract_message() {
        let line = json!({
            "program_id": "DBE-2026-JATIM", "version": 1, "name": "Desa BISA Ekspor Jawa Timur",
            "kind": "DESA_BISA_EKSPOR", "organizer": "Ditjen PEN",
            "target_countries": ["SA", "AE"], "hs_chapters": ["09"], "regency_codes": ["35", "52.02"],
            "starts_on": "2026-05-04", "ends_on": "2026-08-28", "capacity": 40
        });
        let record = ProgramRecord::from_json(&line).expect("a program");
        let message = record.to_proto();
        assert_eq!(message.kind, v1::ProgramKind::DesaBisaEkspor as i32);
        assert_eq!(message.regency_codes, ["35", "52.02"]);
        assert_eq!(message.capacity, 40);
        assert_eq!(message.ends_on.map(|d| d.month), Some(8));
        let header = csv::StringRecord::from(vec!["program_id", "regency_codes", "capacity"]);
        let layout = CsvLayout::from_header(&PROGRAM_COLUMNS, &header).expect("layout");
        let row = csv::StringRecord::from(vec!["P-1", "35|52.02", ""]);
        let record = ProgramRecord::from_json(&layout.to_json(&row).expect("json")).expect("read");
        assert_eq!(record.regency_codes, ["35", "52.02"]);
        assert_eq!(record.capacity, 0, "unlimited");
    }

    #[test]
    fn an_enrolment_line_reads_into_the_contract_message() {
        let header = csv::StringRecord::from(vec![
            "enrollment_id",
            "program_id",
            "nik",
            "enrolled_on",
            "status",
            "business_started",
            "export_deals_usd",
        ]);
        let layout = CsvLayout::from_header(&ENROLLMENT_COLUMNS, &header).expect("layout");
        let row = csv::StringRecord::from(vec![
            "E-1",
            "DBE-2026-JATIM",
            "3507114508990001",
            "2026-05-04",
            "COMPLETED",
            "TRUE",
            "12000",
        ]);
        let record = EnrollmentRecord::from_json(&layout.to_json(&row).expect("json"))
            .expect("an enrolment");
        let message = record.to_proto();
        assert_eq!(message.status, v1::EnrollmentStatus::Completed as i32);
        assert!(message.business_started);
        assert_eq!(message.export_deals_usd, 12_000);
        assert_eq!(message.nik, "3507114508990001");
    }

    #[test]
    fn a_rejected_enrolment_never_shows_a_nik() {
        let mut entry = json!({
            "line": 3,
            "record_id": "E-1",
            "violations": [{"field": "line", "description": "nik: invalid type: integer `3507114508990001`, expected a string"}],
            "record": {"enrollment_id": "E-1", "nik": 3507114508990001_u64, "enrolled_on": "2026-05-04", "export_deals_usd": 12000},
        });
        EnrollmentRecord::redact(&mut entry);
        let text = entry.to_string();
        assert!(!text.contains("3507114508990001"), "{text}");
        assert_eq!(entry["record"]["nik"], WITHHELD);
        assert_eq!(entry["record"]["enrolled_on"], "2026-05-04");
        assert_eq!(entry["record"]["export_deals_usd"], 12000);
        assert_eq!(
            entry["violations"][0]["description"],
            "nik: invalid type: integer `(withheld)`, expected a string"
        );
        // A line that is not JSON, or a CSV row of the wrong length, is kept as text.
        let mut entry = json!({"record": "{\"nik\": \"350711450899000\", 2026", "violations": []});
        EnrollmentRecord::redact(&mut entry);
        assert_eq!(entry["record"], "{\"nik\": \"(withheld)\", 2026");
        let mut entry = json!({"record": ["E-1", "P-1", "3507114508990001x"]});
        EnrollmentRecord::redact(&mut entry);
        assert_eq!(entry["record"], json!(["E-1", "P-1", "(withheld)x"]));
    }

    /// Found by fuzzing: a NIK given as a key (an unknown one) stayed in the rejected line.
    #[test]
    fn a_nik_given_as_a_key_is_withheld_too() {
        let mut entry = json!({
            "violations": [{"field": "line", "description": "unknown field `3507114508990001`"}],
            "record": {"enrollment_id": "E-1", "3507114508990001": true, "x": {"nik 3507114508990001": 1}},
        });
        EnrollmentRecord::redact(&mut entry);
        assert_eq!(
            entry["record"],
            json!({"enrollment_id": "E-1", "(withheld)": true, "x": {"nik (withheld)": 1}})
        );
        assert_eq!(
            entry["violations"][0]["description"],
            "unknown field `(withheld)`"
        );
    }
}
