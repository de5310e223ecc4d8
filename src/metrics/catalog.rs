//! Every metric centinela can export, grouped by the collector that produces it.
//!
//! Collectors build their batches from these descriptors, `centinela metrics` prints them,
//! and the README's metric reference is generated from them (a test keeps both in step).

use super::sample::{MetricDesc, MetricKind::Counter, MetricKind::Gauge};

/// Defines a module's metric descriptors and `METRICS`, the list of all of them, in one
/// place, so a descriptor cannot miss the catalogue:
/// `ID: "name", Gauge, ["label"], "help";` per metric. `list NAME;` first names the list
/// otherwise (for a module that assembles `METRICS` from several lists).
#[macro_export]
macro_rules! metrics {
    (list $list:ident; $($id:ident: $name:literal, $kind:ident, [$($label:literal),*], $help:literal;)*) => {
        $(
            // The doc is the metric's HELP text, which is plain prose, not Markdown.
            #[doc = $help]
            #[allow(clippy::doc_markdown)]
            pub static $id: $crate::metrics::MetricDesc = $crate::metrics::MetricDesc {
                name: $name,
                kind: $crate::metrics::MetricKind::$kind,
                labels: &[$($label),*],
                help: $help,
            };
        )*
        /// This module's own metrics, in catalogue order.
        pub static $list: &[&$crate::metrics::MetricDesc] = &[$(&$id),*];
    };
    ($($id:ident: $name:literal, $kind:ident, [$($label:literal),*], $help:literal;)*) => {
        $(
            // The doc is the metric's HELP text, which is plain prose, not Markdown.
            #[doc = $help]
            #[allow(clippy::doc_markdown)]
            pub static $id: $crate::metrics::MetricDesc = $crate::metrics::MetricDesc {
                name: $name,
                kind: $crate::metrics::MetricKind::$kind,
                labels: &[$($label),*],
                help: $help,
            };
        )*
        /// Every metric this module can export, in catalogue order.
        pub static METRICS: &[&$crate::metrics::MetricDesc] = &[$(&$id),*];
    };
}

macro_rules! metric {
    ($id:ident, $name:literal, $kind:expr, [$($label:literal),*], $help:literal) => {
        #[doc = $help]
        #[allow(clippy::doc_markdown)]
        pub static $id: MetricDesc = MetricDesc {
            name: $name,
            kind: $kind,
            labels: &[$($label),*],
            help: $help,
        };
    };
}

// === self ===
metric!(
    BUILD_INFO,
    "centinela_build_info",
    Gauge,
    ["version"],
    "Always 1; the version label names the running build."
);
metric!(
    COLLECTOR_UP,
    "centinela_collector_up",
    Gauge,
    ["collector"],
    "1 if the collector's last run succeeded, 0 if it failed; absent before its first run."
);
metric!(
    COLLECTOR_DURATION,
    "centinela_collector_duration_seconds",
    Gauge,
    ["collector"],
    "How long the collector's last run took."
);
metric!(
    COLLECTOR_LAST_SUCCESS,
    "centinela_collector_last_success_timestamp_seconds",
    Gauge,
    ["collector"],
    "When the collector last succeeded (unix seconds); absent if it never has."
);
metric!(
    COLLECTOR_ERRORS,
    "centinela_collector_errors_total",
    Counter,
    ["collector"],
    "Failed runs of the collector since start."
);
metric!(
    COLLECTOR_SERIES,
    "centinela_collector_series",
    Gauge,
    ["collector"],
    "Series the collector's last run exported."
);

// === alerting ===
metric!(
    ALERTS,
    "centinela_alerts",
    Gauge,
    ["state", "severity"],
    "Alerts of the alerting engine by state (pending, firing) and severity label."
);
metric!(
    RULE_EVAL_FAILURES,
    "centinela_rule_evaluation_failures_total",
    Counter,
    ["group", "rule"],
    "Evaluations of the rule that failed (the rule keeps its alerts' state meanwhile)."
);
metric!(
    RULE_GROUP_DURATION,
    "centinela_rule_group_duration_seconds",
    Gauge,
    ["group"],
    "How long the last evaluation of the rule group took."
);
metric!(
    HISTORY_POINTS,
    "centinela_alerting_history_points",
    Gauge,
    [],
    "Points held in the alerting history (16 bytes each, capped by history_max_points)."
);
metric!(
    HISTORY_SERIES,
    "centinela_alerting_history_series",
    Gauge,
    [],
    "Series held in the alerting history (only those some rule reads)."
);
metric!(
    HISTORY_DROPPED,
    "centinela_alerting_history_dropped_points_total",
    Counter,
    [],
    "Points not stored because history_max_points was reached."
);

metric!(
    NOTIFICATIONS,
    "centinela_notifications_total",
    Counter,
    ["receiver", "integration", "outcome"],
    "Delivery attempts by outcome: sent, failed (retried later) or rejected (permanent error, dropped)."
);
metric!(
    NOTIFICATION_LATENCY,
    "centinela_notification_latency_seconds",
    Gauge,
    ["receiver", "integration"],
    "Seconds from queueing to delivery of the last delivered notification (retries included)."
);
metric!(
    NOTIFICATION_QUEUE,
    "centinela_notification_queue_depth",
    Gauge,
    ["receiver", "integration"],
    "Notifications queued and not yet delivered."
);
metric!(
    NOTIFICATION_QUEUE_AGE,
    "centinela_notification_queue_oldest_age_seconds",
    Gauge,
    ["receiver", "integration"],
    "Age of the oldest undelivered notification (0 when the queue is empty)."
);
metric!(
    NOTIFICATIONS_RESENT,
    "centinela_notifications_resent_total",
    Counter,
    ["receiver", "integration"],
    "Notifications sent again after a restart because the process stopped between sending them and recording the answer: at most one per integration per restart (Slack has no idempotency key, so the receiver may show it twice)."
);
metric!(
    ALERTS_HELD_BACK,
    "centinela_alerts_held_back",
    Gauge,
    ["reason"],
    "Firing alerts not notified because of maintenance mode, a silence or an inhibition rule."
);

metric!(
    TASK_RESTARTS,
    "centinela_task_restarts_total",
    Counter,
    ["task"],
    "Times a long-running task (a collector, a delivery worker) ended or panicked and was restarted; for the engine and the HTTP server, the process stops instead."
);

metric!(
    HTTP_REJECTED,
    "centinela_http_rejected_total",
    Counter,
    ["reason"],
    "Connections and requests the HTTP server refused or cut: connection_limit, client_connection_limit, tls_handshake, timeout (no complete request headers within server.header_timeout, idle kept-alive connections included), rate_limited, unauthorized, forbidden, body_too_large, scrape_limit."
);
metric!(
    WEB_CONFIG_RELOAD_OK,
    "centinela_web_config_last_reload_successful",
    Gauge,
    [],
    "1 if the web configuration file (and the files it names) last loaded, 0 if its last change did not load and the previous configuration stays in force; absent without a web configuration file."
);

metric!(
    STATE_DIR_OK,
    "centinela_state_dir_ok",
    Gauge,
    [],
    "1 if alerting's state directory holds its database; 0 if it cannot be used and alert state and the notification queue live in memory only (lost on a restart). Absent when alerting is off or has no receiver."
);

/// centinela's own metrics (the runner's per-collector figures and the build).
pub static SELF: &[&MetricDesc] = &[
    &BUILD_INFO,
    &COLLECTOR_UP,
    &COLLECTOR_DURATION,
    &COLLECTOR_LAST_SUCCESS,
    &COLLECTOR_ERRORS,
    &COLLECTOR_SERIES,
    &TASK_RESTARTS,
    &HTTP_REJECTED,
    &WEB_CONFIG_RELOAD_OK,
    &STATE_DIR_OK,
];

/// The alerting engine's and the notifiers' metrics.
pub static ALERTING: &[&MetricDesc] = &[
    &ALERTS,
    &RULE_EVAL_FAILURES,
    &RULE_GROUP_DURATION,
    &HISTORY_POINTS,
    &HISTORY_SERIES,
    &HISTORY_DROPPED,
    &NOTIFICATIONS,
    &NOTIFICATION_LATENCY,
    &NOTIFICATION_QUEUE,
    &NOTIFICATION_QUEUE_AGE,
    &NOTIFICATIONS_RESENT,
    &ALERTS_HELD_BACK,
];

/// How many descriptors `parts` hold together (the length for [`concat()`]).
pub const fn total(parts: &[&[&'static MetricDesc]]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

/// The descriptor lists `parts` as one array, in order, at compile time: a collector made of
/// several files lists each file's `METRICS` once.
///
/// # Panics
///
/// At compile time, when `N` is not [`total`] of `parts`.
pub const fn concat<const N: usize>(parts: &[&[&'static MetricDesc]]) -> [&'static MetricDesc; N] {
    let mut out: [&'static MetricDesc; N] = [&BUILD_INFO; N];
    let (mut i, mut k) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "concat: N is not the total length");
    out
}

/// A part of the catalogue: who exports them (a collector, `self`, `alerting`) and the
/// metrics.
pub type Group = (&'static str, &'static [&'static MetricDesc]);

/// The catalogue as plain text: one block per metric.
pub fn render_text(catalog: &[Group]) -> String {
    let mut out = String::new();
    for (collector, descs) in catalog {
        for d in *descs {
            out.push_str(&format!(
                "{} {} [{}] ({})\n    {}\n",
                d.name,
                d.kind.as_str(),
                d.labels.join(","),
                collector,
                d.help
            ));
        }
    }
    out
}

/// The catalogue as the README's Markdown table.
pub fn render_markdown(catalog: &[Group]) -> String {
    let mut out =
        String::from("| metric | type | labels | collector | help |\n|---|---|---|---|---|\n");
    for (collector, descs) in catalog {
        for d in *descs {
            let labels = d
                .labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                d.name,
                d.kind.as_str(),
                labels,
                collector,
                d.help.replace('|', "\\|")
            ));
        }
    }
    out
}
