//! PagerDuty Events API v2: one alert per group (stable `dedup_key`), triggered while any
//! alert fires, resolved when none does. The routing key is added at send time, so queued
//! messages hold no secret.

use serde_json::{json, Value as Json};
use sha2::{Digest as _, Sha256};

use super::{truncate, GroupView};
use crate::alerting::model::hex;
use crate::alerting::model::Severity;
use crate::time::rfc3339;

/// `payload.summary` is limited to 1024 characters.
pub const SUMMARY_MAX: usize = 1024;
/// Alerts detailed in `custom_details` (the event must stay under 512 KB).
const DETAILS_MAX: usize = 20;

/// P0 → critical, P1 → error, P2 → warning, P3 → info; PagerDuty's own names pass
/// through; anything else is `error` (Alertmanager's default).
pub fn severity(s: &str) -> &'static str {
    match (Severity::parse(s), s) {
        (Severity::P0, _) | (_, "critical") => "critical",
        (Severity::P2, _) | (_, "warning") => "warning",
        (Severity::P3, _) | (_, "info") => "info",
        _ => "error",
    }
}

/// SHA-256 of the group key: stable per group, across restarts.
pub fn dedup_key(group_key: &str) -> String {
    hex(&Sha256::digest(group_key.as_bytes()))
}

/// The Events API v2 event for a group: trigger while it fires, resolve after.
pub fn render(view: &GroupView<'_>) -> Json {
    let key = dedup_key(view.key);
    if view.firing.is_empty() {
        return json!({"event_action": "resolve", "dedup_key": key});
    }
    let sev = view.severity();
    let first = &view.firing[0];
    let lead = first
        .annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| view.alertname());
    let more = match view.firing.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    let test = if view.test { "[TEST] " } else { "" };
    let summary = truncate(
        &format!("{test}[{sev}] {}: {lead}{more}", view.alertname()),
        SUMMARY_MAX,
    );
    let common = view.common_labels();
    let source = ["instance", "job"]
        .iter()
        .find_map(|l| common.get(*l))
        .cloned()
        .unwrap_or_else(|| "centinela".into());
    let alerts: Vec<Json> = view
        .firing
        .iter()
        .take(DETAILS_MAX)
        .map(|a| {
            let mut alert = json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "value": crate::promql::gofmt::format_go_float(a.value),
                "starts_at": rfc3339(a.starts_at),
            });
            if let Some(e) = &a.evidence {
                alert["evidence"] = e.clone();
            }
            alert
        })
        .collect();
    let mut links: Vec<Json> = Vec::new();
    for a in view.firing {
        if let Some(url) = a
            .annotations
            .get("runbook_url")
            .filter(|u| u.contains("://"))
        {
            let link = json!({"href": url, "text": format!("Runbook: {}", a.label("alertname"))});
            if !links.contains(&link) {
                links.push(link);
            }
        }
    }
    let mut payload = json!({
        "summary": summary,
        "source": source,
        "severity": severity(sev),
        "timestamp": rfc3339(view.firing.iter().map(|a| a.starts_at).min().unwrap_or(first.starts_at)),
        "group": view.alertname(),
        "class": view.alertname(),
        "custom_details": {
            "num_firing": view.firing.len(),
            "num_resolved": view.resolved.len(),
            "firing": alerts,
        },
    });
    if let Some(c) = common.get("component") {
        payload["component"] = json!(c);
    }
    let mut event = json!({
        "event_action": "trigger",
        "dedup_key": key,
        "payload": payload,
        "client": "centinela",
        "links": links,
    });
    if !view.external_url.is_empty() {
        event["client_url"] = json!(format!(
            "{}/api/v1/alerts",
            view.external_url.trim_end_matches('/')
        ));
    }
    event
}
