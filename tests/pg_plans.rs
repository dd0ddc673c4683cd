//! Plans PostgreSQL makes for the exchange's frequent statements on a new database, before any
//! ANALYZE (autovacuum off, or not yet run): with no statistics the planner guesses how many
//! rows a condition selects, and a wrong guess reads a whole table per call.

use jembatan_store::test_door::{PLACEMENT_CHANGES_POSTGRES, RawPool};
use jembatan_tests::{PgDatabase, TestPki, open_store};

/// Placements on a table never analysed.
const PLACEMENTS: i64 = 20_000;

/// The count index's refresh reads the few placements changed since its last batch. Written as
/// `change_seq > after` alone, the planner reckoned a third of the table and read all of it,
/// sorted, at every refresh until the table held some 225,000 placements; bounded by the log's
/// size it walks the change index.
#[tokio::test]
async fn the_count_refresh_walks_the_change_index_of_a_new_table() {
    let pki = TestPki::new();
    let db = PgDatabase::create().await;
    let store = open_store(&pki, &db.url).await;
    let RawPool::Postgres(pool) = store.raw_pool() else {
        panic!("a PostgreSQL store has a PostgreSQL pool");
    };
    sqlx::query(
        "INSERT INTO placements (placement_id, subject_key, record_key, salt, digest, version, \
         updated_at, profile, sex, origin_province, origin_regency, occupation_code, \
         destination_country, status, return_date, wants_to_export, certificate_schemes, \
         languages, hs_chapters, consent_purposes, change_seq) \
         SELECT 'P-' || g, md5(g::text) || md5(g::text), md5(g::text), '\\x00'::bytea, \
         sha256(g::text::bytea), 1, '2026-01-01T00:00:00Z', convert_to(repeat('x', 350), \
         'UTF8'), 'F', '33', '3301', '5120', 'MY', 'returned', '2027-01-01', true, 'BNSP', \
         'en', '09', 'export', g FROM generate_series(0, $1 - 1) AS g",
    )
    .bind(PLACEMENTS)
    .execute(pool)
    .await
    .expect("placements");
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN {PLACEMENT_CHANGES_POSTGRES}"
    )))
    .bind(PLACEMENTS - 300)
    .bind(PLACEMENTS)
    .bind(20_000_i64)
    .fetch_all(pool)
    .await
    .expect("plan");
    let plan = plan.join("\n");
    assert!(
        plan.contains("placements_change"),
        "the refresh walks the change index:\n{plan}"
    );
    assert!(
        !plan.contains("Seq Scan"),
        "the refresh reads no whole table:\n{plan}"
    );
    store.close().await;
}
