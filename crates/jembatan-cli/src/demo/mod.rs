//! `jembatan demo`: fill an exchange with realistic synthetic data, through the public API as
//! the agencies' systems would.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Context;
use jembatan_client::convert::thousands;
use jembatan_client::v1::placement_service_client::PlacementServiceClient;
use jembatan_client::v1::{self, RecordOutcome, StreamPlacementsRequest};
use jembatan_client::{ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};

use crate::codes::today_in_jakarta;
use crate::connection::ConnectionArgs;
use crate::placements::record::{PlacementRecord, csv_header, csv_row};
use crate::placements::{Format, MAX_BATCH};
use crate::progress::{Progress, per_second};
use crate::value_parsers::parse_code;

/// Batches sent in one StreamPlacements call, so that no single call runs for long.
const BATCHES_PER_STREAM: u64 = 50;

/// Rejected records described on stderr at most.
const REJECTIONS_SHOWN: usize = 10;

/// `jembatan demo …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DemoCommand {
    /// Generate realistic synthetic placements and push them as KP2MI would.
    ///
    /// Records follow the 2024 figures: destinations, provinces of origin, occupations, about
    /// 63% women, NIKs that agree with sex and birth date, two-year contracts ending over the
    /// past and the next twelve months, and consent for a share of the workers. The same seed
    /// gives the same records on the same day; their placement ids are DEMO-<seed>-<n>, so
    /// seeding again changes nothing. Exits 1 if the exchange rejected any record.
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
    /// Write the records to this file instead of pushing them: JSON Lines, or CSV for a .csv
    /// name (the formats `placements push` reads).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
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
    let client = args.connection.connect("kp2mi").await?;
    let mut service = PlacementServiceClient::new(client.channel());
    let stated = Stated::new(args.purpose, args.legal_basis);
    let start = Instant::now();
    let feed = Arc::new(Mutex::new(Feed {
        generator: jembatan_demo::Generator::new(args.seed, args.consent_rate, today_in_jakarta()),
        batch: u64::from(args.batch),
        left: args.records,
        sent: 0,
        in_stream: 0,
        progress: Progress::new(Some(args.records)),
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
            summary.stored += part.stored;
            summary.unchanged += part.unchanged;
            summary.stale += part.stale;
            summary.rejected += part.rejected;
        }
        let rejections = response
            .rejected
            .iter()
            .filter(|r| r.outcome() == RecordOutcome::Rejected);
        for rejected in rejections {
            if shown == REJECTIONS_SHOWN {
                break;
            }
            shown += 1;
            let reasons: Vec<String> = rejected
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect();
            lock(&feed).progress.finish();
            eprintln!(
                "jembatan: rejected {}: {}",
                rejected.record_id,
                reasons.join("; ")
            );
        }
    }
    lock(&feed).progress.finish();
    let sent = lock(&feed).sent;
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
    Ok(if summary.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
