//! The Python examples for integrators (examples/python) against a real `jembatan dev`: stubs
//! generated from proto/ by grpcio-tools, KP2MI's script pushing a CSV file twice (the second
//! time every record comes back UNCHANGED, with receipts of its own), a receipt proved by
//! `jembatan audit prove`, Kemendag's script counting and listing what was pushed as the CLI
//! does, and the failures a partner meets printed with their gRPC status.
//!
//! The scripts run in a venv under the target folder, made once and made again when
//! examples/python/requirements.txt changes. Python 3 with venv and pip, and PyPI, are needed:
//! without them the test fails, saying so.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

use support::{BIN, Dev, ok, stderr, stdout};

/// The venv the scripts run in, kept between runs.
const VENV: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/python-examples-venv");

/// Records the test pushes: more than one batch of 16, more than one page of candidates.
const RECORDS: usize = 40;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/python")
}

/// The venv's Python with examples/python/requirements.txt installed: the venv is made again
/// when its copy of requirements.txt differs from the examples' (or it has none).
fn python() -> PathBuf {
    let venv = Path::new(VENV);
    let requirements = examples().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("examples/python/requirements.txt");
    let kept = venv.join("requirements.txt");
    let python = venv.join("bin/python");
    if python.is_file() && std::fs::read_to_string(&kept).ok().as_deref() == Some(&wanted) {
        return python;
    }
    let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let made = Command::new(&system)
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {system}: the Python examples need Python 3 with venv and pip (set \
                 PYTHON to choose one): {e}"
            )
        });
    assert!(
        made.status.success(),
        "`{system} -m venv` failed (is the venv module installed?): {}",
        stderr(&made)
    );
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .output()
        .expect("run pip");
    assert!(
        installed.status.success(),
        "pip install -r examples/python/requirements.txt failed (pip and PyPI are needed): {}{}",
        stdout(&installed),
        stderr(&installed)
    );
    std::fs::write(&kept, wanted).expect("keep requirements.txt in the venv");
    python
}

/// The examples as a partner runs them against `dev`, with the stubs in `stubs`.
struct Scripts<'a> {
    python: PathBuf,
    dev: &'a Dev,
    stubs: PathBuf,
    dir: &'a Path,
}

impl Scripts<'_> {
    /// Runs `script` with the dev folder, the exchange's URL and the stubs, then `more`.
    fn run(&self, script: &str, more: &[&str]) -> Output {
        Command::new(&self.python)
            .arg(examples().join(script))
            .arg("--dev-dir")
            .arg(&self.dev.dir)
            .args(["--server", &self.dev.url])
            .arg("--stubs")
            .arg(&self.stubs)
            .args(more)
            // Nothing in the repository's tree but what is git-ignored; not even __pycache__.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("JEMBATAN_STUBS")
            .current_dir(self.dir)
            .output()
            .expect("run python")
    }
}

/// The count on the summary line `name` of push_placements.py, e.g. `  stored   40`.
fn count(summary: &str, name: &str) -> usize {
    summary
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(name)).then(|| words.next()?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {name} line in: {summary}"))
}

/// The receipts file's entries.
fn receipts(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("receipts file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// The placement ids of a CSV file made by `demo seed`, in file order.
fn placement_ids(csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(csv).expect("csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let column = header
        .iter()
        .position(|name| *name == "placement_id")
        .expect("a placement_id column");
    lines
        .map(|line| line.split(',').nth(column).expect("an id").to_owned())
        .collect()
}

#[test]
fn the_python_examples_push_a_csv_file_twice_and_query_what_was_pushed() {
    let python = python();
    let dir = tempfile::tempdir().expect("tempdir");
    let stubs = dir.path().join("stubs");
    let generated = Command::new(&python)
        .arg(examples().join("gen_stubs.py"))
        .arg("--out")
        .arg(&stubs)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run gen_stubs.py");
    ok(&generated);
    assert!(stubs.join("jembatan/v1/placement_pb2_grpc.py").is_file());

    let dev = Dev::start(
        &dir.path().join("exchange"),
        &[("JEMBATAN_AUDIT_CHECKPOINT_INTERVAL_MS", "50")],
    );
    let scripts = Scripts {
        python,
        dev: &dev,
        stubs,
        dir: dir.path(),
    };
    let csv = dir.path().join("placements.csv");
    ok(&Command::new(BIN)
        .args([
            "demo",
            "seed",
            "--records",
            &RECORDS.to_string(),
            "--seed",
            "5",
        ])
        .arg("--out")
        .arg(&csv)
        .output()
        .expect("demo seed --out"));
    let ids = placement_ids(&csv);
    assert_eq!(ids.len(), RECORDS);
    let csv_arg = csv.to_str().expect("utf-8");
    let receipts_file = dir.path().join("receipts.jsonl");
    let receipts_arg = receipts_file.to_str().expect("utf-8");
    let push = [
        "--file",
        csv_arg,
        "--receipts",
        receipts_arg,
        "--batch",
        "16",
    ];

    // The first push stores every record, in three batches, and keeps each one's receipt.
    let summary = ok(&scripts.run("push_placements.py", &push));
    assert!(summary.contains("40 records in 3 batch(es)"), "{summary}");
    assert_eq!(count(&summary, "stored"), RECORDS, "{summary}");
    assert_eq!(count(&summary, "rejected"), 0, "{summary}");
    let first = receipts(&receipts_file);
    assert_eq!(first.len(), RECORDS, "one receipt per record");
    let mut leaves = HashSet::new();
    for (i, entry) in first.iter().enumerate() {
        assert_eq!(entry["outcome"], "STORED", "{entry}");
        assert_eq!(entry["record_id"], ids[i].as_str(), "{entry}");
        assert_eq!(
            entry["line"],
            i + 2,
            "line numbers count the header: {entry}"
        );
        let hash = entry["receipt"]["leaf_hash"].as_str().expect("a leaf hash");
        assert_eq!(hash.len(), 64, "{entry}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{entry}");
        let index = entry["receipt"]["leaf_index"]
            .as_u64()
            .expect("a leaf index");
        assert!(leaves.insert(index), "leaf {index} twice");
    }

    // The same file again, as a retry would send it: the same ids and versions, every record
    // UNCHANGED, each with a receipt of its own, appended after the first run's.
    let summary = ok(&scripts.run("push_placements.py", &push));
    assert_eq!(count(&summary, "unchanged"), RECORDS, "{summary}");
    assert_eq!(count(&summary, "stored"), 0, "{summary}");
    let all = receipts(&receipts_file);
    assert_eq!(all.len(), 2 * RECORDS, "the first run's receipts are kept");
    let last_stored = leaves.iter().max().copied().expect("leaves");
    for (i, entry) in all[RECORDS..].iter().enumerate() {
        assert_eq!(entry["outcome"], "UNCHANGED", "{entry}");
        assert_eq!(entry["record_id"], ids[i].as_str(), "{entry}");
        let index = entry["receipt"]["leaf_index"]
            .as_u64()
            .expect("a leaf index");
        assert!(index > last_stored, "a leaf of its own: {entry}");
    }

    // A kept receipt proves what crossed, as the README says.
    let receipt = &first[3]["receipt"];
    let index = receipt["leaf_index"].to_string();
    let hash = receipt["leaf_hash"].as_str().expect("hash");
    // Once a checkpoint covers it, which the sequencer signs every 50 ms here.
    let mut attempts = 0;
    let proved = loop {
        let out = dev.run(
            &["audit", "prove", &index, "--leaf-hash", hash],
            &["--as", "kp2mi"],
        );
        attempts += 1;
        if out.status.success() || attempts == 100 || !stderr(&out).contains("next checkpoint") {
            break ok(&out);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        proved.contains(&format!("proved: leaf {index} (hash {hash})")),
        "{proved}"
    );

    // Kemendag's script: the same counts and candidates as the CLI's, a page of 7 at a time.
    let query_receipts = dir.path().join("query.jsonl");
    let query = ok(&scripts.run(
        "query_workforce.py",
        &[
            "--group-by",
            "sex",
            "--page-size",
            "7",
            "--all",
            "--receipts",
            query_receipts.to_str().expect("utf-8"),
        ],
    ));
    let counts: serde_json::Value = serde_json::from_str(&ok(&dev.run(
        &["workforce", "availability", "--group-by", "sex"],
        &["--json"],
    )))
    .expect("json");
    let total = counts["total"].as_u64().expect("a total over the minimum");
    assert!(total.abs_diff(RECORDS as u64) <= 2, "{counts}");
    assert!(query.contains(&format!("workers: {total};")), "{query}");
    let cells = counts["cells"].as_array().expect("cells");
    assert!(!cells.is_empty(), "{counts}");
    for cell in cells {
        let row = format!(
            "{} {}",
            cell["keys"]["sex"].as_str().expect("sex"),
            cell["count"]
        );
        assert!(
            query
                .lines()
                .any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ") == row),
            "no row {row:?} in: {query}"
        );
    }
    let pages: Vec<serde_json::Value> = ok(&dev.run(
        &["workforce", "candidates", "--all", "--page-size", "1000"],
        &["--json"],
    ))
    .lines()
    .map(|line| serde_json::from_str(line).expect("a JSON page"))
    .collect();
    let pseudonyms: Vec<&str> = pages
        .iter()
        .flat_map(|page| page["candidates"].as_array().expect("candidates"))
        .map(|candidate| candidate["pseudonym"].as_str().expect("pseudonym"))
        .collect();
    assert!(
        pseudonyms.len() > 7,
        "more than one page: {}",
        pseudonyms.len()
    );
    let page_count = pseudonyms.len().div_ceil(7);
    assert!(
        query.contains(&format!(
            "{} candidates in {page_count} page(s)",
            pseudonyms.len()
        )),
        "{query}"
    );
    for pseudonym in &pseudonyms {
        let shown: String = pseudonym.chars().take(12).collect();
        assert!(
            query.lines().any(|line| line.starts_with(&shown)),
            "{shown} not listed: {query}"
        );
    }
    let kept = receipts(&query_receipts);
    assert_eq!(
        kept.len(),
        1 + pseudonyms.len(),
        "the count's and each candidate's"
    );
    assert_eq!(kept[0]["method"], "QueryAvailability");

    // One file for both: the documented CSV example pushed by the CLI, then by the script,
    // is the same records. Added to it, a record the exchange rejects (its contract ending
    // before it began) and a row the script cannot read (an unknown code), never sent.
    let doc = std::fs::read_to_string(examples().join("../../docs/placements-file.md"))
        .expect("docs/placements-file.md");
    let start = doc.find("```csv\n").expect("a csv example") + "```csv\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let example = dir.path().join("example.csv");
    std::fs::write(&example, &doc[start..end]).expect("write");
    let example_arg = example.to_str().expect("utf-8");
    ok(&dev.run(&["placements", "push", "--file", example_arg], &[]));
    let mut lines: Vec<String> = doc[start..end].lines().map(str::to_owned).collect();
    let returned = lines[2].clone();
    lines.push(
        returned
            .replacen("KP2MI-2023-004567", "KP2MI-2023-004568", 1)
            .replacen("2025-05-31", "2023-05-01", 1),
    );
    lines.push(
        returned
            .replacen("KP2MI-2023-004567", "KP2MI-2023-004569", 1)
            .replacen(",MALE,", ",MALO,", 1),
    );
    let mixed = dir.path().join("mixed.csv");
    std::fs::write(&mixed, lines.join("\n") + "\n").expect("write");
    let out = scripts.run(
        "push_placements.py",
        &[
            "--file",
            mixed.to_str().expect("utf-8"),
            "--receipts",
            receipts_arg,
        ],
    );
    let summary = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{summary}{}", stderr(&out));
    assert_eq!(count(&summary, "unchanged"), 2, "{summary}");
    assert_eq!(count(&summary, "rejected"), 2, "{summary}");
    let error = stderr(&out);
    assert!(
        error.contains("line 4 (KP2MI-2023-004568): rejected: contract_end: "),
        "{error}"
    );
    assert!(
        error.contains("line 5 (KP2MI-2023-004569): not sent: sex: unknown code 'MALO'"),
        "{error}"
    );
    assert_eq!(receipts(&receipts_file).len(), 2 * RECORDS + 2);

    // Failures: a purpose policy refuses, and an exchange that does not answer, after retries.
    let refused = scripts.run(
        "query_workforce.py",
        &["--candidates-legal-basis", "PUBLIC_TASK"],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let error = stderr(&refused);
    assert!(
        error.contains("error: ListCandidates (page 1) failed: PERMISSION_DENIED: "),
        "{error}"
    );
    let unreachable = scripts.run(
        "push_placements.py",
        &[
            "--server",
            "https://127.0.0.1:1",
            "--attempts",
            "2",
            "--file",
            example_arg,
        ],
    );
    assert_eq!(unreachable.status.code(), Some(1));
    let error = stderr(&unreachable);
    assert!(
        error.contains("UNAVAILABLE")
            && error.contains("attempt 1 of 2, retrying the same request"),
        "{error}"
    );
    assert!(error.contains("(after 2 attempts)"), "{error}");
}
