//! Health endpoints: liveness, readiness latch and per-component health as JSON.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::AppState;
use crate::snapshot::Slot;

/// Liveness: answers while the process runs; it never depends on PostgreSQL, so a database
/// outage does not get the sidecar (and with it the pod) restarted.
pub async fn health() -> &'static str {
    "ok\n"
}

/// `/ready`'s answer.
#[derive(Serialize)]
pub struct Readiness {
    status: &'static str,
    pending: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Readiness: 503 until every collector has finished its first run, successful or not,
/// and while alerting's state directory cannot be used. A failing database must not make
/// the pod it runs in unready.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // The latch answers once released; before that, the pending collectors are named.
    let pending: Vec<_> = if state.snapshot.is_ready() {
        Vec::new()
    } else {
        state
            .snapshot
            .slots()
            .iter()
            .filter(|s| s.load().status.runs == 0)
            .map(|s| s.name)
            .collect()
    };
    if let Some(problem) = state.snapshot.state_problem() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "state_dir_unusable",
                pending,
                error: Some(problem),
            }),
        );
    }
    if pending.is_empty() {
        (
            StatusCode::OK,
            Json(Readiness {
                status: "ready",
                pending,
                error: None,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "starting",
                pending,
                error: None,
            }),
        )
    }
}

/// `/health/db` and `/health/redis`'s answer.
#[derive(Debug, Serialize)]
pub struct ComponentHealth {
    /// `ok`, `stale`, `failing`, or `disabled` when not configured.
    pub status: &'static str,
    /// The collector it reports on.
    pub collector: &'static str,
    /// Seconds since its last success.
    pub last_success_age_seconds: Option<f64>,
    /// Older than this is stale.
    pub freshness_limit_seconds: f64,
    /// Its last error, free of secrets.
    pub error: Option<String>,
}

/// `/health/db`: the `postgres` collector's last run.
pub async fn db(State(state): State<AppState>) -> (StatusCode, Json<ComponentHealth>) {
    named(&state, "postgres")
}

/// `/health/redis`: the `redis` collector's last run; 404 when Redis is not configured.
pub async fn redis(State(state): State<AppState>) -> (StatusCode, Json<ComponentHealth>) {
    named(&state, "redis")
}

fn named(state: &AppState, collector: &'static str) -> (StatusCode, Json<ComponentHealth>) {
    match state.snapshot.slot(collector) {
        Some(slot) => component(slot),
        None => (
            StatusCode::NOT_FOUND,
            Json(ComponentHealth {
                status: "disabled",
                collector,
                last_success_age_seconds: None,
                freshness_limit_seconds: 0.0,
                error: None,
            }),
        ),
    }
}

/// 200 when the collector's last run succeeded and is fresh, 503 with the reason otherwise.
pub fn component(slot: &Slot) -> (StatusCode, Json<ComponentHealth>) {
    let entry = slot.load();
    let st = &entry.status;
    let age = st
        .last_success
        .map(|t| SystemTime::now().duration_since(t).unwrap_or_default());
    let limit = slot.freshness_limit();
    let status = if st.runs == 0 {
        "pending"
    } else if st.last_error.is_some() {
        "failing"
    } else if age.is_none_or(|a| a > limit) {
        "stale"
    } else {
        "ok"
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(ComponentHealth {
            status,
            collector: slot.name,
            last_success_age_seconds: age.map(|a| a.as_secs_f64()),
            freshness_limit_seconds: limit.as_secs_f64(),
            error: st.last_error.clone(),
        }),
    )
}
