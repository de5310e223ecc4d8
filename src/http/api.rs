//! `/api/v1/alerts` and `/api/v1/rules` in Prometheus' JSON shape, from the engine's typed
//! views. Before the first evaluation (or with alerting off) both lists are empty.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::AppState;
use crate::alerting::engine::{AlertView, GroupView, RuleView};
use crate::promql::gofmt::format_go_float;
use crate::time::rfc3339;

/// Pending and firing alerts.
pub async fn alerts(State(s): State<AppState>) -> Json<Value> {
    let published = s.alerting.load();
    let alerts: Vec<Value> = published.alerts.iter().map(alert).collect();
    Json(json!({"status": "success", "data": {"alerts": alerts}}))
}

/// Rule groups, their rules' health and their alerts.
pub async fn rules(State(s): State<AppState>) -> Json<Value> {
    let published = s.alerting.load();
    let groups: Vec<Value> = published.groups.iter().map(group).collect();
    Json(json!({"status": "success", "data": {"groups": groups}}))
}

fn alert(a: &AlertView) -> Value {
    let labels: Map<String, Value> = a
        .labels
        .iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect();
    let mut v = json!({
        "labels": labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": rfc3339(a.active_at),
        "value": format_go_float(a.value),
    });
    // Not in Prometheus' API: what the database showed when a P0 or P1 alert fired.
    if let Some(e) = &a.evidence {
        v["evidence"] = e.clone();
    }
    v
}

fn group(g: &GroupView) -> Value {
    json!({
        "name": g.name,
        "file": g.file,
        "interval": g.interval_seconds,
        "rules": g.rules.iter().map(rule).collect::<Vec<_>>(),
        "evaluationTime": g.evaluation_seconds,
    })
}

fn rule(r: &RuleView) -> Value {
    let health = if r.last_error.is_some() {
        "err"
    } else if r.last_evaluation_ms.is_some() {
        "ok"
    } else {
        "unknown"
    };
    let mut v = json!({
        "name": r.name,
        "query": r.query,
        "labels": r.labels,
        "health": health,
        "lastError": r.last_error.clone().unwrap_or_default(),
        "lastEvaluation": r.last_evaluation_ms.map(rfc3339),
        "evaluationTime": r.evaluation_seconds,
    });
    match &r.alerting {
        Some(a) => {
            v["type"] = json!("alerting");
            v["duration"] = json!(a.for_seconds);
            v["keepFiringFor"] = json!(a.keep_firing_for_seconds);
            v["annotations"] = json!(a.annotations);
            v["state"] = json!(a.state.as_str());
            v["alerts"] = Value::Array(a.alerts.iter().map(alert).collect());
        }
        None => v["type"] = json!("recording"),
    }
    v
}
