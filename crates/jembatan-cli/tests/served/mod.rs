//! A `jembatan serve` process for the tests that kill it or outlive its database: started on
//! the config in a test PKI's folder, with JSON log lines and checkpoints every 20 ms.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use jembatan_tests::TestPki;

/// The `jembatan` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_jembatan");

/// A child process, killed when dropped, so that a failing test leaves none behind.
pub(crate) struct Killed(pub(crate) Child);

impl Killed {
    /// Kills the process (SIGKILL) and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `jembatan serve` on `jembatan.toml` in `pki`'s folder with `env` set; returns it and
/// its address once it says where it serves.
pub(crate) fn serve(pki: &TestPki, env: &[(&str, &str)]) -> (Killed, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(pki.dir.path().join("jembatan.toml"))
        .env("JEMBATAN_LOG_FORMAT", "json")
        .env("JEMBATAN_AUDIT_CHECKPOINT_INTERVAL_MS", "20")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jembatan serve");
    let stderr = child.stderr.take().expect("stderr");
    let server = Killed(child);
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("jembatan serve did not say where it serves:\n{seen}"))
            .expect("read stderr");
        seen.push_str(&line);
        seen.push('\n');
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["fields"]["message"] == "serving" {
            break event["fields"]["addr"].as_str().expect("addr").to_owned();
        }
    };
    // Keep draining, so that the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, addr)
}
