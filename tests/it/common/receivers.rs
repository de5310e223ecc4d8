//! Local stand-ins for Slack incoming webhooks and PagerDuty's Events API v2, following
//! their published contracts: status codes, error bodies, `Retry-After`, rate limits and
//! payload validation. They record what they accepted so tests assert exact payloads,
//! can be scripted to fail, and can be stopped and restarted on the same port.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The webhook path tests configure; any other path answers 404 `no_service`.
pub const SLACK_HOOK: &str = "/services/T0CENTINELA/B0TESTHOOK/abcdefghijklmnopqrstuvwx";
/// A well-formed 32-character routing key.
pub const PD_KEY: &str = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12";

/// A scripted answer used instead of the normal one.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub status: u16,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    /// Every request with the status it got.
    log: Vec<Received>,
    script: VecDeque<Scripted>,
    last_accepted: Option<Instant>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Slack,
    PagerDuty,
}

/// A running emulator.
pub struct Emulator {
    kind: Kind,
    inner: Arc<Mutex<Inner>>,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

type Shared = (Kind, Arc<Mutex<Inner>>);

impl Emulator {
    pub async fn slack() -> Self {
        Self::start(Kind::Slack, "127.0.0.1:0".parse().unwrap(), Arc::default()).await
    }

    pub async fn pagerduty() -> Self {
        Self::start(
            Kind::PagerDuty,
            "127.0.0.1:0".parse().unwrap(),
            Arc::default(),
        )
        .await
    }

    async fn start(kind: Kind, addr: SocketAddr, inner: Arc<Mutex<Inner>>) -> Self {
        let (addr, stop) = serve(kind, addr, Arc::clone(&inner)).await;
        Self {
            kind,
            inner,
            addr,
            stop: Some(stop),
        }
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Slack => format!("http://{}{SLACK_HOOK}", self.addr),
            Kind::PagerDuty => format!("http://{}/v2/enqueue", self.addr),
        }
    }

    /// Stops answering (connections are refused) until [`Emulator::restart`].
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        // The old listener closes asynchronously; retry the bind briefly.
        for _ in 0..50 {
            if tokio::net::TcpListener::bind(self.addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, stop) = serve(self.kind, self.addr, Arc::clone(&self.inner)).await;
        self.stop = Some(stop);
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Every request so far, with its status.
    pub fn log(&self) -> Vec<Received> {
        self.inner.lock().unwrap().log.clone()
    }

    /// Accepted messages only.
    pub fn accepted(&self) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| r.body)
            .collect()
    }

    /// Polls until `n` messages were accepted; returns them.
    pub async fn wait_accepted(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} accepted messages; log: {:#?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn serve(
    kind: Kind,
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind emulator");
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/services/{a}/{b}/{c}", post(slack))
        .route("/v2/enqueue", post(pagerduty))
        .with_state((kind, inner));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .ok();
    });
    (addr, tx)
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn record(inner: &Mutex<Inner>, status: u16, body: Value) {
    inner.lock().unwrap().log.push(Received {
        at: Instant::now(),
        status,
        body,
    });
}

fn scripted(inner: &Mutex<Inner>) -> Option<Scripted> {
    inner.lock().unwrap().script.pop_front()
}

fn answer(status: u16, content_type: &str, body: String, retry_after: Option<u64>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    if let Some(s) = retry_after {
        headers.insert(
            "retry-after",
            HeaderValue::from_str(&s.to_string()).unwrap(),
        );
    }
    (StatusCode::from_u16(status).unwrap(), headers, body).into_response()
}

// === Slack ===

/// Slack's checks of an incoming-webhook payload, as documented: a message needs text,
/// blocks or attachments; at most 50 blocks; a section's text at most 3000 characters.
fn slack_problem(v: &Value) -> Option<&'static str> {
    let blocks_ok = |blocks: &Value| -> Option<&'static str> {
        let Some(list) = blocks.as_array() else {
            return Some("invalid_blocks");
        };
        if list.len() > 50 {
            return Some("invalid_blocks");
        }
        for b in list {
            let text = b["text"]["text"].as_str().map_or(0, |t| t.chars().count());
            let elements_too_long = b["elements"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|x| x["text"].as_str().is_some_and(|t| t.chars().count() > 3000))
            });
            if text > 3000 || elements_too_long || b["type"].as_str().is_none() {
                return Some("invalid_blocks");
            }
        }
        None
    };
    let text = v["text"].as_str().unwrap_or("");
    let attachments = v["attachments"].as_array();
    if text.is_empty() && v.get("blocks").is_none() && attachments.is_none_or(Vec::is_empty) {
        return Some("no_text");
    }
    if let Some(b) = v.get("blocks") {
        if let Some(p) = blocks_ok(b) {
            return Some(p);
        }
    }
    if let Some(list) = attachments {
        if list.len() > 100 {
            return Some("too_many_attachments");
        }
        for a in list {
            if let Some(b) = a.get("blocks") {
                if let Some(p) = blocks_ok(b) {
                    return Some(p);
                }
            }
        }
    }
    None
}

async fn slack(
    State((_, inner)): State<Shared>,
    Path((a, b, c)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    if format!("/services/{a}/{b}/{c}") != SLACK_HOOK {
        record(&inner, 404, Value::Null);
        return answer(404, "text/plain", "no_service".into(), None);
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(s) = scripted(&inner) {
        record(&inner, s.status, parsed.unwrap_or(Value::Null));
        return answer(s.status, "text/plain", s.body, s.retry_after);
    }
    let Some(v) = parsed.filter(Value::is_object) else {
        record(&inner, 400, Value::Null);
        return answer(400, "text/plain", "invalid_payload".into(), None);
    };
    if let Some(problem) = slack_problem(&v) {
        record(&inner, 400, v);
        return answer(400, "text/plain", problem.into(), None);
    }
    // About one message per second per webhook; over that, 429 with Retry-After.
    {
        let mut g = inner.lock().unwrap();
        if g.last_accepted
            .is_some_and(|t| t.elapsed() < Duration::from_millis(900))
        {
            g.log.push(Received {
                at: Instant::now(),
                status: 429,
                body: v,
            });
            return answer(
                429,
                "application/json",
                json!({"retry_after": 1, "ok": false, "error": "rate_limited"}).to_string(),
                Some(1),
            );
        }
        g.last_accepted = Some(Instant::now());
    }
    record(&inner, 200, v);
    answer(200, "text/plain", "ok".into(), None)
}

pub fn slack_rate_limited(seconds: u64) -> Scripted {
    Scripted {
        status: 429,
        body: json!({"retry_after": seconds, "ok": false, "error": "rate_limited"}).to_string(),
        retry_after: Some(seconds),
    }
}

pub fn slack_error(status: u16, error: &str) -> Scripted {
    Scripted {
        status,
        body: error.into(),
        retry_after: None,
    }
}

// === PagerDuty ===

fn pd_errors(v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    match v["routing_key"].as_str() {
        Some(k) if k.len() == 32 => {}
        _ => errors.push("'routing_key' must be a 32 character string".to_owned()),
    }
    let action = v["event_action"].as_str().unwrap_or("");
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        errors.push(
            "'event_action' is invalid (must be one of trigger, acknowledge, resolve)".into(),
        );
    }
    if let Some(k) = v.get("dedup_key") {
        if k.as_str().is_none_or(|k| k.is_empty() || k.len() > 255) {
            errors.push("'dedup_key' must be a non-empty string of at most 255 characters".into());
        }
    } else if action != "trigger" {
        errors.push("'dedup_key' is required for acknowledge and resolve".into());
    }
    if action == "trigger" {
        let p = &v["payload"];
        match p["summary"].as_str() {
            Some(s) if !s.is_empty() && s.chars().count() <= 1024 => {}
            _ => errors.push("'payload.summary' is missing or longer than 1024 characters".into()),
        }
        if p["source"].as_str().is_none_or(str::is_empty) {
            errors.push("'payload.source' is missing".into());
        }
        if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or(""))
        {
            errors.push("'payload.severity' must be one of critical, error, warning, info".into());
        }
        if let Some(t) = p.get("timestamp") {
            if t.as_str()
                .is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_err())
            {
                errors.push("'payload.timestamp' must be an ISO 8601 timestamp".into());
            }
        }
        if let Some(links) = v.get("links") {
            if links
                .as_array()
                .is_none_or(|l| l.iter().any(|x| x["href"].as_str().is_none()))
            {
                errors.push("'links' must be a list of objects with 'href'".into());
            }
        }
    }
    errors
}

async fn pagerduty(State((_, inner)): State<Shared>, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(s) = scripted(&inner) {
        record(&inner, s.status, parsed.unwrap_or(Value::Null));
        return answer(s.status, "application/json", s.body, s.retry_after);
    }
    let invalid = |errors: Vec<String>| {
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})
            .to_string()
    };
    let Some(v) = parsed.filter(Value::is_object) else {
        record(&inner, 400, Value::Null);
        return answer(
            400,
            "application/json",
            invalid(vec!["Invalid JSON".into()]),
            None,
        );
    };
    let errors = pd_errors(&v);
    if !errors.is_empty() {
        record(&inner, 400, v);
        return answer(400, "application/json", invalid(errors), None);
    }
    let key = v["dedup_key"]
        .as_str()
        .map_or_else(|| "generated-0000".to_owned(), str::to_owned);
    record(&inner, 202, v);
    answer(
        202,
        "application/json",
        json!({"status": "success", "message": "Event processed", "dedup_key": key}).to_string(),
        None,
    )
}

pub fn pd_throttled() -> Scripted {
    Scripted {
        status: 429,
        body: json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."}).to_string(),
        retry_after: None,
    }
}

pub fn pd_server_error() -> Scripted {
    Scripted {
        status: 500,
        body: "Internal Server Error".into(),
        retry_after: None,
    }
}

/// `(event_action, dedup_key, severity)` of accepted PagerDuty events.
pub fn pd_events(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["event_action"].as_str().unwrap_or("").to_owned(),
                e["dedup_key"].as_str().unwrap_or("").to_owned(),
                e["payload"]["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The notification text of accepted Slack messages.
pub fn slack_texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A PagerDuty emulator answering `pd_errors`' way, for unit-level checks of payloads.
pub fn pagerduty_problems(v: &Value) -> Vec<String> {
    pd_errors(v)
}

/// The same for Slack.
pub fn slack_problems(v: &Value) -> Option<&'static str> {
    slack_problem(v)
}
