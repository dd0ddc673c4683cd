//! Paging: page sizes, and the opaque positions handed to callers (page tokens and watch
//! cursors, `<kind>:<n>` in base64url). A token of another kind, or not of this exchange's
//! making, is INVALID_ARGUMENT naming the field; a well-formed one only moves the caller within
//! what it may read anyway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tonic::Status;

use crate::status::invalid_field;

/// Largest page of any listing.
const MAX_PAGE: u32 = 1000;
/// Page of a listing when the caller asks for none.
const DEFAULT_PAGE: u32 = 100;

/// The page size a caller asked for as `page_size`: 0 means the default, more than the
/// largest is INVALID_ARGUMENT.
pub(crate) fn page_size(requested: u32) -> Result<u32, Status> {
    match requested {
        0 => Ok(DEFAULT_PAGE),
        n if n > MAX_PAGE => Err(invalid_field(
            "page_size",
            &format!("{n} is above {MAX_PAGE}"),
        )),
        n => Ok(n),
    }
}

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
        .ok_or_else(|| invalid_field(field, "not a token this exchange gave"))
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

    #[test]
    fn page_sizes_default_and_are_bounded() {
        assert_eq!(page_size(0).expect("default"), DEFAULT_PAGE);
        assert_eq!(page_size(7).expect("given"), 7);
        assert_eq!(page_size(MAX_PAGE).expect("largest"), MAX_PAGE);
        let status = page_size(MAX_PAGE + 1).expect_err("too large");
        assert!(
            status.message().starts_with("page_size: "),
            "{}",
            status.message()
        );
    }
}
