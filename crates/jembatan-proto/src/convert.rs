//! The one home of conversions between the contract's values and the domain's types and human
//! text, for the exchange and its callers alike:
//!
//! - [`code`]: contract enums as short codes, `FEMALE` for `SEX_FEMALE` ([`ShortCode`]);
//! - [`timestamp`]: `google.protobuf.Timestamp` ↔ [`time::OffsetDateTime`] and RFC 3339 text;
//! - [`date`]: [`v1::Date`](crate::v1::Date) ↔ [`time::Date`] and `YYYY-MM-DD` text;
//! - [`number`]: counts as people read them, `1,234,567`;
//! - [`status`]: gRPC status codes by their canonical names, `PERMISSION_DENIED`.

pub mod code;
pub mod date;
pub mod number;
pub mod status;
pub mod timestamp;

pub use code::{CodeError, ShortCode};
pub use date::DateError;
pub use number::thousands;
pub use status::status_name;
pub use timestamp::TimestampError;
