//! Opaque positions handed to callers, page tokens and watch cursors: `<kind>:<n>` in base64url.
//! A token of another kind, or not of this exchange's making, is INVALID_ARGUMENT naming the
//! field; a well-formed one only moves the caller within what it may read anyway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jembatan_proto::v1::FieldViolation;
use tonic::Status;

use crate::placement_service::bad_request;

/// A token for position `value` of `kind` (`after`, `change`).
pub(crate) fn token(kind: &str, value: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{value}"))
}

/// The position in `token` (given as `field`), `None` when empty.
pub(crate) fn parse(field: &str, kind: &str, token: &str) -> Result<Option<u64>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.strip_prefix(kind)?
                .strip_prefix(':')?
                .parse::<u64>()
                .ok()
        })
        .filter(|value| i64::try_from(*value).is_ok())
        .map(Some)
        .ok_or_else(|| {
            let description = "not a token this exchange gave".to_owned();
            bad_request(
                &format!("{field}: {description}"),
                vec![FieldViolation {
                    field: field.to_owned(),
                    description,
                }],
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_others_are_refused() {
        let after = token("after", 42);
        assert_eq!(parse("page_token", "after", &after).expect("ok"), Some(42));
        assert_eq!(parse("page_token", "after", "").expect("ok"), None);
        assert!(
            parse("page_token", "change", &after).is_err(),
            "another kind"
        );
        assert!(parse("page_token", "after", "not base64!").is_err());
        assert!(parse("page_token", "after", &URL_SAFE_NO_PAD.encode("after:-5")).is_err());
        let huge = token("after", u64::MAX);
        assert!(
            parse("page_token", "after", &huge).is_err(),
            "beyond the store's range"
        );
        let status = parse("resume_cursor", "change", "x").expect_err("refused");
        assert!(
            status.message().starts_with("resume_cursor: "),
            "{}",
            status.message()
        );
    }
}
