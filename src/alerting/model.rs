//! What flows between the alerting stages: an alert as notifications carry it, its
//! severity, a receiver's integrations, a group about to be notified and a queued message.
//! Every stage imports these; this module imports no stage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::promql::LabelSet;

/// An alert as notifications carry it: labels with the external labels, rendered
/// annotations, and its times in Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Its labels, the external labels included.
    pub labels: BTreeMap<String, String>,
    /// Its annotations, rendered.
    pub annotations: BTreeMap<String, String>,
    /// The value of the rule's expression when it last fired.
    pub value: f64,
    /// When it became active (Unix milliseconds).
    pub starts_at: i64,
    /// When it resolved; `None` while it fires.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// [`fingerprint`] of the labels.
    pub fingerprint: String,
    /// What the database showed when it started firing (P0 and P1 alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Json>,
}

impl AlertRecord {
    /// An alert from its labels, rendered annotations, value and start.
    pub fn new(
        labels: &LabelSet,
        annotations: BTreeMap<String, String>,
        value: f64,
        starts_at: i64,
    ) -> Self {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            fingerprint: fingerprint(&labels),
            labels,
            annotations,
            value,
            starts_at,
            ends_at: None,
            evidence: None,
        }
    }

    /// The labels as a [`LabelSet`].
    pub fn label_set(&self) -> LabelSet {
        LabelSet::new(self.labels.clone())
    }

    /// One label's value; empty when the alert lacks it.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// 16 hex digits of SHA-256 over the sorted labels: stable across restarts and versions.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0xff]);
        h.update(v.as_bytes());
        h.update([0xfe]);
    }
    hex(&h.finalize()[..8])
}

/// Lower-case hexadecimal digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// How a receiver is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Integration {
    /// A Slack incoming webhook.
    Slack,
    /// PagerDuty Events API v2.
    PagerDuty,
    /// A URL receiving Alertmanager's webhook JSON.
    Webhook,
    /// An Alertmanager, sent the alerts themselves.
    Alertmanager,
}

impl Integration {
    /// The `integration` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::PagerDuty => "pagerduty",
            Self::Webhook => "webhook",
            Self::Alertmanager => "alertmanager",
        }
    }

    /// Notified per group; Alertmanager gets alerts and groups them itself.
    pub fn grouped(self) -> bool {
        self != Self::Alertmanager
    }
}

/// What the dispatcher needs to know of a receiver (no secrets).
#[derive(Clone, Debug)]
pub struct ReceiverSpec {
    /// Its name, as routes give it.
    pub name: String,
    /// Its integrations, in configuration order.
    pub integrations: Vec<Integration>,
    /// Alerts listed one by one in a Slack message.
    pub slack_max_alerts: usize,
    /// Alerts per webhook message; 0: all.
    pub webhook_max_alerts: usize,
    /// Per integration: send a message when the group resolves.
    pub send_resolved: BTreeMap<Integration, bool>,
    /// Alertmanager's `resend_interval` in milliseconds, when it has one.
    pub resend_ms: Option<i64>,
}

/// A group about to be notified.
pub struct GroupView<'a> {
    /// The group key (PagerDuty's `dedup_key` is derived from it).
    pub key: &'a str,
    /// The receiver it is for.
    pub receiver: &'a str,
    /// The labels the group is made of.
    pub group_labels: &'a BTreeMap<String, String>,
    /// Its firing alerts.
    pub firing: &'a [AlertRecord],
    /// Its alerts resolved since the last notification.
    pub resolved: &'a [AlertRecord],
    /// Links in the message point here (`external_url`).
    pub external_url: &'a str,
    /// `notify-test`: marked as a test everywhere a person reads it.
    pub test: bool,
}

impl GroupView<'_> {
    /// The most severe `severity` of the firing alerts (of the resolved ones if none fire).
    pub fn severity(&self) -> &str {
        let alerts = if self.firing.is_empty() {
            self.resolved
        } else {
            self.firing
        };
        alerts
            .iter()
            .map(|a| a.label("severity"))
            .min_by_key(|s| Severity::parse(s))
            .unwrap_or("")
    }

    /// Labels every alert of the group shares.
    pub fn common_labels(&self) -> BTreeMap<String, String> {
        common(self.firing.iter().chain(self.resolved).map(|a| &a.labels))
    }

    /// Annotations every alert of the group shares.
    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        common(
            self.firing
                .iter()
                .chain(self.resolved)
                .map(|a| &a.annotations),
        )
    }

    /// The group's `alertname`, or `alerts` when it has several.
    pub fn alertname(&self) -> String {
        self.common_labels()
            .get("alertname")
            .cloned()
            .or_else(|| self.group_labels.get("alertname").cloned())
            .unwrap_or_else(|| "alerts".into())
    }
}

fn common<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut out = first.clone();
    for m in maps {
        out.retain(|k, v| m.get(k) == Some(v));
    }
    out
}

/// The seeds' incident severities. An alert's `severity` label names one; any other
/// value (or none) is [`Severity::Other`], ranked after P3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// System down, data loss: pages.
    P0,
    /// Major functionality affected: pages.
    P1,
    /// Partial functionality affected: chat.
    P2,
    /// Minor issue: chat.
    P3,
    /// Not one of P0–P3.
    Other,
}

impl Severity {
    /// The four named severities, most severe first.
    pub const NAMED: [Self; 4] = [Self::P0, Self::P1, Self::P2, Self::P3];

    /// The severity a `severity` label value names.
    #[must_use]
    pub fn parse(label: &str) -> Self {
        match label {
            "P0" => Self::P0,
            "P1" => Self::P1,
            "P2" => Self::P2,
            "P3" => Self::P3,
            _ => Self::Other,
        }
    }

    /// The label value (`""` for [`Severity::Other`]).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::Other => "",
        }
    }
}

/// A message for one receiver's integration, ready to queue.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The receiver it is for.
    pub receiver: String,
    /// The integration that delivers it.
    pub integration: Integration,
    /// The payload, rendered.
    pub body: Json,
    /// Replaces messages still queued for the same receiver and integration (Alertmanager
    /// batches carry the full state, so only the newest matters).
    pub supersedes: bool,
}

/// What the routes decided to tell a receiver, before any notifier renders it.
#[derive(Clone, Debug, PartialEq)]
pub enum Notification {
    /// A notification group's news, for the receiver's grouped integrations.
    Group {
        /// The group key: the PagerDuty `dedup_key` derives from it.
        key: String,
        /// The receiver.
        receiver: String,
        /// The labels the group is made of.
        group_labels: BTreeMap<String, String>,
        /// Firing alerts, sorted by labels.
        firing: Vec<AlertRecord>,
        /// Alerts notified before that have resolved since.
        resolved: Vec<AlertRecord>,
    },
    /// The full alert list for an Alertmanager receiver (`true`: resolved).
    Forward {
        /// The Alertmanager receiver.
        receiver: String,
        /// Every alert to send, with whether it resolved.
        alerts: Vec<(AlertRecord, bool)>,
        /// `endsAt` of the firing alerts.
        ends_at: i64,
    },
}
