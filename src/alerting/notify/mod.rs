//! Notifiers: payloads for Slack, PagerDuty, webhooks and Alertmanager (pure), and the
//! delivery workers that drain the outbox, one per receiver integration, in order, with
//! rate limits, retries and backoff.

pub mod alertmanager;
pub mod pagerduty;
pub mod receivers;
pub mod slack;
pub mod webhook;
pub mod worker;

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{AlertRecord, Outgoing};
pub use super::model::{GroupView, Integration, ReceiverSpec};
use crate::config::AlertingConfig;
use crate::time::system_time_ms;
pub use receivers::{build, render, Endpoint};
pub use worker::{
    backoff, classify, http_client, retry_after, run_worker, send, ClientError, SendError, Stats,
    StatsInner,
};

/// `notify-test`: renders a test group for `receiver` and sends it through every
/// integration, retrying what may be retried a few times. Returns one line per
/// integration: (delivered, failed).
pub async fn send_test(
    config: &AlertingConfig,
    receiver: &str,
    severity: &str,
) -> Result<(Vec<String>, Vec<String>), Vec<String>> {
    let (specs, endpoints) =
        build(config).map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let spec = specs.iter().find(|s| s.name == receiver).ok_or_else(|| {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        vec![format!(
            "no receiver named {receiver:?} (configured: {})",
            names.join(", ")
        )]
    })?;
    let now = system_time_ms(std::time::SystemTime::now());
    let mut labels = crate::promql::LabelSet::new(config.external_labels.clone());
    labels.set("alertname", "CentinelaTestNotification");
    labels.set("severity", severity);
    let annotations = BTreeMap::from([
        (
            "summary".to_owned(),
            format!("Test notification from centinela ({severity}); no action needed"),
        ),
        (
            "description".to_owned(),
            format!(
                "Sent by `centinela notify-test --receiver {receiver}` to check this receiver."
            ),
        ),
    ]);
    let alert = AlertRecord::new(&labels, annotations, 1.0, now);
    let key = format!("test:{receiver}:{now}");
    let view = GroupView {
        key: &key,
        receiver,
        group_labels: &BTreeMap::new(),
        firing: std::slice::from_ref(&alert),
        resolved: &[],
        external_url: &config.external_url,
        test: true,
    };
    let mut messages = spec.render(&view);
    if spec.integrations.contains(&Integration::Alertmanager) {
        let ends = now + 5 * 60 * 1000;
        messages.push(Outgoing {
            receiver: receiver.to_owned(),
            integration: Integration::Alertmanager,
            body: alertmanager::render(&[(&alert, false)], ends, &config.external_url),
            supersedes: false,
        });
    }
    let client = http_client().map_err(|e| vec![e.to_string()])?;
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    if messages.is_empty() {
        failed.push(format!(
            "receiver {receiver:?} has no integration configured"
        ));
    }
    for m in messages {
        let Some(ep) = endpoints
            .iter()
            .find(|e| e.receiver == receiver && e.integration == m.integration)
        else {
            continue;
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match send(&client, ep, &m.body).await {
                Ok(_) => {
                    ok.push(format!("{receiver}/{}: delivered", m.integration.as_str()));
                    break;
                }
                Err(SendError::Retry { reason, after }) if attempt < 3 => {
                    let wait = after.unwrap_or_else(|| backoff(attempt, Duration::from_secs(10)));
                    eprintln!(
                        "{receiver}/{}: {reason}; retrying in {wait:?}",
                        m.integration.as_str()
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    failed.push(format!("{receiver}/{}: {e}", m.integration.as_str()));
                    break;
                }
            }
        }
    }
    Ok((ok, failed))
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
