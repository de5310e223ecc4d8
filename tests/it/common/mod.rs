//! Shared test harness: PostgreSQL clusters, a running centinela, exposition parsing.

pub mod families;
pub mod pg;
pub mod prom;
pub mod receivers;
pub mod redis;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use centinela::app::Config;
use centinela::app::{self, Running};

pub use pg::PgCluster;

/// A config with the PostgreSQL section of `test_config`, the other collectors off unless
/// `extra` (TOML tables) turns them on, and their intervals at 1 s.
pub fn config_with(dsn: &str, extra: &str) -> Config {
    config_with_postgres(dsn, "", extra)
}

/// [`config_with`], with more keys in `[postgres]`.
pub fn config_with_postgres(dsn: &str, postgres: &str, extra: &str) -> Config {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\
         [postgres]\ndsn = \"{dsn}\"\ninterval = \"1s\"\nslow_interval = \"1s\"\n\
         statement_timeout = \"900ms\"\nlock_timeout = \"300ms\"\n{postgres}\n\
         [schedule]\ncerts = \"1s\"\nhost = \"1s\"\nbackups = \"1s\"\npgbackrest = \"1s\"\n\
         redis = \"1s\"\nfiles = \"1s\"\nprobes = \"1s\"\ntextfile = \"1s\"\n{extra}\n"
    );
    let config =
        Config::from_toml(&toml).unwrap_or_else(|e| panic!("test config invalid: {e:?}\n{toml}"));
    own_state_dir(config)
}

/// Tests never share the default `/var/lib/centinela`: unless the test chose a state
/// directory, each config gets a fresh one (kept until the process exits).
fn own_state_dir(mut config: Config) -> Config {
    if config.alerting.state_dir == std::path::Path::new("/var/lib/centinela") {
        config.alerting.state_dir = tempfile::tempdir().expect("temp dir").keep();
    }
    config
}

/// A config for tests: fast intervals, listening on a free port.
pub fn test_config(dsn: &str, extra_postgres: &str) -> Config {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\
         [postgres]\ndsn = \"{dsn}\"\ninterval = \"1s\"\nslow_interval = \"1s\"\n\
         statement_timeout = \"900ms\"\nlock_timeout = \"300ms\"\n{extra_postgres}\n"
    );
    own_state_dir(Config::from_toml(&toml).unwrap_or_else(|e| panic!("test config invalid: {e:?}")))
}

/// The basic auth user of [`web_config`] files.
pub const USER: &str = "ops";
/// Its password.
pub const PASSWORD: &str = "s3cret-pw";

/// Writes `web.yml` in `dir`: [`USER`] with a bcrypt hash of [`PASSWORD`] (cost 4, so the
/// tests stay fast), then `extra` YAML. Returns its path.
pub fn web_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let path = dir.join("web.yml");
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  {USER}: '{hash}'\n{extra}"),
    )
    .unwrap();
    path
}

pub struct App {
    pub running: Running,
    pub base: String,
    client: reqwest::Client,
}

impl App {
    pub async fn start(config: &Config) -> Self {
        let plan = app::plan(config).unwrap_or_else(|e| panic!("test config invalid: {e:?}"));
        let running = app::start(config, plan).await.expect("centinela starts");
        let base = format!("http://{}", running.local_addr);
        Self {
            running,
            base,
            client: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("HTTP request")
    }

    pub async fn metrics_text(&self) -> String {
        let r = self.get("/metrics").await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    pub async fn metrics(&self) -> Exposition {
        Exposition::parse(&self.metrics_text().await)
    }

    /// Polls /metrics until `pred` holds, panicking with the last exposition after `timeout`.
    pub async fn wait_metrics(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Exposition) -> bool,
    ) -> Exposition {
        let start = Instant::now();
        loop {
            let m = self.metrics().await;
            if pred(&m) {
                return m;
            }
            assert!(
                start.elapsed() <= timeout,
                "timed out after {timeout:?} waiting for {what}; last exposition:\n{}",
                m.raw
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// A parsed Prometheus text exposition.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub raw: String,
    pub samples: Vec<(String, BTreeMap<String, String>, f64)>,
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => (
                    name.to_owned(),
                    parse_labels(rest.strip_suffix('}').expect("}")),
                ),
            };
            samples.push((name, labels, value));
        }
        Self {
            raw: text.to_owned(),
            samples,
            types,
        }
    }

    /// Values of `name` whose labels include every matcher.
    pub fn values(&self, name: &str, matchers: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && matchers
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The single value of `name` matching `matchers`, if exactly one exists.
    pub fn get(&self, name: &str, matchers: &[(&str, &str)]) -> Option<f64> {
        match self.values(name, matchers).as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }

    pub fn names(&self) -> std::collections::BTreeSet<&str> {
        self.samples.iter().map(|(n, _, _)| n.as_str()).collect()
    }
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'));
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(name.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    out
}

/// `promtool check metrics` finds nothing wrong with `text`.
pub fn assert_promtool_ok(text: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Finds promtool or fails saying how to get it.
pub fn promtool() -> std::path::PathBuf {
    for p in ["/usr/bin/promtool", "/usr/local/bin/promtool"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("promtool not found: run scripts/test.sh, which installs Debian's prometheus package");
}
