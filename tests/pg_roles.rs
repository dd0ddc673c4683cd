//! Least-privilege PostgreSQL roles (deploy/postgres): migrations run as `jembatan_owner`, and
//! the exchange runs as `jembatan_app`, which owns nothing and may INSERT into the audit log's
//! tables but never UPDATE or DELETE them: the database refuses it by its grants (SQLSTATE
//! 42501, insufficient_privilege) before the log's triggers are reached, and it cannot drop
//! or disable the triggers. The exchange that may not migrate refuses a database behind its
//! version, naming `jembatan migrate`.
//!
//! Roles belong to the whole cluster: `deploy/postgres/roles.sql` is idempotent and runs once per
//! test process; two processes of this test at once may collide on it.

use std::time::Duration;

use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{self, AvailabilityFilter, QueryAvailabilityRequest, RecordOutcome};
use jembatan_store::grants::{self, EXCHANGE_PRIVILEGES, GrantError, RoleName};
use jembatan_store::{Migrations, Store, StoreLocation, StoreOptions, StoredCosignature};
use jembatan_tests::market::{report, submit};
use jembatan_tests::placements::{as_kp2mi, placement, placements, push, stated, workforce};
use jembatan_tests::programs::{enrol, enrollment, program, publish};
use jembatan_tests::{PgDatabase, RunningExchange, TestPki, config, repo_path};
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

const OWNER: &str = "jembatan_owner";
const APP: &str = "jembatan_app";

/// The audit log's insert-only tables, each with a column to try to change.
const LOG_TABLES: [(&str, &str); 4] = [
    ("audit_leaves", "leaf_hash"),
    ("audit_nodes", "hash"),
    ("audit_checkpoints", "note"),
    ("audit_cosignatures", "signature"),
];

/// `deploy/postgres/roles.sql`, run once in this process.
static ROLES: OnceCell<()> = OnceCell::const_new();

/// A new database made as `deploy/postgres/README.md` says: the roles, then the database owned
/// by jembatan_owner (`database.sql`), not yet migrated.
async fn database_for_roles() -> PgDatabase {
    let db = PgDatabase::create().await;
    ROLES
        .get_or_init(|| run_script(&db.url, "deploy/postgres/roles.sql"))
        .await;
    run_script(&db.url, "deploy/postgres/database.sql").await;
    db
}

/// Runs a script of the repository as the test server's administrator.
async fn run_script(url: &str, script: &str) {
    let text = std::fs::read_to_string(repo_path(script)).expect(script);
    let mut conn = connect(url).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(text))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"));
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// `url` logging in as `role`, without a password (the test server trusts local logins).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}@{host}")
}

fn location(url: &str) -> StoreLocation {
    StoreLocation::parse(url).expect("location")
}

/// The SQLSTATE of a statement's failure, with its message; panics if it succeeded.
async fn refused(conn: &mut PgConnection, sql: &str) -> (String, String) {
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => panic!("{sql}: allowed"),
        Err(sqlx::Error::Database(e)) => (
            e.code().map(|c| c.into_owned()).unwrap_or_default(),
            e.message().to_owned(),
        ),
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// What `role` holds on each table of the schema, as PostgreSQL decides it (grants to the role,
/// to PUBLIC, to roles it is a member of, ownership): (table, privileges in SQL order).
async fn effective_privileges(conn: &mut PgConnection, role: &str) -> Vec<(String, Vec<String>)> {
    let mut held: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT c.relname::text, ARRAY(
             SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                        'REFERENCES', 'TRIGGER']) WITH ORDINALITY AS u(p, n)
             WHERE has_table_privilege($1::name, c.oid, p)
                OR (p IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                    AND has_any_column_privilege($1::name, c.oid, p))
             ORDER BY n)
         FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
    )
    .bind(role)
    .fetch_all(conn)
    .await
    .expect("privileges");
    held.sort();
    held
}

/// Waits until the log's checkpoint covers every leaf stored so far.
async fn checkpoint_of_everything(store: &Store) -> u64 {
    for _ in 0..200 {
        let size = store.log_size().await.expect("log size");
        if let Some(checkpoint) = store.checkpoint(None).await.expect("checkpoint")
            && checkpoint.size == size
        {
            return size;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no checkpoint of every leaf within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_role_appends_to_the_log_and_may_never_rewrite_it() {
    let db = database_for_roles().await;
    let (owner_url, app_url) = (as_role(&db.url, OWNER), as_role(&db.url, APP));
    let applied = jembatan_store::migrate(&location(&owner_url))
        .await
        .expect("migrate as the owner");
    assert!(
        !applied.is_empty(),
        "a new database has every migration to apply"
    );
    let mut owner = connect(&owner_url).await;

    // Why the exchange must not be the owner: the owner is stopped only by the triggers, and
    // may drop them (here in a transaction rolled back).
    let mut attack = owner.begin().await.expect("begin");
    sqlx::query("DROP TRIGGER audit_leaves_insert_only ON audit_leaves")
        .execute(&mut *attack)
        .await
        .expect("the owner may drop the log's trigger");
    attack.rollback().await.expect("rollback");

    // The grant refuses, changing nothing, a role that would hold more than its list through
    // PUBLIC, and roles that no grant restricts.
    sqlx::query("GRANT UPDATE ON audit_leaves TO PUBLIC")
        .execute(&mut owner)
        .await
        .expect("grant to public");
    let app = RoleName::parse(APP).expect("role name");
    let owner_location = location(&owner_url);
    match grants::grant_exchange_privileges(&owner_location, &app).await {
        Err(GrantError::Extra { extra, .. }) => assert_eq!(extra, ["UPDATE on audit_leaves"]),
        other => panic!("an UPDATE granted to PUBLIC was not refused: {other:?}"),
    }
    assert!(
        effective_privileges(&mut owner, APP)
            .await
            .iter()
            .all(|(_, held)| held.iter().all(|p| p == "UPDATE")),
        "a refused grant changed nothing"
    );
    sqlx::query("REVOKE UPDATE ON audit_leaves FROM PUBLIC")
        .execute(&mut owner)
        .await
        .expect("revoke from public");
    for (role, expected) in [
        (OWNER, "the role migrating"),
        ("postgres", "superuser"),
        ("no_such_role_of_jembatan", "does not exist"),
    ] {
        let err = grants::grant_exchange_privileges(
            &owner_location,
            &RoleName::parse(role).expect("role name"),
        )
        .await
        .expect_err(role);
        assert!(err.to_string().contains(expected), "{role}: {err}");
    }

    // A role that may SET ROLE to one writing every table is refused, though NOINHERIT hides
    // that role's privileges from has_table_privilege. (A role of its own: roles are
    // cluster-wide, and the other test grants jembatan_app.)
    let mut admin = connect(&db.url).await;
    for sql in [
        "DROP ROLE IF EXISTS jembatan_app_probe",
        "CREATE ROLE jembatan_app_probe LOGIN NOINHERIT",
        "GRANT pg_write_all_data TO jembatan_app_probe",
    ] {
        sqlx::query(sql).execute(&mut admin).await.expect(sql);
    }
    let err = grants::grant_exchange_privileges(
        &owner_location,
        &RoleName::parse("jembatan_app_probe").expect("role name"),
    )
    .await
    .expect_err("a member of pg_write_all_data");
    assert!(
        matches!(&err, GrantError::Member { roles, .. } if roles == &["pg_write_all_data"]),
        "{err}"
    );
    sqlx::query("DROP ROLE jembatan_app_probe")
        .execute(&mut admin)
        .await
        .expect("drop the probe role");
    admin.close().await.expect("close");

    for _ in 0..2 {
        grants::grant_exchange_privileges(&owner_location, &app)
            .await
            .expect("grant the exchange's role, again and again");
    }
    let held = effective_privileges(&mut owner, APP).await;
    let listed: Vec<(String, Vec<String>)> = {
        let mut listed: Vec<_> = EXCHANGE_PRIVILEGES
            .iter()
            .map(|t| {
                let privileges = t.privileges.iter().map(|p| p.as_sql().to_owned()).collect();
                (t.table.to_owned(), privileges)
            })
            .collect();
        listed.sort();
        listed
    };
    assert_eq!(held, listed, "the exchange's role holds exactly its list");
    for (table, _) in LOG_TABLES {
        let (_, privileges) = held.iter().find(|(t, _)| t == table).expect(table);
        assert_eq!(privileges, &["SELECT", "INSERT"], "{table}");
    }

    // The real exchange, over mTLS, as the exchange's role, applying no migration.
    let pki = TestPki::new();
    let mut config = config(&pki, &app_url, "");
    config.store.migrate = false;
    config.audit.checkpoint_interval_ms = 20;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi");
    let kemendag = exchange
        .connect(pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect kemendag");
    // Sessions closed by the steps before may linger a moment.
    let mut logins: Vec<String> = Vec::new();
    for _ in 0..100 {
        logins = sqlx::query_scalar(
            "SELECT DISTINCT usename::text FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut owner)
        .await
        .expect("sessions");
        if logins == [APP] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(logins, [APP], "the exchange logs in as its own role only");

    // Every kind of write the exchange makes: new records and new versions, a withdrawal, an
    // erasure, reports, programs and enrolments, and the sequencer's nodes and checkpoints.
    let pushed = push(&kp2mi, (0..10).map(placement).collect()).await;
    assert_eq!(pushed.summary.expect("summary").stored, 10);
    let mut newer = placement(0);
    newer.version = 2;
    newer.job_title = "Senior caregiver".into();
    let repushed = push(&kp2mi, vec![newer]).await;
    assert_eq!(repushed.results[0].outcome(), RecordOutcome::Stored);
    let withdrawn = placements(&kp2mi)
        .withdraw_consent(as_kp2mi(v1::WithdrawConsentRequest {
            nik: placement(1).nik,
            purposes: vec![v1::Purpose::BusinessMatching.into()],
            withdrawn_at: None,
        }))
        .await
        .expect("withdraw")
        .into_inner();
    assert_eq!(withdrawn.placements_changed, 1);
    let mut revised = report(1);
    revised.version = 2;
    for reports in [vec![report(1)], vec![revised]] {
        let submitted = submit(&kp2mi, reports).await;
        assert_eq!(submitted.results[0].outcome(), RecordOutcome::Stored);
    }
    let published = publish(&kemendag, vec![program(1)]).await;
    assert_eq!(published.results[0].outcome(), RecordOutcome::Stored);
    let enrolled = enrol(
        &kp2mi,
        vec![enrollment(1, &program(1).program_id, &placement(2).nik)],
    )
    .await;
    assert_eq!(enrolled.results[0].outcome(), RecordOutcome::Stored);
    // The erasure deletes the worker's placement and enrolment.
    let erased = placements(&kp2mi)
        .erase_personal_data(as_kp2mi(v1::ErasePersonalDataRequest {
            nik: placement(2).nik,
            request_ref: "PDP/2026/0042".into(),
        }))
        .await
        .expect("erase")
        .into_inner();
    assert_eq!(erased.placements_erased, 1);
    let counted = workforce(&kemendag)
        .query_availability(stated(
            Purpose::Statistics,
            LegalBasis::PublicTask,
            QueryAvailabilityRequest {
                filter: Some(AvailabilityFilter::default()),
                group_by: vec![],
                min_change: 0,
            },
        ))
        .await
        .expect("count")
        .into_inner();
    assert!(counted.receipt.is_some(), "a count answered and logged");

    // The store as the exchange's role, requiring its migrations: reads, and a cosignature.
    let store = Store::open_with(
        &location(&app_url),
        StoreOptions::default(),
        Migrations::Require,
    )
    .await
    .expect("the exchange's role opens a migrated store");
    let size = checkpoint_of_everything(&store).await;
    assert!(size >= 16, "every write logged: {size} leaves");
    let cosignature = StoredCosignature {
        size,
        witness: "kemendag-witness".into(),
        verifier_key: "kemendag-witness+00000000+AAAA".into(),
        signature: "— kemendag-witness AAAA\n".into(),
        principal: "spiffe://test.jembatan.local/agency/kemendag/witness".into(),
        received_at: "2026-11-22T08:30:00.000Z".into(),
    };
    assert_eq!(
        store.add_cosignature(&cosignature).await.expect("cosign"),
        cosignature
    );
    store.close().await;

    // As the exchange's role, the log cannot be rewritten: refused by the grants, never
    // reaching the triggers ("… is insert-only").
    let mut app_conn = connect(&app_url).await;
    for (table, column) in LOG_TABLES {
        for sql in [
            format!("UPDATE {table} SET {column} = {column}"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
        ] {
            let (code, message) = refused(&mut app_conn, &sql).await;
            assert_eq!(code, "42501", "{sql}: {message}");
            assert_eq!(
                message,
                format!("permission denied for table {table}"),
                "{sql}"
            );
        }
    }
    for sql in [
        "DROP TRIGGER audit_leaves_insert_only ON audit_leaves",
        "ALTER TABLE audit_leaves DISABLE TRIGGER audit_leaves_insert_only",
        "DROP TABLE audit_leaves",
        "CREATE TABLE shadow_leaves (data BYTEA)",
        "SET ROLE jembatan_owner",
    ] {
        let (code, message) = refused(&mut app_conn, sql).await;
        assert_eq!(code, "42501", "{sql}: {message}");
    }
    // The data tables take new rows from it (here in a transaction rolled back).
    let mut insert = app_conn.begin().await.expect("begin");
    let inserted = sqlx::query(
        "INSERT INTO placements (placement_id, subject_key, record_key, salt, digest, version, \
             updated_at, profile, sex, origin_province, origin_regency, occupation_code, \
             destination_country, status, return_date, wants_to_export, certificate_schemes, \
             languages, hs_chapters, consent_purposes, change_seq) \
         SELECT 'PL-ROLE-TEST', subject_key, record_key, salt, digest, version, updated_at, \
             profile, sex, origin_province, origin_regency, occupation_code, \
             destination_country, status, return_date, wants_to_export, certificate_schemes, \
             languages, hs_chapters, consent_purposes, change_seq \
         FROM placements LIMIT 1",
    )
    .execute(&mut *insert)
    .await
    .expect("the exchange's role inserts placements");
    assert_eq!(inserted.rows_affected(), 1);
    insert.rollback().await.expect("rollback");

    // The triggers stay as the second wall, for the owner.
    let (code, message) = refused(&mut owner, "UPDATE audit_leaves SET data = data").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("P0001", "audit_leaves is insert-only")
    );
    exchange.stop().await;
}

/// Why the exchange of `config` does not start.
async fn refusal(config: &jembatan_server::Config) -> String {
    match jembatan_server::Exchange::bind(config).await {
        Ok(_) => panic!("the exchange started"),
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn an_exchange_that_may_not_migrate_refuses_a_database_behind_its_version() {
    static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
        sqlx::migrate!("../crates/jembatan-store/migrations/postgres");
    let latest = POSTGRES_MIGRATIONS
        .iter()
        .map(|m| m.version)
        .max()
        .expect("migrations");
    let db = database_for_roles().await;
    let (owner_url, app_url) = (as_role(&db.url, OWNER), as_role(&db.url, APP));
    let pki = TestPki::new();
    let mut config = config(&pki, &app_url, "");
    config.store.migrate = false;

    let err = refusal(&config).await;
    assert!(err.contains("jembatan migrate --config"), "{err}");
    assert!(err.contains("migrations 1, 2,"), "{err}");

    // A database at the version before, with that version's grants: the new exchange names
    // the migration missing.
    let mut owner = connect(&owner_url).await;
    POSTGRES_MIGRATIONS
        .run_to(latest - 1, &mut owner)
        .await
        .expect("the previous version's migrations");
    sqlx::query("GRANT SELECT ON ALL TABLES IN SCHEMA public TO jembatan_app")
        .execute(&mut owner)
        .await
        .expect("grant");
    let err = refusal(&config).await;
    assert!(
        err.contains(&format!("lacks migration {latest} of this build")),
        "{err}"
    );
    assert!(err.contains("jembatan migrate --config"), "{err}");

    assert_eq!(
        jembatan_store::migrate(&location(&owner_url))
            .await
            .expect("migrate"),
        [latest]
    );
    grants::grant_exchange_privileges(&location(&owner_url), &RoleName::parse(APP).expect("role"))
        .await
        .expect("grant");
    let exchange = RunningExchange::start(&config).await;
    let client = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect");
    assert_eq!(
        client.health("").await.expect("health"),
        jembatan_client::ServingStatus::Serving
    );
    exchange.stop().await;

    let sqlite = StoreLocation::Sqlite(pki.dir.path().join("x.db"));
    assert!(matches!(
        grants::grant_exchange_privileges(&sqlite, &RoleName::parse(APP).expect("role")).await,
        Err(GrantError::NotPostgres(_))
    ));
}
