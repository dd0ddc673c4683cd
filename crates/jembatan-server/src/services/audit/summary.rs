//! SummarizeEntries: the log's leaves counted per day, for the auditors' charts.

use jembatan_audit::leaf::{Outcome, UNIDENTIFIED};
use jembatan_pki::{PrincipalKind, TrustDomain};
use jembatan_proto::convert::ShortCode;
use jembatan_proto::v1::{self, EntryCount, SummarizeEntriesRequest};
use jembatan_store::LeafCount;
use tonic::Status;

use super::entries::time_range;
use crate::status::invalid_field;

/// The longest range one summary covers, in days.
const MAX_DAYS: i64 = 366;

/// The time range of a request as leaves record time, both ends required and at most
/// [`MAX_DAYS`] apart.
pub(super) fn summary_range(r: &SummarizeEntriesRequest) -> Result<(String, String), Status> {
    let (Some(from), Some(to)) = (r.from_time, r.to_time) else {
        let field = if r.from_time.is_none() {
            "from_time"
        } else {
            "to_time"
        };
        return Err(invalid_field(field, "is required"));
    };
    let seconds = to.seconds.saturating_sub(from.seconds);
    if seconds <= 0 {
        return Err(invalid_field("to_time", "must be after from_time"));
    }
    if seconds > MAX_DAYS * 86_400 {
        return Err(invalid_field(
            "to_time",
            &format!("is more than {MAX_DAYS} days after from_time; ask for a shorter range"),
        ));
    }
    match time_range(Some(from), Some(to))? {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(invalid_field("from_time", "is required")),
    }
}

/// The agency filter as a principal prefix; empty for every caller.
pub(super) fn agency_prefix(trust_domain: &TrustDomain, agency: &str) -> Result<String, Status> {
    if agency.is_empty() {
        return Ok(String::new());
    }
    if !agency
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid_field(
            "agency",
            "is not an agency name (lower-case letters, digits and '-')",
        ));
    }
    Ok(format!("spiffe://{trust_domain}/agency/{agency}/"))
}

/// A stored count as the contract shows it.
pub(super) fn count_message(trust_domain: &TrustDomain, count: LeafCount) -> EntryCount {
    EntryCount {
        agency: agency_of(trust_domain, &count.principal),
        purpose: v1::Purpose::number_of_code(&count.purpose).unwrap_or(0),
        decision: match count.outcome {
            Outcome::Allow => v1::Decision::Allow,
            Outcome::Deny => v1::Decision::Deny,
        } as i32,
        method: format!("/jembatan.v1.{}", count.method),
        day: count.day,
        principal: count.principal,
        record_type: count.record_type,
        reason: count.reason,
        count: count.count,
    }
}

/// `kp2mi` of `spiffe://<td>/agency/kp2mi/<system>`, `auditor` of an auditor, empty for a caller
/// refused for its identity.
fn agency_of(trust_domain: &TrustDomain, principal: &str) -> String {
    if principal == UNIDENTIFIED {
        return String::new();
    }
    match jembatan_pki::SpiffeId::parse(principal, trust_domain).map(|p| p.kind().clone()) {
        Ok(PrincipalKind::Agency { agency, .. }) => agency,
        Ok(PrincipalKind::Auditor { .. }) => "auditor".to_owned(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Timestamp;

    fn request(from: i64, to: i64) -> SummarizeEntriesRequest {
        SummarizeEntriesRequest {
            from_time: Some(Timestamp {
                seconds: from,
                nanos: 0,
            }),
            to_time: Some(Timestamp {
                seconds: to,
                nanos: 0,
            }),
            agency: String::new(),
        }
    }

    #[test]
    fn ranges_are_required_ordered_and_bounded() {
        let day = 86_400;
        let start = 1_780_000_000;
        assert!(summary_range(&request(start, start + 30 * day)).is_ok());
        let missing = summary_range(&SummarizeEntriesRequest::default()).expect_err("missing");
        assert!(missing.message().contains("from_time"), "{missing:?}");
        let backwards = summary_range(&request(start, start - 1)).expect_err("backwards");
        assert!(backwards.message().contains("to_time"), "{backwards:?}");
        let long = summary_range(&request(start, start + 367 * day)).expect_err("too long");
        assert!(long.message().contains("366 days"), "{long:?}");
    }

    #[test]
    fn agency_names_only() {
        let td = TrustDomain::new("dev.jembatan.local").expect("td");
        assert_eq!(
            agency_prefix(&td, "kp2mi").expect("ok"),
            "spiffe://dev.jembatan.local/agency/kp2mi/"
        );
        assert_eq!(agency_prefix(&td, "").expect("ok"), "");
        assert!(agency_prefix(&td, "kp2mi/../x").is_err());
        assert_eq!(
            agency_of(&td, "spiffe://dev.jembatan.local/agency/kp2mi/siskop2mi"),
            "kp2mi"
        );
        assert_eq!(
            agency_of(&td, "spiffe://dev.jembatan.local/auditor/inspectorate"),
            "auditor"
        );
        assert_eq!(agency_of(&td, UNIDENTIFIED), "");
    }
}
