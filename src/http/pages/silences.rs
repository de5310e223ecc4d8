//! `/silences`: the silences, a form to make one (matchers typed as in Alertmanager, a
//! duration and a comment; the author is the login) that first shows which alerts it would
//! mute, and a button to expire one. Changes need a login; without a way to log in
//! configured, the page says how to enable one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::{chips, csrf_token, form_allowed, items, layout, problem, severity, when};
use crate::alerting::routes::matchers::{all_match, Matcher};
use crate::alerting::routes::silence::{MatcherDoc, SilenceDoc, Source};
use crate::http::auth::Identity;
use crate::http::AppState;
use crate::time::now_ms;

/// The form's fields (also the preview's query).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Draft {
    #[serde(default)]
    matchers: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    csrf: String,
}

impl Draft {
    fn matcher_lines(&self) -> impl Iterator<Item = &str> {
        self.matchers
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
    }

    /// The matchers and the end time, or what is wrong, in words.
    fn check(&self, now: i64) -> Result<(Vec<Matcher>, i64), String> {
        let matchers = self
            .matcher_lines()
            .map(|l| Matcher::parse(l).map_err(|e| format!("{l}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if matchers.is_empty() {
            return Err("at least one matcher is needed, e.g. alertname=\"PostgresqlDown\"".into());
        }
        let d = humantime::parse_duration(self.duration.trim())
            .map_err(|e| format!("duration {:?}: {e} (e.g. 2h, 30m, 1d)", self.duration))?;
        let ms = crate::time::millis(d);
        if ms <= 0 {
            return Err("the duration must be more than 0".into());
        }
        Ok((matchers, now.saturating_add(ms)))
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    identity: Option<Extension<Identity>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let draft = Draft {
        matchers: query.get("matchers").cloned().unwrap_or_default(),
        duration: query
            .get("duration")
            .cloned()
            .unwrap_or_else(|| "2h".into()),
        comment: query.get("comment").cloned().unwrap_or_default(),
        csrf: String::new(),
    };
    let previewing = query.contains_key("matchers");
    let notice = query.get("done").cloned();
    let identity = identity.map(|Extension(i)| i);
    render(
        &state,
        identity.as_ref(),
        &draft,
        previewing,
        notice.as_deref(),
        None,
    )
    .into_response()
}

fn render(
    state: &AppState,
    identity: Option<&Identity>,
    draft: &Draft,
    previewing: bool,
    notice: Option<&str>,
    error: Option<&str>,
) -> axum::response::Html<String> {
    let now = now_ms();
    let can_write = state.web.current().can_authenticate();
    let mut silences = state.silences.list();
    silences.sort_by_key(|s| (s.ends_at <= now, std::cmp::Reverse(s.starts_at)));
    let body = html! {
        @if let Some(n) = notice { ul.problems { li.problem.ok { (n) } } }
        @if let Some(e) = error { ul.problems { li.problem.p1 { (e) } } }
        @if !can_write {
            section {
                p {
                    strong { "Creating and expiring silences needs a login, and none is configured. " }
                    "Give centinela a web configuration file (" code { "--web.config.file" } " or "
                    code { "[server] web_config_file" } ") with " code { "basic_auth_users" }
                    " (bcrypt hashes: " code { "htpasswd -nBC 10 \"\" | tr -d ':\\n'" } ") or client "
                    "certificates (" code { "client_auth_type: RequireAndVerifyClientCert" } "). "
                    "See the README's \"Securing centinela\"."
                }
            }
        } @else {
            (form(state, identity, draft, previewing, now))
        }
        section.scroll {
            h2 { "Silences" }
            @if silences.is_empty() { p.muted { "None." } }
            @else {
                table {
                    thead { tr { th { "id" } th { "state" } th { "matchers" } th { "from" } th { "until" } th { "by" } th { "comment" } th {} } }
                    tbody {
                        @for s in &silences {
                            @let st = if s.active(now) { "active" } else if s.starts_at > now { "pending" } else { "expired" };
                            tr id=(s.id) {
                                td { code { (s.id) } }
                                td { (st) }
                                td { (items(s.matchers.iter().map(ToString::to_string))) }
                                td { (when(s.starts_at)) }
                                td { (when(s.ends_at)) }
                                td { (s.created_by) }
                                td { (s.comment) }
                                td {
                                    @if can_write && s.source == Source::Api && st != "expired" {
                                        @if let Some(who) = identity {
                                            form.inline method="post" action={ "/silences/" (s.id) "/expire" } {
                                                input type="hidden" name="csrf" value=(csrf_token(&state.pages.csrf_key, who));
                                                button.secondary type="submit" { "Expire" }
                                            }
                                        } @else {
                                            a href="/login" { "log in to expire" }
                                        }
                                    } @else if s.source == Source::Config { span.muted { "configured" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("/silences", "Silences", &body)
}

fn form(
    state: &AppState,
    identity: Option<&Identity>,
    draft: &Draft,
    previewing: bool,
    now: i64,
) -> Markup {
    let checked = previewing.then(|| draft.check(now));
    html! {
        section data-no-refresh[previewing] {
            h2 { "New silence" }
            form method="get" action="/silences" {
                label for="matchers" { "Matchers, one per line, as in Alertmanager" }
                textarea id="matchers" name="matchers" placeholder="alertname=\"PostgresqlDown\"\ninstance=~\"db-.*\"" { (draft.matchers) }
                label for="duration" { "Duration" }
                input id="duration" type="text" name="duration" value=(draft.duration);
                label for="comment" { "Comment" }
                input id="comment" type="text" name="comment" value=(draft.comment);
                p.muted { "Author: " (identity.map_or_else(|| "your login".to_owned(), ToString::to_string)) }
                button type="submit" { "Preview" }
            }
            @match &checked {
                Some(Err(e)) => { p.err { (e) } }
                Some(Ok((matchers, ends))) => {
                    @let muted = would_mute(state, matchers);
                    h2 { "It would hold back " (muted.len()) " alert(s) now; it would end " (when(*ends)) }
                    @if !muted.is_empty() {
                        div.scroll { table {
                            thead { tr { th { "sev." } th { "alert" } th { "labels" } } }
                            tbody { @for (sev, name, labels) in &muted { tr { td { (severity(sev)) } td { (name) } td { (chips(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))) } } } }
                        } }
                    }
                    @if let Some(who) = identity {
                        form method="post" action="/silences" {
                            input type="hidden" name="matchers" value=(draft.matchers);
                            input type="hidden" name="duration" value=(draft.duration);
                            input type="hidden" name="comment" value=(draft.comment);
                            input type="hidden" name="csrf" value=(csrf_token(&state.pages.csrf_key, who));
                            button type="submit" { "Create silence" }
                        }
                    } @else {
                        p { "Log in to create it: " a href="/login" { "log in" } }
                    }
                }
                None => {}
            }
        }
    }
}

/// An alert a silence would hold back: (severity, name, the other labels).
type Muted = (String, String, Vec<(String, String)>);

/// The pending and firing alerts `matchers` would hold back.
fn would_mute(state: &AppState, matchers: &[Matcher]) -> Vec<Muted> {
    state
        .alerting
        .load()
        .alerts
        .iter()
        .filter(|a| all_match(matchers, &a.labels))
        .map(|a| {
            (
                a.labels.value("severity").to_owned(),
                a.labels.value("alertname").to_owned(),
                a.labels
                    .iter()
                    .filter(|(k, _)| !matches!(*k, "alertname" | "severity"))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            )
        })
        .collect()
}

/// `POST /silences`: creates the previewed silence; the author is the login.
pub(super) async fn create(
    State(state): State<AppState>,
    identity: Option<Extension<Identity>>,
    headers: HeaderMap,
    Form(draft): Form<Draft>,
) -> Response {
    let Some(Extension(who)) = identity else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "/silences",
            "Silences",
            "Log in to create a silence.",
        );
    };
    if !form_allowed(&state, &headers, &who, &draft.csrf) {
        return problem(StatusCode::FORBIDDEN, "/silences", "Silences", "This form was not served to you by this centinela; open the silences page and try again.");
    }
    let now = now_ms();
    let ends = match draft.check(now) {
        Ok((_, ends)) => ends,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                render(&state, Some(&who), &draft, true, None, Some(&e)),
            )
                .into_response()
        }
    };
    let doc = SilenceDoc {
        id: String::new(),
        matchers: draft
            .matcher_lines()
            .map(|l| MatcherDoc::Text(l.to_owned()))
            .collect(),
        starts_at: None,
        ends_at: crate::time::rfc3339(ends),
        created_by: who.to_string(),
        comment: draft.comment.clone(),
    };
    let id = format!("{:016x}", rand::Rng::random::<u64>(&mut rand::rng()));
    match state.silences.add(&doc, id.clone(), now).await {
        Ok(_) => {
            tracing::info!(id = %id, by = %who, "Silence added from the silences page.");
            Redirect::to(&format!("/silences?done=Silence+{id}+created.#{id}")).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            render(&state, Some(&who), &draft, true, None, Some(&e.to_string())),
        )
            .into_response(),
    }
}

/// The expire button's form.
#[derive(Debug, Deserialize)]
pub(super) struct ExpireForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /silences/{id}/expire`.
pub(super) async fn expire(
    State(state): State<AppState>,
    identity: Option<Extension<Identity>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ExpireForm>,
) -> Response {
    let Some(Extension(who)) = identity else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "/silences",
            "Silences",
            "Log in to expire a silence.",
        );
    };
    if !form_allowed(&state, &headers, &who, &form.csrf) {
        return problem(StatusCode::FORBIDDEN, "/silences", "Silences", "This form was not served to you by this centinela; open the silences page and try again.");
    }
    match state.silences.expire(&id, now_ms()).await {
        Ok(()) => {
            tracing::info!(id = %id, by = %who, "Silence expired from the silences page.");
            Redirect::to(&format!("/silences?done=Silence+{id}+expired.")).into_response()
        }
        Err(e) => problem(
            StatusCode::BAD_REQUEST,
            "/silences",
            "Silences",
            &e.to_string(),
        ),
    }
}
