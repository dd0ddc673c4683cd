//! `market`: the market-intelligence scenarios on every store. KP2MI submits realistic market
//! reports (`jembatan-demo`, as `jembatan demo seed` makes them) in batches of 1,000; then
//! Kemendag pages through them 100 at a time, by country and HS chapter, and by full-text
//! search. `all` runs the same scenarios last, on its exchange.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use jembatan_client::Client;
use jembatan_client::convert::thousands;
use sqlx::Connection;
use time::{Date, OffsetDateTime};

use crate::all::{CONNECTIONS, StoreArg, Table, check, latency, per_second, ratio};
use crate::load::Report;
use crate::scenarios;
use crate::server::{Kind, Server};
use crate::site::{Database, PgDatabase, Site, connect};

/// Reports generated (and held) at a time before they are submitted.
const CHUNK: u64 = 100_000;

/// Arguments of `market`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Market reports submitted into each store, and then queried.
    #[arg(long, default_value_t = 100_000)]
    reports: u64,
    /// Seconds each query scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Stores to run on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    stores: Vec<StoreArg>,
    /// Seed of the synthetic reports.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Also write the table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What the scenarios run with.
pub(crate) struct Setup {
    /// Reports submitted, then queried.
    pub(crate) reports: u64,
    /// Seed of the reports.
    pub(crate) seed: u64,
    /// How long each query scenario runs.
    pub(crate) seconds: Duration,
    /// The day the reports are observed up to.
    pub(crate) today: Date,
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let site = Site::new()?;
    let mut table = Table::default();
    let setup = Setup {
        reports: args.reports,
        seed: args.seed,
        seconds: Duration::from_secs(args.seconds.max(1)),
        today: OffsetDateTime::now_utc().date(),
    };
    for store in &args.stores {
        let database = store.database();
        println!("{}", database.name());
        let pg = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(PgDatabase::create().await?),
        };
        let url = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", site.dir().join("market.db").display()),
        };
        let run = on_store(&site, database, &url, &setup, &mut table).await;
        if let Some(pg) = pg {
            let dropped = pg.drop_now().await;
            run?;
            dropped?;
        } else {
            run?;
        }
    }
    let text = table.markdown();
    println!("\n{text}");
    println!("whole run: {:.0} s", started.elapsed().as_secs_f64());
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// A fresh exchange on one store, and the scenarios on it.
async fn on_store(
    site: &Site,
    database: Database,
    store_url: &str,
    setup: &Setup,
    table: &mut Table,
) -> anyhow::Result<()> {
    let config = site.config(
        &format!("market-{}.toml", database.name().to_lowercase()),
        store_url,
    )?;
    let exchange = Server::start(Kind::Exchange, &config).await?;
    let kp2mi = connect(&exchange.url(), &site.callers.kp2mi, CONNECTIONS).await?;
    let kemendag = connect(&exchange.url(), &site.callers.kemendag, CONNECTIONS).await?;
    let run = scenarios(table, database, store_url, (&kp2mi, &kemendag), setup, None).await;
    drop((kp2mi, kemendag));
    let stopped = exchange.stop().await;
    run?;
    stopped
}

/// The market scenarios on a running exchange storing at `store_url`, as `callers` (KP2MI,
/// Kemendag): the submission, then both kinds of query over what it stored. `echo` is the
/// echo baseline's small calls per second, if measured, to compare the pages with.
pub(crate) async fn scenarios(
    table: &mut Table,
    database: Database,
    store_url: &str,
    callers: (&[Client], &[Client]),
    setup: &Setup,
    echo: Option<f64>,
) -> anyhow::Result<()> {
    let (kp2mi, kemendag) = callers;
    let name = database.name();
    // Generated a chunk at a time before each timed part, so that the generator's work is not
    // counted.
    let mut generator = jembatan_demo::Reports::new(setup.seed, setup.today);
    let mut submitted = Report::empty();
    let mut left = setup.reports;
    while left > 0 {
        let chunk = left.min(CHUNK);
        let requests = scenarios::submit_requests(&mut generator, chunk, 1000);
        submitted.merge(scenarios::submit_reports(kp2mi, requests).await);
        left -= chunk;
    }
    check(&submitted, "SubmitMarketReports")?;
    table.add(
        "SubmitMarketReports, batches of 1,000",
        name,
        per_second(submitted.items_per_second(), "reports"),
        latency(&submitted),
        String::new(),
        "",
    );

    if database == Database::Postgres {
        // As after the placements: what autovacuum would do after a bulk load, done now.
        let started = Instant::now();
        let mut conn = sqlx::PgConnection::connect(store_url).await?;
        sqlx::query("VACUUM (ANALYZE) market_reports")
            .execute(&mut conn)
            .await?;
        table.add(
            "VACUUM (ANALYZE) market_reports after the load",
            name,
            format!("{:.1} s", started.elapsed().as_secs_f64()),
            String::new(),
            String::new(),
            "",
        );
    }

    for (queries, asked) in [
        (
            scenarios::market_filter_queries(),
            "one country and one HS chapter",
        ),
        (scenarios::market_text_queries(), "full-text search"),
    ] {
        let scenario = format!(
            "QueryMarketReports, {} reports, pages of 100, {asked}",
            thousands(setup.reports)
        );
        let report = scenarios::query_reports(kemendag, queries, setup.seconds).await;
        check(&report, &scenario)?;
        if report.items == 0 {
            anyhow::bail!("{scenario}: no report found");
        }
        table.add(
            scenario,
            name,
            format!(
                "{}, {}",
                per_second(report.calls_per_second(), "pages"),
                per_second(report.items_per_second(), "audited reports")
            ),
            latency(&report),
            echo.map(|echo| ratio(report.calls_per_second(), echo))
                .unwrap_or_default(),
            "",
        );
    }
    Ok(())
}
