//! What the exchange's PostgreSQL role may do, table by table, and [`grant_exchange_privileges`],
//! which grants exactly that to a role that owns nothing (deploy/postgres).
//!
//! The audit log's tables are insert-only twice over: triggers refuse UPDATE and DELETE, and the
//! exchange's role is granted neither, so that it is refused (SQLSTATE 42501) before any trigger
//! runs, and, owning nothing, cannot drop or disable the triggers either. Migrations run as the
//! owner ([`crate::migrate`]).
//!
//! [`EXCHANGE_PRIVILEGES`] is the one list: a migration that adds a table, or code that starts
//! to UPDATE or DELETE in one, changes it, or the grant refuses to run (an unlisted table) or
//! the exchange is refused its statement.

use std::fmt;

use sqlx::{Connection, PgConnection};

use crate::{StoreError, StoreLocation};
use Privilege::{Delete, Insert, Select, Update};

/// A privilege the exchange is granted on a table; nothing else (no TRUNCATE, REFERENCES or
/// TRIGGER) ever is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Read rows.
    Select,
    /// Add rows.
    Insert,
    /// Change rows (also needed to lock them with `SELECT … FOR UPDATE`, and for
    /// `INSERT … ON CONFLICT DO UPDATE`).
    Update,
    /// Remove rows.
    Delete,
}

impl Privilege {
    /// The privilege's SQL keyword.
    pub fn as_sql(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
        }
    }
}

/// What the exchange may do to one table, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TablePrivileges {
    /// The table, in the migrated schema.
    pub table: &'static str,
    /// What the exchange's role is granted on it.
    pub privileges: &'static [Privilege],
    /// What the exchange does with it.
    pub reason: &'static str,
}

/// Every table of the schema and what the exchange's role is granted on it: exactly what the
/// store's SQL does to each (`grep -n 'UPDATE\|DELETE\|INSERT' crates/jembatan-store/src`).
/// Identity columns take their next value without a grant on their sequence, so no sequence
/// is granted.
pub const EXCHANGE_PRIVILEGES: &[TablePrivileges] = &[
    TablePrivileges {
        table: "_sqlx_migrations",
        privileges: &[Select],
        reason: "checked at start: every migration of the build applied",
    },
    TablePrivileges {
        table: "instance",
        privileges: &[Select],
        reason: "the database's id, read at start",
    },
    TablePrivileges {
        table: "audit_head",
        privileges: &[Select, Update],
        reason: "the next leaf index, locked and advanced by every logged write",
    },
    TablePrivileges {
        table: "audit_leaves",
        privileges: &[Select, Insert],
        reason: "the log: appended, never changed",
    },
    TablePrivileges {
        table: "audit_nodes",
        privileges: &[Select, Insert],
        reason: "subtree roots, written once by the sequencer",
    },
    TablePrivileges {
        table: "audit_checkpoints",
        privileges: &[Select, Insert],
        reason: "signed checkpoints, written once by the sequencer",
    },
    TablePrivileges {
        table: "audit_cosignatures",
        privileges: &[Select, Insert],
        reason: "witnesses' cosignatures, the first per witness kept",
    },
    TablePrivileges {
        table: "placements",
        privileges: &[Select, Insert, Update, Delete],
        reason: "new versions, consent withdrawals and erasures",
    },
    TablePrivileges {
        table: "erased_subjects",
        privileges: &[Select, Insert, Update],
        reason: "erasures remembered, the latest per worker",
    },
    TablePrivileges {
        table: "consent_withdrawals",
        privileges: &[Select, Insert, Update],
        reason: "withdrawals remembered, the latest per worker and purpose",
    },
    TablePrivileges {
        table: "market_reports",
        privileges: &[Select, Insert, Update],
        reason: "new versions of reports",
    },
    TablePrivileges {
        table: "programs",
        privileges: &[Select, Insert, Update],
        reason: "new versions of programs",
    },
    TablePrivileges {
        table: "enrollments",
        privileges: &[Select, Insert, Update, Delete],
        reason: "new versions; a worker's erased with their data or consent",
    },
];

/// Every table privilege PostgreSQL knows, to find any the exchange's role holds beyond its
/// grants; those checked on any column as well as on the table.
const ALL_PRIVILEGES: &[(&str, bool)] = &[
    ("SELECT", true),
    ("INSERT", true),
    ("UPDATE", true),
    ("DELETE", false),
    ("TRUNCATE", false),
    ("REFERENCES", true),
    ("TRIGGER", false),
];

/// A PostgreSQL role name as the exchange's role: 1 to 63 ASCII letters, digits and
/// underscores, not starting with a digit nor with `pg_` (PostgreSQL's own roles). It is
/// matched exactly, and quoted in statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<Self, GrantError> {
        let valid = (1..=63).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && !name.to_ascii_lowercase().starts_with("pg_");
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(GrantError::InvalidRole(name.to_owned()))
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an SQL identifier.
    fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the exchange's role could not be granted its privileges; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The store is not on PostgreSQL.
    #[error("store {0}: only PostgreSQL has roles to grant to")]
    NotPostgres(String),
    /// The role name is not one [`RoleName`] takes.
    #[error(
        "role name {0:?}: expected 1 to 63 ASCII letters, digits and underscores, not starting \
         with a digit or pg_"
    )]
    InvalidRole(String),
    /// No such role.
    #[error("role {0} does not exist: create it first (deploy/postgres/roles.sql)")]
    NoSuchRole(RoleName),
    /// The role is the one granting, i.e. the schema's owner.
    #[error(
        "role {0} is the role migrating, the schema's owner: the exchange needs a role of its own"
    )]
    Granting(RoleName),
    /// A superuser bypasses every grant.
    #[error("role {0} is a superuser: no grant restricts it")]
    Superuser(RoleName),
    /// The role owns objects in the database, and so may change or drop them.
    #[error(
        "role {role} owns {}: the exchange's role must own nothing \
         (REASSIGN OWNED BY {role} TO the schema's owner)",
        objects.join(", ")
    )]
    Owns {
        /// The role.
        role: RoleName,
        /// What it owns, as PostgreSQL describes it (`table audit_leaves`).
        objects: Vec<String>,
    },
    /// The role belongs to other roles, whose privileges it may take with SET ROLE.
    #[error(
        "role {role} is a member of {}: it could SET ROLE to them and hold their privileges; \
         the exchange's role must belong to no role",
        roles.join(", ")
    )]
    Member {
        /// The role.
        role: RoleName,
        /// The roles it belongs to.
        roles: Vec<String>,
    },
    /// The role is a member of a role owning tables, and may act as it.
    #[error("role {role} is a member of {owner}, which owns the tables: it could act as the owner")]
    MemberOfOwner {
        /// The role.
        role: RoleName,
        /// The owner.
        owner: String,
    },
    /// The role may create objects (and would own them) in the schema.
    #[error(
        "role {role} may create objects in schema {schema}: REVOKE CREATE ON SCHEMA {schema} \
         FROM PUBLIC (deploy/postgres/database.sql)"
    )]
    MayCreate {
        /// The role.
        role: RoleName,
        /// The schema.
        schema: String,
    },
    /// Tables of the schema that [`EXCHANGE_PRIVILEGES`] does not list.
    #[error(
        "tables {} are not listed in jembatan-store's EXCHANGE_PRIVILEGES: a migration added \
         them without saying what the exchange may do to them",
        .0.join(", ")
    )]
    Unlisted(Vec<String>),
    /// Tables that [`EXCHANGE_PRIVILEGES`] lists and the schema lacks.
    #[error("tables {} are missing: apply the migrations first", .0.join(", "))]
    Missing(Vec<String>),
    /// After the grants the role holds more, from elsewhere (grants to PUBLIC or to a role it
    /// is a member of, such as `pg_write_all_data`).
    #[error(
        "role {role} would still hold {} through grants to PUBLIC or to a role it is a member \
         of (such as pg_write_all_data): revoke them",
        extra.join(", ")
    )]
    Extra {
        /// The role.
        role: RoleName,
        /// What it holds beyond its grants (`UPDATE on audit_leaves`).
        extra: Vec<String>,
    },
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for GrantError {
    fn from(error: sqlx::Error) -> Self {
        GrantError::Store(error.into())
    }
}

/// Grants `role` exactly [`EXCHANGE_PRIVILEGES`] on the tables of the current schema of the
/// PostgreSQL database at `location`, and USAGE on the schema, revoking whatever else it was
/// granted on the tables and their sequences; run as the schema's owner after the migrations.
/// Refuses, changing nothing, a role that is missing, a superuser, the role granting, owns
/// anything in the database, is a member of the tables' owner or may create in the schema; a
/// schema whose tables differ from the list; and a role that would still hold more than the
/// list through PUBLIC or another role.
pub async fn grant_exchange_privileges(
    location: &StoreLocation,
    role: &RoleName,
) -> Result<(), GrantError> {
    let StoreLocation::Postgres(url) = location else {
        return Err(GrantError::NotPostgres(location.to_string()));
    };
    let connect = |source| StoreError::Connect {
        location: location.to_string(),
        source,
    };
    let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(connect)?;
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(connect)?;
    let mut tx = conn.begin().await?;
    let schema = check_role(&mut tx, role).await?;
    let tables = EXCHANGE_PRIVILEGES
        .iter()
        .map(|t| format!("{schema}.{}", quote(t.table)))
        .collect::<Vec<_>>()
        .join(", ");
    let grantee = role.quoted();
    let mut statements = vec![
        format!("REVOKE ALL ON TABLE {tables} FROM {grantee}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {grantee}"),
        format!("GRANT USAGE ON SCHEMA {schema} TO {grantee}"),
    ];
    for table in EXCHANGE_PRIVILEGES {
        let privileges = table
            .privileges
            .iter()
            .map(|p| p.as_sql())
            .collect::<Vec<_>>()
            .join(", ");
        statements.push(format!(
            "GRANT {privileges} ON TABLE {schema}.{} TO {grantee}",
            quote(table.table)
        ));
    }
    for statement in statements {
        // Built from a checked role name, the listed tables and the quoted schema.
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    let extra = extra_privileges(&mut tx, role).await?;
    if !extra.is_empty() {
        return Err(GrantError::Extra {
            role: role.clone(),
            extra,
        });
    }
    tx.commit().await?;
    Ok(())
}

/// `name` as an SQL identifier (the listed names need no escaping).
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

/// The checks before granting; returns the current schema, quoted.
async fn check_role(conn: &mut PgConnection, role: &RoleName) -> Result<String, GrantError> {
    let found: Option<(bool, bool)> =
        sqlx::query_as("SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = $1")
            .bind(role.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    match found {
        None => return Err(GrantError::NoSuchRole(role.clone())),
        Some((true, _)) => return Err(GrantError::Superuser(role.clone())),
        Some((_, true)) => return Err(GrantError::Granting(role.clone())),
        Some(_) => {}
    }

    // Any role it belongs to: a NOINHERIT member holds none of its privileges by the
    // has_*_privilege functions below, yet may SET ROLE to it (pg_write_all_data, a DBA role).
    let memberships: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_roles r \
         WHERE r.rolname <> $1 AND pg_has_role($1::name, r.oid, 'MEMBER') ORDER BY 1",
    )
    .bind(role.as_str())
    .fetch_all(&mut *conn)
    .await?;
    if !memberships.is_empty() {
        return Err(GrantError::Member {
            role: role.clone(),
            roles: memberships,
        });
    }

    // Objects in this database, and the database itself, owned by the role.
    const OWNED: &str = "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) \
         FROM pg_shdepend d, pg_database db \
         WHERE db.datname = current_database() AND d.deptype = 'o' \
           AND d.refclassid = 'pg_authid'::regclass \
           AND d.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1) \
           AND (d.dbid = db.oid \
                OR (d.dbid = 0 AND d.classid = 'pg_database'::regclass AND d.objid = db.oid)) \
         ORDER BY 1";
    let objects: Vec<String> = sqlx::query_scalar(OWNED)
        .bind(role.as_str())
        .fetch_all(&mut *conn)
        .await?;
    if !objects.is_empty() {
        return Err(GrantError::Owns {
            role: role.clone(),
            objects,
        });
    }

    let (schema, quoted, may_create): (String, String, bool) = sqlx::query_as(
        "SELECT current_schema(), quote_ident(current_schema()), \
                has_schema_privilege($1::name, current_schema(), 'CREATE')",
    )
    .bind(role.as_str())
    .fetch_one(&mut *conn)
    .await?;
    if may_create {
        return Err(GrantError::MayCreate {
            role: role.clone(),
            schema,
        });
    }

    // The schema's tables (and views, should a migration add one), and their owners.
    let relations: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_userbyid(c.relowner)::text, \
                pg_has_role($1::name, c.relowner, 'MEMBER') \
         FROM pg_class c \
         WHERE c.relnamespace = current_schema()::regnamespace \
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
         ORDER BY 1",
    )
    .bind(role.as_str())
    .fetch_all(&mut *conn)
    .await?;
    if let Some((_, owner, _)) = relations.iter().find(|(_, _, member)| *member) {
        return Err(GrantError::MemberOfOwner {
            role: role.clone(),
            owner: owner.clone(),
        });
    }
    let unlisted: Vec<String> = relations
        .iter()
        .map(|(name, _, _)| name)
        .filter(|name| !EXCHANGE_PRIVILEGES.iter().any(|t| t.table == name.as_str()))
        .cloned()
        .collect();
    if !unlisted.is_empty() {
        return Err(GrantError::Unlisted(unlisted));
    }
    let missing: Vec<String> = EXCHANGE_PRIVILEGES
        .iter()
        .filter(|t| !relations.iter().any(|(name, _, _)| name == t.table))
        .map(|t| t.table.to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(GrantError::Missing(missing));
    }
    Ok(quoted)
}

/// What `role` holds on the listed tables beyond [`EXCHANGE_PRIVILEGES`], from any source
/// (grants to it, to PUBLIC, to roles it is a member of), as `UPDATE on audit_leaves`.
async fn extra_privileges(
    conn: &mut PgConnection,
    role: &RoleName,
) -> Result<Vec<String>, GrantError> {
    let mut extra = Vec::new();
    for table in EXCHANGE_PRIVILEGES {
        for privilege in held_privileges(conn, role, table.table).await? {
            if !table.privileges.iter().any(|p| p.as_sql() == privilege) {
                extra.push(format!("{privilege} on {}", table.table));
            }
        }
    }
    Ok(extra)
}

/// What `role` holds on `table` in the current schema, of every table privilege PostgreSQL
/// knows (on the table, or for some, on any of its columns), in [`ALL_PRIVILEGES`]' order.
async fn held_privileges(
    conn: &mut PgConnection,
    role: &RoleName,
    table: &str,
) -> Result<Vec<&'static str>, GrantError> {
    const HELD: &str = "SELECT CASE WHEN $4 \
         THEN has_any_column_privilege($1::name, format('%I.%I', current_schema(), $2), $3) \
         ELSE has_table_privilege($1::name, format('%I.%I', current_schema(), $2), $3) END";
    let mut held = Vec::new();
    for &(privilege, by_column) in ALL_PRIVILEGES {
        let has: bool = sqlx::query_scalar(HELD)
            .bind(role.as_str())
            .bind(table)
            .bind(privilege)
            .bind(by_column)
            .fetch_one(&mut *conn)
            .await?;
        if has {
            held.push(privilege);
        }
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        for good in ["jembatan_app", "App_2", "_x", &"a".repeat(63)] {
            assert_eq!(RoleName::parse(good).expect(good).as_str(), good);
        }
        for bad in [
            "",
            "2app",
            "app-role",
            "app\"; DROP TABLE audit_leaves; --",
            "pg_write_all_data",
            "PG_monitor",
            "jembatan app",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(RoleName::parse(bad), Err(GrantError::InvalidRole(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            RoleName::parse("jembatan_app").expect("valid").quoted(),
            "\"jembatan_app\""
        );
    }

    #[test]
    fn the_log_is_never_granted_update_or_delete_and_each_table_once() {
        for table in EXCHANGE_PRIVILEGES {
            if table.table.starts_with("audit_") && table.table != "audit_head" {
                assert_eq!(table.privileges, [Select, Insert], "{}", table.table);
            }
            assert_eq!(
                EXCHANGE_PRIVILEGES
                    .iter()
                    .filter(|t| t.table == table.table)
                    .count(),
                1,
                "{}",
                table.table
            );
        }
    }
}
