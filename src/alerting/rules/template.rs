//! Labels and annotations as Prometheus expands them: Go's `text/template` (the `gotmpl`
//! crate) with Prometheus' data (`$labels`, `$externalLabels`, `$externalURL`, `$value`)
//! and function map (`query`, `first`, `humanize`, `reReplaceAll`, …).
//!
//! A template is parsed when its rule loads, so an unknown function or a syntax error is
//! refused with the file and rule, as `promtool check rules` refuses it. A problem at
//! run time (`humanize` of a word, `first` of an empty result) expands to
//! `<error expanding template: …>`, as Prometheus sends it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use gotmpl::parse::{CommandNode, Expr as TExpr, ListNode, Node, PipeNode};
use gotmpl::{MissingKey, Value};

use crate::promql::gofmt::{go_g, humanize, humanize1024, humanize_duration};
use crate::promql::LabelSet;

crate::message_error! {
    /// A template that does not parse, or fails to expand (the text says where).
    TemplateError
}

/// What Prometheus puts before every alert template, so `$labels` and friends exist.
const DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";
/// The name templates are parsed under (Prometheus uses `__alert_` and the rule name).
const NAME: &str = "__alert";
/// Longest expansion kept; a template that writes more fails instead of growing memory.
const MAX_OUTPUT: usize = 1 << 20;
/// Iterations of every `range` of one expansion together.
const MAX_RANGE_ITERATIONS: u64 = 100_000;
/// Distinct `query` calls one expansion may make.
const MAX_QUERIES: usize = 32;
/// How the `query` function marks a query it has not been given the answer to yet.
const PENDING: &str = "\u{0}centinela: query pending";

/// Runs a PromQL query at the evaluation time, for the `query` function.
pub type QueryFn<'a> = &'a dyn Fn(&str) -> Result<Vec<(LabelSet, f64)>, String>;

/// A parsed template.
#[derive(Clone)]
pub struct Template {
    source: String,
    compiled: Option<Arc<Compiled>>,
}

struct Compiled {
    template: gotmpl::Template,
    /// The queries written as literals (`query "up"`), for the history to keep.
    literal_queries: Vec<String>,
    /// Calls `query`, `externalURL` or `pathPrefix`, which read `answers`.
    uses_context: bool,
    answers: Arc<Mutex<Answers>>,
    /// One expansion at a time uses `answers`.
    expanding: Mutex<()>,
}

/// Query results of the expansion in progress. `query` answers from here; a query not
/// answered yet stops the expansion, which is run again once it is (Go templates cannot
/// catch an error, so nothing a template does depends on having seen the failure).
#[derive(Default)]
struct Answers {
    known: HashMap<String, Result<Value, String>>,
    pending: Option<String>,
    /// `externalURL` of the expansion in progress.
    external_url: String,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// What a template sees.
pub struct Data<'a> {
    /// The alert's sample labels (`$labels`, `.Labels`).
    pub labels: &'a LabelSet,
    /// The external labels (`$externalLabels`).
    pub external_labels: &'a LabelSet,
    /// `$externalURL`, and the `externalURL` and `pathPrefix` functions.
    pub external_url: &'a str,
    /// `$value`.
    pub value: f64,
    /// Answers `query`; without it, `query` fails.
    pub query: Option<QueryFn<'a>>,
}

impl Template {
    /// Parses a template; a syntax error or an unknown function is refused here.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if !source.contains("{{") {
            return Ok(Self {
                source: source.to_owned(),
                compiled: None,
            });
        }
        let answers = Arc::new(Mutex::new(Answers::default()));
        let mut template = gotmpl::Template::new(NAME)
            .missing_key(MissingKey::ZeroValue)
            .max_range_iters(MAX_RANGE_ITERATIONS);
        for (name, f) in functions(&answers) {
            template = template.func(name, f);
        }
        let template = template
            .parse(&format!("{DEFS}{source}"))
            .map_err(|e| TemplateError(e.to_string()))?;
        let mut calls = Calls::default();
        for name in template.templates() {
            if let Some(tree) = template.lookup(name) {
                calls.tree(tree);
            }
        }
        if let Some(v) = calls.undefined {
            return Err(TemplateError(format!(
                "template: {NAME}: undefined variable {v:?}"
            )));
        }
        // Go refuses an unknown function when the template parses.
        let ours: Vec<&str> = functions(&answers).iter().map(|(n, _)| *n).collect();
        if let Some(f) = calls
            .functions
            .iter()
            .find(|f| !GO_BUILTINS.contains(&f.as_str()) && !ours.contains(&f.as_str()))
        {
            return Err(TemplateError(format!(
                "template: {NAME}: function {f:?} not defined"
            )));
        }
        Ok(Self {
            source: source.to_owned(),
            compiled: Some(Arc::new(Compiled {
                template,
                literal_queries: calls.literal_queries,
                uses_context: calls.uses_context,
                answers,
                expanding: Mutex::new(()),
            })),
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The PromQL queries the template passes to `query` as string literals.
    pub fn literal_queries(&self) -> &[String] {
        self.compiled
            .as_ref()
            .map_or(&[], |c| c.literal_queries.as_slice())
    }

    /// Expands the template.
    pub fn render(&self, data: &Data<'_>) -> Result<String, TemplateError> {
        let Some(c) = &self.compiled else {
            return Ok(self.source.clone());
        };
        let value = data_value(data);
        if !c.uses_context {
            return execute(&c.template, &value);
        }
        let _one = c.expanding.lock().unwrap_or_else(PoisonError::into_inner);
        let lock = || c.answers.lock().unwrap_or_else(PoisonError::into_inner);
        *lock() = Answers {
            external_url: data.external_url.to_owned(),
            ..Answers::default()
        };
        let mut asked = 0;
        loop {
            let result = execute(&c.template, &value);
            let Some(q) = lock().pending.take() else {
                *lock() = Answers::default();
                return result;
            };
            asked += 1;
            let answer = if asked > MAX_QUERIES {
                Err(format!("more than {MAX_QUERIES} queries in one template"))
            } else {
                match data.query {
                    Some(run) => run(&q).map(|samples| query_result(&samples)),
                    None => Err("query is not available here".to_owned()),
                }
            };
            lock().known.insert(q, answer);
        }
    }

    /// Expands the template; a failure gives Prometheus' text for it, so the alert still
    /// goes out and says what went wrong.
    pub fn expand(&self, data: &Data<'_>) -> String {
        self.render(data)
            .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
    }
}

fn execute(template: &gotmpl::Template, data: &Value) -> Result<String, TemplateError> {
    let mut out = Bounded(String::new(), false);
    match template.execute_fmt(&mut out, data) {
        Ok(()) => Ok(out.0),
        Err(_) if out.1 => Err(TemplateError(format!(
            "error executing template {NAME}: output longer than {MAX_OUTPUT} bytes"
        ))),
        Err(e) => Err(TemplateError(format!(
            "error executing template {NAME}: {e}"
        ))),
    }
}

/// A `fmt::Write` that refuses to grow past [`MAX_OUTPUT`].
struct Bounded(String, bool);

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.0.len() + s.len() > MAX_OUTPUT {
            self.1 = true;
            return Err(std::fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

fn str_value(s: &str) -> Value {
    Value::String(Arc::from(s))
}

/// A label set as Go holds a `map[string]string`.
fn labels_value(labels: &LabelSet) -> Value {
    Value::Map(Arc::new(
        labels
            .iter()
            .map(|(k, v)| (Arc::from(k), str_value(v)))
            .collect::<BTreeMap<_, _>>(),
    ))
}

fn data_value(data: &Data<'_>) -> Value {
    let mut m = BTreeMap::new();
    m.insert(Arc::from("Labels"), labels_value(data.labels));
    m.insert(
        Arc::from("ExternalLabels"),
        labels_value(data.external_labels),
    );
    m.insert(Arc::from("ExternalURL"), str_value(data.external_url));
    m.insert(Arc::from("Value"), Value::Float(data.value));
    Value::Map(Arc::new(m))
}

/// Prometheus' `queryResult`: a list of samples, each `.Labels` and `.Value`.
fn query_result(samples: &[(LabelSet, f64)]) -> Value {
    Value::List(
        samples
            .iter()
            .map(|(labels, v)| {
                let mut m = BTreeMap::new();
                m.insert(Arc::from("Labels"), labels_value(labels));
                m.insert(Arc::from("Value"), Value::Float(*v));
                Value::Map(Arc::new(m))
            })
            .collect::<Vec<_>>()
            .into(),
    )
}

/// Go's own template functions.
const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Which functions the template calls, the literal queries, and the first variable used
/// where it is not declared (Go refuses that when the template parses).
#[derive(Default)]
struct Calls {
    functions: std::collections::BTreeSet<String>,
    literal_queries: Vec<String>,
    uses_context: bool,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    undefined: Option<String>,
}

impl Calls {
    /// A template tree: the main one, or a `define`d one (which sees only `$`).
    fn tree(&mut self, list: &ListNode) {
        let outer = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        self.list(list);
        self.vars = outer;
    }

    fn list(&mut self, list: &ListNode) {
        for node in &list.nodes {
            match node {
                Node::List(l) => self.list(l),
                Node::Action(a) => self.pipe(&a.pipe),
                // A variable declared in a control structure lives until its `end`.
                Node::If(b) | Node::Range(b) | Node::With(b) => {
                    let depth = self.vars.len();
                    self.pipe(&b.pipe);
                    self.list(&b.body);
                    if let Some(e) = &b.else_body {
                        self.list(e);
                    }
                    self.vars.truncate(depth);
                }
                Node::Template(t) => {
                    if let Some(p) = &t.pipe {
                        self.pipe(p);
                    }
                }
                Node::Define(d) => self.tree(&d.body),
                Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
            }
        }
    }

    fn pipe(&mut self, pipe: &PipeNode) {
        // Go declares the variables before it reads the commands.
        self.vars.extend(pipe.decl.iter().map(ToString::to_string));
        for (i, cmd) in pipe.commands.iter().enumerate() {
            self.command(cmd);
            // `"up" | query`: the literal is the previous command's only argument.
            if i > 0 && matches!(cmd.args.as_slice(), [TExpr::Identifier(_, f)] if f == "query") {
                if let [TExpr::String(_, q)] = pipe.commands[i - 1].args.as_slice() {
                    self.literal_queries.push(q.to_string());
                }
            }
        }
    }

    fn command(&mut self, cmd: &CommandNode) {
        if let [TExpr::Identifier(_, f), TExpr::String(_, q)] = cmd.args.as_slice() {
            if f == "query" {
                self.literal_queries.push(q.to_string());
            }
        }
        for arg in &cmd.args {
            self.expr(arg);
        }
    }

    fn expr(&mut self, e: &TExpr) {
        match e {
            TExpr::Identifier(_, f) => {
                self.uses_context |= matches!(&**f, "query" | "externalURL" | "pathPrefix");
                self.functions.insert(f.to_string());
            }
            TExpr::Variable(_, name, _)
                if self.undefined.is_none() && !self.vars.iter().any(|v| v == name.as_str()) =>
            {
                self.undefined = Some(name.to_string());
            }
            TExpr::Pipe(_, p) => self.pipe(p),
            TExpr::Chain(_, e, _) => self.expr(e),
            _ => {}
        }
    }
}

type Func = Box<dyn Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync>;

fn fail(message: impl Into<String>) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(message.into())
}

fn arity(name: &str, args: &[Value], n: usize) -> gotmpl::Result<()> {
    if args.len() == n {
        Ok(())
    } else {
        Err(fail(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )))
    }
}

/// A `string` parameter, as Go checks it.
fn string_arg<'v>(name: &str, v: &'v Value) -> gotmpl::Result<&'v str> {
    v.as_str().ok_or_else(|| {
        fail(format!(
            "error calling {name}: wrong type for value; expected string; got {}",
            v.type_name()
        ))
    })
}

/// Prometheus' `convertToFloat`: floats, integers and numeric strings.
fn to_float(v: &Value) -> gotmpl::Result<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Ok(*i as f64),
        #[allow(clippy::cast_precision_loss)]
        Value::Uint(u) => Ok(*u as f64),
        Value::String(s) => go_parse_float(s)
            .ok_or_else(|| fail(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))),
        other => Err(fail(format!(
            "can't convert {} to float",
            other.type_name()
        ))),
    }
}

/// Go's `strconv.ParseFloat` for the forms it shares with Rust, plus `Inf`/`NaN` spelled
/// as Go takes them.
fn go_parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, body) = match lower.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, lower.strip_prefix('+').unwrap_or(&lower)),
    };
    match body {
        "inf" | "infinity" => Some(sign * f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ if body.starts_with(|c: char| c.is_ascii_digit() || c == '.') => s.parse::<f64>().ok(),
        _ => None,
    }
}

/// Prometheus' `floatToTime`: seconds to a UTC time at millisecond resolution.
fn float_to_time(v: f64) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".to_owned());
    }
    let nanos = v * 1e9;
    #[allow(clippy::cast_precision_loss)]
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            go_g(v, None)
        ));
    }
    #[allow(clippy::cast_possible_truncation)]
    let ms = (nanos as i64) / 1_000_000;
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| "time out of range".to_owned())
}

/// Go's `time.Time.String()` for a UTC time.
fn go_time(t: chrono::DateTime<chrono::Utc>) -> String {
    let mut s = t.format("%Y-%m-%d %H:%M:%S%.9f").to_string();
    if s.contains('.') {
        s.truncate(s.trim_end_matches('0').trim_end_matches('.').len());
    }
    s + " +0000 UTC"
}

/// A sample of a query result, as `first`, `label` and `value` take it.
fn sample<'v>(name: &str, v: &'v Value) -> gotmpl::Result<&'v Value> {
    match v {
        Value::Map(m) if m.contains_key("Labels") && m.contains_key("Value") => Ok(v),
        Value::Nil => Err(fail(format!(
            "error calling {name}: invalid memory address or nil pointer dereference"
        ))),
        other => Err(fail(format!(
            "error calling {name}: wrong type for value; expected *template.sample; got {}",
            other.type_name()
        ))),
    }
}

fn sample_label(s: &Value, label: &str) -> String {
    s.field("Labels")
        .and_then(|l| l.field(label))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn regex(name: &str, pattern: &str) -> gotmpl::Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| {
        fail(format!(
            "error calling {name}: regexp: Compile({pattern:?}): {e}"
        ))
    })
}

/// Go's `net.SplitHostPort`, host part; the input back when it has no port.
fn strip_port(hostport: &str) -> String {
    let Some(i) = hostport.rfind(':') else {
        return hostport.to_owned();
    };
    let (host, k) = if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return hostport.to_owned();
        };
        if end + 1 != i {
            return hostport.to_owned();
        }
        (&hostport[1..end], end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return hostport.to_owned();
        }
        (host, 0)
    };
    if hostport[usize::from(k > 0)..].contains('[') || hostport[k..].contains(']') {
        return hostport.to_owned();
    }
    host.to_owned()
}

/// Go's `strings.Title`: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if separator(prev) {
            out.push_str(&one_char_case(c, true));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Go maps case rune by rune: a rune whose case is several runes stays as it is.
fn one_char_case(c: char, upper: bool) -> String {
    let mapped: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    if mapped.len() == 1 {
        mapped[0].to_string()
    } else {
        c.to_string()
    }
}

/// Prometheus' template functions (2.x), with `query` answered from `answers`.
fn functions(answers: &Arc<Mutex<Answers>>) -> Vec<(&'static str, Func)> {
    fn number(name: &'static str, f: fn(f64) -> gotmpl::Result<String>) -> Func {
        Box::new(move |args| {
            arity(name, args, 1)?;
            f(to_float(&args[0]).map_err(|e| fail(format!("error calling {name}: {e}")))?)
                .map(|s| str_value(&s))
        })
    }
    fn text(name: &'static str, f: fn(&str) -> String) -> Func {
        Box::new(move |args| {
            arity(name, args, 1)?;
            Ok(str_value(&f(string_arg(name, &args[0])?)))
        })
    }
    let url_answers = Arc::clone(answers);
    let prefix_answers = Arc::clone(answers);
    let answers = Arc::clone(answers);
    vec![
        (
            "externalURL",
            Box::new(move |args: &[Value]| {
                arity("externalURL", args, 0)?;
                let a = url_answers.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(str_value(&a.external_url))
            }),
        ),
        (
            "pathPrefix",
            Box::new(move |args: &[Value]| {
                arity("pathPrefix", args, 0)?;
                let a = prefix_answers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Go's `url.URL.Path`: empty when the URL has no path at all.
                let written = a.external_url.split_once("://").map_or("", |(_, r)| r);
                let path = url::Url::parse(&a.external_url)
                    .map(|u| u.path().to_owned())
                    .unwrap_or_default();
                Ok(str_value(if written.contains('/') { &path } else { "" }))
            }),
        ),
        (
            "query",
            Box::new(move |args: &[Value]| {
                arity("query", args, 1)?;
                let q = string_arg("query", &args[0])?;
                let mut a = answers.lock().unwrap_or_else(PoisonError::into_inner);
                match a.known.get(q) {
                    Some(Ok(v)) => Ok(v.clone()),
                    Some(Err(e)) => Err(fail(format!("error calling query: {e}"))),
                    None => {
                        a.pending = Some(q.to_owned());
                        Err(fail(PENDING))
                    }
                }
            }),
        ),
        (
            "first",
            Box::new(|args: &[Value]| {
                arity("first", args, 1)?;
                match &args[0] {
                    Value::List(l) => l.first().cloned().ok_or_else(|| {
                        fail("error calling first: first() called on vector with no elements")
                    }),
                    other => Err(fail(format!(
                        "error calling first: wrong type for value; expected template.queryResult; got {}",
                        other.type_name()
                    ))),
                }
            }),
        ),
        (
            "label",
            Box::new(|args: &[Value]| {
                arity("label", args, 2)?;
                let name = string_arg("label", &args[0])?;
                Ok(str_value(&sample_label(sample("label", &args[1])?, name)))
            }),
        ),
        (
            "value",
            Box::new(|args: &[Value]| {
                arity("value", args, 1)?;
                Ok(sample("value", &args[0])?
                    .field("Value")
                    .cloned()
                    .unwrap_or(Value::Float(0.0)))
            }),
        ),
        (
            "strvalue",
            Box::new(|args: &[Value]| {
                arity("strvalue", args, 1)?;
                Ok(str_value(&sample_label(
                    sample("strvalue", &args[0])?,
                    "__value__",
                )))
            }),
        ),
        (
            "args",
            Box::new(|args: &[Value]| {
                Ok(Value::Map(Arc::new(
                    args.iter()
                        .enumerate()
                        .map(|(i, v)| (Arc::from(format!("arg{i}")), v.clone()))
                        .collect(),
                )))
            }),
        ),
        (
            "reReplaceAll",
            Box::new(|args: &[Value]| {
                arity("reReplaceAll", args, 3)?;
                let re = regex("reReplaceAll", string_arg("reReplaceAll", &args[0])?)?;
                let repl = string_arg("reReplaceAll", &args[1])?;
                let text = string_arg("reReplaceAll", &args[2])?;
                Ok(str_value(&re.replace_all(text, repl)))
            }),
        ),
        (
            "match",
            Box::new(|args: &[Value]| {
                arity("match", args, 2)?;
                let re = regex("match", string_arg("match", &args[0])?)?;
                Ok(Value::Bool(re.is_match(string_arg("match", &args[1])?)))
            }),
        ),
        ("safeHtml", text("safeHtml", str::to_owned)),
        ("title", text("title", title)),
        (
            "toUpper",
            text("toUpper", |s| {
                s.chars().map(|c| one_char_case(c, true)).collect()
            }),
        ),
        (
            "toLower",
            text("toLower", |s| {
                s.chars().map(|c| one_char_case(c, false)).collect()
            }),
        ),
        (
            "graphLink",
            text("graphLink", |e| {
                format!("/graph?g0.expr={}&g0.tab=0", gotmpl::url_encode(e))
            }),
        ),
        // Prometheus 2.48 and later; promtool 2.42 does not know it.
        ("urlQueryEscape", text("urlQueryEscape", gotmpl::url_encode)),
        (
            "tableLink",
            text("tableLink", |e| {
                format!("/graph?g0.expr={}&g0.tab=1", gotmpl::url_encode(e))
            }),
        ),
        (
            "sortByLabel",
            Box::new(|args: &[Value]| {
                arity("sortByLabel", args, 2)?;
                let label = string_arg("sortByLabel", &args[0])?;
                let Value::List(l) = &args[1] else {
                    return Err(fail(format!(
                        "error calling sortByLabel: wrong type for value; expected template.queryResult; got {}",
                        args[1].type_name()
                    )));
                };
                let mut v = l.to_vec();
                v.sort_by_cached_key(|s| sample_label(s, label));
                Ok(Value::List(v.into()))
            }),
        ),
        ("humanize", number("humanize", |v| Ok(humanize(v)))),
        (
            "humanize1024",
            number("humanize1024", |v| Ok(humanize1024(v))),
        ),
        (
            "humanizeDuration",
            number("humanizeDuration", |v| Ok(humanize_duration(v))),
        ),
        (
            "humanizePercentage",
            number("humanizePercentage", |v| {
                Ok(format!("{}%", go_g(v * 100.0, Some(4))))
            }),
        ),
        (
            "humanizeTimestamp",
            number("humanizeTimestamp", |v| {
                if !v.is_finite() {
                    return Ok(go_g(v, Some(4)));
                }
                float_to_time(v).map(go_time).map_err(fail)
            }),
        ),
        (
            "toTime",
            number("toTime", |v| float_to_time(v).map(go_time).map_err(fail)),
        ),
        (
            "parseDuration",
            Box::new(|args: &[Value]| {
                arity("parseDuration", args, 1)?;
                let d = string_arg("parseDuration", &args[0])?;
                crate::promql::parse_duration(d)
                    .map(|d| Value::Float(d.as_secs_f64()))
                    .map_err(|_| {
                        fail(format!(
                            "error calling parseDuration: not a valid duration string: {d:?}"
                        ))
                    })
            }),
        ),
        ("stripPort", text("stripPort", strip_port)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(labels: &LabelSet, value: f64) -> Data<'_> {
        Data {
            labels,
            external_labels: labels,
            external_url: "http://centinela:9187",
            value,
            query: None,
        }
    }

    fn render(src: &str, value: f64) -> String {
        let labels = LabelSet::new([
            ("relname".to_owned(), "orders".to_owned()),
            ("instance".to_owned(), "db-1:9187".to_owned()),
        ]);
        Template::parse(src)
            .expect("parses")
            .render(&data(&labels, value))
            .expect("renders")
    }

    #[test]
    fn renders_rule_file_forms() {
        assert_eq!(render("{{ 0.1234 | humanizePercentage }}", 0.0), "12.34%");
        assert_eq!(
            render("{{ $labels.relname }} has {{ $value }}", 42.0),
            "orders has 42"
        );
        assert_eq!(
            render("{{ .Labels.relname }}={{ .Value | humanize }}", 1500.0),
            "orders=1.5k"
        );
        assert_eq!(render("{{ humanize $value }}", 2e9), "2G");
        assert_eq!(
            render("{{ urlQueryEscape \"a b&c/é\" }}", 0.0),
            "a+b%26c%2F%C3%A9"
        );
        assert_eq!(render(r#"{{ printf "%.2f" $value }}%"#, 12.345_6), "12.35%");
        assert_eq!(render("a {{- $labels.missing -}} b", 0.0), "ab");
        assert_eq!(render("[{{ $labels.missing }}]", 0.0), "[]");
        assert_eq!(render("{{/* comment */}}x", 0.0), "x");
        assert_eq!(
            render("{{ $labels }}", 0.0),
            "map[instance:db-1:9187 relname:orders]"
        );
    }

    #[test]
    fn numbers_print_as_go_prints_them() {
        assert_eq!(render("{{ $value }}", 1_234_567.5), "1.2345675e+06");
        assert_eq!(render("{{ $value }}", 0.000_01), "1e-05");
        assert_eq!(render("{{ $value }}", f64::INFINITY), "+Inf");
        assert_eq!(render("{{ $value }}", f64::NAN), "NaN");
        assert_eq!(render("{{ print $value }}", 1e21), "1e+21");
        assert_eq!(
            render(r#"{{ printf "%v|%g" $value $value }}"#, 1e6),
            "1e+06|1e+06"
        );
    }

    #[test]
    fn actions_and_prometheus_functions() {
        for (src, want) in [
            (
                r#"{{ if eq $labels.relname "orders" }}hot{{ else }}cold{{ end }}"#,
                "hot",
            ),
            (
                "{{ if gt $value 80.0 }}high{{ else if gt $value 50.0 }}mid{{ end }}",
                "mid",
            ),
            ("{{ with $labels.nope }}x{{ else }}none{{ end }}", "none"),
            (
                "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
                "instance=db-1:9187;relname=orders;",
            ),
            (
                r#"{{ define "t" }}<{{ .arg0 }}>{{ end }}{{ template "t" args 1 }}"#,
                "<1>",
            ),
            ("{{ $labels.instance | stripPort }}", "db-1"),
            (
                r#"{{ stripPort "[::1]:80" }} {{ stripPort "host" }}"#,
                "::1 host",
            ),
            (
                r#"{{ reReplaceAll "(.*):(.*)" "$2" $labels.instance }}"#,
                "9187",
            ),
            (r#"{{ match "^db-" $labels.instance }}"#, "true"),
            (r#"{{ title "hello wORLD_x" }}"#, "Hello WORLD_x"),
            (
                r#"{{ graphLink "up == 0" }}"#,
                "/graph?g0.expr=up+%3D%3D+0&g0.tab=0",
            ),
            (r#"{{ parseDuration "1m30s" }}"#, "90"),
            (
                "{{ humanizeTimestamp 1.2345678 }}",
                "1970-01-01 00:00:01.234 +0000 UTC",
            ),
            ("{{ toTime 86400 }}", "1970-01-02 00:00:00 +0000 UTC"),
            (
                "{{ $externalURL }} {{ externalURL }}",
                "http://centinela:9187 http://centinela:9187",
            ),
            ("[{{ pathPrefix }}]", "[]"),
            (
                r#"{{ html "<b>" }} {{ len $labels }} {{ index $labels "nope" }}|"#,
                "&lt;b&gt; 2 |",
            ),
        ] {
            assert_eq!(render(src, 60.0), want, "{src}");
        }
    }

    #[test]
    fn query_is_answered_at_the_evaluation_time() {
        let labels = LabelSet::default();
        let run = |q: &str| -> Result<Vec<(LabelSet, f64)>, String> {
            match q {
                "up" => Ok(vec![
                    (LabelSet::new([("job".to_owned(), "b".to_owned())]), 1.0),
                    (LabelSet::new([("job".to_owned(), "a".to_owned())]), 0.0),
                ]),
                "none" => Ok(Vec::new()),
                other => Err(format!("bad query {other:?}")),
            }
        };
        let t = Template::parse(
            r#"{{ range query "up" | sortByLabel "job" }}{{ .Labels.job }}={{ .Value }} {{ end }}{{ with query "up" }}{{ . | first | label "job" }}{{ end }}"#,
        )
        .expect("parses");
        assert_eq!(t.literal_queries(), ["up", "up"]);
        let mut d = data(&labels, 0.0);
        d.query = Some(&run);
        assert_eq!(t.render(&d).expect("renders"), "a=0 b=1 b");
        let empty = Template::parse(r#"{{ query "none" | first | value }}"#).expect("parses");
        let e = empty.render(&d).expect_err("no sample");
        assert!(
            e.0.contains("first() called on vector with no elements"),
            "{e}"
        );
        let bad = Template::parse(r#"{{ query "x{" }}"#).expect("parses");
        assert!(bad.expand(&d).starts_with("<error expanding template: "));
        assert!(bad.expand(&d).contains("bad query"));
    }

    #[test]
    fn problems_are_named_at_parse_or_expansion_time() {
        for (src, needle) in [
            ("{{ nosuch $value }}", "nosuch"),
            ("{{ $labels.x ", "unclosed"),
            ("{{ $foo }}", "$foo"),
            ("{{ if $value }}x", "unexpected EOF"),
            ("x{{ end }}", "unexpected {{end}}"),
            ("{{ else }}", "unexpected {{else}}"),
            (r#"{{ define "a" }}{{ $labels.x }}{{ end }}"#, "$labels"),
        ] {
            let e = Template::parse(src).expect_err(src);
            assert!(e.0.contains(needle), "{src}: {e}");
        }
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(Template::parse(&deep)
            .expect_err("deep")
            .0
            .contains("depth"));
        let deep = "{{ if 1 }}".repeat(100_000);
        assert!(Template::parse(&deep)
            .expect_err("deep")
            .0
            .contains("depth"));
        let labels = LabelSet::default();
        for (src, needle) in [
            (r#"{{ "abc" | humanize }}"#, "invalid syntax"),
            ("{{ if gt $value 80 }}x{{ end }}", "incompatible types"),
            ("{{ range 200000 }}x{{ end }}", "range"),
            (
                r#"{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}"#,
                "recursion",
            ),
            (
                "{{ range 50000 }}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{{ end }}",
                "output longer",
            ),
        ] {
            let t = Template::parse(src).expect(src);
            let e = t.render(&data(&labels, 90.0)).expect_err(src);
            assert!(e.0.contains(needle), "{src}: {e}");
            assert!(t.expand(&data(&labels, 90.0)).starts_with("<error expanding template: "));
        }
    }
}
