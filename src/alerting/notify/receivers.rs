//! Receivers from the configuration: what routing and rendering need of each
//! ([`ReceiverSpec`]), where and how its integrations deliver ([`Endpoint`], the only
//! home of the secrets), and rendering a routed notification into queued messages.

use std::collections::BTreeMap;

use super::{alertmanager, pagerduty, slack, webhook};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value as Json;

use crate::alerting::model::{AlertRecord, Notification, Outgoing};
use crate::alerting::model::{GroupView, Integration, ReceiverSpec};
use crate::config::check::{
    check_url, duplicate_or_empty_names, secret, ConfigError, Invalid, Problems,
};
use crate::config::AlertingConfig;

/// Where and how a worker delivers (the secrets live here only).
#[derive(Clone)]
pub struct Endpoint {
    /// The receiver.
    pub receiver: String,
    /// The integration.
    pub integration: Integration,
    pub(super) url: SecretString,
    /// The other peers of an Alertmanager cluster: each message goes to every one.
    pub(super) peers: Vec<SecretString>,
    pub(super) routing_key: Option<SecretString>,
    /// Least time between two deliveries.
    pub min_interval: Duration,
    /// Per attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("receiver", &self.receiver)
            .field("integration", &self.integration)
            .finish_non_exhaustive()
    }
}

/// The messages for one routed notification; `specs` are every receiver's.
#[must_use]
pub fn render(
    specs: &[ReceiverSpec],
    notification: &Notification,
    external_url: &str,
) -> Vec<Outgoing> {
    match notification {
        Notification::Group {
            key,
            receiver,
            group_labels,
            firing,
            resolved,
        } => specs
            .iter()
            .find(|s| &s.name == receiver)
            .map(|spec| {
                spec.render(&GroupView {
                    key,
                    receiver,
                    group_labels,
                    firing,
                    resolved,
                    external_url,
                    test: false,
                })
            })
            .unwrap_or_default(),
        Notification::Forward {
            receiver,
            alerts,
            ends_at,
        } => {
            let list: Vec<(&AlertRecord, bool)> = alerts.iter().map(|(a, r)| (a, *r)).collect();
            vec![Outgoing {
                receiver: receiver.clone(),
                integration: Integration::Alertmanager,
                body: alertmanager::render(&list, *ends_at, external_url),
                supersedes: true,
            }]
        }
    }
}

impl ReceiverSpec {
    /// The messages for one notified group, one per grouped integration.
    pub fn render(&self, view: &GroupView<'_>) -> Vec<Outgoing> {
        let resolved_only = view.firing.is_empty();
        self.integrations
            .iter()
            .filter(|i| i.grouped())
            .filter(|i| !resolved_only || self.send_resolved.get(i).copied().unwrap_or(true))
            .map(|&integration| Outgoing {
                receiver: self.name.clone(),
                integration,
                body: match integration {
                    Integration::Slack => slack::render(view, self.slack_max_alerts),
                    Integration::PagerDuty => pagerduty::render(view),
                    Integration::Webhook => webhook::render(view, self.webhook_max_alerts),
                    Integration::Alertmanager => Json::Null,
                },
                supersedes: false,
            })
            .collect()
    }
}

/// Receivers and their endpoints from the configuration, checked; secret files are read
/// here, once. Every problem is returned with its key path, never with a secret.
pub fn build(config: &AlertingConfig) -> Result<(Vec<ReceiverSpec>, Vec<Endpoint>), Problems> {
    let mut specs = Vec::new();
    let mut endpoints = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in duplicate_or_empty_names(config.receivers.iter().map(|r| r.name.as_str())) {
        let why = if name.is_empty() {
            "must not be empty".to_owned()
        } else {
            format!("{name:?} is used by an earlier receiver")
        };
        errors.push(ConfigError::new(
            format!("alerting.receivers[{i}].name"),
            why,
        ));
    }
    for (i, r) in config.receivers.iter().enumerate() {
        let at = |k: &str| format!("alerting.receivers[{i}].{k}");
        if r.slack.is_none()
            && r.pagerduty.is_none()
            && r.alertmanager.is_none()
            && r.webhook.is_none()
        {
            errors.push(ConfigError::new(
                at("name"),
                format!(
                    "receiver {:?} has no slack, pagerduty, alertmanager or webhook",
                    r.name
                ),
            ));
        }
        let mut spec = ReceiverSpec {
            name: r.name.clone(),
            integrations: Vec::new(),
            slack_max_alerts: 10,
            webhook_max_alerts: 0,
            send_resolved: BTreeMap::new(),
            resend_ms: None,
        };
        let mut push = |integration, url, routing_key, min_interval, timeout| {
            spec.integrations.push(integration);
            endpoints.push(Endpoint {
                receiver: r.name.clone(),
                integration,
                url,
                peers: Vec::new(),
                routing_key,
                min_interval,
                timeout,
            });
        };
        if let Some(s) = &r.slack {
            let given = [
                s.webhook_url.is_some(),
                s.webhook_url_file.is_some(),
                s.url.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            let mut url = None;
            if given == 1 {
                match secret(
                    (&at("slack.webhook_url"), s.webhook_url.as_ref()),
                    (&at("slack.webhook_url_file"), s.webhook_url_file.as_deref()),
                    check_url,
                ) {
                    Ok(u) => url = u,
                    Err(e) => errors.push(e),
                }
            } else {
                errors.push(ConfigError::new(
                    at("slack"),
                    "set exactly one of webhook_url, webhook_url_file or url",
                ));
            }
            if let Some(u) = &s.url {
                match check_url(u) {
                    Ok(()) => url = url.or_else(|| Some(SecretString::from(u.clone()))),
                    Err(e) => errors.push(ConfigError::new(at("slack.url"), e)),
                }
            }
            if s.max_alerts == 0 || s.max_alerts > 40 {
                errors.push(ConfigError::new(
                    at("slack.max_alerts"),
                    "must be between 1 and 40 (Slack allows 50 blocks per message)",
                ));
            }
            if let Some(url) = url {
                push(Integration::Slack, url, None, s.min_interval, s.timeout);
            }
        }
        if let Some(p) = &r.pagerduty {
            if p.routing_key.is_none() && p.routing_key_file.is_none() {
                errors.push(ConfigError::new(
                    at("pagerduty"),
                    "set routing_key or routing_key_file",
                ));
            }
            let key = secret(
                (&at("pagerduty.routing_key"), p.routing_key.as_ref()),
                (
                    &at("pagerduty.routing_key_file"),
                    p.routing_key_file.as_deref(),
                ),
                |k: &str| {
                    if k.len() == 32 {
                        Ok(())
                    } else {
                        Err(Invalid::from(format!(
                            "must be 32 characters (an Events API v2 integration key), got {}",
                            k.len()
                        )))
                    }
                },
            )
            .unwrap_or_else(|e| {
                errors.push(e);
                None
            });
            if let Err(e) = check_url(&p.url) {
                errors.push(ConfigError::new(at("pagerduty.url"), e));
            }
            if key.is_some() {
                push(
                    Integration::PagerDuty,
                    SecretString::from(p.url.clone()),
                    key,
                    p.min_interval,
                    p.timeout,
                );
            }
        }
        if let Some(w) = &r.webhook {
            if w.url.is_none() && w.url_file.is_none() {
                errors.push(ConfigError::new(at("webhook"), "set url or url_file"));
            }
            let url = secret(
                (&at("webhook.url"), w.url.as_ref()),
                (&at("webhook.url_file"), w.url_file.as_deref()),
                check_url,
            )
            .unwrap_or_else(|e| {
                errors.push(e);
                None
            });
            if let Some(url) = url {
                push(Integration::Webhook, url, None, Duration::ZERO, w.timeout);
            }
        }
        if let Some(a) = &r.alertmanager {
            let (key, bases): (String, Vec<&String>) = match (&a.url, a.urls.is_empty()) {
                (Some(u), true) => (at("alertmanager.url"), vec![u]),
                (None, false) => (at("alertmanager.urls"), a.urls.iter().collect()),
                _ => {
                    errors.push(ConfigError::new(
                        at("alertmanager"),
                        "set url (one Alertmanager) or urls (every peer of a cluster)",
                    ));
                    (String::new(), Vec::new())
                }
            };
            for (j, u) in bases.iter().enumerate() {
                if let Err(e) = check_url(u) {
                    let k = if bases.len() > 1 || a.url.is_none() {
                        format!("{key}[{j}]")
                    } else {
                        key.clone()
                    };
                    errors.push(ConfigError::new(k, e));
                }
            }
            let mut urls = bases
                .iter()
                .map(|u| SecretString::from(format!("{}/api/v2/alerts", u.trim_end_matches('/'))));
            if let Some(first) = urls.next() {
                push(
                    Integration::Alertmanager,
                    first,
                    None,
                    Duration::ZERO,
                    a.timeout,
                );
                if let Some(ep) = endpoints.last_mut() {
                    ep.peers = urls.collect();
                }
            }
        }
        if let Some(s) = &r.slack {
            spec.slack_max_alerts = s.max_alerts;
            spec.send_resolved
                .insert(Integration::Slack, s.send_resolved);
        }
        if let Some(p) = &r.pagerduty {
            spec.send_resolved
                .insert(Integration::PagerDuty, p.send_resolved);
        }
        if let Some(w) = &r.webhook {
            spec.webhook_max_alerts = w.max_alerts;
            spec.send_resolved
                .insert(Integration::Webhook, w.send_resolved);
        }
        spec.resend_ms = r
            .alertmanager
            .as_ref()
            .map(|a| crate::time::millis(a.resend_interval));
        specs.push(spec);
    }
    if errors.is_empty() {
        Ok((specs, endpoints))
    } else {
        Err(errors)
    }
}
