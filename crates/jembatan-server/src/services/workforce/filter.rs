//! The contract's availability filters and groupings as the store's, every code checked:
//! INVALID_ARGUMENT names each bad value by its field.

use jembatan_counts::CountFilter;
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

/// The count filter from the contract's: every code checked, and the fixed classifications
/// enforced (at most one value per classification; an ISCO-08 group of 1 to 4 digits; a
/// return period of one calendar month, quarter or year). INVALID_ARGUMENT names each
/// violation by its field.
pub(super) fn count_filter(filter: Option<&v1::AvailabilityFilter>) -> Result<CountFilter, Status> {
    let Some(f) = filter else {
        return Ok(CountFilter::default());
    };
    let mut violations = Vec::new();
    let lists: [(&str, usize); 8] = [
        ("occupation_codes", f.occupation_codes.len()),
        ("certificate_schemes", f.certificate_schemes.len()),
        ("origin_province_codes", f.origin_province_codes.len()),
        ("origin_regency_codes", f.origin_regency_codes.len()),
        ("destination_countries", f.destination_countries.len()),
        ("languages", f.languages.len()),
        ("statuses", f.statuses.len()),
        ("hs_chapters", f.hs_chapters.len()),
    ];
    for (name, len) in lists {
        if len > 1 {
            violations.push(FieldViolation {
                field: format!("filter.{name}"),
                description: "counts take at most one value per classification: ask for each \
                              value, or group by it"
                    .into(),
            });
        }
    }
    let occupation = f.occupation_codes.first().cloned();
    if let Some(code) = &occupation
        && let Err(reason) = occupation_group(code)
    {
        violations.push(FieldViolation {
            field: "filter.occupation_codes[0]".into(),
            description: reason,
        });
    }
    let return_months = match (&f.return_from, &f.return_to) {
        (None, None) => Ok(Vec::new()),
        (Some(from), Some(to)) => return_period(from, to),
        _ => Err(
            "give both return_from and return_to, the first and last day of one \
                  calendar month, quarter or year"
                .to_owned(),
        ),
    };
    let return_months = return_months.unwrap_or_else(|reason| {
        violations.push(FieldViolation {
            field: "filter.return_from".into(),
            description: reason,
        });
        Vec::new()
    });
    // The other codes are checked as for listings.
    let others = v1::AvailabilityFilter {
        occupation_codes: Vec::new(),
        return_from: None,
        return_to: None,
        ..f.clone()
    };
    let checked = placement_filter(Some(&others));
    if !violations.is_empty() || checked.is_err() {
        if let Err(status) = &checked
            && let Some(details) = tonic_types::StatusExt::get_details_bad_request(status)
        {
            violations.extend(
                details
                    .field_violations
                    .into_iter()
                    .map(|v| FieldViolation {
                        field: v.field,
                        description: v.description,
                    }),
            );
        }
        return Err(bad_request(
            &format!("filter: {} invalid values", violations.len()),
            violations,
        ));
    }
    let checked = checked?;
    let first = |values: Vec<String>| values.into_iter().next();
    Ok(CountFilter {
        occupation,
        certificate_scheme: first(checked.certificate_schemes),
        province: first(checked.origin_provinces),
        regency: first(checked.origin_regencies),
        country: first(checked.destination_countries),
        language: first(checked.languages),
        status: first(checked.statuses),
        return_months,
        wants_to_export: checked.wants_to_export,
        hs_chapter: first(checked.hs_chapters),
    })
}

/// An ISCO-08 group: a unit group (4 digits), or the 1 to 3 leading digits of one.
fn occupation_group(code: &str) -> Result<(), String> {
    if code.len() == 4 {
        return jembatan_domain::Occupation::parse(code).map(|_| ());
    }
    let digits = (1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
    if digits && jembatan_domain::Occupation::all().any(|o| o.code().starts_with(code)) {
        Ok(())
    } else {
        Err("not an ISCO-08 group: 1 to 4 digits of a KBJI 2014 / ISCO-08 code".into())
    }
}

/// The months `YYYY-MM` of the calendar month, quarter or year from `from` to `to`.
fn return_period(from: &v1::Date, to: &v1::Date) -> Result<Vec<String>, String> {
    let wrong = || {
        "the return period must be one calendar month, quarter or year: return_from its first \
         day, return_to its last"
            .to_owned()
    };
    let from_date = jembatan_domain::date(from.year, from.month, from.day)?;
    let to_date = jembatan_domain::date(to.year, to.month, to.day)?;
    let last_day = to_date.month().length(to_date.year());
    if from_date.day() != 1 || to_date.day() != last_day || from_date.year() != to_date.year() {
        return Err(wrong());
    }
    let (first, last) = (u8::from(from_date.month()), u8::from(to_date.month()));
    let whole =
        first == last || (last == first + 2 && first % 3 == 1) || (first == 1 && last == 12);
    if !whole {
        return Err(wrong());
    }
    Ok((first..=last)
        .map(|month| format!("{:04}-{month:02}", from_date.year()))
        .collect())
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

    fn date(year: i32, month: i32, day: i32) -> Option<v1::Date> {
        Some(v1::Date { year, month, day })
    }

    #[test]
    fn counts_take_one_value_per_classification_and_whole_periods() {
        let filter = v1::AvailabilityFilter {
            occupation_codes: vec!["53".into()],
            origin_regency_codes: vec!["35.07".into()],
            return_from: date(2026, 10, 1),
            return_to: date(2026, 12, 31),
            ..Default::default()
        };
        let counted = count_filter(Some(&filter)).expect("a quarter of an ISCO sub-major group");
        assert_eq!(counted.occupation.as_deref(), Some("53"));
        assert_eq!(counted.return_months, ["2026-10", "2026-11", "2026-12"]);

        let fields = |filter: v1::AvailabilityFilter| -> Vec<String> {
            let status = count_filter(Some(&filter)).expect_err("refused");
            tonic_types::StatusExt::get_details_bad_request(&status)
                .expect("details")
                .field_violations
                .into_iter()
                .map(|v| v.field)
                .collect()
        };
        let union = v1::AvailabilityFilter {
            origin_regency_codes: vec!["35.07".into(), "73.08".into()],
            ..Default::default()
        };
        assert_eq!(fields(union), ["filter.origin_regency_codes"]);
        for (from, to) in [
            (date(2026, 12, 1), date(2026, 12, 3)),
            (date(2026, 11, 1), date(2026, 12, 31)),
            (date(2026, 2, 1), date(2026, 4, 30)),
            (date(2026, 12, 2), date(2026, 12, 31)),
            (date(2026, 12, 1), None),
        ] {
            let window = v1::AvailabilityFilter {
                return_from: from,
                return_to: to,
                ..Default::default()
            };
            assert_eq!(fields(window), ["filter.return_from"], "{from:?}..{to:?}");
        }
        let leap = v1::AvailabilityFilter {
            return_from: date(2028, 2, 1),
            return_to: date(2028, 2, 29),
            ..Default::default()
        };
        assert_eq!(
            count_filter(Some(&leap)).expect("February").return_months,
            ["2028-02"]
        );
        let bad = v1::AvailabilityFilter {
            occupation_codes: vec!["0x".into()],
            destination_countries: vec!["XX".into()],
            ..Default::default()
        };
        assert_eq!(
            fields(bad),
            [
                "filter.occupation_codes[0]",
                "filter.destination_countries[0]"
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
