//! From alerts to notifications, Alertmanager's way: routes, groups with their timers,
//! inhibition, silences, the maintenance file, and a notification log that decides what
//! is new. Pure: the caller persists the dispatcher's `state` and the messages together.

pub mod forward;
pub mod matchers;
pub mod mute;
pub mod silence;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::model::{AlertRecord, Integration, Notification, ReceiverSpec};
use super::rules::AlertState;
use crate::config::AlertingConfig;
use crate::promql::LabelSet;
use matchers::{all_match, Matcher, MatcherError};
pub use mute::Muted;
use mute::{Inhibit, MuteCheck};
use silence::Silence;

crate::message_error! {
    /// A route or inhibition rule that cannot be built (the text names its key).
    RouteError
}

impl From<MatcherError> for RouteError {
    fn from(e: MatcherError) -> Self {
        Self(e.0)
    }
}

/// Resolved alerts keep being forwarded to Alertmanager this long (Prometheus' value).
pub const AM_RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

struct Route {
    matchers: Vec<Matcher>,
    receivers: Vec<String>,
    cont: bool,
    group_by: Option<Vec<String>>,
    group_wait_ms: i64,
    group_interval_ms: i64,
    repeat_interval_ms: i64,
}

/// One notification group's log: what was last told to its receiver, and when.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupState {
    /// The receiver.
    pub receiver: String,
    /// The labels the group is made of.
    pub group_labels: BTreeMap<String, String>,
    /// When its first alert came.
    pub first_seen: i64,
    /// When its timer last ran.
    pub last_flush: Option<i64>,
    /// When it was last notified.
    pub last_notify: Option<i64>,
    /// Firing alerts as last notified, by fingerprint.
    pub notified: BTreeMap<String, AlertRecord>,
}

/// Where an alert goes and what holds it back ([`Dispatcher::routing`]).
#[derive(Clone, Debug, Default)]
pub struct Routing {
    /// Why it is held back, with the silence's id when a silence holds it.
    pub muted: Option<(Muted, Option<String>)>,
    /// Its receivers.
    pub targets: Vec<Target>,
}

/// One receiver of an alert.
#[derive(Clone, Debug)]
pub struct Target {
    /// The receiver.
    pub receiver: String,
    /// The notification group it is in.
    pub group: String,
    /// When that group last notified it, if it did.
    pub notified_at: Option<i64>,
}

/// Alertmanager forwarding state of one receiver.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ForwardState {
    /// When the list was last sent.
    pub last_send: i64,
    /// Fingerprint → resolved? of the last batch.
    pub sent: BTreeMap<String, bool>,
}

/// A notification group: its route, receiver and grouping labels. Kept as the text
/// `route:receiver:{labels}`, the form saved notification logs hold and PagerDuty's
/// `dedup_key` is derived from, so both survive upgrades.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupKey(String);

impl GroupKey {
    /// The key of the group `labels` form on `route` for `receiver`.
    #[must_use]
    pub fn new(route: usize, receiver: &str, labels: &BTreeMap<String, String>) -> Self {
        Self(format!(
            "{route}:{receiver}:{}",
            LabelSet::new(labels.clone())
        ))
    }

    /// The index of the route the group belongs to.
    #[must_use]
    pub fn route(&self) -> Option<usize> {
        self.0.split(':').next()?.parse().ok()
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything the dispatcher must remember across restarts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DispatchState {
    /// The notification log, by group.
    pub groups: BTreeMap<GroupKey, GroupState>,
    /// Alertmanager forwarding, by receiver.
    pub forwarded: BTreeMap<String, ForwardState>,
}

/// Routes, groups and the notification log; pure, driven by explicit times.
pub struct Dispatcher {
    routes: Vec<Route>,
    inhibit: Vec<Inhibit>,
    receivers: Vec<ReceiverSpec>,
    maintenance_file: Option<PathBuf>,
    /// What it must remember across restarts.
    pub state: DispatchState,
    /// Firing alerts held back at the last pass, indexed by `Muted as usize`.
    pub held: [usize; 3],
    /// This sidecar's URL (Alertmanager's `generatorURL`).
    pub external_url: String,
    eval_interval_ms: i64,
}

fn ms(d: std::time::Duration) -> i64 {
    crate::time::millis(d)
}

impl Dispatcher {
    /// Builds routes and inhibition rules from the configuration (already validated, so a
    /// matcher that does not parse is reported, not skipped).
    pub fn new(config: &AlertingConfig, receivers: Vec<ReceiverSpec>) -> Result<Self, RouteError> {
        let route = |matchers: Vec<Matcher>,
                     receivers: Vec<String>,
                     cont,
                     r: Option<&crate::config::RouteConfig>| Route {
            matchers,
            receivers,
            cont,
            group_by: Some(
                r.and_then(|r| r.group_by.clone())
                    .unwrap_or_else(|| config.group_by.clone()),
            )
            .filter(|g| !g.iter().any(|l| l == "...")),
            group_wait_ms: ms(r.and_then(|r| r.group_wait).unwrap_or(config.group_wait)),
            group_interval_ms: ms(r
                .and_then(|r| r.group_interval)
                .unwrap_or(config.group_interval)),
            repeat_interval_ms: ms(r
                .and_then(|r| r.repeat_interval)
                .unwrap_or(config.repeat_interval)),
        };
        let routes = if config.routes.is_empty() {
            // The severity table of DESIGN.md: P0/P1 page, everything goes to chat.
            let all: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
            let chat: Vec<String> = receivers
                .iter()
                .filter(|r| !r.integrations.contains(&Integration::PagerDuty))
                .map(|r| r.name.clone())
                .collect();
            vec![
                route(
                    vec![Matcher::parse(r#"severity=~"P0|P1""#)?],
                    all,
                    false,
                    None,
                ),
                route(vec![], chat, false, None),
            ]
        } else {
            config
                .routes
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    Matcher::parse_all(&r.matchers)
                        .map(|m| route(m, r.receivers.clone(), r.continue_, Some(r)))
                        .map_err(|e| {
                            RouteError::from(format!("alerting.routes[{i}].matchers: {e}"))
                        })
                })
                .collect::<Result<_, _>>()?
        };
        let mut inhibit = Vec::new();
        if config.inhibit_when_postgresql_down {
            inhibit.push(Inhibit {
                source: vec![Matcher::parse("alertname=PostgresqlDown")?],
                target: vec![Matcher::parse("component=postgresql")?],
                equal: vec!["instance".into()],
                pending_sources: true,
            });
        }
        for (i, r) in config.inhibit_rules.iter().enumerate() {
            let at = |k: &str, e: String| format!("alerting.inhibit_rules[{i}].{k}: {e}");
            inhibit.push(Inhibit {
                source: Matcher::parse_all(&r.source_matchers)
                    .map_err(|e| at("source_matchers", e.into()))?,
                target: Matcher::parse_all(&r.target_matchers)
                    .map_err(|e| at("target_matchers", e.into()))?,
                equal: r.equal.clone(),
                pending_sources: false,
            });
        }
        Ok(Self {
            routes,
            inhibit,
            receivers,
            maintenance_file: config.maintenance_file.clone(),
            state: DispatchState::default(),
            held: [0; 3],
            external_url: config.external_url.clone(),
            eval_interval_ms: ms(config.evaluation_interval),
        })
    }

    /// The (route, receiver) pairs an alert goes to, in route order.
    fn route(&self, labels: &LabelSet) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            if all_match(&r.matchers, labels) {
                out.extend(r.receivers.iter().map(|n| (i, n.clone())));
                if !r.cont {
                    break;
                }
            }
        }
        out
    }

    fn group_key(
        &self,
        route: usize,
        receiver: &str,
        alert: &AlertRecord,
    ) -> (GroupKey, BTreeMap<String, String>) {
        let group_labels: BTreeMap<String, String> = match &self.routes[route].group_by {
            Some(names) => names
                .iter()
                .filter_map(|n| alert.labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
            None => alert.labels.clone(),
        };
        let key = GroupKey::new(route, receiver, &group_labels);
        (key, group_labels)
    }

    pub(super) fn receiver(&self, name: &str) -> Option<&ReceiverSpec> {
        self.receivers.iter().find(|r| r.name == name)
    }

    fn mute_check(
        &self,
        alerts: &[(AlertRecord, AlertState)],
        silences: &[Silence],
        now: i64,
    ) -> MuteCheck {
        let sources = |state| {
            alerts
                .iter()
                .filter(|(_, s)| *s == state)
                .map(|(a, _)| a.label_set())
                .collect()
        };
        MuteCheck {
            maintenance: self.maintenance_file.as_ref().is_some_and(|p| p.exists()),
            silences: silences.iter().filter(|s| s.active(now)).cloned().collect(),
            firing: sources(AlertState::Firing),
            pending: sources(AlertState::Pending),
        }
    }

    /// Where each alert goes and what holds it back, by fingerprint, as the last pass
    /// decided (the pages show it): its receivers with their group and when the group
    /// last notified it, and the reason it is muted (the silence's id for a silence).
    pub fn routing(
        &self,
        alerts: &[(AlertRecord, AlertState)],
        silences: &[Silence],
        now: i64,
    ) -> BTreeMap<String, Routing> {
        let check = self.mute_check(alerts, silences, now);
        alerts
            .iter()
            .map(|(a, _)| {
                let labels = a.label_set();
                let muted = check.muted(&self.inhibit, &labels).map(|m| {
                    let by = match m {
                        Muted::Silenced => check
                            .silences
                            .iter()
                            .find(|s| matchers::all_match(&s.matchers, &labels))
                            .map(|s| s.id.clone()),
                        _ => None,
                    };
                    (m, by)
                });
                let targets = self
                    .route(&labels)
                    .into_iter()
                    .map(|(route, receiver)| {
                        let (key, _) = self.group_key(route, &receiver, a);
                        let group = self.state.groups.get(&key);
                        Target {
                            notified_at: group
                                .filter(|g| g.notified.contains_key(&a.fingerprint))
                                .and_then(|g| g.last_notify),
                            group: key.as_str().to_owned(),
                            receiver,
                        }
                    })
                    .collect();
                (a.fingerprint.clone(), Routing { muted, targets })
            })
            .collect()
    }

    /// One pass at `now` over every alert the rules hold, under the given silences;
    /// returns what to notify, for the notifiers to render. The stages, in order
    /// (Alertmanager's pipeline): mute → group → flush each due group → forward.
    pub fn process(
        &mut self,
        alerts: &[(AlertRecord, AlertState)],
        silences: &[Silence],
        now: i64,
    ) -> Vec<Notification> {
        let check = self.mute_check(alerts, silences, now);
        let pass = self.group(alerts, &check, now);
        let mut out = Vec::new();
        let keys: Vec<GroupKey> = self.state.groups.keys().cloned().collect();
        for key in keys {
            out.extend(self.flush(&key, &pass, &check, now));
        }
        // A group stays while it has alerts to resolve or firing ones; one whose alerts all
        // went away before its first flush is never notified.
        self.state
            .groups
            .retain(|key, g| !g.notified.is_empty() || pass.current.contains_key(key));
        self.held = pass.held;
        out.extend(self.forward(&pass.forward, now));
        out
    }

    /// Routes every firing or resolved alert: unmuted firing ones join their groups
    /// (created at first sight), and Alertmanager receivers get their lists.
    fn group<'a>(
        &mut self,
        alerts: &'a [(AlertRecord, AlertState)],
        check: &MuteCheck,
        now: i64,
    ) -> Pass<'a> {
        let mut pass = Pass {
            resolved_at: alerts
                .iter()
                .filter_map(|(a, s)| {
                    (*s == AlertState::Inactive)
                        .then_some(a.ends_at.map(|t| (a.fingerprint.as_str(), t)))
                        .flatten()
                })
                .collect(),
            ..Pass::default()
        };
        for (a, state) in alerts {
            if *state == AlertState::Pending {
                continue;
            }
            let labels = a.label_set();
            let firing = *state == AlertState::Firing;
            let mute = firing
                .then(|| check.muted(&self.inhibit, &labels))
                .flatten();
            if let Some(m) = mute {
                pass.muted_now.insert(&a.fingerprint);
                pass.held[m as usize] += 1;
            }
            for (route, receiver) in self.route(&labels) {
                let Some(spec) = self.receivers.iter().find(|r| r.name == receiver) else {
                    continue;
                };
                if spec.integrations.contains(&Integration::Alertmanager) {
                    let recent = a
                        .ends_at
                        .is_none_or(|t| now - t <= AM_RESOLVED_RETENTION_MS);
                    if recent {
                        pass.forward
                            .entry(spec.name.clone())
                            .or_default()
                            .push((a, !firing));
                    }
                }
                if firing && mute.is_none() && spec.integrations.iter().any(|i| i.grouped()) {
                    let (key, group_labels) = self.group_key(route, &receiver, a);
                    self.state
                        .groups
                        .entry(key.clone())
                        .or_insert_with(|| GroupState {
                            receiver: receiver.clone(),
                            group_labels,
                            first_seen: now,
                            ..GroupState::default()
                        });
                    pass.current.entry(key).or_default().push(a);
                }
            }
        }
        pass
    }

    /// One group at `now`: when its timer is due, what fires now against what was last
    /// notified decides whether it is notified (news, or `repeat_interval` passed).
    /// Notified alerts held back now keep their last notified state.
    fn flush(
        &mut self,
        key: &GroupKey,
        pass: &Pass<'_>,
        check: &MuteCheck,
        now: i64,
    ) -> Option<Notification> {
        let Some(route) = key.route().and_then(|r| self.routes.get(r)) else {
            // The route is gone from the configuration: nothing will flush it.
            self.state.groups.remove(key);
            return None;
        };
        let (wait, interval, repeat) = (
            route.group_wait_ms,
            route.group_interval_ms,
            route.repeat_interval_ms,
        );
        // Sorted by labels: messages list alerts in a stable order.
        let mut firing: Vec<AlertRecord> = pass
            .current
            .get(key)
            .map(|v| v.iter().map(|a| (*a).clone()).collect())
            .unwrap_or_default();
        firing.sort_by(|a, b| a.labels.cmp(&b.labels));
        let inhibit = &self.inhibit;
        let group = self.state.groups.get_mut(key)?;
        let due = match group.last_flush {
            None => now >= group.first_seen + wait,
            Some(t) => now >= t + interval,
        };
        if !due {
            return None;
        }
        let firing_fps: BTreeSet<&str> = firing.iter().map(|a| a.fingerprint.as_str()).collect();
        let mut frozen = BTreeMap::new();
        let mut resolved = Vec::new();
        for (fp, a) in &group.notified {
            if firing_fps.contains(fp.as_str()) {
                continue;
            }
            if pass.muted_now.contains(fp.as_str())
                || check.muted(inhibit, &a.label_set()).is_some()
            {
                frozen.insert(fp.clone(), a.clone());
            } else {
                let mut r = a.clone();
                r.ends_at = Some(pass.resolved_at.get(fp.as_str()).copied().unwrap_or(now));
                resolved.push(r);
            }
        }
        group.last_flush = Some(now);
        let before: BTreeSet<&str> = group
            .notified
            .keys()
            .filter(|fp| !frozen.contains_key(*fp))
            .map(String::as_str)
            .collect();
        let changed = before != firing_fps;
        let repeat_due = !firing.is_empty() && group.last_notify.is_some_and(|t| now >= t + repeat);
        if !(changed || repeat_due) {
            return None;
        }
        let notification = Notification::Group {
            key: key.as_str().to_owned(),
            receiver: group.receiver.clone(),
            group_labels: group.group_labels.clone(),
            firing: firing.clone(),
            resolved,
        };
        group.notified = frozen;
        group
            .notified
            .extend(firing.into_iter().map(|a| (a.fingerprint.clone(), a)));
        group.last_notify = Some(now);
        Some(notification)
    }
}

/// What one pass's grouping stage found.
#[derive(Default)]
struct Pass<'a> {
    /// Firing, unmuted alerts by group.
    current: BTreeMap<GroupKey, Vec<&'a AlertRecord>>,
    /// Fingerprints of the firing alerts held back now.
    muted_now: HashSet<&'a str>,
    /// Firing alerts held back, indexed by `Muted as usize`.
    held: [usize; 3],
    /// Alertmanager receivers' lists: (alert, resolved?).
    forward: BTreeMap<String, Vec<(&'a AlertRecord, bool)>>,
    /// When each resolved alert resolved.
    resolved_at: HashMap<&'a str, i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::model::Outgoing;
    use crate::alerting::notify;
    use crate::config::Core;
    use serde_json::Value as Json;

    /// The dispatcher with its silences, rendering what it routes as the engine does.
    struct Pipe {
        d: Dispatcher,
        specs: Vec<ReceiverSpec>,
        silences: Vec<Silence>,
    }

    impl std::ops::Deref for Pipe {
        type Target = Dispatcher;
        fn deref(&self) -> &Dispatcher {
            &self.d
        }
    }

    impl std::ops::DerefMut for Pipe {
        fn deref_mut(&mut self) -> &mut Dispatcher {
            &mut self.d
        }
    }

    impl Pipe {
        fn process(&mut self, alerts: &[(AlertRecord, AlertState)], now: i64) -> Vec<Outgoing> {
            let url = self.d.external_url.clone();
            self.d
                .process(alerts, &self.silences, now)
                .iter()
                .flat_map(|n| notify::render(&self.specs, n, &url))
                .collect()
        }
    }

    const RECEIVERS: &str = r#"
group_wait = "30s"
group_interval = "5m"
repeat_interval = "1h"
[[alerting.receivers]]
name = "oncall"
pagerduty = { routing_key = "0123456789abcdef0123456789abcdef", url = "http://127.0.0.1:9/v2/enqueue" }
[[alerting.receivers]]
name = "chat"
slack = { url = "http://127.0.0.1:9/hook" }
"#;

    fn dispatcher(extra: &str) -> Pipe {
        dispatcher_with("", extra)
    }

    fn dispatcher_with(top: &str, extra: &str) -> Pipe {
        let figment = crate::config::layered_toml(
            &[crate::config::DEFAULTS],
            &format!("[alerting]\n{top}\n{RECEIVERS}{extra}"),
        );
        let config: Core = crate::config::extract(&figment).unwrap();
        let (specs, _) = notify::build(&config.alerting).unwrap();
        Pipe {
            d: Dispatcher::new(&config.alerting, specs.clone()).unwrap(),
            specs,
            silences: Vec::new(),
        }
    }

    fn alert(name: &str, severity: &str, extra: &[(&str, &str)]) -> AlertRecord {
        let mut pairs = vec![("alertname", name), ("severity", severity)];
        pairs.extend_from_slice(extra);
        let ls = LabelSet::new(pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        AlertRecord::new(
            &ls,
            BTreeMap::from([("summary".into(), format!("{name} happened"))]),
            1.0,
            0,
        )
    }

    fn sent(out: &[Outgoing]) -> Vec<(String, &'static str, String)> {
        out.iter()
            .map(|o| {
                let what = o
                    .body
                    .get("event_action")
                    .and_then(Json::as_str)
                    .map_or_else(
                        || {
                            o.body["text"]
                                .as_str()
                                .unwrap_or("")
                                .split(' ')
                                .take(3)
                                .collect::<Vec<_>>()
                                .join(" ")
                        },
                        str::to_owned,
                    );
                (o.receiver.clone(), o.integration.as_str(), what)
            })
            .collect()
    }

    const S: i64 = 1000;

    #[test]
    fn default_routes_follow_the_severity_table_and_group_wait() {
        let mut d = dispatcher("");
        let p0 = [(alert("PostgresqlDown", "P0", &[]), AlertState::Firing)];
        assert!(
            d.process(&p0, 0).is_empty(),
            "group_wait holds the first notification"
        );
        let out = d.process(&p0, 30 * S);
        assert_eq!(
            sent(&out),
            [
                ("chat".into(), "slack", "🚨 [FIRING:1] P0".into()),
                ("oncall".into(), "pagerduty", "trigger".into()),
            ]
        );
        assert!(d.process(&p0, 35 * S).is_empty(), "nothing new");
        let p3 = [(alert("StaleTempFiles", "P3", &[]), AlertState::Firing)];
        let mut d = dispatcher("");
        d.process(&p3, 0);
        assert_eq!(
            sent(&d.process(&p3, 30 * S)),
            [("chat".into(), "slack", "🔵 [FIRING:1] P3".into())]
        );
    }

    #[test]
    fn one_group_per_alertname_resolve_and_repeat() {
        let mut d = dispatcher("");
        let tables: Vec<(AlertRecord, AlertState)> = (0..10)
            .map(|i| {
                (
                    alert(
                        "PostgresqlDeadTuples",
                        "P3",
                        &[("relname", &format!("t{i}"))],
                    ),
                    AlertState::Firing,
                )
            })
            .collect();
        d.process(&tables, 0);
        let out = d.process(&tables, 30 * S);
        assert_eq!(
            sent(&out),
            [("chat".into(), "slack", "🔵 [FIRING:10] P3".into())]
        );
        // One table recovers: notified at the next group_interval, not before.
        assert!(d.process(&tables[1..], 60 * S).is_empty());
        let out = d.process(&tables[1..], 330 * S);
        assert_eq!(
            sent(&out),
            [("chat".into(), "slack", "🔵 [FIRING:9] P3".into())]
        );
        // Repeat after repeat_interval (1h) with no change.
        assert!(d.process(&tables[1..], 3000 * S).is_empty());
        assert_eq!(d.process(&tables[1..], 3930 * S).len(), 1);
        // All resolve: one resolved message, then the group is gone.
        let out = d.process(&[], 4230 * S);
        assert_eq!(
            sent(&out),
            [("chat".into(), "slack", "✅ [RESOLVED] P3".into())]
        );
        assert!(d.state.groups.is_empty());
    }

    #[test]
    fn pending_postgresql_down_inhibits_postgresql_alerts_and_holds_their_resolve() {
        let mut d = dispatcher("");
        let dead = alert("PostgresqlDeadTuples", "P3", &[("component", "postgresql")]);
        d.process(&[(dead.clone(), AlertState::Firing)], 0);
        assert_eq!(
            d.process(&[(dead.clone(), AlertState::Firing)], 30 * S)
                .len(),
            1
        );
        // PostgreSQL stops: its table alerts vanish while PostgresqlDown is pending.
        let down = alert("PostgresqlDown", "P0", &[]);
        let out = d.process(&[(down.clone(), AlertState::Pending)], 400 * S);
        assert!(out.is_empty(), "no misleading resolve: {:?}", sent(&out));
        d.process(&[(down.clone(), AlertState::Firing)], 460 * S);
        let out = d.process(&[(down.clone(), AlertState::Firing)], 490 * S);
        assert_eq!(out.len(), 2, "the P0 goes to PagerDuty and Slack");
        // PostgreSQL is back and the table is clean: now the resolve goes out.
        let out = d.process(&[], 800 * S);
        let what = sent(&out);
        assert!(
            what.contains(&("chat".into(), "slack", "✅ [RESOLVED] P3".into())),
            "{what:?}"
        );
    }

    #[test]
    fn maintenance_holds_back_all_but_p0() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("maintenance.mode");
        std::fs::write(&file, "").unwrap();
        let mut d = dispatcher_with(
            &format!("maintenance_file = {:?}", file.display().to_string()),
            "",
        );
        let alerts = [
            (alert("HostDiskUsageHigh", "P2", &[]), AlertState::Firing),
            (alert("PostgresqlDown", "P0", &[]), AlertState::Firing),
        ];
        d.process(&alerts, 0);
        let what = sent(&d.process(&alerts, 30 * S));
        assert!(what.iter().all(|(_, _, w)| !w.contains("P2")), "{what:?}");
        assert_eq!(what.len(), 2);
        assert_eq!(d.held, [1, 0, 0], "one alert held by maintenance");
        std::fs::remove_file(&file).unwrap();
        d.process(&alerts, 40 * S);
        let what = sent(&d.process(&alerts, 80 * S));
        assert_eq!(what, [("chat".into(), "slack", "🟠 [FIRING:1] P2".into())]);
    }

    #[test]
    fn forwarding_resends_every_interval_and_resolved_ones_for_15m() {
        let mut d = dispatcher(
            "[[alerting.receivers]]\nname = \"am\"\nalertmanager = { url = \"http://127.0.0.1:9093\" }\n[[alerting.routes]]\nreceivers = [\"am\"]\n",
        );
        let mut a = alert("X", "P2", &[]);
        let out = d.process(&[(a.clone(), AlertState::Firing)], 0);
        assert_eq!(out.len(), 1, "forwarded at once, no group_wait");
        assert!(out[0].supersedes);
        assert_eq!(out[0].body[0]["endsAt"], crate::time::rfc3339(4 * 60 * S));
        assert!(d
            .process(&[(a.clone(), AlertState::Firing)], 30 * S)
            .is_empty());
        assert_eq!(
            d.process(&[(a.clone(), AlertState::Firing)], 60 * S).len(),
            1
        );
        a.ends_at = Some(70 * S);
        let out = d.process(&[(a.clone(), AlertState::Inactive)], 70 * S);
        assert_eq!(out[0].body[0]["endsAt"], crate::time::rfc3339(70 * S));
        assert_eq!(
            d.process(&[(a.clone(), AlertState::Inactive)], 130 * S)
                .len(),
            1
        );
        assert!(d
            .process(
                &[(a.clone(), AlertState::Inactive)],
                70 * S + AM_RESOLVED_RETENTION_MS + S
            )
            .is_empty());
    }

    #[test]
    fn group_keys_keep_their_saved_form() {
        let labels = BTreeMap::from([
            ("alertname".to_owned(), "X".to_owned()),
            ("instance".to_owned(), "db:5432".to_owned()),
        ]);
        let key = GroupKey::new(1, "on:call", &labels);
        // The saved notification log and PagerDuty's dedup_key depend on this text.
        assert_eq!(
            key.as_str(),
            r#"1:on:call:{alertname="X", instance="db:5432"}"#
        );
        assert_eq!(key.route(), Some(1));
        let saved: GroupKey = serde_json::from_str(&serde_json::to_string(&key).unwrap()).unwrap();
        assert_eq!(saved, key);
    }

    #[test]
    fn silences_hold_back_and_release() {
        let mut d = dispatcher("");
        d.silences.push(Silence {
            id: "s".into(),
            source: silence::Source::Api,
            matchers: vec![Matcher::parse("alertname=X").unwrap()],
            starts_at: 0,
            ends_at: 100 * S,
            created_by: String::new(),
            comment: String::new(),
        });
        let a = [(alert("X", "P2", &[]), AlertState::Firing)];
        d.process(&a, 0);
        assert!(d.process(&a, 30 * S).is_empty());
        d.process(&a, 100 * S);
        assert_eq!(d.process(&a, 130 * S).len(), 1);
    }
}
