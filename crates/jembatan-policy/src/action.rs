//! Names of the schema's actions: contract methods and data-class reads.

/// Prefix of the contract's gRPC paths.
const CONTRACT_PATH_PREFIX: &str = "/jembatan.v1.";

/// The action of a gRPC path of the contract: `/jembatan.v1.WorkforceService/ListCandidates`
/// is `WorkforceService/ListCandidates`. `None` for paths outside `jembatan.v1` (health,
/// reflection), which carry no data and are not decided by policy.
pub fn method_action(path: &str) -> Option<&str> {
    path.strip_prefix(CONTRACT_PATH_PREFIX)
}

/// A class of data a response may carry. Each is read through the action `read/<class>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataClass {
    /// Counts of workers, perturbed, small counts not published.
    Aggregate,
    /// One worker's record under a pseudonym: occupation, skills, region, dates.
    Profile,
    /// One worker's name, phone and e-mail.
    Contact,
    /// Market-opportunity reports collected by workers abroad.
    MarketReport,
    /// Export and training programs.
    Program,
    /// Enrolments in programs and their results.
    Outcome,
    /// Audit log entries, checkpoints and proofs.
    AuditMetadata,
}

impl DataClass {
    /// Every data class.
    pub const ALL: [DataClass; 7] = [
        DataClass::Aggregate,
        DataClass::Profile,
        DataClass::Contact,
        DataClass::MarketReport,
        DataClass::Program,
        DataClass::Outcome,
        DataClass::AuditMetadata,
    ];

    /// The class's name, e.g. `market_report`.
    pub fn name(self) -> &'static str {
        self.action().strip_prefix("read/").unwrap_or(self.action())
    }

    /// The read action of the class, e.g. `read/market_report`.
    pub fn action(self) -> &'static str {
        match self {
            DataClass::Aggregate => "read/aggregate",
            DataClass::Profile => "read/profile",
            DataClass::Contact => "read/contact",
            DataClass::MarketReport => "read/market_report",
            DataClass::Program => "read/program",
            DataClass::Outcome => "read/outcome",
            DataClass::AuditMetadata => "read/audit_metadata",
        }
    }

    /// The class named `name` (`profile`), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_paths_map_to_actions_and_others_do_not() {
        assert_eq!(
            method_action("/jembatan.v1.WorkforceService/ListCandidates"),
            Some("WorkforceService/ListCandidates")
        );
        assert_eq!(method_action("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            method_action("/jembatan.v2.WorkforceService/ListCandidates"),
            None
        );
    }

    #[test]
    fn data_class_names_round_trip() {
        for class in DataClass::ALL {
            assert_eq!(DataClass::from_name(class.name()), Some(class));
        }
        assert_eq!(DataClass::MarketReport.name(), "market_report");
    }
}
