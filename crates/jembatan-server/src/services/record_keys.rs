//! Pseudonymous record keys and salts of the records the exchange stores: what the audit log
//! names a record by, derived from nothing about it.

use time::OffsetDateTime;
use tonic::Status;

/// A new record's pseudonymous key in the audit log, 32 hex digits: the time in milliseconds
/// (48 bits) then 80 random bits. It derives from nothing about the worker, so erasing the
/// record unlinks it; the time in front (which the record's first leaf shows anyway) makes
/// new keys arrive at the end of the log's record-key index instead of on a random page of it,
/// which on a large log is a page written per record.
pub(crate) fn new_record_key(now: OffsetDateTime) -> Result<String, Status> {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut key = [0u8; 16];
    key[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    key[6..].copy_from_slice(&random_bytes::<10>()?);
    Ok(hex::encode(key))
}

/// `N` random bytes (salts, record keys).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], Status> {
    let mut bytes = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Status::unavailable("the system's random source failed; try later"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_sort_by_time_and_differ_within_a_millisecond() {
        let earlier = OffsetDateTime::from_unix_timestamp(1_764_000_000).expect("time");
        let later = earlier + time::Duration::milliseconds(1);
        let (a, b) = (
            new_record_key(earlier).expect("key"),
            new_record_key(earlier).expect("key"),
        );
        let c = new_record_key(later).expect("key");
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|ch| ch.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(a[..12], b[..12]);
        assert!(a < c && b < c);
    }
}
