//! The placement exchange as its users meet it on the command line, against a real
//! `jembatan dev`: KP2MI pushes a JSON Lines and a CSV file (the examples of
//! docs/placements-file.md among them) and seeds synthetic data; Kemendag asks for counts and
//! candidates.

use std::path::Path;
use std::process::{Command, Output};

mod support;

use support::{BIN, Dev, ok, stderr, stdout};

impl Dev {
    /// Runs `placements push --file file`, then `more`.
    fn push(&self, file: &Path, more: &[&str]) -> Output {
        let file = file.to_str().expect("utf-8");
        self.run(&["placements", "push", "--file", file], more)
    }
}

/// The first fenced block of `language` in docs/placements-file.md.
fn doc_example(language: &str) -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/placements-file.md");
    let text = std::fs::read_to_string(doc).expect("docs/placements-file.md");
    let fence = format!("```{language}\n");
    let start = text.find(&fence).expect("an example") + fence.len();
    let end = start + text[start..].find("```").expect("the example's end");
    text[start..end].to_owned()
}

/// The count on the summary line `name` of `placements push`, e.g. `  stored     3`.
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

#[test]
fn placements_push_stores_a_jsonl_file_and_the_same_file_again_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);
    let file = dir.path().join("placements.jsonl");
    ok(&Command::new(BIN)
        .args(["demo", "seed", "--records", "4", "--seed", "7", "--out"])
        .arg(&file)
        .output()
        .expect("demo seed --out"));
    // The documented example, then the synthetic records, with a blank line between.
    let text = format!(
        "{}\n{}",
        doc_example("jsonl"),
        std::fs::read_to_string(&file).expect("read")
    );
    std::fs::write(&file, text).expect("write");

    let out = dev.push(&file, &[]);
    let summary = ok(&out);
    assert!(summary.contains("5 records in 1 batch"), "{summary}");
    assert_eq!(count(&summary, "stored"), 5, "{summary}");
    assert_eq!(count(&summary, "rejected"), 0, "{summary}");
    assert!(!dir.path().join("placements.jsonl.rejected.jsonl").exists());

    let out = dev.push(&file, &["--batch", "2", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json summary");
    assert_eq!(summary["records"], 5);
    assert_eq!(summary["unchanged"], 5);
    assert_eq!(summary["stored"], 0);
    assert_eq!(summary["batches"], 3);
    assert_eq!(summary["rejected_file"], serde_json::Value::Null);
}

#[test]
fn placements_push_of_a_csv_file_with_one_bad_line_writes_it_to_the_rejected_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);
    let example = doc_example("csv");
    let mut lines: Vec<String> = example.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "header and two rows");
    // Line 4: the second row again as another placement, its contract ending before it began.
    let bad = lines[2]
        .replacen("KP2MI-2023-004567", "KP2MI-2023-004568", 1)
        .replacen("2025-05-31", "2023-05-01", 1);
    lines.push(bad);
    let file = dir.path().join("placements.csv");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");

    let out = dev.push(&file, &[]);
    let summary = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{summary}{}", stderr(&out));
    assert!(summary.contains("3 records"), "{summary}");
    assert_eq!(count(&summary, "stored"), 2, "{summary}");
    assert_eq!(count(&summary, "rejected"), 1, "{summary}");
    assert!(
        summary.contains("placements.csv.rejected.jsonl"),
        "{summary}"
    );

    let rejected = std::fs::read_to_string(dir.path().join("placements.csv.rejected.jsonl"))
        .expect("rejected lines file");
    let entries: Vec<serde_json::Value> = rejected
        .lines()
        .map(|line| serde_json::from_str(line).expect("a json line"))
        .collect();
    assert_eq!(entries.len(), 1, "{rejected}");
    let entry = &entries[0];
    assert_eq!(entry["line"], 4);
    assert_eq!(entry["record_id"], "KP2MI-2023-004568");
    assert_eq!(entry["record"]["contract_end"], "2023-05-01");
    let violations = entry["violations"].as_array().expect("violations");
    assert!(
        violations.iter().any(|v| v["field"] == "contract_end"),
        "{rejected}"
    );

    // A line that cannot be read is reported the same way, and never sent.
    std::fs::write(
        &file,
        format!(
            "{}\nKP2MI-X,1,,,,FEMAL\n",
            lines[0].split(',').take(6).collect::<Vec<_>>().join(",")
        ),
    )
    .expect("write");
    let out = dev.push(&file, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json summary");
    assert_eq!(summary["rejected"], 1);
    assert_eq!(summary["batches"], 0);
    let rejected = std::fs::read_to_string(dir.path().join("placements.csv.rejected.jsonl"))
        .expect("rejected lines file");
    let entry: serde_json::Value = serde_json::from_str(rejected.trim()).expect("json");
    assert_eq!(entry["line"], 2);
    assert_eq!(entry["violations"][0]["field"], "line");
    let reason = entry["violations"][0]["description"]
        .as_str()
        .expect("text");
    assert!(
        reason.starts_with("sex: ") && reason.contains("FEMAL"),
        "{reason}"
    );
}

#[test]
fn demo_seed_then_workforce_availability_and_candidates_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);
    let out = dev.run(&["demo", "seed", "--records", "2000", "--seed", "3"], &[]);
    let summary = ok(&out);
    assert!(summary.starts_with("seeded 2,000 records"), "{summary}");
    assert_eq!(count(&summary, "stored"), 2000, "{summary}");

    // Counts by province: Jawa Timur sends the most workers, far above the threshold.
    let out = dev.run(
        &["workforce", "availability", "--group-by", "province"],
        &["--json"],
    );
    let answer: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json");
    let cells = answer["cells"].as_array().expect("cells");
    let jatim = cells
        .iter()
        .find(|cell| cell["keys"]["province"] == "35")
        .expect("a cell for province 35");
    assert_eq!(jatim["names"]["province"], "Jawa Timur");
    assert!(jatim["count"].as_u64().expect("a count") > 300, "{jatim}");
    assert!(answer["receipt"]["leaf_index"].is_u64(), "{answer}");
    assert!(answer["perturbation"]["table"].is_string(), "{answer}");
    assert!(
        answer["change"].as_u64() >= Some(1999),
        "reflects the 2,000 leaves of the seed: {answer}"
    );
    let out = dev.run(
        &["workforce", "availability", "--group-by", "province"],
        &[],
    );
    let table = ok(&out);
    assert!(table.starts_with("PROVINCE"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("35 Jawa Timur")),
        "{table}"
    );
    assert!(
        table.contains("counts are perturbed by up to ±2"),
        "{table}"
    );
    assert!(table.contains("receipt: audit leaf"), "{table}");

    // Candidates: consented workers, a page at a time.
    let out = dev.run(
        &["workforce", "candidates", "--page-size", "20"],
        &["--json"],
    );
    let page: serde_json::Value = serde_json::from_str(&ok(&out)).expect("json page");
    let candidates = page["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 20, "{page}");
    assert!(candidates[0]["pseudonym"].as_str().expect("text").len() > 12);
    let token = page["next_page_token"].as_str().expect("token").to_owned();
    assert!(!token.is_empty(), "more than one page of candidates");
    let out = dev.run(
        &[
            "workforce",
            "candidates",
            "--page-size",
            "20",
            "--page-token",
            &token,
        ],
        &[],
    );
    let table = ok(&out);
    assert!(table.starts_with("PSEUDONYM"), "{table}");
    assert!(table.contains("20 candidates"), "{table}");
    assert!(table.contains("--page-token"), "{table}");

    // --all follows the pages to the end.
    let out = dev.run(
        &[
            "workforce",
            "candidates",
            "--province",
            "52",
            "--page-size",
            "25",
            "--all",
        ],
        &["--json"],
    );
    let pages: Vec<serde_json::Value> = ok(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json page"))
        .collect();
    assert!(pages.len() > 1, "{} pages", pages.len());
    assert_eq!(pages.last().expect("a page")["next_page_token"], "");
    for page in &pages {
        for candidate in page["candidates"].as_array().expect("candidates") {
            let regency = candidate["origin_regency_code"].as_str().expect("regency");
            assert!(regency.starts_with("52."), "{regency}");
        }
    }
}

/// KP2MI answers one worker's requests: their history, a withdrawal, an erasure. The NIK is
/// read from standard input, as the help advises.
#[test]
fn a_workers_history_withdrawal_and_erasure() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);
    let file = dir.path().join("one.jsonl");
    std::fs::write(&file, doc_example("jsonl")).expect("write");
    ok(&dev.push(&file, &[]));
    let record: serde_json::Value =
        serde_json::from_str(doc_example("jsonl").trim()).expect("example record");
    let nik = record["nik"].as_str().expect("nik").to_owned();

    let about = |command: &str, more: &[&str]| {
        let mut child = dev
            .command(&["placements", command, "--nik", "-"], more)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{nik}").expect("write the NIK");
        drop(stdin);
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(!text.contains(&nik), "the NIK is never printed: {text}");
        text
    };
    let history = about("history", &[]);
    assert!(
        history.contains("PlacementService/PushPlacements"),
        "{history}"
    );
    assert!(history.contains("agency/kp2mi/siskop2mi"), "{history}");

    let withdrawn = about("withdraw", &["--purpose", "BUSINESS_MATCHING"]);
    assert!(
        withdrawn.contains("consent changed on 1 placement(s); still consented: CAPACITY_BUILDING"),
        "{withdrawn}"
    );
    assert!(withdrawn.contains("receipt: audit leaf "), "{withdrawn}");

    let erased = about("erase", &["--request-ref", "PDP/2026/7"]);
    assert!(erased.contains("erased 1 placement(s)"), "{erased}");
    let history = about("history", &[]);
    assert!(
        history.contains("0 processing(s)"),
        "after erasure nothing links to the worker: {history}"
    );
}
