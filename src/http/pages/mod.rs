//! The pages an operator opens in a browser: overview, alerts, silences, notifications,
//! rules and the configuration. Rendered on the server (maud, compiled into the binary),
//! no JavaScript needed; with JavaScript on, a page reloads itself every 15 s unless a
//! form on it is being filled in. Forms post through the same gate as the API (writes need
//! a login) and carry a token tied to the login, so another site cannot post them.

mod alerts;
mod config;
mod notifications;
mod overview;
mod rules;
mod silences;

use std::time::SystemTime;

use axum::extract::State;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use sha2::{Digest as _, Sha256};

use super::auth::Identity;
use super::AppState;
use crate::metrics::Labels;
use crate::snapshot::Snapshot;

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/alerts", get(alerts::page))
        .route("/silences", get(silences::page).post(silences::create))
        .route("/silences/{id}/expire", post(silences::expire))
        .route("/notifications", get(notifications::page))
        .route("/rules", get(rules::page))
        .route("/config", get(config::page))
        .route("/login", get(login))
        .route("/static/centinela.css", get(css))
        .route("/static/refresh.js", get(js))
}

/// `/`: the overview page for a browser, the plain list of endpoints for `curl`.
async fn index(state: State<AppState>, headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        overview::page(state).await.into_response()
    } else {
        super::index().into_response()
    }
}

async fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("centinela.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("refresh.js"),
    )
        .into_response()
}

/// The pages, in the navigation's order: (path, title).
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/alerts", "Alerts"),
    ("/silences", "Silences"),
    ("/notifications", "Notifications"),
    ("/rules", "Rules"),
    ("/config", "Configuration"),
];

/// A whole page: `title`, the navigation with `current` marked, then `body`.
fn layout(current: &str, title: &str, body: &Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · centinela" }
                link rel="stylesheet" href="/static/centinela.css";
                script src="/static/refresh.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "centinela" }
                    nav {
                        @for (path, name) in NAV {
                            @if *path == current {
                                a.current href=(path) aria-current="page" { (name) }
                            } @else {
                                a href=(path) { (name) }
                            }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                footer {
                    "centinela " (env!("CARGO_PKG_VERSION")) " · rendered "
                    time datetime=(crate::time::rfc3339(crate::time::now_ms())) {
                        (crate::time::rfc3339(crate::time::now_ms()))
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// `text` as a time: relative ("3m ago", "in 2h"), the exact UTC time as its tooltip.
fn when(ms: i64) -> Markup {
    let now = crate::time::now_ms();
    let exact = crate::time::rfc3339(ms);
    html! { time datetime=(exact) title=(exact) { (relative(now - ms)) } }
}

/// A span of milliseconds as people say it: "45s ago", "3h ago", "in 2d".
fn relative(ago_ms: i64) -> String {
    let (future, ms) = (ago_ms < 0, ago_ms.unsigned_abs());
    let span = duration(ms / 1000);
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// Seconds as the largest unit or two: "45s", "3m 20s", "5h 2m", "12d 3h".
fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s > 0 => format!("{m}m {s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// The severity badge, in the colour Slack messages use for it.
fn severity(label: &str) -> Markup {
    let colour = crate::alerting::notify::slack::color(label, false);
    let text = if label.is_empty() { "—" } else { label };
    html! { span.badge style={ "background:" (colour) } { (text) } }
}

/// A label set as chips.
fn chips<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> Markup {
    html! {
        span.chips {
            @for (k, v) in labels {
                span.chip { (k) "=" (v) }
            }
        }
    }
}

/// Texts as chips.
fn items(texts: impl Iterator<Item = String>) -> Markup {
    html! { span.chips { @for t in texts { span.chip { (t) } } } }
}

/// `/login`: the gate asks the browser for the login (paths open to reads skip it); once
/// logged in, back to the silences.
async fn login(identity: Option<axum::Extension<Identity>>) -> Response {
    match identity {
        Some(_) => axum::response::Redirect::to("/silences").into_response(),
        None => problem(
            StatusCode::UNAUTHORIZED,
            "/silences",
            "Log in",
            "No login is configured, or this client presented none: see the silences page.",
        ),
    }
}

/// Every sample of family `name` in the snapshot, with its labels.
fn family(snapshot: &Snapshot, name: &str) -> Vec<(Labels, f64)> {
    let mut out = Vec::new();
    for slot in snapshot.slots() {
        let entry = slot.load();
        for f in entry.batch.families.iter().filter(|f| f.name == name) {
            out.extend(f.samples.iter().map(|s| (s.labels.clone(), s.value)));
        }
    }
    out
}

/// One label's value in a sample's labels.
fn label<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| &**v)
}

/// The token a form carries for `who`: only a page served to that login has it.
fn csrf_token(key: &[u8], who: &Identity) -> String {
    let digest = Sha256::new()
        .chain_update(key)
        .chain_update(who.to_string().as_bytes())
        .finalize();
    digest.iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

/// Whether a posted form may act: its token matches the login, and a browser's `Origin`
/// (when it sends one) is this server.
fn form_allowed(state: &AppState, headers: &HeaderMap, who: &Identity, token: &str) -> bool {
    let same_origin = match (headers.get("origin"), headers.get("host")) {
        (Some(origin), Some(host)) => {
            origin
                .to_str()
                .ok()
                .zip(host.to_str().ok())
                .is_some_and(|(o, h)| {
                    o.strip_prefix("http://")
                        .or_else(|| o.strip_prefix("https://"))
                        == Some(h)
                })
        }
        _ => true,
    };
    same_origin && csrf_token(&state.pages.csrf_key, who) == token
}

/// A page that answers an error in words, inside the layout.
fn problem(status: StatusCode, current: &str, title: &str, text: &str) -> Response {
    let body = html! { p.problem.p0 { (text) } };
    (status, layout(current, title, &body)).into_response()
}

/// When the snapshot's collector last ran, for the overview.
fn system_ms(t: Option<SystemTime>) -> Option<i64> {
    t.map(crate::time::system_time_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(200), "3m 20s");
        assert_eq!(duration(3 * 3600 + 120), "3h 2m");
        assert_eq!(duration(86_400 * 12 + 3 * 3600), "12d 3h");
        assert_eq!(relative(-7_200_000), "in 2h");
        assert_eq!(relative(5_000), "5s ago");
    }
}
