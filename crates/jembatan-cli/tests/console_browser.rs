//! The auditors' console (`jembatan console`) in a real browser: headless Chromium driven over
//! WebDriver against a real `jembatan dev` filled by `jembatan demo seed`. The overview shows
//! the log and its verification, in red when the database was tampered with; the entry filters,
//! paging, proofs and CSV export work; the activity page charts what was shared and switches
//! between English and Bahasa Indonesia; a worker's history is asked by a form, never in a URL;
//! the menu is reached with the keyboard. A screenshot of each page is written to
//! target/console-screenshots/ for people to look at.

mod support;
mod webdriver;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jembatan_audit::leaf::LeafEntry;
use jembatan_store::{Store, StoreLocation, StoreOptions};
use jembatan_tests::tamper::{Bind, leaf_row, tamper};
use serde_json::Value;
use support::{BIN, Dev, ok, stderr};
use webdriver::{Browser, Element, http, keys};

/// A running `jembatan console` against a dev exchange; killed when dropped.
struct Console {
    child: Child,
    /// Where it serves, `http://127.0.0.1:<port>`.
    url: String,
    /// The address it says to open, `<url>/<token>/`: every page lives under it.
    open: String,
    /// Where its standard output and error go.
    output: [PathBuf; 2],
}

impl Console {
    /// Starts the console on the dev exchange in `dir` serving at `server`, as the dev identity
    /// `identity` if given (else the auditor), once it says where it serves; its standard output
    /// and error go to files in `scratch`.
    fn start(dir: &Path, server: &str, identity: Option<&str>, scratch: &Path) -> Self {
        let name = format!("console-{}", identity.unwrap_or("auditor"));
        let output = [
            scratch.join(format!("{name}.stdout")),
            scratch.join(format!("{name}.stderr")),
        ];
        let mut command = Command::new(BIN);
        command.args(["console", "--dev", "--dir"]).arg(dir).args([
            "--server",
            server,
            "--listen",
            "127.0.0.1:0",
        ]);
        if let Some(identity) = identity {
            command.args(["--as", identity]);
        }
        let mut child = spawn_logged(&mut command, &output);
        let url = printed(&mut child, &output, "console on ");
        let open = printed(&mut child, &output, "open ");
        let open = open
            .split_whitespace()
            .next()
            .expect("an address to open")
            .to_owned();
        assert!(
            open.starts_with(&format!("{url}/"))
                && open.ends_with('/')
                && open.len() > url.len() + 2,
            "{open} is the console's address with its token"
        );
        Self {
            child,
            url,
            open,
            output,
        }
    }

    /// Opens the printed address in `browser`.
    fn let_in(&self, browser: &Browser) {
        browser.navigate(&self.open);
    }

    /// Everything the console printed so far.
    fn printed(&self) -> String {
        self.output
            .iter()
            .map(|file| std::fs::read_to_string(file).unwrap_or_default())
            .collect()
    }

    /// The absolute URL of `path` on this console: an absolute URL as it is, a path starting
    /// with `/` under the console's token, any other (a page's relative link) under it too.
    fn at(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{}", self.open, path.trim_start_matches('/'))
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `jembatan dev` logging at the debug level, its standard output and error in files, so
/// that a test can search everything it printed; killed when dropped.
struct LoggedDev {
    child: Child,
    /// Where it serves, `https://127.0.0.1:<port>`.
    url: String,
    /// The dev folder.
    dir: PathBuf,
    /// Where its standard output and error go.
    output: [PathBuf; 2],
}

impl LoggedDev {
    /// Makes the dev folder `scratch`/exchange and serves it, once it says where.
    fn start(scratch: &Path) -> Self {
        let dir = scratch.join("exchange");
        let output = [scratch.join("dev.stdout"), scratch.join("dev.stderr")];
        let mut command = Command::new(BIN);
        command
            .args(["dev", "--dir"])
            .arg(&dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("JEMBATAN_SERVER_SHUTDOWN_GRACE_SECS", "1")
            .env("JEMBATAN_LOG_LEVEL", "debug");
        let mut child = spawn_logged(&mut command, &output);
        let url = printed(&mut child, &output, "serving on ");
        Self {
            child,
            url,
            dir,
            output,
        }
    }

    /// Runs a client command against this exchange with `--dev`, then `more`.
    fn run(&self, command: &[&str], more: &[&str]) -> Output {
        Command::new(BIN)
            .args(command)
            .args(["--dev", "--dir"])
            .arg(&self.dir)
            .args(["--server", &self.url])
            .args(more)
            .output()
            .expect("run jembatan")
    }

    /// Everything the exchange printed so far.
    fn printed(&self) -> String {
        self.output
            .iter()
            .map(|file| std::fs::read_to_string(file).unwrap_or_default())
            .collect()
    }
}

impl Drop for LoggedDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` with its standard output and error written to the files `output`.
fn spawn_logged(command: &mut Command, output: &[PathBuf; 2]) -> Child {
    let file = |path: &PathBuf| {
        std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    command
        .stdin(Stdio::null())
        .stdout(file(&output[0]))
        .stderr(file(&output[1]))
        .spawn()
        .expect("spawn jembatan")
}

/// What follows `marker` on the line of standard output (`output[0]`) that has it, once the
/// process prints it; panics with its standard error if it exits first or takes 60 s.
fn printed(child: &mut Child, output: &[PathBuf; 2], marker: &str) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&output[0]).unwrap_or_default();
        // Whole lines only: the process may be writing the last one.
        let whole = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        let rest = whole
            .lines()
            .find_map(|line| Some(&line[line.find(marker)? + marker.len()..]));
        if let Some(rest) = rest {
            return rest.trim().to_owned();
        }
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "jembatan did not print `{marker}…` ({exited:?}); its stderr: {}",
                std::fs::read_to_string(&output[1]).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes a screenshot of the page shown to target/console-screenshots/`name`.
fn screenshot(browser: &Browser, name: &str) {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder above CARGO_TARGET_TMPDIR");
    browser.screenshot(&target.join("console-screenshots").join(name));
}

/// A dev exchange in `scratch`, seeded with `records` demo placements (and the reports,
/// programs and enrolments that come with them) from `seed`.
fn seeded_dev(scratch: &Path, records: u64, seed: u64) -> Dev {
    let dev = Dev::start(&scratch.join("exchange"), &[]);
    let (records, seed) = (records.to_string(), seed.to_string());
    ok(&dev.run(
        &["demo", "seed", "--records", &records, "--seed", &seed],
        &[],
    ));
    dev
}

/// The NIK of the first demo worker of `seed` (the same seed gives the same records on the
/// same day), from the file `demo seed --out` writes: `scratch`/demo-`seed`.jsonl.
fn first_demo_nik(scratch: &Path, seed: u64) -> String {
    let file = scratch.join(format!("demo-{seed}.jsonl"));
    ok(&Command::new(BIN)
        .args([
            "demo",
            "seed",
            "--records",
            "1",
            "--seed",
            &seed.to_string(),
        ])
        .arg("--out")
        .arg(&file)
        .output()
        .expect("demo seed --out"));
    let text = std::fs::read_to_string(&file).expect("the demo file");
    let first: Value =
        serde_json::from_str(text.lines().next().expect("a record")).expect("a JSON record");
    let nik = first["nik"].as_str().expect("a nik").to_owned();
    assert_eq!(nik.len(), 16, "a NIK of 16 digits");
    nik
}

/// Waits until a signed checkpoint covers every leaf logged so far (the sequencer signs a
/// little after the writes), so that a console started now verifies all of them.
fn wait_for_checkpoint(dev: &Dev) {
    let last = ok(&dev.run(&["audit", "tail"], &["-n", "1", "--json"]));
    let last: Value = serde_json::from_str(last.trim()).expect("the last entry, JSON");
    let last = last["index"].as_u64().expect("an index");
    wait_until(
        &format!("a signed checkpoint covers leaf {last}"),
        Duration::from_secs(30),
        || checkpoint(dev, None)["size"].as_u64() > Some(last),
    );
}

/// Makes a call the policies refuse (an auditor asking for a worker's history), logged with
/// the decision deny.
fn refused_call(dev: &Dev, nik: &str) {
    let out = dev.run(
        &["placements", "history"],
        &["--as", "auditor", "--nik", nik],
    );
    assert!(!out.status.success(), "an auditor may not read a history");
}

/// The latest signed checkpoint, or the one of `size`, as `audit checkpoint --json` gives it.
fn checkpoint(dev: &Dev, size: Option<u64>) -> Value {
    let size = size.map(|s| s.to_string());
    let mut more = vec!["--json"];
    if let Some(size) = &size {
        more.extend(["--size", size]);
    }
    serde_json::from_str(&ok(&dev.run(&["audit", "checkpoint"], &more))).expect("JSON checkpoint")
}

/// The entries `audit list --json` gives with `filters`, oldest first.
fn listed(dev: &Dev, filters: &[&str]) -> Vec<Value> {
    let mut more = vec!["--json", "--limit", "1000000"];
    more.extend(filters);
    ok(&dev.run(&["audit", "list"], &more))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON entry"))
        .collect()
}

/// The leaf indexes of `entries`.
fn indexes(entries: &[Value]) -> BTreeSet<u64> {
    entries
        .iter()
        .map(|e| e["index"].as_u64().expect("an index"))
        .collect()
}

/// Polls `check` every 200 ms until it holds, for at most `timeout`; panics saying `what`.
fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "not within {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits up to 20 s for an element matching `css` on the page shown; panics with the page's
/// URL and text if none comes.
fn wait_for(browser: &Browser, css: &str) {
    let start = Instant::now();
    while browser.find_all(css).is_empty() {
        if start.elapsed() > Duration::from_secs(20) {
            let body = browser.text(&browser.find("body"));
            panic!("no {css} within 20 s on {}: {body}", browser.current_url());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The classes of an element.
fn classes(browser: &Browser, el: &Element) -> Vec<String> {
    browser
        .attribute(el, "class")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The integer in the `data-value` of the element `css`.
fn data_value(browser: &Browser, css: &str) -> u64 {
    let el = browser.find(css);
    let value = browser.attribute(&el, "data-value");
    value
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{css} has data-value {value:?}, not raw digits"))
}

/// Red, green and blue of a computed CSS color, `rgb(r, g, b)` or `rgba(r, g, b, a)`.
fn rgb(color: &str) -> [f64; 3] {
    let inner = color
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("a computed rgb() color, not {color:?}"));
    let parts: Vec<f64> = inner
        .split(',')
        .map(|p| p.trim().parse().expect("a color component"))
        .collect();
    [parts[0], parts[1], parts[2]]
}

/// Reloads the overview every 500 ms, for at most 60 s, until `#verification` is no longer
/// `verifying`; gives its classes and text.
fn verification(browser: &Browser, console: &Console) -> (Vec<String>, String) {
    let start = Instant::now();
    loop {
        browser.navigate(&console.at("/"));
        let el = browser.find("#verification");
        let (class, text) = (classes(browser, &el), browser.text(&el));
        if !class.iter().any(|c| c == "verifying") {
            assert!(
                class.iter().any(|c| c == "verified" || c == "failed"),
                "#verification is verifying, verified or failed, not {class:?}: {text}"
            );
            return (class, text);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still verifying after 60 s: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The `data-index` of every `tr.entry` of the entries page shown.
fn entry_rows(browser: &Browser) -> Vec<u64> {
    browser
        .find_all("#entries tr.entry")
        .iter()
        .map(|row| {
            let index = browser.attribute(row, "data-index");
            index
                .as_deref()
                .and_then(|i| i.parse().ok())
                .unwrap_or_else(|| panic!("tr.entry with data-index {index:?}"))
        })
        .collect()
}

/// The `lang` of the page's `<html>`.
fn html_lang(browser: &Browser) -> String {
    browser
        .attribute(&browser.find("html"), "lang")
        .unwrap_or_default()
}

/// Follows the `a#export-csv` link of the page shown over plain HTTP: it answers CSV, a header
/// and at least one row; gives its link.
fn check_csv_export(browser: &Browser, console: &Console) -> String {
    let href = browser
        .attribute(&browser.find("a#export-csv"), "href")
        .expect("a#export-csv has an href");
    let answer = http("GET", &console.at(&href), &[], None).expect("GET the CSV export");
    assert_eq!(answer.status, 200, "{href}");
    let content_type = answer.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/csv"),
        "{href}: {content_type}"
    );
    let body = String::from_utf8_lossy(&answer.body);
    assert!(
        body.lines().count() >= 2,
        "{href}: a header and rows: {body}"
    );
    href
}

#[test]
fn overview_shows_a_verified_log() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = seeded_dev(scratch.path(), 300, 11);
    wait_for_checkpoint(&dev);
    let console = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let browser = Browser::start();
    console.let_in(&browser);

    let (class, text) = verification(&browser, &console);
    assert!(class.iter().any(|c| c == "verified"), "{class:?}: {text}");
    // "… recomputed the root the log signed for its 2,185 leaves …"
    let words: Vec<&str> = text.split_whitespace().collect();
    let verified: u64 = words
        .windows(2)
        .find(|pair| pair[1].starts_with("leaves"))
        .and_then(|pair| pair[0].replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("the number of leaves verified in {text:?}"));
    assert!(verified >= 300, "every leaf seeded verified: {text}");
    let log_size = data_value(&browser, "#log-size");
    assert!(
        log_size >= 300,
        "a leaf per record pushed at least: {log_size}"
    );
    let shown = browser.text(&browser.find("#log-size"));
    let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
    assert!(
        digits.contains(&log_size.to_string()),
        "#log-size text {shown:?} shows {log_size}"
    );

    // The checkpoint shown is one the log signed, with the root the log signed for its size.
    let size = data_value(&browser, "#checkpoint-size");
    assert!(size > 0 && size <= log_size, "checkpoint of {size} leaves");
    let root = browser.text(&browser.find("#checkpoint-root"));
    let signed = checkpoint(&dev, Some(size));
    assert_eq!(signed["size"], size, "{signed}");
    assert_eq!(
        root.trim().to_ascii_lowercase(),
        signed["root"].as_str().expect("a root"),
        "#checkpoint-root"
    );
    let latest = checkpoint(&dev, None)["size"].as_u64().expect("a size");
    assert!(size <= latest, "shown {size}, latest signed {latest}");
    assert!(!browser.text(&browser.find("#checkpoint-age")).is_empty());
    browser.find("form#verify-again");

    // The dev exchange registers a witness key of each agency.
    let mut witnesses = BTreeSet::new();
    for row in browser.find_all("#witnesses tr[data-witness]") {
        let class = classes(&browser, &row);
        assert!(
            class.iter().any(|c| c == "cosigned" || c == "stale"),
            "witness row class {class:?}"
        );
        // Named by their keys' names, e.g. kemendag.dev.jembatan.local/witness.
        let name = browser.attribute(&row, "data-witness").unwrap_or_default();
        witnesses.insert(name.split('.').next().unwrap_or_default().to_owned());
    }
    assert_eq!(
        witnesses,
        BTreeSet::from(["kemendag".to_owned(), "kp2mi".to_owned()]),
        "#witnesses"
    );
    screenshot(&browser, "overview.png");
}

#[test]
fn tampered_log_shows_failure_in_red() {
    const LEAF: i64 = 123;
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = seeded_dev(scratch.path(), 300, 12);
    wait_for_checkpoint(&dev);

    // An operator with access to the database rewrites the purpose stated in one leaf.
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let url = format!("sqlite://{}", dev.dir.join("jembatan.db").display());
        let location = StoreLocation::parse(&url).expect("the dev database");
        let store = Store::open(&location, StoreOptions::default())
            .await
            .expect("open the dev database");
        let (data, _) = leaf_row(&store, LEAF).await;
        let mut changed = LeafEntry::parse(&data).expect("a leaf");
        changed.purpose = if changed.purpose == "STATISTICS" {
            "AUDIT".into()
        } else {
            "STATISTICS".into()
        };
        let sql = format!("UPDATE audit_leaves SET data = $1 WHERE leaf_index = {LEAF}");
        tamper(&store, &[(&sql, vec![Bind::Bytes(changed.to_bytes())])]).await;
    });

    let console = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let browser = Browser::start();
    console.let_in(&browser);
    let (class, text) = verification(&browser, &console);
    assert!(class.iter().any(|c| c == "failed"), "{class:?}: {text}");
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    assert!(
        words.contains(&LEAF.to_string().as_str()),
        "the failure names leaf {LEAF}: {text}"
    );
    let el = browser.find("#verification");
    let color = browser.css_value(&el, "color");
    let [r, g, b] = rgb(&color);
    assert!(r > 150.0 && g < 80.0 && b < 80.0, "red text, not {color}");
    let background = browser.css_value(&el, "background-color");
    let [r, g, b] = rgb(&background);
    assert!(
        r >= 200.0 && r > g && r > b,
        "a light red background, not {background}"
    );
    screenshot(&browser, "overview-tampered.png");
}

#[test]
fn entry_filters_work() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = seeded_dev(scratch.path(), 300, 13);
    let nik = first_demo_nik(scratch.path(), 13);
    refused_call(&dev, &nik);
    wait_for_checkpoint(&dev);
    let console = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let browser = Browser::start();
    console.let_in(&browser);

    // Record type placement, typed and submitted with Enter.
    browser.navigate(&console.at("/entries"));
    let record_type = browser.find("form#entry-filters [name=record_type]");
    browser.send_keys(&record_type, &format!("placement{}", keys::ENTER));
    wait_until("the filter in the URL", Duration::from_secs(10), || {
        browser.current_url().contains("record_type=placement")
    });
    let placements = indexes(&listed(&dev, &["--record-type", "placement"]));
    assert!(
        placements.len() >= 300,
        "{} placement leaves",
        placements.len()
    );
    let first = entry_rows(&browser);
    assert!(!first.is_empty(), "placement entries shown");
    for index in &first {
        assert!(
            placements.contains(index),
            "entry {index} is not a placement"
        );
    }
    let kept = browser.find("form#entry-filters [name=record_type]");
    assert_eq!(
        browser.attribute(&kept, "value").as_deref(),
        Some("placement"),
        "the form keeps the filter"
    );
    screenshot(&browser, "entries.png");
    check_csv_export(&browser, &console);

    // The next page: more placements, none of the first page's.
    assert!(
        first.len() < placements.len(),
        "300 placements fill more than a page: {} shown",
        first.len()
    );
    browser.click(&browser.find("a#next-page"));
    wait_until("the next page", Duration::from_secs(10), || {
        browser.current_url().contains("page=")
    });
    assert!(browser.current_url().contains("record_type=placement"));
    let second = entry_rows(&browser);
    assert!(!second.is_empty(), "a second page of placements");
    for index in &second {
        assert!(
            placements.contains(index),
            "entry {index} is not a placement"
        );
        assert!(!first.contains(index), "entry {index} on both pages");
    }

    // Decision deny, chosen in the select, submitted with Enter from a text field.
    browser.navigate(&console.at("/entries"));
    browser.click(&browser.find("form#entry-filters select[name=decision] option[value=deny]"));
    let agency = browser.find("form#entry-filters [name=agency]");
    browser.send_keys(&agency, keys::ENTER);
    wait_until("the decision in the URL", Duration::from_secs(10), || {
        browser.current_url().contains("decision=deny")
    });
    let denied = listed(&dev, &["--decision", "deny"]);
    let denied_indexes = indexes(&denied);
    let rows = entry_rows(&browser);
    assert!(!rows.is_empty(), "the refused call is shown");
    for index in &rows {
        assert!(
            denied_indexes.contains(index),
            "entry {index} was not denied"
        );
    }
    check_csv_export(&browser, &console);

    // One entry, with its inclusion proof checked against the signed checkpoint.
    let index = rows[0];
    let method = denied
        .iter()
        .find(|e| e["index"] == index)
        .and_then(|e| e["leaf"]["method"].as_str())
        .expect("the method of the denied entry")
        .to_owned();
    browser.click(&browser.find(&format!("tr.entry[data-index=\"{index}\"] a.prove")));
    wait_until("the entry's page", Duration::from_secs(10), || {
        browser
            .current_url()
            .ends_with(&format!("/entries/{index}"))
    });
    let fields = browser.text(&browser.find("dl#entry"));
    let short = method.rsplit('/').next().unwrap_or(&method);
    assert!(fields.contains(short), "{method} in: {fields}");
    let proof = browser.find("#proof");
    assert!(
        classes(&browser, &proof).iter().any(|c| c == "verified"),
        "#proof verified: {}",
        browser.text(&proof)
    );
    screenshot(&browser, "entry.png");
}

#[test]
fn activity_and_language() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = seeded_dev(scratch.path(), 300, 14);
    // Kemendag receives candidates; an auditor is refused a history.
    ok(&dev.run(&["workforce", "candidates"], &[]));
    refused_call(&dev, &first_demo_nik(scratch.path(), 14));
    wait_for_checkpoint(&dev);
    let console = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let browser = Browser::start();
    console.let_in(&browser);

    browser.navigate(&console.at("/activity"));
    browser.find("form#activity-filters [name=from]");
    browser.find("form#activity-filters [name=to]");
    assert!(
        !browser.find_all("svg#shared-chart rect").is_empty(),
        "a bar in the chart of records shared"
    );
    assert!(!browser.find_all("#shared-table tr.row").is_empty());
    browser.find("svg#refusals-chart");
    assert!(
        !browser.find_all("#refusals-table tr.row").is_empty(),
        "the refused call counted"
    );
    check_csv_export(&browser, &console);
    assert_eq!(html_lang(&browser), "en", "English for an en-US browser");
    let english = browser.text(&browser.find("nav#menu"));
    screenshot(&browser, "activity.png");

    browser.click(&browser.find("a#lang-switch"));
    wait_until("Bahasa Indonesia", Duration::from_secs(10), || {
        html_lang(&browser) == "id"
    });
    assert!(
        browser.current_url().contains("/activity"),
        "back on the page it came from: {}",
        browser.current_url()
    );
    let indonesian = browser.text(&browser.find("nav#menu"));
    assert_ne!(english, indonesian, "the menu in Bahasa Indonesia");
    screenshot(&browser, "activity-id.png");

    // The choice is kept for the next pages, and can be undone.
    browser.navigate(&console.at("/entries"));
    assert_eq!(html_lang(&browser), "id");
    browser.click(&browser.find("a#lang-switch"));
    wait_until("English again", Duration::from_secs(10), || {
        html_lang(&browser) == "en"
    });
    assert_eq!(browser.text(&browser.find("nav#menu")), english);
}

#[test]
fn worker_history_by_form() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = LoggedDev::start(scratch.path());
    // KP2MI pushes a record of its own: the worker's NIK is known.
    let nik = first_demo_nik(scratch.path(), 21);
    let file = scratch.path().join("demo-21.jsonl");
    let pushed = dev.run(
        &[
            "placements",
            "push",
            "--file",
            file.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let kp2mi = Console::start(&dev.dir, &dev.url, Some("kp2mi"), scratch.path());
    let auditor = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let browser = Browser::start();
    kp2mi.let_in(&browser);
    auditor.let_in(&browser);

    let ask = |console: &Console| {
        browser.navigate(&console.at("/history"));
        let form = browser.find("form#history-form");
        assert_eq!(
            browser
                .attribute(&form, "method")
                .map(|m| m.to_ascii_lowercase()),
            Some("post".to_owned()),
            "the NIK is posted, not put in a URL"
        );
        browser.send_keys(&browser.find("form#history-form input[name=nik]"), &nik);
        browser.click(&browser.find("form#history-form button[type=submit]:not([name=format])"));
        wait_for(&browser, "table#accesses, #no-accesses, #error");
    };

    ask(&kp2mi);
    let rows = browser.find_all("table#accesses tr.access");
    assert!(!rows.is_empty(), "the worker's accesses");
    let table = browser.text(&browser.find("table#accesses"));
    assert!(table.contains("PushPlacements"), "KP2MI's push: {table}");
    let url = browser.current_url();
    assert!(url.ends_with("/history"), "{url}");
    assert!(!url.contains(&nik), "no NIK in the URL {url}");
    screenshot(&browser, "history.png");

    // The answer is not kept by caches; the CSV button gives CSV.
    for (form, content_type) in [
        (format!("nik={nik}"), "text/html"),
        (format!("nik={nik}&format=csv"), "text/csv"),
    ] {
        let answer = http(
            "POST",
            &kp2mi.at("/history"),
            &[],
            Some(("application/x-www-form-urlencoded", form.as_bytes())),
        )
        .expect("POST /history");
        assert_eq!(answer.status, 200, "{form}");
        let sent = answer.header("content-type").unwrap_or_default();
        assert!(sent.starts_with(content_type), "{form}: {sent}");
        let cache = answer.header("cache-control").unwrap_or_default();
        assert!(cache.contains("no-store"), "{form}: Cache-Control {cache}");
    }

    // The auditor may not ask.
    ask(&auditor);
    let error = browser.find("p.error#error");
    assert!(!browser.text(&error).is_empty());
    assert!(browser.find_all("table#accesses tr.access").is_empty());
    assert!(!browser.current_url().contains(&nik));

    // Neither console nor the exchange (logging at the debug level) printed the NIK.
    for (who, printed) in [
        ("the kp2mi console", kp2mi.printed()),
        ("the auditor's console", auditor.printed()),
        ("the exchange", dev.printed()),
    ] {
        assert!(!printed.contains(&nik), "{who} printed the NIK: {printed}");
    }
    assert!(
        dev.printed().contains("DEBUG"),
        "the exchange logged at the debug level"
    );
}

#[test]
fn guard_refuses_foreign_hosts_and_cross_site_posts() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&scratch.path().join("exchange"), &[]);
    let console = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let port = console.url.rsplit(':').next().expect("a port");
    let form = Some(("application/x-www-form-urlencoded", &b""[..]));
    let ask = |method: &str, path: &str, headers: &[(&str, &str)]| {
        let body = if method == "POST" { form } else { None };
        let answer = http(method, &console.at(path), headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        // Every answer, a refusal too, forbids other pages to frame it or run anything in it.
        let policy = answer.header("content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("default-src 'none'"),
            "{method} {path} {headers:?}: Content-Security-Policy {policy:?}"
        );
        let frames = answer.header("x-frame-options").unwrap_or_default();
        assert!(
            frames.eq_ignore_ascii_case("DENY"),
            "{method} {path} {headers:?}: X-Frame-Options {frames:?}"
        );
        answer
    };

    for path in ["/", "/activity", "/entries", "/history"] {
        assert_eq!(ask("GET", path, &[]).status, 200, "GET {path}");
    }
    let evil_host = format!("evil.example:{port}");
    assert_eq!(
        ask("GET", "/", &[("Host", &evil_host)]).status,
        421,
        "a foreign Host (DNS rebinding)"
    );
    let own = console.url.as_str();
    let evil = "https://evil.example";
    for (headers, status) in [
        (vec![("Origin", evil)], 403),
        (vec![("Origin", own), ("Sec-Fetch-Site", "cross-site")], 403),
        (vec![("Origin", own), ("Sec-Fetch-Site", "same-site")], 403),
        (
            vec![("Origin", own), ("Sec-Fetch-Site", "same-origin")],
            303,
        ),
        (vec![("Origin", own)], 303),
    ] {
        let answer = ask("POST", "/verify", &headers);
        assert_eq!(answer.status, status, "POST /verify {headers:?}");
    }
    assert_eq!(
        ask("GET", "/entries", &[("Sec-Fetch-Site", "cross-site")]).status,
        403,
        "a cross-site GET"
    );

    // The language switch goes back to a page of the console only.
    for referer in ["http://evil.example//x", "http://evil.example/entries"] {
        let answer = ask("GET", "/lang/id", &[("Referer", referer)]);
        assert_eq!(answer.status, 303, "{referer}");
        let back = answer.header("location").unwrap_or_default();
        assert!(
            back.starts_with('/') && !back.starts_with("//"),
            "{referer}: Location {back:?}"
        );
        let cookie = answer.header("set-cookie").unwrap_or_default();
        assert!(cookie.starts_with("lang=id"), "{cookie}");
    }
}

#[test]
fn keyboard() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dev = seeded_dev(scratch.path(), 30, 15);
    wait_for_checkpoint(&dev);
    let console = Console::start(&dev.dir, &dev.url, None, scratch.path());
    let browser = Browser::start();
    console.let_in(&browser);
    browser.navigate(&console.at("/"));

    // Tab goes first to a skip link or the menu, then through the menu in order.
    let mut focused = Vec::new();
    while focused.last().map(String::as_str) != Some("nav-entries") {
        assert!(
            focused.len() < 10,
            "a#nav-entries within 10 Tabs: {focused:?}"
        );
        browser.press(keys::TAB);
        let active = browser.active();
        let id = browser.attribute(&active, "id").unwrap_or_default();
        if focused.is_empty() && id != "nav-overview" {
            let href = browser.attribute(&active, "href").unwrap_or_default();
            assert!(
                href.contains('#'),
                "the first Tab reaches a skip link or a#nav-overview, not {id:?} {href:?}"
            );
        }
        focused.push(id);
    }
    let menu: Vec<&str> = focused
        .iter()
        .map(String::as_str)
        .filter(|id| id.starts_with("nav-"))
        .collect();
    assert_eq!(
        menu,
        ["nav-overview", "nav-activity", "nav-entries"],
        "{focused:?}"
    );
    let link = browser.active();
    let outline = browser.css_value(&link, "outline-style");
    assert_ne!(outline, "none", "the focused link shows its focus");

    browser.press(keys::ENTER);
    wait_until("the entries page", Duration::from_secs(10), || {
        browser.current_url().ends_with("/entries")
    });
    browser.find("form#entry-filters");
    browser.find("table#entries");
}
