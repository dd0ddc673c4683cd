//! A placement as a line of a placements file, and its mapping to and from the contract's
//! `Placement`. The format is documented in `docs/placements-file.md`.
//!
//! A JSON Lines record mirrors the contract's fields with snake_case keys, in human form: dates
//! `YYYY-MM-DD`, timestamps RFC 3339, enum values as short codes (`FEMALE`), and unknown keys
//! are refused. A CSV row is first turned into the same JSON object (lists `;`-separated,
//! certificates `scheme_code:kkni_level:lsp_id:issued_on[:expires_on[:scheme_name]]`), so that
//! both formats are read, and refused, by the same rules.
//!
//! Reading checks the form of every value; whether the record is valid (a NIK that agrees with
//! the birth date, a known regency, …) is the exchange's to decide.

use jembatan_proto::convert::ShortCode;
use jembatan_proto::v1;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes::{Code, Day, Moment};
use crate::file::{Column, FileRecord, Form};

/// One placement record of a file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementRecord {
    /// KP2MI's placement id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) placement_id: String,
    /// KP2MI's version of the record.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) version: u64,
    /// When KP2MI last changed the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) updated_at: Option<Moment>,
    /// The worker's NIK.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) nik: String,
    /// The worker's full name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) full_name: String,
    /// Sex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sex: Option<Code<v1::Sex>>,
    /// Birth date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) birth_date: Option<Day>,
    /// Kemendagri regency or city code of origin, `PP.KK`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) origin_regency_code: String,
    /// Highest completed education.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) education: Option<Code<v1::Education>>,
    /// The job title as written in the placement file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) job_title: String,
    /// KBJI 2014 / ISCO-08 occupation code.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) occupation_code: String,
    /// Competency certificates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) certificates: Vec<CertificateRecord>,
    /// Languages spoken, ISO 639-1.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) languages: Vec<String>,
    /// Destination country, ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) destination_country: String,
    /// Kind of employer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) employer_type: Option<Code<v1::EmployerType>>,
    /// The employer's business line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sector: Option<SectorRecord>,
    /// Licence number of the placement agency.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) p3mi_id: String,
    /// Placement scheme.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) placement_scheme: Option<Code<v1::PlacementScheme>>,
    /// Contract start date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contract_start: Option<Day>,
    /// Contract end date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contract_end: Option<Day>,
    /// Departure date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) departure_date: Option<Day>,
    /// Current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<Code<v1::PlacementStatus>>,
    /// Return date, expected or actual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) return_date: Option<Day>,
    /// Whether the return date is expected or actual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) return_date_kind: Option<Code<v1::ReturnDateKind>>,
    /// Interest in export business after return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) business_interest: Option<BusinessInterestRecord>,
    /// Contact details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contact: Option<ContactRecord>,
    /// The worker's consent to sharing with Kemendag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) consent: Option<ConsentRecord>,
}

impl FileRecord for PlacementRecord {
    const ID_KEY: &'static str = "placement_id";
    const COLUMNS: &'static [Column] = &COLUMNS;

    fn id(&self) -> &str {
        &self.placement_id
    }
}

/// A competency certificate of a file record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CertificateRecord {
    /// BNSP certification scheme code.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) scheme_code: String,
    /// Name of the scheme.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) scheme_name: String,
    /// KKNI level, 1 to 9; absent when the scheme has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kkni_level: Option<u32>,
    /// The issuing LSP's licence number.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) lsp_id: String,
    /// Date of issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) issued_on: Option<Day>,
    /// Date of expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_on: Option<Day>,
}

/// The employer's business line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SectorRecord {
    /// KBLI code, 5 digits.
    pub(crate) kbli_code: String,
    /// KBLI edition, 2020 or 2025.
    pub(crate) kbli_version: u32,
}

/// Interest in export business.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BusinessInterestRecord {
    /// The worker wants to export.
    pub(crate) wants_to_export: bool,
    /// HS 2022 chapters of interest, 2 digits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hs_chapters: Vec<String>,
}

/// Contact details.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ContactRecord {
    /// Phone, E.164.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) phone: String,
    /// E-mail address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) email: String,
}

/// The worker's consent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ConsentRecord {
    /// Purposes consented to, as codes (`BUSINESS_MATCHING`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) purposes: Vec<Code<v1::Purpose>>,
    /// When consent was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) granted_at: Option<Moment>,
    /// How consent was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) method: Option<Code<v1::ConsentMethod>>,
    /// When consent was withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) withdrawn_at: Option<Moment>,
}

fn is_zero(number: &u64) -> bool {
    *number == 0
}

/// The number of an optional enum field, 0 (unspecified) when absent.
fn number<E: ShortCode>(code: Option<Code<E>>) -> i32 {
    code.map_or(0, |Code(value)| value.number())
}

/// An optional enum field from its number: 0 is absent, a number this program does not know is
/// an error naming the field.
fn code<E: ShortCode>(field: &str, number: i32) -> Result<Option<Code<E>>, String> {
    if number == 0 {
        return Ok(None);
    }
    E::from_number(number)
        .map(|value| Some(Code(value)))
        .ok_or_else(|| format!("{field}: unknown {} number {number}", E::WHAT))
}

fn day(field: &str, date: Option<&v1::Date>) -> Result<Option<Day>, String> {
    date.map(|date| Day::from_proto(date).map_err(|e| format!("{field}: {e}")))
        .transpose()
}

fn moment(field: &str, time: Option<&prost_types::Timestamp>) -> Result<Option<Moment>, String> {
    time.map(|time| Moment::from_proto(time).map_err(|e| format!("{field}: {e}")))
        .transpose()
}

impl PlacementRecord {
    /// The record as a JSON value, the form of a JSON Lines file.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The contract's `Placement`.
    pub fn to_proto(&self) -> v1::Placement {
        let date = |day: Option<Day>| day.map(Day::to_proto);
        v1::Placement {
            placement_id: self.placement_id.clone(),
            version: self.version,
            updated_at: self.updated_at.map(Moment::to_proto),
            nik: self.nik.clone(),
            full_name: self.full_name.clone(),
            sex: number(self.sex),
            birth_date: date(self.birth_date),
            origin_regency_code: self.origin_regency_code.clone(),
            education: number(self.education),
            job_title: self.job_title.clone(),
            occupation_code: self.occupation_code.clone(),
            certificates: self
                .certificates
                .iter()
                .map(|c| v1::CompetencyCertificate {
                    scheme_code: c.scheme_code.clone(),
                    scheme_name: c.scheme_name.clone(),
                    kkni_level: c.kkni_level.unwrap_or(0),
                    lsp_id: c.lsp_id.clone(),
                    issued_on: date(c.issued_on),
                    expires_on: date(c.expires_on),
                })
                .collect(),
            languages: self.languages.clone(),
            destination_country: self.destination_country.clone(),
            employer_type: number(self.employer_type),
            sector: self.sector.as_ref().map(|s| v1::Sector {
                kbli_code: s.kbli_code.clone(),
                kbli_version: s.kbli_version,
            }),
            p3mi_id: self.p3mi_id.clone(),
            placement_scheme: number(self.placement_scheme),
            contract_start: date(self.contract_start),
            contract_end: date(self.contract_end),
            departure_date: date(self.departure_date),
            status: number(self.status),
            return_date: date(self.return_date),
            return_date_kind: number(self.return_date_kind),
            business_interest: self
                .business_interest
                .as_ref()
                .map(|b| v1::BusinessInterest {
                    wants_to_export: b.wants_to_export,
                    hs_chapters: b.hs_chapters.clone(),
                }),
            contact: self.contact.as_ref().map(|c| v1::Contact {
                phone: c.phone.clone(),
                email: c.email.clone(),
            }),
            consent: self.consent.as_ref().map(|c| v1::Consent {
                purposes: c.purposes.iter().map(|Code(p)| p.number()).collect(),
                granted_at: c.granted_at.map(Moment::to_proto),
                method: number(c.method),
                withdrawn_at: c.withdrawn_at.map(Moment::to_proto),
            }),
        }
    }

    /// From the contract's `Placement`; an enum number this program does not know or an
    /// impossible date is an error naming the field.
    pub fn from_proto(placement: &v1::Placement) -> Result<PlacementRecord, String> {
        let certificates = placement
            .certificates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Ok(CertificateRecord {
                    scheme_code: c.scheme_code.clone(),
                    scheme_name: c.scheme_name.clone(),
                    kkni_level: (c.kkni_level != 0).then_some(c.kkni_level),
                    lsp_id: c.lsp_id.clone(),
                    issued_on: day(
                        &format!("certificates[{i}].issued_on"),
                        c.issued_on.as_ref(),
                    )?,
                    expires_on: day(
                        &format!("certificates[{i}].expires_on"),
                        c.expires_on.as_ref(),
                    )?,
                })
            })
            .collect::<Result<_, String>>()?;
        let consent = match &placement.consent {
            None => None,
            Some(c) => Some(ConsentRecord {
                purposes: c
                    .purposes
                    .iter()
                    .map(|&p| {
                        code::<v1::Purpose>("consent.purposes", p)?
                            .ok_or_else(|| "consent.purposes: UNSPECIFIED".to_owned())
                    })
                    .collect::<Result<_, String>>()?,
                granted_at: moment("consent.granted_at", c.granted_at.as_ref())?,
                method: code("consent.method", c.method)?,
                withdrawn_at: moment("consent.withdrawn_at", c.withdrawn_at.as_ref())?,
            }),
        };
        Ok(PlacementRecord {
            placement_id: placement.placement_id.clone(),
            version: placement.version,
            updated_at: moment("updated_at", placement.updated_at.as_ref())?,
            nik: placement.nik.clone(),
            full_name: placement.full_name.clone(),
            sex: code("sex", placement.sex)?,
            birth_date: day("birth_date", placement.birth_date.as_ref())?,
            origin_regency_code: placement.origin_regency_code.clone(),
            education: code("education", placement.education)?,
            job_title: placement.job_title.clone(),
            occupation_code: placement.occupation_code.clone(),
            certificates,
            languages: placement.languages.clone(),
            destination_country: placement.destination_country.clone(),
            employer_type: code("employer_type", placement.employer_type)?,
            sector: placement.sector.as_ref().map(|s| SectorRecord {
                kbli_code: s.kbli_code.clone(),
                kbli_version: s.kbli_version,
            }),
            p3mi_id: placement.p3mi_id.clone(),
            placement_scheme: code("placement_scheme", placement.placement_scheme)?,
            contract_start: day("contract_start", placement.contract_start.as_ref())?,
            contract_end: day("contract_end", placement.contract_end.as_ref())?,
            departure_date: day("departure_date", placement.departure_date.as_ref())?,
            status: code("status", placement.status)?,
            return_date: day("return_date", placement.return_date.as_ref())?,
            return_date_kind: code("return_date_kind", placement.return_date_kind)?,
            business_interest: placement.business_interest.as_ref().map(|b| {
                BusinessInterestRecord {
                    wants_to_export: b.wants_to_export,
                    hs_chapters: b.hs_chapters.clone(),
                }
            }),
            contact: placement.contact.as_ref().map(|c| ContactRecord {
                phone: c.phone.clone(),
                email: c.email.clone(),
            }),
            consent,
        })
    }
}

/// The columns of a placements CSV file, in their documented order: the table of
/// `docs/placements-file.md`.
const COLUMNS: [Column; 33] = {
    use Form::{Flag, Integer, Text};
    const LIST: Form = Form::List(';');
    const CERTIFICATES: Form = Form::Parsed(certificates);
    [
        Column::top("placement_id", Text),
        Column::top("version", Integer),
        Column::top("updated_at", Text),
        Column::top("nik", Text),
        Column::top("full_name", Text),
        Column::top("sex", Text),
        Column::top("birth_date", Text),
        Column::top("origin_regency_code", Text),
        Column::top("education", Text),
        Column::top("job_title", Text),
        Column::top("occupation_code", Text),
        Column::top("certificates", CERTIFICATES),
        Column::top("languages", LIST),
        Column::top("destination_country", Text),
        Column::top("employer_type", Text),
        Column::nested("kbli_code", "sector", "kbli_code", Text),
        Column::nested("kbli_version", "sector", "kbli_version", Integer),
        Column::top("p3mi_id", Text),
        Column::top("placement_scheme", Text),
        Column::top("contract_start", Text),
        Column::top("contract_end", Text),
        Column::top("departure_date", Text),
        Column::top("status", Text),
        Column::top("return_date", Text),
        Column::top("return_date_kind", Text),
        Column::nested(
            "wants_to_export",
            "business_interest",
            "wants_to_export",
            Flag,
        ),
        Column::nested("hs_chapters", "business_interest", "hs_chapters", LIST),
        Column::nested("phone", "contact", "phone", Text),
        Column::nested("email", "contact", "email", Text),
        Column::nested("consent_purposes", "consent", "purposes", LIST),
        Column::nested("consent_granted_at", "consent", "granted_at", Text),
        Column::nested("consent_method", "consent", "method", Text),
        Column::nested("consent_withdrawn_at", "consent", "withdrawn_at", Text),
    ]
};

/// The header of a placements CSV file: every column, in their documented order.
pub fn csv_header() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().map(|column| column.name)
}

/// The parts of a certificate in a certificates cell, in their order.
const CERTIFICATE_PARTS: [(&str, Form); 6] = [
    ("scheme_code", Form::Text),
    ("kkni_level", Form::Integer),
    ("lsp_id", Form::Text),
    ("issued_on", Form::Text),
    ("expires_on", Form::Text),
    ("scheme_name", Form::Text),
];

/// A certificates cell: `;`-separated
/// `scheme_code:kkni_level:lsp_id:issued_on[:expires_on[:scheme_name]]`, where an empty part
/// means none. The scheme name, last, may hold colons.
fn certificates(text: &str) -> Result<Value, String> {
    let mut out = Vec::new();
    for (i, item) in text
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = item
            .splitn(CERTIFICATE_PARTS.len(), ':')
            .map(str::trim)
            .collect();
        if parts.len() < 4 {
            return Err(format!(
                "certificates[{i}]: expected \
                 scheme_code:kkni_level:lsp_id:issued_on[:expires_on[:scheme_name]], found {} \
                 parts",
                parts.len()
            ));
        }
        let mut certificate = Map::new();
        for ((key, form), part) in CERTIFICATE_PARTS.into_iter().zip(parts) {
            if !part.is_empty() {
                certificate.insert(key.to_owned(), form.read(part)?);
            }
        }
        out.push(Value::Object(certificate));
    }
    Ok(Value::Array(out))
}

/// The record as a CSV row in [`csv_header`] order.
pub fn csv_row(record: &PlacementRecord) -> Vec<String> {
    let json = record.to_json();
    COLUMNS
        .iter()
        .map(|column| {
            let object = match column.within {
                None => Some(&json),
                Some(within) => json.get(within),
            };
            object
                .and_then(|object| object.get(column.key))
                .map_or_else(String::new, cell_text)
        })
        .collect()
}

/// A value of a record's JSON object as the text of its CSV cell: lists `;`-separated, a
/// certificate as its parts `:`-separated, without an empty `expires_on` or `scheme_name` at
/// the end.
fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => items.iter().map(cell_text).collect::<Vec<_>>().join(";"),
        Value::Object(certificate) => {
            let mut parts: Vec<String> = CERTIFICATE_PARTS
                .iter()
                .map(|(key, _)| certificate.get(*key).map_or_else(String::new, cell_text))
                .collect();
            while parts.len() > 4 && parts.last().is_some_and(String::is_empty) {
                parts.pop();
            }
            parts.join(":")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::CsvLayout;

    /// A record with every field set, as a JSON Lines line.
    const FULL: &str = r#"{"placement_id":"KP2MI-2025-000123","version":3,"updated_at":"2025-06-01T08:30:00Z","nik":"3507114508990001","full_name":"Siti Aminah","sex":"FEMALE","birth_date":"1999-08-05","origin_regency_code":"35.07","education":"BACHELOR","job_title":"Caregiver","occupation_code":"5322","certificates":[{"scheme_code":"SKM-CG-3","scheme_name":"Pengasuh Lansia","kkni_level":3,"lsp_id":"BNSP-LSP-190-ID","issued_on":"2025-01-10","expires_on":"2028-01-10"}],"languages":["id","zh","en"],"destination_country":"TW","employer_type":"LEGAL_ENTITY","sector":{"kbli_code":"87301","kbli_version":2020},"p3mi_id":"P3MI-0042","placement_scheme":"P2P","contract_start":"2025-03-01","contract_end":"2027-02-28","departure_date":"2025-02-25","status":"WORKING","return_date":"2027-02-28","return_date_kind":"EXPECTED","business_interest":{"wants_to_export":true,"hs_chapters":["09","21"]},"contact":{"phone":"+6281234567890","email":"siti@example.com"},"consent":{"purposes":["BUSINESS_MATCHING","CAPACITY_BUILDING"],"granted_at":"2025-02-01T02:00:00Z","method":"ELECTRONIC","withdrawn_at":"2025-09-01T00:00:00Z"}}"#;

    #[test]
    fn every_demo_record_reads_back_as_a_file_record() {
        let today =
            time::Date::from_calendar_date(2026, time::Month::November, 20).expect("a date");
        let header = csv::StringRecord::from(csv_header().collect::<Vec<_>>());
        let layout = CsvLayout::from_header(&COLUMNS, &header).expect("layout");
        for p in jembatan_demo::Generator::new(17, 0.6, today).take(1_000) {
            let record = PlacementRecord::from_proto(&p).expect("a file record");
            assert_eq!(record.to_proto(), p);
            let row = csv::StringRecord::from(csv_row(&record));
            let json = layout.to_json(&row).expect("json");
            assert_eq!(PlacementRecord::from_json(&json), Ok(record), "{row:?}");
        }
    }

    fn parse(line: &str) -> Result<PlacementRecord, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        PlacementRecord::from_json(&value)
    }

    #[test]
    fn a_full_record_round_trips_through_the_contract() {
        let record = parse(FULL).expect("full record");
        let proto = record.to_proto();
        assert_eq!(proto.sex, v1::Sex::Female as i32);
        assert_eq!(proto.education, v1::Education::Bachelor as i32);
        assert_eq!(
            proto.birth_date,
            Some(v1::Date {
                year: 1999,
                month: 8,
                day: 5
            })
        );
        assert_eq!(
            proto.consent.as_ref().map(|c| c.purposes.clone()),
            Some(vec![
                v1::Purpose::BusinessMatching as i32,
                v1::Purpose::CapacityBuilding as i32
            ])
        );
        assert_eq!(proto.certificates[0].kkni_level, 3);
        let back = PlacementRecord::from_proto(&proto).expect("from proto");
        assert_eq!(back, record);
        let expected: Value = serde_json::from_str(FULL).expect("json");
        assert_eq!(back.to_json(), expected, "the same line again");
    }

    #[test]
    fn a_full_record_round_trips_through_csv() {
        let record = parse(FULL).expect("full record");
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(csv_header()).expect("header");
        writer.write_record(csv_row(&record)).expect("row");
        let bytes = writer.into_inner().expect("csv");
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let layout =
            CsvLayout::from_header(&COLUMNS, reader.headers().expect("header")).expect("layout");
        let row = reader.records().next().expect("a row").expect("row");
        let from_csv = PlacementRecord::from_json(&layout.to_json(&row).expect("json"))
            .expect("record from csv");
        assert_eq!(from_csv, record);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let line = FULL.replacen("\"nik\"", "\"nomor_nik\"", 1);
        let error = parse(&line).expect_err("unknown key");
        assert!(error.contains("unknown field `nomor_nik`"), "{error}");
        assert!(!error.contains("expected one of"), "{error}");
        let line = FULL.replacen("\"phone\"", "\"mobile\"", 1);
        let error = parse(&line).expect_err("unknown nested key");
        assert_eq!(error, "contact: unknown field `mobile`");
        let line = FULL.replacen("\"lsp_id\"", "\"lsp\"", 1);
        let error = parse(&line).expect_err("unknown key in a list");
        assert_eq!(error, "certificates[0]: unknown field `lsp`");
        assert_eq!(parse("[1, 2]").expect_err("a list"), "not a JSON object");
    }

    /// Found by the `records_csv` fuzz target's round trip, on an input written by hand: a
    /// consent cell of no purposes (`;`) made an empty consent, which `csv_row` writes as no
    /// consent at all. A list of no items is now an empty cell.
    #[test]
    fn a_list_cell_of_no_items_is_an_empty_cell() {
        let header = csv::StringRecord::from(vec!["placement_id", "consent_purposes", "languages"]);
        let layout = CsvLayout::from_header(&COLUMNS, &header).expect("layout");
        let row = csv::StringRecord::from(vec!["X-1", " ; ", ";"]);
        let json = layout.to_json(&row).expect("json");
        assert_eq!(json, serde_json::json!({"placement_id": "X-1"}));
        let record = PlacementRecord::from_json(&json).expect("a record");
        assert_eq!(record.consent, None);
        let row = csv::StringRecord::from(csv_row(&record));
        let header = csv::StringRecord::from(csv_header().collect::<Vec<_>>());
        let layout = CsvLayout::from_header(&COLUMNS, &header).expect("layout");
        let again = PlacementRecord::from_json(&layout.to_json(&row).expect("json"));
        assert_eq!(again, Ok(record));
    }

    /// Found by fuzzing: the path of an unknown key was cut at its last dot, so that
    /// `return_date_kin.` was said to be a key of `return_date_kin`, which does not exist.
    #[test]
    fn an_unknown_key_with_dots_or_commas_is_named_whole() {
        let error = parse(r#"{"return_date_kin.": 1}"#).expect_err("unknown key");
        assert_eq!(error, "unknown field `return_date_kin.`");
        let error = parse(r#"{"contact": {"a.b.": 1}}"#).expect_err("unknown nested key");
        assert_eq!(error, "contact: unknown field `a.b.`");
        let error = parse(r#"{"x, expected": 1}"#).expect_err("unknown key");
        assert_eq!(error, "unknown field `x, expected`");
    }

    #[test]
    fn a_bad_enum_code_names_the_field_and_the_codes() {
        let line = FULL.replacen("\"FEMALE\"", "\"F\"", 1);
        let error = parse(&line).expect_err("bad code");
        assert!(error.starts_with("sex: "), "{error}");
        assert!(error.contains("FEMALE, MALE"), "{error}");
        let line = FULL.replacen("\"CAPACITY_BUILDING\"", "\"TRAINING\"", 1);
        let error = parse(&line).expect_err("bad purpose");
        assert!(error.starts_with("consent.purposes[1]: "), "{error}");
        let line = FULL.replacen("\"WORKING\"", "\"PLACEMENT_STATUS_WORKING\"", 1);
        assert!(parse(&line).expect_err("prefixed").starts_with("status: "));
    }

    #[test]
    fn a_bad_date_names_the_field() {
        let line = FULL.replacen("1999-08-05", "05-08-1999", 1);
        let error = parse(&line).expect_err("bad date");
        assert!(error.starts_with("birth_date: "), "{error}");
        assert!(error.contains("YYYY-MM-DD"), "{error}");
        let line = FULL.replacen("2025-01-10", "2025-02-30", 1);
        let error = parse(&line).expect_err("impossible date");
        assert!(error.starts_with("certificates[0].issued_on: "), "{error}");
        let line = FULL.replacen("2025-06-01T08:30:00Z", "2025-06-01", 1);
        let error = parse(&line).expect_err("bad time");
        assert!(error.starts_with("updated_at: "), "{error}");
    }

    #[test]
    fn fields_left_out_are_left_to_the_exchange_to_judge() {
        let record = parse(r#"{"placement_id":"X-1"}"#).expect("sparse record");
        let proto = record.to_proto();
        assert_eq!(proto.sex, 0);
        assert_eq!(proto.birth_date, None);
        assert_eq!(proto.consent, None);
    }

    #[test]
    fn a_csv_header_with_an_unknown_or_repeated_column_is_refused() {
        let header = csv::StringRecord::from(vec!["placement_id", "nik", "gender"]);
        let error = CsvLayout::from_header(&COLUMNS, &header).expect_err("unknown column");
        assert!(error.contains("\"gender\""), "{error}");
        let header = csv::StringRecord::from(vec!["nik", "nik"]);
        assert!(CsvLayout::from_header(&COLUMNS, &header).is_err());
    }

    #[test]
    fn csv_cells_that_do_not_fit_are_named() {
        let header = csv::StringRecord::from(vec!["placement_id", "version", "certificates"]);
        let layout = CsvLayout::from_header(&COLUMNS, &header).expect("layout");
        let row = csv::StringRecord::from(vec!["X-1", "three", ""]);
        let error = PlacementRecord::from_json(&layout.to_json(&row).expect("json"))
            .expect_err("bad version");
        assert!(error.starts_with("version: "), "{error}");
        let row = csv::StringRecord::from(vec!["X-1", "1", "SKM-CG-3:3"]);
        let error = layout.to_json(&row).expect_err("bad certificate");
        assert!(error.starts_with("certificates[0]: "), "{error}");
    }
}
