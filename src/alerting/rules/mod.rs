//! Prometheus rule files: loading with every problem reported by file, group and rule, and
//! evaluation with Prometheus' alert state machine (inactive → pending → firing → resolved).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use promql_parser::parser::Expr;
use serde::{Deserialize, Serialize};

pub mod template;
pub mod unittest;

use crate::promql::eval::Evaluator;
use crate::promql::labels::METRIC_NAME;
use crate::promql::storage::{Layered, Storage};
use crate::promql::{History, LabelSet, Value};
use template::{Data, Template};

crate::message_error! {
    /// Why a rule, a duration in a rule file, or a rule's evaluation is refused.
    InvalidRule
}

/// How long a resolved alert is kept (and re-sent), as Prometheus does.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileYaml {
    #[serde(default)]
    groups: Vec<GroupYaml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupYaml {
    name: String,
    interval: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    rules: Vec<RuleYaml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleYaml {
    record: Option<String>,
    alert: Option<String>,
    expr: serde_norway::Value,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Prometheus' alert states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Not active (kept 15 minutes after resolving, as Prometheus does).
    Inactive,
    /// Active for less than its rule's `for`.
    Pending,
    /// Active for its `for`, or kept firing by `keep_firing_for`.
    Firing,
}

impl AlertState {
    /// The state's name in the API and in `ALERTS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
        }
    }
}

/// One alert instance of a rule: a label set in some state.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Its labels: the series' and the rule's.
    pub labels: LabelSet,
    /// Its annotations, rendered at its last evaluation.
    pub annotations: BTreeMap<String, String>,
    /// Its state.
    pub state: AlertState,
    /// The expression's value at its last evaluation.
    pub value: f64,
    /// When it became active (Unix milliseconds).
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it resolved.
    pub resolved_at: Option<i64>,
    /// Since when `keep_firing_for` keeps it firing.
    pub keep_firing_since: Option<i64>,
    /// What the database showed when it started firing (P0 and P1 only), for its pages.
    pub evidence: Option<serde_json::Value>,
}

/// What only an alerting rule has.
#[derive(Debug)]
pub struct AlertRule {
    /// Its `for`, in milliseconds.
    pub for_ms: i64,
    /// Its `keep_firing_for`, in milliseconds.
    pub keep_firing_for_ms: i64,
    /// Its annotation templates.
    pub annotations: Vec<(String, Template)>,
    /// Active alerts by label set, resolved ones included for [`RESOLVED_RETENTION_MS`].
    pub active: HashMap<LabelSet, Alert>,
}

/// Whether a rule alerts or records.
#[derive(Debug)]
pub enum RuleKind {
    /// An alerting rule.
    Alert(AlertRule),
    /// A recording rule.
    Record,
}

/// One rule of a group.
#[derive(Debug)]
pub struct Rule {
    /// The alert or the recorded metric name.
    pub name: String,
    /// Its expression as written.
    pub expr_text: String,
    /// Its expression, parsed.
    pub expr: Expr,
    /// Its label templates.
    pub labels: Vec<(String, Template)>,
    /// The queries its templates pass to `query` as literals, parsed; the history keeps
    /// what they read as it keeps what `expr` reads.
    pub template_queries: Vec<Expr>,
    /// Alerting or recording.
    pub kind: RuleKind,
    /// Why its last evaluation failed.
    pub last_error: Option<String>,
    /// When it was last evaluated.
    pub last_evaluation_ms: Option<i64>,
    /// How long that took.
    pub evaluation_seconds: f64,
}

/// A rule group of a file.
#[derive(Debug)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Its own `interval`, if set.
    pub interval: Option<Duration>,
    /// Its rules, in order.
    pub rules: Vec<Rule>,
}

/// Everything rule files gave, in file and group order.
#[derive(Debug, Default)]
pub struct RuleSet {
    /// The groups, in file and group order.
    pub groups: Vec<Group>,
}

/// A Prometheus duration in a rule file (see [`crate::promql::parse_duration`]).
pub fn parse_duration(s: &str) -> Result<Duration, InvalidRule> {
    crate::promql::parse_duration(s).map_err(|e| InvalidRule(e.0))
}

/// A problem in a rule file, and where: the file, the group and the rule when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file.
    pub file: String,
    /// The group, when known.
    pub group: Option<String>,
    /// `rule "Name"`, or `rule 3` for one without a name.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RuleError {
    fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            group: None,
            rule: None,
            message: message.into(),
        }
    }

    fn group(file: &str, group: &str, message: impl Into<String>) -> Self {
        Self {
            group: Some(group.to_owned()),
            ..Self::file(file, message)
        }
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(g) = &self.group {
            write!(f, ": group {g:?}")?;
        }
        if let Some(r) = &self.rule {
            write!(f, ": {r}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RuleError {}

impl RuleSet {
    /// Loads rule files (globs allowed); every problem of every file is returned together.
    pub fn load_files(patterns: &[String]) -> Result<Self, Vec<RuleError>> {
        let mut set = Self::default();
        let mut problems = Vec::new();
        for pattern in patterns {
            let paths: Vec<PathBuf> = match glob::glob(pattern) {
                Ok(p) => p.filter_map(Result::ok).collect(),
                Err(e) => {
                    problems.push(RuleError::file(pattern, format!("invalid glob: {e}")));
                    continue;
                }
            };
            if paths.is_empty() {
                problems.push(RuleError::file(pattern, "no rule file matches"));
            }
            for path in paths {
                match crate::bounded::read_to_string(&path, crate::bounded::caps::RULES) {
                    Ok(text) => match Self::parse(&path.display().to_string(), &text) {
                        Ok(mut s) => set.groups.append(&mut s.groups),
                        Err(mut p) => problems.append(&mut p),
                    },
                    Err(e) => problems.push(RuleError::file(
                        path.display().to_string(),
                        format!("cannot read: {e}"),
                    )),
                }
            }
        }
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(problems)
        }
    }

    /// Parses one file's text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Self, Vec<RuleError>> {
        let yaml: FileYaml =
            serde_norway::from_str(text).map_err(|e| vec![RuleError::file(file, e.to_string())])?;
        let mut problems = Vec::new();
        let mut groups = Vec::new();
        let mut names = HashSet::new();
        for g in yaml.groups {
            if g.name.is_empty() {
                problems.push(RuleError::file(file, "a group has no name"));
            }
            if !names.insert(g.name.clone()) {
                problems.push(RuleError::group(file, &g.name, "repeated group name"));
            }
            if g.limit.is_some_and(|l| l > 0) {
                problems.push(RuleError::group(file, &g.name, "limit is not supported"));
            }
            let interval = match g.interval.as_deref().map(parse_duration).transpose() {
                Ok(i) => i,
                Err(e) => {
                    problems.push(RuleError::group(file, &g.name, format!("interval: {e}")));
                    None
                }
            };
            let mut rules = Vec::new();
            for (i, r) in g.rules.into_iter().enumerate() {
                match Rule::from_yaml(r) {
                    Ok(rule) => rules.push(rule),
                    Err((name, errs)) => problems.extend(errs.into_iter().map(|e| {
                        let who = name
                            .as_deref()
                            .map_or(format!("rule {}", i + 1), |n| format!("rule {n:?}"));
                        RuleError {
                            rule: Some(who),
                            ..RuleError::group(file, &g.name, e)
                        }
                    })),
                }
            }
            groups.push(Group {
                name: g.name,
                file: file.to_owned(),
                interval,
                rules,
            });
        }
        if problems.is_empty() {
            Ok(Self { groups })
        } else {
            Err(problems)
        }
    }

    /// Every rule of every group, in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.groups.iter().flat_map(|g| g.rules.iter())
    }

    /// What the history must keep for these rules: the names they read and how far back.
    /// Names that every rule reads only at the evaluation instant, and that no rule of the
    /// set writes, are read straight from the latest collection instead (`live`).
    pub fn retention(&self, history: Duration, max_points: usize) -> crate::promql::Retention {
        let mut names = HashSet::new();
        let mut past = HashSet::new();
        let mut any_name = false;
        let mut ranges = Vec::new();
        let cap = crate::time::millis(history);
        for rule in self.rules() {
            let mut sels = Vec::new();
            for e in std::iter::once(&rule.expr).chain(&rule.template_queries) {
                crate::promql::selectors(e, &mut sels);
            }
            for r in sels {
                match crate::promql::storage::selector_name(&r.vs) {
                    Some(n) => {
                        names.insert(n.to_owned());
                        if !r.instant {
                            past.insert(n.to_owned());
                        }
                    }
                    None => any_name = true,
                }
                if r.back > 0 {
                    ranges.push((r.vs, r.back.min(cap)));
                }
            }
        }
        let written: HashSet<&str> = self
            .rules()
            .flat_map(|r| match &r.kind {
                RuleKind::Record => vec![r.name.as_str()],
                RuleKind::Alert(_) => vec!["ALERTS", "ALERTS_FOR_STATE"],
            })
            .collect();
        let live: HashSet<String> = if any_name {
            HashSet::new()
        } else {
            names
                .iter()
                .filter(|n| !past.contains(*n) && !written.contains(n.as_str()))
                .cloned()
                .collect()
        };
        names.retain(|n| !live.contains(n));
        crate::promql::Retention {
            names: (!any_name).then_some(names),
            live,
            ranges,
            max_points,
        }
    }

    /// The longest range any rule reads, to compare with the configured history.
    pub fn longest_range(&self) -> Option<(String, i64)> {
        self.rules()
            .filter_map(|r| {
                let mut sels = Vec::new();
                for e in std::iter::once(&r.expr).chain(&r.template_queries) {
                    crate::promql::selectors(e, &mut sels);
                }
                sels.into_iter()
                    .map(|r| r.back)
                    .max()
                    .map(|b| (r.name.clone(), b))
            })
            .max_by_key(|(_, b)| *b)
    }
}

impl Rule {
    fn from_yaml(r: RuleYaml) -> Result<Self, (Option<String>, Vec<String>)> {
        let mut problems = Vec::new();
        let name = match (&r.alert, &r.record) {
            (Some(a), None) => a.clone(),
            (None, Some(rec)) => rec.clone(),
            (Some(_), Some(_)) => {
                return Err((
                    r.alert.clone(),
                    vec!["only one of 'alert' and 'record' may be set".into()],
                ))
            }
            (None, None) => {
                return Err((None, vec!["one of 'alert' or 'record' must be set".into()]))
            }
        };
        let who = Some(name.clone());
        let is_alert = r.alert.is_some();
        if name.is_empty() {
            problems.push("the name is empty".into());
        }
        if !is_alert && !crate::promql::labels::is_metric_name(&name) {
            problems.push(format!("invalid recording rule name {name:?}"));
        }
        let expr_text = match &r.expr {
            serde_norway::Value::String(s) => s.clone(),
            serde_norway::Value::Number(n) => n.to_string(),
            _ => {
                problems.push("'expr' must be a PromQL string".into());
                String::new()
            }
        };
        let expr = match crate::promql::parse(&expr_text) {
            Ok(e) => Some(e),
            Err(e) => {
                problems.push(format!("expr {expr_text:?}: {e}"));
                None
            }
        };
        let mut duration = |field: &str, v: &Option<String>| -> i64 {
            match v.as_deref().map(parse_duration).transpose() {
                Ok(d) => d.map_or(0, crate::time::millis),
                Err(e) => {
                    problems.push(format!("{field}: {e}"));
                    0
                }
            }
        };
        let for_ms = duration("for", &r.for_);
        let keep_firing_for_ms = duration("keep_firing_for", &r.keep_firing_for);
        if !is_alert {
            if r.for_.is_some() {
                problems.push("'for' is only for alerting rules".into());
            }
            if r.keep_firing_for.is_some() {
                problems.push("'keep_firing_for' is only for alerting rules".into());
            }
            if !r.annotations.is_empty() {
                problems.push("'annotations' are only for alerting rules".into());
            }
        }
        let mut templates =
            |kind: &str, map: BTreeMap<String, String>| -> Vec<(String, Template)> {
                map.into_iter()
                    .filter_map(|(k, v)| {
                        if kind == "label"
                            && (!crate::promql::labels::is_label_name(&k) || k == METRIC_NAME)
                        {
                            problems.push(format!("invalid label name {k:?}"));
                        }
                        match Template::parse(&v) {
                            Ok(t) => Some((k, t)),
                            Err(e) => {
                                problems.push(format!("{kind} {k:?}: template {v:?}: {e}"));
                                None
                            }
                        }
                    })
                    .collect()
            };
        let labels = templates("label", r.labels);
        let annotations = templates("annotation", r.annotations);
        // A literal that does not parse fails when the template runs, as in Prometheus.
        let template_queries = labels
            .iter()
            .chain(&annotations)
            .flat_map(|(_, t)| t.literal_queries())
            .filter_map(|q| crate::promql::parse(q).ok())
            .collect();
        if !problems.is_empty() {
            return Err((who, problems));
        }
        let Some(expr) = expr else {
            return Err((who, vec!["no expression".into()]));
        };
        let kind = if is_alert {
            RuleKind::Alert(AlertRule {
                for_ms,
                keep_firing_for_ms,
                annotations,
                active: HashMap::new(),
            })
        } else {
            RuleKind::Record
        };
        Ok(Self {
            name,
            expr_text,
            expr,
            labels,
            template_queries,
            kind,
            last_error: None,
            last_evaluation_ms: None,
            evaluation_seconds: 0.0,
        })
    }
}

/// Data every template of a group sees besides the alert.
pub struct Context<'a> {
    /// The labels added to every alert.
    pub external_labels: &'a LabelSet,
    /// This sidecar's URL, for `$externalURL`.
    pub external_url: &'a str,
    /// Resolution of subqueries without a step.
    pub step: Duration,
}

/// One rule's failed evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFailure {
    /// The group.
    pub group: String,
    /// The rule.
    pub rule: String,
    /// What failed.
    pub error: String,
}

impl Group {
    /// Evaluates every rule at `ts`, in order; a rule sees earlier rules' output. Names the
    /// history leaves to the latest collection are read from `live`.
    pub fn eval(
        &mut self,
        history: &mut History,
        live: &dyn Storage,
        ts: i64,
        ctx: &Context<'_>,
    ) -> Vec<RuleFailure> {
        let mut failures = Vec::new();
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let started = std::time::Instant::now();
            let view = Layered {
                history: &*history,
                live,
            };
            let result = Evaluator::new(&view, ctx.step).eval(&rule.expr, ts);
            let outcome = result.map_err(|e| InvalidRule(e.0)).and_then(|v| match v {
                Value::Vector(v) => Ok(v
                    .into_iter()
                    .map(|s| (s.labels, s.value))
                    .collect::<Vec<_>>()),
                Value::Scalar(s) => Ok(vec![(LabelSet::default(), s)]),
                other => Err(InvalidRule::from(format!(
                    "rule result is a {}, not an instant vector",
                    other.kind()
                ))),
            });
            let source = format!("{}/{}/{i}", self.file, self.name);
            let query = |q: &str| template_query(&view, ctx.step, q, ts);
            let out = outcome.and_then(|samples| rule.apply(samples, ts, ctx, &query));
            match out {
                Ok(series) => {
                    history.ingest(&source, ts, series);
                    rule.last_error = None;
                }
                Err(e) => {
                    rule.last_error = Some(e.0.clone());
                    failures.push(RuleFailure {
                        group: self.name.clone(),
                        rule: rule.name.clone(),
                        error: e.0,
                    });
                }
            }
            rule.last_evaluation_ms = Some(ts);
            rule.evaluation_seconds = started.elapsed().as_secs_f64();
        }
        failures
    }
}

/// A template's `query`: the expression at the evaluation time, over what rules read, as
/// Prometheus' `EngineQueryFunc` answers it.
fn template_query(
    view: &dyn Storage,
    step: Duration,
    q: &str,
    ts: i64,
) -> Result<Vec<(LabelSet, f64)>, String> {
    let expr = crate::promql::parse(q).map_err(|e| e.0)?;
    match Evaluator::new(view, step)
        .eval(&expr, ts)
        .map_err(|e| e.0)?
    {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.value)).collect()),
        Value::Scalar(s) => Ok(vec![(LabelSet::default(), s)]),
        _ => Err("rule result is not a vector or scalar".to_owned()),
    }
}

impl Rule {
    /// Turns a rule's query result into its output series (recorded samples or `ALERTS`),
    /// advancing alert states.
    fn apply(
        &mut self,
        samples: Vec<(LabelSet, f64)>,
        ts: i64,
        ctx: &Context<'_>,
        query: template::QueryFn<'_>,
    ) -> Result<Vec<(LabelSet, f64)>, InvalidRule> {
        let render = |t: &Template, labels: &LabelSet, value: f64| {
            t.expand(&Data {
                labels,
                external_labels: ctx.external_labels,
                external_url: ctx.external_url,
                value,
                query: Some(query),
            })
        };
        match &mut self.kind {
            RuleKind::Record => {
                let mut seen = HashSet::new();
                let mut out = Vec::with_capacity(samples.len());
                for (mut labels, value) in samples {
                    labels.set(METRIC_NAME, &self.name);
                    for (k, t) in &self.labels {
                        labels.set(k, t.source());
                    }
                    if !seen.insert(labels.clone()) {
                        return Err(InvalidRule::from("vector contains metrics with the same labelset after applying rule labels"));
                    }
                    out.push((labels, value));
                }
                Ok(out)
            }
            RuleKind::Alert(rule) => {
                let mut current: HashMap<LabelSet, Alert> = HashMap::new();
                for (sample_labels, value) in samples {
                    let mut labels = sample_labels.clone().without_name();
                    for (k, t) in &self.labels {
                        labels.set(k, &render(t, &sample_labels, value));
                    }
                    labels.set("alertname", &self.name);
                    let annotations = rule
                        .annotations
                        .iter()
                        .map(|(k, t)| (k.clone(), render(t, &sample_labels, value)))
                        .collect();
                    if current.contains_key(&labels) {
                        return Err(InvalidRule::from("vector contains metrics with the same labelset after applying alert labels"));
                    }
                    current.insert(
                        labels.clone(),
                        Alert {
                            labels,
                            annotations,
                            state: AlertState::Pending,
                            value,
                            active_at: ts,
                            fired_at: None,
                            resolved_at: None,
                            keep_firing_since: None,
                            evidence: None,
                        },
                    );
                }
                let present: HashSet<LabelSet> = current.keys().cloned().collect();
                for (labels, a) in current {
                    match rule.active.get_mut(&labels) {
                        Some(existing) if existing.state != AlertState::Inactive => {
                            existing.value = a.value;
                            existing.annotations = a.annotations;
                        }
                        _ => {
                            rule.active.insert(labels, a);
                        }
                    }
                }
                let mut out = Vec::new();
                let (for_ms, keep_ms) = (rule.for_ms, rule.keep_firing_for_ms);
                rule.active.retain(|labels, a| {
                    if present.contains(labels) {
                        a.keep_firing_since = None;
                    } else {
                        let mut keep_firing = false;
                        if a.state == AlertState::Firing && keep_ms > 0 {
                            let since = *a.keep_firing_since.get_or_insert(ts);
                            keep_firing = ts - since < keep_ms;
                        }
                        if a.state == AlertState::Pending
                            || a.resolved_at
                                .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                        {
                            return false;
                        }
                        if a.state != AlertState::Inactive && !keep_firing {
                            a.state = AlertState::Inactive;
                            a.resolved_at = Some(ts);
                        }
                        if !keep_firing {
                            return true;
                        }
                    }
                    if a.state == AlertState::Pending && ts - a.active_at >= for_ms {
                        a.state = AlertState::Firing;
                        a.fired_at = Some(ts);
                    }
                    let mut series = a.labels.clone();
                    series.set(METRIC_NAME, "ALERTS");
                    series.set("alertstate", a.state.as_str());
                    out.push((series, 1.0));
                    true
                });
                Ok(out)
            }
        }
    }

    /// Its alerts (none for a recording rule).
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        match &self.kind {
            RuleKind::Alert(a) => Some(a.active.values()),
            RuleKind::Record => None,
        }
        .into_iter()
        .flatten()
    }

    /// True for an alerting rule.
    pub fn is_alert(&self) -> bool {
        matches!(self.kind, RuleKind::Alert(_))
    }
}

/// Resolves rule file paths relative to `base` (as promtool does for test files).
pub fn relative_to(base: &Path, pattern: &str) -> String {
    if Path::new(pattern).is_absolute() {
        pattern.to_owned()
    } else {
        base.join(pattern).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, AlertState, Context, RuleSet};
    use crate::promql::{History, LabelSet};
    use std::time::Duration;

    const RULES: &str = r#"
groups:
  - name: g
    rules:
      - alert: High
        expr: x > 10
        for: 2m
        keep_firing_for: 1m
        labels: { severity: P2 }
        annotations: { summary: "x is {{ $value }}" }
"#;

    /// Evaluates the rules every minute over the given values of `x`; the state and
    /// summary of the one alert after each step.
    fn states(values: &[f64]) -> Vec<(Option<AlertState>, String)> {
        let mut set = RuleSet::parse("t.yaml", RULES).unwrap();
        let mut history = History::new(set.retention(Duration::from_secs(3600), 10_000));
        let external = LabelSet::default();
        let ctx = Context {
            external_labels: &external,
            external_url: "",
            step: Duration::from_secs(60),
        };
        // `x` is read only at the instant: the history leaves it to the latest collection.
        let mut latest = History::unbounded();
        let mut out = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let t = i64::try_from(i).unwrap() * 60_000;
            assert!(!history.wants("x"));
            latest.ingest(
                "t",
                t,
                vec![(LabelSet::new([("__name__".to_owned(), "x".to_owned())]), *v)],
            );
            for group in &mut set.groups {
                assert!(group.eval(&mut history, &latest, t, &ctx).is_empty());
            }
            let alert = set.rules().flat_map(super::Rule::alerts).next();
            out.push((
                alert.map(|a| a.state),
                alert
                    .and_then(|a| a.annotations.get("summary").cloned())
                    .unwrap_or_default(),
            ));
        }
        out
    }

    #[test]
    fn alerts_go_pending_firing_kept_then_resolved() {
        use AlertState::{Firing, Inactive, Pending};
        let got: Vec<_> = states(&[5.0, 20.0, 21.0, 22.0, 5.0, 5.0, 5.0])
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            got,
            [
                None,
                Some(Pending),  // 1m: above the threshold
                Some(Pending),  // 2m: for 1m of 2m
                Some(Firing),   // 3m: for 2m
                Some(Firing),   // 4m: below, kept firing for 1m
                Some(Inactive), // 5m: resolved
                Some(Inactive), // 6m: kept (resolved) for Prometheus' 15 min
            ]
        );
        let flap: Vec<_> = states(&[20.0, 5.0, 20.0])
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            flap,
            [Some(Pending), None, Some(Pending)],
            "a pending alert that clears is dropped"
        );
    }

    #[test]
    fn annotations_render_with_the_current_value() {
        let got = states(&[20.0, 30.5]);
        assert_eq!(got[1].1, "x is 30.5");
    }

    #[test]
    fn durations_parse_as_prometheus_rule_files_take_them() {
        let ms = |s: &str| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("0s"), Ok(0));
        assert_eq!(ms("0h0m"), Ok(0));
        assert_eq!(ms("250ms"), Ok(250));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("7d"), Ok(604_800_000));
        assert_eq!(ms("1y"), Ok(31_536_000_000));
        assert_eq!(
            parse_duration("2w1d").unwrap(),
            Duration::from_secs(15 * 86_400)
        );
        for bad in ["", "1.5", "15", "5m1h", "1h1h", "1x", "h", "-1m", "0x"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.0.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
