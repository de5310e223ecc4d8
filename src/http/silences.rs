//! `/api/v1/silences`: list, add (Alertmanager API v2's silence object) and expire
//! silences, through `alerting::Silences`, which checks and persists them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use rand::Rng as _;
use serde_json::{json, Value};

use super::auth::Identity;
use super::AppState;
use crate::alerting::routes::silence::SilenceDoc;
use crate::alerting::silences::SilenceError;
use crate::time::now_ms;

fn error(status: StatusCode, message: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"status": "error", "error": message})))
}

/// The answer for a failed change; internal causes are logged, not shown.
fn failure(e: &SilenceError) -> (StatusCode, Json<Value>) {
    match e {
        SilenceError::Invalid(m) => error(StatusCode::BAD_REQUEST, &m.to_string()),
        SilenceError::NotFound(_) => error(StatusCode::NOT_FOUND, &e.to_string()),
        SilenceError::Configured(_) => error(StatusCode::CONFLICT, &e.to_string()),
        SilenceError::Limit(m) => {
            tracing::warn!(reason = %m, "Silence refused.");
            error(StatusCode::BAD_REQUEST, m)
        }
        SilenceError::Save(cause) => {
            tracing::error!(error = %cause, "Cannot save silences.");
            error(StatusCode::INTERNAL_SERVER_ERROR, "cannot save the silence")
        }
    }
}

/// `GET /api/v1/silences`.
pub async fn list(State(s): State<AppState>) -> Json<Value> {
    let now = now_ms();
    let docs: Vec<Value> = s
        .silences
        .list()
        .iter()
        .map(|sil| {
            let state = if sil.active(now) {
                "active"
            } else if sil.starts_at > now {
                "pending"
            } else {
                "expired"
            };
            let mut doc = serde_json::to_value(sil.to_doc()).unwrap_or_default();
            doc["status"] = json!({"state": state});
            doc
        })
        .collect();
    Json(json!({"status": "success", "data": docs}))
}

/// `POST /api/v1/silences`. The gate let it through with an identity, which becomes the
/// silence's `createdBy`.
pub async fn create(
    State(s): State<AppState>,
    identity: Option<Extension<Identity>>,
    body: Result<Json<SilenceDoc>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, Json<Value>) {
    let Json(mut doc) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    if let Some(Extension(who)) = identity {
        doc.created_by = who.to_string();
    }
    let id = format!("{:016x}", rand::rng().random::<u64>());
    match s.silences.add(&doc, id.clone(), now_ms()).await {
        Ok(silence) => {
            tracing::info!(id = %id, matchers = %silence.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "), created_by = %silence.created_by, "Silence added.");
            (
                StatusCode::OK,
                Json(json!({"status": "success", "data": {"silenceID": id}})),
            )
        }
        Err(e) => failure(&e),
    }
}

/// `DELETE /api/v1/silences/{id}`.
pub async fn expire(
    State(s): State<AppState>,
    identity: Option<Extension<Identity>>,
    Path(id): Path<String>,
) -> (StatusCode, Json<Value>) {
    match s.silences.expire(&id, now_ms()).await {
        Ok(()) => {
            let by = identity
                .map(|Extension(i)| i.to_string())
                .unwrap_or_default();
            tracing::info!(id = %id, by = %by, "Silence expired.");
            (StatusCode::OK, Json(json!({"status": "success"})))
        }
        Err(e) => failure(&e),
    }
}
