//! Delivery: one worker per receiver integration drains its queue in order, with its rate
//! limit, retries with backoff (or after `Retry-After`), and counts every outcome.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value as Json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::receivers::Endpoint;
use crate::alerting::model::Integration;
use crate::alerting::outbox::{Depth, Store};
use crate::metrics::{catalog, labels, Batch};
use crate::sync::lock;
use crate::time::system_time_ms;

crate::message_error! {
    /// The HTTP client for deliveries cannot be built.
    ClientError
}

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

/// One delivery. To an Alertmanager cluster it goes to every peer at once, and it is
/// delivered when one peer took it (the peers share it by gossip and notify once, and
/// `resend_interval` brings a peer that was down up to date); it fails when all failed.
/// On success, the receiver's HTTP status.
pub async fn send(client: &reqwest::Client, ep: &Endpoint, body: &Json) -> Result<u16, SendError> {
    if ep.peers.is_empty() {
        return send_to(client, ep, ep.url.expose_secret(), body).await;
    }
    let urls: Vec<&str> = std::iter::once(&ep.url)
        .chain(&ep.peers)
        .map(ExposeSecret::expose_secret)
        .collect();
    let results =
        futures_util::future::join_all(urls.iter().map(|u| send_to(client, ep, u, body))).await;
    if let Some(Ok(status)) = results.iter().find(|r| r.is_ok()) {
        for (i, r) in results.iter().enumerate() {
            if let Err(e) = r {
                tracing::warn!(receiver = %ep.receiver, peer = urls[i], error = %e, "Alertmanager peer did not take the alerts; the others did.");
            }
        }
        return Ok(*status);
    }
    let retry = results
        .iter()
        .any(|r| matches!(r, Err(SendError::Retry { .. })));
    let reason = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| format!("{}: {e}", urls[i])))
        .collect::<Vec<_>>()
        .join("; ");
    Err(if retry {
        SendError::Retry {
            reason,
            after: None,
        }
    } else {
        SendError::Permanent { reason }
    })
}

/// One HTTP delivery to `url`. Error texts carry the status and the receiver's answer,
/// never the URL (a Slack webhook URL is a credential).
async fn send_to(
    client: &reqwest::Client,
    ep: &Endpoint,
    url: &str,
    body: &Json,
) -> Result<u16, SendError> {
    let mut body = body.clone();
    if let (Some(key), Some(obj)) = (&ep.routing_key, body.as_object_mut()) {
        obj.insert(
            "routing_key".into(),
            Json::String(key.expose_secret().to_owned()),
        );
    }
    let response = client
        .post(url)
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
    classify(ep.integration, status, &text, retry_after).map(|()| status.as_u16())
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
    /// (receiver, integration) → messages sent again after a restart interrupted them.
    pub resent: BTreeMap<(String, String), u64>,
    /// (receiver, integration) → the last delivery attempts, newest last.
    pub recent: BTreeMap<(String, &'static str), std::collections::VecDeque<Attempt>>,
}

/// One delivery attempt, as the notifications page shows it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it ended (Unix milliseconds).
    pub at_ms: i64,
    /// sent, failed (retried) or rejected.
    pub outcome: &'static str,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// The receiver's answer or the error, at most 300 characters; never a URL.
    pub answer: String,
    /// Which attempt of its message this was.
    pub attempt: i64,
}

/// Attempts kept per receiver integration.
const RECENT: usize = 20;

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

    /// Messages of a queue whose sending a stop interrupted: they go out again.
    pub fn count_resent(&self, receiver: &str, integration: &str, n: u64) {
        *lock(&self.inner)
            .resent
            .entry((receiver.to_owned(), integration.to_owned()))
            .or_default() += n;
    }

    fn record(&self, ep: &Endpoint, attempt: Attempt) {
        let mut inner = lock(&self.inner);
        let list = inner
            .recent
            .entry((ep.receiver.clone(), ep.integration.as_str()))
            .or_default();
        if list.len() == RECENT {
            list.pop_front();
        }
        list.push_back(attempt);
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
        #[allow(clippy::cast_precision_loss)]
        for ((receiver, integration), n) in &stats.resent {
            b.push(
                &catalog::NOTIFICATIONS_RESENT,
                labels([("receiver", receiver), ("integration", integration)]),
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
        if let Err(e) = store.mark_sending(msg.id).await {
            tracing::warn!(receiver = %ep.receiver, error = %e, "Cannot update the notification queue.");
        }
        let result = send(&client, &ep, &body).await;
        last_send = Some(Instant::now());
        stats.record(
            &ep,
            match &result {
                Ok(status) => Attempt {
                    at_ms: system_time_ms(std::time::SystemTime::now()),
                    outcome: "sent",
                    status: Some(*status),
                    answer: String::new(),
                    attempt: msg.attempts + 1,
                },
                Err(e) => {
                    let reason = e.to_string();
                    Attempt {
                        at_ms: system_time_ms(std::time::SystemTime::now()),
                        outcome: if matches!(e, SendError::Retry { .. }) {
                            "failed"
                        } else {
                            "rejected"
                        },
                        status: reason
                            .strip_prefix("HTTP ")
                            .and_then(|r| r.get(..3))
                            .and_then(|c| c.parse().ok()),
                        answer: reason.chars().take(300).collect(),
                        attempt: msg.attempts + 1,
                    }
                }
            },
        );
        let done = match result {
            Ok(_) => {
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

/// The client every delivery uses (no redirects, centinela's user agent).
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .user_agent(concat!("centinela/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::from(format!("cannot build the HTTP client: {e}")))
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
