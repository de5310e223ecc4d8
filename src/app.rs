//! Wiring: snapshot, collector tasks and the HTTP server, stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use arc_swap::ArcSwap;

use crate::alerting::{self, engine::Published, AlertingPlan};
use crate::collectors::{self, runner, Scheduled};
use crate::collectors::{Schedule, Sections};
use crate::config::{AlertingConfig, Core, Problems, ServerConfig, Sources};
use crate::http::{self, AppState};
use crate::metrics::Format;
use crate::snapshot::Snapshot;
use crate::supervisor::Supervisor;

/// How long tasks get to finish after a stop signal before they are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A started centinela.
#[derive(Debug)]
pub struct Running {
    /// The address the HTTP server listens on (the port chosen for `:0`).
    pub local_addr: SocketAddr,
    /// What the collectors published.
    pub snapshot: Arc<Snapshot>,
    supervisor: Supervisor,
}

/// The whole configuration: the sections `config` owns and every collector's section.
#[derive(Debug)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[schedule]`.
    pub schedule: Schedule,
    /// `[alerting]`.
    pub alerting: AlertingConfig,
    /// Every collector's section.
    pub collectors: Sections,
    /// The whole configuration as TOML with every secret masked (the configuration page).
    pub effective: Arc<str>,
}

impl Config {
    /// The defaults, the `--config` file, then `CENTINELA__*`, parsed into every owner's
    /// section types; every problem is returned, each naming its key. Values are checked
    /// by their owners afterwards ([`plan`]).
    pub fn load(sources: &Sources) -> Result<Self, Problems> {
        Self::from_figment(&crate::config::layered(&[&defaults()], sources)?)
    }

    /// A TOML string on top of the defaults (tests, examples).
    pub fn from_toml(toml: &str) -> Result<Self, Problems> {
        Self::from_figment(&crate::config::layered_toml(&[&defaults()], toml))
    }

    fn from_figment(figment: &figment::Figment) -> Result<Self, Problems> {
        let mut known = vec!["server", "schedule", "alerting"];
        known.extend_from_slice(collectors::SECTION_KEYS);
        let mut problems = crate::config::unknown_keys(figment, &known);
        let core = crate::config::extract::<Core>(figment)
            .map_err(|p| problems.extend(p))
            .ok();
        let sections = crate::config::extract::<Sections>(figment)
            .map_err(|p| problems.extend(p))
            .ok();
        match (core, sections) {
            (Some(core), Some(collectors)) if problems.is_empty() => Ok(Self {
                server: core.server,
                schedule: core.schedule,
                alerting: core.alerting,
                collectors,
                effective: crate::config::effective(figment).into(),
            }),
            _ => Err(problems),
        }
    }
}

/// The documented default of every key, as `centinela defaults` prints it: the server,
/// the schedule, every collector's section in registration order, then alerting. It is
/// also the first layer of every configuration.
#[must_use]
pub fn defaults() -> String {
    let core = crate::config::DEFAULTS;
    let (head, alerting) = core.split_at(core.find("[alerting]\n").unwrap_or(core.len()));
    let mut out = head.to_owned();
    out.push_str(&collectors::schedule_defaults());
    for section in collectors::SECTION_DEFAULTS {
        out.push('\n');
        out.push_str(section);
    }
    out.push('\n');
    out.push_str(alerting);
    out
}

/// What `run`, `collect` and `check-config` build from a configuration: every section
/// checked by its owner, every file and secret read once.
pub struct Plan {
    /// Every enabled collector with its schedule.
    pub collectors: Vec<Scheduled>,
    /// The alerting plan; `None` when alerting is off.
    pub alerting: Option<AlertingPlan>,
    /// The web configuration (TLS, users, headers), watched for changes.
    pub web: Arc<crate::http::web_config::Watched>,
}

/// Checks the whole configuration and builds what runs; every problem of every section,
/// each with its key path.
pub fn plan(config: &Config) -> Result<Plan, Problems> {
    let mut problems = Vec::new();
    let web = http::plan(&config.server)
        .map_err(|p| problems.extend(p))
        .ok();
    let collectors = collectors::plan(&config.collectors, &config.schedule)
        .map_err(|p| problems.extend(p))
        .ok();
    let textfile = config.collectors.textfile.directory.is_some();
    let alerting = alerting::plan(&config.alerting, crate::time::now_ms(), textfile)
        .map_err(|p| problems.extend(p))
        .ok();
    match (web, collectors, alerting) {
        (Some(web), Some(collectors), Some(alerting)) if problems.is_empty() => Ok(Plan {
            collectors,
            alerting,
            web,
        }),
        _ => Err(problems),
    }
}

/// One snapshot slot per scheduled collector.
fn snapshot_for(scheduled: &[Scheduled]) -> Snapshot {
    Snapshot::new(
        scheduled
            .iter()
            .map(|s| (s.collector.name(), s.interval, s.timeout)),
    )
}

/// Binds the listener, starts every collector and the server.
pub async fn start(config: &Config, plan: Plan) -> anyhow::Result<Running> {
    let Plan {
        collectors: scheduled,
        alerting: alerting_plan,
        web,
    } = plan;
    let snapshot = Arc::new(snapshot_for(&scheduled));
    let listener = TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.server.listen))?;
    let local_addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let mut supervisor = Supervisor::new(shutdown.clone(), Arc::clone(&snapshot));
    for s in scheduled {
        let s = Arc::new(s);
        let (snap, token) = (Arc::clone(&snapshot), shutdown.clone());
        supervisor.restarting(format!("collector:{}", s.collector.name()), move || {
            runner::run(Arc::clone(&s), Arc::clone(&snap), token.clone())
        });
    }
    let published = Arc::new(ArcSwap::from_pointee(Published::default()));
    let alerting = if let Some(alerting_plan) = alerting_plan {
        alerting::start(
            &config.alerting,
            alerting_plan,
            Arc::clone(&snapshot),
            Arc::clone(&published),
            &mut supervisor,
        )
        .await?
    } else {
        alerting::Handles::default()
    };
    let state = AppState {
        snapshot: Arc::clone(&snapshot),
        alerting: Arc::clone(&published),
        silences: alerting.silences,
        store: alerting.store,
        scrapes: Arc::new(tokio::sync::Semaphore::new(
            config.server.max_concurrent_scrapes,
        )),
        web: Arc::clone(&web),
        deliveries: alerting.deliveries,
        gzip: Arc::default(),
        pages: Arc::new(http::PageContext::new(
            Arc::clone(&config.effective),
            config.alerting.runbook_base_url.clone(),
        )),
    };
    if web.current().tls.is_some() {
        tracing::info!(listen = %local_addr, "TLS is enabled.");
    }
    if let Some(probe) = &config.server.probe_listen {
        let probe_listener = TcpListener::bind(probe)
            .await
            .with_context(|| format!("failed to listen on {probe} (server.probe_listen)"))?;
        let (state, server, token) = (state.clone(), config.server.clone(), shutdown.clone());
        supervisor.essential("http_probes", async move {
            if let Err(e) = http::serve_probes(probe_listener, state, &server, token).await {
                tracing::error!(error = %e, "Probe listener failed.");
            }
        });
    }
    let token = shutdown.clone();
    let server = config.server.clone();
    supervisor.essential("http", async move {
        if let Err(e) = http::serve(listener, state, web, &server, token).await {
            tracing::error!(error = %e, "HTTP server failed.");
        }
    });
    tracing::info!(listen = %local_addr, "centinela started.");
    Ok(Running {
        local_addr,
        snapshot,
        supervisor,
    })
}

impl Running {
    /// Stops every task and waits for them (bounded by a grace period). False if an
    /// essential task had failed.
    pub async fn stop(mut self) -> bool {
        self.supervisor.shutdown().cancel();
        if !self.supervisor.drain(STOP_GRACE).await {
            tracing::warn!("Tasks did not stop within the grace period.");
        }
        !self.supervisor.failed()
    }

    /// Runs until SIGTERM or SIGINT, or until an essential task fails, then stops
    /// gracefully. False when it stopped because a task failed.
    pub async fn until_signal(self) -> bool {
        let failed = self.supervisor.shutdown();
        tokio::select! {
            () = shutdown_signal() => tracing::info!("Stop signal received, shutting down."),
            () = failed.cancelled() => {}
        }
        let ok = self.stop().await;
        tracing::info!("centinela stopped.");
        ok
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot watch SIGTERM; stopping on SIGINT only.");
                if let Err(e) = ctrl_c.await {
                    tracing::error!(error = %e, "Cannot watch SIGINT either.");
                }
            }
        }
    }
    #[cfg(not(unix))]
    if let Err(e) = ctrl_c.await {
        tracing::error!(error = %e, "Cannot watch SIGINT.");
    }
}

/// `centinela collect`: every collector once; the exposition and the failures.
pub async fn collect_once(
    scheduled: &[Scheduled],
) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let snapshot = snapshot_for(scheduled);
    for s in scheduled {
        let slot = snapshot
            .slot(s.collector.name())
            .context("collector without a snapshot slot")?;
        runner::run_once(s, slot).await;
    }
    let failures = snapshot
        .slots()
        .iter()
        .filter_map(|slot| {
            slot.load()
                .status
                .last_error
                .clone()
                .map(|e| (slot.name.to_owned(), e))
        })
        .collect();
    let text = snapshot
        .exposition(Format::Text)
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    Ok((text, failures))
}

#[cfg(test)]
mod tests {
    use super::Config;

    /// Every problem `check-config` reports for `toml` on top of the defaults.
    fn problems(toml: &str) -> Vec<String> {
        match Config::from_toml(toml).and_then(|c| super::plan(&c).map(|_| ())) {
            Ok(()) => Vec::new(),
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
    fn the_documented_defaults_are_a_valid_configuration() {
        let c = Config::from_toml(&super::defaults()).unwrap();
        assert!(super::plan(&c).is_ok());
        assert_eq!(c.schedule["host"], std::time::Duration::from_secs(15));
        assert!(c.collectors.host.enabled);
    }

    #[test]
    fn unknown_sections_and_schedule_entries_are_named() {
        let p = problems("[nope]\nx = 1\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("nope: unknown section (known: server, schedule, alerting, postgres"),
            "{p:?}"
        );
        let p = problems("[schedule]\nhots = \"1s\"\npostgres = \"1s\"\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("schedule.hots:")), "{p:?}");
        // PostgreSQL's intervals live in its own section.
        assert!(
            p.iter().any(|m| m.starts_with("schedule.postgres:")),
            "{p:?}"
        );
    }

    #[test]
    fn a_default_follows_the_key_it_depends_on() {
        // A short interval alone is valid: the timeouts follow it.
        for interval in ["1s", "2s", "5s"] {
            let p = problems(&format!("[postgres]\ninterval = \"{interval}\"\n"));
            assert!(p.is_empty(), "interval {interval}: {p:?}");
        }
        let c = Config::from_toml("[postgres]\ninterval = \"2s\"\n").unwrap();
        assert_eq!(
            c.collectors.postgres.statement_timeout(),
            std::time::Duration::from_secs(1)
        );
        assert_eq!(
            c.collectors.postgres.lock_timeout(),
            std::time::Duration::from_secs(1)
        );
        let c = Config::from_toml("[postgres]\ninterval = \"1s\"\n").unwrap();
        assert_eq!(
            c.collectors.postgres.lock_timeout(),
            std::time::Duration::from_millis(500)
        );
        // Valid settings keep their meaning.
        let c = Config::from_toml("[postgres]\ninterval = \"6s\"\n").unwrap();
        assert_eq!(
            c.collectors.postgres.statement_timeout(),
            std::time::Duration::from_secs(5)
        );
        let c = Config::from_toml("[postgres]\ninterval = \"2s\"\nlock_timeout = \"1500ms\"\n")
            .unwrap();
        assert_eq!(
            c.collectors.postgres.statement_timeout(),
            std::time::Duration::from_millis(1500)
        );
        // An explicit conflict is still an error.
        let p = problems("[postgres]\ninterval = \"2s\"\nstatement_timeout = \"5s\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("postgres.statement_timeout:"), "{p:?}");
        let p = problems("[postgres]\nstatement_timeout = \"1s\"\nlock_timeout = \"2s\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("postgres.lock_timeout:"), "{p:?}");
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

#[cfg(test)]
mod load_tests {
    use super::Config;
    use crate::config::{ConfigError, Sources};
    use bytesize::ByteSize;
    use secrecy::ExposeSecret;
    use std::collections::BTreeMap;
    use std::time::Duration;

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
        assert_eq!(c.collectors.postgres.interval, Duration::from_secs(15));
        assert_eq!(
            c.collectors.postgres.slow_interval,
            Duration::from_secs(300)
        );
        assert_eq!(c.collectors.postgres.max_connections, 2);
        assert_eq!(
            c.collectors.postgres.unused_index_min_size,
            ByteSize::mib(10)
        );
        assert!(c.collectors.postgres.dsn.is_none());
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
        assert_eq!(c.collectors.postgres.interval, Duration::from_secs(30));
        assert_eq!(c.collectors.postgres.max_connections, 1);
        assert_eq!(
            c.collectors.postgres.dsn.unwrap().expose_secret(),
            "postgres://u:pw@h/db"
        );
        assert_eq!(c.collectors.postgres.databases, ["app", "other"]);
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
        let example = include_str!("../examples/centinela.toml");
        Config::from_toml(example).unwrap();
    }
}
