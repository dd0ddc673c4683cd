//! `limits`: what the limits layer costs, and what it buys.
//!
//! - Cost: the echo baseline with and without the exchange's limits layer in front of it (rates
//!   raised so that nothing is refused), in alternating rounds, each round's calls/s printed.
//! - Fairness: on an exchange with the default limits and 20,000 records, one caller (Kemendag's
//!   export portal) asks QueryAvailability at a steady low rate, alone, then while another caller
//!   (another system of Kemendag) asks at its rate limit, then at ten times it; the first
//!   caller's latency each time, and how many of the other's calls were answered and refused.

use std::time::Duration;

use jembatan_demo::Generator;
use time::OffsetDateTime;

use crate::load::{Bound, Plan, Report, millis};
use crate::scenarios::{self, READ_CONCURRENCY};
use crate::server::{Kind, Server};
use crate::site::{Database, PgDatabase, Site, connect};

/// HTTP/2 connections per caller.
const CONNECTIONS: usize = 4;

/// Rounds of each echo variant, alternating.
const ROUNDS: usize = 3;

/// The steady caller's rate, calls per second: well under its limit.
const STEADY_RATE: f64 = 20.0;

/// Records pushed before the fairness scenario, so that counts have something to count.
const RECORDS: u64 = 20_000;

/// Arguments of `limits`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds of each echo round and of each fairness phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Stores to run the fairness scenario on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    stores: Vec<crate::all::StoreArg>,
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    let site = Site::new()?;
    let seconds = Duration::from_secs(args.seconds.max(1));
    let mut rows = Vec::new();

    println!("echo with and without the limits layer, {ROUNDS} rounds each");
    let config = site.config("echo.toml", "sqlite://unused.db")?;
    let small = scenarios::Sizes {
        request: 64,
        answer: 64,
    };
    let mut rates = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for (i, kind) in [Kind::Echo, Kind::EchoLimited].into_iter().enumerate() {
            let server = Server::start(kind, &config).await?;
            let clients = connect(&server.url(), &site.callers.kemendag, CONNECTIONS).await?;
            let report = scenarios::echo(&clients, small, READ_CONCURRENCY, seconds).await;
            drop(clients);
            server.stop().await?;
            println!(
                "  round {}: {kind:?}: {:.0} calls/s, p99 {}",
                round + 1,
                report.calls_per_second(),
                millis(report.quantile(0.99))
            );
            rates[i].push(report.calls_per_second());
        }
    }
    let [plain, limited] = rates.map(|mut rates| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    });
    rows.push(format!(
        "| echo, 64 B, median of {ROUNDS} rounds | — | {plain:.0} calls/s | 1 |"
    ));
    rows.push(format!(
        "| echo behind the limits layer, 64 B, median of {ROUNDS} rounds | — | {limited:.0} calls/s | {:.3} |",
        limited / plain
    ));

    let today = OffsetDateTime::now_utc().date();
    for store in &args.stores {
        let database = store.database();
        println!("fairness on {}", database.name());
        let pg = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(PgDatabase::create().await?),
        };
        let url = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", site.dir().join("limits.db").display()),
        };
        let run = fairness(&site, database, &url, seconds, today, &mut rows).await;
        if let Some(pg) = pg {
            pg.drop_now().await?;
        }
        run?;
    }

    let table = format!(
        "| scenario | store | result | vs. echo / latency p50 / p99 / max |\n|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("\n{table}");
    Ok(())
}

async fn fairness(
    site: &Site,
    database: Database,
    url: &str,
    seconds: Duration,
    today: time::Date,
    rows: &mut Vec<String>,
) -> anyhow::Result<()> {
    let name = database.name();
    let config =
        site.config_with_default_limits(&format!("limits-{}.toml", name.to_lowercase()), url)?;
    let exchange = Server::start(Kind::Exchange, &config).await?;
    let kp2mi = connect(&exchange.url(), &site.callers.kp2mi, 1).await?;
    let mut generator = Generator::new(2025, 0.6, today);
    let pushed = scenarios::push(
        &kp2mi,
        scenarios::push_requests(&mut generator, RECORDS, 1000),
    )
    .await;
    anyhow::ensure!(pushed.errors == 0, "seeding: {:?}", pushed.first_error);

    let steady = connect(&exchange.url(), &site.callers.kemendag, 1).await?;
    let flood = connect(&exchange.url(), &site.callers.kemendag_other, CONNECTIONS).await?;
    let steady_plan = || Plan {
        concurrency: 64,
        bound: Bound::For(seconds),
        rate: Some(STEADY_RATE),
    };
    // Warm up the connections and the count index's answer cache.
    let _ = scenarios::query_availability_limited(
        &steady,
        Plan {
            concurrency: 1,
            bound: Bound::Calls(20),
            rate: None,
        },
        today,
    )
    .await;
    let alone = scenarios::query_availability_limited(&steady, steady_plan(), today).await;

    // Another caller at its own rate limit, then at ten times it: the first shows what the
    // load it is allowed costs the steady caller, the second what the refused part adds.
    let limit = jembatan_server::config::LimitsSection::default().read_per_sec;
    let mut phases = Vec::new();
    for factor in [1.0, 10.0] {
        let other_plan = Plan {
            concurrency: 512,
            bound: Bound::For(seconds),
            rate: Some(factor * limit),
        };
        let (loaded, other) = tokio::join!(
            scenarios::query_availability_limited(&steady, steady_plan(), today),
            scenarios::query_availability_limited(&flood, other_plan, today),
        );
        phases.push((factor * limit, loaded, other));
    }
    drop((kp2mi, steady, flood));
    exchange.stop().await?;

    anyhow::ensure!(alone.errors == 0, "alone: {:?}", alone.first_error);
    rows.push(format!(
        "| QueryAvailability at {STEADY_RATE}/s, one caller alone | {name} | {} calls | {} |",
        alone.calls,
        latency(&alone)
    ));
    for (rate, loaded, other) in &phases {
        anyhow::ensure!(loaded.errors == 0, "steady: {:?}", loaded.first_error);
        anyhow::ensure!(
            loaded.items == loaded.calls,
            "the steady caller was refused {} calls",
            loaded.calls - loaded.items
        );
        anyhow::ensure!(other.errors == 0, "other caller: {:?}", other.first_error);
        rows.push(format!(
            "| the same, while another caller asks at {rate:.0}/s ({:.0}× its rate) | {name} | {} calls; p99 {:.2}× alone | {} |",
            rate / limit,
            loaded.calls,
            loaded.quantile(0.99).as_secs_f64() / alone.quantile(0.99).as_secs_f64().max(1e-9),
            latency(loaded)
        ));
        let secs = other.elapsed.as_secs_f64().max(1e-9);
        rows.push(format!(
            "| that other caller | {name} | {:.0} answered/s, {:.0} refused/s (RESOURCE_EXHAUSTED) | {} |",
            other.items as f64 / secs,
            (other.calls - other.items) as f64 / secs,
            latency(other)
        ));
    }
    Ok(())
}

fn latency(report: &Report) -> String {
    format!(
        "{} / {} / {}",
        millis(report.quantile(0.5)),
        millis(report.quantile(0.99)),
        millis(report.max())
    )
}
