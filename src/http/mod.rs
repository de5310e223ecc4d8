//! HTTP server: `/metrics`, `/health`, `/ready`, `/health/db`, `/health/redis`,
//! `/api/v1/alerts`, `/api/v1/rules` and `/api/v1/silences`, behind the gate of the web
//! configuration (TLS, basic auth, rate limit, headers) and the listener's limits. It
//! reads the snapshot and the alerting handles; it never writes into the snapshot.

mod api;
pub mod auth;
mod health;
pub mod metrics;
mod pages;
pub mod server;
mod silences;
pub mod web_config;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Problems, ServerConfig};
use crate::snapshot::Snapshot;
use web_config::Watched;

/// What the handlers read.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The collectors' latest batches.
    pub snapshot: Arc<Snapshot>,
    /// The alerting engine's last evaluation.
    pub alerting: Arc<arc_swap::ArcSwap<crate::alerting::engine::Published>>,
    /// The live silences.
    pub silences: crate::alerting::Silences,
    /// The state database, when alerting has one.
    pub store: Option<crate::alerting::outbox::Store>,
    /// `/metrics` responses that may be in flight at once.
    pub scrapes: Arc<Semaphore>,
    /// The web configuration in force (whether a login exists, for the pages).
    pub web: Arc<Watched>,
    /// Delivery counters and the last attempts, when alerting has receivers.
    pub deliveries: Option<Arc<crate::alerting::notify::Stats>>,
    /// What only the pages need.
    pub pages: Arc<PageContext>,
    /// The last gzip-compressed exposition.
    pub gzip: Arc<metrics::GzipCache>,
}

/// What only the pages need.
#[derive(Debug)]
pub struct PageContext {
    /// Signs the pages' forms (random per process).
    pub csrf_key: [u8; 32],
    /// The effective configuration, secrets masked.
    pub config_text: Arc<str>,
    /// Prefix of relative runbook links.
    pub runbook_base: String,
}

impl PageContext {
    /// For a configuration's effective text and runbook prefix.
    pub fn new(config_text: Arc<str>, runbook_base: String) -> Self {
        Self {
            csrf_key: rand::random(),
            config_text,
            runbook_base,
        }
    }
}

/// Checks `[server]` and reads the web configuration it names (`web_config_file`).
pub fn plan(server: &ServerConfig) -> Result<Arc<Watched>, Problems> {
    let mut problems = Vec::new();
    let mut err = |key: &str, msg: String| problems.push(ConfigError::new(key, msg));
    if server.listen.parse::<std::net::SocketAddr>().is_err() {
        err(
            "server.listen",
            format!(
                "expected an address like 0.0.0.0:9432, got {:?}",
                server.listen
            ),
        );
    }
    for (key, n) in [
        ("server.max_connections", server.max_connections),
        (
            "server.max_connections_per_client",
            server.max_connections_per_client,
        ),
        (
            "server.max_concurrent_scrapes",
            server.max_concurrent_scrapes,
        ),
    ] {
        if n == 0 {
            err(key, "must be at least 1".into());
        }
    }
    if server.max_connections_per_client > server.max_connections {
        err(
            "server.max_connections_per_client",
            format!(
                "must not be above server.max_connections ({})",
                server.max_connections
            ),
        );
    }
    if server.header_timeout < Duration::from_millis(100)
        || server.header_timeout > Duration::from_secs(3600)
    {
        err(
            "server.header_timeout",
            format!(
                "must be between 100ms and 1h, got {}",
                humantime::format_duration(server.header_timeout)
            ),
        );
    }
    if server.max_request_body.as_u64() < 1024 || server.max_request_body.as_u64() > 64 << 20 {
        err(
            "server.max_request_body",
            format!(
                "must be between 1KiB and 64MiB, got {}",
                server.max_request_body
            ),
        );
    }
    if let Some(probe) = &server.probe_listen {
        match probe.parse::<std::net::SocketAddr>() {
            Err(_) => err(
                "server.probe_listen",
                format!("expected an address like 0.0.0.0:9433, got {probe:?}"),
            ),
            Ok(a) if Some(a) == server.listen.parse().ok() => err(
                "server.probe_listen",
                "must differ from server.listen".into(),
            ),
            Ok(_) => {}
        }
    }
    for (i, p) in server.unauthenticated_paths.iter().enumerate() {
        if !p.starts_with('/') {
            err(
                &format!("server.unauthenticated_paths[{i}]"),
                format!("must be a path starting with /, got {p:?}"),
            );
        }
    }
    let web = match Watched::load(server.web_config_file.as_deref()) {
        Ok(w) => Some(w),
        Err(e) => {
            let path = server
                .web_config_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            err("server.web_config_file", format!("{path}: {e}"));
            None
        }
    };
    match web {
        Some(w) if problems.is_empty() => Ok(Arc::new(w)),
        _ => Err(problems),
    }
}

/// The application's routes behind `gate`; a plain function so tests can serve it on
/// any port.
pub fn router(state: AppState, gate: Arc<auth::Gate>, max_body: usize) -> Router {
    Router::new()
        .merge(pages::routes())
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/health/db", get(health::db))
        .route("/health/redis", get(health::redis))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/rules", get(api::rules))
        .route(
            "/api/v1/silences",
            get(silences::list).post(silences::create),
        )
        .route(
            "/api/v1/silences/{id}",
            axum::routing::delete(silences::expire),
        )
        .route("/metrics", get(metrics::metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(gate, auth::gate))
        .with_state(state)
}

/// The probe listener's routes: `/health` and `/ready`, nothing else.
pub fn probe_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .with_state(state)
}

/// Serves the probe routes on `listener` (plain HTTP, no authentication) until `shutdown`.
pub async fn serve_probes(
    listener: TcpListener,
    state: AppState,
    server: &ServerConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let limits = server::Limits {
        max_connections: 16,
        max_per_client: 16,
        header_timeout: server.header_timeout,
    };
    let plain = Arc::new(Watched::none());
    let snapshot = Arc::clone(&state.snapshot);
    server::serve(
        listener,
        probe_router(state),
        plain,
        snapshot,
        limits,
        shutdown,
    )
    .await
}

pub(crate) fn index() -> &'static str {
    "centinela: PostgreSQL exporter and alerting sidecar\n\
     /metrics     Prometheus metrics (text 0.0.4, OpenMetrics on request, gzip)\n\
     /health      200 while the process runs\n\
     /ready       200 once every collector has run once\n\
     /health/db   200 while the last PostgreSQL collection succeeded and is fresh\n\
     /health/redis  the same for Redis (404 when not configured)\n\
     /api/v1/alerts  pending and firing alerts (Prometheus' JSON shape)\n\
     /api/v1/rules   rule groups, their health and alerts\n\
     /api/v1/silences  GET; POST (Alertmanager's silence object) and DELETE /api/v1/silences/ID need a login\n"
}

/// Serves until `shutdown` is cancelled, then finishes the requests in flight. The web
/// configuration is looked at again every second, and reloaded when a file changed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    web: Arc<Watched>,
    server: &ServerConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let snapshot = Arc::clone(&state.snapshot);
    let gate = Arc::new(auth::Gate::new(
        Arc::clone(&web),
        server.unauthenticated_paths.clone(),
        server.max_request_body.as_u64(),
        Arc::clone(&snapshot),
    ));
    let max_body = usize::try_from(server.max_request_body.as_u64()).unwrap_or(usize::MAX);
    let router = router(state, gate, max_body);
    let limits = server::Limits {
        max_connections: server::connection_room(server.max_connections),
        max_per_client: server.max_connections_per_client,
        header_timeout: server.header_timeout,
    };
    snapshot.set_web_config_ok(web.last_reload_ok());
    let watcher = {
        let (web, snapshot, token) = (Arc::clone(&web), Arc::clone(&snapshot), shutdown.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let w = Arc::clone(&web);
                match tokio::task::spawn_blocking(move || w.refresh()).await {
                    Ok(Ok(true)) => tracing::info!("Web configuration reloaded."),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "Web configuration not reloaded; the previous one stays in force.");
                    }
                    Err(e) => tracing::error!(error = %e, "Web configuration check panicked."),
                }
                snapshot.set_web_config_ok(web.last_reload_ok());
            }
        })
    };
    let served = server::serve(listener, router, web, snapshot, limits, shutdown).await;
    watcher.abort();
    served
}
