//! `jembatan migrate`: applies the store's pending migrations as the schema's owner and, on
//! PostgreSQL, grants the exchange's role exactly what it needs (deploy/postgres/README.md).

use std::process::ExitCode;

use anyhow::Context;
use jembatan_store::StoreLocation;
use jembatan_store::grants::{self, EXCHANGE_PRIVILEGES, RoleName};

use crate::serve::ConfigFile;

/// Arguments of `jembatan migrate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Run it as the schema's owner before starting a new version of the exchange, whose config has
store.migrate = false. The config file is the exchange's own: give the owner's URL in
JEMBATAN_STORE_URL (a password in PGPASSWORD or ~/.pgpass keeps it out of the URL):

  JEMBATAN_STORE_URL=postgres://jembatan_owner@db:5432/jembatan \\
    jembatan migrate --config /etc/jembatan/jembatan.toml --grant-to jembatan_app")]
pub(crate) struct MigrateArgs {
    // The exchange's config: its store.url (or JEMBATAN_STORE_URL, which overrides it) is
    // migrated.
    #[command(flatten)]
    config: ConfigFile,
    /// Then grant this PostgreSQL role exactly what the exchange needs on every table, and
    /// revoke anything else it was granted there; refused for a role that owns anything in the
    /// database, is a superuser or a member of the tables' owner.
    #[arg(long, value_name = "ROLE")]
    grant_to: Option<String>,
}

pub(crate) async fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let location = StoreLocation::parse(&config.store.url)?;
    let grantee = args.grant_to.as_deref().map(RoleName::parse).transpose()?;
    if grantee.is_some() && !matches!(location, StoreLocation::Postgres(_)) {
        anyhow::bail!("--grant-to: store {location} is not PostgreSQL, which alone has roles");
    }
    let applied = jembatan_store::migrate(&location).await.with_context(|| {
        format!(
            "applying migrations to {location}: run as the schema's owner (JEMBATAN_STORE_URL \
             names the owner's login)"
        )
    })?;
    if applied.is_empty() {
        println!("{location}: no migration pending");
    } else {
        let versions: Vec<String> = applied.iter().map(i64::to_string).collect();
        println!("{location}: applied migrations {}", versions.join(", "));
    }
    if let Some(role) = grantee {
        grants::grant_exchange_privileges(&location, &role).await?;
        println!("granted {role} exactly this, revoking anything else on these tables:");
        for table in EXCHANGE_PRIVILEGES {
            let privileges: Vec<&str> = table.privileges.iter().map(|p| p.as_sql()).collect();
            println!(
                "  {:<20} {:<30} {}",
                table.table,
                privileges.join(", "),
                table.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
