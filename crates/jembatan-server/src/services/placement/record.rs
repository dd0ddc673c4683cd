//! What the store keeps of a valid pushed placement: its columns, the profile Kemendag may
//! see, and its pseudonymous record key.

use jembatan_proto::{convert, v1};
use jembatan_store::PlacementRecord;
use prost::Message;

use super::Incoming;

/// What is stored of a valid record, besides its own fields.
pub(super) struct Kept {
    pub(super) subject_key: String,
    pub(super) record_key: String,
    pub(super) salt: Vec<u8>,
    pub(super) digest: String,
    pub(super) updated_at: String,
    pub(super) consent_purposes: Vec<String>,
    pub(super) keep_contact: bool,
}

/// What is stored of a valid record.
pub(super) fn record_to_store(m: &v1::Placement, record: &Incoming, kept: Kept) -> PlacementRecord {
    let p = &record.placement;
    let profile = v1::Candidate {
        pseudonym: String::new(),
        sex: m.sex,
        birth_year: p.birth_date.year(),
        origin_regency_code: p.origin_regency.code().to_owned(),
        education: m.education,
        occupation_code: p.occupation.code().to_owned(),
        job_title: p.job_title.clone(),
        certificates: m.certificates.clone(),
        languages: p.languages.iter().map(|l| l.code().to_owned()).collect(),
        destination_countries: vec![p.destination_country.code().to_owned()],
        status: m.status,
        return_date: p.return_date.map(|_| m.return_date.unwrap_or_default()),
        return_date_kind: if p.return_date.is_some() {
            m.return_date_kind
        } else {
            0
        },
        business_interest: m.business_interest.clone(),
        full_name: String::new(),
        contact: None,
    };
    let contact = p.contact.as_ref().filter(|_| kept.keep_contact);
    PlacementRecord {
        placement_id: p.placement_id.clone(),
        subject_key: kept.subject_key,
        record_key: kept.record_key,
        salt: kept.salt,
        digest: kept.digest.into_bytes(),
        version: p.version,
        updated_at: kept.updated_at,
        profile: profile.encode_to_vec(),
        sex: p.sex.code().to_owned(),
        origin_province: p.origin_regency.province().to_owned(),
        origin_regency: p.origin_regency.code().to_owned(),
        occupation_code: p.occupation.code().to_owned(),
        destination_country: p.destination_country.code().to_owned(),
        status: p.status.code().to_owned(),
        return_date: p.return_date.map(|(date, _)| convert::date::to_text(date)),
        wants_to_export: p.business_interest.wants_to_export,
        certificate_schemes: p
            .certificates
            .iter()
            .map(|c| c.scheme_code.clone())
            .collect(),
        languages: p.languages.iter().map(|l| l.code().to_owned()).collect(),
        hs_chapters: p.business_interest.hs_chapters.clone(),
        consent_purposes: kept.consent_purposes,
        full_name: kept.keep_contact.then(|| p.full_name.clone()),
        phone: contact.and_then(|c| c.phone.clone()),
        email: contact.and_then(|c| c.email.clone()),
        change_seq: 0,
    }
}
