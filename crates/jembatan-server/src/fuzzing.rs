//! The private parsers of the exchange, public for the fuzz targets of `crates/jembatan-fuzz`
//! (feature `fuzzing`; never for the exchange). Each function only calls the parser the
//! services use, so that what is fuzzed is what serves.

use jembatan_domain::Placement;
use jembatan_proto::v1;
use time::OffsetDateTime;
use tonic::Status;

/// The validation of one pushed placement, as PushPlacements and StreamPlacements run it on
/// every record: the validated record, or every violation with its field path under `prefix`
/// (e.g. `placements[0]`), judged at `now`.
pub fn placement(
    message: &v1::Placement,
    prefix: &str,
    now: OffsetDateTime,
) -> Result<Placement, Vec<v1::FieldViolation>> {
    crate::services::placement::input::placement_from_proto(message, prefix, now)
}

/// The position in a page token or watch cursor `token` of `kind` (`after`, `change`,
/// `before`), read as the services read their `field`: `None` when empty, INVALID_ARGUMENT
/// naming `field` when not a token of this kind the exchange gave.
pub fn page_token(field: &str, kind: &str, token: &str) -> Result<Option<u64>, Status> {
    crate::services::paging::parse(field, kind, token)
}

/// The token the exchange hands out for position `value` of `kind`.
pub fn make_page_token(kind: &str, value: u64) -> String {
    crate::services::paging::token(kind, value)
}
