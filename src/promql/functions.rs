//! PromQL functions, with Prometheus 2.x arithmetic (extrapolated rates, linear regression,
//! Go's `math.Max`/`math.Min` NaN rules).

// Timestamps (ms) and sample counts are far below 2^52, and Prometheus converts them to
// floats the same way; the maths mirrors Go's, single-letter names included.
#![allow(clippy::cast_precision_loss, clippy::many_single_char_names)]

use chrono::{DateTime, Datelike, Timelike};
use promql_parser::parser::Expr;

use super::gomath;
use super::labels::{is_label_name, LabelSet};
use super::storage::Point;
use super::value::{absent_labels, err, EvalError, Result, Sample, Series, Value, Window};

/// Every function the evaluator implements. Anything else is rejected when a rule loads.
pub const SUPPORTED: &[&str] = &[
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "cos",
    "cosh",
    "sin",
    "sinh",
    "tan",
    "tanh",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "double_exponential_smoothing",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Prometheus 2's `holt_winters` (double exponential smoothing): the smoothed value at
/// the last point, `None` with fewer than two points.
fn holt_winters(points: &[Point], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (i, &(_, v)) in points.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// `histogram_quantile` over classic `_bucket` series: the series of one histogram (all
/// labels but `le`, the metric name included, alike) are one set of buckets; the result
/// drops `le` and the name.
fn histogram_quantile(q: f64, input: Vec<Sample>, t: i64) -> Vec<Sample> {
    // (labels without `le` and the name, the name, (upper bound, count) per bucket)
    type Histogram = (LabelSet, String, Vec<(f64, f64)>);
    let mut sets: Vec<Histogram> = Vec::new();
    for s in input {
        let Some(upper) = parse_go_float(s.labels.value("le")) else {
            continue;
        };
        let name = s.labels.name().unwrap_or("").to_owned();
        let mut key = s.labels.without_name();
        key.remove("le");
        match sets.iter_mut().find(|(k, n, _)| *k == key && *n == name) {
            Some((_, _, b)) => b.push((upper, s.value)),
            None => sets.push((key, name, vec![(upper, s.value)])),
        }
    }
    sets.into_iter()
        .map(|(labels, _, buckets)| Sample {
            labels,
            value: bucket_quantile(q, buckets),
            ts: t,
        })
        .collect()
}

/// A label value as Go's `strconv.ParseFloat` reads it (`+Inf`, `1e3`, ...).
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "" => None,
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Prometheus' `bucketQuantile`: sorted by upper bound, equal bounds merged, counts made
/// monotonic, then linear interpolation inside the bucket that holds the rank.
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce equal bounds.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => merged.push(b),
        }
    }
    // Monotonic counts.
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let search = merged.len() - 1;
    let b = merged[..search]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(search);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The running mean Prometheus 2.x computes for `avg` and `avg_over_time`.
pub fn incremental_mean(values: &[f64]) -> f64 {
    let mut mean = 0.0_f64;
    let mut count = 0.0_f64;
    for &v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        mean += v / count - mean / count;
    }
    if count == 0.0 {
        f64::NAN
    } else {
        mean
    }
}

/// `sum_over_time`: a compensated sum (`1 1e100 1 -1e100` sums to 2, not 0).
pub fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for v in values {
        (sum, c) = kahan_inc(v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// `avg_over_time`: the running mean with compensated steps, as Prometheus 2 computes it.
pub fn kahan_mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let (mut mean, mut c, mut count) = (0.0_f64, 0.0, 0.0);
    for &v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}

/// Population variance by Welford's method, as Prometheus computes `stdvar`.
pub fn variance(values: &[f64]) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for &v in values {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        m2 += delta * (v - mean);
    }
    m2 / count
}

/// Neumaier-compensated addition, as Prometheus' `kahanSumInc`.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// `stdvar_over_time` as Prometheus computes it: Welford with compensated sums.
fn kahan_variance(points: &[Point]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(_, v) in points {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Prometheus' `quantile` (linear interpolation between closest ranks).
pub fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN first, as Go's sort of float64 places it.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (lo, hi) = (values[lower as usize], values[upper as usize]);
    lo * (1.0 - weight) + hi * weight
}

/// Least-squares slope and intercept at `intercept_ms`, as Prometheus' `linearRegression`.
fn linear_regression(points: &[Point], intercept_ms: i64) -> (f64, f64) {
    let first = points[0].1;
    if points.iter().all(|p| p.1 == first) {
        if first.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first);
    }
    let (mut n, mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(t, v) in points {
        let x = (t - intercept_ms) as f64 / 1000.0;
        n += 1.0;
        sx += x;
        sy += v;
        sxy += x * v;
        sx2 += x * x;
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Prometheus' `extrapolatedRate`: the change over the window, extrapolated to its edges.
fn extrapolated(points: &[Point], w: Window, counter: bool, rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        let mut prev = 0.0;
        for &(_, v) in points {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_gap = sampled / (points.len() - 1) as f64;
    if counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average_gap * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average_gap / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average_gap / 2.0
    };
    // Go multiplies by one factor; the order matters in the last bit.
    let mut factor = interval / sampled;
    if rate {
        factor /= w.range_secs;
    }
    Some(result * factor)
}

fn instant_delta(points: &[Point], rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (pt, pv) = points[points.len() - 2];
    let (lt, lv) = points[points.len() - 1];
    let mut result = if rate && lv < pv { lv } else { lv - pv };
    if rate {
        let secs = (lt - pt) as f64 / 1000.0;
        if secs == 0.0 {
            return None;
        }
        result /= secs;
    }
    Some(result)
}

fn matrix(v: Value, name: &str) -> Result<Vec<Series>> {
    match v {
        Value::Matrix(m) => Ok(m),
        other => err(format!(
            "{name}() expects a range vector, got a {}",
            other.kind()
        )),
    }
}

fn vector(v: Value, name: &str) -> Result<Vec<Sample>> {
    match v {
        Value::Vector(s) => Ok(s),
        other => err(format!(
            "{name}() expects an instant vector, got a {}",
            other.kind()
        )),
    }
}

fn scalar(v: Option<Value>, name: &str) -> Result<f64> {
    match v {
        Some(Value::Scalar(s)) => Ok(s),
        Some(other) => err(format!("{name}() expects a scalar, got a {}", other.kind())),
        None => err(format!("{name}() is missing an argument")),
    }
}

fn string(v: Option<Value>, name: &str) -> Result<String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        _ => err(format!("{name}() expects a string argument")),
    }
}

/// Applies `f` to every sample, dropping the metric name (the value changed).
fn map_values(v: Vec<Sample>, t: i64, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(
        v.into_iter()
            .map(|s| Sample {
                labels: s.labels.without_name(),
                value: f(s.value),
                ts: t,
            })
            .collect(),
    )
}

/// Applies `f` to every series of a range vector; series for which it yields nothing drop out.
fn over_time(
    m: Vec<Series>,
    t: i64,
    keep_name: bool,
    f: impl Fn(&[Point]) -> Option<f64>,
) -> Value {
    Value::Vector(
        m.into_iter()
            .filter_map(|s| {
                let value = f(&s.points)?;
                let labels = if keep_name {
                    s.labels
                } else {
                    s.labels.without_name()
                };
                Some(Sample {
                    labels,
                    value,
                    ts: t,
                })
            })
            .collect(),
    )
}

fn date_part(
    args: Vec<Value>,
    t: i64,
    name: &str,
    f: impl Fn(DateTime<chrono::Utc>) -> f64,
) -> Result<Value> {
    let input = match args.into_iter().next() {
        Some(v) => vector(v, name)?,
        None => vec![Sample {
            labels: LabelSet::default(),
            value: t as f64 / 1000.0,
            ts: t,
        }],
    };
    Ok(map_values(input, t, |v| {
        if v.is_nan() || v.is_infinite() {
            return f64::NAN;
        }
        #[allow(clippy::cast_possible_truncation)]
        DateTime::from_timestamp(v as i64, 0).map_or(f64::NAN, &f)
    }))
}

fn days_in_month(d: DateTime<chrono::Utc>) -> f64 {
    let (y, m) = (d.year(), d.month());
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let first_next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1);
    let first = chrono::NaiveDate::from_ymd_opt(y, m, 1);
    match (first, first_next) {
        (Some(a), Some(b)) => (b - a).num_days() as f64,
        _ => f64::NAN,
    }
}

/// Calls function `name` on evaluated arguments at time `t`.
pub fn call(
    name: &str,
    exprs: &[Box<Expr>],
    args: Vec<Value>,
    window: Option<Window>,
    t: i64,
) -> Result<Value> {
    let mut it = args.into_iter();
    let mut next = || {
        it.next()
            .ok_or_else(|| EvalError(format!("{name}() is missing an argument")))
    };
    let w = window.unwrap_or(Window {
        start: t,
        end: t,
        range_secs: 0.0,
    });
    let math =
        |f: fn(f64) -> f64, v: Value| -> Result<Value> { Ok(map_values(vector(v, name)?, t, f)) };
    match name {
        "time" => Ok(Value::Scalar(t as f64 / 1000.0)),
        "vector" => Ok(Value::Vector(vec![Sample {
            labels: LabelSet::default(),
            value: scalar(Some(next()?), name)?,
            ts: t,
        }])),
        "scalar" => {
            let v = vector(next()?, name)?;
            Ok(Value::Scalar(if v.len() == 1 {
                v[0].value
            } else {
                f64::NAN
            }))
        }
        "abs" => math(f64::abs, next()?),
        "deg" => math(|v| v * 180.0 / std::f64::consts::PI, next()?),
        "rad" => math(|v| v * std::f64::consts::PI / 180.0, next()?),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        // The trigonometric family as Go's math package computes it.
        "sin" => math(gomath::sin, next()?),
        "cos" => math(gomath::cos, next()?),
        "tan" => math(gomath::tan, next()?),
        "asin" => math(gomath::asin, next()?),
        "acos" => math(gomath::acos, next()?),
        "atan" => math(gomath::atan, next()?),
        "sinh" => math(gomath::sinh, next()?),
        "cosh" => math(gomath::cosh, next()?),
        "tanh" => math(gomath::tanh, next()?),
        "asinh" => math(gomath::asinh, next()?),
        "acosh" => math(gomath::acosh, next()?),
        "atanh" => math(gomath::atanh, next()?),
        "double_exponential_smoothing" | "holt_winters" => {
            let m = matrix(next()?, name)?;
            let sf = scalar(Some(next()?), name)?;
            let tf = scalar(Some(next()?), name)?;
            if sf <= 0.0 || sf >= 1.0 {
                return err(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                ));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return err(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                ));
            }
            Ok(over_time(m, t, false, |p| holt_winters(p, sf, tf)))
        }
        "histogram_quantile" => {
            let q = scalar(Some(next()?), name)?;
            Ok(Value::Vector(histogram_quantile(
                q,
                vector(next()?, name)?,
                t,
            )))
        }
        "ceil" => math(f64::ceil, next()?),
        "floor" => math(f64::floor, next()?),
        "exp" => math(f64::exp, next()?),
        "ln" => math(gomath::log, next()?),
        "log2" => math(gomath::log2, next()?),
        "log10" => math(gomath::log10, next()?),
        "sqrt" => math(f64::sqrt, next()?),
        "sgn" => math(
            |v| {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    v
                }
            },
            next()?,
        ),
        "round" => {
            let v = vector(next()?, name)?;
            let to = match next() {
                Ok(s) => scalar(Some(s), name)?,
                Err(_) => 1.0,
            };
            let inverse = 1.0 / to;
            Ok(map_values(v, t, |x| (x * inverse + 0.5).floor() / inverse))
        }
        "clamp" => {
            let v = vector(next()?, name)?;
            let (lo, hi) = (scalar(Some(next()?), name)?, scalar(Some(next()?), name)?);
            if hi < lo {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(map_values(v, t, |x| go_max(lo, go_min(hi, x))))
        }
        "clamp_min" => {
            let v = vector(next()?, name)?;
            let lo = scalar(Some(next()?), name)?;
            Ok(map_values(v, t, |x| go_max(lo, x)))
        }
        "clamp_max" => {
            let v = vector(next()?, name)?;
            let hi = scalar(Some(next()?), name)?;
            Ok(map_values(v, t, |x| go_min(hi, x)))
        }
        "timestamp" => {
            let v = vector(next()?, name)?;
            Ok(Value::Vector(
                v.into_iter()
                    .map(|s| Sample {
                        labels: s.labels.without_name(),
                        value: s.ts as f64 / 1000.0,
                        ts: t,
                    })
                    .collect(),
            ))
        }
        "absent" | "absent_over_time" => {
            let present = match next()? {
                Value::Vector(v) => !v.is_empty(),
                Value::Matrix(m) => !m.is_empty(),
                other => return err(format!("{name}() over a {}", other.kind())),
            };
            if present {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(Value::Vector(vec![Sample {
                labels: exprs.first().map(|e| absent_labels(e)).unwrap_or_default(),
                value: 1.0,
                ts: t,
            }]))
        }
        "sort" | "sort_desc" => {
            let mut v = vector(next()?, name)?;
            v.sort_by(|a, b| {
                let o = a.value.total_cmp(&b.value);
                if name == "sort" {
                    o
                } else {
                    o.reverse()
                }
            });
            Ok(Value::Vector(v))
        }
        "label_replace" => {
            let v = vector(next()?, name)?;
            let dst = string(Some(next()?), name)?;
            let replacement = string(Some(next()?), name)?;
            let src = string(Some(next()?), name)?;
            let pattern = string(Some(next()?), name)?;
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                EvalError(format!(
                    "label_replace(): invalid regular expression {pattern:?}: {e}"
                ))
            })?;
            if !is_label_name(&dst) {
                return err(format!(
                    "label_replace(): invalid destination label name {dst:?}"
                ));
            }
            Ok(Value::Vector(
                v.into_iter()
                    .map(|mut s| {
                        if let Some(caps) = re.captures(s.labels.value(&src)) {
                            let mut out = String::new();
                            caps.expand(&replacement, &mut out);
                            s.labels.set(&dst, &out);
                        }
                        s.ts = t;
                        s
                    })
                    .collect(),
            ))
        }
        "label_join" => {
            let v = vector(next()?, name)?;
            let dst = string(Some(next()?), name)?;
            let sep = string(Some(next()?), name)?;
            let mut srcs = Vec::new();
            while let Ok(s) = next() {
                srcs.push(string(Some(s), name)?);
            }
            if !is_label_name(&dst) {
                return err(format!(
                    "label_join(): invalid destination label name {dst:?}"
                ));
            }
            Ok(Value::Vector(
                v.into_iter()
                    .map(|mut s| {
                        let joined = srcs
                            .iter()
                            .map(|l| s.labels.value(l))
                            .collect::<Vec<_>>()
                            .join(&sep);
                        s.labels.set(&dst, &joined);
                        s.ts = t;
                        s
                    })
                    .collect(),
            ))
        }
        "rate" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            extrapolated(p, w, true, true)
        })),
        "increase" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            extrapolated(p, w, true, false)
        })),
        "delta" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            extrapolated(p, w, false, false)
        })),
        "irate" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            instant_delta(p, true)
        })),
        "idelta" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            instant_delta(p, false)
        })),
        "deriv" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            (p.len() >= 2).then(|| linear_regression(p, p[0].0).0)
        })),
        "predict_linear" => {
            let m = matrix(next()?, name)?;
            let secs = scalar(Some(next()?), name)?;
            Ok(over_time(m, t, false, |p| {
                (p.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(p, t);
                    slope * secs + intercept
                })
            }))
        }
        "changes" | "resets" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            let n = p
                .windows(2)
                .filter(|w| {
                    let (a, b) = (w[0].1, w[1].1);
                    if name == "resets" {
                        b < a
                    } else {
                        a != b && !(a.is_nan() && b.is_nan())
                    }
                })
                .count();
            Some(n as f64)
        })),
        "avg_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(kahan_mean(&values(p)))
        })),
        "sum_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(kahan_sum(p.iter().map(|x| x.1)))
        })),
        "count_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(p.len() as f64)
        })),
        "present_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |_| Some(1.0))),
        "last_over_time" => Ok(over_time(matrix(next()?, name)?, t, true, |p| {
            p.last().map(|x| x.1)
        })),
        "max_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(p.iter().skip(1).fold(
                p[0].1,
                |acc, x| if x.1 > acc || acc.is_nan() { x.1 } else { acc },
            ))
        })),
        "min_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(p.iter().skip(1).fold(
                p[0].1,
                |acc, x| if x.1 < acc || acc.is_nan() { x.1 } else { acc },
            ))
        })),
        "stddev_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(kahan_variance(p).sqrt())
        })),
        "stdvar_over_time" => Ok(over_time(matrix(next()?, name)?, t, false, |p| {
            Some(kahan_variance(p))
        })),
        "quantile_over_time" => {
            let q = scalar(Some(next()?), name)?;
            Ok(over_time(matrix(next()?, name)?, t, false, |p| {
                Some(quantile(q, values(p)))
            }))
        }
        "day_of_month" => date_part(it_rest(next), t, name, |d| f64::from(d.day())),
        "day_of_week" => date_part(it_rest(next), t, name, |d| {
            f64::from(d.weekday().num_days_from_sunday())
        }),
        "day_of_year" => date_part(it_rest(next), t, name, |d| f64::from(d.ordinal())),
        "days_in_month" => date_part(it_rest(next), t, name, days_in_month),
        "hour" => date_part(it_rest(next), t, name, |d| f64::from(d.hour())),
        "minute" => date_part(it_rest(next), t, name, |d| f64::from(d.minute())),
        "month" => date_part(it_rest(next), t, name, |d| f64::from(d.month())),
        "year" => date_part(it_rest(next), t, name, |d| f64::from(d.year())),
        other => err(format!("function {other}() is not supported")),
    }
}

fn it_rest(mut next: impl FnMut() -> Result<Value>) -> Vec<Value> {
    next().ok().into_iter().collect()
}

fn values(p: &[Point]) -> Vec<f64> {
    p.iter().map(|x| x.1).collect()
}
