//! HTTP server: `/metrics`, `/health`, `/ready`, `/health/db`.

mod health;
mod metrics;

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
        .merge(metrics)
        .with_state(state)
}

async fn index() -> &'static str {
    "centinela: PostgreSQL exporter and alerting sidecar\n\
     /metrics     Prometheus metrics (text 0.0.4, OpenMetrics on request, gzip)\n\
     /health      200 while the process runs\n\
     /ready       200 once every collector has run once\n\
     /health/db   200 while the last PostgreSQL collection succeeded and is fresh\n\
     /health/redis  the same for Redis (404 when not configured)\n"
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
