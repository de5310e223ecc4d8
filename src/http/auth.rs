//! The gate every request passes: the web configuration's rate limit and response
//! headers, basic auth against its bcrypt hashes (as exporter-toolkit checks them), and
//! the rule that changes (silences) need an identity: a basic auth user or a verified
//! client certificate. Without a way to authenticate configured, changes answer 403 with
//! how to enable them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::server::Peer;
use super::web_config::{RateLimit, Watched};
use crate::snapshot::Snapshot;
use crate::sync::{lock, Throttle};

/// Who made a request, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A basic auth user of the web configuration.
    User(String),
    /// A client certificate verified against `client_ca_file` (its SAN or common name).
    Certificate(String),
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(u) => f.write_str(u),
            Self::Certificate(c) => write!(f, "cert:{c}"),
        }
    }
}

/// A password hash exporter-toolkit checks unknown users against, so a wrong user name
/// takes as long as a wrong password (bcrypt of "fakepassword", cost 10).
const DECOY: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Results kept, at most, before the cache starts over.
const CACHE_MAX: usize = 1024;

/// The gate's state, shared by every request.
#[derive(Debug)]
pub struct Gate {
    web: Arc<Watched>,
    open_paths: Vec<String>,
    max_body: u64,
    snapshot: Arc<Snapshot>,
    /// sha256(user, hash, password) → whether it matched, so bcrypt runs once per
    /// credential, not once per scrape.
    cache: Mutex<HashMap<[u8; 32], bool>>,
    /// One bcrypt at a time: each costs tens of milliseconds of CPU.
    bcrypt: tokio::sync::Mutex<()>,
    bucket: Mutex<Option<(f64, Instant)>>,
    throttle: Throttle,
}

impl Gate {
    /// The gate over `web`, leaving `open_paths` open and refusing bodies over `max_body`.
    pub fn new(
        web: Arc<Watched>,
        open_paths: Vec<String>,
        max_body: u64,
        snapshot: Arc<Snapshot>,
    ) -> Self {
        Self {
            web,
            open_paths,
            max_body,
            snapshot,
            cache: Mutex::new(HashMap::new()),
            bcrypt: tokio::sync::Mutex::new(()),
            bucket: Mutex::new(None),
            throttle: Throttle::new(std::time::Duration::from_secs(60)),
        }
    }

    fn refuse(&self, reason: &'static str, peer: Option<&Peer>, detail: &str) {
        self.snapshot.count_rejected(reason);
        if let Some(held) = self.throttle.allow(reason) {
            let client = peer.map(|p| p.addr.to_string()).unwrap_or_default();
            tracing::warn!(reason, client, held_back = held, "{detail}");
        }
    }

    /// Takes a token from the bucket; false when it is empty.
    fn take_token(&self, rl: RateLimit) -> bool {
        let now = Instant::now();
        let mut bucket = lock(&self.bucket);
        let (tokens, at) = bucket.unwrap_or((f64::from(rl.burst), now));
        let refill = now.duration_since(at).as_secs_f64() / rl.interval.as_secs_f64();
        let tokens = (tokens + refill).min(f64::from(rl.burst));
        if tokens < 1.0 {
            *bucket = Some((tokens, now));
            return false;
        }
        *bucket = Some((tokens - 1.0, now));
        true
    }

    /// Checks basic auth credentials against `hash` (or the decoy for an unknown user).
    async fn check(&self, user: &str, hash: Option<&str>, password: &str) -> bool {
        let hash_text = hash.unwrap_or(DECOY);
        let key: [u8; 32] = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update([0])
            .chain_update(hash_text.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if let Some(ok) = lock(&self.cache).get(&key) {
            return *ok && hash.is_some();
        }
        let _one = self.bcrypt.lock().await;
        let (h, p) = (hash_text.to_owned(), password.to_owned());
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(p, &h).unwrap_or(false))
            .await
            .unwrap_or(false);
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, ok);
        ok && hash.is_some()
    }
}

/// `Authorization: Basic …` as (user, password).
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": "error", "error": message}))).into_response()
}

fn unauthorized() -> Response {
    let mut r = json_error(StatusCode::UNAUTHORIZED, "authentication required");
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    r
}

/// Whether a request changes state (everything but reads).
fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: rate limit, authentication, the write rule, then the handler; the
/// configured headers go on every answer, refusals included.
pub async fn gate(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let config = gate.web.current();
    let mut response = admit(&gate, &config, &mut req).await;
    if response.is_none() {
        response = Some(next.run(req).await);
    }
    let mut response =
        response.unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    for (name, value) in &config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// `None` when the request may go on (with its [`Identity`] attached), else the refusal.
async fn admit(
    gate: &Gate,
    config: &super::web_config::WebConfig,
    req: &mut Request,
) -> Option<Response> {
    let peer = req.extensions().get::<Peer>().cloned();
    if let Some(rl) = config.rate_limit {
        if !gate.take_token(rl) {
            gate.refuse(
                "rate_limited",
                peer.as_ref(),
                "Request refused: web configuration rate_limit reached.",
            );
            return Some(json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests",
            ));
        }
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > gate.max_body) {
        gate.refuse(
            "body_too_large",
            peer.as_ref(),
            "Request refused: body larger than server.max_request_body.",
        );
        return Some(json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "request body larger than {} (server.max_request_body)",
                bytesize::ByteSize(gate.max_body)
            ),
        ));
    }

    let mut identity = peer
        .as_ref()
        .and_then(|p| p.certificate.clone())
        .map(Identity::Certificate);
    if config.has_users() {
        if let Some((user, password)) = basic_credentials(req) {
            if !gate.check(&user, config.hash_of(&user), &password).await {
                gate.refuse(
                    "unauthorized",
                    peer.as_ref(),
                    "Request refused: wrong basic auth user or password.",
                );
                return Some(unauthorized());
            }
            identity = Some(Identity::User(user));
        } else {
            // Open paths are open to reads only.
            let open = gate.open_paths.iter().any(|p| p == req.uri().path());
            if identity.is_none() && (changes(req.method()) || !open) {
                gate.refuse(
                    "unauthorized",
                    peer.as_ref(),
                    "Request refused: no basic auth credentials.",
                );
                return Some(unauthorized());
            }
        }
    }
    if changes(req.method()) && identity.is_none() {
        if config.can_authenticate() {
            gate.refuse(
                "unauthorized",
                peer.as_ref(),
                "Change refused: no credentials.",
            );
            return Some(unauthorized());
        }
        gate.refuse(
            "forbidden",
            peer.as_ref(),
            "Change refused: no authentication is configured.",
        );
        return Some(json_error(
            StatusCode::FORBIDDEN,
            "changing silences needs authentication, and none is configured: set basic_auth_users \
             (bcrypt hashes) or client certificates (client_auth_type: RequireAndVerifyClientCert) \
             in a web configuration file, given by --web.config.file or [server] web_config_file; \
             see the README's \"Securing centinela\"",
        ));
    }
    if let Some(id) = identity {
        req.extensions_mut().insert(id);
    }
    None
}
