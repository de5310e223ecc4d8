//! HTTP server: `/metrics`, `/health`, `/ready`, `/health/db`.

mod health;
mod metrics;
mod silences;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::state::Snapshot;

#[derive(Clone, Debug)]
pub struct AppState {
    pub snapshot: Arc<Snapshot>,
    pub alerting: Arc<arc_swap::ArcSwap<crate::alerting::engine::Published>>,
    pub silences: crate::alerting::Silences,
    pub store: Option<crate::alerting::outbox::Store>,
}

/// Checks `[server]`.
#[must_use]
pub fn check(server: &crate::config::ServerConfig) -> crate::config::Problems {
    if server.listen.parse::<std::net::SocketAddr>().is_ok() {
        return Vec::new();
    }
    vec![crate::config::ConfigError::new(
        "server.listen",
        format!(
            "expected an address like 0.0.0.0:9432, got {:?}",
            server.listen
        ),
    )]
}

/// The application's routes; a plain function so tests can serve it on any port.
pub fn router(state: AppState) -> Router {
    // Large expositions (hundreds of thousands of series) compress at the fastest level:
    // the ratio barely changes and the CPU per scrape drops several times.
    let metrics = Router::new()
        .route("/metrics", get(metrics::metrics))
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest));
    Router::new()
        .route("/", get(index))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/health/db", get(health::db))
        .route("/health/redis", get(health::redis))
        .route("/api/v1/alerts", get(api_alerts))
        .route("/api/v1/rules", get(api_rules))
        .route(
            "/api/v1/silences",
            get(silences::list).post(silences::create),
        )
        .route(
            "/api/v1/silences/{id}",
            axum::routing::delete(silences::expire),
        )
        .merge(metrics)
        .with_state(state)
}

/// Prometheus' `/api/v1/alerts` shape: pending and firing alerts.
async fn api_alerts(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    axum::Json(api_or_empty(&s.alerting.load().alerts, "alerts"))
}

/// Prometheus' `/api/v1/rules` shape: groups, rules, health and their alerts.
async fn api_rules(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    axum::Json(api_or_empty(&s.alerting.load().rules, "groups"))
}

/// Before the first evaluation (or with alerting off) the answer is an empty list.
fn api_or_empty(v: &serde_json::Value, key: &str) -> serde_json::Value {
    if v.is_null() {
        serde_json::json!({"status": "success", "data": {key: []}})
    } else {
        v.clone()
    }
}

async fn index() -> &'static str {
    "centinela: PostgreSQL exporter and alerting sidecar\n\
     /metrics     Prometheus metrics (text 0.0.4, OpenMetrics on request, gzip)\n\
     /health      200 while the process runs\n\
     /ready       200 once every collector has run once\n\
     /health/db   200 while the last PostgreSQL collection succeeded and is fresh\n\
     /health/redis  the same for Redis (404 when not configured)\n\
     /api/v1/alerts  pending and firing alerts (Prometheus' JSON shape)\n\
     /api/v1/rules   rule groups, their health and alerts\n\
     /api/v1/silences  GET, POST (Alertmanager's silence object), DELETE /api/v1/silences/ID\n"
}

/// Serves until `shutdown` is cancelled, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
