//! Second phase of loading: cross-field and value checks, every problem at once.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::Config;

/// One configuration problem, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Checks values serde cannot. Secrets are never quoted in the messages.
pub fn validate(config: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: String| errors.push(ConfigError::new(key, msg));

    if config.server.listen.parse::<SocketAddr>().is_err() {
        err(
            "server.listen",
            format!(
                "expected an address like 0.0.0.0:9432, got {:?}",
                config.server.listen
            ),
        );
    }

    let pg = &config.postgres;
    let dsn = secret_problem(
        ("postgres.dsn", pg.dsn.as_ref()),
        ("postgres.dsn_file", pg.dsn_file.as_deref()),
        check_dsn,
    );
    if let Some(e) = dsn {
        err(&e.key, e.message);
    }

    for (key, value) in [
        ("postgres.interval", pg.interval),
        ("postgres.slow_interval", pg.slow_interval),
        ("postgres.statement_timeout", pg.statement_timeout),
        ("postgres.lock_timeout", pg.lock_timeout),
        (
            "postgres.slow_statement_threshold",
            pg.slow_statement_threshold,
        ),
    ] {
        if value.is_zero() {
            err(key, "must be greater than 0".into());
        }
    }
    if pg.interval < Duration::from_secs(1) && !pg.interval.is_zero() {
        err("postgres.interval", "must be at least 1s".into());
    }
    if pg.statement_timeout >= pg.interval && !pg.interval.is_zero() {
        err(
            "postgres.statement_timeout",
            format!(
                "must be shorter than postgres.interval ({}), or a slow statement delays the next run",
                humantime::format_duration(pg.interval)
            ),
        );
    }
    if pg.lock_timeout > pg.statement_timeout {
        err(
            "postgres.lock_timeout",
            "must not be longer than postgres.statement_timeout".into(),
        );
    }
    if pg.max_connections == 0 {
        err("postgres.max_connections", "must be at least 1".into());
    }
    if pg.databases.is_empty() {
        err(
            "postgres.databases",
            "must list at least one database, or \"*\"".into(),
        );
    }
    if pg.max_tables_per_database == 0 {
        err(
            "postgres.max_tables_per_database",
            "must be at least 1".into(),
        );
    }
    if pg.unused_index_max_scans < 0 {
        err(
            "postgres.unused_index_max_scans",
            format!("must be >= 0, got {}", pg.unused_index_max_scans),
        );
    }
    if !(0.0..=100.0).contains(&pg.bloat_min_dead_ratio) {
        err(
            "postgres.bloat_min_dead_ratio",
            format!("must be between 0 and 100, got {}", pg.bloat_min_dead_ratio),
        );
    }
    if pg.slow_statement_limit == 0 || pg.slow_statement_limit > 1000 {
        err(
            "postgres.slow_statement_limit",
            format!(
                "must be between 1 and 1000, got {}",
                pg.slow_statement_limit
            ),
        );
    }
    validate_others(config, &mut errors);
    validate_alerting(&config.alerting, &mut errors);
    if config.alerting.enabled {
        validate_notifications(&config.alerting, &mut errors);
    }
    errors
}

fn check_url(u: &str) -> Result<(), String> {
    match reqwest::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        Ok(_) => Err("must be an http or https URL".into()),
        Err(e) => Err(format!("is not a URL: {e}")),
    }
}

/// Receivers, routes, inhibition rules and silences.
fn validate_notifications(a: &super::AlertingConfig, errors: &mut Vec<ConfigError>) {
    use crate::alerting::matchers::Matcher;
    for (i, name) in duplicate_or_empty_names(a.receivers.iter().map(|r| r.name.as_str())) {
        let why = if name.is_empty() {
            "must not be empty".to_owned()
        } else {
            format!("{name:?} is used by an earlier receiver")
        };
        errors.push(ConfigError::new(
            format!("alerting.receivers[{i}].name"),
            why,
        ));
    }
    for (i, r) in a.receivers.iter().enumerate() {
        let at = |k: &str| format!("alerting.receivers[{i}].{k}");
        if r.slack.is_none()
            && r.pagerduty.is_none()
            && r.alertmanager.is_none()
            && r.webhook.is_none()
        {
            errors.push(ConfigError::new(
                at("name"),
                format!(
                    "receiver {:?} has no slack, pagerduty, alertmanager or webhook",
                    r.name
                ),
            ));
        }
        if let Some(s) = &r.slack {
            let given = [
                s.webhook_url.is_some(),
                s.webhook_url_file.is_some(),
                s.url.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if given != 1 {
                errors.push(ConfigError::new(
                    at("slack"),
                    "set exactly one of webhook_url, webhook_url_file or url",
                ));
            } else {
                errors.extend(secret_problem(
                    (&at("slack.webhook_url"), s.webhook_url.as_ref()),
                    (&at("slack.webhook_url_file"), s.webhook_url_file.as_deref()),
                    check_url,
                ));
            }
            if let Some(u) = &s.url {
                if let Err(e) = check_url(u) {
                    errors.push(ConfigError::new(at("slack.url"), e));
                }
            }
            if s.max_alerts == 0 || s.max_alerts > 40 {
                errors.push(ConfigError::new(
                    at("slack.max_alerts"),
                    "must be between 1 and 40 (Slack allows 50 blocks per message)",
                ));
            }
        }
        if let Some(p) = &r.pagerduty {
            if p.routing_key.is_none() && p.routing_key_file.is_none() {
                errors.push(ConfigError::new(
                    at("pagerduty"),
                    "set routing_key or routing_key_file",
                ));
            }
            errors.extend(secret_problem(
                (&at("pagerduty.routing_key"), p.routing_key.as_ref()),
                (
                    &at("pagerduty.routing_key_file"),
                    p.routing_key_file.as_deref(),
                ),
                |k: &str| {
                    if k.len() == 32 {
                        Ok(())
                    } else {
                        Err(format!(
                            "must be 32 characters (an Events API v2 integration key), got {}",
                            k.len()
                        ))
                    }
                },
            ));
            if let Err(e) = check_url(&p.url) {
                errors.push(ConfigError::new(at("pagerduty.url"), e));
            }
        }
        if let Some(w) = &r.webhook {
            if w.url.is_none() && w.url_file.is_none() {
                errors.push(ConfigError::new(at("webhook"), "set url or url_file"));
            }
            errors.extend(secret_problem(
                (&at("webhook.url"), w.url.as_ref()),
                (&at("webhook.url_file"), w.url_file.as_deref()),
                check_url,
            ));
        }
        if let Some(m) = &r.alertmanager {
            if let Err(e) = check_url(&m.url) {
                errors.push(ConfigError::new(at("alertmanager.url"), e));
            }
            if m.resend_interval < Duration::from_secs(1) {
                errors.push(ConfigError::new(
                    at("alertmanager.resend_interval"),
                    "must be at least 1s",
                ));
            }
        }
    }
    let known: Vec<&str> = a.receivers.iter().map(|r| r.name.as_str()).collect();
    let labels_ok = |key: String, names: &[String], errors: &mut Vec<ConfigError>| {
        for n in names {
            if n != "..." && !crate::promql::labels::is_label_name(n) {
                errors.push(ConfigError::new(
                    key.clone(),
                    format!("{n:?} is not a valid label name"),
                ));
            }
        }
    };
    let matchers_ok = |key: String, list: &[String], errors: &mut Vec<ConfigError>| {
        for (j, m) in list.iter().enumerate() {
            if let Err(e) = Matcher::parse(m) {
                errors.push(ConfigError::new(format!("{key}[{j}]"), e));
            }
        }
    };
    labels_ok("alerting.group_by".into(), &a.group_by, errors);
    for (i, r) in a.routes.iter().enumerate() {
        let at = |k: &str| format!("alerting.routes[{i}].{k}");
        matchers_ok(at("matchers"), &r.matchers, errors);
        if r.receivers.is_empty() {
            errors.push(ConfigError::new(
                at("receivers"),
                "must name at least one receiver",
            ));
        }
        for name in &r.receivers {
            if !known.contains(&name.as_str()) {
                errors.push(ConfigError::new(
                    at("receivers"),
                    format!(
                        "no receiver named {name:?} (configured: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        if let Some(g) = &r.group_by {
            labels_ok(at("group_by"), g, errors);
        }
    }
    for (i, r) in a.inhibit_rules.iter().enumerate() {
        let at = |k: &str| format!("alerting.inhibit_rules[{i}].{k}");
        matchers_ok(at("source_matchers"), &r.source_matchers, errors);
        matchers_ok(at("target_matchers"), &r.target_matchers, errors);
        if r.source_matchers.is_empty() || r.target_matchers.is_empty() {
            errors.push(ConfigError::new(
                at("source_matchers"),
                "source_matchers and target_matchers must not be empty",
            ));
        }
        labels_ok(at("equal"), &r.equal, errors);
    }
    let now = crate::time::system_time_ms(std::time::SystemTime::now());
    if let Err(problems) = crate::alerting::dispatch::config_silences(a, now) {
        for p in problems {
            let (key, msg) = p.split_once(": ").unwrap_or(("alerting.silences", &p));
            errors.push(ConfigError::new(key, msg));
        }
    }
    if a.group_interval < Duration::from_secs(1) {
        errors.push(ConfigError::new(
            "alerting.group_interval",
            "must be at least 1s",
        ));
    }
    if a.max_retry_backoff < Duration::from_secs(1) {
        errors.push(ConfigError::new(
            "alerting.max_retry_backoff",
            "must be at least 1s",
        ));
    }
}

fn validate_alerting(a: &super::AlertingConfig, errors: &mut Vec<ConfigError>) {
    if !a.enabled {
        return;
    }
    if a.evaluation_interval < Duration::from_secs(1) {
        errors.push(ConfigError::new(
            "alerting.evaluation_interval",
            "must be at least 1s",
        ));
    }
    if a.history_max_points < 1000 {
        errors.push(ConfigError::new(
            "alerting.history_max_points",
            "must be at least 1000",
        ));
    }
    for k in a.external_labels.keys() {
        if !crate::promql::labels::is_label_name(k) {
            errors.push(ConfigError::new(
                format!("alerting.external_labels.{k}"),
                "is not a valid label name",
            ));
        }
    }
    match crate::alerting::load_rules(&a.rule_files) {
        Ok(rules) => {
            if let Some((rule, back)) = rules.longest_range() {
                let history = crate::time::millis(a.history);
                if back > history {
                    errors.push(ConfigError::new(
                        "alerting.history",
                        format!(
                            "rule {rule:?} reads {}s back, more than the history of {}s",
                            back / 1000,
                            history / 1000
                        ),
                    ));
                }
            }
        }
        Err(problems) => errors.extend(
            problems
                .into_iter()
                .map(|p| ConfigError::new("alerting.rule_files", p)),
        ),
    }
}

/// The collectors around the database.
fn validate_others(config: &Config, errors: &mut Vec<ConfigError>) {
    let mut err = |key: String, msg: String| errors.push(ConfigError::new(key, msg));
    let s = &config.schedule;
    for (key, value) in [
        ("certs", s.certs),
        ("host", s.host),
        ("backups", s.backups),
        ("pgbackrest", s.pgbackrest),
        ("redis", s.redis),
        ("files", s.files),
        ("probes", s.probes),
        ("textfile", s.textfile),
    ] {
        if value < Duration::from_secs(1) {
            err(format!("schedule.{key}"), "must be at least 1s".into());
        }
    }
    for (i, f) in config.certs.files.iter().enumerate() {
        if f.paths.is_empty() {
            err(
                format!("certs.files[{i}].paths"),
                "must list at least one path or glob".into(),
            );
        }
        for (j, p) in f.paths.iter().enumerate() {
            if let Some(e) = glob_problem(format!("certs.files[{i}].paths[{j}]"), p) {
                err(e.key, e.message);
            }
        }
    }
    for (i, e) in config.certs.endpoints.iter().enumerate() {
        if split_host_port(&e.address).is_none() {
            err(
                format!("certs.endpoints[{i}].address"),
                format!("expected host:port, got {:?}", e.address),
            );
        }
    }
    for (i, name) in duplicate_or_empty_names(config.backups.iter().map(|x| x.name.as_str())) {
        err(
            format!("backups[{i}].name"),
            format!("must be non-empty and unique, got {name:?}"),
        );
    }
    for (i, b) in config.backups.iter().enumerate() {
        if let Some(e) = b
            .pattern
            .as_deref()
            .and_then(|p| glob_problem(format!("backups[{i}].pattern"), p))
        {
            err(e.key, e.message);
        }
    }
    let r = &config.redis;
    let url = secret_problem(
        ("redis.url", r.url.as_ref()),
        ("redis.url_file", r.url_file.as_deref()),
        |url| match redis::parse_redis_url(url) {
            Some(_) => Ok(()),
            None => Err("not a valid redis:// URL".into()),
        },
    );
    if let Some(e) = url {
        err(e.key, e.message);
    }
    if !r.enabled() && !r.key_patterns.is_empty() {
        err(
            "redis.key_patterns".into(),
            "needs redis.url or redis.url_file".into(),
        );
    }
    if r.scan_count == 0 {
        err("redis.scan_count".into(), "must be at least 1".into());
    }
    for (i, name) in duplicate_or_empty_names(config.files.stale.iter().map(|x| x.name.as_str())) {
        err(
            format!("files.stale[{i}].name"),
            format!("must be non-empty and unique, got {name:?}"),
        );
    }
    for (i, f) in config.files.stale.iter().enumerate() {
        if let Some(e) = glob_problem(format!("files.stale[{i}].pattern"), &f.pattern) {
            err(e.key, e.message);
        }
    }
    for (i, name) in duplicate_or_empty_names(config.files.logs.iter().map(|x| x.name.as_str())) {
        err(
            format!("files.logs[{i}].name"),
            format!("must be non-empty and unique, got {name:?}"),
        );
    }
    for (i, l) in config.files.logs.iter().enumerate() {
        if let Err(e) = regex::Regex::new(&l.pattern) {
            err(
                format!("files.logs[{i}].pattern"),
                format!("invalid regular expression: {e}"),
            );
        }
        if chrono::format::StrftimeItems::new(&l.path)
            .any(|i| matches!(i, chrono::format::Item::Error))
        {
            err(
                format!("files.logs[{i}].path"),
                format!("invalid strftime field in {:?}", l.path),
            );
        }
    }
    for (i, name) in duplicate_or_empty_names(config.probes.iter().map(|x| x.name.as_str())) {
        err(
            format!("probes[{i}].name"),
            format!("must be non-empty and unique, got {name:?}"),
        );
    }
    for (i, p) in config.probes.iter().enumerate() {
        match reqwest::Url::parse(&p.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => err(
                format!("probes[{i}].url"),
                format!("expected an http:// or https:// URL, got {:?}", p.url),
            ),
        }
        if p.timeout.is_zero() {
            err(
                format!("probes[{i}].timeout"),
                "must be greater than 0".into(),
            );
        }
    }
}

/// A secret given inline or in a file: both set, an unreadable file, or a value `check`
/// rejects. `check`'s reason never quotes the value, and neither does the message.
fn secret_problem(
    (key, value): (&str, Option<&SecretString>),
    (file_key, file): (&str, Option<&Path>),
    check: impl Fn(&str) -> Result<(), String>,
) -> Option<ConfigError> {
    let leaf = |k: &str| k.rsplit('.').next().unwrap_or(k).to_owned();
    match (value, file) {
        (Some(_), Some(_)) => Some(ConfigError::new(
            file_key,
            format!("set either {} or {}, not both", leaf(key), leaf(file_key)),
        )),
        (Some(v), None) => check(v.expose_secret())
            .err()
            .map(|r| ConfigError::new(key, r)),
        (None, Some(path)) => match super::read_secret_file(path) {
            Err(e) => Some(ConfigError::new(
                file_key,
                format!("cannot read {}: {e}", path.display()),
            )),
            Ok(v) => check(v.expose_secret())
                .err()
                .map(|r| ConfigError::new(file_key, format!("{}: {r}", path.display()))),
        },
        (None, None) => None,
    }
}

fn glob_problem(key: String, pattern: &str) -> Option<ConfigError> {
    glob::Pattern::new(pattern)
        .err()
        .map(|e| ConfigError::new(key, format!("invalid glob {pattern:?}: {e}")))
}

/// Positions and values of names that are empty or repeat an earlier one.
fn duplicate_or_empty_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(usize, &'a str)> {
    let mut seen = std::collections::HashSet::new();
    names
        .enumerate()
        .filter(|(_, n)| n.is_empty() || !seen.insert(*n))
        .collect()
}

/// `host:port`, with `[v6]:port` accepted.
pub fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

/// Parses a DSN without ever echoing it: parser messages can quote the input.
fn check_dsn(dsn: &str) -> Result<(), String> {
    const EXPECTED: &str =
        "not a valid PostgreSQL connection URL (postgres://user:password@host:port/database?sslmode=…)";
    if !(dsn.starts_with("postgres://") || dsn.starts_with("postgresql://")) {
        return Err(EXPECTED.into());
    }
    dsn.parse::<sqlx::postgres::PgConnectOptions>()
        .map(|_| ())
        .map_err(|_| EXPECTED.into())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn problems(toml: &str) -> Vec<String> {
        match Config::from_toml(toml) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn receivers_and_routes_are_checked_with_their_keys() {
        let got = problems(
            r#"
[alerting]
[[alerting.receivers]]
name = "oncall"
pagerduty = { routing_key = "short", url = "ftp://x" }
[[alerting.receivers]]
name = "oncall"
slack = { webhook_url = "https://hooks.slack.com/services/T/B/secret", url = "http://proxy" }
[[alerting.receivers]]
name = "empty"
[[alerting.routes]]
matchers = ['severity=~"("']
receivers = ["pager"]
[[alerting.inhibit_rules]]
source_matchers = ["alertname=A"]
target_matchers = []
equal = ["bad-label"]
[[alerting.silences]]
matchers = ["x=y"]
ends_at = "tomorrow"
"#,
        );
        let want = [
            "alerting.receivers[1].name: \"oncall\" is used by an earlier receiver",
            "alerting.receivers[0].pagerduty.routing_key: must be 32 characters (an Events API v2 integration key), got 5",
            "alerting.receivers[0].pagerduty.url: must be an http or https URL",
            "alerting.receivers[1].slack: set exactly one of webhook_url, webhook_url_file or url",
            "alerting.receivers[2].name: receiver \"empty\" has no slack, pagerduty, alertmanager or webhook",
            "alerting.routes[0].matchers[0]: \"severity=~\\\"(\\\"\": invalid regular expression",
            "alerting.routes[0].receivers: no receiver named \"pager\" (configured: oncall, oncall, empty)",
            "alerting.inhibit_rules[0].source_matchers: source_matchers and target_matchers must not be empty",
            "alerting.inhibit_rules[0].equal: \"bad-label\" is not a valid label name",
            "alerting.silences[0].endsAt: \"tomorrow\" is not an RFC 3339 time",
        ];
        for w in want {
            assert!(
                got.iter().any(|g| g.starts_with(w)),
                "missing {w:?} in {got:#?}"
            );
        }
        assert!(!got.iter().any(|g| g.contains("secret")), "{got:#?}");
    }

    #[test]
    fn collects_every_problem() {
        let p = problems(
            "[server]\nlisten = \"nowhere\"\n[postgres]\nmax_connections = 0\nstatement_timeout = \"20s\"\ndatabases = []\n",
        );
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("server.listen:")));
        assert!(p.iter().any(|m| m.starts_with("postgres.max_connections:")));
        assert!(p
            .iter()
            .any(|m| m.starts_with("postgres.statement_timeout:")));
        assert!(p.iter().any(|m| m.starts_with("postgres.databases:")));
    }

    #[test]
    fn bad_dsn_is_reported_without_its_text() {
        let p = problems("[postgres]\ndsn = \"mysql://user:hunter2@host/db\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("postgres.dsn:"));
        assert!(!p[0].contains("hunter2"));
    }

    #[test]
    fn missing_dsn_file_is_named() {
        let p = problems("[postgres]\ndsn_file = \"/nonexistent/dsn\"\n");
        assert!(
            p[0].starts_with("postgres.dsn_file:") && p[0].contains("/nonexistent/dsn"),
            "{p:?}"
        );
    }

    #[test]
    fn dsn_and_dsn_file_exclude_each_other() {
        let p = problems("[postgres]\ndsn = \"postgres://h/db\"\ndsn_file = \"/x\"\n");
        assert!(p.iter().any(|m| m.contains("not both")), "{p:?}");
    }

    #[test]
    fn collectors_around_the_database_are_checked_with_their_keys() {
        let p = problems(
            "[[backups]]\nname = \"d\"\npath = \"/b\"\npattern = \"[\"\n\
             [[backups]]\nname = \"d\"\npath = \"/c\"\n\
             [[probes]]\nname = \"api\"\nurl = \"ftp://x/\"\n\
             [[certs.endpoints]]\naddress = \"no-port\"\n\
             [[files.logs]]\nname = \"app\"\npath = \"/l.%Q\"\npattern = \"(\"\n\
             [redis]\nkey_patterns = [\"temp:*\"]\n\
             [schedule]\nhost = \"10ms\"\n",
        );
        for key in [
            "backups[0].pattern:",
            "backups[1].name:",
            "probes[0].url:",
            "certs.endpoints[0].address:",
            "files.logs[0].pattern:",
            "files.logs[0].path:",
            "redis.key_patterns:",
            "schedule.host:",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(key)),
                "no problem for {key}: {p:?}"
            );
        }
        assert_eq!(p.len(), 8, "{p:?}");
    }

    #[test]
    fn redis_url_is_secret() {
        let p = problems("[redis]\nurl = \"http://:hunter2@host\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("redis.url:") && !p[0].contains("hunter2"));
    }
}
