//! `probes` collector: `curl -f http://localhost:3000/health`, continuously.
//!
//! Exports `centinela_probe_success{name}`, `centinela_probe_duration_seconds{name}` and
//! `centinela_probe_http_status_code{name}`. Probes run concurrently, each with its own
//! timeout. The certificates of https probes are read by the `certs` collector.

use serde::Deserialize;
use std::time::{Duration, Instant};

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::metrics::MetricDesc;
use crate::config::check::{unique_names, ConfigError, Problems};
use crate::metrics::{labels, Batch};

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"# [[probes]]: HTTP health checks; none by default. Each: name = "api",
# url = "http://localhost:3000/health", timeout = "5s". https probes also feed the
# certificate metrics.
"#;

/// This module's part of the configuration: `probes`.
pub type Section = Vec<ProbeConfig>;

/// An HTTP health check.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// The `name` label.
    pub name: String,
    /// The URL asked.
    pub url: String,
    /// Per request.
    #[serde(default = "default_probe_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_probe_timeout() -> Duration {
    Duration::from_secs(5)
}

// === metrics ===

crate::metrics! {
    PROBE_SUCCESS: "centinela_probe_success", Gauge, ["name"],
        "1 if the URL answered with a status below 400 within the timeout (curl -f), 0 otherwise.";
    PROBE_DURATION: "centinela_probe_duration_seconds", Gauge, ["name"],
        "How long the probe took.";
    PROBE_STATUS: "centinela_probe_http_status_code", Gauge, ["name"],
        "HTTP status of the answer; 0 when there was none.";
}


/// HTTP health checks, run concurrently.
#[derive(Debug)]
pub struct ProbesCollector {
    probes: Vec<(String, String, Duration)>,
    client: reqwest::Client,
}

impl ProbesCollector {
    /// Probes for `config`, sharing one client.
    pub fn new(config: &[ProbeConfig]) -> Result<Self, CollectError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("centinela/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CollectError::Io(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            probes: config
                .iter()
                .map(|p| (p.name.clone(), p.url.clone(), p.timeout))
                .collect(),
            client,
        })
    }

    /// (success, status, duration)
    async fn probe(&self, name: &str, url: &str, timeout: Duration) -> (bool, u16, Duration) {
        let started = Instant::now();
        let result = self.client.get(url).timeout(timeout).send().await;
        let took = started.elapsed();
        match result {
            // curl -f: a status of 400 or more is a failure.
            Ok(r) => (r.status().as_u16() < 400, r.status().as_u16(), took),
            Err(e) => {
                tracing::debug!(probe = name, error = %e, "Probe got no answer.");
                (false, 0, took)
            }
        }
    }
}

impl Collector for ProbesCollector {
    const NAME: &'static str = "probes";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("15s");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        _shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        check(section, problems);
        let interval = every::<Self>(problems, schedule);
        if section.is_empty() {
            return None;
        }
        match Self::new(section) {
            Ok(p) => Some((p, interval)),
            Err(e) => {
                problems.push(ConfigError::new("probes", e.to_string()));
                None
            }
        }
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let results = futures_util::future::join_all(self.probes.iter().map(
            |(name, url, timeout)| async move { (name, self.probe(name, url, *timeout).await) },
        ))
        .await;
        let mut b = Batch::default();
        for (name, (ok, _, _)) in &results {
            b.push(
                &PROBE_SUCCESS,
                labels([("name", name)]),
                if *ok { 1.0 } else { 0.0 },
            );
        }
        for (name, (_, _, took)) in &results {
            b.push(
                &PROBE_DURATION,
                labels([("name", name)]),
                took.as_secs_f64(),
            );
        }
        for (name, (_, status, _)) in &results {
            b.push(&PROBE_STATUS, labels([("name", name)]), f64::from(*status));
        }
        Ok(b)
    }
}

/// Checks `[[probes]]`: unique names, http(s) URLs, timeouts.
pub fn check(config: &[ProbeConfig], errors: &mut Problems) {
    errors.extend(unique_names("probes", config.iter().map(|x| x.name.as_str())));
    for (i, p) in config.iter().enumerate() {
        match reqwest::Url::parse(&p.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push(ConfigError::new(
                format!("probes[{i}].url"),
                format!("expected an http:// or https:// URL, got {:?}", p.url),
            )),
        }
        if p.timeout.is_zero() {
            errors.push(ConfigError::new(
                format!("probes[{i}].timeout"),
                "must be greater than 0",
            ));
        }
    }
}
