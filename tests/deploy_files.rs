//! The deployment files agree with each other and with the exchange.
//!
//! deploy/systemd, deploy/container and deploy/kubernetes each ship a config and the means to
//! put the keys, certificates, policies and CRLs where it says. These tests parse the unit,
//! the Containerfile and every manifest, and check that each path a config names is a file that
//! a credential, the image or a mounted volume provides; that every mounted Secret and
//! ConfigMap is in the manifests with the keys mounted; that the configs parse with the
//! exchange's own parser; and the hardening each file promises. On PostgreSQL the exchange logs
//! in as jembatan_app and does not migrate: the Kubernetes Job and the systemd oneshot that run
//! `jembatan migrate --grant-to jembatan_app` as the schema's owner are checked to be hardened
//! like the exchange, and the owner's URL to reach them alone. Each check is shown to catch a
//! path and a mount that disagree. Then the systemd layout and the pod are laid out in a
//! folder as systemd and the kubelet would lay them out (keys readable by a group, as both
//! leave them), their copy commands run, and the exchange starts from the shipped config (the
//! pods after the Job's migration, as jembatan_app) and answers the health check the probes
//! make.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use jembatan_client::{Client, ClientTls, ServingStatus, Stated};
use jembatan_domain::PrincipalKind;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::SpiffeId;
use jembatan_policy::{Engine, Policies, Query, ServiceQuery};
use jembatan_server::{Config, Exchange};
use jembatan_tests::{PgDatabase, RunningExchange, TestPki, repo_path, trust_domain};
use yaml_rust2::{Yaml, YamlLoader};

const UNIT: &str = "deploy/systemd/jembatan.service";
const MIGRATE_UNIT: &str = "deploy/systemd/jembatan-migrate.service";
const SYSTEMD_CONFIG: &str = "deploy/systemd/jembatan.toml";
const CONTAINERFILE: &str = "deploy/container/Containerfile";
const CONTAINER_CONFIG: &str = "deploy/container/jembatan.toml";
const MONITORING_POLICY: &str = "deploy/container/monitoring.cedar";
const KUBERNETES: &str = "deploy/kubernetes";
const MIGRATE_JOB: &str = "jembatan-migrate";
/// The Secret of the schema owner's URL, which only the migrations Job reads.
const OWNER_SECRET: &str = "jembatan-store-owner";
/// The PostgreSQL roles of deploy/postgres.
const OWNER_ROLE: &str = "jembatan_owner";
const APP_ROLE: &str = "jembatan_app";

/// Config keys whose files hold secrets.
const SECRET_KEYS: [&str; 3] = ["tls.key", "audit.key", "placements.key"];

fn read(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file or folder a config names, by key (the SQLite file for `store.url`).
fn named_paths(config: &Config) -> Vec<(String, PathBuf)> {
    let mut paths = vec![
        ("tls.cert".to_owned(), config.tls.cert.clone()),
        ("tls.key".to_owned(), config.tls.key.clone()),
        ("tls.client_ca".to_owned(), config.tls.client_ca.clone()),
    ];
    for (i, crl) in config.tls.crls.iter().enumerate() {
        paths.push((format!("tls.crls[{i}]"), crl.clone()));
    }
    paths.push(("policy.dir".to_owned(), config.policy.dir.clone()));
    paths.push(("audit.key".to_owned(), config.audit.key.clone()));
    paths.push(("placements.key".to_owned(), config.placements.key.clone()));
    if let Some(file) = config.store.url.strip_prefix("sqlite://") {
        paths.push(("store.url".to_owned(), PathBuf::from(file)));
    }
    paths
}

/// `path`, an absolute path of the machine or the pod, inside `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Moves every path the config names inside `root`, and listens on a free loopback port.
fn rebase(config: &mut Config, root: &Path) {
    for path in [
        &mut config.tls.cert,
        &mut config.tls.key,
        &mut config.tls.client_ca,
        &mut config.policy.dir,
        &mut config.audit.key,
        &mut config.placements.key,
    ]
    .into_iter()
    .chain(config.tls.crls.iter_mut())
    {
        *path = under(root, path);
    }
    if let Some(file) = config.store.url.strip_prefix("sqlite://") {
        config.store.url = format!("sqlite://{}", under(root, Path::new(file)).display());
    }
    config.server.listen = "127.0.0.1:0".parse().expect("address");
}

/// The port of a `host:port` address or an `https://host:port` URL.
fn port_of(address: &str) -> Option<u16> {
    let authority = address.split("://").last()?.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

/// The value after `flag` in a command's words.
fn flag<'a>(words: &[&'a str], flag: &str) -> Option<&'a str> {
    let at = words.iter().position(|word| *word == flag)?;
    words.get(at + 1).copied()
}

/// `install -m MODE SOURCE… FOLDER/`: the mode, the sources and the folder, or `None`.
fn install_copy<'a>(words: &[&'a str]) -> Option<(&'a str, Vec<&'a str>, &'a str)> {
    let [program, "-m", mode, rest @ ..] = words else {
        return None;
    };
    if !program.ends_with("/install") || rest.len() < 2 {
        return None;
    }
    let (folder, sources) = rest.split_last()?;
    Some((mode, sources.to_vec(), folder.trim_end_matches('/')))
}

/// Whether a file mode (octal text) lets only its owner in.
fn private_mode(mode: &str) -> bool {
    u32::from_str_radix(mode, 8).is_ok_and(|mode| mode & 0o077 == 0)
}

/// The test PKI's files that stand in for a site's: by the name the deployment files give them.
struct Material {
    pki: TestPki,
    /// The health-check identity's certificate and key.
    health_check: (String, String),
}

impl Material {
    fn new() -> Self {
        let pki = TestPki::new();
        let id = SpiffeId::agency(&trust_domain(), "monitoring", "health-check").expect("id");
        let issued = pki.ca.issue_client(&id).expect("health-check certificate");
        Self {
            pki,
            health_check: (issued.cert_pem, issued.key_pem),
        }
    }

    fn file(&self, relative: &str) -> Vec<u8> {
        let path = self.pki.dir.path().join(relative);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A credential of the systemd unit, by its id.
    fn credential(&self, id: &str) -> Vec<u8> {
        match id {
            "server.pem" | "server-key.pem" => self.file(id),
            "log.key" => self.file("audit/log.key"),
            "personal-data.key" => self.file("keys/personal-data.key"),
            other => panic!("no test material for the credential {other}"),
        }
    }
}

/// Writes `contents` with `mode`, making its folder.
fn write_file(path: &Path, contents: &[u8], mode: u32) {
    let folder = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn make_dir(path: &Path, mode: u32) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs a command of a deployment file with its absolute paths moved inside `root` (not the
/// program's own) and `%d` replaced by `credentials`.
fn run_inside(root: &Path, words: &[&str], credentials: Option<&Path>) {
    let (program, args) = words.split_first().expect("a command");
    let args: Vec<PathBuf> = args
        .iter()
        .map(|arg| match (arg.strip_prefix("%d/"), credentials) {
            (Some(id), Some(folder)) => folder.join(id),
            _ if arg.starts_with('/') => under(root, Path::new(arg)),
            _ => PathBuf::from(arg),
        })
        .collect();
    let output = Command::new(program)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asks the exchange at `url` for its health with the files of a `jembatan health` command.
async fn probe(url: &str, words: &[&str], root: &Path) -> (Client, ServingStatus) {
    let file = |name: &str| {
        let path = flag(words, name).unwrap_or_else(|| panic!("{words:?}: no {name}"));
        under(root, Path::new(path))
    };
    let tls = ClientTls::from_files(&file("--ca"), &file("--cert"), &file("--key"))
        .expect("the health check's files");
    let client = Client::connect(url, tls)
        .await
        .expect("connect as the probe");
    let status = client.health("").await.expect("health");
    (client, status)
}

/// Asserts that the identity of `client` reads nothing: the audit log is refused to it.
async fn reads_nothing(client: &Client) {
    let refused = client
        .audit(Stated::new(Purpose::Audit, LegalBasis::LegalObligation))
        .list(Default::default())
        .await
        .expect_err("the health-check identity must not read the audit log");
    let code = refused.status().map(tonic::Status::code);
    assert_eq!(code, Some(tonic::Code::PermissionDenied), "{refused}");
}

// ---------------------------------------------------------------------------------------------
// systemd

/// A unit file's settings: (section, key, value), in order.
struct Unit(Vec<(String, String, String)>);

impl Unit {
    fn parse(text: &str) -> Self {
        let mut section = String::new();
        let mut entries = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a setting: {line}"));
            entries.push((section.clone(), key.trim().into(), value.trim().into()));
        }
        Self(entries)
    }

    /// Every value of `[Service]` `key`, in order.
    fn values(&self, key: &str) -> Vec<&str> {
        self.section_values("Service", key)
    }

    /// Every value of `key` in `section`, in order.
    fn section_values(&self, section: &str, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    }

    /// The last value of `[Service]` `key`.
    fn last(&self, key: &str) -> Option<&str> {
        self.values(key).last().copied()
    }
}

/// What a unit lacks of the hardening both units promise.
fn hardening_unit_problems(unit: &Unit) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, wanted) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("UMask", "0077"),
    ] {
        if unit.last(key) != Some(wanted) {
            problems.push(format!("{key}= is {:?}, not {wanted:?}", unit.last(key)));
        }
    }
    if unit
        .values("AmbientCapabilities")
        .iter()
        .any(|v| !v.is_empty())
    {
        problems.push("AmbientCapabilities= grants capabilities".into());
    }
    if !unit.values("SystemCallFilter").contains(&"@system-service") {
        problems.push("SystemCallFilter= lacks @system-service".into());
    }
    if unit.last("MemoryMax").is_none_or(str::is_empty) {
        problems.push("no MemoryMax=".into());
    }
    problems
}

/// What the unit lacks of the hardening it promises.
fn unit_problems(unit: &Unit) -> Vec<String> {
    let mut problems = hardening_unit_problems(unit);
    if unit.last("StateDirectory") != Some("jembatan") {
        problems.push(format!(
            "StateDirectory= is {:?}, not \"jembatan\"",
            unit.last("StateDirectory")
        ));
    }
    if unit.values("LoadCredential").is_empty() {
        problems.push("no LoadCredential=: the keys are to be credentials".into());
    }
    if !unit
        .last("ExecReload")
        .is_some_and(|command| command.ends_with("kill -HUP $MAINPID"))
    {
        problems.push(format!(
            "ExecReload= is {:?}, not kill -HUP $MAINPID",
            unit.last("ExecReload")
        ));
    }
    // The exchange exits 1 when it cannot go on (its store's writer failed) and is to be
    // started again.
    if !matches!(unit.last("Restart"), Some("on-failure" | "always")) {
        problems.push(format!(
            "Restart= is {:?}: an exchange that exits on a fault would stay down",
            unit.last("Restart")
        ));
    }
    // Write access: the state and runtime folders only (systemd makes both writable).
    for path in unit.values("ReadWritePaths") {
        problems.push(format!(
            "ReadWritePaths={path}: write access beyond the state folder"
        ));
    }
    problems
}

/// Where the config's paths and the unit disagree.
fn systemd_layout_problems(unit: &Unit, config_text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let start: Vec<&str> = unit
        .last("ExecStart")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let (Some("serve"), Some(config_path)) = (start.get(1).copied(), flag(&start, "--config"))
    else {
        return vec![format!(
            "ExecStart= {start:?} is not `jembatan serve --config FILE`"
        )];
    };
    let base = Path::new(config_path)
        .parent()
        .expect("a config file in a folder");
    let env = unit
        .values("Environment")
        .into_iter()
        .filter_map(|assignment| {
            let (name, value) = assignment.trim_matches('"').split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        });
    let config = match Config::parse(config_text, env, base) {
        Ok(config) => config,
        Err(e) => return vec![format!("the config does not parse: {e}")],
    };
    let credentials: BTreeSet<&str> = unit
        .values("LoadCredential")
        .into_iter()
        .filter_map(|value| Some(value.split_once(':')?.0))
        .collect();
    let runtime = format!("/run/{}", unit.last("RuntimeDirectory").unwrap_or(""));
    let state = format!("/var/lib/{}", unit.last("StateDirectory").unwrap_or(""));
    // The paths of the credentials ExecStartPre= copies into the runtime folder.
    let mut copied = BTreeSet::new();
    for command in unit.values("ExecStartPre") {
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some((mode, sources, folder)) = install_copy(&words) else {
            problems.push(format!(
                "ExecStartPre={command}: not `install -m MODE %d/ID… FOLDER/`"
            ));
            continue;
        };
        if folder != runtime || !private_mode(mode) {
            problems.push(format!(
                "ExecStartPre={command}: copies into {folder} mode {mode}, not into the \
                 RuntimeDirectory {runtime} for its owner only"
            ));
        }
        for source in sources {
            match source.strip_prefix("%d/") {
                Some(id) if credentials.contains(id) => {
                    copied.insert(Path::new(folder).join(id));
                }
                Some(id) => problems.push(format!(
                    "no LoadCredential= loads {id}, copied by ExecStartPre="
                )),
                None => problems.push(format!("ExecStartPre= copies {source}, not a credential")),
            }
        }
    }
    for (key, path) in named_paths(&config) {
        let shown = path.display();
        if key == "store.url" {
            if !path.starts_with(&state) {
                problems.push(format!(
                    "{key}: {shown} is outside the StateDirectory {state}, the only folder \
                     the service may write"
                ));
            }
        } else if SECRET_KEYS.contains(&key.as_str()) || path.starts_with(&runtime) {
            if !copied.contains(&path) {
                problems.push(format!(
                    "{key}: {shown} is no credential's copy (LoadCredential= and ExecStartPre=)"
                ));
            }
        } else if !path.starts_with(base) {
            problems.push(format!(
                "{key}: {shown} is outside the config's folder {}",
                base.display()
            ));
        }
    }
    problems
}

#[test]
fn the_systemd_unit_is_hardened() {
    let problems = unit_problems(&Unit::parse(&read(UNIT)));
    assert!(problems.is_empty(), "{UNIT}:\n{}", problems.join("\n"));

    // The check catches a unit that leaves a setting out or gives a capability back.
    let weakened = read(UNIT)
        .replace("ProtectSystem=strict", "ProtectSystem=full")
        .replace(
            "CapabilityBoundingSet=\n",
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
        )
        .replace("Restart=on-failure", "Restart=no");
    let problems = unit_problems(&Unit::parse(&weakened));
    assert!(
        problems.iter().any(|p| p.starts_with("ProtectSystem="))
            && problems
                .iter()
                .any(|p| p.starts_with("CapabilityBoundingSet="))
            && problems.iter().any(|p| p.starts_with("Restart=")),
        "{problems:?}"
    );
}

#[test]
fn systemd_analyze_verify_says_nothing_of_the_unit() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    assert!(
        analyze.exists(),
        "{} is missing: install systemd (apt-get install systemd) to verify {UNIT}",
        analyze.display()
    );
    for file in [UNIT, MIGRATE_UNIT] {
        // systemd-analyze checks that every command is an executable. The jembatan binary is
        // not installed on this machine (and the tests package cannot name it): the copy runs
        // /bin/true with the same arguments. The other commands (install, kill) are the
        // system's.
        let text = read(file);
        let unit = Unit::parse(&text);
        let binary = unit
            .last("ExecStart")
            .and_then(|command| command.split_whitespace().next())
            .expect("ExecStart=");
        let runnable = text.replace(&format!("ExecStart={binary} "), "ExecStart=/bin/true ");
        assert_ne!(runnable, text, "{file}: ExecStart= was not replaced");
        let name = Path::new(file)
            .file_name()
            .and_then(|f| f.to_str())
            .expect("a unit file name");
        let verify = |text: &str| {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write the unit");
            let output = Command::new(analyze)
                .arg("verify")
                .arg(&path)
                .env("SYSTEMD_LOG_COLOR", "0")
                .output()
                .expect("run systemd-analyze");
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let about_unit: Vec<String> = printed
                .lines()
                .filter(|line| line.contains(name))
                .map(str::to_owned)
                .collect();
            (output.status.success(), about_unit, printed)
        };
        let (success, about_unit, printed) = verify(&runnable);
        assert!(
            success && about_unit.is_empty(),
            "systemd-analyze verify {file}:\n{printed}"
        );

        // A mistake in the unit shows in those lines.
        let (_, about_unit, printed) =
            verify(&runnable.replace("ProtectSystem=strict", "ProtectSystem=stricter"));
        assert!(
            about_unit
                .iter()
                .any(|line| line.contains("ProtectSystem") || line.contains("protect system")),
            "{file}: systemd-analyze did not name the bad setting:\n{printed}"
        );
    }
}

/// Where the migrate unit departs from the exchange's hardening, or from migrating the
/// exchange's config as the owner, from an environment file of its own, before the exchange.
fn migrate_unit_problems(migrate: &Unit, main: &Unit) -> Vec<String> {
    let mut problems = hardening_unit_problems(migrate);
    if migrate.last("Type") != Some("oneshot") {
        problems.push(format!("Type= is {:?}, not oneshot", migrate.last("Type")));
    }
    let words = |unit: &Unit| -> Vec<String> {
        unit.last("ExecStart")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let (start, main_start) = (words(migrate), words(main));
    let start: Vec<&str> = start.iter().map(String::as_str).collect();
    let main_start: Vec<&str> = main_start.iter().map(String::as_str).collect();
    if start.first() != main_start.first() || start.get(1) != Some(&"migrate") {
        problems.push(format!(
            "ExecStart= {start:?} is not `{} migrate`",
            main_start.first().unwrap_or(&"jembatan")
        ));
    }
    if flag(&start, "--config").is_none()
        || flag(&start, "--config") != flag(&main_start, "--config")
    {
        problems.push(format!(
            "ExecStart=: --config is {:?}, not the exchange's {:?}",
            flag(&start, "--config"),
            flag(&main_start, "--config")
        ));
    }
    if flag(&start, "--grant-to") != Some(APP_ROLE) {
        problems.push(format!(
            "ExecStart=: --grant-to is {:?}, not {APP_ROLE}",
            flag(&start, "--grant-to")
        ));
    }
    let service = "jembatan.service";
    if !migrate
        .section_values("Unit", "Before")
        .iter()
        .any(|units| units.split_whitespace().any(|u| u == service))
    {
        problems.push(format!("Before= does not name {service}"));
    }
    if !migrate
        .section_values("Install", "RequiredBy")
        .iter()
        .any(|units| units.split_whitespace().any(|u| u == service))
    {
        problems.push(format!(
            "RequiredBy= does not name {service}: enabled, it would not run before it"
        ));
    }
    // The owner's URL: from a file it alone reads, which must be there.
    let main_files: Vec<&str> = main
        .values("EnvironmentFile")
        .into_iter()
        .map(|f| f.trim_start_matches('-'))
        .collect();
    match migrate.values("EnvironmentFile")[..] {
        [file] if file.starts_with('-') => problems.push(format!(
            "EnvironmentFile={file}: optional, so it would run without the owner's URL"
        )),
        [file] if main_files.contains(&file) => problems.push(format!(
            "EnvironmentFile={file}: the exchange reads it too, and the owner's URL with it"
        )),
        [_] => {}
        ref files => problems.push(format!(
            "EnvironmentFile= is {files:?}, not one file of the owner's URL"
        )),
    }
    // It opens the store only: no keys, nowhere to write.
    for key in ["LoadCredential", "StateDirectory", "ReadWritePaths"] {
        for value in migrate.values(key) {
            problems.push(format!("{key}={value}: `jembatan migrate` needs none"));
        }
    }
    problems
}

#[test]
fn the_migrate_unit_is_hardened_and_runs_before_the_exchange() {
    let main = Unit::parse(&read(UNIT));
    let problems = migrate_unit_problems(&Unit::parse(&read(MIGRATE_UNIT)), &main);
    assert!(
        problems.is_empty(),
        "{MIGRATE_UNIT}:\n{}",
        problems.join("\n")
    );

    // Each edit is named.
    for (from, to, named) in [
        (
            "ProtectSystem=strict",
            "ProtectSystem=full",
            "ProtectSystem=",
        ),
        ("Type=oneshot", "Type=exec", "Type="),
        (
            "Before=jembatan.service",
            "Before=postgresql.service",
            "Before=",
        ),
        (
            "RequiredBy=jembatan.service",
            "WantedBy=multi-user.target",
            "RequiredBy=",
        ),
        (
            " --grant-to jembatan_app",
            " --grant-to jembatan_owner",
            "--grant-to",
        ),
        (" migrate --config", " serve --config", "migrate`"),
        (
            "--config /etc/jembatan/jembatan.toml",
            "--config /etc/jembatan/migrate.toml",
            "--config",
        ),
        (
            "EnvironmentFile=/etc/jembatan/jembatan-migrate.env",
            "EnvironmentFile=/etc/jembatan/jembatan.env",
            "the exchange reads it too",
        ),
        (
            "EnvironmentFile=/etc/jembatan/jembatan-migrate.env",
            "EnvironmentFile=-/etc/jembatan/jembatan-migrate.env",
            "optional",
        ),
        (
            "DynamicUser=yes",
            "DynamicUser=yes\nLoadCredential=log.key:/etc/jembatan/credentials/log.key",
            "LoadCredential=",
        ),
    ] {
        let text = read(MIGRATE_UNIT);
        let edited = text.replace(from, to);
        assert_ne!(edited, text, "{from:?} is not in {MIGRATE_UNIT}");
        let problems = migrate_unit_problems(&Unit::parse(&edited), &main);
        assert!(
            problems.iter().any(|p| p.contains(named)),
            "{from:?} → {to:?}: {problems:?}"
        );
    }
}

#[test]
fn the_systemd_config_names_what_the_unit_provides() {
    let unit = Unit::parse(&read(UNIT));
    let config = read(SYSTEMD_CONFIG);
    let problems = systemd_layout_problems(&unit, &config);
    assert!(
        problems.is_empty(),
        "{SYSTEMD_CONFIG} and {UNIT}:\n{}",
        problems.join("\n")
    );

    // A key outside the credentials, a credential the unit does not load, a database outside
    // the state folder: each is named.
    let config_text = config.replace("/run/jembatan/log.key", "/etc/jembatan/log.key");
    let problems = systemd_layout_problems(&unit, &config_text);
    assert!(
        problems.iter().any(|p| p.starts_with("audit.key:")),
        "{problems:?}"
    );

    let unit_text = read(UNIT).replace(
        "LoadCredential=personal-data.key:/etc/jembatan/credentials/personal-data.key\n",
        "",
    );
    let problems = systemd_layout_problems(&Unit::parse(&unit_text), &config);
    assert!(
        problems.iter().any(|p| p.contains("personal-data.key"))
            && problems.iter().any(|p| p.starts_with("placements.key:")),
        "{problems:?}"
    );

    let config_text = config.replace("sqlite:///var/lib/jembatan/", "sqlite:///var/lib/other/");
    let problems = systemd_layout_problems(&unit, &config_text);
    assert!(
        problems.iter().any(|p| p.starts_with("store.url:")),
        "{problems:?}"
    );
}

/// The systemd layout in a folder: the credentials as systemd 254 and later show them (mode
/// 0440, read by an ACL), the unit's ExecStartPre= run, and the exchange started from the
/// shipped config. It refuses the credentials as they are, and serves from the copies.
#[tokio::test]
async fn the_systemd_layout_serves() {
    let material = Material::new();
    let unit = Unit::parse(&read(UNIT));
    let root = tempfile::tempdir().expect("tempdir");
    let root = root.path();

    let credentials = root.join("run/credentials/jembatan.service");
    for value in unit.values("LoadCredential") {
        let (id, _) = value.split_once(':').expect("ID:PATH");
        write_file(&credentials.join(id), &material.credential(id), 0o440);
    }
    make_dir(&root.join("run/jembatan"), 0o700);
    make_dir(&root.join("var/lib/jembatan"), 0o700);
    for name in ["ca.pem", "crl.pem"] {
        write_file(
            &root.join("etc/jembatan/pki").join(name),
            &material.file(name),
            0o644,
        );
    }
    let policies = root.join("etc/jembatan/policies");
    make_dir(&policies, 0o755);
    for entry in std::fs::read_dir(repo_path("deploy/policies")).expect("deploy/policies") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), policies.join(entry.file_name())).expect("copy a policy");
    }

    let mut config = Config::parse(
        &read(SYSTEMD_CONFIG),
        std::iter::empty(),
        Path::new("/etc/jembatan"),
    )
    .expect("the systemd config");
    rebase(&mut config, root);
    // The site's own trust domain, as its operator sets it.
    config.identity.trust_domain = jembatan_tests::TRUST_DOMAIN.into();

    // Straight from the credentials folder, the keys look readable by a group: refused.
    let mut as_loaded = config.clone();
    as_loaded.tls.key = credentials.join("server-key.pem");
    let refused = Exchange::bind(&as_loaded)
        .await
        .err()
        .expect("a key of mode 0440 must be refused");
    assert!(refused.to_string().contains("tls.key"), "{refused}");

    for command in unit.values("ExecStartPre") {
        let words: Vec<&str> = command.split_whitespace().collect();
        run_inside(root, &words, Some(&credentials));
    }
    let exchange = RunningExchange::start(&config).await;
    let client = exchange
        .connect(material.pki.agency("kemendag", "export-portal"))
        .await
        .expect("connect");
    assert_eq!(
        client.health("").await.expect("health"),
        ServingStatus::Serving
    );
    exchange.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The container image

/// A Containerfile's instructions, continuation lines joined: (INSTRUCTION, arguments).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (current.is_empty() && line.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let (instruction, arguments) = current.split_once(' ').unwrap_or((&current, ""));
        all.push((
            instruction.to_ascii_uppercase(),
            arguments.trim().to_owned(),
        ));
        current.clear();
    }
    all
}

/// The JSON array (exec form) in `arguments`, after any options.
fn exec_form(arguments: &str) -> Option<Vec<String>> {
    serde_json::from_str(&arguments[arguments.find('[')?..]).ok()
}

/// What the image needs: the run-time stage and what it says.
struct Image {
    stages: Vec<Vec<(String, String)>>,
}

impl Image {
    fn parse(text: &str) -> Self {
        let mut stages: Vec<Vec<(String, String)>> = Vec::new();
        for (instruction, arguments) in instructions(text) {
            if instruction == "FROM" {
                stages.push(Vec::new());
            }
            if let Some(stage) = stages.last_mut() {
                stage.push((instruction, arguments));
            }
        }
        Self { stages }
    }

    /// The last `instruction` of the run-time (last) stage.
    fn last(&self, instruction: &str) -> Option<&str> {
        let stage = self.stages.last()?;
        stage
            .iter()
            .rev()
            .find(|(i, _)| i == instruction)
            .map(|(_, a)| a.as_str())
    }

    /// The destination of the run-time stage's `COPY source destination`.
    fn copied_to(&self, source: &str) -> Option<&str> {
        let stage = self.stages.last()?;
        stage.iter().find_map(
            |(i, a)| match a.split_whitespace().collect::<Vec<_>>().as_slice() {
                [from, to] if i == "COPY" && *from == source => Some(*to),
                _ => None,
            },
        )
    }

    /// The health check's command.
    fn health_check(&self) -> Option<Vec<String>> {
        exec_form(self.last("HEALTHCHECK")?.split_once("CMD")?.1)
    }
}

/// What the Containerfile and its config lack, or where they disagree.
fn container_problems(containerfile: &str, config_text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let image = Image::parse(containerfile);
    let (Some(build), Some(run)) = (image.stages.first(), image.stages.last()) else {
        return vec!["no FROM".into()];
    };
    if image.stages.len() < 2 {
        problems.push("one stage: the toolchain would stay in the image".into());
    }
    let from =
        |stage: &[(String, String)]| stage.first().map(|(_, a)| a.clone()).unwrap_or_default();
    if !from(build).starts_with("docker.io/library/rust:1-bookworm") {
        problems.push(format!(
            "the build stage is FROM {}, not rust:1-bookworm",
            from(build)
        ));
    }
    if !build
        .iter()
        .any(|(i, a)| i == "RUN" && a.contains("cargo build --release --locked -p jembatan-cli"))
    {
        problems.push(
            "the build stage does not run cargo build --release --locked -p jembatan-cli".into(),
        );
    }
    let base = from(run);
    if ![
        "docker.io/library/debian:bookworm-slim",
        "gcr.io/distroless/cc-debian12",
    ]
    .contains(&base.as_str())
    {
        problems.push(format!(
            "the run-time stage is FROM {base}, not a minimal base"
        ));
    }
    match image
        .last("USER")
        .map(|user| user.split(':').next().unwrap_or("").parse::<u32>())
    {
        Some(Ok(uid)) if uid != 0 => {}
        other => problems.push(format!("USER is {other:?}: not a numeric non-root user")),
    }
    // The binary: what the run-time stage copies from the build stage.
    let binary = run
        .iter()
        .find_map(|(i, a)| {
            let words: Vec<&str> = a.split_whitespace().collect();
            (i == "COPY" && words.first() == Some(&"--from=build"))
                .then(|| words.last().copied())?
        })
        .unwrap_or_default()
        .to_owned();
    let mut command = image
        .last("ENTRYPOINT")
        .and_then(exec_form)
        .unwrap_or_default();
    command.extend(image.last("CMD").and_then(exec_form).unwrap_or_default());
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let (Some(&program), Some("serve"), Some(config_path)) = (
        command.first(),
        command.get(1).copied(),
        flag(&command, "--config"),
    ) else {
        problems.push(format!(
            "ENTRYPOINT and CMD run {command:?}, not `jembatan serve --config FILE`"
        ));
        return problems;
    };
    if program != binary || !binary.ends_with("/jembatan") {
        problems.push(format!(
            "the image runs {program}, not the binary it copies ({binary})"
        ));
    }
    if image.copied_to("deploy/container/jembatan.toml") != Some(config_path) {
        problems.push(format!("deploy/container/jembatan.toml is not copied to {config_path}, the config the image serves"));
    }
    let config = match Config::parse(
        config_text,
        std::iter::empty(),
        Path::new(config_path).parent().expect("folder"),
    ) {
        Ok(config) => config,
        Err(e) => {
            problems.push(format!("the config does not parse: {e}"));
            return problems;
        }
    };
    let listen_port = config.server.listen.port();
    if image.last("EXPOSE") != Some(listen_port.to_string().as_str()) {
        problems.push(format!(
            "EXPOSE is {:?}, not the port the config listens on, {listen_port}",
            image.last("EXPOSE")
        ));
    }
    match image.health_check() {
        Some(check) => {
            let words: Vec<&str> = check.iter().map(String::as_str).collect();
            if words.first() != Some(&binary.as_str()) || words.get(1) != Some(&"health") {
                problems.push(format!("HEALTHCHECK runs {words:?}, not `{binary} health`"));
            }
            let server = flag(&words, "--server").unwrap_or("");
            if !server.starts_with("https://127.0.0.1:") || port_of(server) != Some(listen_port) {
                problems.push(format!(
                    "HEALTHCHECK asks {server}, not https://127.0.0.1:{listen_port}"
                ));
            }
        }
        None => problems.push("no HEALTHCHECK CMD [\"…jembatan\", \"health\", …]".into()),
    }
    let volumes = image.last("VOLUME").and_then(exec_form).unwrap_or_default();
    let policies = image
        .copied_to("deploy/policies/")
        .map(|d| d.trim_end_matches('/'));
    // The database is on the volume, and the policies are the ones the image holds; the other
    // files are the pods' too (the_image_and_the_pods_share_one_layout).
    for (key, path) in named_paths(&config) {
        let shown = path.display();
        let in_volume = volumes.iter().any(|volume| path.starts_with(volume));
        match key.as_str() {
            "store.url" if !in_volume => {
                problems.push(format!("{key}: {shown} is in no VOLUME ({volumes:?})"));
            }
            "policy.dir" if policies != path.to_str() => problems.push(format!(
                "{key}: {shown} is not where deploy/policies is copied ({policies:?})"
            )),
            _ => {}
        }
    }
    problems
}

#[test]
fn the_containerfile_builds_the_binary_and_runs_it_as_non_root_with_a_health_check() {
    let containerfile = read(CONTAINERFILE);
    let config = read(CONTAINER_CONFIG);
    let problems = container_problems(&containerfile, &config);
    assert!(
        problems.is_empty(),
        "{CONTAINERFILE}:\n{}",
        problems.join("\n")
    );

    for (from, to, named) in [
        ("USER 10001:10001", "USER 0", "USER"),
        ("USER 10001:10001", "", "USER"),
        (
            "\"/usr/local/bin/jembatan\", \"health\"",
            "\"/bin/true\", \"health\"",
            "HEALTHCHECK",
        ),
        ("EXPOSE 7443", "EXPOSE 8443", "EXPOSE"),
        (
            "cargo build --release --locked",
            "cargo build --release",
            "cargo build",
        ),
        (
            "VOLUME [\"/var/lib/jembatan\"]",
            "VOLUME [\"/data\"]",
            "store.url",
        ),
    ] {
        let changed = containerfile.replace(from, to);
        assert_ne!(changed, containerfile, "{from} is not in {CONTAINERFILE}");
        let problems = container_problems(&changed, &config);
        assert!(
            problems.iter().any(|p| p.contains(named)),
            "{to:?}: {problems:?}"
        );
    }
}

/// The image's config and the pods' name the same files, and the image's health check is the
/// pods' probe: the Kubernetes checks below, which follow each path to its volume, hold for
/// the image's layout too.
#[test]
fn the_image_and_the_pods_share_one_layout() {
    let image_config = Config::parse(
        &read(CONTAINER_CONFIG),
        std::iter::empty(),
        Path::new("/etc/jembatan"),
    )
    .expect("the image's config");
    let objects = manifests();
    let pod = Pod::of(&objects).expect("the Deployment");
    let (pod_config, _) = pod.config(&objects).expect("the pods' config");
    let paths = |config: &Config| -> Vec<(String, PathBuf)> {
        named_paths(config)
            .into_iter()
            .filter(|(key, _)| key != "store.url")
            .collect()
    };
    assert_eq!(paths(&image_config), paths(&pod_config));
    assert_eq!(image_config.server.listen, pod_config.server.listen);

    let image = Image::parse(&read(CONTAINERFILE));
    let check = image.health_check().expect("HEALTHCHECK");
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(pod.probe(probe), Some(check.clone()), "{probe}");
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

/// One object of the manifests.
struct Object {
    file: String,
    kind: String,
    name: String,
    namespace: String,
    yaml: Yaml,
}

/// Every `*.yaml` file under deploy/kubernetes, with its path there.
fn manifest_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let root = repo_path(KUBERNETES);
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .expect("under the folder")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, text)
        })
        .collect()
}

fn parse_manifests(files: &[(String, String)]) -> Vec<Object> {
    let mut objects = Vec::new();
    for (file, text) in files {
        let docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for yaml in docs.into_iter().filter(|doc| !doc.is_null()) {
            let field = |yaml: &Yaml, key: &str| yaml[key].as_str().map(str::to_owned);
            let kind =
                field(&yaml, "kind").unwrap_or_else(|| panic!("{file}: an object without kind"));
            let name = field(&yaml["metadata"], "name")
                .unwrap_or_else(|| panic!("{file}: a {kind} without name"));
            let namespace = field(&yaml["metadata"], "namespace").unwrap_or_default();
            objects.push(Object {
                file: file.clone(),
                kind,
                name,
                namespace,
                yaml,
            });
        }
    }
    objects
}

fn manifests() -> Vec<Object> {
    parse_manifests(&manifest_files())
}

fn find<'a>(objects: &'a [Object], kind: &str, name: &str) -> Option<&'a Object> {
    objects.iter().find(|o| o.kind == kind && o.name == name)
}

/// The keys of a ConfigMap's or Secret's data, with their text where it is plain.
fn data_of(object: &Object) -> BTreeMap<String, Option<String>> {
    let mut data = BTreeMap::new();
    let plain = if object.kind == "ConfigMap" {
        "data"
    } else {
        "stringData"
    };
    for (section, is_plain) in [(plain, true), ("data", false), ("binaryData", false)] {
        for (key, value) in object.yaml[section].as_hash().into_iter().flatten() {
            if let Some(key) = key.as_str() {
                let text = value.as_str().filter(|_| is_plain).map(str::to_owned);
                data.entry(key.to_owned()).or_insert(text);
            }
        }
    }
    data
}

/// Where a file in a volume comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// A key of a ConfigMap or Secret, with the file's mode.
    Object {
        kind: String,
        name: String,
        key: String,
        mode: u32,
    },
    /// Copied by an init container, with the mode it gives.
    Copied { mode: String, from: Box<Origin> },
}

/// A volume mount of a container.
#[derive(Debug, Clone)]
struct Mount {
    volume: String,
    path: PathBuf,
    read_only: bool,
}

fn mounts_of(container: &Yaml) -> Vec<Mount> {
    container["volumeMounts"]
        .as_vec()
        .into_iter()
        .flatten()
        .map(|mount| Mount {
            volume: mount["name"].as_str().unwrap_or("").to_owned(),
            path: PathBuf::from(mount["mountPath"].as_str().unwrap_or("")),
            read_only: mount["readOnly"].as_bool() == Some(true),
        })
        .collect()
}

fn command_of(container: &Yaml, field: &str) -> Vec<String> {
    container[field]
        .as_vec()
        .into_iter()
        .flatten()
        .filter_map(|word| word.as_str().map(str::to_owned))
        .collect()
}

/// The Deployment's pod: its spec and what each volume holds.
struct Pod<'a> {
    deployment: &'a Object,
    spec: &'a Yaml,
    main: &'a Yaml,
    /// Volume name → file name → origin; `None` for a volume that is not a ConfigMap, Secret,
    /// projection of them, or emptyDir.
    volumes: BTreeMap<String, Option<BTreeMap<String, Origin>>>,
    /// Problems found while reading the volumes.
    problems: Vec<String>,
}

impl<'a> Pod<'a> {
    fn of(objects: &'a [Object]) -> Result<Self, String> {
        let deployment = find(objects, "Deployment", "jembatan").ok_or("no Deployment jembatan")?;
        let spec = &deployment.yaml["spec"]["template"]["spec"];
        let main = spec["containers"]
            .as_vec()
            .and_then(|containers| {
                containers
                    .iter()
                    .find(|c| c["name"].as_str() == Some("jembatan"))
            })
            .ok_or("no container jembatan")?;
        let mut pod = Self {
            deployment,
            spec,
            main,
            volumes: BTreeMap::new(),
            problems: Vec::new(),
        };
        pod.read_volumes(objects);
        Ok(pod)
    }

    fn read_volumes(&mut self, objects: &[Object]) {
        let namespace = &self.deployment.namespace;
        for volume in self.spec["volumes"].as_vec().into_iter().flatten() {
            let name = volume["name"].as_str().unwrap_or("").to_owned();
            let (sources, mode) = if !volume["configMap"].is_badvalue() {
                let source = &volume["configMap"];
                (
                    vec![("ConfigMap", source, &source["name"])],
                    source["defaultMode"].as_i64(),
                )
            } else if !volume["secret"].is_badvalue() {
                let source = &volume["secret"];
                (
                    vec![("Secret", source, &source["secretName"])],
                    source["defaultMode"].as_i64(),
                )
            } else if !volume["projected"].is_badvalue() {
                let projected = &volume["projected"];
                let mut sources = Vec::new();
                for source in projected["sources"].as_vec().into_iter().flatten() {
                    for (field, kind) in [("configMap", "ConfigMap"), ("secret", "Secret")] {
                        if !source[field].is_badvalue() {
                            sources.push((kind, &source[field], &source[field]["name"]));
                        }
                    }
                }
                (sources, projected["defaultMode"].as_i64())
            } else if !volume["emptyDir"].is_badvalue() {
                self.volumes.insert(name, Some(BTreeMap::new()));
                continue;
            } else {
                self.problems.push(format!(
                    "volume {name}: neither a ConfigMap, a Secret nor an emptyDir"
                ));
                self.volumes.insert(name, None);
                continue;
            };
            // The kubelet's default mode is 0644.
            let mode = u32::try_from(mode.unwrap_or(0o644)).unwrap_or(u32::MAX);
            let mut files = BTreeMap::new();
            for (kind, source, object_name) in sources {
                let object_name = object_name.as_str().unwrap_or("");
                let Some(object) = objects
                    .iter()
                    .find(|o| o.kind == kind && o.name == object_name && &o.namespace == namespace)
                else {
                    self.problems.push(format!("volume {name}: the {kind} {object_name} is not in the manifests (namespace {namespace})"));
                    continue;
                };
                let data = data_of(object);
                let mut add = |key: &str, path: &str| {
                    files.insert(
                        path.to_owned(),
                        Origin::Object {
                            kind: kind.to_owned(),
                            name: object_name.to_owned(),
                            key: key.to_owned(),
                            mode,
                        },
                    );
                };
                match source["items"].as_vec() {
                    Some(items) => {
                        for item in items {
                            let key = item["key"].as_str().unwrap_or("");
                            if !data.contains_key(key) {
                                self.problems.push(format!(
                                    "volume {name}: the {kind} {object_name} ({}) has no key {key}",
                                    object.file
                                ));
                            }
                            add(key, item["path"].as_str().unwrap_or(key));
                        }
                    }
                    None => data.keys().for_each(|key| add(key, key)),
                }
            }
            self.volumes.insert(name, Some(files));
        }
        // What the init containers copy into emptyDir volumes.
        for init in self.spec["initContainers"].as_vec().into_iter().flatten() {
            let command = command_of(init, "command");
            let words: Vec<&str> = command.iter().map(String::as_str).collect();
            let init_name = init["name"].as_str().unwrap_or("");
            let Some((mode, sources, folder)) = install_copy(&words) else {
                self.problems.push(format!(
                    "init container {init_name}: {words:?} is not `install -m MODE SOURCE… FOLDER/`"
                ));
                continue;
            };
            let mounts = mounts_of(init);
            let Some(target) = mounts.iter().find(|m| m.path == Path::new(folder)) else {
                self.problems.push(format!(
                    "init container {init_name}: nothing is mounted at {folder}"
                ));
                continue;
            };
            let mut copied = Vec::new();
            for source in sources {
                match self.origin(&mounts, Path::new(source)) {
                    Ok(origin) => {
                        let file = Path::new(source)
                            .file_name()
                            .and_then(|f| f.to_str())
                            .unwrap_or("");
                        copied.push((
                            file.to_owned(),
                            Origin::Copied {
                                mode: mode.to_owned(),
                                from: Box::new(origin),
                            },
                        ));
                    }
                    Err(e) => self
                        .problems
                        .push(format!("init container {init_name}: {e}")),
                }
            }
            if let Some(Some(files)) = self.volumes.get_mut(&target.volume) {
                files.extend(copied);
            }
        }
    }

    /// Where the file at `path` comes from, in a container with `mounts`.
    fn origin(&self, mounts: &[Mount], path: &Path) -> Result<Origin, String> {
        let shown = path.display();
        let folder = path.parent().unwrap_or(Path::new("/"));
        let mount = mounts
            .iter()
            .find(|m| m.path == folder)
            .ok_or_else(|| format!("{shown}: no volume is mounted at {}", folder.display()))?;
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        match self.volumes.get(&mount.volume) {
            Some(Some(files)) => files.get(file).cloned().ok_or_else(|| {
                format!(
                    "{shown}: the volume {} mounted at {} holds no {file} (it holds {:?})",
                    mount.volume,
                    folder.display(),
                    files.keys().collect::<Vec<_>>()
                )
            }),
            Some(None) => Err(format!(
                "{shown}: the volume {} is not one of the manifests' objects",
                mount.volume
            )),
            None => Err(format!(
                "{shown}: the volume {} mounted at {} is not defined",
                mount.volume,
                folder.display()
            )),
        }
    }

    /// The main container's config, parsed as the exchange parses it, and its text.
    fn config(&self, objects: &[Object]) -> Result<(Config, String), String> {
        let args = command_of(self.main, "args");
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let (Some("serve"), Some(path)) = (words.first().copied(), flag(&words, "--config")) else {
            return Err(format!(
                "the container runs {words:?}, not `serve --config FILE`"
            ));
        };
        let origin = self.origin(&mounts_of(self.main), Path::new(path))?;
        let Origin::Object {
            kind, name, key, ..
        } = origin
        else {
            return Err(format!("{path}: not straight from a ConfigMap"));
        };
        let text = find(objects, &kind, &name)
            .and_then(|object| data_of(object).remove(&key).flatten())
            .ok_or_else(|| format!("{path}: the {kind} {name} has no text at {key}"))?;
        let env = self.env(objects)?;
        let base = Path::new(path).parent().expect("a folder");
        let config =
            Config::parse(&text, env, base).map_err(|e| format!("{path} does not parse: {e}"))?;
        Ok((config, text))
    }

    /// The main container's `JEMBATAN_*` environment, Secret values read from the manifests.
    fn env(&self, objects: &[Object]) -> Result<Vec<(String, String)>, String> {
        let mut env = Vec::new();
        for var in self.main["env"].as_vec().into_iter().flatten() {
            let name = var["name"].as_str().unwrap_or("").to_owned();
            if let Some(value) = var["value"].as_str() {
                env.push((name, value.to_owned()));
                continue;
            }
            let reference = &var["valueFrom"]["secretKeyRef"];
            let (Some(secret), Some(key)) = (reference["name"].as_str(), reference["key"].as_str())
            else {
                return Err(format!("env {name}: neither a value nor a Secret's key"));
            };
            let value = find(objects, "Secret", secret).ok_or_else(|| {
                format!("env {name}: the Secret {secret} is not in the manifests")
            })?;
            let value = data_of(value)
                .remove(key)
                .ok_or_else(|| format!("env {name}: the Secret {secret} has no key {key}"))?
                .unwrap_or_else(|| "postgres://user@host:5432/db".to_owned());
            env.push((name, value));
        }
        Ok(env)
    }

    /// A probe's exec command.
    fn probe(&self, probe: &str) -> Option<Vec<String>> {
        Some(command_of(&self.main[probe]["exec"], "command")).filter(|c| !c.is_empty())
    }

    /// The pod's labels.
    fn labels(&self) -> &'a Yaml {
        &self.deployment.yaml["spec"]["template"]["metadata"]["labels"]
    }
}

/// Whether a non-empty `selector` (labels) picks `labels`.
fn selects(selector: &Yaml, labels: &Yaml) -> bool {
    selector.as_hash().is_some_and(|wanted| {
        !wanted.is_empty()
            && wanted
                .iter()
                .all(|(k, v)| labels[k.as_str().unwrap_or("")] == *v)
    })
}

/// What a pod spec (`what`: "the pod", "the Job's pod") lacks of the pods' hardening: non-root,
/// the runtime's seccomp profile, no service account token, and in each container a read-only
/// root file system, no privilege escalation and no capabilities.
fn hardening_problems(what: &str, spec: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let pod_security = &spec["securityContext"];
    if pod_security["runAsNonRoot"].as_bool() != Some(true) {
        problems.push(format!("{what} does not set runAsNonRoot: true"));
    }
    if pod_security["runAsUser"]
        .as_i64()
        .is_none_or(|uid| uid == 0)
    {
        problems.push(format!("{what} runs as no numeric non-root user"));
    }
    if pod_security["seccompProfile"]["type"].as_str() != Some("RuntimeDefault") {
        problems.push(format!("{what}: seccompProfile is not RuntimeDefault"));
    }
    if spec["automountServiceAccountToken"].as_bool() != Some(false) {
        problems.push(format!("{what} mounts a service account token"));
    }
    let containers = ["initContainers", "containers"]
        .into_iter()
        .flat_map(|field| spec[field].as_vec().into_iter().flatten());
    for container in containers {
        let name = container["name"].as_str().unwrap_or("");
        let security = &container["securityContext"];
        if security["readOnlyRootFilesystem"].as_bool() != Some(true) {
            problems.push(format!(
                "container {name}: readOnlyRootFilesystem is not true"
            ));
        }
        if security["allowPrivilegeEscalation"].as_bool() != Some(false) {
            problems.push(format!(
                "container {name}: allowPrivilegeEscalation is not false"
            ));
        }
        let drops = &security["capabilities"]["drop"];
        if !drops
            .as_vec()
            .is_some_and(|d| d.iter().any(|c| c.as_str() == Some("ALL")))
        {
            problems.push(format!("container {name}: capabilities do not drop ALL"));
        }
        if !security["capabilities"]["add"].is_badvalue() {
            problems.push(format!("container {name}: adds capabilities"));
        }
    }
    problems
}

/// Whether a string anywhere in `yaml` (a value or a key) is `text`.
fn mentions(yaml: &Yaml, text: &str) -> bool {
    match yaml {
        Yaml::String(s) => s == text,
        Yaml::Array(items) => items.iter().any(|item| mentions(item, text)),
        Yaml::Hash(hash) => hash
            .iter()
            .any(|(key, value)| mentions(key, text) || mentions(value, text)),
        _ => false,
    }
}

/// The Job that migrates as the schema's owner: its pod spec, its one container, and the words
/// it runs after the image's entrypoint (`jembatan`).
struct MigrateJob<'a> {
    job: &'a Object,
    spec: &'a Yaml,
    container: &'a Yaml,
    args: Vec<String>,
}

impl<'a> MigrateJob<'a> {
    fn of(objects: &'a [Object]) -> Result<Self, String> {
        let job =
            find(objects, "Job", MIGRATE_JOB).ok_or_else(|| format!("no Job {MIGRATE_JOB}"))?;
        let spec = &job.yaml["spec"]["template"]["spec"];
        let containers = spec["containers"].as_vec().map_or(&[][..], Vec::as_slice);
        let [container] = containers else {
            return Err(format!(
                "the Job {MIGRATE_JOB} has {} containers, not one",
                containers.len()
            ));
        };
        let mut args = command_of(container, "command");
        match args.split_first() {
            None => {}
            Some((program, _)) if program.ends_with("/jembatan") => {
                args.remove(0);
            }
            Some((program, _)) => {
                return Err(format!(
                    "the Job {MIGRATE_JOB} runs {program}, not jembatan"
                ));
            }
        }
        args.extend(command_of(container, "args"));
        Ok(Self {
            job,
            spec,
            container,
            args,
        })
    }

    /// The value of a flag of its command.
    fn flag(&self, name: &str) -> Option<&str> {
        let words: Vec<&str> = self.args.iter().map(String::as_str).collect();
        flag(&words, name)
    }

    /// The text of the config file it names, from the ConfigMap mounted at the file's folder.
    fn config_text(&self, objects: &[Object]) -> Result<String, String> {
        let path = Path::new(self.flag("--config").ok_or("the Job names no --config")?);
        let folder = path.parent().unwrap_or(Path::new("/"));
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        let mount = mounts_of(self.container)
            .into_iter()
            .find(|m| m.path == folder)
            .ok_or_else(|| format!("the Job mounts nothing at {}", folder.display()))?;
        let volume = self.spec["volumes"]
            .as_vec()
            .into_iter()
            .flatten()
            .find(|v| v["name"].as_str() == Some(mount.volume.as_str()))
            .ok_or_else(|| format!("the Job's volume {} is not defined", mount.volume))?;
        let name = volume["configMap"]["name"]
            .as_str()
            .ok_or_else(|| format!("the Job's volume {} is not a ConfigMap", mount.volume))?;
        find(objects, "ConfigMap", name)
            .and_then(|configmap| data_of(configmap).remove(file).flatten())
            .ok_or_else(|| format!("the ConfigMap {name} has no text at {file}"))
    }
}

/// Where the migrations Job departs from the pods' hardening, config and image, or from
/// migrating as the owner; and whether anything but the Job references the owner's Secret.
fn migrate_job_problems(objects: &[Object], pod: &Pod<'_>) -> Vec<String> {
    let job = match MigrateJob::of(objects) {
        Ok(job) => job,
        Err(e) => return vec![e],
    };
    let mut problems = hardening_problems("the Job's pod", job.spec);
    let restart = job.spec["restartPolicy"].as_str();
    if !matches!(restart, Some("Never" | "OnFailure")) {
        problems.push(format!(
            "the Job's restartPolicy is {restart:?}, not Never or OnFailure"
        ));
    }
    if job.container["image"] != pod.main["image"] {
        problems.push(format!(
            "the Job runs the image {:?}, not the Deployment's {:?}",
            job.container["image"].as_str(),
            pod.main["image"].as_str()
        ));
    }
    if job.args.first().map(String::as_str) != Some("migrate") {
        problems.push(format!(
            "the Job runs {:?}, not `jembatan migrate`",
            job.args
        ));
    }
    if job.flag("--grant-to") != Some(APP_ROLE) {
        problems.push(format!(
            "the Job's --grant-to is {:?}, not {APP_ROLE}",
            job.flag("--grant-to")
        ));
    }
    let pod_args = command_of(pod.main, "args");
    let pod_words: Vec<&str> = pod_args.iter().map(String::as_str).collect();
    match (job.config_text(objects), pod.config(objects)) {
        (Ok(job_text), Ok((_, pod_text))) if job_text == pod_text => {}
        (Ok(_), Ok(_)) => problems.push(format!(
            "the Job's --config {:?} is not the pods' config {:?}",
            job.flag("--config"),
            flag(&pod_words, "--config")
        )),
        (Err(e), _) | (_, Err(e)) => problems.push(e),
    }
    // The owner's URL from its own Secret; no other Secret (it needs no key).
    let env = job.container["env"].as_vec().map_or(&[][..], Vec::as_slice);
    let url = env
        .iter()
        .find(|var| var["name"].as_str() == Some("JEMBATAN_STORE_URL"))
        .map(|var| &var["valueFrom"]["secretKeyRef"]);
    match url {
        Some(reference)
            if reference["name"].as_str() == Some(OWNER_SECRET)
                && reference["key"].as_str() == Some("url") => {}
        _ => problems.push(format!(
            "the Job's JEMBATAN_STORE_URL is not the Secret {OWNER_SECRET}'s url"
        )),
    }
    match find(objects, "Secret", OWNER_SECRET) {
        Some(secret) if data_of(secret).contains_key("url") => {}
        Some(_) => problems.push(format!("the Secret {OWNER_SECRET} has no key url")),
        None => problems.push(format!("the Secret {OWNER_SECRET} is not in the manifests")),
    }
    for volume in job.spec["volumes"].as_vec().into_iter().flatten() {
        if volume["configMap"].is_badvalue() {
            problems.push(format!(
                "the Job's volume {}: not a ConfigMap (it needs no key)",
                volume["name"].as_str().unwrap_or("")
            ));
        }
    }
    for object in objects {
        let own = object.kind == "Secret" && object.name == OWNER_SECRET;
        if !own && !std::ptr::eq(object, job.job) && mentions(&object.yaml, OWNER_SECRET) {
            problems.push(format!(
                "{} {} ({}) references the Secret {OWNER_SECRET}, which only the Job may read",
                object.kind, object.name, object.file
            ));
        }
    }
    // Its pod is no exchange: neither the Service nor the PodDisruptionBudget picks it, and a
    // NetworkPolicy lets it reach PostgreSQL.
    let labels = &job.job.yaml["spec"]["template"]["metadata"]["labels"];
    for (kind, selector) in [
        ("Service", &["spec", "selector"][..]),
        (
            "PodDisruptionBudget",
            &["spec", "selector", "matchLabels"][..],
        ),
    ] {
        for object in objects.iter().filter(|o| o.kind == kind) {
            let selector = selector.iter().fold(&object.yaml, |yaml, key| &yaml[*key]);
            if selects(selector, labels) {
                problems.push(format!("the {kind} {} selects the Job's pod", object.name));
            }
        }
    }
    let reaches_database = objects
        .iter()
        .filter(|o| o.kind == "NetworkPolicy")
        .filter(|o| selects(&o.yaml["spec"]["podSelector"]["matchLabels"], labels))
        .any(|policy| {
            policy.yaml["spec"]["egress"]
                .as_vec()
                .into_iter()
                .flatten()
                .flat_map(|rule| rule["ports"].as_vec().into_iter().flatten())
                .any(|port| port["port"].as_i64() == Some(5432))
        });
    if !reaches_database {
        problems.push("no NetworkPolicy lets the Job's pod reach PostgreSQL (5432)".into());
    }
    problems
}

/// What the manifests lack, or where they and the config disagree.
fn kubernetes_problems(objects: &[Object]) -> Vec<String> {
    let pod = match Pod::of(objects) {
        Ok(pod) => pod,
        Err(e) => return vec![e],
    };
    let mut problems = pod.problems.clone();
    let deployment = &pod.deployment.yaml;
    if deployment["spec"]["replicas"].as_i64() != Some(2) {
        problems.push(format!(
            "replicas is {:?}, not 2",
            deployment["spec"]["replicas"].as_i64()
        ));
    }
    if !selects(&deployment["spec"]["selector"]["matchLabels"], pod.labels()) {
        problems.push("the Deployment's selector does not pick its pods".into());
    }
    for object in objects.iter().filter(|o| o.kind != "Namespace") {
        if object.namespace != "jembatan" {
            problems.push(format!(
                "{} {} ({}) is in namespace {:?}, not jembatan",
                object.kind, object.name, object.file, object.namespace
            ));
        }
    }
    if find(objects, "Namespace", "jembatan").is_none() {
        problems.push("no Namespace jembatan".into());
    }

    // Security.
    problems.extend(hardening_problems("the pod", pod.spec));
    let containers = ["initContainers", "containers"]
        .into_iter()
        .flat_map(|field| pod.spec[field].as_vec().into_iter().flatten());
    for container in containers {
        let name = container["name"].as_str().unwrap_or("");
        for mount in mounts_of(container) {
            if !pod.volumes.contains_key(&mount.volume) {
                problems.push(format!(
                    "container {name}: mounts {}, which is no volume",
                    mount.volume
                ));
            }
        }
    }

    // The config and what the volumes hold.
    let (config, _) = match pod.config(objects) {
        Ok(config) => config,
        Err(e) => {
            problems.push(e);
            return problems;
        }
    };
    let mounts = mounts_of(pod.main);
    for (key, path) in named_paths(&config) {
        let shown = path.display();
        if key == "store.url" {
            problems.push(format!(
                "{key}: SQLite ({shown}) under two replicas: they share one PostgreSQL database"
            ));
            continue;
        }
        if key == "policy.dir" {
            let policies = mounts
                .iter()
                .find(|m| m.path == path)
                .and_then(|m| pod.volumes.get(&m.volume));
            match policies {
                Some(Some(files)) if files.keys().any(|f| f.ends_with(".cedar")) => {}
                _ => problems.push(format!(
                    "{key}: no volume of *.cedar files is mounted at {shown}"
                )),
            }
            continue;
        }
        match pod.origin(&mounts, &path) {
            Err(e) => problems.push(format!("{key}: {e}")),
            Ok(Origin::Copied { mode, from }) if private_mode(&mode) => {
                if !matches!(*from, Origin::Object { ref kind, .. } if kind == "Secret") {
                    problems.push(format!(
                        "{key}: {shown} is copied from {from:?}, not a Secret"
                    ));
                }
            }
            Ok(origin) if SECRET_KEYS.contains(&key.as_str()) => problems.push(format!(
                "{key}: {shown} comes from {origin:?}: the kubelet leaves a Secret's files to \
                 root (mode 0400, unreadable to the exchange) or to the fsGroup (mode 0440, \
                 which the exchange refuses for a key); copy it, mode 0600, with the init container"
            )),
            Ok(_) => {}
        }
    }
    if !config.store.url.starts_with("postgres://") {
        problems.push(format!("store.url is {}, not PostgreSQL", config.store.url));
    }
    if config.store.migrate {
        problems.push(format!(
            "store.migrate is true: the pods would migrate as {APP_ROLE}, which owns nothing; \
             the Job {MIGRATE_JOB} migrates"
        ));
    }
    problems.extend(migrate_job_problems(objects, &pod));

    // Ports and probes.
    let listen = config.server.listen.port();
    let ports = pod.main["ports"].as_vec().cloned().unwrap_or_default();
    let grpc = ports.iter().find(|p| p["name"].as_str() == Some("grpc"));
    if grpc.and_then(|p| p["containerPort"].as_i64()) != Some(i64::from(listen)) {
        problems.push(format!(
            "the container's port grpc is not {listen}, where the config listens"
        ));
    }
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let Some(command) = pod.probe(probe) else {
            problems.push(format!("{probe}: none, or not an exec probe"));
            continue;
        };
        let words: Vec<&str> = command.iter().map(String::as_str).collect();
        if !words.first().is_some_and(|w| w.ends_with("/jembatan"))
            || words.get(1) != Some(&"health")
        {
            problems.push(format!("{probe}: runs {words:?}, not `jembatan health`"));
        }
        let server = flag(&words, "--server").unwrap_or("");
        if !server.starts_with("https://127.0.0.1:") || port_of(server) != Some(listen) {
            problems.push(format!(
                "{probe}: asks {server}, not https://127.0.0.1:{listen}"
            ));
        }
        for name in ["--ca", "--cert", "--key"] {
            match flag(&words, name) {
                Some(path) => {
                    if let Err(e) = pod.origin(&mounts, Path::new(path)) {
                        problems.push(format!("{probe} {name}: {e}"));
                    }
                }
                None => problems.push(format!("{probe}: no {name}")),
            }
        }
    }

    // The Service, the NetworkPolicy and the PodDisruptionBudget pick the pods.
    match find(objects, "Service", "jembatan") {
        Some(service) => {
            if !selects(&service.yaml["spec"]["selector"], pod.labels()) {
                problems.push("the Service does not select the pods".into());
            }
            let reaches = service.yaml["spec"]["ports"]
                .as_vec()
                .into_iter()
                .flatten()
                .any(|port| {
                    let target = &port["targetPort"];
                    target.as_str() == Some("grpc") || target.as_i64() == Some(i64::from(listen))
                });
            if !reaches {
                problems.push(format!("no port of the Service reaches {listen}"));
            }
        }
        None => problems.push("no Service jembatan".into()),
    }
    match find(objects, "NetworkPolicy", "jembatan") {
        Some(policy) => {
            let spec = &policy.yaml["spec"];
            if !selects(&spec["podSelector"]["matchLabels"], pod.labels()) {
                problems.push("the NetworkPolicy does not select the pods".into());
            }
            let types: Vec<&str> = spec["policyTypes"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(Yaml::as_str)
                .collect();
            if !types.contains(&"Ingress") || !types.contains(&"Egress") {
                problems.push(format!(
                    "the NetworkPolicy's policyTypes are {types:?}, not Ingress and Egress"
                ));
            }
            let allows = |direction: &str, port: i64, protocol: &str| {
                spec[direction].as_vec().into_iter().flatten().any(|rule| {
                    rule["ports"].as_vec().into_iter().flatten().any(|p| {
                        p["port"].as_i64() == Some(port)
                            && p["protocol"].as_str().unwrap_or("TCP") == protocol
                    })
                })
            };
            let database = port_of(&config.store.url).map_or(5432, i64::from);
            for (direction, port, protocol) in [
                ("ingress", i64::from(listen), "TCP"),
                ("egress", database, "TCP"),
                ("egress", 53, "UDP"),
                ("egress", 53, "TCP"),
            ] {
                if !allows(direction, port, protocol) {
                    problems.push(format!(
                        "the NetworkPolicy's {direction} does not allow {protocol} {port}"
                    ));
                }
            }
        }
        None => problems.push("no NetworkPolicy jembatan".into()),
    }
    match find(objects, "PodDisruptionBudget", "jembatan") {
        Some(budget) => {
            if budget.yaml["spec"]["minAvailable"].as_i64() != Some(1) {
                problems.push("the PodDisruptionBudget's minAvailable is not 1".into());
            }
            if !selects(
                &budget.yaml["spec"]["selector"]["matchLabels"],
                pod.labels(),
            ) {
                problems.push("the PodDisruptionBudget does not select the pods".into());
            }
        }
        None => problems.push("no PodDisruptionBudget jembatan".into()),
    }
    problems
}

#[test]
fn the_manifests_mount_what_their_config_names() {
    let files = manifest_files();
    let problems = kubernetes_problems(&parse_manifests(&files));
    assert!(
        problems.is_empty(),
        "{KUBERNETES}:\n{}",
        problems.join("\n")
    );

    // Each hand edit below makes a path and a mount disagree, or drops a setting; the check
    // names it.
    let edit = |file: &str, from: &str, to: &str| -> Vec<String> {
        let mut changed = files.clone();
        let (_, text) = changed
            .iter_mut()
            .find(|(name, _)| name == file)
            .unwrap_or_else(|| panic!("no {file}"));
        let edited = text.replace(from, to);
        assert_ne!(&edited, text, "{from:?} is not in {file}");
        *text = edited;
        kubernetes_problems(&parse_manifests(&changed))
    };
    for (file, from, to, named) in [
        // The config names a file no volume holds.
        (
            "config.yaml",
            "/etc/jembatan/crls/crl.pem",
            "/etc/jembatan/crls/crls.pem",
            "tls.crls[0]",
        ),
        (
            "config.yaml",
            "/etc/jembatan/client-ca/ca.pem",
            "/etc/jembatan/ca/ca.pem",
            "tls.client_ca",
        ),
        // A key straight from its Secret, as the kubelet leaves it.
        (
            "config.yaml",
            "/run/jembatan/keys/log.key",
            "/run/jembatan/secrets/log.key",
            "audit.key",
        ),
        // The volume is mounted elsewhere than the config says.
        (
            "deployment.yaml",
            "mountPath: /etc/jembatan/crls",
            "mountPath: /etc/jembatan/crl",
            "tls.crls[0]",
        ),
        // The init container does not copy a key the config names.
        (
            "deployment.yaml",
            "            - /run/jembatan/secrets/personal-data.key\n",
            "",
            "placements.key",
        ),
        // A Secret's key or a ConfigMap that the manifests lack.
        (
            "site/site-material.example.yaml",
            "  log.key: \"REPLACE",
            "  audit.key: \"REPLACE",
            "has no key log.key",
        ),
        (
            "site/site-material.example.yaml",
            "name: jembatan-crls",
            "name: jembatan-crl",
            "ConfigMap jembatan-crls is not in the manifests",
        ),
        // The probe's certificate is not mounted.
        (
            "deployment.yaml",
            "mountPath: /etc/jembatan/health-check\n",
            "mountPath: /etc/jembatan/probe\n",
            "readinessProbe --cert",
        ),
        // Security settings.
        ("deployment.yaml", "replicas: 2", "replicas: 1", "replicas"),
        (
            "deployment.yaml",
            "runAsNonRoot: true\n        runAsUser",
            "runAsNonRoot: false\n        runAsUser",
            "runAsNonRoot",
        ),
        (
            "deployment.yaml",
            "type: RuntimeDefault",
            "type: Unconfined",
            "seccompProfile",
        ),
        (
            "poddisruptionbudget.yaml",
            "minAvailable: 1",
            "minAvailable: 0",
            "minAvailable",
        ),
        (
            "networkpolicy.yaml",
            "port: 5432",
            "port: 5433",
            "egress does not allow TCP 5432",
        ),
        // The pods migrate, or read the owner's URL.
        (
            "config.yaml",
            "migrate = false",
            "migrate = true",
            "store.migrate is true",
        ),
        (
            "deployment.yaml",
            "name: jembatan-store\n",
            "name: jembatan-store-owner\n",
            "Deployment jembatan (deployment.yaml) references the Secret jembatan-store-owner",
        ),
        // The Job: not the owner's URL, not migrating, not for the app role, not hardened.
        (
            "migrate-job.yaml",
            "name: jembatan-store-owner",
            "name: jembatan-store",
            "JEMBATAN_STORE_URL is not the Secret jembatan-store-owner's url",
        ),
        (
            "migrate-job.yaml",
            "- migrate\n",
            "- serve\n",
            "not `jembatan migrate`",
        ),
        (
            "migrate-job.yaml",
            "- jembatan_app",
            "- jembatan_owner",
            "--grant-to is Some(\"jembatan_owner\")",
        ),
        (
            "migrate-job.yaml",
            "- /etc/jembatan/config/jembatan.toml",
            "- /etc/jembatan/jembatan.toml",
            "the Job mounts nothing at /etc/jembatan",
        ),
        (
            "migrate-job.yaml",
            "type: RuntimeDefault",
            "type: Unconfined",
            "the Job's pod: seccompProfile",
        ),
        (
            "migrate-job.yaml",
            "runAsNonRoot: true\n        runAsUser",
            "runAsNonRoot: false\n        runAsUser",
            "the Job's pod does not set runAsNonRoot",
        ),
        (
            "migrate-job.yaml",
            "automountServiceAccountToken: false",
            "automountServiceAccountToken: true",
            "the Job's pod mounts a service account token",
        ),
        (
            "migrate-job.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
            "container migrate: readOnlyRootFilesystem",
        ),
        (
            "migrate-job.yaml",
            "drop: [\"ALL\"]",
            "drop: [\"NET_RAW\"]",
            "container migrate: capabilities do not drop ALL",
        ),
        (
            "migrate-job.yaml",
            "image: registry.example.go.id/jembatan:0.1.0",
            "image: registry.example.go.id/jembatan:0.0.9",
            "not the Deployment's",
        ),
        (
            "migrate-job.yaml",
            "app.kubernetes.io/name: jembatan-migrate",
            "app.kubernetes.io/name: jembatan",
            "the Service jembatan selects the Job's pod",
        ),
        (
            "networkpolicy.yaml",
            "podSelector:\n    matchLabels:\n      app.kubernetes.io/name: jembatan-migrate",
            "podSelector:\n    matchLabels:\n      app.kubernetes.io/name: jembatan-migrator",
            "no NetworkPolicy lets the Job's pod reach PostgreSQL",
        ),
    ] {
        let problems = edit(file, from, to);
        assert!(
            problems.iter().any(|p| p.contains(named)),
            "{file}: {from:?} → {to:?}: {problems:?}"
        );
    }
    let problems = edit(
        "deployment.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("readOnlyRootFilesystem")),
        "{problems:?}"
    );
    let problems = edit("deployment.yaml", "drop: [\"ALL\"]", "drop: [\"NET_RAW\"]");
    assert!(
        problems.iter().any(|p| p.contains("drop ALL")),
        "{problems:?}"
    );
}

/// The policies ConfigMap is deploy/policies and the health check's policy, file for file, and
/// that policy lets the health-check identity ask for health and nothing else.
#[test]
fn the_policies_configmap_is_deploy_policies_and_the_health_check_policy() {
    let objects = manifests();
    let configmap =
        find(&objects, "ConfigMap", "jembatan-policies").expect("ConfigMap jembatan-policies");
    let shipped = data_of(configmap);
    let mut expected = BTreeMap::new();
    for entry in std::fs::read_dir(repo_path("deploy/policies")).expect("deploy/policies") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        expected.insert(
            name,
            Some(std::fs::read_to_string(entry.path()).expect("a policy file")),
        );
    }
    expected.insert("monitoring.cedar".to_owned(), Some(read(MONITORING_POLICY)));
    let names = |map: &BTreeMap<String, Option<String>>| map.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&shipped),
        names(&expected),
        "files of the ConfigMap jembatan-policies"
    );
    for (name, text) in &expected {
        assert!(
            shipped.get(name) == Some(text),
            "{KUBERNETES}/policies.yaml: {name} differs from its file: remake it as its header says"
        );
    }

    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in &shipped {
        std::fs::write(dir.path().join(name), text.as_deref().unwrap_or("")).expect("write");
    }
    let engine =
        Engine::new(Policies::load_dir(dir.path()).expect("the ConfigMap's policies validate"))
            .expect("engine");
    let monitoring = PrincipalKind::Agency {
        agency: "monitoring".into(),
        system: "health-check".into(),
    };
    let now = time::OffsetDateTime::now_utc();
    for (action, allowed) in [
        (jembatan_policy::HEALTH_CHECK, true),
        (jembatan_policy::REFLECTION_READ, false),
    ] {
        let decision = engine
            .decide_service(&ServiceQuery {
                principal: &monitoring,
                action,
                time: now,
            })
            .expect("decide");
        assert_eq!(decision.allowed, allowed, "{action}");
    }
    let policies = engine.current();
    for action in policies.action_names() {
        for purpose in Purpose::ALL {
            for legal_basis in LegalBasis::ALL {
                let query = Query {
                    principal: &monitoring,
                    action,
                    purpose,
                    legal_basis,
                    time: now,
                };
                let decision = engine.decide(&query).expect("decide");
                assert!(
                    !decision.allowed,
                    "the health-check identity may {action} for {purpose}"
                );
            }
        }
    }
}

/// `deploy/postgres/roles.sql`, run once in this process (as tests/pg_roles.rs does: the roles
/// belong to the whole cluster, and the script is idempotent).
static ROLES: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// A new database made as `deploy/postgres/README.md` says: the two roles, then the database
/// owned by jembatan_owner (`database.sql`), not yet migrated.
async fn database_for_roles() -> PgDatabase {
    let database = PgDatabase::create().await;
    ROLES
        .get_or_init(|| run_script(&database.url, "deploy/postgres/roles.sql"))
        .await;
    run_script(&database.url, "deploy/postgres/database.sql").await;
    database
}

/// Runs a script of the repository as the test server's administrator.
async fn run_script(url: &str, script: &str) {
    use sqlx::Connection;
    let text = read(script);
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(text))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"));
}

/// `url` logging in as `role`, without a password (the test server trusts local logins).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}@{host}")
}

/// The pod in a folder, as the kubelet lays it out (Secret files mode 0440 under fsGroup), the
/// init container's copy run, and the two replicas started from the ConfigMap's config on one
/// PostgreSQL database, logged in as jembatan_app: they refuse to start until the Job's
/// command has migrated and granted as jembatan_owner, then the probes' command gets SERVING
/// from each, and its identity reads nothing.
#[tokio::test]
async fn the_pods_serve_from_their_mounts() {
    let material = Material::new();
    let database = database_for_roles().await;
    let (owner_url, app_url) = (
        as_role(&database.url, OWNER_ROLE),
        as_role(&database.url, APP_ROLE),
    );
    let objects = manifests();
    let pod = Pod::of(&objects).expect("the Deployment");
    let job = MigrateJob::of(&objects).expect("the migrations Job");
    let root = tempfile::tempdir().expect("tempdir");
    let root = root.path();

    // The site's material, by object and key; everything else is the manifests' own text.
    let site = |kind: &str, name: &str, key: &str| -> Option<Vec<u8>> {
        let file = |relative: &str| material.file(relative);
        Some(match (kind, name, key) {
            ("Secret", "jembatan-tls", "tls.crt") => file("server.pem"),
            ("Secret", "jembatan-tls", "tls.key") => file("server-key.pem"),
            ("Secret", "jembatan-keys", "log.key") => file("audit/log.key"),
            ("Secret", "jembatan-keys", "personal-data.key") => file("keys/personal-data.key"),
            ("Secret", "jembatan-health-check", "tls.crt") => {
                material.health_check.0.clone().into_bytes()
            }
            ("Secret", "jembatan-health-check", "tls.key") => {
                material.health_check.1.clone().into_bytes()
            }
            ("Secret", "jembatan-health-check", "ca.crt")
            | ("ConfigMap", "jembatan-client-ca", "ca.pem") => file("ca.pem"),
            ("ConfigMap", "jembatan-crls", "crl.pem") => file("crl.pem"),
            _ => return None,
        })
    };
    let containers: Vec<&Yaml> = ["initContainers", "containers"]
        .into_iter()
        .flat_map(|field| pod.spec[field].as_vec().into_iter().flatten())
        .collect();
    let mut laid_out = BTreeSet::new();
    for container in &containers {
        for mount in mounts_of(container) {
            if !laid_out.insert(mount.path.clone()) {
                continue;
            }
            let folder = under(root, &mount.path);
            let files = pod
                .volumes
                .get(&mount.volume)
                .cloned()
                .flatten()
                .expect("a known volume");
            make_dir(&folder, if mount.read_only { 0o755 } else { 0o770 });
            for (file, origin) in files {
                let Origin::Object {
                    kind,
                    name,
                    key,
                    mode,
                } = origin
                else {
                    continue; // made by the init container
                };
                let contents = site(&kind, &name, &key).unwrap_or_else(|| {
                    let object = find(&objects, &kind, &name).expect("object");
                    let text = data_of(object).remove(&key).flatten().expect("text");
                    assert!(
                        !text.starts_with("REPLACE"),
                        "{kind} {name} {key}: no test material for it"
                    );
                    text.into_bytes()
                });
                write_file(&folder.join(file), &contents, mode);
            }
        }
    }
    let (mut config, _) = pod.config(&objects).expect("the pods' config");
    assert!(!config.store.migrate, "the pods' config migrates");
    // The Secret jembatan-store's URL: jembatan_app's login.
    config.store.url = app_url;
    rebase(&mut config, root);
    config.identity.trust_domain = jembatan_tests::TRUST_DOMAIN.into();

    // The keys as the kubelet leaves them: refused.
    let mut as_mounted = config.clone();
    as_mounted.tls.key = under(root, Path::new("/run/jembatan/secrets/server-key.pem"));
    let refused = Exchange::bind(&as_mounted)
        .await
        .err()
        .expect("a key of mode 0440 must be refused");
    assert!(refused.to_string().contains("tls.key"), "{refused}");

    for init in pod.spec["initContainers"].as_vec().into_iter().flatten() {
        let command = command_of(init, "command");
        let words: Vec<&str> = command.iter().map(String::as_str).collect();
        run_inside(root, &words, None);
    }

    // Before the Job, the pods refuse to start, naming the command the Job runs.
    let pending = Exchange::bind(&config)
        .await
        .err()
        .expect("an exchange that may not migrate must refuse a database behind its version");
    assert!(
        format!("{pending:#}").contains("jembatan migrate"),
        "{pending:#}"
    );

    // The Job's command, as `jembatan migrate --config F --grant-to ROLE` runs it: the Job's
    // config with JEMBATAN_STORE_URL from the Secret jembatan-store-owner (the owner's login).
    assert_eq!(job.args.first().map(String::as_str), Some("migrate"));
    let job_config = Config::parse(
        &job.config_text(&objects).expect("the Job's config"),
        [("JEMBATAN_STORE_URL".to_owned(), owner_url)],
        Path::new("/etc/jembatan/config"),
    )
    .expect("the Job's config parses");
    let location = jembatan_store::StoreLocation::parse(&job_config.store.url).expect("location");
    let applied = jembatan_store::migrate(&location)
        .await
        .expect("migrate as jembatan_owner");
    assert!(
        !applied.is_empty(),
        "a new database has migrations to apply"
    );
    let grantee = jembatan_store::grants::RoleName::parse(
        job.flag("--grant-to").expect("the Job's --grant-to"),
    )
    .expect("a role name");
    jembatan_store::grants::grant_exchange_privileges(&location, &grantee)
        .await
        .expect("grant jembatan_app its privileges as jembatan_owner");

    let replicas = [
        RunningExchange::start(&config).await,
        RunningExchange::start(&config).await,
    ];
    let command = pod.probe("readinessProbe").expect("readinessProbe");
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    for replica in &replicas {
        let (client, status) = probe(&replica.url(), &words, root).await;
        assert_eq!(status, ServingStatus::Serving);
        reads_nothing(&client).await;
    }
    for replica in replicas {
        replica.stop().await;
    }
}
