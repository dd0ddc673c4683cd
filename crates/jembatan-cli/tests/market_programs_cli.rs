//! Market reports and export programs as their users meet them on the command line, against a
//! real `jembatan dev`: KP2MI submits reports (the examples of
//! docs/market-and-programs-files.md among them) and Kemendag queries and digests them;
//! Kemendag publishes programs, KP2MI lists them and enrols consenting workers, and Kemendag
//! reads the outcomes.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod support;

use support::{Dev, ok, stderr, stdout};

/// The first fenced block of `language` after the heading `## section` of the document `doc`
/// in docs/.
fn doc_example(doc: &str, section: &str, language: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(doc);
    let text = std::fs::read_to_string(&path).expect("the document");
    let heading = format!("\n## {section}\n");
    let from = text.find(&heading).expect("the section") + heading.len();
    let fence = format!("```{language}\n");
    let start = from + text[from..].find(&fence).expect("an example") + fence.len();
    let end = start + text[start..].find("```").expect("the example's end");
    text[start..end].to_owned()
}

/// An example of docs/market-and-programs-files.md.
fn example(section: &str, language: &str) -> String {
    doc_example("market-and-programs-files.md", section, language)
}

/// The count on the summary line `name` of a push, e.g. `  stored     3`.
fn count(summary: &str, name: &str) -> u64 {
    summary
        .lines()
        .find_map(|line| {
            let rest = line.trim_start().strip_prefix(name)?;
            rest.split_whitespace()
                .next()?
                .replace(',', "")
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {name} line in: {summary}"))
}

/// The entries of a rejected-lines file.
fn rejected_entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("rejected lines file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a json line"))
        .collect()
}

impl Dev {
    /// Runs `command… --file file`, then `more`.
    fn send(&self, command: &[&str], file: &Path, more: &[&str]) -> Output {
        let mut line = command.to_vec();
        line.extend(["--file", file.to_str().expect("utf-8")]);
        self.run(&line, more)
    }
}

#[test]
fn market_reports_are_submitted_queried_and_digested() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);

    // The documented line, and two more reports from the Gulf.
    let jsonl = dir.path().join("reports.jsonl");
    let more = [
        r#"{"report_id":"KP2MI-MR-2026-000103","version":1,"country":"AE","city":"Dubai","kind":"BUYER_LEAD","hs_codes":["9403","940360"],"title":"Hotel fit-out firm looks for teak garden furniture","summary":"A fit-out contractor for resort hotels in Dubai wants teak garden sets from Jepara makers with SVLK certificates.","observed_on":"2026-05-20","reporter_ref":"PMI-9Q4R1T"}"#,
        r#"{"report_id":"KP2MI-MR-2026-000104","version":1,"country":"SA","city":"Jeddah","kind":"REGULATION","hs_codes":["21"],"title":"SFDA labelling rules for instant coffee mixes","summary":"Importers in Jeddah say instant coffee mixes need Arabic labels and SFDA registration before the first shipment.","observed_on":"2026-06-02","reporter_ref":"PMI-7F3K2Q"}"#,
    ];
    std::fs::write(
        &jsonl,
        format!(
            "{}{}\n",
            example("Market reports", "jsonl"),
            more.join("\n")
        ),
    )
    .expect("write");
    let receipts = dir.path().join("receipts.jsonl");
    let out = dev.send(
        &["market", "submit"],
        &jsonl,
        &["--receipts", receipts.to_str().expect("utf-8")],
    );
    let summary = ok(&out);
    assert!(summary.contains("3 records in 1 batch"), "{summary}");
    assert_eq!(count(&summary, "stored"), 3, "{summary}");
    assert_eq!(count(&summary, "rejected"), 0, "{summary}");
    let kept: Vec<Value> = std::fs::read_to_string(&receipts)
        .expect("receipts file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert_eq!(kept[0]["record_id"], "KP2MI-MR-2026-000101");
    assert_eq!(kept[0]["outcome"], "STORED");
    assert!(kept[2]["receipt"]["leaf_index"].is_u64(), "{kept:?}");

    // The same file again changes nothing.
    let out = dev.send(&["market", "submit"], &jsonl, &["--json"]);
    let again: Value = serde_json::from_str(&ok(&out)).expect("json summary");
    assert_eq!(again["unchanged"], 3, "{again}");
    assert_eq!(again["stored"], 0, "{again}");

    // The documented CSV row, and one whose summary gives an e-mail address.
    let csv = dir.path().join("reports.csv");
    let example_csv = example("Market reports", "csv");
    let bad = "KP2MI-MR-2026-000105,1,HK,Hong Kong,DEMAND,0901,Cafe chain wants Java coffee,\
               Write to the buyer at buyer@example.com for samples,,2026-06-10,PMI-2H8W5D";
    std::fs::write(&csv, format!("{example_csv}{bad}\n")).expect("write");
    let out = dev.send(&["market", "submit"], &csv, &[]);
    let summary = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{summary}{}", stderr(&out));
    assert_eq!(count(&summary, "stored"), 1, "{summary}");
    assert_eq!(count(&summary, "rejected"), 1, "{summary}");
    assert!(summary.contains("reports.csv.rejected.jsonl"), "{summary}");
    let entries = rejected_entries(&dir.path().join("reports.csv.rejected.jsonl"));
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["line"], 3);
    assert_eq!(entries[0]["record_id"], "KP2MI-MR-2026-000105");
    let violations = entries[0]["violations"].as_array().expect("violations");
    assert!(
        violations.iter().any(|v| v["field"] == "summary"),
        "{violations:?}"
    );

    // Full-text search, as JSON Lines and as a table.
    let out = dev.run(&["market", "query", "--text", "roasters"], &["--json"]);
    let page: Value = serde_json::from_str(&ok(&out)).expect("json page");
    let reports = page["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), 1, "{page}");
    assert_eq!(reports[0]["report_id"], "KP2MI-MR-2026-000101");
    assert_eq!(reports[0]["kind"], "DEMAND");
    assert!(reports[0]["receipt"]["leaf_index"].is_u64(), "{page}");
    let out = dev.run(&["market", "query", "--text", "PALM*"], &[]);
    let table = ok(&out);
    assert!(table.starts_with("OBSERVED"), "{table}");
    assert!(
        table.contains("Crude palm oil prices at Port Klang"),
        "{table}"
    );
    assert!(table.contains("1 report"), "{table}");
    let out = dev.run(
        &[
            "market",
            "query",
            "--country",
            "SA",
            "--page-size",
            "1",
            "--all",
        ],
        &["--json"],
    );
    let ids: Vec<String> = ok(&out)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json page"))
        .flat_map(|page| page["reports"].as_array().cloned().unwrap_or_default())
        .map(|report| report["report_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        ids,
        ["KP2MI-MR-2026-000104", "KP2MI-MR-2026-000101"],
        "the reports from SA, one a page, newest observation first"
    );

    // The digest names countries and chapters.
    let out = dev.run(&["market", "digest"], &[]);
    let digest = ok(&out);
    assert!(digest.starts_with("COUNTRY"), "{digest}");
    assert!(digest.contains("SA Saudi Arabia"), "{digest}");
    assert!(
        digest.contains("09 Coffee, tea, mate and spices"),
        "{digest}"
    );
    assert!(digest.contains("4 reports matched"), "{digest}");
    assert!(digest.contains("receipt: audit leaf"), "{digest}");
    let out = dev.run(&["market", "digest", "--country", "AE"], &["--json"]);
    let digest: Value = serde_json::from_str(&ok(&out)).expect("json digest");
    assert_eq!(digest["reports"], 1, "{digest}");
    assert_eq!(digest["counts"][0]["country_name"], "United Arab Emirates");
    assert_eq!(digest["counts"][0]["hs_chapter"], "94");
    assert_eq!(digest["counts"][0]["kind"], "BUYER_LEAD");
}

#[test]
fn programs_are_published_listed_enrolled_in_and_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);

    // Two workers: Siti Aminah consents to CAPACITY_BUILDING, Lalu Ahmad Hidayat to nothing.
    let placements = dir.path().join("placements.csv");
    std::fs::write(&placements, doc_example("placements-file.md", "CSV", "csv")).expect("write");
    ok(&dev.send(&["placements", "push"], &placements, &[]));
    let consented = "3507114508990001";
    let unconsented = "5202031204920007";

    // Kemendag publishes a program in Jawa Timur and a nationwide one.
    let jsonl = dir.path().join("programs.jsonl");
    std::fs::write(&jsonl, example("Programs", "jsonl")).expect("write");
    let summary = ok(&dev.send(&["programs", "publish"], &jsonl, &[]));
    assert_eq!(count(&summary, "stored"), 1, "{summary}");
    let csv = dir.path().join("programs.csv");
    std::fs::write(&csv, example("Programs", "csv")).expect("write");
    let summary = ok(&dev.send(&["programs", "publish"], &csv, &[]));
    assert_eq!(count(&summary, "stored"), 1, "{summary}");

    // KP2MI lists them: a regency of Jawa Timur has both, one of NTB only the nationwide one.
    let ids = |regency: &str| -> Vec<String> {
        let out = dev.run(
            &[
                "programs",
                "list",
                "--regency",
                regency,
                "--active-on",
                "2026-06-01",
            ],
            &["--json"],
        );
        let page: Value = serde_json::from_str(&ok(&out)).expect("json page");
        let mut ids: Vec<String> = page["programs"]
            .as_array()
            .expect("programs")
            .iter()
            .map(|p| p["program_id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("35.07"), ["DBE-2026-JATIM-01", "UBE-2026-NAS-01"]);
    assert_eq!(ids("52.02"), ["UBE-2026-NAS-01"]);
    let out = dev.run(&["programs", "list", "--kind", "DESA_BISA_EKSPOR"], &[]);
    let table = ok(&out);
    assert!(table.starts_with("PROGRAM"), "{table}");
    assert!(table.contains("DBE-2026-JATIM-01"), "{table}");
    assert!(!table.contains("UBE-2026-NAS-01"), "{table}");
    assert!(table.contains("1 program"), "{table}");

    // KP2MI enrols both workers; only the one whose consent covers CAPACITY_BUILDING is taken.
    let enrolments = dir.path().join("enrolments.jsonl");
    let documented = example("Enrolments", "jsonl");
    let refused = documented
        .replace("KP2MI-EN-2026-000031", "KP2MI-EN-2026-000033")
        .replace(consented, unconsented);
    std::fs::write(&enrolments, format!("{documented}{refused}")).expect("write");
    let out = dev.send(&["programs", "enrol"], &enrolments, &[]);
    let summary = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{summary}{}", stderr(&out));
    assert_eq!(count(&summary, "stored"), 1, "{summary}");
    assert_eq!(count(&summary, "rejected"), 1, "{summary}");
    let rejected_file = dir.path().join("enrolments.jsonl.rejected.jsonl");
    let text = std::fs::read_to_string(&rejected_file).expect("rejected lines file");
    for nik in [consented, unconsented] {
        for shown in [&summary, &stderr(&out), &text] {
            assert!(!shown.contains(nik), "a NIK is never shown: {shown}");
        }
    }
    let entries = rejected_entries(&rejected_file);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["line"], 2);
    assert_eq!(entries[0]["record_id"], "KP2MI-EN-2026-000033");
    assert_eq!(entries[0]["record"]["nik"], "(withheld)");
    let violations = entries[0]["violations"].as_array().expect("violations");
    assert!(
        violations.iter().any(|v| v["field"] == "nik"),
        "{violations:?}"
    );
    let csv = dir.path().join("enrolments.csv");
    std::fs::write(&csv, example("Enrolments", "csv")).expect("write");
    let summary = ok(&dev.send(&["programs", "enrol"], &csv, &[]));
    assert_eq!(count(&summary, "stored"), 1, "{summary}");

    // Kemendag reads the outcomes, per program and per province of origin.
    let out = dev.run(&["programs", "outcomes"], &[]);
    let table = ok(&out);
    assert!(table.starts_with("PROGRAM"), "{table}");
    assert!(table.contains("DBE-2026-JATIM-01"), "{table}");
    assert!(table.contains("counts under "), "{table}");
    assert!(table.contains("workers are withheld (-)"), "{table}");
    assert!(table.contains("receipt: audit leaf"), "{table}");
    let out = dev.run(
        &[
            "programs",
            "outcomes",
            "--program",
            "DBE-2026-JATIM-01",
            "--by-province",
        ],
        &["--json"],
    );
    let answer: Value = serde_json::from_str(&ok(&out)).expect("json");
    let outcomes = answer["outcomes"].as_array().expect("outcomes");
    assert!(!outcomes.is_empty(), "{answer}");
    for outcome in outcomes {
        assert_eq!(outcome["program_id"], "DBE-2026-JATIM-01", "{answer}");
        assert_eq!(outcome["origin_province"], "35", "{answer}");
        assert_eq!(outcome["origin_province_name"], "Jawa Timur", "{answer}");
    }
    assert!(answer["suppression_threshold"].is_u64(), "{answer}");
    assert!(answer["receipt"]["leaf_index"].is_u64(), "{answer}");
}
