//! `centinela rules test`: rule unit tests in `promtool test rules` format, run with
//! centinela's evaluator, so the same files pass or fail with both tools.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{parse_duration, relative_to, AlertState, Context, RuleSet};
use crate::promql::eval::Evaluator;
use crate::promql::labels::METRIC_NAME;
use crate::promql::storage::stale_marker;
use crate::promql::{History, LabelSet, Value};

crate::message_error! {
    /// A rule unit-test file that cannot be read, parsed or run (the text says which part).
    UnitTestError
}

impl From<super::InvalidRule> for UnitTestError {
    fn from(e: super::InvalidRule) -> Self {
        Self(e.0)
    }
}

/// A promtool unit-test file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Rule files, relative to the test file (none: no rules, as promtool allows).
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Default evaluation interval of the tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<String>,
    /// The order groups are evaluated in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_eval_order: Vec<String>,
    /// The test groups.
    pub tests: Vec<TestGroup>,
}

/// One test group: input series and the expected alerts and expression values.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// A name for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Scrape interval of the input series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The input series.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Expected alerts at given times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alert_rule_test: Vec<AlertTest>,
    /// Expected expression values at given times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promql_expr_test: Vec<ExprTest>,
    /// External labels the rules see.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
}

/// One input series in promtool's expanding notation.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// Its labels: `metric{label="value"}`.
    pub series: String,
    /// Its values: `1+2x10 _ stale`.
    pub values: String,
}

/// The alerts expected of one rule at one time.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    /// When (offset from the start); none: at 0.
    #[serde(default)]
    pub eval_time: String,
    /// The alert rule.
    pub alertname: String,
    /// The firing alerts expected.
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected alert.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    /// Its labels.
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    /// Its annotations.
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// An expression's expected value at one time.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExprTest {
    /// The expression.
    pub expr: String,
    /// When; none: at 0.
    #[serde(default)]
    pub eval_time: String,
    /// The samples expected.
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    /// Its labels: `metric{label="value"}`; `{}`, empty or none for a sample without
    /// labels (what `sum(x)` gives).
    #[serde(default)]
    pub labels: String,
    /// Its value.
    pub value: f64,
}

/// Expands promtool's series notation (`1+2x3 _ stale 5x2`) into optional values per step;
/// `None` is a missing sample.
// Expansion counts (`1+2x10`) are small; they fit an f64 exactly.
/// Expands promtool's value notation (`1+2x3`, `_`, `stale`) into values per step.
#[allow(clippy::cast_precision_loss)]
pub fn expand_values(src: &str) -> Result<Vec<Option<f64>>, UnitTestError> {
    let mut out = Vec::new();
    for tok in src.split_whitespace() {
        let (head, times) = match tok.rsplit_once('x') {
            Some((h, n))
                if !h.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() =>
            {
                (
                    h,
                    Some(
                        n.parse::<usize>()
                            .map_err(|e| UnitTestError::from(format!("{tok:?}: {e}")))?,
                    ),
                )
            }
            _ => (tok, None),
        };
        if head == "_" {
            out.extend(std::iter::repeat_n(None, times.unwrap_or(1)));
            continue;
        }
        if head == "stale" {
            out.push(Some(stale_marker()));
            continue;
        }
        // a, a+b or a-b: the operator is a sign not at the start and not after an exponent.
        let bytes = head.as_bytes();
        let split = (1..bytes.len()).rev().find(|&i| {
            (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E')
        });
        let parse = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| UnitTestError::from(format!("invalid value {s:?} in {tok:?}")))
        };
        let (start, step) = match split {
            Some(i) if times.is_some() => {
                let step = parse(&head[i + 1..])?;
                (
                    parse(&head[..i])?,
                    if bytes[i] == b'-' { -step } else { step },
                )
            }
            _ => (parse(head)?, 0.0),
        };
        match times {
            Some(n) => {
                // Repeated addition, as Prometheus expands it: `0+0.1x10` ends at
                // 0.9999999999999999, not 1.
                let mut v = start;
                for _ in 0..=n {
                    out.push(Some(v));
                    v += step;
                }
            }
            None => out.push(Some(start)),
        }
    }
    Ok(out)
}

/// Parses `metric{a="b"}` as promtool writes series and expected samples.
pub fn parse_series(src: &str) -> Result<LabelSet, UnitTestError> {
    if matches!(src.trim(), "" | "{}") {
        return Ok(LabelSet::default());
    }
    let expr = promql_parser::parser::parse(src)
        .map_err(|e| UnitTestError::from(format!("series {src:?}: {e}")))?;
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        return Err(UnitTestError::from(format!(
            "series {src:?}: not a series selector"
        )));
    };
    let mut pairs: Vec<(String, String)> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(n) = vs.name {
        pairs.push((METRIC_NAME.to_owned(), n));
    }
    Ok(LabelSet::new(pairs))
}

fn ms(d: Duration) -> i64 {
    crate::time::millis(d)
}

/// The outcome of one test file.
#[derive(Debug, Default)]
pub struct Report {
    /// What failed, each with its test and time.
    pub failures: Vec<String>,
    /// Checks run.
    pub tests: usize,
}

/// Alerts firing for `alertname` in a rule set, as promtool lists them.
pub fn firing(rules: &RuleSet, alertname: &str) -> Vec<ExpAlert> {
    let mut got: Vec<ExpAlert> = rules
        .rules()
        .filter(|r| r.name == alertname)
        .flat_map(super::Rule::alerts)
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| ExpAlert {
            exp_labels: a
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            exp_annotations: a.annotations.clone(),
        })
        .collect();
    got.sort();
    got
}

/// An `eval_time` in milliseconds; none is 0, as in promtool.
fn eval_ms(t: &str) -> Result<i64, UnitTestError> {
    if t.trim().is_empty() {
        return Ok(0);
    }
    Ok(ms(parse_duration(t)?))
}

/// The last `eval_time` of a test group's alert and expression tests, in milliseconds.
fn last_eval_time(test: &TestGroup) -> Result<i64, UnitTestError> {
    let alerts = test.alert_rule_test.iter().map(|a| &a.eval_time);
    let exprs = test.promql_expr_test.iter().map(|e| &e.eval_time);
    alerts
        .chain(exprs)
        .try_fold(0, |acc, t| Ok(acc.max(eval_ms(t)?)))
}

/// Runs one test group: loads its series, evaluates every group at every step, and calls
/// `check` at each step with the rules and the history, for the tests due at that step.
pub fn run_group<F>(
    dir: &Path,
    file: &TestFile,
    test: &TestGroup,
    mut at_step: F,
) -> Result<(), UnitTestError>
where
    F: FnMut(i64, i64, &RuleSet, &History),
{
    let eval_interval = ms(file
        .evaluation_interval
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .unwrap_or(Duration::from_secs(60)));
    // promtool loads the series at `interval`, and without one at 0: every sample at the
    // same time, where only the first of each series is kept.
    let interval = test
        .interval
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map_or(0, ms);
    let patterns: Vec<String> = file
        .rule_files
        .iter()
        .map(|p| relative_to(dir, p))
        .collect();
    let mut rules = RuleSet::load_files(&patterns).map_err(|p| {
        p.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if !file.group_eval_order.is_empty() {
        let order = &file.group_eval_order;
        rules.groups.sort_by_key(|g| {
            order
                .iter()
                .position(|n| *n == g.name)
                .unwrap_or(usize::MAX)
        });
    }
    let mut history = History::unbounded();
    // (time, series, value), loaded step by step: an evaluation at `ts` sees only the
    // samples up to `ts`, as promtool loads them.
    let mut input: Vec<(i64, LabelSet, f64)> = Vec::new();
    for s in &test.input_series {
        let labels = parse_series(&s.series)?;
        let values = expand_values(&s.values)?;
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                input.push((
                    i64::try_from(i).unwrap_or(i64::MAX) * interval,
                    labels.clone(),
                    v,
                ));
                if interval == 0 {
                    break;
                }
            }
        }
    }
    input.sort_by_key(|(t, _, _)| *t);
    let mut loaded = 0;
    let max_t = last_eval_time(test)?;
    let external_labels = LabelSet::new(test.external_labels.clone());
    let external_url = test.external_url.clone().unwrap_or_default();
    let ctx = Context {
        external_labels: &external_labels,
        external_url: &external_url,
        step: Duration::from_millis(u64::try_from(eval_interval).unwrap_or(60_000)),
    };
    let mut ts = 0;
    while ts <= max_t {
        while let Some((t, labels, v)) = input.get(loaded).filter(|(t, _, _)| *t <= ts) {
            history.append(labels.clone(), *t, *v);
            loaded += 1;
        }
        let mut failed = Vec::new();
        for g in &mut rules.groups {
            failed.extend(g.eval(&mut history, &crate::promql::storage::Nothing, ts, &ctx));
        }
        // A rule that fails to evaluate fails the test group, and stops it, as in promtool.
        if !failed.is_empty() {
            let at = promql_parser::util::display_duration(&Duration::from_millis(
                u64::try_from(ts).unwrap_or(0),
            ));
            return Err(UnitTestError::from(
                failed
                    .iter()
                    .map(|f| format!("rule: {}, time: {at}, err: {}", f.rule, f.error))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
        at_step(ts, eval_interval, &rules, &history);
        ts += eval_interval;
    }
    Ok(())
}

/// Runs a promtool-format test file.
pub fn run_file(path: &Path) -> Result<Report, UnitTestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UnitTestError::from(format!("{}: {e}", path.display())))?;
    let file: TestFile = serde_norway::from_str(&text)
        .map_err(|e| UnitTestError::from(format!("{}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut report = Report::default();
    for (gi, test) in file.tests.iter().enumerate() {
        let label = test
            .name
            .clone()
            .unwrap_or_else(|| format!("test group {}", gi + 1));
        let mut pending: Vec<(i64, &AlertTest)> = Vec::new();
        for a in &test.alert_rule_test {
            pending.push((eval_ms(&a.eval_time)?, a));
        }
        pending.sort_by_key(|(t, _)| *t);
        let mut failures = Vec::new();
        let mut exprs_checked = false;
        let max_t = last_eval_time(test)?;
        let ran = run_group(dir, &file, test, |ts, step, rules, history| {
            for (t, a) in pending.iter().filter(|(t, _)| *t >= ts && *t < ts + step) {
                report.tests += 1;
                let mut exp: Vec<ExpAlert> = a
                    .exp_alerts
                    .iter()
                    .map(|e| {
                        let mut e = e.clone();
                        e.exp_labels.insert("alertname".into(), a.alertname.clone());
                        e
                    })
                    .collect();
                exp.sort();
                let got = firing(rules, &a.alertname);
                if got != exp {
                    failures.push(format!(
                        "{label}: alertname: {}, time: {}\n    exp: {}\n    got: {}",
                        a.alertname,
                        promql_parser::util::display_duration(&Duration::from_millis(
                            u64::try_from(*t).unwrap_or(0)
                        )),
                        show_alerts(&exp),
                        show_alerts(&got)
                    ));
                }
            }
            // Expression tests read the history once every rule has run (as promtool does).
            if ts + step > max_t && !exprs_checked {
                exprs_checked = true;
                for e in &test.promql_expr_test {
                    report.tests += 1;
                    if let Err(msg) = check_expr(e, history, step) {
                        failures.push(format!(
                            "{label}: expr: {:?}, time: {}\n{msg}",
                            e.expr, e.eval_time
                        ));
                    }
                }
            }
        });
        if let Err(e) = ran {
            report.tests += 1;
            failures.push(format!("{label}: {e}"));
        }
        report.failures.extend(failures);
    }
    Ok(report)
}

fn show_alerts(alerts: &[ExpAlert]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let mut s = String::new();
    for a in alerts {
        let labels = LabelSet::new(a.exp_labels.clone());
        s += &format!("\n      labels: {labels}");
        if !a.exp_annotations.is_empty() {
            let ann = LabelSet::new(a.exp_annotations.clone());
            s += &format!(" annotations: {ann}");
        }
    }
    s
}

/// Evaluates a `promql_expr_test`'s expression; the samples it returns, sorted.
pub fn eval_expr(
    expr: &str,
    eval_time: &str,
    history: &History,
    step: i64,
) -> Result<Vec<(LabelSet, f64)>, UnitTestError> {
    let parsed = crate::promql::parse(expr).map_err(String::from)?;
    let t = eval_ms(eval_time)?;
    let v = Evaluator::new(
        history,
        Duration::from_millis(u64::try_from(step).unwrap_or(60_000)),
    )
    .eval(&parsed, t)
    .map_err(|e| e.0)?;
    let mut got: Vec<(LabelSet, f64)> = match v {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
        Value::Scalar(s) => vec![(LabelSet::default(), s)],
        other => {
            return Err(UnitTestError::from(format!(
                "expression gives a {}",
                other.kind()
            )))
        }
    };
    got.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(got)
}

fn check_expr(e: &ExprTest, history: &History, step: i64) -> Result<(), UnitTestError> {
    let got = eval_expr(&e.expr, &e.eval_time, history, step)?;
    let mut exp = e
        .exp_samples
        .iter()
        .map(|s| Ok((parse_series(&s.labels)?, s.value)))
        .collect::<Result<Vec<_>, UnitTestError>>()?;
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    // Exactly, as promtool compares: to the last bit, and NaN is never equal.
    let same =
        exp.len() == got.len() && exp.iter().zip(&got).all(|(a, b)| a.0 == b.0 && a.1 == b.1);
    if same {
        return Ok(());
    }
    let show = |v: &[(LabelSet, f64)]| {
        v.iter()
            .map(|(l, x)| format!("{l} {x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(UnitTestError::from(format!(
        "    exp: [{}]\n    got: [{}]",
        show(&exp),
        show(&got)
    )))
}
