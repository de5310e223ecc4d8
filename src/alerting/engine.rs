//! The evaluation loop: every `evaluation_interval`, the snapshot's samples go into the
//! history, every rule group is evaluated, state changes are logged, and the results are
//! published for `/metrics` and the `/api/v1` endpoints.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::latest::Latest;
use super::model::{AlertRecord, ReceiverSpec, Severity};
use super::notify::{self, Stats};
use super::outbox::{Store, StoreError};
use super::routes::{Dispatcher, Muted, Routing};
use super::rules::template::Template;
use super::rules::{AlertState, Context, RuleKind, RuleSet};
use super::silences::Silences;
use crate::config::AlertingConfig;
use crate::metrics::{catalog, labels, Batch};
use crate::promql::{History, LabelSet};
use crate::snapshot::Snapshot;
use crate::time::system_time_ms;

crate::message_error! {
    /// Saved alert state that cannot be restored.
    StateError
}

/// What the HTTP API reads, replaced after every evaluation: typed views, which `http/`
/// turns into Prometheus' JSON.
#[derive(Debug, Default)]
pub struct Published {
    /// Pending and firing alerts.
    pub alerts: Vec<AlertView>,
    /// Where each alert goes and what holds it back, by fingerprint of its labels.
    pub routing: BTreeMap<String, Routing>,
    /// Every rule group with its rules.
    pub groups: Vec<GroupView>,
    /// The engine's own metrics of this evaluation (moved into the snapshot).
    pub metrics: Batch,
}

/// An alert as the API shows it: its labels with the external labels it is sent with.
#[derive(Clone, Debug)]
pub struct AlertView {
    /// Its labels, the external labels included.
    pub labels: LabelSet,
    /// Its annotations, rendered.
    pub annotations: BTreeMap<String, String>,
    /// Pending or firing.
    pub state: AlertState,
    /// When it became active (Unix milliseconds).
    pub active_at: i64,
    /// The expression's value.
    pub value: f64,
    /// What the database showed when it started firing (P0 and P1 alerts).
    pub evidence: Option<serde_json::Value>,
}

/// A rule group and how its last evaluation went.
#[derive(Clone, Debug)]
pub struct GroupView {
    /// Its name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Its evaluation interval.
    pub interval_seconds: f64,
    /// How long its last evaluation took.
    pub evaluation_seconds: f64,
    /// Its rules, in order.
    pub rules: Vec<RuleView>,
}

/// A rule: its source text, health and, for an alerting rule, its alerts.
#[derive(Clone, Debug)]
pub struct RuleView {
    /// The alert or recorded metric name.
    pub name: String,
    /// Its expression as written.
    pub query: String,
    /// Label templates as written.
    pub labels: BTreeMap<String, String>,
    /// Why its last evaluation failed.
    pub last_error: Option<String>,
    /// When it was last evaluated.
    pub last_evaluation_ms: Option<i64>,
    /// How long that took.
    pub evaluation_seconds: f64,
    /// `None` for a recording rule.
    pub alerting: Option<AlertingView>,
}

/// What only an alerting rule has.
#[derive(Clone, Debug)]
pub struct AlertingView {
    /// Its `for`.
    pub for_seconds: i64,
    /// Its `keep_firing_for`.
    pub keep_firing_for_seconds: i64,
    /// Annotation templates as written.
    pub annotations: BTreeMap<String, String>,
    /// The most advanced state of its alerts.
    pub state: AlertState,
    /// Its pending and firing alerts.
    pub alerts: Vec<AlertView>,
}

#[derive(Serialize, Deserialize)]
struct SavedAlert {
    group: String,
    rule: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    state: AlertState,
    value: f64,
    active_at: i64,
    fired_at: Option<i64>,
    resolved_at: Option<i64>,
    keep_firing_since: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<serde_json::Value>,
}

/// The rules with their alert states, and the history their range functions read.
pub struct Engine {
    rules: RuleSet,
    history: History,
    external_labels: LabelSet,
    step: Duration,
    failures: BTreeMap<(String, String), u64>,
    group_seconds: Vec<f64>,
}

impl Engine {
    /// An engine over checked rules (from [`super::plan()`]).
    #[must_use]
    pub fn new(config: &AlertingConfig, rules: RuleSet) -> Self {
        let history = History::new(rules.retention(config.history, config.history_max_points));
        let failures = rules
            .groups
            .iter()
            .flat_map(|g| {
                g.rules
                    .iter()
                    .map(|r| ((g.name.clone(), r.name.clone()), 0))
            })
            .collect();
        let group_seconds = vec![0.0; rules.groups.len()];
        Self {
            rules,
            history,
            external_labels: LabelSet::new(config.external_labels.clone()),
            step: config.evaluation_interval,
            failures,
            group_seconds,
        }
    }

    /// The rule groups.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The history the rules read.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Every alert the rules hold, as notifications carry it: external labels added,
    /// relative runbook links made absolute with `runbook_base`.
    pub fn alert_records(&self, runbook_base: &str) -> Vec<(AlertRecord, AlertState)> {
        let mut out = Vec::new();
        for rule in self.rules.rules() {
            for a in rule.alerts() {
                let labels = with_external(&a.labels, &self.external_labels);
                let mut annotations = a.annotations.clone();
                if let Some(url) = annotations.get_mut("runbook_url") {
                    if !runbook_base.is_empty() && !url.contains("://") {
                        *url = format!(
                            "{}/{}",
                            runbook_base.trim_end_matches('/'),
                            url.trim_start_matches('/')
                        );
                    }
                }
                let mut record = AlertRecord::new(&labels, annotations, a.value, a.active_at);
                record.ends_at = a.resolved_at;
                record.evidence.clone_from(&a.evidence);
                out.push((record, a.state));
            }
        }
        out
    }

    /// The alert states, to persist (JSON).
    pub fn export_state(&self) -> Result<String, serde_json::Error> {
        let mut saved = Vec::new();
        for g in &self.rules.groups {
            for r in &g.rules {
                for a in r.alerts() {
                    saved.push(SavedAlert {
                        group: g.name.clone(),
                        rule: r.name.clone(),
                        labels: a
                            .labels
                            .iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                        annotations: a.annotations.clone(),
                        state: a.state,
                        value: a.value,
                        active_at: a.active_at,
                        fired_at: a.fired_at,
                        resolved_at: a.resolved_at,
                        keep_firing_since: a.keep_firing_since,
                        evidence: a.evidence.clone(),
                    });
                }
            }
        }
        serde_json::to_string(&saved)
    }

    /// Puts saved alert states back, so `for` is not restarted and firing alerts are not
    /// announced twice. Alerts of rules that no longer exist are dropped. Returns how many
    /// were restored.
    pub fn restore_state(&mut self, json: &str) -> Result<usize, StateError> {
        let saved: Vec<SavedAlert> = serde_json::from_str(json)
            .map_err(|e| StateError::from(format!("unreadable alert state: {e}")))?;
        let mut n = 0;
        for s in saved {
            let rule = self
                .rules
                .groups
                .iter_mut()
                .filter(|g| g.name == s.group)
                .flat_map(|g| g.rules.iter_mut())
                .find(|r| r.name == s.rule);
            if let Some(super::rules::Rule {
                kind: RuleKind::Alert(rule),
                ..
            }) = rule
            {
                let labels = LabelSet::new(s.labels);
                rule.active.insert(
                    labels.clone(),
                    super::rules::Alert {
                        labels,
                        annotations: s.annotations,
                        state: s.state,
                        value: s.value,
                        active_at: s.active_at,
                        fired_at: s.fired_at,
                        resolved_at: s.resolved_at,
                        keep_firing_since: s.keep_firing_since,
                        evidence: s.evidence,
                    },
                );
                n += 1;
            }
        }
        Ok(n)
    }

    /// One evaluation at `now`: ingest, evaluate, log transitions, publish.
    pub fn tick(&mut self, snapshot: &Snapshot, now: SystemTime) -> Published {
        let ts = system_time_ms(now);
        let latest = Latest::load(snapshot, ts);
        let samples = latest.samples(|name| self.history.wants(name));
        self.history.ingest("snapshot", ts, samples);
        let before: HashMap<(String, LabelSet), AlertState> = self
            .rules
            .rules()
            .flat_map(|r| {
                r.alerts()
                    .map(|a| ((r.name.clone(), a.labels.clone()), a.state))
            })
            .collect();
        let ctx = Context {
            external_labels: &self.external_labels,
            external_url: "",
            step: self.step,
        };
        for (i, group) in self.rules.groups.iter_mut().enumerate() {
            let started = Instant::now();
            for f in group.eval(&mut self.history, &latest, ts, &ctx) {
                tracing::warn!(group = %f.group, rule = %f.rule, error = %f.error, "Rule evaluation failed; its alerts keep their state.");
                *self.failures.entry((f.group, f.rule)).or_default() += 1;
            }
            self.group_seconds[i] = started.elapsed().as_secs_f64();
        }
        self.log_transitions(&before);
        self.attach_evidence(snapshot, ts);
        self.history.trim(ts);
        self.publish()
    }

    /// Gives each P0 or P1 alert that fires without evidence what the collectors last saw
    /// (taken once per alert: it then travels with its notifications and its state).
    fn attach_evidence(&mut self, snapshot: &Snapshot, ts: i64) {
        let mut taken: Option<Option<serde_json::Value>> = None;
        for group in &mut self.rules.groups {
            for rule in &mut group.rules {
                let RuleKind::Alert(r) = &mut rule.kind else {
                    continue;
                };
                for a in r.active.values_mut() {
                    let paged = matches!(
                        Severity::parse(a.labels.get("severity").unwrap_or_default()),
                        Severity::P0 | Severity::P1
                    );
                    if a.state == AlertState::Firing && paged && a.evidence.is_none() {
                        a.evidence
                            .clone_from(taken.get_or_insert_with(|| evidence(snapshot, ts)));
                    }
                }
            }
        }
    }

    fn log_transitions(&self, before: &HashMap<(String, LabelSet), AlertState>) {
        for rule in self.rules.rules() {
            for a in rule.alerts() {
                let prev = before.get(&(rule.name.clone(), a.labels.clone())).copied();
                if prev == Some(a.state) {
                    continue;
                }
                let labels = a.labels.to_string();
                let summary = a.annotations.get("summary").map_or("", String::as_str);
                match a.state {
                    AlertState::Firing => {
                        tracing::warn!(alert = %rule.name, %labels, summary, value = a.value, "Alert firing.");
                    }
                    AlertState::Inactive if prev.is_some() => {
                        tracing::info!(alert = %rule.name, %labels, "Alert resolved.");
                    }
                    AlertState::Pending => {
                        tracing::info!(alert = %rule.name, %labels, "Alert pending.");
                    }
                    AlertState::Inactive => {}
                }
            }
        }
    }

    fn publish(&self) -> Published {
        let mut metrics = Batch::default();
        let mut counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
        let mut alerts = Vec::new();
        for rule in self.rules.rules() {
            for a in rule.alerts().filter(|a| a.state != AlertState::Inactive) {
                let severity = a.labels.value("severity").to_owned();
                *counts.entry((a.state.as_str(), severity)).or_default() += 1;
                alerts.push(alert_view(a, &self.external_labels));
            }
        }
        for state in ["pending", "firing"] {
            for sev in Severity::NAMED {
                counts.entry((state, sev.as_str().to_owned())).or_default();
            }
        }
        #[allow(clippy::cast_precision_loss)]
        for ((state, severity), n) in &counts {
            metrics.push(
                &catalog::ALERTS,
                labels([("state", state), ("severity", severity)]),
                *n as f64,
            );
        }
        #[allow(clippy::cast_precision_loss)]
        for ((group, rule), n) in &self.failures {
            metrics.push(
                &catalog::RULE_EVAL_FAILURES,
                labels([("group", group), ("rule", rule)]),
                *n as f64,
            );
        }
        for (g, secs) in self.rules.groups.iter().zip(&self.group_seconds) {
            metrics.push(
                &catalog::RULE_GROUP_DURATION,
                labels([("group", &g.name)]),
                *secs,
            );
        }
        #[allow(clippy::cast_precision_loss)]
        {
            metrics.set(&catalog::HISTORY_POINTS, self.history.points() as f64);
            metrics.set(&catalog::HISTORY_SERIES, self.history.series() as f64);
            metrics.set(&catalog::HISTORY_DROPPED, self.history.dropped() as f64);
        }
        Published {
            alerts,
            routing: BTreeMap::new(),
            groups: self.group_views(),
            metrics,
        }
    }

    /// Every group and rule as the API shows them.
    fn group_views(&self) -> Vec<GroupView> {
        let sources = |list: &[(String, Template)]| -> BTreeMap<String, String> {
            list.iter()
                .map(|(k, t)| (k.clone(), t.source().to_owned()))
                .collect()
        };
        self.rules
            .groups
            .iter()
            .zip(&self.group_seconds)
            .map(|(g, secs)| GroupView {
                name: g.name.clone(),
                file: g.file.clone(),
                interval_seconds: g.interval.unwrap_or(self.step).as_secs_f64(),
                evaluation_seconds: *secs,
                rules: g
                    .rules
                    .iter()
                    .map(|r| RuleView {
                        name: r.name.clone(),
                        query: r.expr_text.trim().to_owned(),
                        labels: sources(&r.labels),
                        last_error: r.last_error.clone(),
                        last_evaluation_ms: r.last_evaluation_ms,
                        evaluation_seconds: r.evaluation_seconds,
                        alerting: match &r.kind {
                            RuleKind::Alert(a) => Some(AlertingView {
                                for_seconds: a.for_ms / 1000,
                                keep_firing_for_seconds: a.keep_firing_for_ms / 1000,
                                annotations: sources(&a.annotations),
                                state: r
                                    .alerts()
                                    .map(|a| a.state)
                                    .max()
                                    .unwrap_or(AlertState::Inactive),
                                alerts: r
                                    .alerts()
                                    .filter(|a| a.state != AlertState::Inactive)
                                    .map(|a| alert_view(a, &self.external_labels))
                                    .collect(),
                            }),
                            RuleKind::Record => None,
                        },
                    })
                    .collect(),
            })
            .collect()
    }
}

/// An alert's labels with the external labels it lacks, as they are sent.
fn with_external(labels: &LabelSet, external: &LabelSet) -> LabelSet {
    let mut out = labels.clone();
    for (k, v) in external.iter() {
        if out.get(k).is_none() {
            out.set(k, v);
        }
    }
    out
}

/// The evidence parts every collector's last run kept, in one object with the time taken,
/// cut to [`EVIDENCE_MAX`] bytes of JSON (the longest lists lose their last entries first);
/// `None` while no collector keeps any.
fn evidence(snapshot: &Snapshot, ts: i64) -> Option<serde_json::Value> {
    let mut parts = serde_json::Map::new();
    for slot in snapshot.slots() {
        for (name, part) in &slot.load().batch.evidence {
            parts.insert((*name).to_owned(), part.clone());
        }
    }
    if parts.is_empty() {
        return None;
    }
    loop {
        let size = serde_json::to_string(&parts).map_or(0, |t| t.len());
        if size <= EVIDENCE_MAX {
            break;
        }
        let longest = parts
            .values_mut()
            .filter_map(serde_json::Value::as_array_mut)
            .filter(|a| !a.is_empty())
            .max_by_key(|a| a.len());
        if let Some(list) = longest {
            list.pop();
        } else {
            parts.clear();
            break;
        }
    }
    parts.insert("taken_at".into(), crate::time::rfc3339(ts).into());
    Some(serde_json::Value::Object(parts))
}

/// Evidence attached to one alert, at most (bytes of JSON).
pub const EVIDENCE_MAX: usize = 16 << 10;

/// An alert with the external labels it would be sent with.
fn alert_view(a: &super::rules::Alert, external: &LabelSet) -> AlertView {
    AlertView {
        labels: with_external(&a.labels, external),
        annotations: a.annotations.clone(),
        state: a.state,
        active_at: a.active_at,
        value: a.value,
        evidence: a.evidence.clone(),
    }
}

/// The notification side of the engine: dispatcher, queue and delivery statistics.
pub struct Delivery {
    /// Routes and groups.
    pub dispatcher: Dispatcher,
    /// Every receiver, for rendering what the routes decide.
    pub specs: Vec<ReceiverSpec>,
    /// The live silences.
    pub silences: Silences,
    /// `None` only when no receiver is configured and `state_dir` is unusable.
    pub store: Option<Store>,
    /// Delivery counters, filled by the workers.
    pub stats: Arc<Stats>,
    /// Woken when messages are queued.
    pub wake: Vec<Arc<tokio::sync::Notify>>,
    /// Prefix of relative `runbook_url` annotations.
    pub runbook_base: String,
    /// This sidecar's URL, for links in messages.
    pub external_url: String,
}

impl Delivery {
    /// Routes this evaluation's alerts and queues what must be sent, together with the
    /// alert state, in one transaction. If the write fails, the dispatcher forgets this
    /// pass too, so the next evaluation queues the same messages again.
    async fn after_tick(
        &mut self,
        engine: &Engine,
        now: i64,
    ) -> (Batch, BTreeMap<String, Routing>) {
        let records = engine.alert_records(&self.runbook_base);
        let before = self.dispatcher.state.clone();
        let active = self.silences.active(now);
        let messages: Vec<_> = self
            .dispatcher
            .process(&records, &active, now)
            .iter()
            .flat_map(|n| notify::render(&self.specs, n, &self.external_url))
            .collect();
        if let Some(store) = &self.store {
            // Nothing is saved rather than an empty state: a failed pass is redone.
            let saved = match (
                engine.export_state(),
                serde_json::to_string(&self.dispatcher.state),
            ) {
                (Ok(alerts), Ok(dispatch)) => {
                    store
                        .commit(
                            &[("alerts", alerts), ("dispatch", dispatch)],
                            &messages,
                            now,
                        )
                        .await
                }
                (Err(e), _) | (_, Err(e)) => Err(StoreError::Encode(e.to_string())),
            };
            if let Err(e) = saved {
                tracing::error!(error = %e, "Cannot write alert state and notifications; retrying at the next evaluation.");
                self.dispatcher.state = before;
            } else if !messages.is_empty() {
                for w in &self.wake {
                    w.notify_one();
                }
            }
        } else if !messages.is_empty() {
            tracing::warn!(
                count = messages.len(),
                "No state_dir: notifications dropped."
            );
        }
        let routing = self.dispatcher.routing(&records, &active, now);
        (self.metrics().await, routing)
    }

    async fn metrics(&self) -> Batch {
        let depths = match &self.store {
            Some(store) => store.depths().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "Cannot read the queue depths.");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let mut b = self.stats.batch(&depths, system_time_ms(SystemTime::now()));
        #[allow(clippy::cast_precision_loss)]
        for reason in Muted::ALL {
            b.push(
                &catalog::ALERTS_HELD_BACK,
                labels([("reason", reason.as_str())]),
                self.dispatcher.held[reason as usize] as f64,
            );
        }
        b
    }
}

/// Runs the engine until `shutdown`, publishing after every evaluation. The first
/// evaluation waits until every collector has run once: evaluating an empty snapshot
/// would resolve every restored alert.
pub async fn run(
    mut engine: Engine,
    mut delivery: Delivery,
    snapshot: Arc<Snapshot>,
    published: Arc<ArcSwap<Published>>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    tokio::select! {
        () = shutdown.cancelled() => return,
        () = snapshot.wait_ready() => {}
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = SystemTime::now();
        let mut out = engine.tick(&snapshot, now);
        let (extra, routing) = delivery.after_tick(&engine, system_time_ms(now)).await;
        out.metrics.append(extra);
        out.routing = routing;
        snapshot.publish_alerting(std::mem::take(&mut out.metrics));
        published.store(Arc::new(out));
    }
}
