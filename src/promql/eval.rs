//! Instant evaluation of a parsed PromQL expression, following Prometheus 2.x semantics
//! (the version Debian's `promtool` carries, which the differential test compares with).

// Timestamps (ms) and counts are far below 2^52, as in Prometheus; step counts are whole.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::many_single_char_names
)]

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use promql_parser::parser::{
    AggregateExpr, AtModifier, BinaryExpr, Call, Expr, LabelModifier, Offset, SubqueryExpr,
    VectorMatchCardinality, VectorSelector,
};

use super::functions;
use super::labels::{LabelSet, METRIC_NAME};
use super::storage::{is_stale, Point, Storage, LOOKBACK_MS};
use super::value::{err, Result, Sample, Series, Value, Window};

/// Every aggregation [`Evaluator`] implements; `parse` rejects the others.
pub const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// Evaluates expressions at one instant over a [`Storage`].
pub struct Evaluator<'a> {
    storage: &'a dyn Storage,
    /// The resolution of a subquery without an explicit step: the rule group's interval.
    default_step_ms: i64,
}

fn millis(d: &Duration) -> i64 {
    crate::time::millis(*d)
}

fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => -millis(d),
        None => 0,
    }
}

fn at_ms(at: Option<&AtModifier>, t: i64) -> i64 {
    match at {
        Some(AtModifier::At(st)) => match st.duration_since(UNIX_EPOCH) {
            Ok(d) => millis(&d),
            Err(e) => -millis(&e.duration()),
        },
        // A rule evaluates one instant: start and end are that instant.
        Some(AtModifier::Start | AtModifier::End) | None => t,
    }
}

impl<'a> Evaluator<'a> {
    /// An evaluator over `storage`; `default_step` is the resolution of subqueries without one.
    pub fn new(storage: &'a dyn Storage, default_step: Duration) -> Self {
        Self {
            storage,
            default_step_ms: millis(&default_step).max(1),
        }
    }

    /// Evaluates `expr` at `t` (milliseconds since the epoch).
    pub fn eval(&self, expr: &Expr, t: i64) -> Result<Value> {
        let value = self.eval_inner(expr, t)?;
        // An operator or function that drops the metric name can leave two series with
        // one label set (`-{job="a"}`, `rate({job="a"}[5m])`); Prometheus refuses that.
        if matches!(expr, Expr::Unary(_) | Expr::Binary(_) | Expr::Call(_)) {
            if let Value::Vector(v) = &value {
                if v.len() > 1 {
                    let mut seen = std::collections::HashSet::with_capacity(v.len());
                    if !v.iter().all(|s| seen.insert(&s.labels)) {
                        return err("vector cannot contain metrics with the same labelset");
                    }
                }
            }
        }
        Ok(value)
    }

    fn eval_inner(&self, expr: &Expr, t: i64) -> Result<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(v) => Ok(Value::Vector(
                    v.into_iter()
                        .map(|s| Sample {
                            labels: s.labels.without_name(),
                            value: -s.value,
                            ts: t,
                        })
                        .collect(),
                )),
                other => err(format!("unary minus on a {}", other.kind())),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant(vs, t))),
            Expr::MatrixSelector(ms) => {
                let (series, _) = self.range(&ms.vs, millis(&ms.range), t);
                Ok(Value::Matrix(series))
            }
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery(sq, t)?.0)),
            Expr::Aggregate(a) => self.aggregate(a, t),
            Expr::Binary(b) => self.binary(b, t),
            Expr::Call(c) => self.call(c, t),
            Expr::Extension(_) => err("extension expressions are not supported"),
        }
    }

    fn instant(&self, vs: &VectorSelector, t: i64) -> Vec<Sample> {
        let ref_t = at_ms(vs.at.as_ref(), t) - offset_ms(vs.offset.as_ref());
        self.storage
            .select(vs, ref_t - LOOKBACK_MS, ref_t)
            .into_iter()
            .filter_map(|(labels, points)| {
                let &(ts, value) = points.last()?;
                (!is_stale(value)).then_some(Sample { labels, value, ts })
            })
            .collect()
    }

    fn range(&self, vs: &VectorSelector, range_ms: i64, t: i64) -> (Vec<Series>, Window) {
        let end = at_ms(vs.at.as_ref(), t) - offset_ms(vs.offset.as_ref());
        let start = end - range_ms;
        let series = self
            .storage
            .select(vs, start, end)
            .into_iter()
            .filter_map(|(labels, mut points)| {
                points.retain(|p| !is_stale(p.1));
                (!points.is_empty()).then_some(Series { labels, points })
            })
            .collect();
        let window = Window {
            start,
            end,
            range_secs: range_ms as f64 / 1000.0,
        };
        (series, window)
    }

    fn subquery(&self, sq: &SubqueryExpr, t: i64) -> Result<(Vec<Series>, Window)> {
        let step = sq
            .step
            .as_ref()
            .map(millis)
            .filter(|s| *s > 0)
            .unwrap_or(self.default_step_ms);
        let end = at_ms(sq.at.as_ref(), t) - offset_ms(sq.offset.as_ref());
        let range = millis(&sq.range);
        let start = end - range;
        // Steps are aligned to multiples of the step, as Prometheus does.
        let mut ts = start.div_euclid(step) * step;
        if ts < start {
            ts += step;
        }
        let mut by_labels: HashMap<LabelSet, Vec<Point>> = HashMap::new();
        while ts <= end {
            match self.eval(&sq.expr, ts)? {
                Value::Vector(v) => {
                    for s in v {
                        by_labels.entry(s.labels).or_default().push((ts, s.value));
                    }
                }
                Value::Scalar(v) => by_labels
                    .entry(LabelSet::default())
                    .or_default()
                    .push((ts, v)),
                other => return err(format!("subquery over a {}", other.kind())),
            }
            ts += step;
        }
        let series = by_labels
            .into_iter()
            .map(|(labels, points)| Series { labels, points })
            .collect();
        let window = Window {
            start,
            end,
            range_secs: range as f64 / 1000.0,
        };
        Ok((series, window))
    }

    fn vector(&self, expr: &Expr, t: i64, what: &str) -> Result<Vec<Sample>> {
        match self.eval(expr, t)? {
            Value::Vector(v) => Ok(v),
            other => err(format!(
                "{what} expects an instant vector, got a {}",
                other.kind()
            )),
        }
    }

    fn scalar(&self, expr: &Expr, t: i64, what: &str) -> Result<f64> {
        match self.eval(expr, t)? {
            Value::Scalar(v) => Ok(v),
            other => err(format!("{what} expects a scalar, got a {}", other.kind())),
        }
    }

    fn aggregate(&self, a: &AggregateExpr, t: i64) -> Result<Value> {
        let op = a.op.to_string();
        let input = self.vector(&a.expr, t, &op)?;
        let (by, names): (bool, &[String]) = match &a.modifier {
            Some(LabelModifier::Include(l)) => (true, &l.labels),
            Some(LabelModifier::Exclude(l)) => (false, &l.labels),
            None => (true, &[]),
        };
        let group_labels = |ls: &LabelSet| -> LabelSet {
            let mut out = ls.clone();
            if by {
                out.keep(names);
            } else {
                out.drop_all(names);
                out.remove(METRIC_NAME);
            }
            out
        };
        // Groups in first-seen order, so results are stable.
        let mut order: Vec<LabelSet> = Vec::new();
        let mut groups: HashMap<LabelSet, Vec<Sample>> = HashMap::new();
        let count_values_label = match op.as_str() {
            "count_values" => match a.param.as_deref().map(|p| self.eval(p, t)).transpose()? {
                Some(Value::String(s)) => Some(s),
                _ => return err("count_values expects a label name"),
            },
            _ => None,
        };
        for s in input {
            let mut key = group_labels(&s.labels);
            if let Some(label) = &count_values_label {
                key.set(label, &super::gofmt::format_go_float(s.value));
            }
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(s);
        }
        let param = match (op.as_str(), a.param.as_deref()) {
            ("topk" | "bottomk" | "quantile", Some(p)) => self.scalar(p, t, &op)?,
            _ => 0.0,
        };
        let mut out = Vec::new();
        for key in order {
            let Some(samples) = groups.remove(&key) else {
                continue;
            };
            let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
            let value = match op.as_str() {
                "sum" => values.iter().sum(),
                "count" | "count_values" => values.len() as f64,
                "group" => 1.0,
                "min" => values.iter().copied().fold(f64::NAN, |acc, v| {
                    if v < acc || acc.is_nan() {
                        v
                    } else {
                        acc
                    }
                }),
                "max" => values.iter().copied().fold(f64::NAN, |acc, v| {
                    if v > acc || acc.is_nan() {
                        v
                    } else {
                        acc
                    }
                }),
                "avg" => functions::incremental_mean(&values),
                "stddev" => functions::variance(&values).sqrt(),
                "stdvar" => functions::variance(&values),
                "quantile" => functions::quantile(param, values),
                "topk" | "bottomk" => {
                    // Prometheus refuses a count that does not fit an int64.
                    if param.is_finite() && param.abs() >= 9.223_372_036_854_776e18
                        || param.is_infinite()
                    {
                        return err(format!(
                            "Scalar value {} overflows int64",
                            crate::promql::gofmt::go_g(param, None)
                        ));
                    }
                    let k = if param.is_nan() { 0 } else { param as i64 };
                    if k < 1 {
                        continue;
                    }
                    let mut sorted = samples;
                    // NaN sorts last for both, as Prometheus' heaps place it.
                    sorted.sort_by(|x, y| {
                        let o = x.value.partial_cmp(&y.value);
                        match (x.value.is_nan(), y.value.is_nan(), op.as_str()) {
                            (true, false, _) => std::cmp::Ordering::Greater,
                            (false, true, _) => std::cmp::Ordering::Less,
                            (_, _, "topk") => {
                                o.map_or(std::cmp::Ordering::Equal, std::cmp::Ordering::reverse)
                            }
                            _ => o.unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                    out.extend(
                        sorted
                            .into_iter()
                            .take(usize::try_from(k).unwrap_or(usize::MAX))
                            .map(|s| Sample { ts: t, ..s }),
                    );
                    continue;
                }
                other => return err(format!("aggregation {other} is not supported")),
            };
            out.push(Sample {
                labels: key,
                value,
                ts: t,
            });
        }
        Ok(Value::Vector(out))
    }

    fn binary(&self, b: &BinaryExpr, t: i64) -> Result<Value> {
        let op = b.op.to_string();
        let lhs = self.eval(&b.lhs, t)?;
        let rhs = self.eval(&b.rhs, t)?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let comparison = b.op.is_comparison_operator();
        match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                let (v, keep) = binop(&op, l, r)?;
                Ok(Value::Scalar(if comparison {
                    f64::from(u8::from(keep))
                } else {
                    v
                }))
            }
            (Value::Vector(v), Value::Scalar(s)) => {
                self.vector_scalar(&op, v, s, false, return_bool, comparison, t)
            }
            (Value::Scalar(s), Value::Vector(v)) => {
                self.vector_scalar(&op, v, s, true, return_bool, comparison, t)
            }
            (Value::Vector(l), Value::Vector(r)) => {
                let (on, names) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
                    Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
                    None => (false, Vec::new()),
                };
                if b.op.is_set_operator() {
                    return Ok(Value::Vector(set_op(&op, l, r, on, &names)));
                }
                let card = b
                    .modifier
                    .as_ref()
                    .map_or(VectorMatchCardinality::OneToOne, |m| m.card.clone());
                vector_vector(&op, l, r, on, &names, &card, return_bool, t).map(Value::Vector)
            }
            (l, r) => err(format!(
                "operator {op} between a {} and a {}",
                l.kind(),
                r.kind()
            )),
        }
    }

    #[allow(clippy::too_many_arguments, clippy::unused_self)]
    fn vector_scalar(
        &self,
        op: &str,
        v: Vec<Sample>,
        s: f64,
        scalar_left: bool,
        return_bool: bool,
        comparison: bool,
        t: i64,
    ) -> Result<Value> {
        let mut out = Vec::with_capacity(v.len());
        for sample in v {
            let (l, r) = if scalar_left {
                (s, sample.value)
            } else {
                (sample.value, s)
            };
            let (mut value, keep) = binop(op, l, r)?;
            // A comparison keeps the vector's value, whichever side it is on.
            if comparison && scalar_left {
                value = r;
            }
            if return_bool {
                value = f64::from(u8::from(keep));
            } else if !keep {
                continue;
            }
            let labels = if drops_name(op) || return_bool {
                sample.labels.without_name()
            } else {
                sample.labels
            };
            out.push(Sample {
                labels,
                value,
                ts: t,
            });
        }
        Ok(Value::Vector(out))
    }

    fn call(&self, c: &Call, t: i64) -> Result<Value> {
        let name = c.func.name;
        let args = &c.args.args;
        // Range functions take their window from the selector or subquery itself.
        let mut window = None;
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            // `rate((c[5m]))`: parentheses around a range change nothing.
            let mut arg = arg.as_ref();
            while let Expr::Paren(p) = arg {
                arg = &p.expr;
            }
            let v = match arg {
                Expr::MatrixSelector(ms) => {
                    let (series, w) = self.range(&ms.vs, millis(&ms.range), t);
                    window = Some(w);
                    Value::Matrix(series)
                }
                Expr::Subquery(sq) => {
                    let (series, w) = self.subquery(sq, t)?;
                    window = Some(w);
                    Value::Matrix(series)
                }
                other => self.eval(other, t)?,
            };
            values.push(v);
        }
        functions::call(name, args, values, window, t)
    }
}

/// Prometheus 2.x drops the metric name for these operators only (not for `atan2`).
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

/// The value and the keep decision of `l op r`, as Prometheus' `vectorElemBinop`.
pub(crate) fn binop(op: &str, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (super::gomath::atan2(l, r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return err(format!("operator {other} is not supported here")),
    })
}

fn set_op(op: &str, l: Vec<Sample>, r: Vec<Sample>, on: bool, names: &[String]) -> Vec<Sample> {
    let rsigs: std::collections::HashSet<_> =
        r.iter().map(|s| s.labels.signature(on, names)).collect();
    match op {
        "and" => l
            .into_iter()
            .filter(|s| rsigs.contains(&s.labels.signature(on, names)))
            .collect(),
        "unless" => l
            .into_iter()
            .filter(|s| !rsigs.contains(&s.labels.signature(on, names)))
            .collect(),
        _ => {
            let lsigs: std::collections::HashSet<_> =
                l.iter().map(|s| s.labels.signature(on, names)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !lsigs.contains(&s.labels.signature(on, names))),
            );
            out
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn vector_vector(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    on: bool,
    names: &[String],
    card: &VectorMatchCardinality,
    return_bool: bool,
    t: i64,
) -> Result<Vec<Sample>> {
    let (include, one_to_many, one_to_one) = match card {
        VectorMatchCardinality::ManyToOne(l) => (l.labels.clone(), false, false),
        VectorMatchCardinality::OneToMany(l) => (l.labels.clone(), true, false),
        _ => (Vec::new(), false, true),
    };
    // Iterate the "many" side; index the "one" side by signature.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_sig: HashMap<Vec<crate::promql::labels::Pair>, Sample> = HashMap::new();
    for s in one {
        let sig = s.labels.signature(on, names);
        if let Some(prev) = one_by_sig.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            return err(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}]; \
                 many-to-many matching not allowed: matching labels must be unique on one side",
                LabelSet::shared(sig.clone()),
                prev.labels,
                s.labels
            ));
        }
        one_by_sig.insert(sig, s);
    }
    let mut matched: HashMap<
        Vec<crate::promql::labels::Pair>,
        std::collections::HashSet<LabelSet>,
    > = HashMap::new();
    let mut out = Vec::new();
    for s in many {
        let sig = s.labels.signature(on, names);
        let Some(o) = one_by_sig.get(&sig) else {
            continue;
        };
        let (vl, vr) = if one_to_many {
            (o.value, s.value)
        } else {
            (s.value, o.value)
        };
        let (mut value, keep) = binop(op, vl, vr)?;
        if return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let mut labels = s.labels.clone();
        if drops_name(op) || return_bool {
            labels.remove(METRIC_NAME);
        }
        if one_to_one {
            if on {
                labels.keep(names);
            } else {
                labels.drop_all(names);
            }
        }
        for l in &include {
            labels.set(l, o.labels.value(l));
        }
        let seen = matched.entry(sig).or_default();
        if one_to_one {
            if !seen.is_empty() {
                return err(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                );
            }
        } else if seen.contains(&labels) {
            return err("multiple matches for labels: grouping labels must ensure unique matches");
        }
        seen.insert(labels.clone());
        out.push(Sample {
            labels,
            value,
            ts: t,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, History, LabelSet, Value};
    use super::Evaluator;
    use std::time::Duration;

    fn series(name: &str, labels: &[(&str, &str)]) -> LabelSet {
        LabelSet::new(
            std::iter::once(("__name__".to_owned(), name.to_owned())).chain(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            ),
        )
    }

    /// `c` a counter with a reset, `g{a}` two gauges; scraped every 15s from t=0 to 60s.
    fn history() -> History {
        let mut h = History::unbounded();
        for (i, c) in [0.0, 10.0, 20.0, 5.0, 15.0].iter().enumerate() {
            let t = i64::try_from(i).unwrap() * 15_000;
            h.ingest(
                "t",
                t,
                vec![
                    (series("c", &[]), *c),
                    (series("g", &[("a", "x")]), 1.0),
                    (series("g", &[("a", "y")]), 3.0),
                ],
            );
        }
        h
    }

    fn eval(h: &History, expr: &str, t: i64) -> Vec<(String, f64)> {
        let e = parse(expr).unwrap_or_else(|err| panic!("{expr}: {err}"));
        match Evaluator::new(h, Duration::from_secs(15))
            .eval(&e, t)
            .unwrap()
        {
            Value::Scalar(v) => vec![(String::new(), v)],
            Value::Vector(v) => v
                .into_iter()
                .map(|s| (s.labels.to_string(), s.value))
                .collect(),
            other => panic!("{expr}: {other:?}"),
        }
    }

    fn one(h: &History, expr: &str, t: i64) -> f64 {
        let got = eval(h, expr, t);
        assert_eq!(got.len(), 1, "{expr}: {got:?}");
        got[0].1
    }

    #[test]
    fn division_by_zero_gives_infinities_and_nan() {
        let h = History::unbounded();
        assert_eq!(one(&h, "1 / 0", 0), f64::INFINITY);
        assert_eq!(one(&h, "-1 / 0", 0), f64::NEG_INFINITY);
        assert!(one(&h, "0 / 0", 0).is_nan());
        assert!(one(&h, "5 % 0", 0).is_nan());
    }

    #[test]
    fn counter_resets_are_counted_and_bridged() {
        let h = history();
        assert_eq!(one(&h, "resets(c[1m])", 60_000), 1.0);
        // 0→10→20, reset, 5→15: 20 + 5 + 10 = 35 over the samples' 60s, no extrapolation
        // needed as the window covers them exactly.
        assert!((one(&h, "increase(c[1m])", 60_000) - 35.0).abs() < 1e-9);
        assert_eq!(one(&h, "changes(c[1m])", 60_000), 4.0);
    }

    #[test]
    fn aggregation_comparison_and_absent() {
        let h = history();
        assert_eq!(one(&h, "sum(g)", 60_000), 4.0);
        assert_eq!(
            eval(&h, "g > bool 2", 60_000),
            [
                (r#"{a="x"}"#.to_owned(), 0.0),
                (r#"{a="y"}"#.to_owned(), 1.0)
            ]
        );
        assert_eq!(eval(&h, "g > 2", 60_000), [(r#"g{a="y"}"#.to_owned(), 3.0)]);
        assert_eq!(
            eval(&h, r#"absent(nope{job="db", a=~"x"})"#, 60_000),
            [(r#"{job="db"}"#.to_owned(), 1.0)]
        );
        assert!(eval(&h, "absent(g)", 60_000).is_empty());
    }

    /// Found by tests/fuzz.rs: dropping the metric name left two series with one label
    /// set, where Prometheus refuses the result (promtool gives this same error).
    #[test]
    fn a_result_with_two_series_of_one_label_set_is_refused() {
        let mut h = History::unbounded();
        h.ingest(
            "t",
            0,
            vec![
                (series("x", &[("job", "a")]), 1.0),
                (series("y", &[("job", "a")]), 2.0),
            ],
        );
        for expr in [
            r#"-{job="a"}"#,
            r#"{job="a"} * 2"#,
            r#"max_over_time(({job="a"})[5m:1m])"#,
        ] {
            let e = parse(expr).unwrap();
            let got = Evaluator::new(&h, Duration::from_secs(60)).eval(&e, 0);
            assert_eq!(
                got.unwrap_err().0,
                "vector cannot contain metrics with the same labelset",
                "{expr}"
            );
        }
        // Keeping the names keeps them apart.
        assert_eq!(eval(&h, r#"{job="a"} > 0"#, 0).len(), 2);
    }

    /// Issue 14's evaluator differences, each as promtool 2.42 computes it.
    #[test]
    fn compensated_sums_nan_first_quantiles_and_bounded_topk() {
        let mut h = History::unbounded();
        for (i, v) in [1.0, 1e100, 1.0, -1e100].iter().enumerate() {
            let t = i64::try_from(i).unwrap() * 60_000;
            h.ingest("t", t, vec![(series("s", &[]), *v)]);
        }
        assert_eq!(one(&h, "sum_over_time(s[5m])", 180_000), 2.0);
        assert_eq!(
            one(&h, "avg_over_time(s[5m])", 180_000),
            -2.428_336_115_282_161_3e83
        );
        let g = history();
        assert_eq!(
            one(&g, "rate((c[1m]))", 60_000),
            one(&g, "rate(c[1m])", 60_000)
        );
        let e = parse("topk(1e300, g)").unwrap();
        let got = Evaluator::new(&g, Duration::from_secs(15)).eval(&e, 60_000);
        assert_eq!(got.unwrap_err().0, "Scalar value 1e+300 overflows int64");
        assert!(crate::promql::functions::quantile(0.1, vec![f64::NAN, 1.0, 2.0, 3.0]).is_nan());
        assert_eq!(
            crate::promql::functions::quantile(0.5, vec![3.0, f64::NAN, 1.0, 2.0]),
            1.5
        );
    }

    /// Found by tests/fuzz.rs: the parser panicked on an infinite offset.
    #[test]
    fn an_offset_out_of_range_is_refused_not_a_panic() {
        for expr in ["up offset +Inf", r#""" offset +Inf"#, "up offset NaN"] {
            assert!(parse(expr).is_err(), "{expr}");
        }
    }

    #[test]
    fn lookback_and_staleness_end_series() {
        let mut h = history();
        // 5 minutes after the last sample, an instant selector finds nothing.
        assert_eq!(one(&h, "c", 60_000 + 299_000), 15.0);
        assert!(eval(&h, "c", 60_000 + 301_000).is_empty());
        // A series its source stops producing is marked stale at once.
        h.ingest("t", 75_000, vec![(series("c", &[]), 16.0)]);
        assert!(eval(&h, "g", 75_000).is_empty(), "g went stale");
        assert_eq!(one(&h, "c", 75_000), 16.0);
    }
}
