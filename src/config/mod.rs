//! Configuration as data: the serde types of every section and their layering (embedded
//! defaults, then the `--config` file, then `CENTINELA__*` variables). Each section's owner
//! checks its values (`app::plan` gathers them); this module imports no other of the crate.

pub mod check;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use figment::providers::{Format as _, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;

pub use check::{read_secret_file, split_host_port, ConfigError, Problems};

/// The documented defaults of the sections this module owns (`[server]`, `[alerting]`);
/// each collector's come from its own file (`centinela defaults` prints them all).
pub const DEFAULTS: &str = include_str!("defaults.toml");

/// The sections that belong to no collector: the HTTP server, the collectors' schedule
/// and alerting. Other top-level keys are the collectors' (see [`unknown_keys`]).
#[derive(Debug, Deserialize)]
pub struct Core {
    /// `[server]`.
    pub server: ServerConfig,
    /// Collector name → interval, for the collectors without an interval of their own.
    #[serde(default, deserialize_with = "durations")]
    pub schedule: BTreeMap<String, Duration>,
    /// `[alerting]`.
    pub alerting: AlertingConfig,
}

fn durations<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Duration>, D::Error> {
    let map = BTreeMap::<String, humantime_serde::Serde<Duration>>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.into_inner())).collect())
}

/// The alerting engine: Prometheus rule files evaluated over the snapshot.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Evaluate rules and notify; off: no engine, no delivery workers.
    pub enabled: bool,
    /// Rule files or globs (Prometheus rule-group YAML); empty: the built-in pack.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// How often the rules are evaluated (Prometheus' `evaluation_interval`).
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
    /// Where notifications go.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Matched in order; empty: P0/P1 to every receiver, P2/P3 to those without PagerDuty.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Alertmanager's `inhibit_rules`, besides the built-in one.
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Silences known before start-up (more can be added with `POST /api/v1/silences`).
    #[serde(default)]
    pub silences: Vec<SilenceConfig>,
    /// Silences added through the API and not yet ended, at most.
    pub max_silences: usize,
    /// Size of one silence (matchers, comment and author, as JSON), at most.
    pub max_silence_bytes: bytesize::ByteSize,
}

/// A named destination with one or more integrations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// What routes name it by; unique.
    pub name: String,
    /// A Slack incoming webhook.
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    /// A PagerDuty Events API v2 integration.
    #[serde(default)]
    pub pagerduty: Option<PagerDutyConfig>,
    /// An Alertmanager to forward alerts to.
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
    /// A URL receiving Alertmanager's webhook JSON.
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
/// Slack incoming webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The webhook URL (a secret: it is the credential).
    #[serde(default)]
    pub webhook_url: Option<SecretString>,
    /// A file holding the webhook URL (a mounted Secret).
    #[serde(default)]
    pub webhook_url_file: Option<PathBuf>,
    /// A non-secret endpoint instead of the webhook URL (a proxy, a test receiver).
    #[serde(default)]
    pub url: Option<String>,
    /// Also tell it when a group's alerts resolve.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Alerts listed one by one in a message; the rest are summarised in one line.
    #[serde(default = "default_max_alerts")]
    pub max_alerts: usize,
    /// Slack allows about one message per second per webhook.
    #[serde(default = "slack_min_interval", with = "humantime_serde")]
    pub min_interval: Duration,
    /// Per delivery attempt.
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// PagerDuty Events API v2.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The integration's routing key (32 characters; a secret).
    #[serde(default)]
    pub routing_key: Option<SecretString>,
    /// A file holding the routing key.
    #[serde(default)]
    pub routing_key_file: Option<PathBuf>,
    /// Events endpoint; `https://events.eu.pagerduty.com/v2/enqueue` for the EU region.
    #[serde(default = "default_pagerduty_url")]
    pub url: String,
    /// Also tell it when a group's alerts resolve.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// About 120 events per minute are allowed per integration key.
    #[serde(default = "pagerduty_min_interval", with = "humantime_serde")]
    pub min_interval: Duration,
    /// Per delivery attempt.
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Forwarding to an Alertmanager (API v2), the way Prometheus does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://alertmanager:9093`.
    #[serde(default)]
    pub url: Option<String>,
    /// Every peer of an Alertmanager cluster, instead of `url`: each alert goes to all of
    /// them, as Prometheus sends it, and the cluster notifies once.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Firing alerts are re-sent this often; resolved ones for 15 minutes.
    #[serde(default = "default_resend_interval", with = "humantime_serde")]
    pub resend_interval: Duration,
    /// Per delivery attempt.
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// A generic webhook receiving Alertmanager's webhook JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL (a secret: it may carry a token).
    #[serde(default)]
    pub url: Option<SecretString>,
    /// A file holding the URL.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// Also tell it when a group's alerts resolve.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Alerts per message; 0 is no limit (`truncatedAlerts` counts the rest).
    #[serde(default)]
    pub max_alerts: usize,
    /// Per delivery attempt.
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
    /// Receivers the matching alerts go to.
    pub receivers: Vec<String>,
    /// Go on matching the next routes after this one.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// This route's grouping labels; unset: `alerting.group_by`.
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    /// Unset: `alerting.group_wait`.
    #[serde(default, with = "humantime_serde")]
    pub group_wait: Option<Duration>,
    /// Unset: `alerting.group_interval`.
    #[serde(default, with = "humantime_serde")]
    pub group_interval: Option<Duration>,
    /// Unset: `alerting.repeat_interval`.
    #[serde(default, with = "humantime_serde")]
    pub repeat_interval: Option<Duration>,
}

/// While a source alert fires, target alerts with equal `equal` labels are held back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Matchers an inhibiting alert must meet (it must fire).
    pub source_matchers: Vec<String>,
    /// Matchers the held-back alerts meet.
    pub target_matchers: Vec<String>,
    /// Labels whose values source and target share.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A silence: alerts matching every matcher are held back between the two times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceConfig {
    /// Alertmanager matchers, all of which an alert must meet.
    pub matchers: Vec<String>,
    /// RFC 3339; empty: from start-up.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339.
    pub ends_at: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// Who.
    #[serde(default)]
    pub created_by: String,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address of the HTTP server.
    pub listen: String,
    /// exporter-toolkit's web configuration file (TLS, basic auth, headers, rate limit);
    /// `--web.config.file` overrides it.
    #[serde(default)]
    pub web_config_file: Option<PathBuf>,
    /// A second, plain-HTTP listener serving only `/health` and `/ready`, for probes that
    /// cannot log in or present a client certificate.
    #[serde(default)]
    pub probe_listen: Option<String>,
    /// Paths served without authentication when the web configuration asks for it.
    pub unauthenticated_paths: Vec<String>,
    /// Connections open at once, at most.
    pub max_connections: usize,
    /// Connections open at once from one client address, at most.
    pub max_connections_per_client: usize,
    /// Time a connection has to finish its TLS handshake and send a request's headers,
    /// including the wait for the next request on a kept-alive connection.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Request bodies larger than this are refused.
    pub max_request_body: bytesize::ByteSize,
    /// `/metrics` responses being sent at once, at most.
    pub max_concurrent_scrapes: usize,
}

/// Where configuration comes from: the file and the process environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// The `--config` file; none: defaults and environment only.
    pub file: Option<PathBuf>,
    /// Environment variables; only `CENTINELA__*` are read here.
    pub env: BTreeMap<String, String>,
}

impl Sources {
    /// `file` and this process's `CENTINELA__*` variables.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars()
                .filter(|(k, _)| k.starts_with("CENTINELA__"))
                .collect(),
        }
    }
}

/// Variables of the command line itself (`CENTINELA_CONFIG`, ...) and of the scripts; any
/// other `CENTINELA_` variable with one underscore is a setting written wrong.
const COMMAND_VARIABLES: &[&str] = &[
    "CENTINELA_CONFIG",
    "CENTINELA_LOG_FORMAT",
    "CENTINELA_WEB_CONFIG_FILE",
    "CENTINELA_BIN",
    "CENTINELA_DEMO_PORT",
];

/// A warning for each `CENTINELA_` variable that sets nothing: settings are
/// `CENTINELA__SECTION__KEY`, with two underscores after `CENTINELA`.
pub fn stray_variables<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = names
        .filter(|n| n.starts_with("CENTINELA_") && !n.starts_with("CENTINELA__"))
        .filter(|n| !COMMAND_VARIABLES.contains(n))
        .map(|n| {
            let rest = n.trim_start_matches("CENTINELA_");
            format!(
                "{n} sets nothing: settings are CENTINELA__SECTION__KEY, with two underscores after CENTINELA (did you mean CENTINELA__{rest}?)"
            )
        })
        .collect();
    out.sort();
    out
}

/// The layers: `defaults` in order, then the `--config` file, then `CENTINELA__*`.
pub fn layered(defaults: &[&str], sources: &Sources) -> Result<Figment, Problems> {
    let mut figment = defaults
        .iter()
        .fold(Figment::new(), |f, d| f.merge(Toml::string(d)));
    if let Some(path) = &sources.file {
        if !path.is_file() {
            return Err(vec![ConfigError::new(
                "--config",
                format!("file {} does not exist or is not a file", path.display()),
            )]);
        }
        figment = figment.merge(Toml::file(path));
    }
    Ok(figment.merge(env_provider(&sources.env)))
}

/// `defaults` then a TOML string (tests and examples).
#[must_use]
pub fn layered_toml(defaults: &[&str], toml: &str) -> Figment {
    defaults
        .iter()
        .fold(Figment::new(), |f, d| f.merge(Toml::string(d)))
        .merge(Toml::string(toml))
}

/// One section of a TOML text, parsed (tests).
pub fn section_from_toml<T: serde::de::DeserializeOwned>(
    toml: &str,
    key: &str,
) -> Result<T, Problems> {
    Figment::from(Toml::string(toml))
        .extract_inner(key)
        .map_err(|e| figment_errors(&e))
}

/// Parses the layers into `T`; every problem, each naming its key.
pub fn extract<T: serde::de::DeserializeOwned>(figment: &Figment) -> Result<T, Problems> {
    figment.extract().map_err(|e| figment_errors(&e))
}

/// Keys whose values are secrets, by path (`*`: any index of an array).
const SECRET_PATHS: &[&str] = &[
    "postgres.dsn",
    "redis.url",
    "alerting.receivers.*.slack.webhook_url",
    "alerting.receivers.*.pagerduty.routing_key",
    "alerting.receivers.*.webhook.url",
];

/// Parts of key names that are secrets wherever they appear.
const SECRET_NAMES: &[&str] = &[
    "password",
    "secret",
    "token",
    "dsn",
    "routing_key",
    "webhook_url",
];

/// The effective configuration as TOML, every secret shown as `<secret>`: what the
/// configuration page shows.
#[must_use]
pub fn effective(figment: &Figment) -> String {
    let Ok(mut value) = figment.extract::<toml::Value>() else {
        return String::new();
    };
    mask(&mut value, &mut Vec::new());
    toml::to_string_pretty(&value).unwrap_or_default()
}

fn mask(value: &mut toml::Value, path: &mut Vec<String>) {
    let secret = |path: &[String]| {
        let leaf = path.last().map_or("", String::as_str);
        SECRET_NAMES.iter().any(|n| leaf.contains(n))
            || SECRET_PATHS.iter().any(|p| {
                let parts: Vec<&str> = p.split('.').collect();
                parts.len() == path.len()
                    && parts.iter().zip(path).all(|(a, b)| *a == "*" || a == b)
            })
    };
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                path.push(k.clone());
                if !v.is_table() && !v.is_array() && secret(path) {
                    *v = toml::Value::String("<secret>".into());
                } else {
                    mask(v, path);
                }
                path.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                path.push(i.to_string());
                mask(v, path);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Top-level keys that no owner takes (`known` are the owners' keys).
#[must_use]
pub fn unknown_keys(figment: &Figment, known: &[&str]) -> Problems {
    let keys: Vec<String> = figment
        .find_value("")
        .ok()
        .and_then(figment::value::Value::into_dict)
        .map(|d| d.into_keys().collect())
        .unwrap_or_default();
    keys.into_iter()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| ConfigError::new(k, format!("unknown section (known: {})", known.join(", "))))
        .collect()
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

    #[test]
    fn the_effective_configuration_masks_every_secret() {
        let figment = layered_toml(
            &[DEFAULTS],
            r#"
[postgres]
dsn = "postgres://u:hunter2@db/postgres"
[redis]
url = "redis://:redispw@r:6379"
[[alerting.receivers]]
name = "oncall"
pagerduty = { routing_key = "0123456789abcdef0123456789abcdef" }
slack = { webhook_url = "https://hooks.slack.com/services/T/B/X", url = "http://proxy" }
webhook = { url = "https://hook/?token=abc" }
"#,
        );
        let text = effective(&figment);
        for secret in [
            "hunter2",
            "redispw",
            "0123456789abcdef",
            "hooks.slack.com",
            "token=abc",
        ] {
            assert!(!text.contains(secret), "{secret} in:\n{text}");
        }
        assert!(text.contains("dsn = \"<secret>\""), "{text}");
        assert!(
            text.contains("url = \"http://proxy\""),
            "a non-secret stays: {text}"
        );
        assert!(text.contains("group_wait = \"30s\""), "{text}");
    }
}
