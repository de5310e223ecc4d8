//! PromQL over the sidecar's own samples: parsing by `promql-parser`, evaluation here.
//!
//! [`parse`] rejects at load time every construct [`eval::Evaluator`] cannot evaluate, so
//! a rule never fails for that reason at 3 a.m.

pub mod eval;
pub mod functions;
pub mod gofmt;
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

/// Parses `expr` and checks every construct in it is supported.
pub fn parse(expr: &str) -> Result<Expr, ParseError> {
    let parsed = promql_parser::parser::parse(expr)?;
    check(&parsed)?;
    Ok(parsed)
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

/// Every selector in `expr`, with the milliseconds it reads back (0 for instant selectors).
pub fn selectors(expr: &Expr, out: &mut Vec<(VectorSelector, i64)>) {
    use std::time::Duration;
    let ms = |d: &Duration| crate::time::millis(*d);
    let offset = |o: Option<&promql_parser::parser::Offset>| match o {
        Some(promql_parser::parser::Offset::Pos(d)) => ms(d),
        _ => 0,
    };
    match expr {
        Expr::VectorSelector(vs) => out.push((vs.clone(), offset(vs.offset.as_ref()))),
        Expr::MatrixSelector(m) => {
            out.push((m.vs.clone(), ms(&m.range) + offset(m.vs.offset.as_ref())));
        }
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
            for (_, back) in &mut out[start..] {
                *back += extra;
            }
        }
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
