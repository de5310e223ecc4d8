//! Notifiers: payloads for Slack, PagerDuty, webhooks and Alertmanager (pure), and the
//! delivery workers that drain the outbox, one per receiver integration, in order, with
//! rate limits, retries and backoff.

pub mod alertmanager;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value as Json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::model::{AlertRecord, Notification, Outgoing};
pub use super::model::{GroupView, Integration, ReceiverSpec};
use super::outbox::{Depth, Store};
use crate::config::check::{
    check_url, duplicate_or_empty_names, secret, ConfigError, Invalid, Problems,
};
use crate::config::AlertingConfig;
use crate::metrics::{catalog, labels, Batch};
use crate::sync::lock;
use crate::time::system_time_ms;

crate::message_error! {
    /// The HTTP client for deliveries cannot be built.
    ClientError
}

/// Where and how a worker delivers (the secrets live here only).
#[derive(Clone)]
pub struct Endpoint {
    /// The receiver.
    pub receiver: String,
    /// The integration.
    pub integration: Integration,
    url: SecretString,
    routing_key: Option<SecretString>,
    /// Least time between two deliveries.
    pub min_interval: Duration,
    /// Per attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("receiver", &self.receiver)
            .field("integration", &self.integration)
            .finish_non_exhaustive()
    }
}

/// The messages for one routed notification; `specs` are every receiver's.
#[must_use]
pub fn render(
    specs: &[ReceiverSpec],
    notification: &Notification,
    external_url: &str,
) -> Vec<Outgoing> {
    match notification {
        Notification::Group {
            key,
            receiver,
            group_labels,
            firing,
            resolved,
        } => specs
            .iter()
            .find(|s| &s.name == receiver)
            .map(|spec| {
                spec.render(&GroupView {
                    key,
                    receiver,
                    group_labels,
                    firing,
                    resolved,
                    external_url,
                    test: false,
                })
            })
            .unwrap_or_default(),
        Notification::Forward {
            receiver,
            alerts,
            ends_at,
        } => {
            let list: Vec<(&AlertRecord, bool)> = alerts.iter().map(|(a, r)| (a, *r)).collect();
            vec![Outgoing {
                receiver: receiver.clone(),
                integration: Integration::Alertmanager,
                body: alertmanager::render(&list, *ends_at, external_url),
                supersedes: true,
            }]
        }
    }
}

impl ReceiverSpec {
    /// The messages for one notified group, one per grouped integration.
    pub fn render(&self, view: &GroupView<'_>) -> Vec<Outgoing> {
        let resolved_only = view.firing.is_empty();
        self.integrations
            .iter()
            .filter(|i| i.grouped())
            .filter(|i| !resolved_only || self.send_resolved.get(i).copied().unwrap_or(true))
            .map(|&integration| Outgoing {
                receiver: self.name.clone(),
                integration,
                body: match integration {
                    Integration::Slack => slack::render(view, self.slack_max_alerts),
                    Integration::PagerDuty => pagerduty::render(view),
                    Integration::Webhook => webhook::render(view, self.webhook_max_alerts),
                    Integration::Alertmanager => Json::Null,
                },
                supersedes: false,
            })
            .collect()
    }
}

/// Receivers and their endpoints from the configuration, checked; secret files are read
/// here, once. Every problem is returned with its key path, never with a secret.
pub fn build(config: &AlertingConfig) -> Result<(Vec<ReceiverSpec>, Vec<Endpoint>), Problems> {
    let mut specs = Vec::new();
    let mut endpoints = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in duplicate_or_empty_names(config.receivers.iter().map(|r| r.name.as_str())) {
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
    for (i, r) in config.receivers.iter().enumerate() {
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
        let mut spec = ReceiverSpec {
            name: r.name.clone(),
            integrations: Vec::new(),
            slack_max_alerts: 10,
            webhook_max_alerts: 0,
            send_resolved: BTreeMap::new(),
            resend_ms: None,
        };
        let mut push = |integration, url, routing_key, min_interval, timeout| {
            spec.integrations.push(integration);
            endpoints.push(Endpoint {
                receiver: r.name.clone(),
                integration,
                url,
                routing_key,
                min_interval,
                timeout,
            });
        };
        if let Some(s) = &r.slack {
            let given = [
                s.webhook_url.is_some(),
                s.webhook_url_file.is_some(),
                s.url.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            let mut url = None;
            if given == 1 {
                match secret(
                    (&at("slack.webhook_url"), s.webhook_url.as_ref()),
                    (&at("slack.webhook_url_file"), s.webhook_url_file.as_deref()),
                    check_url,
                ) {
                    Ok(u) => url = u,
                    Err(e) => errors.push(e),
                }
            } else {
                errors.push(ConfigError::new(
                    at("slack"),
                    "set exactly one of webhook_url, webhook_url_file or url",
                ));
            }
            if let Some(u) = &s.url {
                match check_url(u) {
                    Ok(()) => url = url.or_else(|| Some(SecretString::from(u.clone()))),
                    Err(e) => errors.push(ConfigError::new(at("slack.url"), e)),
                }
            }
            if s.max_alerts == 0 || s.max_alerts > 40 {
                errors.push(ConfigError::new(
                    at("slack.max_alerts"),
                    "must be between 1 and 40 (Slack allows 50 blocks per message)",
                ));
            }
            if let Some(url) = url {
                push(Integration::Slack, url, None, s.min_interval, s.timeout);
            }
        }
        if let Some(p) = &r.pagerduty {
            if p.routing_key.is_none() && p.routing_key_file.is_none() {
                errors.push(ConfigError::new(
                    at("pagerduty"),
                    "set routing_key or routing_key_file",
                ));
            }
            let key = secret(
                (&at("pagerduty.routing_key"), p.routing_key.as_ref()),
                (
                    &at("pagerduty.routing_key_file"),
                    p.routing_key_file.as_deref(),
                ),
                |k: &str| {
                    if k.len() == 32 {
                        Ok(())
                    } else {
                        Err(Invalid::from(format!(
                            "must be 32 characters (an Events API v2 integration key), got {}",
                            k.len()
                        )))
                    }
                },
            )
            .unwrap_or_else(|e| {
                errors.push(e);
                None
            });
            if let Err(e) = check_url(&p.url) {
                errors.push(ConfigError::new(at("pagerduty.url"), e));
            }
            if key.is_some() {
                push(
                    Integration::PagerDuty,
                    SecretString::from(p.url.clone()),
                    key,
                    p.min_interval,
                    p.timeout,
                );
            }
        }
        if let Some(w) = &r.webhook {
            if w.url.is_none() && w.url_file.is_none() {
                errors.push(ConfigError::new(at("webhook"), "set url or url_file"));
            }
            let url = secret(
                (&at("webhook.url"), w.url.as_ref()),
                (&at("webhook.url_file"), w.url_file.as_deref()),
                check_url,
            )
            .unwrap_or_else(|e| {
                errors.push(e);
                None
            });
            if let Some(url) = url {
                push(Integration::Webhook, url, None, Duration::ZERO, w.timeout);
            }
        }
        if let Some(a) = &r.alertmanager {
            if let Err(e) = check_url(&a.url) {
                errors.push(ConfigError::new(at("alertmanager.url"), e));
            }
            if a.resend_interval < Duration::from_secs(1) {
                errors.push(ConfigError::new(
                    at("alertmanager.resend_interval"),
                    "must be at least 1s",
                ));
            }
            let url = format!("{}/api/v2/alerts", a.url.trim_end_matches('/'));
            push(
                Integration::Alertmanager,
                SecretString::from(url),
                None,
                Duration::ZERO,
                a.timeout,
            );
        }
        if let Some(s) = &r.slack {
            spec.slack_max_alerts = s.max_alerts;
            spec.send_resolved
                .insert(Integration::Slack, s.send_resolved);
        }
        if let Some(p) = &r.pagerduty {
            spec.send_resolved
                .insert(Integration::PagerDuty, p.send_resolved);
        }
        if let Some(w) = &r.webhook {
            spec.webhook_max_alerts = w.max_alerts;
            spec.send_resolved
                .insert(Integration::Webhook, w.send_resolved);
        }
        spec.resend_ms = r
            .alertmanager
            .as_ref()
            .map(|a| crate::time::millis(a.resend_interval));
        specs.push(spec);
    }
    if errors.is_empty() {
        Ok((specs, endpoints))
    } else {
        Err(errors)
    }
}

// === delivery ===

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub enum SendError {
    /// Network error, timeout, 5xx or 429: try again (after `after` if the receiver said).
    Retry {
        /// The status and the receiver's answer, or the network error.
        reason: String,
        /// The receiver's `Retry-After`.
        after: Option<Duration>,
    },
    /// The receiver refused the message (400, 403, 404, 410, …): retrying cannot help.
    Permanent {
        /// The status and the receiver's answer.
        reason: String,
    },
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Retry { reason, .. } | Self::Permanent { reason } => f.write_str(reason),
        }
    }
}

/// One HTTP delivery. Error texts carry the status and the receiver's answer, never the
/// URL (a Slack webhook URL is a credential).
pub async fn send(client: &reqwest::Client, ep: &Endpoint, body: &Json) -> Result<(), SendError> {
    let mut body = body.clone();
    if let (Some(key), Some(obj)) = (&ep.routing_key, body.as_object_mut()) {
        obj.insert(
            "routing_key".into(),
            Json::String(key.expose_secret().to_owned()),
        );
    }
    let response = client
        .post(ep.url.expose_secret())
        .timeout(ep.timeout)
        .json(&body)
        .send()
        .await
        .map_err(|e| SendError::Retry {
            reason: e.without_url().to_string(),
            after: None,
        })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, std::time::SystemTime::now()));
    let text = response.text().await.unwrap_or_default();
    classify(ep.integration, status, &text, retry_after)
}

/// What an answer means: delivered, worth retrying (network-side trouble: 408, 429, 5xx,
/// after `Retry-After` if given), or refused for good (any other status, or a Slack 200
/// whose body is not `ok`).
pub fn classify(
    integration: Integration,
    status: StatusCode,
    body: &str,
    retry_after: Option<Duration>,
) -> Result<(), SendError> {
    let answer = || {
        let t: String = body.trim().chars().take(300).collect();
        format!("HTTP {}: {t}", status.as_u16())
    };
    if status.is_success() {
        // Slack answers exactly `ok`; anything else is an error in a 200.
        if integration == Integration::Slack && body.trim() != "ok" {
            return Err(SendError::Permanent { reason: answer() });
        }
        return Ok(());
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        return Err(SendError::Retry {
            reason: answer(),
            after: retry_after,
        });
    }
    Err(SendError::Permanent { reason: answer() })
}

/// `Retry-After` (RFC 9110): delay seconds, or an HTTP date (a date already past is no
/// wait at all).
#[must_use]
pub fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff from 1s, capped, with jitter (the upper half of the interval), so
/// sidecars that failed together do not retry together.
pub fn backoff(attempts: i64, max: Duration) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let full = Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(exp))
        .min(max);
    let jitter = rand::rng().random_range(0.5..=1.0);
    full.mul_f64(jitter)
}

/// Delivery counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

/// The counters, copied.
#[derive(Debug, Default, Clone)]
pub struct StatsInner {
    /// (receiver, integration, outcome) → count; outcome is sent, failed or rejected.
    pub outcomes: BTreeMap<(String, &'static str, &'static str), u64>,
    /// (receiver, integration) → seconds from queueing to delivery of the last message.
    pub latency: BTreeMap<(String, &'static str), f64>,
}

impl Stats {
    /// Zeroed counters for every endpoint.
    pub fn new(endpoints: &[Endpoint]) -> Self {
        let mut inner = StatsInner::default();
        for ep in endpoints {
            for outcome in ["sent", "failed", "rejected"] {
                inner
                    .outcomes
                    .insert((ep.receiver.clone(), ep.integration.as_str(), outcome), 0);
            }
        }
        Self {
            inner: Mutex::new(inner),
        }
    }

    fn count(&self, ep: &Endpoint, outcome: &'static str) {
        *lock(&self.inner)
            .outcomes
            .entry((ep.receiver.clone(), ep.integration.as_str(), outcome))
            .or_default() += 1;
    }

    fn latency(&self, ep: &Endpoint, seconds: f64) {
        lock(&self.inner)
            .latency
            .insert((ep.receiver.clone(), ep.integration.as_str()), seconds);
    }

    /// The delivery metrics: outcomes, last latency, and each queue's depth and oldest
    /// message (from `depths`, read from the outbox at `now_ms`).
    #[must_use]
    pub fn batch(&self, depths: &[Depth], now_ms: i64) -> Batch {
        let mut b = Batch::default();
        let stats = self.snapshot();
        #[allow(clippy::cast_precision_loss)]
        for ((receiver, integration, outcome), n) in &stats.outcomes {
            b.push(
                &catalog::NOTIFICATIONS,
                labels([
                    ("receiver", receiver),
                    ("integration", integration),
                    ("outcome", outcome),
                ]),
                *n as f64,
            );
        }
        for ((receiver, integration), secs) in &stats.latency {
            b.push(
                &catalog::NOTIFICATION_LATENCY,
                labels([("receiver", receiver), ("integration", integration)]),
                *secs,
            );
        }
        let mut depth: BTreeMap<(String, String), (f64, f64)> = stats
            .outcomes
            .keys()
            .map(|(r, i, _)| ((r.clone(), (*i).to_owned()), (0.0, 0.0)))
            .collect();
        #[allow(clippy::cast_precision_loss)]
        for d in depths {
            depth.insert(
                (d.receiver.clone(), d.integration.clone()),
                (
                    d.count as f64,
                    (now_ms - d.oldest_ms).max(0) as f64 / 1000.0,
                ),
            );
        }
        for ((receiver, integration), (n, age)) in &depth {
            let l = labels([("receiver", receiver), ("integration", integration)]);
            b.push(&catalog::NOTIFICATION_QUEUE, l.clone(), *n);
            b.push(&catalog::NOTIFICATION_QUEUE_AGE, l, *age);
        }
        b
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsInner {
        lock(&self.inner).clone()
    }
}

/// Drains one receiver integration's queue until `shutdown`.
pub async fn run_worker(
    ep: Endpoint,
    store: Store,
    client: reqwest::Client,
    stats: Arc<Stats>,
    wake: Arc<Notify>,
    max_backoff: Duration,
    shutdown: CancellationToken,
) {
    let mut last_send: Option<Instant> = None;
    let pause = |d: Duration| {
        let wake = Arc::clone(&wake);
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(d) => true,
                () = wake.notified() => true,
                () = shutdown.cancelled() => false,
            }
        }
    };
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let head = match store.head(&ep.receiver, ep.integration.as_str()).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(receiver = %ep.receiver, error = %e, "Cannot read the notification queue; retrying.");
                if !pause(Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        let Some(msg) = head else {
            if !pause(Duration::from_secs(5)).await {
                return;
            }
            continue;
        };
        let now = system_time_ms(std::time::SystemTime::now());
        if msg.next_attempt_ms > now {
            let wait = Duration::from_millis(u64::try_from(msg.next_attempt_ms - now).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
            continue;
        }
        if let Some(wait) = last_send.and_then(|t| ep.min_interval.checked_sub(t.elapsed())) {
            tokio::time::sleep(wait).await;
        }
        let body: Json = match serde_json::from_str(&msg.body) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(receiver = %ep.receiver, id = msg.id, error = %e, "Queued notification is unreadable; dropping it.");
                stats.count(&ep, "rejected");
                if let Err(e) = store.delete(msg.id).await {
                    tracing::warn!(receiver = %ep.receiver, error = %e, "Cannot update the notification queue.");
                }
                continue;
            }
        };
        let result = send(&client, &ep, &body).await;
        last_send = Some(Instant::now());
        let done = match result {
            Ok(()) => {
                stats.count(&ep, "sent");
                #[allow(clippy::cast_precision_loss)]
                let secs =
                    (system_time_ms(std::time::SystemTime::now()) - msg.created_ms) as f64 / 1000.0;
                stats.latency(&ep, secs);
                tracing::info!(receiver = %ep.receiver, integration = ep.integration.as_str(), attempts = msg.attempts + 1, "Notification delivered.");
                store.delete(msg.id).await
            }
            Err(SendError::Permanent { reason }) => {
                stats.count(&ep, "rejected");
                tracing::error!(receiver = %ep.receiver, integration = ep.integration.as_str(), answer = %reason, "Receiver rejected the notification; it is not retried. Check the receiver's configuration.");
                store.delete(msg.id).await
            }
            Err(SendError::Retry { reason, after }) => {
                stats.count(&ep, "failed");
                let attempts = msg.attempts + 1;
                let delay = after.unwrap_or_else(|| backoff(attempts, max_backoff));
                let next = system_time_ms(std::time::SystemTime::now())
                    + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                tracing::warn!(receiver = %ep.receiver, integration = ep.integration.as_str(), attempts, retry_in = ?delay, error = %reason, "Notification not delivered; will retry.");
                store.reschedule(msg.id, attempts, next, &reason).await
            }
        };
        if let Err(e) = done {
            tracing::warn!(receiver = %ep.receiver, error = %e, "Cannot update the notification queue.");
        }
    }
}

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
                Ok(()) => {
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

/// The client every delivery uses (no redirects, centinela's user agent).
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .user_agent(concat!("centinela/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::from(format!("cannot build the HTTP client: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past: retry now"
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", SystemTime::now()), None);
    }

    #[test]
    fn answers_are_classified_as_delivered_retry_or_permanent() {
        let ok =
            |i, code: u16, body: &str| classify(i, StatusCode::from_u16(code).unwrap(), body, None);
        assert!(ok(Integration::Slack, 200, "ok").is_ok());
        assert!(ok(Integration::PagerDuty, 202, "{\"status\":\"success\"}").is_ok());
        assert!(matches!(
            ok(Integration::Slack, 200, "invalid_token"),
            Err(SendError::Permanent { .. })
        ));
        for code in [408, 429, 500, 502, 503] {
            assert!(
                matches!(
                    ok(Integration::Webhook, code, ""),
                    Err(SendError::Retry { .. })
                ),
                "{code}"
            );
        }
        for code in [400, 403, 404, 410] {
            match ok(Integration::Slack, code, "channel_not_found") {
                Err(SendError::Permanent { reason }) => {
                    assert_eq!(reason, format!("HTTP {code}: channel_not_found"));
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        let wait = Some(Duration::from_secs(7));
        match classify(Integration::Slack, StatusCode::TOO_MANY_REQUESTS, "", wait) {
            Err(SendError::Retry { after, .. }) => assert_eq!(after, wait),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_the_cap_with_jitter() {
        let max = Duration::from_secs(120);
        for (attempts, full) in [(1, 1), (2, 2), (3, 4), (5, 16), (8, 120), (40, 120)] {
            for _ in 0..50 {
                let d = backoff(attempts, max);
                let full = Duration::from_secs(full);
                assert!(d <= full && d >= full / 2, "attempt {attempts}: {d:?}");
            }
        }
    }
}
