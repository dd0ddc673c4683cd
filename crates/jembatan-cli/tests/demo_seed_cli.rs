//! `jembatan demo seed` beyond the placements, against a real `jembatan dev`: market reports,
//! export programs (as Kemendag) and enrolments of consenting workers, all stored; seeding
//! again changes nothing; without Kemendag's identity the seed stops before it sends anything.

mod support;

use support::{Dev, ok, stderr, stdout};

/// The first line of `summary` starting with `heading`, and the counts below it: stored,
/// unchanged, stale, rejected.
fn section(summary: &str, heading: &str) -> (String, [u64; 4]) {
    let mut lines = summary.lines().skip_while(|l| !l.starts_with(heading));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {heading:?} line in: {summary}"))
        .to_owned();
    let mut counts = [0; 4];
    for (count, name) in counts
        .iter_mut()
        .zip(["stored", "unchanged", "stale", "rejected"])
    {
        let line = lines.next().unwrap_or_default();
        let rest = line.trim_start().strip_prefix(name);
        *count = rest
            .and_then(|r| r.trim().replace(',', "").parse().ok())
            .unwrap_or_else(|| panic!("no {name} count under {heading:?} in: {summary}"));
    }
    (first, counts)
}

#[test]
fn demo_seed_stores_reports_programs_and_enrolments_and_seeding_again_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);
    let seed = ["demo", "seed", "--records", "1500", "--seed", "5"];
    let summary = ok(&dev.run(&seed, &[]));

    let (line, counts) = section(&summary, "seeded ");
    assert!(line.starts_with("seeded 1,500 records (seed 5)"), "{line}");
    assert_eq!(counts, [1500, 0, 0, 0], "{summary}");
    // One report per 50 placements.
    let (line, counts) = section(&summary, "submitted ");
    assert!(
        line.starts_with("submitted 30 market reports (seed 5)"),
        "{line}"
    );
    assert_eq!(counts, [30, 0, 0, 0], "{summary}");
    let (line, counts) = section(&summary, "published ");
    assert!(line.starts_with("published 36 programs (seed 5)"), "{line}");
    assert_eq!(counts, [36, 0, 0, 0], "{summary}");
    let (line, counts) = section(&summary, "recorded ");
    let enrolled = counts[0];
    assert!(enrolled >= 20, "{line}");
    assert!(
        line.starts_with(&format!("recorded {enrolled} enrolments (seed 5)")),
        "{line}"
    );
    assert_eq!(counts[1..], [0, 0, 0], "{summary}");
    // No NIK printed: no run of 16 digits anywhere.
    let digits = |text: &str| {
        text.split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0)
    };
    assert!(digits(&summary) < 16, "{summary}");

    let again = ok(&dev.run(&seed, &["--reports", "30"]));
    for (heading, n) in [
        ("seeded ", 1500),
        ("submitted ", 30),
        ("published ", 36),
        ("recorded ", enrolled),
    ] {
        assert_eq!(section(&again, heading).1, [0, n, 0, 0], "{again}");
    }

    // Only what is asked for.
    let none = ok(&dev.run(
        &["demo", "seed", "--records", "10", "--seed", "6"],
        &["--reports", "0", "--programs", "0"],
    ));
    assert!(!none.contains("submitted ") && !none.contains("published "));
    assert!(!none.contains("recorded "), "{none}");
}

#[test]
fn demo_seed_without_kemendag_identity_stops_before_sending_and_with_it_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("exchange"), &[]);
    let pki = dev.dir.join("pki");
    let file = |name: &str| pki.join(name).to_str().expect("utf-8").to_owned();
    let run = |more: &[String]| {
        std::process::Command::new(support::BIN)
            .args(["demo", "seed", "--records", "200", "--seed", "8"])
            .args(["--server", &dev.url, "--ca", &file("ca.pem")])
            .args([
                "--cert",
                &file("kp2mi.pem"),
                "--key",
                &file("kp2mi-key.pem"),
            ])
            .args(more)
            .output()
            .expect("run jembatan")
    };
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty(), "nothing sent: {}", stdout(&out));
    assert!(
        stderr(&out).contains("give --kemendag-cert and --kemendag-key"),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "--kemendag-cert".to_owned(),
        file("kemendag.pem"),
        "--kemendag-key".to_owned(),
        file("kemendag-key.pem"),
        "--programs".to_owned(),
        "5".to_owned(),
    ]);
    let summary = ok(&out);
    assert_eq!(section(&summary, "published ").1, [5, 0, 0, 0], "{summary}");
}
