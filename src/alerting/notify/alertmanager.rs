//! Alertmanager API v2 (`POST /api/v2/alerts`): the alerts themselves, re-sent like
//! Prometheus does; Alertmanager groups, silences and notifies.

use serde_json::{json, Value as Json};

use super::webhook::generator_url;
use crate::alerting::model::AlertRecord;
use crate::time::rfc3339;

/// `ends_at` is the expiry given to firing alerts: Alertmanager resolves them itself if
/// centinela stops sending. Resolved alerts carry their resolve time.
pub fn render(alerts: &[(&AlertRecord, bool)], ends_at: i64, external_url: &str) -> Json {
    Json::Array(
        alerts
            .iter()
            .map(|(a, resolved)| {
                let ends = if *resolved {
                    a.ends_at.unwrap_or(ends_at)
                } else {
                    ends_at
                };
                let mut alert = json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": rfc3339(a.starts_at),
                    "endsAt": rfc3339(ends),
                });
                // Alertmanager validates generatorURL as a URI: omit it rather than send "".
                let url = generator_url(external_url, a);
                if !url.is_empty() {
                    alert["generatorURL"] = json!(url);
                }
                alert
            })
            .collect(),
    )
}
