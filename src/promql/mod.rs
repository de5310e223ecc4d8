//! PromQL over the sidecar's own samples: parsing by `promql-parser`, evaluation here.
//!
//! [`parse`] rejects at load time every construct [`eval::Evaluator`] cannot evaluate, so
//! a rule never fails for that reason at 3 a.m.

pub mod eval;
pub mod functions;
pub mod gofmt;
pub mod gomath;
pub mod labels;
pub mod storage;
pub mod value;

use promql_parser::parser::{Expr, VectorSelector};

pub use eval::Evaluator;
pub use labels::LabelSet;
pub use storage::{History, Retention, Storage};
pub use value::{Sample, Value};

crate::message_error! {
    /// A PromQL expression that does not parse, or uses what the evaluator does not implement.
    ParseError
}

/// A Prometheus duration (`1h30m`, `7d`, `0s`, `250ms`): units y w d h m s ms, each at
/// most once and in that order, as Prometheus' `model.ParseDuration` takes them.
///
/// `promql_parser::util::parse_duration` does the parsing. Two of its answers differ
/// from Prometheus' in rule files, so they are handled here: it takes bare seconds (`1.5`),
/// which a rule file refuses, and it refuses a zero duration (`0s`), which is valid.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, ParseError> {
    let bad = || {
        ParseError(format!(
            "invalid duration {s:?} (expected e.g. 30s, 5m, 1h30m, 7d)"
        ))
    };
    if s == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if !s.ends_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad());
    }
    match promql_parser::util::parse_duration(s) {
        Ok(d) => Ok(d),
        // Only zeros in a well-formed duration: valid, and zero.
        Err(_)
            if s.bytes().all(|b| b == b'0' || b.is_ascii_lowercase())
                && promql_parser::util::parse_duration(&s.replace('0', "1")).is_ok() =>
        {
            Ok(std::time::Duration::ZERO)
        }
        Err(_) => Err(bad()),
    }
}

/// Parses `expr` and checks every construct in it is supported.
pub fn parse(expr: &str) -> Result<Expr, ParseError> {
    // The parser panics on some values out of range (`x offset +Inf`: a duration of
    // infinite seconds; found by tests/fuzz.rs). Such a rule is refused, and the process
    // loading it keeps running.
    let expr = prometheus2_names(expr);
    let parsed =
        std::panic::catch_unwind(|| promql_parser::parser::parse(&expr)).map_err(|_| {
            ParseError::from(
                "the expression holds a value out of range (a duration or number too large to use)",
            )
        })??;
    check(&parsed)?;
    Ok(parsed)
}

/// Prometheus 2's `holt_winters` under the name Prometheus 3 (and the parser) gives it,
/// `double_exponential_smoothing`, outside quoted strings; the same function either way.
fn prometheus2_names(expr: &str) -> std::borrow::Cow<'_, str> {
    const OLD: &str = "holt_winters";
    if !expr.contains(OLD) {
        return std::borrow::Cow::Borrowed(expr);
    }
    let bytes = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 20);
    let (mut i, mut quote) = (0, None::<u8>);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q != b'`' {
                    out.push_str(&expr[i..(i + 2).min(expr.len())]);
                    i += 2;
                    continue;
                }
                if c == q {
                    quote = None;
                }
            }
            None if matches!(c, b'"' | b'\'' | b'`') => quote = Some(c),
            None if expr[i..].starts_with(OLD)
                && (i == 0
                    || !(bytes[i - 1].is_ascii_alphanumeric()
                        || bytes[i - 1] == b'_'
                        || bytes[i - 1] == b':'))
                && expr[i + OLD.len()..].trim_start().starts_with('(') =>
            {
                out.push_str("double_exponential_smoothing");
                i += OLD.len();
                continue;
            }
            None => {}
        }
        out.push(c as char);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

fn check(expr: &Expr) -> Result<(), ParseError> {
    match expr {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !eval::AGGREGATIONS.contains(&op.as_str()) {
                return Err(ParseError::from(format!(
                    "aggregation {op}() is not supported"
                )));
            }
            if let Some(p) = &a.param {
                check(p)?;
            }
            check(&a.expr)
        }
        Expr::Unary(u) => check(&u.expr),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier {
                if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                    return Err(ParseError::from("fill modifiers are not supported"));
                }
            }
            check(&b.lhs)?;
            check(&b.rhs)
        }
        Expr::Paren(p) => check(&p.expr),
        Expr::Subquery(s) => check(&s.expr),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_) => Ok(()),
        Expr::Call(c) => {
            if c.func.name.starts_with("histogram_") && c.func.name != "histogram_quantile" {
                return Err(ParseError::from(format!(
                    "function {}() reads native histograms, which centinela does not \
                     store; histogram_quantile over classic _bucket series is supported",
                    c.func.name
                )));
            }
            if !functions::SUPPORTED.contains(&c.func.name) {
                return Err(ParseError::from(format!(
                    "function {}() is not supported",
                    c.func.name
                )));
            }
            c.args.args.iter().try_for_each(|a| check(a))
        }
        Expr::Extension(_) => Err(ParseError::from("extension expressions are not supported")),
    }
}

/// A selector an expression holds and how it reads its series.
#[derive(Clone, Debug)]
pub struct Read {
    /// The selector.
    pub vs: VectorSelector,
    /// Milliseconds it reads back from the evaluation time (range, offset and enclosing
    /// subqueries); 0 for a plain instant selector.
    pub back: i64,
    /// True when it reads only the newest sample at the evaluation time: no range, no
    /// offset, no `@`, not under a subquery. Such reads need no history.
    pub instant: bool,
}

/// Every selector in `expr`, with how far back it reads.
pub fn selectors(expr: &Expr, out: &mut Vec<Read>) {
    use std::time::Duration;
    let ms = |d: &Duration| crate::time::millis(*d);
    let offset = |o: Option<&promql_parser::parser::Offset>| match o {
        Some(promql_parser::parser::Offset::Pos(d)) => ms(d),
        _ => 0,
    };
    match expr {
        Expr::VectorSelector(vs) => out.push(Read {
            vs: vs.clone(),
            back: offset(vs.offset.as_ref()),
            instant: vs.offset.is_none() && vs.at.is_none(),
        }),
        Expr::MatrixSelector(m) => out.push(Read {
            vs: m.vs.clone(),
            back: ms(&m.range) + offset(m.vs.offset.as_ref()),
            instant: false,
        }),
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                selectors(p, out);
            }
            selectors(&a.expr, out);
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(s) => {
            let start = out.len();
            selectors(&s.expr, out);
            let extra = ms(&s.range) + offset(s.offset.as_ref());
            for r in &mut out[start..] {
                r.back += extra;
                r.instant = false;
            }
        }
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
