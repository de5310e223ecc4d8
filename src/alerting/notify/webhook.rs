//! Generic webhook: Alertmanager's webhook JSON (version 4), so existing receivers of
//! Alertmanager notifications work unchanged.

use serde_json::{json, Value as Json};

use super::GroupView;
use crate::alerting::model::AlertRecord;
use crate::time::rfc3339;

/// Go's zero time, which Alertmanager sends as `endsAt` of a firing alert.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn alert(a: &AlertRecord, resolved: bool, external_url: &str) -> Json {
    json!({
        "status": if resolved { "resolved" } else { "firing" },
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": rfc3339(a.starts_at),
        "endsAt": a.ends_at.filter(|_| resolved).map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
        "generatorURL": generator_url(external_url, a),
        "fingerprint": a.fingerprint,
    })
}

/// Where the alert's rule is shown: this sidecar's `/api/v1/rules`; empty without `external_url`.
pub fn generator_url(external_url: &str, a: &AlertRecord) -> String {
    if external_url.is_empty() {
        String::new()
    } else {
        format!(
            "{}/api/v1/rules#{}",
            external_url.trim_end_matches('/'),
            a.label("alertname")
        )
    }
}

/// `max_alerts` 0 is no limit; otherwise firing alerts are kept first.
pub fn render(view: &GroupView<'_>, max_alerts: usize) -> Json {
    let mut alerts: Vec<Json> = view
        .firing
        .iter()
        .map(|a| alert(a, false, view.external_url))
        .chain(
            view.resolved
                .iter()
                .map(|a| alert(a, true, view.external_url)),
        )
        .collect();
    let total = alerts.len();
    if max_alerts > 0 {
        alerts.truncate(max_alerts);
    }
    json!({
        "version": "4",
        "groupKey": view.key,
        "truncatedAlerts": total - alerts.len(),
        "status": if view.firing.is_empty() { "resolved" } else { "firing" },
        "receiver": view.receiver,
        "groupLabels": view.group_labels,
        "commonLabels": view.common_labels(),
        "commonAnnotations": view.common_annotations(),
        "externalURL": view.external_url,
        "alerts": alerts,
    })
}
