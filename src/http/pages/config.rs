//! `/config`: the effective configuration, every secret shown as `<secret>`, and how the
//! HTTP surface is secured.

use axum::extract::State;
use axum::response::Html;
use maud::html;

use super::layout;
use crate::http::AppState;

pub(super) async fn page(State(state): State<AppState>) -> Html<String> {
    let web = state.web.current();
    let body = html! {
        section {
            h2 { "HTTP surface" }
            dl.kv {
                dt { "TLS" } dd { @if web.tls.is_some() { "on" } @else { "off" } }
                dt { "Client certificates" } dd { (web.client_auth.map_or("not asked for".to_owned(), |a| format!("{a:?}"))) }
                dt { "Basic auth" } dd { @if web.has_users() { "on" } @else { "off" } }
                dt { "Silence changes" } dd { @if web.can_authenticate() { "need a login" } @else { "refused: no login configured" } }
            }
        }
        section {
            h2 { "Effective configuration" }
            p.muted { "Defaults, then the --config file, then CENTINELA__* variables. Secrets are shown as <secret>." }
            pre { (state.pages.config_text) }
        }
    };
    layout("/config", "Configuration", &body)
}
