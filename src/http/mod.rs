//! HTTP server: `/metrics`, `/health`, `/ready`, `/health/db`, `/health/redis`,
//! `/api/v1/alerts`, `/api/v1/rules` and `/api/v1/silences`. It reads the snapshot and
//! the alerting handles; it never writes into the snapshot.

mod api;
mod health;
mod metrics;
mod silences;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::snapshot::Snapshot;

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
        .merge(metrics)
        .with_state(state)
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
