//! Pushing a file of records to the exchange in batches: one call of a batch method
//! (`PushPlacements`, `SubmitMarketReports`, `PublishPrograms`, `RecordEnrollments`) per batch.
//!
//! Every batch is one call, so that each record's result comes back in the order it was sent
//! and maps to its line; the next batch is read while one is in flight. Lines that cannot be
//! read are never sent; they and the records the exchange rejects go to `FILE.rejected.jsonl`,
//! with their reasons. With `--receipts`, the receipt of every record taken (its audit leaf) is
//! kept too.

use std::ffi::OsString;
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use jembatan_client::convert::{ShortCode, thousands};
use jembatan_client::v1::{self, RecordOutcome};
use jembatan_client::{ClientError, Stated};
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::private_file::create_private;
use jembatan_records::{FileRecord, Format, Line, Source};
use prost::Message;
use serde::Serialize;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::connection::ConnectionArgs;
use crate::progress::{Progress, per_second};

/// The most records the contract allows in one batch.
pub(crate) const MAX_BATCH: u32 = 1000;

/// The flags of every command that pushes a file: the connection, who acts, the file and how
/// to report.
#[derive(Debug, clap::Args)]
pub(crate) struct FileArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The file, JSON Lines or CSV (the command's help names the document that describes it).
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// The file's format [default: by extension: .jsonl, .ndjson or .json for jsonl, .csv for
    /// csv].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Records per call, 1 to 1000.
    #[arg(long, default_value_t = MAX_BATCH, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// Write the receipt of every record stored, unchanged or stale (the audit leaf written for
    /// it) to this file, JSON Lines in line order.
    #[arg(long, value_name = "PATH")]
    receipts: Option<PathBuf>,
    #[command(flatten)]
    acting: crate::acting::ActingArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// How long, in seconds, a batch answered UNAVAILABLE, DEADLINE_EXCEEDED,
    /// RESOURCE_EXHAUSTED or ABORTED is sent again (the same records: one the exchange had
    /// taken comes back UNCHANGED); 0 stops at the first such answer.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    retry_for: u64,
}

/// A batch method of the contract: how a batch of a file's records reaches the exchange.
pub(crate) trait BatchMethod: Clone + Send + 'static {
    /// A record of the file.
    type Record: FileRecord;
    /// A record as the contract carries it.
    type Message: Clone + Send + 'static;
    /// The method's name, e.g. `PushPlacements`.
    const NAME: &'static str;
    /// The request's list of records, e.g. `placements`, as violations name it
    /// (`placements[3].nik`).
    const FIELD: &'static str;

    /// The contract's form of a record.
    fn message(record: &Self::Record) -> Self::Message;

    /// Calls the method with one batch, as `request` states it; the results come in the
    /// batch's order.
    fn call(
        self,
        request: tonic::Request<Vec<Self::Message>>,
    ) -> impl Future<Output = Result<Vec<v1::RecordResult>, tonic::Status>> + Send;
}

/// What became of a file's records.
#[derive(Debug, Default, Serialize)]
struct Summary {
    /// The file pushed.
    file: String,
    /// Records read (non-blank lines, or CSV rows).
    records: u64,
    /// Stored: new, or newer than the stored version.
    stored: u64,
    /// Identical to the stored version.
    unchanged: u64,
    /// Older than the stored version, ignored.
    stale: u64,
    /// Refused by the exchange or unreadable; written to the rejected-lines file.
    rejected: u64,
    /// Valid, but not stored because of another record (--all-or-nothing).
    not_stored: u64,
    /// Calls made, one per batch.
    batches: u64,
    /// Wall time, seconds.
    seconds: f64,
    /// Records read per second.
    records_per_second: u64,
    /// Where rejected lines were written, if any were.
    rejected_file: Option<String>,
    /// Where receipts were written, with --receipts.
    receipts_file: Option<String>,
}

/// Where a record of a batch came from: its line, its id, and the line as given.
type Origin = (u64, Option<String>, Value);

/// A record on its way: where it came from, and what is sent.
struct Pending<T> {
    origin: Origin,
    message: T,
}

/// The rejected-lines file, created (mode 0600) at the first rejection, written in line order.
struct Rejections {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Rejections not yet written, by line: those of the batch in flight and of the lines
    /// read since.
    held: Vec<(u64, Value)>,
    /// Takes out of an entry what the file must not hold.
    redact: fn(&mut Value),
}

impl Rejections {
    /// The file for `input`, its entries passed through `redact`.
    fn new(input: &Path, redact: fn(&mut Value)) -> Self {
        let mut name: OsString = input.as_os_str().to_owned();
        name.push(".rejected.jsonl");
        Self {
            path: PathBuf::from(name),
            writer: None,
            held: Vec::new(),
            redact,
        }
    }

    /// Holds one rejected line with its reasons, `(field, description)`, until [`Self::write`].
    fn add(
        &mut self,
        line: u64,
        record_id: Option<&str>,
        violations: &[(String, String)],
        original: &Value,
    ) {
        let violations: Vec<Value> = violations
            .iter()
            .map(|(field, description)| json!({"field": field, "description": description}))
            .collect();
        let mut entry = json!({
            "line": line,
            "record_id": record_id,
            "violations": violations,
            "record": original,
        });
        (self.redact)(&mut entry);
        self.held.push((line, entry));
    }

    /// Writes the rejections held, in line order.
    fn write(&mut self) -> anyhow::Result<()> {
        self.write_through(u64::MAX)
    }

    /// Writes the rejections held of lines up to `last`, in line order; later ones stay held.
    fn write_through(&mut self, last: u64) -> anyhow::Result<()> {
        if self.held.iter().all(|(line, _)| *line > last) {
            return Ok(());
        }
        let context = || format!("rejected lines file {}", self.path.display());
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                // It may hold NIKs, names and phone numbers: for its owner's eyes only.
                let file = create_private(&self.path).with_context(context)?;
                self.writer.insert(BufWriter::new(file))
            }
        };
        self.held.sort_by_key(|(line, _)| *line);
        let ready = self.held.partition_point(|(line, _)| *line <= last);
        for (_, entry) in self.held.drain(..ready) {
            writeln!(writer, "{entry}").with_context(context)?;
        }
        Ok(())
    }

    /// After a failed push: writes what is held and flushes the file, leaving one of an
    /// earlier run alone. Returns the path if this run wrote rejections.
    fn keep(mut self) -> anyhow::Result<Option<PathBuf>> {
        self.write()?;
        match self.writer {
            Some(mut writer) => {
                writer.flush()?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }

    /// Writes what is held and flushes the file; without rejections, removes one left by an
    /// earlier run. Returns the path if the file holds rejections.
    fn finish(mut self) -> anyhow::Result<Option<PathBuf>> {
        self.write()?;
        match self.writer {
            Some(mut writer) => {
                writer
                    .flush()
                    .with_context(|| format!("rejected lines file {}", self.path.display()))?;
                Ok(Some(self.path))
            }
            None => {
                if self.path.is_file() {
                    std::fs::remove_file(&self.path).with_context(|| {
                        format!("old rejected lines file {}", self.path.display())
                    })?;
                }
                Ok(None)
            }
        }
    }
}

/// The receipts file (--receipts): one line per record taken, in line order.
struct Receipts {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl Receipts {
    fn create(path: &Path) -> anyhow::Result<Receipts> {
        let file =
            File::create(path).with_context(|| format!("receipts file {}", path.display()))?;
        Ok(Receipts {
            path: path.to_owned(),
            writer: BufWriter::new(file),
        })
    }

    /// Writes the receipt of one record: `{"line", "record_id", "outcome", "receipt"}`.
    fn write(
        &mut self,
        (line, record_id, _): &Origin,
        result: &v1::RecordResult,
    ) -> anyhow::Result<()> {
        let entry = json!({
            "line": line,
            "record_id": record_id,
            "outcome": result.outcome().code(),
            "receipt": crate::receipt::json(result.receipt.as_ref()),
        });
        writeln!(self.writer, "{entry}")
            .with_context(|| format!("receipts file {}", self.path.display()))
    }

    /// Flushes the file; returns its path.
    fn finish(mut self) -> anyhow::Result<PathBuf> {
        self.writer
            .flush()
            .with_context(|| format!("receipts file {}", self.path.display()))?;
        Ok(self.path)
    }
}

/// The push in progress.
struct Pusher<M: BatchMethod> {
    method: M,
    stated: Stated,
    all_or_nothing: bool,
    summary: Summary,
    rejections: Rejections,
    receipts: Option<Receipts>,
    progress: Progress,
    /// Records whose fate is known: answered, or never sent.
    done: u64,
    /// The batch sent and not yet answered.
    in_flight: Option<InFlight<M::Message>>,
    /// How long a batch is sent again while the exchange cannot take it.
    retry_for: Duration,
}

/// A batch sent: where its records came from, the records (to send again), and the call.
struct InFlight<T> {
    sources: Vec<Origin>,
    messages: Vec<T>,
    call: tokio::task::JoinHandle<Result<Vec<v1::RecordResult>, tonic::Status>>,
}

/// Whether a batch answered `status` may be sent again as it was: the exchange took nothing
/// of it, or, if it had, takes it again as UNCHANGED.
fn retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::ResourceExhausted
            | tonic::Code::Aborted
    )
}

/// The wait before the `attempt`th sending again of a batch: 1 s, doubling, at most 8 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(3))
}

/// Pushes the file of `args` with the batch method `method` makes of the connection (with
/// `--dev`, as `identity`), stating `purpose` and `legal_basis`; prints the summary. Exits 0
/// when every record was taken (stored, unchanged or stale), 1 otherwise.
pub(crate) async fn run<M: BatchMethod>(
    args: &FileArgs,
    identity: &str,
    (purpose, legal_basis): (Purpose, LegalBasis),
    all_or_nothing: bool,
    method: impl FnOnce(Channel) -> M,
) -> anyhow::Result<ExitCode> {
    let format = Format::chosen(args.format, &args.file)?;
    let start = Instant::now();
    // Checks the header of a CSV file before connecting.
    let mut source = Source::<M::Record>::open(&args.file, format)?;
    let client = args.connection.connect(identity).await?;
    let stated = args.acting.stated(purpose, legal_basis);
    let mut progress = Progress::new(None);
    if progress.enabled() {
        progress.set_total(jembatan_records::count(&args.file, format)?);
    }
    let receipts = args.receipts.as_deref().map(Receipts::create).transpose()?;
    let mut pusher = Pusher {
        method: method(client.channel()),
        stated,
        all_or_nothing,
        summary: Summary {
            file: args.file.display().to_string(),
            ..Summary::default()
        },
        rejections: Rejections::new(&args.file, M::Record::redact),
        receipts,
        progress,
        done: 0,
        in_flight: None,
        retry_for: Duration::from_secs(args.retry_for),
    };
    let batch_size = usize::try_from(args.batch).unwrap_or(1000);
    let pushed = pusher
        .push(&mut source, &args.file, format, batch_size)
        .await;
    pusher.progress.finish();
    let receipts = pusher.receipts.take().map(Receipts::finish).transpose();
    if let Err(error) = pushed {
        // What is known so far is kept: the rejections answered, and how far the push got.
        let kept = pusher.rejections.keep();
        let summary = &pusher.summary;
        let written = match kept {
            Ok(Some(path)) => format!("; rejected lines in {}", path.display()),
            _ => String::new(),
        };
        let error = error.context(format!(
            "the push of {} stopped ({} stored, {} unchanged, {} stale, {} rejected of {} records \
             read{written})",
            summary.file,
            thousands(summary.stored),
            thousands(summary.unchanged),
            thousands(summary.stale),
            thousands(summary.rejected),
            thousands(summary.records),
        ));
        return Err(error);
    }
    let mut summary = pusher.summary;
    summary.receipts_file = receipts?.map(|path| path.display().to_string());
    summary.rejected_file = pusher
        .rejections
        .finish()?
        .map(|path| path.display().to_string());
    let elapsed = start.elapsed();
    summary.seconds = elapsed.as_secs_f64();
    summary.records_per_second = per_second(summary.records, elapsed);
    print_summary(&summary, args.json)?;
    Ok(if summary.rejected == 0 && summary.not_stored == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

impl<M: BatchMethod> Pusher<M> {
    /// Reads the file and sends its records, batch by batch.
    async fn push(
        &mut self,
        source: &mut Source<M::Record>,
        path: &Path,
        format: Format,
        batch_size: usize,
    ) -> anyhow::Result<()> {
        if self.all_or_nothing && self.reject_unreadable(path, format)? {
            // Something cannot be read: nothing is sent.
            return Ok(());
        }
        let mut batch = Vec::with_capacity(batch_size);
        let mut stopped = false;
        while let Some(line) = source.next_line()? {
            if stopped {
                self.summary.records += 1;
                self.summary.not_stored += 1;
                continue;
            }
            self.read(line, &mut batch)?;
            if batch.len() == batch_size {
                stopped = !self.send(std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() && !stopped {
            self.send(batch).await?;
        }
        if let Some(last) = self.in_flight.take() {
            self.settle(last).await?;
        }
        Ok(())
    }

    /// With --all-or-nothing, a first reading of the whole file: every line that cannot be read
    /// is rejected, and if there is one, nothing is sent. Returns whether there was one.
    fn reject_unreadable(&mut self, path: &Path, format: Format) -> anyhow::Result<bool> {
        let mut source = Source::<M::Record>::open(path, format)?;
        let (mut records, mut unreadable) = (0, 0);
        while let Some(line) = source.next_line()? {
            records += 1;
            if let Err(reason) = &line.parsed {
                unreadable += 1;
                let record_id = line.record_id();
                self.rejections.add(
                    line.number,
                    record_id.as_deref(),
                    &[("line".to_owned(), reason.clone())],
                    &line.original,
                );
                self.rejections.write()?;
            }
        }
        if unreadable > 0 {
            self.summary.records = records;
            self.summary.rejected = unreadable;
            self.summary.not_stored = records - unreadable;
        }
        Ok(unreadable > 0)
    }

    /// Takes one line: an unreadable one is rejected at once, a record joins the batch.
    fn read(
        &mut self,
        line: Line<M::Record>,
        batch: &mut Vec<Pending<M::Message>>,
    ) -> anyhow::Result<()> {
        self.summary.records += 1;
        let record_id = line.record_id();
        match line.parsed {
            Ok(record) => batch.push(Pending {
                message: M::message(&record),
                origin: (line.number, record_id, line.original),
            }),
            Err(reason) => {
                self.rejections.add(
                    line.number,
                    record_id.as_deref(),
                    &[("line".to_owned(), reason)],
                    &line.original,
                );
                if batch.is_empty() && self.in_flight.is_none() {
                    // No earlier line awaits its answer: the file stays in line order.
                    self.rejections.write()?;
                }
                self.summary.rejected += 1;
                self.done += 1;
                self.progress.update(self.done);
            }
        }
        Ok(())
    }

    /// Sends one batch. The batch before it is answered first, so that the exchange takes the
    /// batches in the file's order, while the next one is read. With --all-or-nothing, waits
    /// for the answer and returns false if the batch was refused whole, after which nothing more
    /// is sent.
    async fn send(&mut self, batch: Vec<Pending<M::Message>>) -> anyhow::Result<bool> {
        if let Some(previous) = self.in_flight.take()
            && !self.settle(previous).await?
        {
            return Ok(false);
        }
        let (messages, sources): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.message, pending.origin))
            .unzip();
        let call = self.call(messages.clone())?;
        self.summary.batches += 1;
        let flight = InFlight {
            sources,
            messages,
            call,
        };
        if self.all_or_nothing {
            return self.settle(flight).await;
        }
        self.in_flight = Some(flight);
        Ok(true)
    }

    /// Calls the method with `messages`, in a task of its own.
    fn call(
        &self,
        messages: Vec<M::Message>,
    ) -> anyhow::Result<tokio::task::JoinHandle<Result<Vec<v1::RecordResult>, tonic::Status>>> {
        let request = self.stated.request(messages)?;
        Ok(tokio::spawn(self.method.clone().call(request)))
    }

    /// Waits for a batch's answer, sending the batch again while the exchange cannot take it
    /// (for `retry_for`), and takes in its results. Returns false when the batch was refused
    /// whole (--all-or-nothing).
    async fn settle(&mut self, flight: InFlight<M::Message>) -> anyhow::Result<bool> {
        let InFlight {
            sources,
            messages,
            mut call,
        } = flight;
        let count = sources.len();
        let first_line = sources.first().map_or(0, |(line, _, _)| *line);
        let last_line = sources.last().map_or(0, |(line, _, _)| *line);
        let since = Instant::now();
        let mut attempt = 0;
        let answer = loop {
            let answer = call
                .await
                .map_err(|e| anyhow::anyhow!("the {} call failed: {e}", M::NAME))?;
            match answer {
                Err(status) if retryable(&status) && since.elapsed() < self.retry_for => {
                    let wait = backoff(attempt);
                    attempt += 1;
                    eprintln!(
                        "jembatan: lines {first_line}-{last_line}: {}; sending them again in {} s",
                        ClientError::from(status),
                        wait.as_secs()
                    );
                    tokio::time::sleep(wait).await;
                    call = self.call(messages.clone())?;
                }
                answer => break answer,
            }
        };
        let results = match answer {
            Ok(results) => results,
            Err(status) if self.all_or_nothing && status.code() == tonic::Code::InvalidArgument => {
                let Some(violations) = field_violations(&status) else {
                    return Err(ClientError::from(status).into());
                };
                self.refused_batch(&sources, &violations)?;
                return Ok(false);
            }
            Err(status) => return Err(ClientError::from(status).into()),
        };
        if results.len() != count {
            anyhow::bail!(
                "the exchange answered {} results for a batch of {count} records",
                results.len()
            );
        }
        for (i, result) in results.iter().enumerate() {
            let at = usize::try_from(result.index).unwrap_or(i);
            let Some(origin) = sources.get(at) else {
                anyhow::bail!(
                    "the exchange answered for record {} of a batch of {count}",
                    result.index
                );
            };
            match result.outcome() {
                RecordOutcome::Stored => self.summary.stored += 1,
                RecordOutcome::Unchanged => self.summary.unchanged += 1,
                RecordOutcome::Stale => self.summary.stale += 1,
                RecordOutcome::Rejected | RecordOutcome::Unspecified => {
                    let mut violations: Vec<(String, String)> = result
                        .violations
                        .iter()
                        .map(|v| (record_field(M::FIELD, &v.field).1, v.description.clone()))
                        .collect();
                    if violations.is_empty() {
                        violations.push((
                            String::new(),
                            "rejected by the exchange without a reason".to_owned(),
                        ));
                    }
                    let (line, record_id, original) = origin;
                    self.rejections
                        .add(*line, record_id.as_deref(), &violations, original);
                    self.summary.rejected += 1;
                    continue;
                }
            }
            if let Some(receipts) = &mut self.receipts {
                receipts.write(origin, result)?;
            }
        }
        // Every line up to this batch's last is settled: earlier batches were answered before.
        self.rejections.write_through(last_line)?;
        self.done += count as u64;
        self.progress.update(self.done);
        Ok(true)
    }

    /// A batch refused whole: its records with violations are rejected, the others not stored.
    fn refused_batch(
        &mut self,
        sources: &[Origin],
        violations: &[(String, String)],
    ) -> anyhow::Result<()> {
        for (i, (line, record_id, original)) in sources.iter().enumerate() {
            let own: Vec<(String, String)> = violations
                .iter()
                .filter_map(|(field, description)| match record_field(M::FIELD, field) {
                    (Some(index), field) if index == i => Some((field, description.clone())),
                    _ => None,
                })
                .collect();
            if own.is_empty() {
                self.summary.not_stored += 1;
            } else {
                self.rejections
                    .add(*line, record_id.as_deref(), &own, original);
                self.summary.rejected += 1;
            }
        }
        let last_line = sources.last().map_or(0, |(line, _, _)| *line);
        self.rejections.write_through(last_line)?;
        self.done += sources.len() as u64;
        self.progress.update(self.done);
        Ok(())
    }
}

/// A violation's field path relative to its record: with `list` `placements`,
/// `placements[3].nik` is record 3's `nik`. A path without the `list[N].` prefix is returned as
/// it is.
fn record_field(list: &str, path: &str) -> (Option<usize>, String) {
    let Some(rest) = path
        .strip_prefix(list)
        .and_then(|rest| rest.strip_prefix('['))
    else {
        return (None, path.to_owned());
    };
    let Some((index, rest)) = rest.split_once(']') else {
        return (None, path.to_owned());
    };
    match index.parse::<usize>() {
        Ok(index) => (
            Some(index),
            rest.strip_prefix('.').unwrap_or(rest).to_owned(),
        ),
        Err(_) => (None, path.to_owned()),
    }
}

/// `google.rpc.Status`, as carried in a gRPC status's details.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// `google.rpc.BadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    field_violations: Vec<BadRequestFieldViolation>,
}

/// `google.rpc.BadRequest.FieldViolation`.
#[derive(Clone, PartialEq, prost::Message)]
struct BadRequestFieldViolation {
    #[prost(string, tag = "1")]
    field: String,
    #[prost(string, tag = "2")]
    description: String,
}

/// The field violations of a status's `google.rpc.BadRequest` details, if it has any.
fn field_violations(status: &tonic::Status) -> Option<Vec<(String, String)>> {
    let rpc = RpcStatus::decode(status.details()).ok()?;
    let violations: Vec<(String, String)> = rpc
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("/google.rpc.BadRequest"))
        .filter_map(|any| BadRequest::decode(any.value.as_slice()).ok())
        .flat_map(|bad| bad.field_violations)
        .map(|v| (v.field, v.description))
        .collect();
    (!violations.is_empty()).then_some(violations)
}

fn print_summary(summary: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
        return Ok(());
    }
    let batches = if summary.batches == 1 {
        "1 batch".to_owned()
    } else {
        format!("{} batches", thousands(summary.batches))
    };
    println!(
        "{}: {} records in {batches}, {:.1} s, {} records/s",
        summary.file,
        thousands(summary.records),
        summary.seconds,
        thousands(summary.records_per_second)
    );
    let mut rows = vec![
        ("stored", summary.stored),
        ("unchanged", summary.unchanged),
        ("stale", summary.stale),
        ("rejected", summary.rejected),
    ];
    if summary.not_stored > 0 {
        rows.push(("not stored", summary.not_stored));
    }
    let width = rows
        .iter()
        .map(|(_, n)| thousands(*n).len())
        .max()
        .unwrap_or(1);
    for (name, count) in rows {
        let note = match (name, &summary.rejected_file) {
            ("rejected", Some(path)) => format!("  -> {path}"),
            _ => String::new(),
        };
        println!("  {name:<10} {:>width$}{note}", thousands(count));
    }
    if let Some(path) = &summary.receipts_file {
        println!("  receipts -> {path}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rejected_lines_file_is_0600_even_over_a_readable_one() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("placements.jsonl");
        let rejected = dir.path().join("placements.jsonl.rejected.jsonl");
        // One left by an earlier run, readable by all.
        std::fs::write(&rejected, "{}\n").expect("write");
        std::fs::set_permissions(&rejected, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut rejections = Rejections::new(&input, |_| {});
        let record = json!({"nik": "3201010101010001", "full_name": "Siti Aminah"});
        rejections.add(
            1,
            Some("P-1"),
            &[("nik".to_owned(), "already registered".to_owned())],
            &record,
        );
        let path = rejections
            .finish()
            .expect("finish")
            .expect("rejections written");
        assert_eq!(path, rejected);
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("3201010101010001"), "{text}");
    }

    #[test]
    fn only_answers_that_took_nothing_are_sent_again_and_waits_grow_to_eight_seconds() {
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::ResourceExhausted,
            tonic::Code::Aborted,
        ] {
            assert!(retryable(&tonic::Status::new(code, "")), "{code:?}");
        }
        for code in [
            tonic::Code::InvalidArgument,
            tonic::Code::PermissionDenied,
            tonic::Code::Internal,
            tonic::Code::Unauthenticated,
        ] {
            assert!(!retryable(&tonic::Status::new(code, "")), "{code:?}");
        }
        let waits: Vec<u64> = (0..6).map(|attempt| backoff(attempt).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn violation_paths_are_made_relative_to_their_record() {
        assert_eq!(
            record_field("placements", "placements[3].nik"),
            (Some(3), "nik".to_owned())
        );
        assert_eq!(
            record_field("placements", "placements[12].certificates[0].issued_on"),
            (Some(12), "certificates[0].issued_on".to_owned())
        );
        assert_eq!(record_field("placements", "nik"), (None, "nik".to_owned()));
        assert_eq!(
            record_field("placements", "placements[x].nik"),
            (None, "placements[x].nik".to_owned())
        );
    }

    #[test]
    fn bad_request_details_are_read_from_a_status() {
        let bad = BadRequest {
            field_violations: vec![BadRequestFieldViolation {
                field: "placements[1].nik".to_owned(),
                description: "must be exactly 16 digits".to_owned(),
            }],
        };
        let rpc = RpcStatus {
            code: tonic::Code::InvalidArgument as i32,
            message: "invalid".to_owned(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.BadRequest".to_owned(),
                value: bad.encode_to_vec(),
            }],
        };
        let status = tonic::Status::with_details(
            tonic::Code::InvalidArgument,
            "invalid",
            rpc.encode_to_vec().into(),
        );
        assert_eq!(
            field_violations(&status),
            Some(vec![(
                "placements[1].nik".to_owned(),
                "must be exactly 16 digits".to_owned()
            )])
        );
        assert_eq!(
            field_violations(&tonic::Status::invalid_argument("x")),
            None
        );
    }

    #[test]
    fn the_rejected_file_sits_next_to_the_input() {
        let rejections = Rejections::new(Path::new("/data/placements.csv"), |_| {});
        assert_eq!(
            rejections.path,
            PathBuf::from("/data/placements.csv.rejected.jsonl")
        );
    }
}
