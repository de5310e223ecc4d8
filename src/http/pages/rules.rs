//! `/rules`: every rule group with each rule's health, last evaluation, duration and
//! expression.

use axum::extract::State;
use axum::response::Html;
use maud::html;

use super::{layout, when};
use crate::http::AppState;

pub(super) async fn page(State(state): State<AppState>) -> Html<String> {
    let published = state.alerting.load();
    let body = html! {
        @if published.groups.is_empty() {
            section { p { "Alerting is off, or has not evaluated yet." } }
        }
        @for g in &published.groups {
            section.scroll {
                h2 { (g.name) " " span.muted { "· " (g.file) " · every " (g.interval_seconds) " s · took " (format!("{:.3}", g.evaluation_seconds)) " s" } }
                table {
                    thead { tr { th { "rule" } th { "health" } th { "last evaluation" } th { "took" } th { "expression" } } }
                    tbody {
                        @for r in &g.rules {
                            tr {
                                td {
                                    strong { (r.name) }
                                    br; span.muted { @if let Some(a) = &r.alerting { "alert, for " (a.for_seconds) " s" } @else { "recording" } }
                                }
                                td { @match &r.last_error { Some(e) => { span.err { "err" } br; span.err { (e) } } None => { @if r.last_evaluation_ms.is_some() { "ok" } @else { span.muted { "unknown" } } } } }
                                td { @if let Some(t) = r.last_evaluation_ms { (when(t)) } @else { "—" } }
                                td { (format!("{:.4} s", r.evaluation_seconds)) }
                                td { pre { (r.query) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("/rules", "Rules", &body)
}
