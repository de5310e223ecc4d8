//! `probes` collector: `curl -f http://localhost:3000/health`, continuously.
//!
//! Exports `centinela_probe_success{name}`, `centinela_probe_duration_seconds{name}` and
//! `centinela_probe_http_status_code{name}`. Probes run concurrently, each with its own
//! timeout. The certificates of https probes are read by the `certs` collector.

use std::time::{Duration, Instant};

use super::{CollectError, Collector};
use crate::config::ProbeConfig;
use crate::metrics::catalog::{PROBE_DURATION, PROBE_STATUS, PROBE_SUCCESS};
use crate::metrics::{labels, Batch};

#[derive(Debug)]
pub struct ProbesCollector {
    probes: Vec<(String, String, Duration)>,
    client: reqwest::Client,
}

impl ProbesCollector {
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
    fn name(&self) -> &'static str {
        "probes"
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
