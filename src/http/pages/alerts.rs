//! `/alerts`: firing and pending alerts, grouped as they are routed (receiver, then
//! notification group), each with its severity, labels, annotations, runbook, since when,
//! when its receivers were notified, and what holds it back.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Html;
use maud::{html, Markup};

use super::{chips, layout, severity, when};
use crate::alerting::engine::AlertView;
use crate::alerting::routes::{Muted, Routing};
use crate::alerting::rules::AlertState;
use crate::http::AppState;

pub(super) async fn page(State(state): State<AppState>) -> Html<String> {
    let published = state.alerting.load();
    let mut alerts: Vec<&AlertView> = published.alerts.iter().collect();
    // Firing before pending, the most severe first, then the oldest.
    alerts.sort_by_key(|a| {
        (
            a.state != AlertState::Firing,
            crate::alerting::model::Severity::parse(a.labels.value("severity")),
            a.active_at,
        )
    });
    // (receiver, group) → its alerts; alerts no route takes are listed apart.
    let mut groups: BTreeMap<(String, String), Vec<Member<'_>>> = BTreeMap::new();
    let mut unrouted = Vec::new();
    for a in &alerts {
        let fp = fingerprint(a);
        let routing = published.routing.get(&fp);
        match routing.filter(|r| !r.targets.is_empty()) {
            Some(r) => {
                for t in &r.targets {
                    groups
                        .entry((t.receiver.clone(), group_labels(&t.group)))
                        .or_default()
                        .push((a, Some(r)));
                }
            }
            None => unrouted.push((*a, routing)),
        }
    }
    let firing = alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .count();
    let body = html! {
        p.muted {
            (firing) " firing, " (alerts.len() - firing) " pending. "
            "Grouped as they are routed: by receiver, then by notification group."
        }
        @if alerts.is_empty() {
            ul.problems { li.problem.ok { "Nothing fires and nothing is pending." } }
        }
        @for ((receiver, group), members) in &groups {
            section.scroll {
                h2 { "Receiver " (receiver) " " span.muted { "· group " (group) } }
                (table(&state, receiver, members))
            }
        }
        @if !unrouted.is_empty() {
            section.scroll {
                h2 { "Not routed to any receiver" }
                (table(&state, "", &unrouted))
            }
        }
    };
    layout("/alerts", "Alerts", &body)
}

/// An alert in a group, with where it goes.
type Member<'a> = (&'a AlertView, Option<&'a Routing>);

/// The group key's label part (`route:receiver:{labels}` → `{labels}`).
fn group_labels(key: &str) -> String {
    key.splitn(3, ':').nth(2).unwrap_or(key).to_owned()
}

fn fingerprint(a: &AlertView) -> String {
    let labels: BTreeMap<String, String> = a
        .labels
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    crate::alerting::model::fingerprint(&labels)
}

fn table(state: &AppState, receiver: &str, members: &[Member<'_>]) -> Markup {
    html! {
        table {
            thead { tr { th { "sev." } th { "alert" } th { "state" } th { "since" } th { "labels" } th { "notified" } } }
            tbody {
                @for (a, routing) in members {
                    tr {
                        td { (severity(a.labels.value("severity"))) }
                        td {
                            strong { (a.labels.value("alertname")) }
                            @if let Some(s) = a.annotations.get("summary") { br; (s) }
                            @if let Some(d) = a.annotations.get("description") { br; span.muted { (d) } }
                            @if let Some(url) = a.annotations.get("runbook_url") {
                                br; a href=(runbook(state, url)) rel="noopener" { "runbook" }
                            }
                        }
                        td {
                            @match a.state {
                                AlertState::Firing => span.state-firing { "firing" },
                                _ => span.state-pending { "pending" },
                            }
                            @if let Some((why, by)) = routing.and_then(|r| r.muted.as_ref()) {
                                br; (held(*why, by.as_deref()))
                            }
                        }
                        td { (when(a.active_at)) }
                        td { (chips(a.labels.iter().filter(|(k, _)| !matches!(*k, "alertname" | "severity")))) }
                        td {
                            @for t in routing.map(|r| r.targets.as_slice()).unwrap_or_default() {
                                @if receiver.is_empty() || t.receiver == receiver {
                                    @match t.notified_at {
                                        Some(at) => { (t.receiver) " " (when(at)) br; }
                                        None => { (t.receiver) " " span.muted { "not yet" } br; }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What holds an alert back, in words, linking the silence.
fn held(why: Muted, by: Option<&str>) -> Markup {
    html! {
        span.held {
            @match why {
                Muted::Silenced => {
                    "held back by silence "
                    @if let Some(id) = by { a href={ "/silences#" (id) } { (id) } }
                }
                Muted::Inhibited => "held back by an inhibition rule",
                Muted::Maintenance => "held back: maintenance mode",
            }
        }
    }
}

/// A runbook link made absolute with `runbook_base_url` when it is relative.
fn runbook(state: &AppState, url: &str) -> String {
    let base = &state.pages.runbook_base;
    if base.is_empty() || url.contains("://") {
        url.to_owned()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            url.trim_start_matches('/')
        )
    }
}
