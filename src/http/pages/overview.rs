//! `/`: the database, every collector, certificates, backups and the notification queue,
//! with one coloured line per problem at the top.

use axum::extract::State;
use axum::response::Html;
use maud::{html, Markup};

use super::{family, label, layout, severity, system_ms, when};
use crate::alerting::rules::AlertState;
use crate::http::AppState;

/// A problem worth a line: its class (p0…p3) and what it says.
type Problem = (&'static str, String);

pub(super) async fn page(State(state): State<AppState>) -> Html<String> {
    let snap = &state.snapshot;
    let now = crate::time::now_ms();
    let mut problems: Vec<Problem> = Vec::new();

    // The database.
    let up = family(snap, "pg_up").first().map(|(_, v)| *v);
    let version = family(snap, "pg_static")
        .first()
        .map(|(l, _)| label(l, "short_version").to_owned());
    let replica = family(snap, "pg_replication_is_replica")
        .first()
        .map(|(_, v)| *v == 1.0);
    #[allow(clippy::cast_possible_truncation)]
    let started_ms = family(snap, "pg_postmaster_start_time_seconds")
        .first()
        .map(|(_, v)| (*v * 1000.0) as i64);
    if up == Some(0.0) {
        problems.push(("p0", "PostgreSQL does not answer (pg_up 0).".into()));
    }
    let receiver_down = family(snap, "pg_stat_wal_receiver_streaming")
        .first()
        .is_some_and(|(_, v)| *v == 0.0);
    if replica == Some(true) && receiver_down {
        problems.push((
            "p1",
            "The replica's WAL receiver is not streaming from the primary.".into(),
        ));
    }

    // Collectors.
    let collectors: Vec<_> = snap
        .slots()
        .iter()
        .map(|s| {
            let e = s.load();
            let series: usize = e.batch.families.iter().map(|f| f.samples.len()).sum();
            (s.name, e.status.clone(), series)
        })
        .collect();
    for (name, status, _) in &collectors {
        if let Some(err) = &status.last_error {
            problems.push(("p1", format!("Collector {name} fails: {err}")));
        }
    }

    // Alerts.
    let published = state.alerting.load();
    let firing: Vec<_> = published
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .collect();
    for sev in ["P0", "P1", "P2", "P3"] {
        let n = firing
            .iter()
            .filter(|a| a.labels.value("severity") == sev)
            .count();
        if n > 0 {
            let class = match sev {
                "P0" => "p0",
                "P1" => "p1",
                "P2" => "p2",
                _ => "p3",
            };
            problems.push((class, format!("{n} {sev} alert(s) firing.")));
        }
    }

    // Certificates, soonest first.
    let mut certs: Vec<_> = family(snap, "centinela_cert_not_after_timestamp_seconds")
        .into_iter()
        .map(|(l, v)| {
            #[allow(clippy::cast_possible_truncation)]
            let left_ms = (v * 1000.0) as i64 - now;
            (
                label(&l, "source").to_owned(),
                label(&l, "subject_cn").to_owned(),
                left_ms,
            )
        })
        .collect();
    certs.sort_by_key(|c| c.2);
    for (source, cn, left) in &certs {
        let days = left / 86_400_000;
        let class = match days {
            d if d < 0 => Some("p0"),
            d if d < 7 => Some("p1"),
            d if d < 30 => Some("p2"),
            _ => None,
        };
        if let Some(class) = class {
            problems.push((
                class,
                format!("Certificate {cn} ({source}) expires in {days} day(s)."),
            ));
        }
    }

    // Backups.
    let backups: Vec<_> = family(snap, "centinela_backup_newest_timestamp_seconds")
        .into_iter()
        .map(|(l, v)| {
            #[allow(clippy::cast_possible_truncation)]
            let at = (v * 1000.0) as i64;
            (label(&l, "name").to_owned(), at)
        })
        .collect();

    // The notification queue.
    let depths = match &state.store {
        Some(store) => store.depths().await.unwrap_or_default(),
        None => Vec::new(),
    };
    for d in &depths {
        if now - d.oldest_ms > 300_000 {
            problems.push((
                "p1",
                format!(
                    "{} notification(s) for {}/{} waiting since {}.",
                    d.count,
                    d.receiver,
                    d.integration,
                    super::relative(now - d.oldest_ms)
                ),
            ));
        }
    }
    if let Some(p) = snap.state_problem() {
        problems.push(("p0", format!("Alert state is kept in memory only: {p}")));
    }
    if state.web.last_reload_ok() == Some(false) {
        problems.push((
            "p2",
            "The web configuration's last change did not load; the previous one is in force."
                .into(),
        ));
    }

    let body = html! {
        @if problems.is_empty() {
            ul.problems { li.problem.ok { "No problem: every collector works and nothing fires." } }
        } @else {
            ul.problems {
                @for (class, text) in &problems { li class={ "problem " (class) } { (text) } }
            }
        }
        div.grid {
            section {
                h2 { "Database" }
                dl.kv {
                    dt { "PostgreSQL" } dd { (version.as_deref().unwrap_or("unknown")) }
                    dt { "Role" } dd { @match replica { Some(true) => "replica", Some(false) => "primary", None => "unknown" } }
                    dt { "Answers" } dd { @match up { Some(v) if v == 1.0 => "yes", Some(_) => span.err { "no" }, None => "not yet asked" } }
                    dt { "Up since" } dd {
                        @match started_ms {
                            Some(ms) => (when(ms)),
                            None => "unknown",
                        }
                    }
                }
            }
            section {
                h2 { "Alerts" }
                dl.kv {
                    dt { "Firing" } dd { (firing.len()) }
                    dt { "Pending" } dd { (published.alerts.len() - firing.len()) }
                    dt { "Queued notifications" } dd { (depths.iter().map(|d| d.count).sum::<i64>()) }
                }
                p { a href="/alerts" { "All alerts →" } }
            }
        }
        section.scroll {
            h2 { "Collectors" }
            table {
                thead { tr { th { "collector" } th { "state" } th { "last run" } th { "took" } th { "series" } th { "last error" } } }
                tbody {
                    @for (name, status, series) in &collectors {
                        tr {
                            td { (name) }
                            td {
                                @if status.runs == 0 { span.muted { "pending" } }
                                @else if status.last_error.is_some() { span.err { "failing" } }
                                @else { "ok" }
                            }
                            td { @if let Some(t) = system_ms(status.last_run) { (when(t)) } @else { "—" } }
                            td { (format!("{:.2} s", status.last_duration.as_secs_f64())) }
                            td { (series) }
                            td { @if let Some(e) = &status.last_error { span.err { (e) } } }
                        }
                    }
                }
            }
        }
        (cert_table(&certs))
        @if !backups.is_empty() {
            section.scroll {
                h2 { "Backups" }
                table {
                    thead { tr { th { "set" } th { "newest" } } }
                    tbody { @for (name, at) in &backups { tr { td { (name) } td { (when(*at)) } } } }
                }
            }
        }
        @if !depths.is_empty() {
            section.scroll {
                h2 { "Notification queue" }
                table {
                    thead { tr { th { "receiver" } th { "integration" } th { "queued" } th { "oldest" } } }
                    tbody {
                        @for d in &depths {
                            tr { td { (d.receiver) } td { (d.integration) } td { (d.count) } td { (when(d.oldest_ms)) } }
                        }
                    }
                }
            }
        }
        p.muted { "Severity colours: " (severity("P0")) " " (severity("P1")) " " (severity("P2")) " " (severity("P3")) }
    };
    layout("/", "Overview", &body)
}

fn cert_table(certs: &[(String, String, i64)]) -> Markup {
    html! {
        @if !certs.is_empty() {
            section.scroll {
                h2 { "Certificates, soonest expiry first" }
                table {
                    thead { tr { th { "subject" } th { "source" } th { "days left" } } }
                    tbody {
                        @for (source, cn, left) in certs {
                            tr {
                                td { (cn) }
                                td { (source) }
                                td {
                                    @let days = left / 86_400_000;
                                    @if days < 7 { span.err { (days) } } @else { (days) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
