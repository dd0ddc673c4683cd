//! The servers under load, each in a process of its own so that its memory can be read and
//! its CPU is not the load generator's: the benchmark program starts itself again with a hidden
//! subcommand (`serve-exchange` or `serve-echo`). The child prints the address it listens on
//! and serves until its standard input closes, so it never outlives the benchmark.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use jembatan_server::{Config, Exchange};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::echo;

/// The line a child prints once it listens.
pub(crate) const LISTENING: &str = "listening on ";

/// Which server a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The exchange, bound and served as `jembatan serve` does (without its environment
    /// overrides; warnings and errors logged to standard error, but for sqlx's warnings).
    Exchange,
    /// The echo baseline behind the exchange's TLS acceptor.
    Echo,
    /// The echo baseline behind the acceptor and the exchange's limits layer.
    EchoLimited,
}

impl Kind {
    fn subcommand(self) -> &'static str {
        match self {
            Kind::Exchange => "serve-exchange",
            Kind::Echo => "serve-echo",
            Kind::EchoLimited => "serve-echo-limited",
        }
    }
}

/// Memory of a child, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// Resident set now, bytes.
    pub(crate) rss: u64,
    /// The highest resident set so far, bytes.
    pub(crate) peak: u64,
}

/// A running server process.
pub(crate) struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

impl Server {
    /// Starts `kind` with the config file at `config` and waits until it listens.
    pub(crate) async fn start(kind: Kind, config: &Path) -> anyhow::Result<Self> {
        let program = std::env::current_exe().context("the benchmark program's own path")?;
        let mut child = Command::new(program)
            .arg(kind.subcommand())
            .arg("--config")
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a server process")?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .context("the server's standard output")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next_line().await? {
                Some(line) => {
                    if let Some(addr) = line.strip_prefix(LISTENING) {
                        break addr.parse().context("the server's address")?;
                    }
                }
                None => bail!("the {} process ended before listening", kind.subcommand()),
            }
        };
        // Whatever the child prints later is passed on, so that its output never blocks it.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("  [server] {line}");
            }
        });
        Ok(Self { child, stdin, addr })
    }

    /// The server's URL.
    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The process's memory now and at its peak.
    pub(crate) fn memory(&self) -> anyhow::Result<Memory> {
        let pid = self.child.id().context("the server process has ended")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("reading /proc/<pid>/status (Linux only)")?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("{name} in /proc/{pid}/status"))?;
            Ok(kib * 1024)
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }

    /// Closes the server's standard input, which stops it, and waits for it.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait().await?;
        if !status.success() {
            bail!("the server process ended with {status}");
        }
        Ok(())
    }
}

/// The child's side: serves `kind` with the config at `config` until standard input closes.
pub(crate) async fn serve(kind: Kind, config: &Path) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // sqlx's advice on slow statements would drown the rest: the benchmark is
                // meant to make statements slow.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::load(config, std::iter::empty())?;
    let stopped = async {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    };
    match kind {
        Kind::Exchange => {
            let exchange = Exchange::bind(&config).await?;
            println!("{LISTENING}{}", exchange.local_addr());
            exchange.serve(stopped).await?;
        }
        Kind::Echo => echo::serve(&config, false, stopped).await?,
        Kind::EchoLimited => echo::serve(&config, true, stopped).await?,
    }
    Ok(())
}
