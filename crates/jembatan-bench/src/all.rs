//! `all`: every scenario on every store, with the echo baseline measured in the same run, as one
//! markdown table.
//!
//! One run: the echo baseline and handshakes first; then, per store, a fresh exchange process
//! (memory at idle), the push of the whole data set (a tenth in batches of 100, the rest in
//! batches of 1,000: realistic records, audit leaves included), the sequencer catching up, an
//! export of the whole log verified offline, then the read scenarios over the full data set,
//! then the mixed scenario: a push of as many new records again, while KP2MI erases workers
//! of the first push and Kemendag asks QueryAvailability, each at a fixed low rate; and last
//! the market scenarios (see `market`): market reports submitted, then queried.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use jembatan_client::convert::thousands;
use jembatan_demo::Generator;
use jembatan_store::{Store, StoreLocation, StoreOptions};
use sqlx::Connection;
use time::OffsetDateTime;

use crate::audit_verify::verify_file;
use crate::load::{Bound, Plan, Report, millis};
use crate::market;
use crate::scenarios::{
    self, MIXED_ERASURES_PER_SECOND, MIXED_QUERIES_PER_SECOND, Mixed, READ_CONCURRENCY,
};
use crate::server::{Kind, Server};
use crate::site::{Database, PgDatabase, Site, connect};

/// HTTP/2 connections per caller.
pub(crate) const CONNECTIONS: usize = 4;

/// How long the sequencer may take to sign a checkpoint covering the push.
const SEQUENCER_DEADLINE: Duration = Duration::from_secs(120);

/// Workers with consent to one purpose or more, in the synthetic records.
const CONSENT_RATE: f64 = 0.6;

/// Workers of the first push whose NIKs the mixed scenario may erase, at most. At 20 erasures a
/// second they last 2,500 s, far longer than a mixed push of 1,000,000 records takes; past them,
/// erasures find workers erased already and count as not found.
const ERASABLE_WORKERS: u64 = 50_000;

/// Arguments of `all`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Placement records pushed into each store, and then read.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Market reports submitted into each store, and then queried [default: a tenth of
    /// --records].
    #[arg(long)]
    reports: Option<u64>,
    /// Seconds each read scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Stores to run on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    stores: Vec<StoreArg>,
    /// Seed of the synthetic records.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Also write the table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A store named on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum StoreArg {
    Sqlite,
    Postgres,
}

impl StoreArg {
    /// The database it names.
    pub(crate) fn database(self) -> Database {
        match self {
            StoreArg::Sqlite => Database::Sqlite,
            StoreArg::Postgres => Database::Postgres,
        }
    }
}

/// One line of the table.
struct Row {
    scenario: String,
    store: &'static str,
    result: String,
    latency: String,
    baseline: String,
    target: &'static str,
}

/// The table being filled.
#[derive(Default)]
pub(crate) struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// Adds a row and prints it.
    pub(crate) fn add(
        &mut self,
        scenario: impl Into<String>,
        store: &'static str,
        result: String,
        latency: String,
        baseline: String,
        target: &'static str,
    ) {
        let row = Row {
            scenario: scenario.into(),
            store,
            result,
            latency,
            baseline,
            target,
        };
        println!(
            "  {} [{}]: {} {} {}",
            row.scenario, row.store, row.result, row.latency, row.baseline
        );
        self.rows.push(row);
    }

    /// The rows as a markdown table.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::from(
            "| scenario | store | result | latency p50 / p99 / max | vs. echo baseline | target |\n\
             |---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.scenario, r.store, r.result, r.latency, r.baseline, r.target
            );
        }
        out
    }
}

/// The echo baseline's rates, to divide by.
struct Baseline {
    small: f64,
    handshakes: f64,
    batch_100: f64,
    batch_1000: f64,
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let site = Site::new()?;
    let seconds = Duration::from_secs(args.seconds.max(1));
    let mut table = Table::default();
    let today = OffsetDateTime::now_utc().date();

    // Message sizes of the push scenarios, for echoes of the same size.
    let mut sizer = Generator::new(args.seed ^ 0x5eed, CONSENT_RATE, today);
    let size_100 = scenarios::push_sizes(&scenarios::push_requests(&mut sizer, 100, 100)[0]);
    let size_1000 = scenarios::push_sizes(&scenarios::push_requests(&mut sizer, 1000, 1000)[0]);
    let small = scenarios::Sizes {
        request: 64,
        answer: 64,
    };

    println!("echo baseline");
    let config = site.config("echo.toml", "sqlite://unused.db")?;
    let echo = Server::start(Kind::Echo, &config).await?;
    let clients = connect(&echo.url(), &site.callers.kemendag, CONNECTIONS).await?;
    let small = scenarios::echo(&clients, small, READ_CONCURRENCY, seconds).await;
    let batch_100 =
        scenarios::echo(&clients, size_100, scenarios::PUSH_CONCURRENCY, seconds / 2).await;
    let batch_1000 = scenarios::echo(
        &clients,
        size_1000,
        scenarios::PUSH_CONCURRENCY,
        seconds / 2,
    )
    .await;
    let echo_handshakes =
        scenarios::handshakes(&echo.url(), &site.callers.kemendag, true, seconds / 2).await;
    for (name, report) in [
        ("echo, 64 B each way".to_owned(), &small),
        (
            format!(
                "echo, {} kB in, {} kB out (as a push of 100)",
                size_100.request / 1000,
                size_100.answer / 1000
            ),
            &batch_100,
        ),
        (
            format!(
                "echo, {} kB in, {} kB out (as a push of 1,000)",
                size_1000.request / 1000,
                size_1000.answer / 1000
            ),
            &batch_1000,
        ),
    ] {
        table.add(name, "—", calls(report), latency(report), "1".into(), "");
    }
    table.add(
        "new mTLS connections + 1 call, echo",
        "—",
        per_second(echo_handshakes.calls_per_second(), "connections"),
        latency(&echo_handshakes),
        "1".into(),
        "",
    );
    drop(clients);
    echo.stop().await?;
    let baseline = Baseline {
        small: small.calls_per_second(),
        handshakes: echo_handshakes.calls_per_second(),
        batch_100: batch_100.calls_per_second(),
        batch_1000: batch_1000.calls_per_second(),
    };
    let mut handshakes_done = false;

    for store in &args.stores {
        let database = store.database();
        println!("{}", database.name());
        let pg = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(PgDatabase::create().await?),
        };
        let url = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", site.dir().join("jembatan.db").display()),
        };
        let run = on_store(
            &site,
            database,
            &url,
            args,
            &baseline,
            &mut table,
            !handshakes_done,
        )
        .await;
        handshakes_done = true;
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

/// Every scenario on one store.
async fn on_store(
    site: &Site,
    database: Database,
    store_url: &str,
    args: &Args,
    baseline: &Baseline,
    table: &mut Table,
    with_handshakes: bool,
) -> anyhow::Result<()> {
    let name = database.name();
    let seconds = Duration::from_secs(args.seconds.max(1));
    let today = OffsetDateTime::now_utc().date();
    let config = site.config(&format!("{}.toml", name.to_lowercase()), store_url)?;
    let exchange = Server::start(Kind::Exchange, &config).await?;
    let kp2mi = connect(&exchange.url(), &site.callers.kp2mi, CONNECTIONS).await?;
    kp2mi[0].health("").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = exchange.memory()?;
    table.add(
        "memory at idle (RSS)",
        name,
        mb(idle.rss),
        String::new(),
        String::new(),
        "≤ 50 MB",
    );

    if with_handshakes {
        let report =
            scenarios::handshakes(&exchange.url(), &site.callers.kemendag, false, seconds / 2)
                .await;
        table.add(
            "new mTLS connections + 1 call, exchange",
            name,
            per_second(report.calls_per_second(), "connections"),
            latency(&report),
            ratio(report.calls_per_second(), baseline.handshakes),
            "",
        );
    }

    // The push: a tenth in batches of 100, the rest in batches of 1,000, generated before each
    // timed part so that the generator's work is not counted.
    let push_row = |table: &mut Table, scenario: &str, report: &Report, baseline: f64| {
        check(report, scenario)?;
        table.add(
            scenario,
            name,
            per_second(report.items_per_second(), "records"),
            latency(report),
            ratio(report.calls_per_second(), baseline),
            if database == Database::Sqlite {
                "≥ 50,000 records/s"
            } else {
                "≥ 20,000 records/s"
            },
        );
        anyhow::Ok(())
    };
    let mut generator = Generator::new(args.seed, CONSENT_RATE, today);
    let small_batches = args.records / 10;
    let requests = scenarios::push_requests(&mut generator, small_batches, 100);
    let report = scenarios::push(&kp2mi, requests).await;
    push_row(table, "push, batches of 100", &report, baseline.batch_100)?;
    let mut pushed = Report::empty();
    let mut left = args.records - small_batches;
    while left > 0 {
        let chunk = left.min(100_000);
        let requests = scenarios::push_requests(&mut generator, chunk, 1000);
        pushed.merge(scenarios::push(&kp2mi, requests).await);
        left -= chunk;
    }
    push_row(
        table,
        "push, batches of 1,000",
        &pushed,
        baseline.batch_1000,
    )?;
    let in_push = exchange.memory()?;
    table.add(
        "memory, peak until the push ended (VmHWM)",
        name,
        mb(in_push.peak),
        String::new(),
        String::new(),
        "≤ 250 MB",
    );

    // The sequencer catches up; then the whole log is exported and verified offline.
    let store = Store::open(&StoreLocation::parse(store_url)?, StoreOptions::default()).await?;
    let waited = Instant::now();
    let size = loop {
        let size = store.log_size().await?;
        let signed = store.checkpoint(None).await?.map_or(0, |c| c.size);
        if signed == size {
            break size;
        }
        if waited.elapsed() > SEQUENCER_DEADLINE {
            anyhow::bail!(
                "the sequencer signed {signed} of {size} leaves in {} s; see the server's log above",
                SEQUENCER_DEADLINE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    table.add(
        "sequencer: checkpoint covering the push",
        name,
        format!(
            "{:.1} s after the last push",
            waited.elapsed().as_secs_f64()
        ),
        String::new(),
        String::new(),
        "",
    );
    let export = site.dir().join(format!("{}.export", name.to_lowercase()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&export)?);
    store.export(&site.origin(), &mut out).await?;
    std::io::Write::flush(&mut out)?;
    drop(out);
    let timed = verify_file(&export, &site.log_verifier)?;
    std::fs::remove_file(&export)?;
    table.add(
        format!("audit verify, {} leaves", thousands(timed.verified.leaves)),
        name,
        format!("{:.2} s", timed.total().as_secs_f64()),
        format!(
            "read {:.2} s, verify {:.2} s",
            timed.read.as_secs_f64(),
            timed.verify.as_secs_f64()
        ),
        String::new(),
        "≤ 2 s for 1,000,000",
    );
    store.close().await;

    if database == Database::Postgres {
        // What autovacuum does in the background after a bulk load, done now: until it has
        // run, no index-only scan can skip the table and counts read the heap, and the planner
        // has no statistics of the new rows.
        let started = Instant::now();
        let mut conn = sqlx::PgConnection::connect(store_url).await?;
        sqlx::query("VACUUM (ANALYZE) placements, audit_leaves")
            .execute(&mut conn)
            .await?;
        table.add(
            "VACUUM (ANALYZE) after the load, as autovacuum would",
            name,
            format!("{:.1} s", started.elapsed().as_secs_f64()),
            String::new(),
            String::new(),
            "",
        );
    }

    // A second exchange process started on the full store loads the count index from it.
    let started = Instant::now();
    let second = Server::start(Kind::Exchange, &config).await?;
    let loaded = started.elapsed();
    let second_memory = second.memory()?;
    second.stop().await?;
    table.add(
        format!(
            "exchange start on {} records, count index loaded",
            thousands(args.records)
        ),
        name,
        format!("{:.2} s", loaded.as_secs_f64()),
        format!("RSS then {}", mb(second_memory.rss)),
        String::new(),
        "≤ 3 s; index ≤ 100 MB",
    );

    // Reads over the full data set.
    let kemendag = connect(&exchange.url(), &site.callers.kemendag, CONNECTIONS).await?;
    // Kemendag's question again and again, answered from the exchange's last count while the
    // index has not changed; then a new question each call, counted anew.
    for (distinct, asked) in [
        (false, "one question again and again"),
        (true, "a new question each call"),
    ] {
        let saturated = scenarios::query_availability(
            &kemendag,
            scenarios::for_duration(READ_CONCURRENCY, seconds),
            today,
            distinct,
        )
        .await;
        check(&saturated, &format!("QueryAvailability, {asked}"))?;
        table.add(
            format!(
                "QueryAvailability, {} records, {asked}, saturated",
                thousands(args.records)
            ),
            name,
            calls(&saturated),
            latency(&saturated),
            ratio(saturated.calls_per_second(), baseline.small),
            "≥ 0.5 of echo",
        );
        let half = saturated.calls_per_second() / 2.0;
        let paced = scenarios::query_availability(
            &kemendag,
            Plan {
                concurrency: 256,
                bound: Bound::For(seconds),
                rate: Some(half.max(0.5)),
            },
            today,
            distinct,
        )
        .await;
        check(
            &paced,
            &format!("QueryAvailability, {asked}, at half the saturation rate"),
        )?;
        table.add(
            format!("QueryAvailability, {asked}, at half that rate ({half:.0}/s)"),
            name,
            calls(&paced),
            latency(&paced),
            String::new(),
            "p99 ≤ 2 ms",
        );
    }
    let listed = scenarios::list_candidates(&kemendag, today, seconds).await;
    check(&listed, "ListCandidates")?;
    table.add(
        "ListCandidates, pages of 100",
        name,
        format!(
            "{}, {}",
            per_second(listed.calls_per_second(), "pages"),
            per_second(listed.items_per_second(), "audited records")
        ),
        latency(&listed),
        ratio(listed.calls_per_second(), baseline.small),
        "≥ 0.5 of echo (64 B)",
    );
    let auditor = connect(&exchange.url(), &site.callers.auditor, CONNECTIONS).await?;
    let proofs = scenarios::inclusion_proofs(&auditor, size, seconds).await;
    check(&proofs, "GetInclusionProof")?;
    table.add(
        format!("GetInclusionProof, log of {} leaves", thousands(size)),
        name,
        calls(&proofs),
        latency(&proofs),
        ratio(proofs.calls_per_second(), baseline.small),
        "≥ 0.5 of echo",
    );
    let after = exchange.memory()?;
    table.add(
        "memory after the reads (RSS)",
        name,
        mb(after.rss),
        String::new(),
        String::new(),
        "",
    );

    // Last, so that the figures above are unchanged: the generator's next records (new
    // placement ids and NIKs) pushed while workers of the first push are erased, their NIKs
    // made again from the same seed and date.
    let eraser = connect(&exchange.url(), &site.callers.kp2mi, 1).await?;
    let niks = scenarios::niks(
        &mut Generator::new(args.seed, CONSENT_RATE, today),
        args.records.min(ERASABLE_WORKERS),
    );
    let chunks = scenarios::push_chunks(generator, args.records);
    let mixed = scenarios::mixed(&kp2mi, &eraser, &kemendag, chunks, niks, today).await;
    mixed_rows(table, name, args.records, baseline.batch_1000, &mixed)?;

    // Then market reports, submitted and queried.
    let setup = market::Setup {
        reports: args.reports.unwrap_or(args.records / 10),
        seed: args.seed,
        seconds,
        today,
    };
    market::scenarios(
        table,
        database,
        store_url,
        (&kp2mi, &kemendag),
        &setup,
        Some(baseline.small),
    )
    .await?;
    drop((kp2mi, kemendag, auditor, eraser));
    exchange.stop().await
}

/// The mixed scenario's rows: the push, then the erasures and the queries while it ran. A
/// failed push fails the run; failed erasures and queries are counted in their rows.
fn mixed_rows(
    table: &mut Table,
    store: &'static str,
    records: u64,
    baseline: f64,
    mixed: &Mixed,
) -> anyhow::Result<()> {
    check(&mixed.push, "mixed: push")?;
    table.add(
        format!(
            "mixed: push of {} new records, batches of 1,000, during the two below",
            thousands(records)
        ),
        store,
        per_second(mixed.push.items_per_second(), "records"),
        latency(&mixed.push),
        ratio(mixed.push.calls_per_second(), baseline),
        "",
    );
    println!("  mixed: ErasePersonalData: {}", mixed.erasures.summary());
    table.add(
        format!("mixed: ErasePersonalData at {MIXED_ERASURES_PER_SECOND}/s during the push"),
        store,
        format!(
            "{} calls: {} erased, {} not found; {} errors",
            thousands(mixed.erasures.calls),
            thousands(mixed.erasures.items),
            thousands(mixed.erasures.calls - mixed.erasures.items),
            thousands(mixed.erasures.errors)
        ),
        latency(&mixed.erasures),
        String::new(),
        "p99 ≤ 100 ms",
    );
    println!("  mixed: QueryAvailability: {}", mixed.queries.summary());
    table.add(
        format!("mixed: QueryAvailability at {MIXED_QUERIES_PER_SECOND}/s during the push"),
        store,
        format!(
            "{} calls; {} errors",
            thousands(mixed.queries.calls),
            thousands(mixed.queries.errors)
        ),
        latency(&mixed.queries),
        String::new(),
        "p99 ≤ 100 ms",
    );
    Ok(())
}

/// Fails the run when a scenario's calls failed: its figures would measure errors.
pub(crate) fn check(report: &Report, scenario: &str) -> anyhow::Result<()> {
    println!("  {scenario}: {}", report.summary());
    if let Some(error) = &report.first_error {
        anyhow::bail!(
            "{scenario}: {} calls failed; the first: {error}",
            report.errors
        );
    }
    Ok(())
}

fn calls(report: &Report) -> String {
    per_second(report.calls_per_second(), "calls")
}

/// A scenario's latency: median, 99th percentile and maximum.
pub(crate) fn latency(report: &Report) -> String {
    format!(
        "{} / {} / {}",
        millis(report.quantile(0.5)),
        millis(report.quantile(0.99)),
        millis(report.max())
    )
}

/// `rate` as a multiple of `baseline`.
pub(crate) fn ratio(rate: f64, baseline: f64) -> String {
    if baseline <= 0.0 {
        return String::new();
    }
    format!("{:.2}", rate / baseline)
}

/// `rate` rounded, as `1,234 what/s`.
pub(crate) fn per_second(rate: f64, what: &str) -> String {
    format!("{} {what}/s", thousands(rate.round() as u64))
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}
