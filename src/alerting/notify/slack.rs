//! Slack incoming-webhook messages: one per group, a colour bar and marker per severity,
//! each alert's summary, objects, value and runbook link, within Slack's limits.

use serde_json::{json, Value as Json};

use super::{truncate, GroupView};
use crate::alerting::model::AlertRecord;
use crate::alerting::model::Severity;

/// Slack rejects a section text longer than this with 400 `invalid_blocks`.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Slack rejects more blocks than this in one message (or attachment).
pub const BLOCKS_MAX: usize = 50;
/// The notification text; Slack truncates longer ones, we do it ourselves.
const TEXT_MAX: usize = 3000;
/// Labels that say what the alert is, not which object it is about.
const NOT_OBJECTS: &[&str] = &["alertname", "severity", "component"];

/// The attachment colour of a severity.
pub fn color(severity: &str, resolved: bool) -> &'static str {
    if resolved {
        return "#2EB67D";
    }
    match Severity::parse(severity) {
        Severity::P0 => "#D00000",
        Severity::P1 => "#E8590C",
        Severity::P2 => "#F2C744",
        Severity::P3 => "#439FE0",
        Severity::Other => "#808080",
    }
}

/// The emoji that leads a message of a severity.
pub fn marker(severity: &str, resolved: bool) -> &'static str {
    if resolved {
        return "✅";
    }
    match Severity::parse(severity) {
        Severity::P0 => "🚨",
        Severity::P1 => "🔴",
        Severity::P2 => "🟠",
        Severity::P3 => "🔵",
        Severity::Other => "⚪",
    }
}

/// Slack's mrkdwn control characters in user data.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn section(text: &str) -> Json {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_MAX)}})
}

fn context(text: &str) -> Json {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_MAX)}]})
}

fn alert_text(a: &AlertRecord, resolved: bool) -> String {
    let summary = a
        .annotations
        .get("summary")
        .map_or_else(|| a.label("alertname").to_owned(), |s| escape(s));
    let mut text = format!("*{summary}*");
    if let Some(d) = a.annotations.get("description").filter(|_| !resolved) {
        text.push('\n');
        text.push_str(&escape(d));
    }
    let objects: Vec<String> = a
        .labels
        .iter()
        .filter(|(k, _)| !NOT_OBJECTS.contains(&k.as_str()))
        .map(|(k, v)| format!("`{}={}`", escape(k), escape(v)))
        .collect();
    let mut facts = Vec::new();
    if !objects.is_empty() {
        facts.push(objects.join(" "));
    }
    if !resolved {
        facts.push(format!(
            "value `{}`",
            crate::promql::gofmt::format_go_float(a.value)
        ));
    }
    let since = chrono::DateTime::from_timestamp_millis(a.starts_at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    facts.push(if resolved {
        let until = a
            .ends_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%H:%M UTC").to_string())
            .unwrap_or_default();
        format!("from {since} to {until}")
    } else {
        format!("since {since}")
    });
    text.push('\n');
    text.push_str(&facts.join(" · "));
    if let Some(url) = a.annotations.get("runbook_url").filter(|u| !u.is_empty()) {
        text.push_str(&format!("\n<{}|Runbook>", url.replace(['<', '>', '|'], "")));
    }
    text
}

/// The evidence as a person reads it: the blocking tree, the busiest wait events, the
/// statements that grew, the newest classified server-log lines ("" when it holds none).
pub fn evidence_text(e: &Json) -> String {
    let list = |k: &str| {
        e.get(k)
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let s = |v: &Json, k: &str| {
        v.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let n = |v: &Json, k: &str| v.get(k).and_then(Json::as_f64).unwrap_or_default();
    let mut lines = Vec::new();
    let tree = list("blocking");
    for v in &tree {
        let blocked_by: Vec<String> = v
            .get("blocked_by")
            .and_then(Json::as_array)
            .map(|b| b.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let who = format!(
            "pid {} ({}, {}, {})",
            v.get("pid").map(ToString::to_string).unwrap_or_default(),
            escape(&s(v, "application")),
            escape(&s(v, "user")),
            escape(&s(v, "state"))
        );
        let query = s(v, "query");
        let query = if query.is_empty() {
            String::new()
        } else {
            format!(" `{}`", escape(&truncate(&one_line(&query), 120)))
        };
        let id = s(v, "query_id");
        let id = if id.is_empty() {
            String::new()
        } else {
            format!(" (query {id})")
        };
        if blocked_by.is_empty() {
            lines.push(format!(
                "• {who} blocks others, in its transaction for {:.0} s{query}{id}",
                n(v, "transaction_seconds")
            ));
        } else {
            lines.push(format!(
                "  ↳ {who} waits {:.0} s on {} for pid {}{query}{id}",
                n(v, "seconds_in_state"),
                escape(&s(v, "wait_event")),
                blocked_by.join(", ")
            ));
        }
    }
    if !tree.is_empty() {
        lines.insert(0, "*Blocking tree*".into());
    }
    let waits: Vec<String> = list("wait_events")
        .iter()
        .map(|v| format!("{} ×{}", escape(&s(v, "wait_event")), n(v, "sessions")))
        .collect();
    if !waits.is_empty() {
        lines.push(format!("*Waits:* {}", waits.join(", ")));
    }
    for v in list("statements") {
        lines.push(format!(
            "*Grew:* {:.1} s in {} calls `{}` (query {})",
            n(&v, "seconds"),
            n(&v, "calls"),
            escape(&truncate(&one_line(&s(&v, "query")), 120)),
            s(&v, "query_id")
        ));
    }
    for v in list("server_log") {
        lines.push(format!(
            "*Log* [{}] {}",
            s(&v, "class"),
            escape(&truncate(&s(&v, "line"), 200))
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    let taken = e.get("taken_at").and_then(Json::as_str).unwrap_or_default();
    format!("*Evidence* (taken {taken})\n{}", lines.join("\n"))
}

/// Statement text on one line, without the backticks that would end its code span.
fn one_line(query: &str) -> String {
    query
        .replace('`', "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The message for one group. Never more than [`BLOCKS_MAX`] blocks or
/// [`SECTION_TEXT_MAX`] characters in a block, whatever the group's size: alerts beyond
/// `max_alerts` are counted in one line.
pub fn render(view: &GroupView<'_>, max_alerts: usize) -> Json {
    let resolved = view.firing.is_empty();
    let severity = view.severity();
    let name = view.alertname();
    let marker = marker(severity, resolved);
    let test = if view.test { "🧪 [TEST] " } else { "" };
    let state = if resolved {
        "RESOLVED".to_owned()
    } else {
        format!("FIRING:{}", view.firing.len())
    };
    let lead = view
        .firing
        .first()
        .or(view.resolved.first())
        .and_then(|a| a.annotations.get("summary"))
        .map(|s| format!(" — {}", escape(s)))
        .unwrap_or_default();
    let text = truncate(
        &format!("{test}{marker} [{state}] {severity} {name}{lead}"),
        TEXT_MAX,
    );
    // Title, up to max_alerts firing, a "more" line, the resolved, a "more" line, footer.
    let budget = max_alerts.clamp(1, BLOCKS_MAX - 6);
    let mut blocks = vec![section(&format!(
        "{test}{marker} *[{state}] {severity} {}*",
        escape(&name)
    ))];
    let mut listed = 0;
    for a in view.firing.iter().take(budget) {
        blocks.push(section(&alert_text(a, false)));
        listed += 1;
    }
    // The evidence of the first alert that has some: one block, so the limits hold.
    if let Some(e) = view
        .firing
        .iter()
        .take(listed)
        .find_map(|a| a.evidence.as_ref())
    {
        let text = evidence_text(e);
        if !text.is_empty() {
            blocks.push(section(&text));
        }
    }
    if view.firing.len() > listed {
        blocks.push(context(&format!(
            "… and {} more firing",
            view.firing.len() - listed
        )));
    }
    if !view.resolved.is_empty() {
        let room = budget.saturating_sub(listed).max(1);
        if !resolved {
            blocks.push(section(&format!("*Resolved ({}):*", view.resolved.len())));
        }
        let shown: Vec<&AlertRecord> = view.resolved.iter().take(room).collect();
        for a in &shown {
            blocks.push(section(&alert_text(a, true)));
        }
        if view.resolved.len() > shown.len() {
            blocks.push(context(&format!(
                "… and {} more resolved",
                view.resolved.len() - shown.len()
            )));
        }
    }
    let mut footer = format!("centinela · {}", escape(view.receiver));
    if !view.external_url.is_empty() {
        footer.push_str(&format!(
            " · <{}/api/v1/alerts|alerts>",
            view.external_url.trim_end_matches('/')
        ));
    }
    blocks.push(context(&footer));
    blocks.truncate(BLOCKS_MAX);
    json!({
        "text": text,
        "attachments": [{
            "color": color(severity, resolved),
            "fallback": text,
            "blocks": blocks,
        }],
    })
}
