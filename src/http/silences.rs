//! `/api/v1/silences`: list, add (Alertmanager API v2's silence object) and expire
//! silences. API silences are persisted in the state database; configured ones are
//! read-only here.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rand::Rng as _;
use serde_json::{json, Value};

use super::AppState;
use crate::alerting::dispatch::{Silence, SilenceDoc};
use crate::alerting::SILENCES_KEY;
use crate::time::system_time_ms;

fn now() -> i64 {
    system_time_ms(std::time::SystemTime::now())
}

fn error(status: StatusCode, message: String) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"status": "error", "error": message})))
}

pub async fn list(State(s): State<AppState>) -> Json<Value> {
    let now = now();
    let docs: Vec<Value> = s
        .silences
        .lock()
        .map(|v| {
            v.iter()
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
                .collect()
        })
        .unwrap_or_default();
    Json(json!({"status": "success", "data": docs}))
}

/// Persists the API silences that have not ended.
async fn persist(s: &AppState) -> Result<(), (StatusCode, Json<Value>)> {
    let Some(store) = &s.store else {
        return Ok(());
    };
    let now = now();
    let docs: Vec<SilenceDoc> = s
        .silences
        .lock()
        .map(|v| {
            v.iter()
                .filter(|x| !x.id.starts_with("config-") && x.ends_at > now)
                .map(Silence::to_doc)
                .collect()
        })
        .unwrap_or_default();
    let text = serde_json::to_string(&docs).unwrap_or_else(|_| "[]".into());
    store.save(SILENCES_KEY, &text).await.map_err(|e| {
        tracing::error!(error = %e, "Cannot save silences.");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot save the silence".into(),
        )
    })
}

pub async fn create(
    State(s): State<AppState>,
    body: Result<Json<SilenceDoc>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, Json<Value>) {
    let Json(doc) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let id = format!("{:016x}", rand::rng().random::<u64>());
    let silence = match doc.to_silence(id.clone(), now()) {
        Ok(sil) => sil,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    tracing::info!(id = %id, matchers = %silence.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "), created_by = %silence.created_by, "Silence added.");
    if let Ok(mut v) = s.silences.lock() {
        v.push(silence);
    }
    if let Err(e) = persist(&s).await {
        return e;
    }
    (
        StatusCode::OK,
        Json(json!({"status": "success", "data": {"silenceID": id}})),
    )
}

pub async fn expire(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> (StatusCode, Json<Value>) {
    if id.starts_with("config-") {
        return error(
            StatusCode::CONFLICT,
            format!("silence {id} comes from the configuration; remove it there"),
        );
    }
    let removed = s
        .silences
        .lock()
        .map(|mut v| {
            let before = v.len();
            v.retain(|x| x.id != id);
            before != v.len()
        })
        .unwrap_or(false);
    if !removed {
        return error(StatusCode::NOT_FOUND, format!("no silence {id}"));
    }
    if let Err(e) = persist(&s).await {
        return e;
    }
    tracing::info!(id = %id, "Silence expired.");
    (StatusCode::OK, Json(json!({"status": "success"})))
}
