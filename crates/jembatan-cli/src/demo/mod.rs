//! `jembatan demo`: fill an exchange with realistic synthetic data, through the public API as
//! the agencies' systems would.

use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Context;
use jembatan_client::convert::thousands;
use jembatan_client::v1::market_intel_service_client::MarketIntelServiceClient;
use jembatan_client::v1::placement_service_client::PlacementServiceClient;
use jembatan_client::v1::program_service_client::ProgramServiceClient;
use jembatan_client::v1::{self, RecordOutcome, StreamPlacementsRequest};
use jembatan_client::{Client, ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_records::Format;
use jembatan_records::placement::{PlacementRecord, csv_header, csv_row};

use crate::codes::today_in_jakarta;
use crate::connection::ConnectionArgs;
use crate::placements::MAX_BATCH;
use crate::progress::{Progress, per_second};
use crate::value_parsers::parse_code;

/// Batches sent in one StreamPlacements call, so that no single call runs for long.
const BATCHES_PER_STREAM: u64 = 50;

/// Rejected records described on stderr at most, per kind of record.
const REJECTIONS_SHOWN: usize = 10;

/// Placements per market report, unless `--reports` says.
const PLACEMENTS_PER_REPORT: u64 = 50;

/// `jembatan demo …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DemoCommand {
    /// Generate realistic synthetic placements and push them as KP2MI would; then market
    /// reports, export programs and enrolments.
    ///
    /// Records follow the 2024 figures: destinations, provinces of origin, occupations, about
    /// 63% women, NIKs that agree with sex and birth date, two-year contracts ending over the
    /// past and the next twelve months, and consent for a share of the workers. After them:
    /// market reports of workers abroad (KP2MI), from the countries they work in, on products
    /// Indonesia exports; export programs (as Kemendag: with --dev its identity, else
    /// --kemendag-cert and --kemendag-key); and enrolments (KP2MI) of workers whose consent
    /// covers capacity building. The same seed gives the same records on the same day; their
    /// ids are DEMO-<seed>-<n>, -R<n>, -P<n> and -E<n>, so seeding again changes nothing.
    /// Exits 1 if the exchange rejected any record.
    Seed(SeedArgs),
}

/// Arguments of `jembatan demo seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct SeedArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// How many placement records to push.
    #[arg(long)]
    records: u64,
    /// The generator's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records per batch (one message of the StreamPlacements stream), 1 to 1000.
    #[arg(long, default_value_t = MAX_BATCH, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// Share of workers who consent to sharing (always for BUSINESS_MATCHING, often for more).
    #[arg(long, default_value_t = 0.6, value_parser = parse_rate)]
    consent_rate: f64,
    /// The purpose stated with every call.
    #[arg(long, default_value = "PROGRAM_MONITORING", value_parser = parse_code::<Purpose>)]
    purpose: Purpose,
    /// The legal basis stated with every call.
    #[arg(long, default_value = "LEGAL_OBLIGATION", value_parser = parse_code::<LegalBasis>)]
    legal_basis: LegalBasis,
    /// Write the placement records to this file instead of pushing them: JSON Lines, or CSV
    /// for a .csv name (the formats `placements push` reads); nothing else is made.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// How many market reports to submit after the placements [default: one per 50
    /// placements]; 0 for none.
    #[arg(long, value_name = "N")]
    reports: Option<u64>,
    /// How many export programs to publish; 0 for none (and then no enrolments).
    #[arg(long, value_name = "N", default_value_t = 36, value_parser = clap::value_parser!(u32).range(0..=1000))]
    programs: u32,
    /// Share of the workers whose consent covers CAPACITY_BUILDING to enrol in programs, as
    /// places allow; 0 for none.
    #[arg(long, default_value_t = 0.1, value_parser = parse_rate)]
    enrolments_rate: f64,
    /// Kemendag's client certificate, PEM, to publish the programs with (not with --dev,
    /// which takes the dev folder's kemendag identity).
    #[arg(
        long,
        value_name = "FILE",
        requires = "kemendag_key",
        conflicts_with = "dev"
    )]
    kemendag_cert: Option<PathBuf>,
    /// The private key of --kemendag-cert, PEM.
    #[arg(
        long,
        value_name = "FILE",
        requires = "kemendag_cert",
        conflicts_with = "dev"
    )]
    kemendag_key: Option<PathBuf>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err("must be a number from 0 to 1, e.g. 0.6".to_owned()),
    }
}

pub(crate) async fn run(command: DemoCommand) -> anyhow::Result<ExitCode> {
    match command {
        DemoCommand::Seed(args) => seed(args).await,
    }
}

/// What one stream takes from: the generator, and how far it has got.
struct Feed {
    generator: jembatan_demo::Generator,
    batch: u64,
    /// Records not yet generated.
    left: u64,
    /// Records handed to the stream.
    sent: u64,
    /// Batches handed to the current stream.
    in_stream: u64,
    progress: Progress,
    /// Enrolments of the workers generated so far.
    enrollments: jembatan_demo::Enrollments,
    /// The enrolments made, to record after the programs.
    enrolled: Vec<v1::Enrollment>,
}

impl Feed {
    /// The next batch of the current stream, `None` when the stream is full or all is sent.
    fn next_batch(&mut self) -> Option<StreamPlacementsRequest> {
        if self.left == 0 || self.in_stream == BATCHES_PER_STREAM {
            return None;
        }
        let n = self.batch.min(self.left);
        let placements: Vec<v1::Placement> = self
            .generator
            .by_ref()
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .collect();
        for placement in &placements {
            let enrolments = self.enrollments.enrol(placement);
            self.enrolled.extend(enrolments);
        }
        self.left -= n;
        self.sent += n;
        self.in_stream += 1;
        self.progress.update(self.sent);
        Some(StreamPlacementsRequest { placements })
    }
}

fn lock(feed: &Mutex<Feed>) -> std::sync::MutexGuard<'_, Feed> {
    feed.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn seed(args: SeedArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out {
        return write_file(&args, out);
    }
    let today = today_in_jakarta();
    let client = args.connection.connect("kp2mi").await?;
    // Kemendag publishes the programs: connected before anything is sent, so that a missing
    // identity stops the run before it starts.
    let kemendag = if args.programs > 0 {
        if args.connection.dev_dir().is_none() && args.kemendag_cert.is_none() {
            anyhow::bail!(
                "Kemendag publishes the programs: give --kemendag-cert and --kemendag-key, or \
                 --programs 0"
            );
        }
        let files = args
            .kemendag_cert
            .as_deref()
            .zip(args.kemendag_key.as_deref());
        Some(args.connection.connect_other("kemendag", files).await?)
    } else {
        None
    };
    let programs = jembatan_demo::programs(args.seed, today, args.programs as usize);
    let enrollments =
        jembatan_demo::Enrollments::new(args.seed, args.enrolments_rate, today, &programs);
    let (mut rejected, enrolled) = push_placements(&args, &client, today, enrollments).await?;

    let reports = args.reports.unwrap_or(args.records / PLACEMENTS_PER_REPORT);
    if reports > 0 {
        let service = MarketIntelServiceClient::new(client.channel());
        let stated = Stated::new(Purpose::MarketIntelligence, LegalBasis::PublicTask);
        let batches = Batches {
            records: jembatan_demo::Reports::new(args.seed, today),
            left: reports,
        };
        rejected += send(
            ("submitted", "market reports", args.seed),
            reports,
            batches,
            |reports| {
                let (mut service, request) = (
                    service.clone(),
                    stated.request(v1::SubmitMarketReportsRequest { reports }),
                );
                async move {
                    let response = service.submit_market_reports(request?).await?.into_inner();
                    Ok((response.results, response.summary))
                }
            },
        )
        .await?;
    }

    if let Some(kemendag) = kemendag {
        let service = ProgramServiceClient::new(kemendag.channel());
        let stated = Stated::new(Purpose::CapacityBuilding, LegalBasis::PublicTask);
        let count = programs.len() as u64;
        let batches = Batches {
            records: programs.into_iter(),
            left: count,
        };
        rejected += send(
            ("published", "programs", args.seed),
            count,
            batches,
            |programs| {
                let (mut service, request) = (
                    service.clone(),
                    stated.request(v1::PublishProgramsRequest { programs }),
                );
                async move {
                    let response = service.publish_programs(request?).await?.into_inner();
                    Ok((response.results, response.summary))
                }
            },
        )
        .await?;
    }

    if !enrolled.is_empty() {
        let service = ProgramServiceClient::new(client.channel());
        // The workers' consent: only those whose consent covers capacity building are enrolled.
        let stated = Stated::new(Purpose::CapacityBuilding, LegalBasis::Consent);
        let count = enrolled.len() as u64;
        let batches = Batches {
            records: enrolled.into_iter(),
            left: count,
        };
        rejected += send(
            ("recorded", "enrolments", args.seed),
            count,
            batches,
            |enrollments| {
                let (mut service, request) = (
                    service.clone(),
                    stated.request(v1::RecordEnrollmentsRequest { enrollments }),
                );
                async move {
                    let response = service.record_enrollments(request?).await?.into_inner();
                    Ok((response.results, response.summary))
                }
            },
        )
        .await?;
    }
    Ok(if rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Streams the placements as KP2MI, enrolling the workers as they are generated; prints the
/// summary. Returns the records rejected, and the enrolments to record.
async fn push_placements(
    args: &SeedArgs,
    client: &Client,
    today: time::Date,
    enrollments: jembatan_demo::Enrollments,
) -> anyhow::Result<(u64, Vec<v1::Enrollment>)> {
    let mut service = PlacementServiceClient::new(client.channel());
    let stated = Stated::new(args.purpose, args.legal_basis);
    let start = Instant::now();
    let feed = Arc::new(Mutex::new(Feed {
        generator: jembatan_demo::Generator::new(args.seed, args.consent_rate, today),
        batch: u64::from(args.batch),
        left: args.records,
        sent: 0,
        in_stream: 0,
        progress: Progress::new(Some(args.records)),
        enrollments,
        enrolled: Vec::new(),
    }));
    let mut summary = v1::BatchSummary::default();
    let (mut streams, mut messages) = (0u64, 0u64);
    let mut shown = 0;
    while lock(&feed).left > 0 {
        lock(&feed).in_stream = 0;
        let batches = futures_util::stream::unfold(Arc::clone(&feed), |feed| async move {
            let batch = lock(&feed).next_batch();
            batch.map(|batch| (batch, feed))
        });
        let response = service
            .stream_placements(stated.request(batches)?)
            .await
            .map_err(ClientError::from)?
            .into_inner();
        streams += 1;
        messages += response.messages;
        if let Some(part) = response.summary {
            add(&mut summary, &part);
        }
        if response
            .rejected
            .iter()
            .any(|r| r.outcome() == RecordOutcome::Rejected)
        {
            lock(&feed).progress.finish();
            describe_rejections(&response.rejected, &mut shown);
        }
    }
    let mut feed = lock(&feed);
    feed.progress.finish();
    let sent = feed.sent;
    let elapsed = start.elapsed();
    println!(
        "seeded {} records (seed {}) in {} messages over {} stream{}, {:.1} s, {} records/s",
        thousands(sent),
        args.seed,
        thousands(messages),
        streams,
        if streams == 1 { "" } else { "s" },
        elapsed.as_secs_f64(),
        thousands(per_second(sent, elapsed))
    );
    print_counts(&summary);
    Ok((
        u64::from(summary.rejected),
        std::mem::take(&mut feed.enrolled),
    ))
}

/// Records of one kind in batches of up to [`MAX_BATCH`].
struct Batches<I> {
    records: I,
    /// Records not yet taken.
    left: u64,
}

impl<I: Iterator> Iterator for Batches<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Vec<I::Item>> {
        let n = self.left.min(u64::from(MAX_BATCH));
        self.left -= n;
        let batch: Vec<I::Item> = self
            .records
            .by_ref()
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .collect();
        (!batch.is_empty()).then_some(batch)
    }
}

/// The results of one batch call, and its totals.
type BatchAnswer = (Vec<v1::RecordResult>, Option<v1::BatchSummary>);

/// Sends `batches` (`total` records in all) one call each with `call`, one after another;
/// prints `<verb> N <noun> (seed S) in C calls, …` and the counts by outcome, and describes the
/// first rejections on stderr. `what` is (verb, noun, seed). Returns the records rejected.
async fn send<T, F, Fut>(
    what: (&str, &str, u64),
    total: u64,
    batches: impl Iterator<Item = Vec<T>>,
    mut call: F,
) -> anyhow::Result<u64>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<BatchAnswer, ClientError>>,
{
    let (verb, noun, seed) = what;
    let start = Instant::now();
    let mut progress = Progress::new(Some(total));
    let (mut summary, mut sent, mut calls, mut shown) = (v1::BatchSummary::default(), 0, 0, 0);
    for batch in batches {
        sent += batch.len() as u64;
        calls += 1;
        let (results, part) = call(batch).await?;
        if let Some(part) = part {
            add(&mut summary, &part);
        }
        progress.update(sent);
        if results
            .iter()
            .any(|r| r.outcome() == RecordOutcome::Rejected)
        {
            progress.finish();
            describe_rejections(&results, &mut shown);
        }
    }
    progress.finish();
    let elapsed = start.elapsed();
    println!(
        "{verb} {} {noun} (seed {seed}) in {} call{}, {:.1} s, {} {noun}/s",
        thousands(sent),
        thousands(calls),
        if calls == 1 { "" } else { "s" },
        elapsed.as_secs_f64(),
        thousands(per_second(sent, elapsed)),
    );
    print_counts(&summary);
    Ok(u64::from(summary.rejected))
}

/// Adds the totals of `part` to `summary`.
fn add(summary: &mut v1::BatchSummary, part: &v1::BatchSummary) {
    summary.stored += part.stored;
    summary.unchanged += part.unchanged;
    summary.stale += part.stale;
    summary.rejected += part.rejected;
}

/// Describes the rejected records of `results` on stderr, while fewer than
/// [`REJECTIONS_SHOWN`] have been (`shown`).
fn describe_rejections(results: &[v1::RecordResult], shown: &mut usize) {
    let rejections = results
        .iter()
        .filter(|r| r.outcome() == RecordOutcome::Rejected);
    for rejected in rejections {
        if *shown == REJECTIONS_SHOWN {
            break;
        }
        *shown += 1;
        let reasons: Vec<String> = rejected
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        eprintln!(
            "jembatan: rejected {}: {}",
            rejected.record_id,
            reasons.join("; ")
        );
    }
}

/// The counts by outcome, one a line, aligned.
fn print_counts(summary: &v1::BatchSummary) {
    let rows = [
        ("stored", summary.stored),
        ("unchanged", summary.unchanged),
        ("stale", summary.stale),
        ("rejected", summary.rejected),
    ];
    let width = rows
        .iter()
        .map(|(_, n)| thousands(u64::from(*n)).len())
        .max()
        .unwrap_or(1);
    for (name, count) in rows {
        println!("  {name:<10} {:>width$}", thousands(u64::from(count)));
    }
}

/// `demo seed --out FILE`: the records to a placements file.
fn write_file(args: &SeedArgs, path: &Path) -> anyhow::Result<ExitCode> {
    let format = Format::of_path(path).unwrap_or(Format::Jsonl);
    let start = Instant::now();
    let generator = jembatan_demo::Generator::new(args.seed, args.consent_rate, today_in_jakarta());
    // Made-up people, but shaped like personal data: mode 0600 as for real records.
    let file = jembatan_pki::private_file::create_private(path)
        .with_context(|| path.display().to_string())?;
    let mut progress = Progress::new(Some(args.records));
    let records = generator
        .take(usize::try_from(args.records).unwrap_or(usize::MAX))
        .map(|placement| PlacementRecord::from_proto(&placement));
    let context = || path.display().to_string();
    match format {
        Format::Jsonl => {
            let mut out = BufWriter::new(file);
            for (i, record) in records.enumerate() {
                let record = record.map_err(|e| anyhow::anyhow!("generated record: {e}"))?;
                writeln!(out, "{}", record.to_json()).with_context(context)?;
                progress.update(i as u64 + 1);
            }
            out.flush().with_context(context)?;
        }
        Format::Csv => {
            let mut out = csv::Writer::from_writer(BufWriter::new(file));
            out.write_record(csv_header()).with_context(context)?;
            for (i, record) in records.enumerate() {
                let record = record.map_err(|e| anyhow::anyhow!("generated record: {e}"))?;
                out.write_record(csv_row(&record)).with_context(context)?;
                progress.update(i as u64 + 1);
            }
            out.flush().with_context(context)?;
        }
    }
    progress.finish();
    println!(
        "wrote {} records (seed {}) to {} in {:.1} s",
        thousands(args.records),
        args.seed,
        path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
