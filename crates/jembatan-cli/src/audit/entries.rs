//! `jembatan audit list|tail|show`: log entries as a readable table, or JSON Lines with --json.
//!
//! Every entry is shown from its leaf bytes, after checking that they hash to its leaf hash, so
//! what is shown is what `audit prove` proves.

use std::process::ExitCode;
use std::time::Duration;

use jembatan_audit::leaf::{LeafEntry, Outcome};
use jembatan_client::audit::checked_entry;
use jembatan_client::convert::{ShortCode, timestamp};
use jembatan_client::v1::{self, AuditEntry, GetEntryRequest, ListEntriesRequest};
use jembatan_client::{AuditClient, ClientError};
use jembatan_domain::Purpose;
use time::OffsetDateTime;

use super::AuditCallArgs;
use crate::value_parsers::{parse_code, parse_time};

/// Arguments of `jembatan audit list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Entries to show at most.
    #[arg(long, default_value_t = 100)]
    limit: u64,
    /// Start at this leaf index.
    #[arg(long, default_value_t = 0)]
    from_index: u64,
    /// JSON Lines, one entry per line: index, leaf hash, and the leaf's fields.
    #[arg(long)]
    json: bool,
}

/// Which entries to list.
#[derive(Debug, clap::Args)]
struct FilterArgs {
    /// Earliest time, inclusive, RFC 3339.
    #[arg(long, value_parser = parse_time)]
    from: Option<OffsetDateTime>,
    /// Latest time, exclusive, RFC 3339.
    #[arg(long, value_parser = parse_time)]
    to: Option<OffsetDateTime>,
    /// Exact principal, `spiffe://…`.
    #[arg(long)]
    principal: Option<String>,
    /// Agency, e.g. kemendag.
    #[arg(long)]
    agency: Option<String>,
    /// Method, e.g. WorkforceService/ListCandidates.
    #[arg(long)]
    method: Option<String>,
    /// Stated purpose, e.g. BUSINESS_MATCHING.
    #[arg(long, value_parser = parse_code::<Purpose>)]
    purpose: Option<Purpose>,
    /// allow or deny.
    #[arg(long, value_parser = ["allow", "deny"])]
    decision: Option<String>,
    /// Record type, e.g. placement or request.
    #[arg(long)]
    record_type: Option<String>,
}

impl FilterArgs {
    fn request(&self) -> ListEntriesRequest {
        ListEntriesRequest {
            from_time: self.from.map(timestamp::to_proto),
            to_time: self.to.map(timestamp::to_proto),
            principal: self.principal.clone().unwrap_or_default(),
            agency: self.agency.clone().unwrap_or_default(),
            method: self.method.clone().unwrap_or_default(),
            // The domain's purposes are the contract's (a test of jembatan-client holds it).
            purpose: self
                .purpose
                .map_or(0, |p| v1::Purpose::number_of_code(p.code()).unwrap_or(0)),
            decision: match self.decision.as_deref() {
                Some("allow") => v1::Decision::Allow as i32,
                Some("deny") => v1::Decision::Deny as i32,
                _ => v1::Decision::Unspecified as i32,
            },
            record_type: self.record_type.clone().unwrap_or_default(),
            ..ListEntriesRequest::default()
        }
    }
}

/// Arguments of `jembatan audit tail`.
#[derive(Debug, clap::Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    /// How many of the last entries to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    lines: u64,
    /// Keep showing new entries as they are logged, until interrupted.
    #[arg(long, short)]
    follow: bool,
    /// With --follow, milliseconds between polls.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// JSON Lines instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `jembatan audit show`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    call: AuditCallArgs,
    /// The leaf index.
    index: u64,
    /// JSON instead of a readable list.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut client = args.call.client("auditor").await?;
    let mut printer = Printer::new(args.json);
    let mut request = args.filter.request();
    request.from_index = args.from_index;
    let mut left = args.limit;
    while left > 0 {
        request.page_size = u32::try_from(left.min(1000)).unwrap_or(1000);
        let page = client.list(request.clone()).await?;
        for entry in page
            .entries
            .iter()
            .take(usize::try_from(left).unwrap_or(usize::MAX))
        {
            printer.entry(entry)?;
            left -= 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    printer.done();
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    let mut client = args.call.client("auditor").await?;
    let mut printer = Printer::new(args.json);
    let size = client
        .inner()
        .get_checkpoint(
            args.call
                .stated()
                .request(v1::GetCheckpointRequest { tree_size: 0 })?,
        )
        .await
        .map_err(ClientError::from)?
        .into_inner()
        .checkpoint
        .map_or(0, |c| c.tree_size);
    // Entries logged after the checkpoint are listed too: keep the last `lines` of all. Every
    // listing is itself logged, so the log always has one entry more than the last page read:
    // a page shorter than full is the end.
    let mut next = size.saturating_sub(args.lines);
    let mut last: Vec<AuditEntry> = Vec::new();
    loop {
        let page = page_from(&mut client, next).await?;
        let Some(entry) = page.last() else { break };
        next = entry.index + 1;
        let full = page.len() >= PAGE;
        last.extend(page);
        let keep = usize::try_from(args.lines).unwrap_or(usize::MAX);
        if last.len() > keep {
            last.drain(..last.len() - keep);
        }
        if !full {
            break;
        }
    }
    for entry in &last {
        printer.entry(entry)?;
    }
    printer.done();
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    // The polls are logged too; they are not shown, or each would show the one before it.
    let own = args.call.connection.certificate_fingerprint("auditor")?;
    loop {
        tokio::time::sleep(Duration::from_millis(args.interval_ms.max(100))).await;
        for entry in page_from(&mut client, next).await? {
            next = entry.index + 1;
            let own_poll = entry.cert_fingerprint == own
                && entry.method == "/jembatan.v1.AuditService/ListEntries";
            if !own_poll {
                printer.entry(&entry)?;
            }
        }
    }
}

/// Entries in a page of `audit tail`.
const PAGE: usize = 1000;

/// Up to a page of entries from leaf `index` on.
async fn page_from(client: &mut AuditClient, index: u64) -> Result<Vec<AuditEntry>, ClientError> {
    Ok(client
        .list(ListEntriesRequest {
            from_index: index,
            page_size: PAGE as u32,
            ..ListEntriesRequest::default()
        })
        .await?
        .entries)
}

pub(crate) async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let mut client = args.call.client("auditor").await?;
    let request = args.call.stated().request(GetEntryRequest {
        index: args.index,
        tree_size: 0,
    })?;
    let response = client
        .inner()
        .get_entry(request)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    let entry = response.entry.ok_or(ClientError::Incomplete("entry"))?;
    let leaf = checked(&entry)?;
    if args.json {
        println!("{}", entry_json(&entry, &leaf));
        return Ok(ExitCode::SUCCESS);
    }
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let or_dash = |text: &str| if text.is_empty() { "-" } else { text }.to_owned();
    let fields = [
        ("index", entry.index.to_string()),
        ("leaf hash", hex::encode(&entry.leaf_hash)),
        ("time", leaf.time.clone()),
        ("decision", outcome(leaf.outcome).to_owned()),
        ("principal", leaf.principal.clone()),
        ("certificate", leaf.cert_fingerprint.clone()),
        ("method", leaf.method.clone()),
        ("purpose", leaf.purpose.clone()),
        ("legal basis", leaf.legal_basis.clone()),
        ("case ref", or_dash(&leaf.case_ref)),
        ("operator", or_dash(&leaf.operator)),
        ("record type", leaf.record_type.clone()),
        ("record key", or_dash(&leaf.record_key)),
        ("data classes", list(&leaf.data_classes)),
        ("record digest", or_dash(&leaf.record_digest)),
        ("policies", list(&leaf.policy_ids)),
        ("policy set", leaf.policy_set.clone()),
        ("trace id", or_dash(&leaf.trace_id)),
    ];
    for (name, value) in fields {
        println!("{name:<14} {value}");
    }
    if let (Some(proof), Some(checkpoint)) = (response.proof, response.checkpoint) {
        println!(
            "{:<14} in the checkpoint of {} leaves ({} proof hashes); `jembatan audit prove {}` checks it",
            "proof",
            checkpoint.tree_size,
            proof.hashes.len(),
            entry.index
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The entry's fields from its leaf bytes, which must hash to its leaf hash.
fn checked(entry: &AuditEntry) -> Result<LeafEntry, ClientError> {
    checked_entry(entry).map(|(_, leaf)| leaf)
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
    }
}

fn entry_json(entry: &AuditEntry, leaf: &LeafEntry) -> serde_json::Value {
    serde_json::json!({
        "index": entry.index,
        "leaf_hash": hex::encode(&entry.leaf_hash),
        "leaf": leaf,
    })
}

/// Prints entries as a table (header once) or as JSON Lines.
struct Printer {
    json: bool,
    header: bool,
    said_empty: bool,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            header: false,
            said_empty: false,
        }
    }

    fn entry(&mut self, entry: &AuditEntry) -> Result<(), ClientError> {
        let leaf = checked(entry)?;
        if self.json {
            println!("{}", entry_json(entry, &leaf));
            return Ok(());
        }
        if !self.header {
            println!(
                "{:>8}  {:<24}  {:<8}  {:<40}  {:<36}  {:<20}  RECORD",
                "INDEX", "TIME", "DECISION", "PRINCIPAL", "METHOD", "PURPOSE"
            );
            self.header = true;
        }
        let principal = match leaf.principal.as_str() {
            "" => "(no identity)",
            claimed => claimed
                .strip_prefix("spiffe://")
                .and_then(|rest| rest.split_once('/'))
                .map_or(claimed, |(_, path)| path),
        };
        let record = if leaf.record_key.is_empty() {
            leaf.record_type.clone()
        } else {
            format!("{} {}", leaf.record_type, leaf.record_key)
        };
        println!(
            "{:>8}  {:<24}  {:<8}  {:<40}  {:<36}  {:<20}  {record}",
            entry.index,
            leaf.time,
            outcome(leaf.outcome),
            principal,
            leaf.method,
            leaf.purpose
        );
        Ok(())
    }

    /// After a batch: a table that has shown nothing yet says so, once.
    fn done(&mut self) {
        if !self.json && !self.header && !self.said_empty {
            println!("no entries");
            self.said_empty = true;
        }
    }
}
