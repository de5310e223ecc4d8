//! Configuration as data: the serde types of every section and their layering (embedded
//! defaults, then the `--config` file, then `CENTINELA__*` variables). Each section's owner
//! checks its values (`app::plan` gathers them); this module imports no other of the crate.

pub mod check;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use figment::providers::{Format as _, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;

pub use check::{read_secret_file, split_host_port, ConfigError, Problems};

/// The defaults, also the documented reference of every key.
pub const DEFAULTS: &str = include_str!("defaults.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub postgres: PostgresConfig,
    pub schedule: ScheduleConfig,
    pub host: HostConfig,
    pub certs: CertsConfig,
    #[serde(default)]
    pub backups: Vec<BackupConfig>,
    pub pgbackrest: PgBackRestConfig,
    pub redis: RedisConfig,
    pub files: FilesConfig,
    #[serde(default)]
    pub probes: Vec<ProbeConfig>,
    pub textfile: TextfileConfig,
    pub alerting: AlertingConfig,
}

/// The alerting engine: Prometheus rule files evaluated over the snapshot.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    pub enabled: bool,
    /// Rule files or globs (Prometheus rule-group YAML); empty: the built-in pack.
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub evaluation_interval: Duration,
    /// How far back range functions may look.
    #[serde(with = "humantime_serde")]
    pub history: Duration,
    /// Points kept in the history at most, over all series (16 bytes each).
    pub history_max_points: usize,
    /// Labels added to every alert (`instance`, `cluster`, ...), as Prometheus' external labels.
    #[serde(default)]
    pub external_labels: std::collections::BTreeMap<String, String>,
    /// Alert state and the delivery queue (`centinela.db`, SQLite) survive restarts here.
    pub state_dir: PathBuf,
    /// While this file exists, every alert but P0 is held back (the seeds' maintenance mode).
    #[serde(default)]
    pub maintenance_file: Option<PathBuf>,
    /// Prefix for `runbook_url` annotations that are not absolute URLs.
    #[serde(default)]
    pub runbook_base_url: String,
    /// This sidecar's URL as people reach it: `generatorURL`, PagerDuty `client_url`.
    #[serde(default)]
    pub external_url: String,
    /// Route defaults (Alertmanager's): labels that make one notification group.
    pub group_by: Vec<String>,
    /// Wait before the first notification of a new group, so alerts arriving together go together.
    #[serde(with = "humantime_serde")]
    pub group_wait: Duration,
    /// Wait before notifying changes to a group already notified.
    #[serde(with = "humantime_serde")]
    pub group_interval: Duration,
    /// Re-send a still-firing group after this long.
    #[serde(with = "humantime_serde")]
    pub repeat_interval: Duration,
    /// Longest pause between delivery retries (backoff doubles from 1s up to this).
    #[serde(with = "humantime_serde")]
    pub max_retry_backoff: Duration,
    /// The built-in inhibition: `PostgresqlDown` (pending or firing) holds back the
    /// `component="postgresql"` alerts with the same `instance`.
    pub inhibit_when_postgresql_down: bool,
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Matched in order; empty: P0/P1 to every receiver, P2/P3 to those without PagerDuty.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Silences known before start-up (more can be added with `POST /api/v1/silences`).
    #[serde(default)]
    pub silences: Vec<SilenceConfig>,
}

/// A named destination with one or more integrations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    #[serde(default)]
    pub pagerduty: Option<PagerDutyConfig>,
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

fn yes() -> bool {
    true
}
fn default_send_timeout() -> Duration {
    Duration::from_secs(10)
}
fn slack_min_interval() -> Duration {
    Duration::from_secs(1)
}
fn pagerduty_min_interval() -> Duration {
    Duration::from_millis(500)
}
fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}
fn default_max_alerts() -> usize {
    10
}
fn default_resend_interval() -> Duration {
    Duration::from_secs(60)
}

/// Slack incoming webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The webhook URL (a secret: it is the credential).
    #[serde(default)]
    pub webhook_url: Option<SecretString>,
    #[serde(default)]
    pub webhook_url_file: Option<PathBuf>,
    /// A non-secret endpoint instead of the webhook URL (a proxy, a test receiver).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Alerts listed one by one in a message; the rest are summarised in one line.
    #[serde(default = "default_max_alerts")]
    pub max_alerts: usize,
    /// Slack allows about one message per second per webhook.
    #[serde(default = "slack_min_interval", with = "humantime_serde")]
    pub min_interval: Duration,
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// PagerDuty Events API v2.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    #[serde(default)]
    pub routing_key: Option<SecretString>,
    #[serde(default)]
    pub routing_key_file: Option<PathBuf>,
    /// Events endpoint; `https://events.eu.pagerduty.com/v2/enqueue` for the EU region.
    #[serde(default = "default_pagerduty_url")]
    pub url: String,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// About 120 events per minute are allowed per integration key.
    #[serde(default = "pagerduty_min_interval", with = "humantime_serde")]
    pub min_interval: Duration,
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Forwarding to an Alertmanager (API v2), the way Prometheus does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    /// Firing alerts are re-sent this often; resolved ones for 15 minutes.
    #[serde(default = "default_resend_interval", with = "humantime_serde")]
    pub resend_interval: Duration,
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// A generic webhook receiving Alertmanager's webhook JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub url: Option<SecretString>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Alerts per message; 0 is no limit (`truncatedAlerts` counts the rest).
    #[serde(default)]
    pub max_alerts: usize,
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Which alerts go to which receivers (Alertmanager's route, flattened).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Alertmanager matchers, all must match: `severity=~"P0|P1"`, `alertname!=Watchdog`.
    #[serde(default)]
    pub matchers: Vec<String>,
    pub receivers: Vec<String>,
    /// Go on matching the next routes after this one.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    #[serde(default, with = "humantime_serde")]
    pub group_wait: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub group_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub repeat_interval: Option<Duration>,
}

/// While a source alert fires, target alerts with equal `equal` labels are held back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A silence: alerts matching every matcher are held back between the two times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceConfig {
    pub matchers: Vec<String>,
    /// RFC 3339; empty: from start-up.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339.
    pub ends_at: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_by: String,
}

/// Intervals of the collectors other than PostgreSQL's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(with = "humantime_serde")]
    pub certs: Duration,
    #[serde(with = "humantime_serde")]
    pub host: Duration,
    #[serde(with = "humantime_serde")]
    pub backups: Duration,
    #[serde(with = "humantime_serde")]
    pub pgbackrest: Duration,
    #[serde(with = "humantime_serde")]
    pub redis: Duration,
    #[serde(with = "humantime_serde")]
    pub files: Duration,
    #[serde(with = "humantime_serde")]
    pub probes: Duration,
    #[serde(with = "humantime_serde")]
    pub textfile: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub enabled: bool,
    /// Filesystem types that are not disks.
    pub exclude_fstypes: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub statvfs_timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertsConfig {
    pub files: Vec<CertFilesConfig>,
    pub endpoints: Vec<CertEndpointConfig>,
    /// Read PostgreSQL's own certificate when the connection may use TLS.
    pub postgres: bool,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFilesConfig {
    /// Globs (`**` included); every certificate of every matching file is reported.
    pub paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEndpointConfig {
    /// `host:port`.
    pub address: String,
    /// SNI name; the host of `address` by default.
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub starttls: Option<StartTls>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    /// PostgreSQL's SSLRequest before the TLS handshake.
    Postgres,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub name: String,
    pub path: PathBuf,
    /// Glob on file names; every regular file when absent.
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgBackRestConfig {
    pub enabled: bool,
    pub command: String,
    pub args: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`; a secret (it may hold a password).
    #[serde(default)]
    pub url: Option<SecretString>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    pub key_patterns: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub scan_budget: Duration,
    pub scan_count: u32,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl RedisConfig {
    pub fn enabled(&self) -> bool {
        self.url.is_some() || self.url_file.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    pub stale: Vec<StaleFilesConfig>,
    pub logs: Vec<LogConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleFilesConfig {
    pub name: String,
    /// Directory searched, recursively, like `find`.
    pub path: PathBuf,
    /// Glob on file names.
    pub pattern: String,
    #[serde(with = "humantime_serde")]
    pub older_than: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub name: String,
    /// Path with strftime fields (`%Y-%m-%d`), resolved in local time: today's file.
    pub path: String,
    /// Regular expression matched against each line.
    pub pattern: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    pub name: String,
    pub url: String,
    #[serde(default = "default_probe_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_probe_timeout() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextfileConfig {
    #[serde(default)]
    pub directory: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address of the HTTP server.
    pub listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connection string; a secret, never printed.
    pub dsn: Option<SecretString>,
    /// File holding the connection string (a mounted Secret).
    pub dsn_file: Option<PathBuf>,
    /// Interval of the fast collector (activity, locks, archiver, replication).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Interval of the tables collector (tables, indexes, sizes, statements).
    #[serde(with = "humantime_serde")]
    pub slow_interval: Duration,
    /// Set on every session; unset: see [`PostgresConfig::statement_timeout`].
    #[serde(default, with = "humantime_serde")]
    pub statement_timeout: Option<Duration>,
    /// Set on every session; unset: see [`PostgresConfig::lock_timeout`].
    #[serde(default, with = "humantime_serde")]
    pub lock_timeout: Option<Duration>,
    /// Hard cap on the sessions centinela opens.
    pub max_connections: u32,
    /// Databases to visit; `"*"` discovers every database that allows connections.
    pub databases: Vec<String>,
    pub exclude_databases: Vec<String>,
    pub max_tables_per_database: usize,
    pub unused_index_max_scans: i64,
    pub unused_index_min_size: ByteSize,
    pub bloat_min_dead_ratio: f64,
    pub bloat_min_dead_tuples: i64,
    #[serde(with = "humantime_serde")]
    pub slow_statement_threshold: Duration,
    pub slow_statement_limit: u32,
}

impl PostgresConfig {
    /// The usual `statement_timeout` when none is set.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The usual `lock_timeout` when none is set.
    pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(1);

    /// The `statement_timeout` in force. Unset, it follows `interval`: 5s when that is
    /// shorter than the interval, else half the interval, and never shorter than a
    /// `lock_timeout` that is set (while that stays under the interval). So a short
    /// `interval` alone is never refused because of a default.
    #[must_use]
    pub fn statement_timeout(&self) -> Duration {
        if let Some(t) = self.statement_timeout {
            return t;
        }
        let derived = if Self::DEFAULT_STATEMENT_TIMEOUT < self.interval {
            Self::DEFAULT_STATEMENT_TIMEOUT
        } else {
            self.interval / 2
        };
        match self.lock_timeout {
            Some(lock) if lock > derived && lock < self.interval => lock,
            _ => derived,
        }
    }

    /// The `lock_timeout` in force. Unset: 1s, or the statement timeout when that is
    /// shorter.
    #[must_use]
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
            .unwrap_or_else(|| Self::DEFAULT_LOCK_TIMEOUT.min(self.statement_timeout()))
    }
}

/// Where configuration comes from: the file and the process environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub file: Option<PathBuf>,
    /// Environment variables; only `CENTINELA__*` are read here.
    pub env: BTreeMap<String, String>,
}

impl Sources {
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars()
                .filter(|(k, _)| k.starts_with("CENTINELA__"))
                .collect(),
        }
    }
}

impl Config {
    /// Parses the layers into the section types; every problem is returned, each naming its
    /// key. Values are checked by their owners afterwards (`app::plan`).
    pub fn load(sources: &Sources) -> Result<Self, Vec<ConfigError>> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(path) = &sources.file {
            if !path.is_file() {
                return Err(vec![ConfigError::new(
                    "--config",
                    format!("file {} does not exist or is not a file", path.display()),
                )]);
            }
            figment = figment.merge(Toml::file(path));
        }
        Self::finish(&figment.merge(env_provider(&sources.env)))
    }

    /// Parses a TOML string on top of the defaults (tests).
    pub fn from_toml(toml: &str) -> Result<Self, Vec<ConfigError>> {
        Self::finish(&Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(toml)))
    }

    fn finish(figment: &Figment) -> Result<Self, Vec<ConfigError>> {
        figment.extract().map_err(|e| figment_errors(&e))
    }
}

/// `CENTINELA__POSTGRES__MAX_CONNECTIONS=3` becomes `postgres.max_connections = 3`; values
/// are parsed like TOML values where they can be (numbers, booleans, arrays), else strings.
fn env_provider(env: &BTreeMap<String, String>) -> EnvMap {
    EnvMap(
        env.iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("CENTINELA__")?.to_owned(), v.clone())))
            .collect(),
    )
}

/// Figment's `Env` only reads the process environment; this provider reads a map, so tests
/// never touch the process environment.
struct EnvMap(Vec<(String, String)>);

impl figment::Provider for EnvMap {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable(s)")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (key, raw) in &self.0 {
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            let value: figment::value::Value = raw.parse().unwrap_or_else(|_| raw.clone().into());
            insert_path(&mut dict, &path, value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn insert_path(dict: &mut figment::value::Dict, path: &[String], value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

fn figment_errors(err: &figment::Error) -> Vec<ConfigError> {
    err.clone()
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "(root)".to_owned()
            } else {
                e.path.join(".")
            };
            let source = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (from {s})"))
                .or_else(|| e.metadata.as_ref().map(|m| format!(" (from {})", m.name)))
                .unwrap_or_default();
            ConfigError::new(key, format!("{}{source}", e.kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn load_with(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, Vec<ConfigError>> {
        let dir = tempfile::tempdir().unwrap();
        let file = toml.map(|t| {
            let p = dir.path().join("c.toml");
            std::fs::write(&p, t).unwrap();
            p
        });
        Config::load(&Sources {
            file,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    fn messages(errs: &[ConfigError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn defaults_load_without_a_file() {
        let c = load_with(None, &[]).unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:9432");
        assert_eq!(c.postgres.interval, Duration::from_secs(15));
        assert_eq!(c.postgres.slow_interval, Duration::from_secs(300));
        assert_eq!(c.postgres.max_connections, 2);
        assert_eq!(c.postgres.unused_index_min_size, ByteSize::mib(10));
        assert!(c.postgres.dsn.is_none());
    }

    #[test]
    fn file_then_env_override() {
        let c = load_with(
            Some("[postgres]\ninterval = \"30s\"\nmax_connections = 3\n"),
            &[
                ("CENTINELA__POSTGRES__MAX_CONNECTIONS", "1"),
                ("CENTINELA__POSTGRES__DSN", "postgres://u:pw@h/db"),
                ("CENTINELA__POSTGRES__DATABASES", "[\"app\", \"other\"]"),
            ],
        )
        .unwrap();
        assert_eq!(c.postgres.interval, Duration::from_secs(30));
        assert_eq!(c.postgres.max_connections, 1);
        assert_eq!(
            c.postgres.dsn.unwrap().expose_secret(),
            "postgres://u:pw@h/db"
        );
        assert_eq!(c.postgres.databases, ["app", "other"]);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = messages(&load_with(Some("[postgres]\nintervall = \"5s\"\n"), &[]).unwrap_err());
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("postgres") && e[0].contains("intervall"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_env_key_is_named() {
        let e = messages(&load_with(None, &[("CENTINELA__POSTGRES__NOPE", "1")]).unwrap_err());
        assert!(e[0].contains("nope"), "{e:?}");
    }

    #[test]
    fn wrong_type_and_bad_duration_are_named() {
        let e =
            messages(&load_with(Some("[postgres]\nmax_connections = \"two\"\n"), &[]).unwrap_err());
        assert!(e[0].starts_with("postgres.max_connections:"), "{e:?}");
        let e =
            messages(&load_with(Some("[postgres]\ninterval = \"15 parsecs\"\n"), &[]).unwrap_err());
        assert!(e[0].starts_with("postgres.interval:"), "{e:?}");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let e = Config::load(&Sources {
            file: Some("/nonexistent/centinela.toml".into()),
            env: BTreeMap::new(),
        })
        .unwrap_err();
        assert!(e[0].to_string().contains("/nonexistent/centinela.toml"));
    }

    #[test]
    fn example_config_parses() {
        let example = include_str!("../../examples/centinela.toml");
        Config::from_toml(example).unwrap();
    }
}
