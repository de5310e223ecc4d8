//! The alerting section, checked and built once: the rules, the receivers with their
//! secrets, the routes with their matchers and the configured silences. `check-config`,
//! `collect` and `run` all go through [`plan`], so what is checked is what runs.

use std::time::Duration;

use super::model::ReceiverSpec;
use super::notify::{self, Endpoint};
use super::routes::matchers::Matcher;
use super::routes::silence::{config_silences, Silence};
use super::routes::Dispatcher;
use super::rules::{RuleError, RuleSet};
use crate::config::check::{duration_in, ConfigError, Problems};
use crate::config::AlertingConfig;
use crate::promql::labels::is_label_name;

/// The built-in rule pack, loaded when `alerting.rule_files` is not set.
pub const DEFAULT_RULES: &str = include_str!("../../alert-rules/centinela.rules.yaml");
/// The name the built-in pack is reported under.
pub const DEFAULT_RULES_NAME: &str = "<built-in>/centinela.rules.yaml";

/// The configured rule files, or the built-in pack when none are configured.
pub fn load_rules(files: &[String]) -> Result<RuleSet, Vec<RuleError>> {
    if files.is_empty() {
        RuleSet::parse(DEFAULT_RULES_NAME, DEFAULT_RULES)
    } else {
        RuleSet::load_files(files)
    }
}

/// Everything the engine and its workers start from.
pub struct AlertingPlan {
    /// The rule groups, parsed.
    pub rules: RuleSet,
    /// Every receiver, for routing and rendering.
    pub specs: Vec<ReceiverSpec>,
    /// Where and how each integration delivers (with its secrets).
    pub endpoints: Vec<Endpoint>,
    /// Routes and inhibition rules, compiled.
    pub dispatcher: Dispatcher,
    /// The configured silences (API ones are restored from the state database).
    pub silences: Vec<Silence>,
    /// Metrics rules read that centinela never exports (see [`super::reach`]).
    pub warnings: Vec<String>,
}

/// Checks the alerting section and builds it; `Ok(None)` when alerting is off.
pub fn plan(
    a: &AlertingConfig,
    now_ms: i64,
    textfile: bool,
) -> Result<Option<AlertingPlan>, Problems> {
    if !a.enabled {
        return Ok(None);
    }
    let mut errors = Vec::new();
    if a.evaluation_interval < Duration::from_secs(1) {
        errors.push(ConfigError::new(
            "alerting.evaluation_interval",
            "must be at least 1s",
        ));
    }
    if a.history_max_points < 1000 {
        errors.push(ConfigError::new(
            "alerting.history_max_points",
            "must be at least 1000",
        ));
    }
    for k in a.external_labels.keys() {
        if !is_label_name(k) {
            errors.push(ConfigError::new(
                format!("alerting.external_labels.{k}"),
                "is not a valid label name",
            ));
        }
    }
    let rules = match load_rules(&a.rule_files) {
        Ok(rules) => {
            if let Some((rule, back)) = rules.longest_range() {
                let history = crate::time::millis(a.history);
                if back > history {
                    errors.push(ConfigError::new(
                        "alerting.history",
                        format!(
                            "rule {rule:?} reads {}s back, more than the history of {}s",
                            back / 1000,
                            history / 1000
                        ),
                    ));
                }
            }
            Some(rules)
        }
        Err(problems) => {
            errors.extend(
                problems
                    .into_iter()
                    .map(|p| ConfigError::new("alerting.rule_files", p.to_string())),
            );
            None
        }
    };
    let receivers = notify::build(a).map_err(|p| errors.extend(p)).ok();
    check_routing(a, &mut errors);
    let silences = config_silences(a, now_ms)
        .map_err(|p| errors.extend(p))
        .ok();
    let (Some(rules), Some((specs, endpoints)), Some(silences), true) =
        (rules, receivers, silences, errors.is_empty())
    else {
        return Err(errors);
    };
    let dispatcher = Dispatcher::new(a, specs.clone())
        .map_err(|e| vec![ConfigError::new("alerting.routes", e)])?;
    let warnings = super::reach::unexported(&rules, textfile)
        .into_iter()
        .map(|w| format!("alerting.rule_files: {w}"))
        .collect();
    Ok(Some(AlertingPlan {
        rules,
        specs,
        endpoints,
        dispatcher,
        silences,
        warnings,
    }))
}

/// Routes, inhibition rules, grouping labels and timers.
fn check_routing(a: &AlertingConfig, errors: &mut Problems) {
    let known: Vec<&str> = a.receivers.iter().map(|r| r.name.as_str()).collect();
    let labels_ok = |key: String, names: &[String], errors: &mut Problems| {
        for n in names {
            if n != "..." && !is_label_name(n) {
                errors.push(ConfigError::new(
                    key.clone(),
                    format!("{n:?} is not a valid label name"),
                ));
            }
        }
    };
    let matchers_ok = |key: String, list: &[String], errors: &mut Problems| {
        for (j, m) in list.iter().enumerate() {
            if let Err(e) = Matcher::parse(m) {
                errors.push(ConfigError::new(format!("{key}[{j}]"), e));
            }
        }
    };
    labels_ok("alerting.group_by".into(), &a.group_by, errors);
    for (i, r) in a.routes.iter().enumerate() {
        let at = |k: &str| format!("alerting.routes[{i}].{k}");
        matchers_ok(at("matchers"), &r.matchers, errors);
        if r.receivers.is_empty() {
            errors.push(ConfigError::new(
                at("receivers"),
                "must name at least one receiver",
            ));
        }
        for name in &r.receivers {
            if !known.contains(&name.as_str()) {
                errors.push(ConfigError::new(
                    at("receivers"),
                    format!(
                        "no receiver named {name:?} (configured: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        if let Some(g) = &r.group_by {
            labels_ok(at("group_by"), g, errors);
        }
    }
    for (i, r) in a.inhibit_rules.iter().enumerate() {
        let at = |k: &str| format!("alerting.inhibit_rules[{i}].{k}");
        matchers_ok(at("source_matchers"), &r.source_matchers, errors);
        matchers_ok(at("target_matchers"), &r.target_matchers, errors);
        if r.source_matchers.is_empty() || r.target_matchers.is_empty() {
            errors.push(ConfigError::new(
                at("source_matchers"),
                "source_matchers and target_matchers must not be empty",
            ));
        }
        labels_ok(at("equal"), &r.equal, errors);
    }
    let timers = |at: &dyn Fn(&str) -> String,
                  wait: Option<Duration>,
                  interval: Option<Duration>,
                  repeat: Option<Duration>,
                  errors: &mut Problems| {
        let checks = [
            (at("group_wait"), wait, Duration::ZERO, HOUR * 24),
            (
                at("group_interval"),
                interval,
                Duration::from_secs(1),
                HOUR * 24 * 7,
            ),
            (at("repeat_interval"), repeat, Duration::from_secs(60), YEAR),
        ];
        for (key, d, min, max) in checks {
            if let Some(e) = d.and_then(|d| duration_in(key, d, min, max)) {
                errors.push(e);
            }
        }
    };
    timers(
        &|k| format!("alerting.{k}"),
        Some(a.group_wait),
        Some(a.group_interval),
        Some(a.repeat_interval),
        errors,
    );
    for (i, r) in a.routes.iter().enumerate() {
        timers(
            &|k| format!("alerting.routes[{i}].{k}"),
            r.group_wait,
            r.group_interval,
            r.repeat_interval,
            errors,
        );
    }
    errors.extend(duration_in(
        "alerting.max_retry_backoff",
        a.max_retry_backoff,
        Duration::from_secs(1),
        HOUR * 24,
    ));
    for (i, r) in a.receivers.iter().enumerate() {
        let mut send = |kind: &str, min_interval: Option<Duration>, timeout: Duration| {
            let at = format!("alerting.receivers[{i}].{kind}");
            errors.extend(duration_in(
                format!("{at}.timeout"),
                timeout,
                Duration::from_secs(1),
                Duration::from_secs(300),
            ));
            if let Some(m) = min_interval {
                errors.extend(duration_in(
                    format!("{at}.min_interval"),
                    m,
                    Duration::ZERO,
                    HOUR,
                ));
            }
        };
        if let Some(s) = &r.slack {
            send("slack", Some(s.min_interval), s.timeout);
        }
        if let Some(p) = &r.pagerduty {
            send("pagerduty", Some(p.min_interval), p.timeout);
        }
        if let Some(w) = &r.webhook {
            send("webhook", None, w.timeout);
        }
        if let Some(am) = &r.alertmanager {
            send("alertmanager", None, am.timeout);
            errors.extend(duration_in(
                format!("alerting.receivers[{i}].alertmanager.resend_interval"),
                am.resend_interval,
                Duration::from_secs(1),
                HOUR * 24,
            ));
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);
/// A year as humantime writes it (365.25 days).
const YEAR: Duration = Duration::from_secs(31_557_600);
