//! The parsing of one record's fields from the contract's messages, shared by the services of
//! versioned records: every field parsed on its own, every failure kept with its field path,
//! then the record's rules, leaving out those that judged a stand-in for a field that failed.

use jembatan_domain::Violation;
use jembatan_proto::convert::{ShortCode, date};
use jembatan_proto::v1;

/// The violations found while parsing the fields of one record.
#[derive(Default)]
pub(crate) struct FieldParse {
    /// Every field that failed to parse, with why.
    failed: Vec<Violation>,
}

impl FieldParse {
    /// Records that `field` failed for `reason`.
    pub(crate) fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.failed.push(Violation::new(field, reason));
    }

    /// The parsed value, or `None` with the failure recorded on `field`.
    pub(crate) fn ok<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|reason| self.fail(field, reason)).ok()
    }

    /// A required enum value, by its short code: neither unspecified (0) nor a number the
    /// contract does not know.
    pub(crate) fn enumeration<P: ShortCode, D>(
        &mut self,
        field: &str,
        number: i32,
        from_code: fn(&str) -> Option<D>,
    ) -> Option<D> {
        let Some(value) = P::from_number(number) else {
            self.fail(field, "is not a known value");
            return None;
        };
        let parsed = from_code(value.code());
        if parsed.is_none() {
            self.fail(field, "is required");
        }
        parsed
    }

    /// A required date.
    pub(crate) fn date(&mut self, field: &str, value: Option<&v1::Date>) -> Option<time::Date> {
        let Some(value) = value else {
            self.fail(field, "is required");
            return None;
        };
        self.ok(field, date::from_proto(value).map_err(|e| e.to_string()))
    }

    /// The codes of a list that parse, each once; more than `max` codes (named `what`), each
    /// code that does not parse and each duplicate are failures.
    pub(crate) fn list<T: PartialEq>(
        &mut self,
        field: &str,
        codes: &[String],
        (max, what): (usize, &str),
        parse: fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        if codes.len() > max {
            self.fail(field, format!("must hold at most {max} {what}"));
        }
        let mut parsed: Vec<T> = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            let at = format!("{field}[{i}]");
            if let Some(value) = self.ok(&at, parse(code)) {
                if parsed.contains(&value) {
                    self.fail(at, "is a duplicate");
                } else {
                    parsed.push(value);
                }
            }
        }
        parsed
    }

    /// The record if neither parsing nor its rules found a violation; else every violation
    /// under `prefix`, leaving out the rules that judged a stand-in.
    pub(crate) fn finish<T>(
        self,
        record: Option<T>,
        rules: Option<Result<(), Vec<Violation>>>,
        prefix: &str,
    ) -> Result<T, Vec<v1::FieldViolation>> {
        let mut violations = self.failed;
        if let Some(Err(broken)) = rules {
            let judged_stand_in =
                |rule: &Violation| violations.iter().any(|f| is_within(&f.field, &rule.field));
            let kept: Vec<Violation> = broken.into_iter().filter(|v| !judged_stand_in(v)).collect();
            violations.extend(kept);
        }
        match record {
            Some(record) if violations.is_empty() => Ok(record),
            _ => Err(violations
                .into_iter()
                .map(|v| {
                    let v = v.under(prefix);
                    v1::FieldViolation {
                        field: v.field,
                        description: v.reason,
                    }
                })
                .collect()),
        }
    }
}

/// Whether the field path `path` is `field` or lies inside it (`hs_codes[2]` inside
/// `hs_codes`), but not merely sharing a prefix.
fn is_within(path: &str, field: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_fields_contain_their_parts() {
        assert!(is_within("hs_codes[2]", "hs_codes"));
        assert!(is_within("hs_codes", "hs_codes"));
        assert!(!is_within("hs_codes_other", "hs_codes"));
        assert!(!is_within("hs", "hs_codes"));
    }
}
