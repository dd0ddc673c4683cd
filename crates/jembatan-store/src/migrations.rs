//! What opening a store does about the migrations embedded in this build, and [`migrate`], which
//! applies them as the schema's owner.
//!
//! An exchange whose database role owns the schema applies pending migrations when it opens the
//! store ([`Migrations::Apply`], the default). An exchange on PostgreSQL under a role that owns
//! nothing (deploy/postgres) cannot: it opens with [`Migrations::Require`], which applies
//! nothing and refuses a database whose migrations are pending, changed or unknown to this
//! build, and the owner runs `jembatan migrate` before each start of a new version.

use sqlx::migrate::{MigrateError, Migrator};

use crate::{Pool, Store, StoreError, StoreLocation, StoreOptions};

/// What [`Store::open_with`] does about the migrations embedded in this build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Migrations {
    /// Apply the pending ones (the store's role must be allowed to change the schema).
    #[default]
    Apply,
    /// Apply none, and refuse to open unless every one is applied as embedded.
    Require,
}

/// Opening with [`Migrations::Require`] found migrations of this build not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the database lacks {} of this build, and store.migrate = false applies none: apply them \
     as the schema's owner with `jembatan migrate --config FILE`",
    versions(.pending)
)]
pub struct MigrationsPending {
    /// The versions not applied, in order.
    pub pending: Vec<i64>,
}

/// `migration 8`, `migrations 7, 8`.
fn versions(versions: &[i64]) -> String {
    let list = versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match versions.len() {
        1 => format!("migration {list}"),
        _ => format!("migrations {list}"),
    }
}

/// Applies the pending migrations of this build to the store at `location`, as a role allowed
/// to change its schema (on PostgreSQL, its owner); returns the versions applied now, none if
/// the store was up to date.
pub async fn migrate(location: &StoreLocation) -> Result<Vec<i64>, StoreError> {
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    let (store, applied) = Store::open_migrating(location, options, Migrations::Apply).await?;
    store.close().await;
    Ok(applied)
}

/// The migrations embedded for the engine of `pool`.
pub(crate) fn migrator(pool: &Pool) -> &'static Migrator {
    match pool {
        Pool::Sqlite(_) => &crate::SQLITE_MIGRATIONS,
        Pool::Postgres(_) => &crate::POSTGRES_MIGRATIONS,
    }
}

/// Brings the store behind `pool` to this build's migrations as `migrations` says; returns the
/// versions applied now. A migration applied with other contents, one this build does not know
/// and one that failed half-way are refused either way, as the migrator itself refuses them.
pub(crate) async fn prepare(
    pool: &Pool,
    location: &StoreLocation,
    migrations: Migrations,
) -> Result<Vec<i64>, StoreError> {
    let migrator = migrator(pool);
    let pending = compare(&applied(pool).await?, migrator)?;
    if pending.is_empty() {
        return Ok(pending);
    }
    match migrations {
        Migrations::Apply => {
            match pool {
                Pool::Sqlite(pool) => migrator.run(pool).await?,
                Pool::Postgres(pool) => migrator.run(pool).await?,
            }
            Ok(pending)
        }
        Migrations::Require => Err(StoreError::Connect {
            location: location.to_string(),
            source: sqlx::Error::Configuration(Box::new(MigrationsPending { pending })),
        }),
    }
}

/// A row of the migrator's table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct Applied {
    version: i64,
    checksum: Vec<u8>,
    success: bool,
}

/// The migrations recorded in the store, in order; none if the migrator's table is missing.
async fn applied(pool: &Pool) -> Result<Vec<Applied>, StoreError> {
    const SQLITE_TABLE: &str = "SELECT EXISTS (SELECT 1 FROM sqlite_master \
                                WHERE type = 'table' AND name = '_sqlx_migrations')";
    const POSTGRES_TABLE: &str = "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";
    const APPLIED: &str =
        "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";
    let applied = match pool {
        Pool::Sqlite(pool) => {
            let exists: bool = sqlx::query_scalar(SQLITE_TABLE).fetch_one(pool).await?;
            if !exists {
                return Ok(Vec::new());
            }
            sqlx::query_as(APPLIED).fetch_all(pool).await?
        }
        Pool::Postgres(pool) => {
            let exists: bool = sqlx::query_scalar(POSTGRES_TABLE).fetch_one(pool).await?;
            if !exists {
                return Ok(Vec::new());
            }
            sqlx::query_as(APPLIED).fetch_all(pool).await?
        }
    };
    Ok(applied)
}

/// The versions of `migrator` not in `applied`, in order; an error if a migration applied
/// failed half-way, is unknown to `migrator`, or was applied with other contents.
fn compare(applied: &[Applied], migrator: &Migrator) -> Result<Vec<i64>, MigrateError> {
    if let Some(dirty) = applied.iter().find(|row| !row.success) {
        return Err(MigrateError::Dirty(dirty.version));
    }
    for row in applied {
        let embedded = migrator
            .iter()
            .find(|m| m.version == row.version && !m.migration_type.is_down_migration());
        match embedded {
            None => return Err(MigrateError::VersionMissing(row.version)),
            Some(embedded) if *embedded.checksum != *row.checksum => {
                return Err(MigrateError::VersionMismatch(row.version));
            }
            Some(_) => {}
        }
    }
    Ok(migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|version| !applied.iter().any(|row| row.version == *version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SQLITE_MIGRATIONS;

    fn all_applied() -> Vec<Applied> {
        SQLITE_MIGRATIONS
            .iter()
            .map(|m| Applied {
                version: m.version,
                checksum: m.checksum.to_vec(),
                success: true,
            })
            .collect()
    }

    fn all_versions() -> Vec<i64> {
        SQLITE_MIGRATIONS.iter().map(|m| m.version).collect()
    }

    #[test]
    fn pending_changed_unknown_and_failed_migrations_are_told_apart() {
        assert_eq!(
            compare(&[], &SQLITE_MIGRATIONS).expect("empty"),
            all_versions()
        );
        let mut applied = all_applied();
        assert_eq!(
            compare(&applied, &SQLITE_MIGRATIONS).expect("current"),
            Vec::<i64>::new()
        );

        let last = applied.pop().expect("a migration");
        assert_eq!(
            compare(&applied, &SQLITE_MIGRATIONS).expect("one behind"),
            [last.version]
        );

        let mut changed = all_applied();
        changed[1].checksum[0] ^= 1;
        assert!(matches!(
            compare(&changed, &SQLITE_MIGRATIONS),
            Err(MigrateError::VersionMismatch(v)) if v == changed[1].version
        ));

        let mut unknown = all_applied();
        unknown.push(Applied {
            version: 99_999,
            checksum: vec![0],
            success: true,
        });
        assert!(matches!(
            compare(&unknown, &SQLITE_MIGRATIONS),
            Err(MigrateError::VersionMissing(99_999))
        ));

        let mut failed = all_applied();
        failed[0].success = false;
        assert!(matches!(
            compare(&failed, &SQLITE_MIGRATIONS),
            Err(MigrateError::Dirty(v)) if v == failed[0].version
        ));
    }

    #[tokio::test]
    async fn a_store_that_requires_migrations_refuses_until_they_are_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let location = StoreLocation::Sqlite(dir.path().join("store.db"));
        let open = || Store::open_with(&location, StoreOptions::default(), Migrations::Require);

        let err = open().await.expect_err("nothing applied");
        let text = err.to_string();
        assert!(text.contains("jembatan migrate --config"), "{text}");
        assert!(text.contains(&versions(&all_versions())), "{text}");
        let StoreError::Connect {
            source: sqlx::Error::Configuration(cause),
            ..
        } = &err
        else {
            panic!("not a refusal to open: {err:?}");
        };
        assert_eq!(
            cause.downcast_ref::<MigrationsPending>(),
            Some(&MigrationsPending {
                pending: all_versions()
            })
        );

        assert_eq!(migrate(&location).await.expect("migrate"), all_versions());
        assert_eq!(
            migrate(&location).await.expect("again"),
            Vec::<i64>::new(),
            "nothing left to apply"
        );
        let store = open().await.expect("every migration applied");
        assert_eq!(
            store.applied_migrations().await.expect("applied"),
            all_versions()
        );

        // A migration applied with other contents than this build's is refused, not applied.
        let Pool::Sqlite(pool) = &store.writes else {
            panic!("an SQLite store");
        };
        sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
            .execute(pool)
            .await
            .expect("tamper");
        store.close().await;
        for migrations in [Migrations::Require, Migrations::Apply] {
            let err = Store::open_with(&location, StoreOptions::default(), migrations)
                .await
                .expect_err("changed migration");
            assert!(
                matches!(&err, StoreError::Migrate(MigrateError::VersionMismatch(1))),
                "{migrations:?}: {err}"
            );
        }
    }
}
