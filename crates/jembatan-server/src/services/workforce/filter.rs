//! The contract's availability filters and groupings as the store's, every code checked:
//! INVALID_ARGUMENT names each bad value by its field.

use jembatan_proto::convert::{self, ShortCode};
use jembatan_proto::v1::{self, FieldViolation, GroupBy};
use jembatan_store::{Dimension, PlacementFilter};
use tonic::Status;

use crate::status::{bad_request, invalid_field};

/// Most values in one list of a filter.
const MAX_FILTER_VALUES: usize = 100;
/// Most group-by dimensions.
const MAX_GROUP_BY: usize = 3;

/// The store's filter from the contract's, every code checked; INVALID_ARGUMENT names each bad
/// value by its field.
pub(super) fn placement_filter(
    filter: Option<&v1::AvailabilityFilter>,
) -> Result<PlacementFilter, Status> {
    let Some(f) = filter else {
        return Ok(PlacementFilter::default());
    };
    let mut violations = Vec::new();
    let mut codes =
        |name: &str, values: &[String], check: &dyn Fn(&str) -> Result<String, String>| {
            if values.len() > MAX_FILTER_VALUES {
                violations.push(FieldViolation {
                    field: format!("filter.{name}"),
                    description: format!("at most {MAX_FILTER_VALUES} values"),
                });
                return Vec::new();
            }
            let mut out = Vec::with_capacity(values.len());
            for (i, value) in values.iter().enumerate() {
                match check(value) {
                    Ok(code) => out.push(code),
                    Err(reason) => violations.push(FieldViolation {
                        field: format!("filter.{name}[{i}]"),
                        description: reason,
                    }),
                }
            }
            out
        };
    let occupation_codes = codes("occupation_codes", &f.occupation_codes, &|v| {
        jembatan_domain::Occupation::parse(v).map(|o| o.code().to_owned())
    });
    let certificate_schemes = codes("certificate_schemes", &f.certificate_schemes, &|v| {
        jembatan_domain::Certificate::check_scheme_code(v).map(|()| v.to_owned())
    });
    let origin_provinces = codes("origin_province_codes", &f.origin_province_codes, &|v| {
        jembatan_domain::region::province_name(v)
            .map(|_| v.to_owned())
            .ok_or_else(|| "not a Kemendagri province code".to_owned())
    });
    let origin_regencies = codes("origin_regency_codes", &f.origin_regency_codes, &|v| {
        jembatan_domain::Regency::parse(v).map(|r| r.code().to_owned())
    });
    let destination_countries = codes("destination_countries", &f.destination_countries, &|v| {
        jembatan_domain::Country::parse(v).map(|c| c.code().to_owned())
    });
    let languages = codes("languages", &f.languages, &|v| {
        jembatan_domain::Language::parse(v).map(|l| l.code().to_owned())
    });
    let hs_chapters = codes("hs_chapters", &f.hs_chapters, &|v| {
        jembatan_domain::BusinessInterest::check_chapter(v).map(|()| v.to_owned())
    });
    let mut statuses = Vec::new();
    for (i, status) in f.statuses.iter().enumerate() {
        match v1::PlacementStatus::try_from(*status) {
            Ok(s) if s != v1::PlacementStatus::Unspecified => statuses.push(s.code().to_owned()),
            _ => violations.push(FieldViolation {
                field: format!("filter.statuses[{i}]"),
                description: "not a placement status".into(),
            }),
        }
    }
    let mut date = |name: &str, value: &Option<v1::Date>| {
        value.as_ref().and_then(|d| {
            jembatan_domain::date(d.year, d.month, d.day)
                .map(convert::date::to_text)
                .map_err(|reason| {
                    violations.push(FieldViolation {
                        field: format!("filter.{name}"),
                        description: reason,
                    })
                })
                .ok()
        })
    };
    let return_from = date("return_from", &f.return_from);
    let return_to = date("return_to", &f.return_to);
    if !violations.is_empty() {
        return Err(bad_request(
            &format!("filter: {} invalid values", violations.len()),
            violations,
        ));
    }
    Ok(PlacementFilter {
        occupation_codes,
        certificate_schemes,
        origin_provinces,
        origin_regencies,
        destination_countries,
        languages,
        statuses,
        return_from,
        return_to,
        wants_to_export: f.wants_to_export,
        hs_chapters,
        consented_to: None,
    })
}

pub(super) fn dimensions(group_by: &[i32]) -> Result<Vec<Dimension>, Status> {
    let invalid = |field: String, description: String| invalid_field(&field, &description);
    if group_by.len() > MAX_GROUP_BY {
        return Err(invalid(
            "group_by".into(),
            format!("at most {MAX_GROUP_BY} dimensions"),
        ));
    }
    let mut dimensions = Vec::with_capacity(group_by.len());
    for (i, value) in group_by.iter().enumerate() {
        let dimension = match GroupBy::try_from(*value) {
            Ok(GroupBy::Province) => Dimension::Province,
            Ok(GroupBy::Regency) => Dimension::Regency,
            Ok(GroupBy::Occupation) => Dimension::Occupation,
            Ok(GroupBy::DestinationCountry) => Dimension::DestinationCountry,
            Ok(GroupBy::ReturnMonth) => Dimension::ReturnMonth,
            Ok(GroupBy::Sex) => Dimension::Sex,
            Ok(GroupBy::Unspecified) | Err(_) => {
                return Err(invalid(format!("group_by[{i}]"), "not a dimension".into()));
            }
        };
        if dimensions.contains(&dimension) {
            return Err(invalid(format!("group_by[{i}]"), "given twice".into()));
        }
        dimensions.push(dimension);
    }
    Ok(dimensions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_name_each_bad_value() {
        let filter = v1::AvailabilityFilter {
            occupation_codes: vec!["5322".into(), "99999".into()],
            origin_province_codes: vec!["35".into(), "10".into()],
            hs_chapters: vec!["9".into()],
            statuses: vec![0],
            ..Default::default()
        };
        let status = placement_filter(Some(&filter)).expect_err("invalid");
        let details = tonic_types::StatusExt::get_details_bad_request(&status).expect("details");
        let fields: Vec<&str> = details
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "filter.occupation_codes[1]",
                "filter.origin_province_codes[1]",
                "filter.hs_chapters[0]",
                "filter.statuses[0]"
            ]
        );
    }

    #[test]
    fn group_by_is_bounded_and_unique() {
        assert!(dimensions(&[1, 2, 3]).is_ok());
        assert!(dimensions(&[1, 2, 3, 4]).is_err());
        assert!(dimensions(&[1, 1]).is_err());
        assert!(dimensions(&[0]).is_err());
        assert!(dimensions(&[99]).is_err());
    }
}
