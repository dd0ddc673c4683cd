//! Names of the schema's actions: contract methods, data-class reads, and the services beside
//! the contract (health, reflection).

/// Prefix of the contract's gRPC paths.
const CONTRACT_PATH_PREFIX: &str = "/jembatan.v1.";

/// The action of health checks: `grpc.health.v1.Health`, Check and Watch.
pub const HEALTH_CHECK: &str = "health/check";

/// The action of server reflection (`grpc.reflection.v1` and `v1alpha`), which shows the
/// public contract only.
pub const REFLECTION_READ: &str = "reflection/read";

/// The actions of the services beside the contract. They state no purpose or legal basis, so
/// they are decided with [`crate::Engine::decide_service`], never with a purpose.
pub const SERVICE_ACTIONS: [&str; 2] = [HEALTH_CHECK, REFLECTION_READ];

/// The action of a gRPC path of the contract: `/jembatan.v1.WorkforceService/ListCandidates`
/// is `WorkforceService/ListCandidates`. `None` for paths outside `jembatan.v1`; see
/// [`service_action`] for health and reflection.
pub fn method_action(path: &str) -> Option<&str> {
    path.strip_prefix(CONTRACT_PATH_PREFIX)
}

/// The action of a gRPC path of a service beside the contract: [`HEALTH_CHECK`] for
/// `/grpc.health.v1.Health/Check` and `/Watch`, [`REFLECTION_READ`] for
/// `ServerReflectionInfo` of reflection v1 and v1alpha. `None` for every other path.
pub fn service_action(path: &str) -> Option<&'static str> {
    match path {
        "/grpc.health.v1.Health/Check" | "/grpc.health.v1.Health/Watch" => Some(HEALTH_CHECK),
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        | "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" => Some(REFLECTION_READ),
        _ => None,
    }
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
    fn health_and_reflection_paths_map_to_their_actions_and_nothing_else_does() {
        for (path, action) in [
            ("/grpc.health.v1.Health/Check", Some(HEALTH_CHECK)),
            ("/grpc.health.v1.Health/Watch", Some(HEALTH_CHECK)),
            (
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                Some(REFLECTION_READ),
            ),
            (
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                Some(REFLECTION_READ),
            ),
            ("/grpc.health.v1.Health/Dump", None),
            ("/grpc.health.v2.Health/Check", None),
            ("/jembatan.v1.WorkforceService/ListCandidates", None),
            ("/other.Service/Method", None),
        ] {
            assert_eq!(service_action(path), action, "{path}");
        }
    }

    #[test]
    fn data_class_names_round_trip() {
        for class in DataClass::ALL {
            assert_eq!(DataClass::from_name(class.name()), Some(class));
        }
        assert_eq!(DataClass::MarketReport.name(), "market_report");
    }
}
