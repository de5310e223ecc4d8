//! `/notifications`: per receiver integration, what was sent, failed or refused, the last
//! attempts with the receiver's status and answer, and what is queued.

use axum::extract::State;
use axum::response::Html;
use maud::html;

use super::{layout, when};
use crate::http::AppState;

pub(super) async fn page(State(state): State<AppState>) -> Html<String> {
    let stats = state
        .deliveries
        .as_ref()
        .map(|s| s.snapshot())
        .unwrap_or_default();
    let depths = match &state.store {
        Some(store) => store.depths().await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut endpoints: Vec<(String, &'static str)> = stats
        .outcomes
        .keys()
        .map(|(r, i, _)| (r.clone(), *i))
        .collect();
    endpoints.dedup();
    let count = |r: &str, i: &str, o: &str| {
        stats
            .outcomes
            .get(&(r.to_owned(), i_static(i), o_static(o)))
            .copied()
            .unwrap_or(0)
    };
    let body = html! {
        @if endpoints.is_empty() {
            section { p { "No receiver is configured: alerts are evaluated and shown, not sent. "
                "Add " code { "[[alerting.receivers]]" } " (Slack, PagerDuty, a webhook or Alertmanager) to the configuration." } }
        }
        @for (receiver, integration) in &endpoints {
            @let queued = depths.iter().find(|d| d.receiver == *receiver && d.integration == *integration);
            section.scroll {
                h2 { (receiver) " " span.muted { "· " (integration) } }
                p {
                    "sent " strong { (count(receiver, integration, "sent")) } ", failed (retried) "
                    strong { (count(receiver, integration, "failed")) } ", refused "
                    strong { (count(receiver, integration, "rejected")) } ". "
                    @match queued {
                        Some(d) => { "Queued: " strong { (d.count) } ", the oldest since " (when(d.oldest_ms)) "." }
                        None => "Nothing queued.",
                    }
                }
                @let recent = stats.recent.get(&(receiver.clone(), *integration));
                @match recent {
                    Some(list) if !list.is_empty() => {
                        table {
                            thead { tr { th { "when" } th { "outcome" } th { "status" } th { "attempt" } th { "receiver's answer" } } }
                            tbody {
                                @for a in list.iter().rev() {
                                    tr {
                                        td { (when(a.at_ms)) }
                                        td { @if a.outcome == "sent" { (a.outcome) } @else { span.err { (a.outcome) } } }
                                        td { @if let Some(s) = a.status { (s) } @else { "—" } }
                                        td { (a.attempt) }
                                        td { code { (a.answer) } }
                                    }
                                }
                            }
                        }
                    }
                    _ => { p.muted { "No delivery yet." } }
                }
            }
        }
    };
    layout("/notifications", "Notifications", &body)
}

/// The integrations' names as the counters key them.
fn i_static(i: &str) -> &'static str {
    ["slack", "pagerduty", "webhook", "alertmanager"]
        .into_iter()
        .find(|n| *n == i)
        .unwrap_or("")
}

fn o_static(o: &str) -> &'static str {
    ["sent", "failed", "rejected"]
        .into_iter()
        .find(|n| *n == o)
        .unwrap_or("")
}
