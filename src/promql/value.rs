//! PromQL values (scalars, instant and range vectors), the evaluation error, and the
//! helpers both the evaluator and the function table use.

use std::collections::HashMap;

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

use super::labels::{LabelSet, METRIC_NAME};
use super::storage::Point;

/// One element of an instant vector. `ts` is the sample's own time for a selector's output
/// (what `timestamp()` reads) and the evaluation time otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Its labels.
    pub labels: LabelSet,
    /// Its value.
    pub value: f64,
    /// Its timestamp (Unix milliseconds).
    pub ts: i64,
}

/// One element of a range vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: LabelSet,
    /// Its points in the range.
    pub points: Vec<Point>,
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// A string literal.
    String(String),
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector.
    Matrix(Vec<Series>),
}

impl Value {
    /// The type's name in Prometheus' messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Scalar(_) => "scalar",
            Self::String(_) => "string",
            Self::Vector(_) => "instant vector",
            Self::Matrix(_) => "range vector",
        }
    }
}

/// Why an expression could not be evaluated (Prometheus' message where it has one).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct EvalError(pub String);

/// An evaluation's result.
pub type Result<T> = std::result::Result<T, EvalError>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(EvalError(msg.into()))
}

/// The window a range function reads, for the extrapolation of `rate`/`increase`/`delta`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Start of the range (Unix milliseconds).
    pub start: i64,
    /// End of the range.
    pub end: i64,
    /// The range in seconds.
    pub range_secs: f64,
}

/// The labels `absent()` gives its output: the selector's equality matchers.
pub(crate) fn absent_labels(expr: &Expr) -> LabelSet {
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return LabelSet::default(),
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for m in &vs.matchers.matchers {
        *seen.entry(m.name.as_str()).or_default() += 1;
    }
    LabelSet::new(
        vs.matchers
            .matchers
            .iter()
            .filter(|m| {
                m.op == MatchOp::Equal && m.name != METRIC_NAME && seen[m.name.as_str()] == 1
            })
            .map(|m| (m.name.clone(), m.value.clone())),
    )
}
