//! The policy matrix of docs/policy-matrix.md, checked cell by cell: methods end to end over
//! mutual TLS against the running exchange, data classes against the policy engine, health and
//! reflection against both. Also the metadata a call must state, and that an agency no policy
//! names gets nothing, not even health or reflection.

use futures_util::{StreamExt, stream};
use jembatan_client::ServingStatus;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::PrincipalKind;
use jembatan_policy::{Engine, Policies, Query};
use jembatan_tests::policy_matrix::{Column, PolicyMatrix, table_rows};
use jembatan_tests::raw_call::{call, call_path, contract_methods, stated};
use jembatan_tests::{RunningExchange, TestPki, config, repo_path};
use tonic::Code;
use tonic::transport::Channel;

/// The identity each column is tested with: `(agency or "auditor", system or office)`.
fn identity(column: Column) -> (&'static str, &'static str) {
    match column {
        Column::Kp2mi => ("kp2mi", "siskop2mi"),
        Column::Kemendag => ("kemendag", "export-portal"),
        Column::Auditor => ("auditor", "inspectorate"),
        Column::OtherAgency => ("bappenas", "sipd"),
    }
}

fn principal_kind(column: Column) -> PrincipalKind {
    match identity(column) {
        ("auditor", office) => PrincipalKind::Auditor {
            office: office.into(),
        },
        (agency, system) => PrincipalKind::Agency {
            agency: agency.into(),
            system: system.into(),
        },
    }
}

async fn channel(exchange: &RunningExchange, pki: &TestPki, column: Column) -> Channel {
    let tls = match identity(column) {
        ("auditor", office) => pki.auditor(office),
        (agency, system) => pki.agency(agency, system),
    };
    exchange.connect(tls).await.expect("connect").channel()
}

/// An exchange on SQLite that serves reflection, with limits far above the thousands of calls
/// the matrix makes at once: this test is about policy, not rates.
async fn matrix_exchange(pki: &TestPki) -> RunningExchange {
    let mut config = config(pki, "sqlite://jembatan.db", "reflection = true");
    let limits = &mut config.limits;
    for rate in [
        &mut limits.write_per_sec,
        &mut limits.read_per_sec,
        &mut limits.audit_per_sec,
        &mut limits.other_per_sec,
    ] {
        *rate = 1e6;
    }
    for burst in [
        &mut limits.write_burst,
        &mut limits.read_burst,
        &mut limits.audit_burst,
        &mut limits.other_burst,
        &mut limits.max_calls_per_principal,
        &mut limits.max_watches_per_principal,
        &mut limits.max_calls_in_flight,
    ] {
        *burst = 1_000_000;
    }
    RunningExchange::start(&config).await
}

fn default_policies() -> Policies {
    Policies::load_dir(&repo_path("deploy/policies")).expect("default policies")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_method_matrix_in_docs_is_what_the_exchange_enforces() {
    let matrix = PolicyMatrix::read();
    let methods = contract_methods();
    let documented: Vec<&String> = matrix.methods.keys().collect();
    assert_eq!(
        documented,
        methods.iter().collect::<Vec<_>>(),
        "docs rows vs contract"
    );
    let policies = default_policies();
    for method in &methods {
        assert!(
            policies.declares(method),
            "schema lacks an action for {method}"
        );
    }
    let hash = policies.hash().to_string();

    let pki = TestPki::new();
    let exchange = matrix_exchange(&pki).await;
    let mut cases = Vec::new();
    for column in Column::ALL {
        let channel = channel(&exchange, &pki, column).await;
        for method in &methods {
            for purpose in Purpose::ALL {
                for basis in LegalBasis::ALL {
                    cases.push((column, channel.clone(), method.clone(), purpose, basis));
                }
            }
        }
    }
    let total = cases.len();
    let mismatches: Vec<String> = stream::iter(cases)
        .map(|(column, channel, method, purpose, basis)| {
            let matrix = &matrix;
            let hash = &hash;
            async move {
                let expected = matrix.permits(&matrix.methods, &method, &method, column, purpose, basis);
                let result = call(channel, &method, &stated(purpose, basis)).await;
                let (code, message, headers) = match &result {
                    Ok(headers) => (Code::Ok, String::new(), headers.clone()),
                    Err(status) => (status.code(), status.message().to_owned(), status.metadata().clone()),
                };
                let what = format!("{column:?} {method} {purpose} {basis}");
                let policy_set = headers.get("jembatan-policy-set").and_then(|v| v.to_str().ok());
                if policy_set != Some(hash.as_str()) {
                    return Some(format!("{what}: policy set header {policy_set:?}"));
                }
                let (agency, system) = identity(column);
                let refusal = format!(
                    "{agency}/{system} may not call {method} for purpose {purpose} with legal basis {basis}"
                );
                match (expected, code) {
                    (true, Code::PermissionDenied) => Some(format!("{what}: denied, docs permit: {message}")),
                    (true, Code::InvalidArgument) if message.starts_with("metadata ") => {
                        Some(format!("{what}: metadata refused: {message}"))
                    }
                    // The layer's own refusals; a handler's answer (the stubs' UNIMPLEMENTED,
                    // or an audit method's) is what an allowed call gets.
                    (true, Code::Unauthenticated | Code::Internal) => {
                        Some(format!("{what}: refused before the handler: {message}"))
                    }
                    (true, Code::Unimplemented) if message.contains("not part of the jembatan.v1") => {
                        Some(format!("{what}: refused as unknown: {message}"))
                    }
                    (true, _) => None,
                    (false, Code::PermissionDenied) if message == refusal => None,
                    (false, code) => Some(format!("{what}: docs deny, got {code:?}: {message}")),
                }
            }
        })
        .buffer_unordered(64)
        .filter_map(|mismatch| async move { mismatch })
        .collect()
        .await;
    assert!(
        mismatches.is_empty(),
        "{} of {total} cells differ from docs/policy-matrix.md:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(total, 4 * 22 * 8 * 6);
    exchange.stop().await;
}

#[test]
fn the_data_class_matrix_in_docs_is_what_the_engine_decides() {
    let matrix = PolicyMatrix::read();
    let classes: Vec<&str> = matrix.data_classes.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = jembatan_policy::DataClass::ALL
        .iter()
        .map(|c| c.name())
        .collect();
    expected.sort_unstable();
    assert_eq!(classes, expected, "docs rows vs data classes");
    let engine = Engine::new(default_policies()).expect("engine");
    let mut mismatches = Vec::new();
    for class in jembatan_policy::DataClass::ALL {
        for column in Column::ALL {
            let principal = principal_kind(column);
            for purpose in Purpose::ALL {
                for legal_basis in LegalBasis::ALL {
                    let expected = matrix.permits(
                        &matrix.data_classes,
                        class.name(),
                        class.action(),
                        column,
                        purpose,
                        legal_basis,
                    );
                    let decision = engine
                        .decide(&Query {
                            principal: &principal,
                            action: class.action(),
                            purpose,
                            legal_basis,
                            time: time::OffsetDateTime::now_utc(),
                        })
                        .expect("decide");
                    if decision.allowed != expected {
                        mismatches.push(format!(
                            "{column:?} {} {purpose} {legal_basis}: engine {}, docs {expected}",
                            class.action(),
                            decision.allowed
                        ));
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn an_agency_no_policy_names_gets_nothing() {
    let pki = TestPki::new();
    let exchange = matrix_exchange(&pki).await;
    // A valid certificate of this CA; "kemendag-ri" is another agency than "kemendag".
    for (agency, system) in [("bappenas", "sipd"), ("kemendag-ri", "export-portal")] {
        let client = exchange
            .connect(pki.agency(agency, system))
            .await
            .expect("connect");
        let health = client.health("").await.expect_err("health is refused");
        assert!(
            matches!(&health, jembatan_client::ClientError::Status(s) if s.code() == Code::PermissionDenied),
            "{agency}: {health:?}"
        );
        let reflection = reflect(client.channel())
            .await
            .expect_err("reflection is refused");
        assert_eq!(
            reflection.code(),
            Code::PermissionDenied,
            "{agency}: {reflection:?}"
        );
        for method in contract_methods() {
            for purpose in Purpose::ALL {
                let status = call(
                    client.channel(),
                    &method,
                    &stated(purpose, LegalBasis::Consent),
                )
                .await
                .expect_err("denied");
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{agency} {method} {purpose}"
                );
            }
        }
    }
    exchange.stop().await;
}

#[tokio::test]
async fn purpose_and_legal_basis_are_required_and_named_when_wrong() {
    let pki = TestPki::new();
    let exchange = matrix_exchange(&pki).await;
    let channel = channel(&exchange, &pki, Column::Kemendag).await;
    let method = "WorkforceService/QueryAvailability";
    let with = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    };
    let basis = ("jembatan-legal-basis", "PUBLIC_TASK");
    let purpose = ("jembatan-purpose", "STATISTICS");
    let long = "x".repeat(65);
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (
            with(&[basis]),
            "metadata jembatan-purpose: is missing; every jembatan.v1 method states one of CAPACITY_BUILDING, ",
        ),
        (
            with(&[purpose]),
            "metadata jembatan-legal-basis: is missing; every jembatan.v1 method states one of CONSENT, ",
        ),
        (
            with(&[("jembatan-purpose", "statistics"), basis]),
            "metadata jembatan-purpose: unknown purpose \"statistics\"; expected one of ",
        ),
        (
            with(&[("jembatan-purpose", "PURPOSE_STATISTICS"), basis]),
            "metadata jembatan-purpose: unknown purpose \"PURPOSE_STATISTICS\"",
        ),
        (
            with(&[purpose, ("jembatan-legal-basis", "BECAUSE")]),
            "metadata jembatan-legal-basis: unknown legal basis \"BECAUSE\"",
        ),
        (
            with(&[purpose, ("jembatan-purpose", "STATISTICS"), basis]),
            "metadata jembatan-purpose: is given more than once",
        ),
        (
            with(&[purpose, basis, ("jembatan-case-ref", &long)]),
            "metadata jembatan-case-ref: is longer than 64 characters; it must be 1 to 64 \
             characters of A-Z a-z 0-9 . / _ : -",
        ),
        (
            with(&[purpose, basis, ("jembatan-operator", &long)]),
            "metadata jembatan-operator: is longer than 64 characters",
        ),
        (
            with(&[purpose, basis, ("jembatan-operator", "a\tb")]),
            "metadata jembatan-operator: holds a character outside the pattern",
        ),
        (
            with(&[purpose, basis, ("jembatan-case-ref", "3175014101900001")]),
            "metadata jembatan-case-ref: holds 16 digits",
        ),
        (
            with(&[purpose, basis, ("jembatan-operator", "siti@kemendag.go.id")]),
            "metadata jembatan-operator: holds '@'",
        ),
    ];
    for (metadata, expected) in cases {
        let status = call(channel.clone(), method, &metadata)
            .await
            .expect_err("refused");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{metadata:?}: {status:?}"
        );
        assert!(
            status.message().starts_with(expected),
            "{metadata:?}: {}",
            status.message()
        );
    }

    // The same call, well stated, passes the policy layer and is answered by its handler.
    let metadata = with(&[
        purpose,
        basis,
        ("jembatan-case-ref", "ND.12/PEN/2026"),
        ("jembatan-operator", "op-7"),
    ]);
    call(channel.clone(), method, &metadata)
        .await
        .expect("answered");

    // A method outside the contract never reaches a handler, whatever it states.
    let status = call_path(
        channel.clone(),
        "/jembatan.v1.WorkforceService/DumpEverything",
        &metadata,
    )
    .await
    .expect_err("unknown method");
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        status
            .message()
            .contains("not part of the jembatan.v1 contract"),
        "{status:?}"
    );

    // Data-class reads are not methods: no decision, whatever is stated (a refusal, logged).
    let status = call_path(channel.clone(), "/jembatan.v1.read/contact", &metadata)
        .await
        .expect_err("not a method");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    // A long path is not echoed whole.
    let long = format!("/jembatan.v1.{}", "X".repeat(4000));
    let status = call_path(channel, &long, &metadata)
        .await
        .expect_err("unknown");
    assert!(
        status.message().len() < 200,
        "{} bytes echoed",
        status.message().len()
    );
    exchange.stop().await;
}

/// Asks reflection for the list of services over `channel`.
async fn reflect(channel: Channel) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await?
        .into_inner();
    match stream.message().await?.and_then(|r| r.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => panic!("expected a service list, got {other:?}"),
    }
}

/// The table "Health and reflection" of the page: service → columns that may use it.
fn service_table() -> Vec<(String, Vec<bool>)> {
    let path = repo_path("docs/policy-matrix.md");
    let text = std::fs::read_to_string(&path).expect("policy matrix");
    let rows = table_rows(&text, "## Health and reflection");
    assert_eq!(
        rows[0],
        ["service", "kp2mi", "kemendag", "auditor", "other agency"],
        "table columns"
    );
    rows[1..]
        .iter()
        .map(|row| {
            let cells = row[1..]
                .iter()
                .map(|cell| match cell.as_str() {
                    "yes" => true,
                    "—" => false,
                    other => panic!("cell {other:?}: yes or —"),
                })
                .collect();
            (row[0].clone(), cells)
        })
        .collect()
}

#[tokio::test]
async fn health_and_reflection_are_for_the_callers_the_policies_name() {
    let table = service_table();
    let services: Vec<&str> = table.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection"
        ]
    );
    // The engine, for every column.
    let engine = Engine::new(default_policies()).expect("engine");
    for ((_, cells), action) in table.iter().zip(jembatan_policy::SERVICE_ACTIONS) {
        for (column, expected) in Column::ALL.into_iter().zip(cells) {
            let principal = principal_kind(column);
            let decision = engine
                .decide_service(&jembatan_policy::ServiceQuery {
                    principal: &principal,
                    action,
                    time: time::OffsetDateTime::now_utc(),
                })
                .expect("decide");
            assert_eq!(decision.allowed, *expected, "{column:?} {action}");
        }
    }
    // The running exchange, for every column.
    let pki = TestPki::new();
    let exchange = matrix_exchange(&pki).await;
    for (column, index) in Column::ALL.into_iter().zip(0..) {
        let tls = match identity(column) {
            ("auditor", office) => pki.auditor(office),
            (agency, system) => pki.agency(agency, system),
        };
        let client = exchange.connect(tls).await.expect("connect");
        let health = client.health("").await;
        let reflection = reflect(client.channel()).await;
        if table[0].1[index] {
            assert_eq!(
                health.expect("health"),
                ServingStatus::Serving,
                "{column:?}"
            );
        } else {
            assert!(
                matches!(&health, Err(jembatan_client::ClientError::Status(s)) if s.code() == Code::PermissionDenied),
                "{column:?}: {health:?}"
            );
        }
        match reflection {
            Ok(names) => {
                assert!(table[1].1[index], "{column:?} reflected");
                assert!(
                    names.iter().any(|n| n == "jembatan.v1.AuditService"),
                    "{names:?}"
                );
            }
            Err(status) => {
                assert!(!table[1].1[index], "{column:?}: {status:?}");
                assert_eq!(status.code(), Code::PermissionDenied, "{column:?}");
            }
        }
        // Nothing else outside the contract is served, to anyone.
        let status = call_path(
            client.channel(),
            "/grpc.channelz.v1.Channelz/GetTopChannels",
            &[],
        )
        .await
        .expect_err("not served");
        assert_eq!(status.code(), Code::Unimplemented, "{column:?}: {status:?}");
    }
    exchange.stop().await;
}

#[tokio::test]
async fn a_denial_names_the_action_and_purpose_and_no_policy_text() {
    let pki = TestPki::new();
    let exchange = matrix_exchange(&pki).await;
    let channel = channel(&exchange, &pki, Column::Kemendag).await;
    let status = call(
        channel,
        "WorkforceService/ListCandidates",
        &stated(Purpose::Statistics, LegalBasis::Consent),
    )
    .await
    .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "kemendag/export-portal may not call WorkforceService/ListCandidates for purpose \
         STATISTICS with legal basis CONSENT"
    );
    exchange.stop().await;
}
