//! A real `jembatan dev` process for the command-line tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// The `jembatan` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_jembatan");

/// A running `jembatan dev` in its folder, on a port of its own; killed when dropped.
pub(crate) struct Dev {
    /// The process.
    pub(crate) child: Child,
    /// Where it serves, `https://127.0.0.1:<port>`.
    pub(crate) url: String,
    /// The dev folder.
    pub(crate) dir: PathBuf,
    /// Kept open: the server's later prints must not meet a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Dev {
    /// Makes or reuses the dev folder `dir` and serves it with `env` set, once it says where.
    pub(crate) fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "dev",
                "--dir",
                dir.to_str().expect("utf-8"),
                "--listen",
                "127.0.0.1:0",
            ])
            .env("JEMBATAN_SERVER_SHUTDOWN_GRACE_SECS", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn jembatan dev");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut url = None;
        let mut line = String::new();
        while url.is_none() && stdout.read_line(&mut line).expect("read stdout") > 0 {
            if let Some(at) = line.find("serving on ") {
                url = Some(line[at + "serving on ".len()..].trim().to_owned());
            }
            line.clear();
        }
        Self {
            child,
            url: url.expect("jembatan dev printed where it serves"),
            dir: dir.to_owned(),
            _stdout: stdout,
        }
    }
}

impl Dev {
    /// A client command against this exchange with `--dev`, then `more`.
    pub(crate) fn command(&self, command: &[&str], more: &[&str]) -> Command {
        let dir = self.dir.to_str().expect("utf-8");
        let mut line = Command::new(BIN);
        line.args(command)
            .args(["--dev", "--dir", dir, "--server", &self.url])
            .args(more);
        line
    }

    /// Runs a client command against this exchange with `--dev`, then `more`.
    pub(crate) fn run(&self, command: &[&str], more: &[&str]) -> Output {
        self.command(command, more).output().expect("run jembatan")
    }
}

/// What a command printed on standard output.
pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that a command succeeded and gives what it printed.
pub(crate) fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}{}", stdout(out), stderr(out));
    stdout(out)
}

/// What a command printed on standard error.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
