//! `postgres_custom` collector: the operator's own SQL, in `postgres_exporter`'s
//! `queries.yaml` format.
//!
//! `[postgres] query_files` loads such files unchanged and `[[postgres.queries]]` adds
//! entries inline. A query is named by its key (the metric prefix); each column becomes a
//! label or a metric as its `usage` says. Each query has its own interval (`cache_seconds`
//! in a file), timeout, server-version range (`runonserver`) and databases, and runs in its
//! own task, read-only, with its own `statement_timeout` and `lock_timeout`: a failing or slow query reports `centinela_custom_query_up 0` and never holds
//! the others back. A metric name a built-in collector or another query exports is refused
//! when the configuration is checked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::PgConnection;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::{DatabaseFilter, PgConnections, PgError, PostgresConfig};
use crate::collectors::{CollectError, Collector, Schedule, Shared};
use crate::config::check::{ConfigError, Problems};
use crate::metrics::{labels, Batch, Family, Labels, MetricDesc, MetricKind, Sample};
// `le` as client_golang prints it: strconv.FormatFloat(v, 'g', -1, 64).
use crate::promql::gofmt::go_g;
use crate::sync::lock;

crate::metrics! {
    QUERY_UP: "centinela_custom_query_up", Gauge, ["query", "datname"],
        "1 if the custom query's last run in this database succeeded, 0 if it failed (its series are then absent until it succeeds again).";
    QUERY_DURATION: "centinela_custom_query_duration_seconds", Gauge, ["query", "datname"],
        "How long the custom query's last run in this database took.";
    QUERY_ERRORS: "centinela_custom_query_errors_total", Counter, ["query", "datname"],
        "Failed runs of the custom query in this database since centinela started.";
    QUERY_SERIES: "centinela_custom_query_series", Gauge, ["query", "datname"],
        "Series the custom query's last successful run in this database exported.";
}

/// Largest query file read.
const MAX_FILE: u64 = 4 << 20;
/// Rows one run may return, unless the query sets `max_rows`.
const DEFAULT_MAX_ROWS: usize = 10_000;

// === configuration ===

/// One query as written: a `queries.yaml` entry (its key is the name) or a
/// `[[postgres.queries]]` table (with `name`). centinela's own keys are accepted in both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// The metric prefix; inline entries only (in a file, the key).
    #[serde(default)]
    pub name: Option<String>,
    /// The SQL: one statement returning rows.
    #[serde(default)]
    pub query: String,
    /// How each column is used: a list of single-key maps `column: {usage, description}`.
    #[serde(default)]
    pub metrics: Vec<BTreeMap<String, ColumnSpec>>,
    /// `postgres_exporter`: run in the DSN's database only (centinela's default anyway).
    #[serde(default)]
    pub master: bool,
    /// `postgres_exporter`'s newer name for `master`.
    #[serde(default)]
    pub primary: bool,
    /// `postgres_exporter`: how long a result is kept; here, the query's interval.
    #[serde(default)]
    pub cache_seconds: Option<u64>,
    /// `postgres_exporter`: semver range of server versions to run on (`">=13.0.0 <17.0.0"`).
    #[serde(default)]
    pub runonserver: Option<String>,
    /// How often it runs; unset: `cache_seconds`, else `postgres.interval`.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Its `statement_timeout`; unset: `postgres.statement_timeout`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Databases to run it in (`"*"`: every database the tables collector visits); unset:
    /// the DSN's database.
    #[serde(default)]
    pub databases: Vec<String>,
    /// Rows one run may return; more fails the run.
    #[serde(default)]
    pub max_rows: Option<usize>,
}

/// How one column is used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// `LABEL`, `GAUGE`, `COUNTER`, `HISTOGRAM`, `MAPPEDMETRIC`, `DURATION` or `DISCARD`.
    #[serde(default)]
    pub usage: String,
    /// The metric's HELP text.
    #[serde(default)]
    pub description: String,
    /// `MAPPEDMETRIC`: text value → number.
    #[serde(default)]
    pub metric_mapping: BTreeMap<String, f64>,
    /// Server versions the column exists in; on others it is discarded.
    #[serde(default)]
    pub pg_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Usage {
    Discard,
    Label,
    Counter,
    Gauge,
    Mapped,
    Duration,
    Histogram,
}

impl Usage {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "DISCARD" => Self::Discard,
            "LABEL" => Self::Label,
            "COUNTER" => Self::Counter,
            "GAUGE" => Self::Gauge,
            "MAPPEDMETRIC" => Self::Mapped,
            "DURATION" => Self::Duration,
            "HISTOGRAM" => Self::Histogram,
            _ => return None,
        })
    }
}

#[derive(Debug)]
struct Column {
    name: String,
    usage: Usage,
    help: String,
    mapping: BTreeMap<String, f64>,
    versions: Option<VersionRange>,
}

/// Where a query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Targets {
    /// The DSN's database.
    Home,
    /// Every database the tables collector visits (a `datname` label is added).
    All,
    /// These databases (a `datname` label is added).
    List(Vec<String>),
}

/// One query, checked.
#[derive(Debug)]
pub struct QueryDef {
    /// The metric prefix and the `query` label of its self-metrics.
    pub name: String,
    /// Where it was defined (a file, or `postgres.queries[N]`).
    pub origin: String,
    sql: String,
    columns: Vec<Column>,
    interval: Duration,
    timeout: Duration,
    lock_timeout: Duration,
    versions: Option<VersionRange>,
    targets: Targets,
    max_rows: usize,
}

impl QueryDef {
    /// The metric names its declared columns export, with the column.
    fn exports(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for c in &self.columns {
            let base = format!("{}_{}", self.name, c.name);
            match c.usage {
                Usage::Discard | Usage::Label => {}
                Usage::Counter | Usage::Gauge | Usage::Mapped => out.push((base, c.name.as_str())),
                Usage::Duration => out.push((format!("{base}_milliseconds"), c.name.as_str())),
                Usage::Histogram => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        out.push((format!("{base}{suffix}"), c.name.as_str()));
                    }
                }
            }
        }
        out
    }

    /// Whether it adds a `datname` label (it runs outside the DSN's database and has no
    /// `datname` label column of its own).
    fn adds_datname(&self) -> bool {
        self.targets != Targets::Home
            && !self
                .columns
                .iter()
                .any(|c| c.usage == Usage::Label && c.name == "datname")
    }
}

/// Every custom query, checked, and the metric names they export.
#[derive(Debug, Default)]
pub struct CustomQueries {
    /// The queries, in the order defined.
    pub queries: Vec<Arc<QueryDef>>,
    /// Every metric name their declared columns export.
    pub names: HashSet<String>,
}

/// Reads `query_files` and `[[postgres.queries]]`; problems name the file or entry, the
/// query and the column. `None` when no query is configured.
pub fn load(pg: &PostgresConfig, problems: &mut Problems) -> Option<Arc<CustomQueries>> {
    if pg.query_files.is_empty() && pg.queries.is_empty() {
        return None;
    }
    let mut specs: Vec<(String, String, String, QuerySpec)> = Vec::new();
    for (i, path) in pg.query_files.iter().enumerate() {
        let key = format!("postgres.query_files[{i}]");
        let text = match crate::bounded::read_to_string(path, MAX_FILE) {
            Ok(t) => t,
            Err(e) => {
                problems.push(ConfigError::new(
                    key,
                    format!("cannot read {}: {e}", path.display()),
                ));
                continue;
            }
        };
        match serde_norway::from_str::<Option<BTreeMap<String, QuerySpec>>>(&text) {
            Ok(map) => {
                for (name, spec) in map.unwrap_or_default() {
                    let origin = path.display().to_string();
                    if spec.name.is_some() {
                        problems.push(ConfigError::new(
                            &key,
                            format!("{origin}: query {name}: `name` is the entry's key in a file"),
                        ));
                    }
                    specs.push((key.clone(), origin, name, spec));
                }
            }
            Err(e) => problems.push(ConfigError::new(key, format!("{}: {e}", path.display()))),
        }
    }
    for (i, spec) in pg.queries.iter().enumerate() {
        let key = format!("postgres.queries[{i}]");
        let Some(name) = spec.name.clone() else {
            problems.push(ConfigError::new(
                format!("{key}.name"),
                "is missing (it is the prefix of the query's metric names)",
            ));
            continue;
        };
        specs.push((key.clone(), key, name, spec.clone()));
    }

    let mut set = CustomQueries::default();
    // metric name → (query, origin, column)
    let mut owners: HashMap<String, (String, String, String)> = HashMap::new();
    for (key, origin, name, spec) in specs {
        let mut errors = Vec::new();
        let def = resolve(pg, origin.clone(), name.clone(), &spec, &mut errors);
        let at = |m: String| {
            if origin == key {
                ConfigError::new(&key, format!("query {name}: {m}"))
            } else {
                ConfigError::new(&key, format!("{origin}: query {name}: {m}"))
            }
        };
        problems.extend(errors.into_iter().map(at));
        let Some(def) = def else { continue };
        if let Some(other) = set.queries.iter().find(|q| q.name == def.name) {
            problems.push(at(format!(
                "a query of that name is already defined in {}",
                other.origin
            )));
            continue;
        }
        for (metric, column) in def.exports() {
            if let Some((collector, _)) = crate::collectors::find_metric(&metric) {
                problems.push(at(format!(
                    "column {column}: metric {metric} is already exported by the {collector} collector"
                )));
            } else if let Some((q, o, c)) = owners.get(&metric) {
                problems.push(at(format!(
                    "column {column}: metric {metric} is also defined by query {q} ({o}), column {c}"
                )));
            } else {
                owners.insert(
                    metric.clone(),
                    (def.name.clone(), def.origin.clone(), column.to_owned()),
                );
                set.names.insert(metric);
            }
        }
        set.queries.push(Arc::new(def));
    }
    Some(Arc::new(set))
}

fn resolve(
    pg: &PostgresConfig,
    origin: String,
    name: String,
    spec: &QuerySpec,
    errors: &mut Vec<String>,
) -> Option<QueryDef> {
    let before = errors.len();
    if !crate::metrics::valid_name(&name) {
        errors.push(format!(
            "{name:?} is not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ));
    }
    let sql = spec.query.trim().trim_end_matches(';').trim_end().to_owned();
    if sql.is_empty() {
        errors.push("`query` is missing or empty".into());
    }
    let mut columns: Vec<Column> = Vec::new();
    for entry in &spec.metrics {
        for (column, c) in entry {
            let usage = Usage::parse(&c.usage);
            match usage {
                None => errors.push(format!(
                    "column {column}: usage {:?} is not one of LABEL, GAUGE, COUNTER, HISTOGRAM, MAPPEDMETRIC, DURATION, DISCARD",
                    c.usage
                )),
                Some(Usage::Label) if !valid_label_name(column) => errors.push(format!(
                    "column {column}: not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                )),
                Some(Usage::Label) if column == "le" => errors.push(format!(
                    "column {column}: `le` is the histogram bucket label and cannot be a label column"
                )),
                Some(Usage::Mapped) if c.metric_mapping.is_empty() => errors.push(format!(
                    "column {column}: MAPPEDMETRIC needs metric_mapping (text value: number)"
                )),
                Some(u) if u != Usage::Label && !crate::metrics::valid_name(&format!("{name}_{column}")) => {
                    errors.push(format!("column {column}: {name}_{column} is not a valid metric name"));
                }
                _ => {}
            }
            if columns.iter().any(|k| &k.name == column) {
                errors.push(format!("column {column} is listed twice"));
            }
            let versions = match c.pg_version.as_deref().map(VersionRange::parse).transpose() {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("column {column}: pg_version: {e}"));
                    None
                }
            };
            if let Some(usage) = usage {
                columns.push(Column {
                    name: column.clone(),
                    usage,
                    help: c.description.clone(),
                    mapping: c.metric_mapping.clone(),
                    versions,
                });
            }
        }
    }
    let interval = match (spec.interval, spec.cache_seconds) {
        (Some(_), Some(_)) => {
            errors.push("set either interval or cache_seconds, not both".into());
            pg.interval
        }
        (Some(i), None) => i,
        (None, Some(s)) => Duration::from_secs(s),
        (None, None) => pg.interval,
    };
    if interval < Duration::from_secs(1) {
        errors.push("interval (or cache_seconds) must be at least 1s".into());
    }
    let timeout = spec.timeout.unwrap_or_else(|| pg.statement_timeout().min(interval));
    if timeout.is_zero() {
        errors.push("timeout must be greater than 0".into());
    } else if timeout > interval {
        errors.push(format!(
            "timeout ({}) must not be longer than the query's interval ({})",
            humantime::format_duration(timeout),
            humantime::format_duration(interval)
        ));
    }
    let versions = match spec.runonserver.as_deref().map(VersionRange::parse).transpose() {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("runonserver: {e}"));
            None
        }
    };
    let targets = if spec.databases.is_empty() {
        Targets::Home
    } else if spec.master || spec.primary {
        errors.push("`master`/`primary` runs it in the DSN's database only; remove `databases` or it".into());
        Targets::Home
    } else if spec.databases.iter().any(|d| d == "*") {
        Targets::All
    } else if spec.databases.iter().any(String::is_empty) {
        errors.push("databases: a database name is empty".into());
        Targets::Home
    } else {
        Targets::List(spec.databases.clone())
    };
    let max_rows = spec.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if !(1..=1_000_000).contains(&max_rows) {
        errors.push(format!("max_rows must be between 1 and 1000000, got {max_rows}"));
    }
    (errors.len() == before).then(|| QueryDef {
        name,
        origin,
        sql,
        columns,
        interval,
        timeout,
        lock_timeout: pg.lock_timeout().min(timeout),
        versions,
        targets,
        max_rows,
    })
}

fn valid_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    !s.starts_with("__")
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

// === server versions ===

/// A `blang/semver` range as `postgres_exporter` reads `runonserver`: comparators separated
/// by spaces (all must hold), alternatives by `||`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRange(Vec<Vec<(Op, [u64; 3])>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl VersionRange {
    /// Parses `">=10.0.0 <13.0.0 || >=15.0.0"`; the error quotes the part refused.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut any = Vec::new();
        for alt in s.split("||") {
            let mut all = Vec::new();
            for part in alt.split_whitespace() {
                let (op, rest) = [
                    (">=", Op::Ge),
                    ("<=", Op::Le),
                    ("==", Op::Eq),
                    ("!=", Op::Ne),
                    (">", Op::Gt),
                    ("<", Op::Lt),
                    ("=", Op::Eq),
                    ("!", Op::Ne),
                ]
                .iter()
                .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
                .unwrap_or((Op::Eq, part));
                let mut v = [0u64; 3];
                let nums: Vec<&str> = rest.split('.').collect();
                if nums.is_empty() || nums.len() > 3 {
                    return Err(format!("{part:?} is not a version comparison (like >=13.0.0)"));
                }
                for (i, n) in nums.iter().enumerate() {
                    v[i] = n.parse().map_err(|_| {
                        format!("{part:?} is not a version comparison (like >=13.0.0)")
                    })?;
                }
                all.push((op, v));
            }
            if all.is_empty() {
                return Err(format!("{s:?} has an empty alternative"));
            }
            any.push(all);
        }
        Ok(Self(any))
    }

    /// Whether `server_version_num` (as `SHOW server_version_num` gives it) is in range.
    pub fn contains(&self, version_num: u32) -> bool {
        let v = semver_of(version_num);
        self.0.iter().any(|all| {
            all.iter().all(|(op, w)| match op {
                Op::Eq => v == *w,
                Op::Ne => v != *w,
                Op::Gt => v > *w,
                Op::Ge => v >= *w,
                Op::Lt => v < *w,
                Op::Le => v <= *w,
            })
        })
    }
}

/// 160004 is 16.4.0 (`postgres_exporter` reads "16.4" tolerantly); 90624 is 9.6.24.
fn semver_of(n: u32) -> [u64; 3] {
    let major = u64::from(n / 10_000);
    if major >= 10 {
        [major, u64::from(n % 10_000), 0]
    } else {
        [major, u64::from(n / 100 % 100), u64::from(n % 100)]
    }
}

// === the collector ===

/// The custom queries over the shared connections.
#[derive(Debug)]
pub struct CustomCollector {
    pg: Arc<PgConnections>,
    filter: DatabaseFilter,
    queries: Vec<Arc<Running>>,
    reserved: Arc<CustomQueries>,
    /// How long a run waits for the queries it started before publishing what it has.
    grace: Duration,
}

#[derive(Debug)]
struct Running {
    def: Arc<QueryDef>,
    state: Mutex<RunState>,
}

#[derive(Debug, Default)]
struct RunState {
    next: Option<Instant>,
    task: Option<AbortHandle>,
    /// By database, the last run's outcome.
    outcomes: BTreeMap<String, Outcome>,
    errors_total: BTreeMap<String, u64>,
    /// Warnings logged, so each is logged once, not every run.
    logged: HashSet<String>,
    /// By database, the error last logged.
    failing: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Outcome {
    families: Result<Vec<Family>, String>,
    seconds: f64,
}

impl Collector for CustomCollector {
    const NAME: &'static str = "postgres_custom";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = PostgresConfig;

    fn plan(
        section: &Self::Section,
        _schedule: &Schedule,
        shared: &Shared,
        _problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let set = shared.custom.as_ref()?;
        let pg = shared.pg.as_ref()?;
        let tick = set
            .queries
            .iter()
            .map(|q| q.interval)
            .min()?
            .min(section.interval)
            .max(Duration::from_secs(1));
        Some((
            Self {
                pg: Arc::clone(pg),
                filter: DatabaseFilter::new(section),
                queries: set
                    .queries
                    .iter()
                    .map(|def| {
                        Arc::new(Running {
                            def: Arc::clone(def),
                            state: Mutex::default(),
                        })
                    })
                    .collect(),
                reserved: Arc::clone(set),
                grace: tick / 2,
            },
            tick,
        ))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let now = Instant::now();
        let mut started = Vec::new();
        for q in &self.queries {
            let mut st = lock(&q.state);
            let busy = st.task.as_ref().is_some_and(|t| !t.is_finished());
            if busy || st.next.is_some_and(|n| n > now) {
                continue;
            }
            st.next = Some(now + q.def.interval);
            let (done, wait) = oneshot::channel();
            let task = tokio::spawn(run(
                Arc::clone(&self.pg),
                self.filter.clone(),
                Arc::clone(q),
                Arc::clone(&self.reserved),
                done,
            ));
            st.task = Some(task.abort_handle());
            started.push(wait);
        }
        // Fast queries are published by this run; slow ones keep running and are published
        // by a later run.
        let _in_time =
            tokio::time::timeout(self.grace, futures_util::future::join_all(started)).await;
        let mut b = Batch::default();
        for q in &self.queries {
            let st = lock(&q.state);
            let query = q.def.name.as_str();
            for (datname, outcome) in &st.outcomes {
                let l = labels([("query", query), ("datname", datname)]);
                b.push(&QUERY_UP, l.clone(), if outcome.families.is_ok() { 1.0 } else { 0.0 });
                b.push(&QUERY_DURATION, l.clone(), outcome.seconds);
                let errors = st.errors_total.get(datname).copied().unwrap_or(0);
                #[allow(clippy::cast_precision_loss)]
                b.push(&QUERY_ERRORS, l.clone(), errors as f64);
                if let Ok(families) = &outcome.families {
                    let series: usize = families.iter().map(|f| f.samples.len()).sum();
                    #[allow(clippy::cast_precision_loss)]
                    b.push(&QUERY_SERIES, l, series as f64);
                }
            }
        }
        for q in &self.queries {
            let st = lock(&q.state);
            for outcome in st.outcomes.values() {
                if let Ok(families) = &outcome.families {
                    b.append(Batch {
                        families: families.clone(),
                        ..Batch::default()
                    });
                }
            }
        }
        Ok(b)
    }

    async fn close(&self) {
        for q in &self.queries {
            if let Some(task) = lock(&q.state).task.take() {
                task.abort();
            }
        }
    }
}

/// One run of one query in each of its databases; the outcome is stored in its state.
async fn run(
    pg: Arc<PgConnections>,
    filter: DatabaseFilter,
    q: Arc<Running>,
    reserved: Arc<CustomQueries>,
    done: oneshot::Sender<()>,
) {
    let def = &q.def;
    let targets: Result<Vec<Option<String>>, String> = match &def.targets {
        Targets::Home => Ok(vec![None]),
        Targets::List(l) => Ok(l.iter().cloned().map(Some).collect()),
        Targets::All => discover(&pg, &filter).await.map_err(|e| e.to_string()),
    };
    let targets = match targets {
        Ok(t) => t,
        Err(e) => {
            record(&q, String::new(), Err(format!("listing the databases failed: {e}")), 0.0, &[]);
            done.send(()).ok();
            return;
        }
    };
    let mut seen = Vec::new();
    for target in targets {
        let started = Instant::now();
        let result = run_in(&pg, def, target.as_deref(), &reserved).await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(Ran::Skipped) => {}
            Ok(Ran::Done {
                datname,
                families,
                warnings,
            }) => {
                record(&q, datname.clone(), Ok(families), seconds, &warnings);
                seen.push(datname);
            }
            Err(f) => {
                record(&q, f.datname.clone(), Err(f.message), seconds, &[]);
                seen.push(f.datname);
            }
        }
    }
    // A database no longer visited has no outcome any more.
    lock(&q.state).outcomes.retain(|d, _| seen.contains(d));
    done.send(()).ok();
}

fn record(
    q: &Running,
    datname: String,
    families: Result<Vec<Family>, String>,
    seconds: f64,
    warnings: &[String],
) {
    let mut st = lock(&q.state);
    let query = q.def.name.as_str();
    for w in warnings {
        if st.logged.insert(format!("{datname}: {w}")) {
            tracing::warn!(collector = "postgres_custom", query, datname, "{w}");
        }
    }
    match &families {
        Ok(_) => {
            if st.failing.remove(&datname).is_some() {
                tracing::info!(collector = "postgres_custom", query, datname, "Custom query succeeds again.");
            }
        }
        Err(message) => {
            *st.errors_total.entry(datname.clone()).or_default() += 1;
            if st.failing.get(&datname) != Some(message) {
                tracing::warn!(collector = "postgres_custom", query, datname, error = %message, "Custom query failed; the other queries still run.");
                st.failing.insert(datname.clone(), message.clone());
            }
        }
    }
    st.outcomes.insert(datname, Outcome { families, seconds });
}

/// The DSN's database, as PostgreSQL defaults it (the user's name when none is given).
fn home_database(pg: &PgConnections) -> String {
    let options = pg.options();
    options
        .get_database()
        .unwrap_or_else(|| options.get_username())
        .to_owned()
}

async fn discover(
    pg: &PgConnections,
    filter: &DatabaseFilter,
) -> Result<Vec<Option<String>>, PgError> {
    let mut session = pg.home().await?;
    let rows: Result<Vec<(String, String)>, _> = sqlx::query_as(super::queries::DISCOVER)
        .fetch_all(&mut session.conn)
        .await;
    let rows = rows.map_err(|e| PgError::query("discover databases", &e));
    if !rows.as_ref().is_err_and(PgError::is_unreachable) {
        session.release().await;
    }
    let rows = rows?;
    Ok(rows
        .into_iter()
        .filter(|(_, d)| filter.visits(d))
        .map(|(home, d)| (d != home).then_some(d))
        .collect())
}

enum Ran {
    Skipped,
    Done {
        datname: String,
        families: Vec<Family>,
        warnings: Vec<String>,
    },
}

struct Failure {
    datname: String,
    message: String,
}

async fn run_in(
    pg: &PgConnections,
    def: &QueryDef,
    database: Option<&str>,
    reserved: &CustomQueries,
) -> Result<Ran, Failure> {
    let home = home_database(pg);
    let fail = |message: String| Failure {
        datname: database.map_or_else(|| home.clone(), str::to_owned),
        message,
    };
    // Waiting for a free session delays the query (within its interval); only the query
    // itself is held to its timeout.
    let session = async {
        match database {
            None => pg.home().await,
            Some(d) => pg.database(d).await,
        }
    };
    let mut session = match tokio::time::timeout(def.interval, session).await {
        Ok(s) => s.map_err(|e| fail(e.to_string()))?,
        Err(_) => {
            return Err(fail(format!(
                "no free session within its interval ({}); postgres.max_connections is shared with the other PostgreSQL collectors",
                humantime::format_duration(def.interval)
            )))
        }
    };
    // The server cancels the statement at its timeout; this bounds a connection that
    // stopped answering (the session is then dropped, not reused).
    let Ok(result) =
        tokio::time::timeout(def.timeout + Duration::from_secs(2), query(&mut session.conn, def))
            .await
    else {
        return Err(fail(format!(
            "no answer within its timeout ({})",
            humantime::format_duration(def.timeout)
        )));
    };
    let lost = result.as_ref().is_err_and(PgError::is_unreachable);
    if !lost {
        session.release().await;
    }
    let (datname, version, rows) = result.map_err(|e| {
        fail(match e {
            PgError::Query { message, .. } => message
                .trim_start_matches("error returned from database: ")
                .to_owned(),
            e => e.to_string(),
        })
    })?;
    if def.versions.as_ref().is_some_and(|r| !r.contains(version)) {
        return Ok(Ran::Skipped);
    }
    let mut warnings = Vec::new();
    let families = families(def, version, &rows, &datname, reserved, &mut warnings).map_err(|m| Failure {
        datname: datname.clone(),
        message: m,
    })?;
    Ok(Ran::Done {
        datname,
        families,
        warnings,
    })
}

/// Runs the query read-only with its timeouts: (database, `server_version_num`, rows as
/// JSON objects). The query is one statement (the extended protocol refuses more), run in
/// its own implicit transaction, read-only by `default_transaction_read_only`; no explicit
/// transaction, so the session is never seen idle in a transaction. `RESET ALL` then gives
/// the session back as it was opened (the startup packet's settings).
async fn query(conn: &mut PgConnection, def: &QueryDef) -> Result<(String, u32, Vec<String>), PgError> {
    let name: &'static str = "custom query";
    let e = |e: sqlx::Error| PgError::query(name, &e);
    let ms = |d: Duration| d.as_millis().to_string();
    let result = async {
        let (datname, version): (String, i32) = sqlx::query_as(
            "SELECT current_database()::text, current_setting('server_version_num')::int4
             FROM (SELECT set_config('default_transaction_read_only', 'on', false),
                          set_config('statement_timeout', $1, false),
                          set_config('lock_timeout', $2, false),
                          set_config('TimeZone', 'UTC', false)) s",
        )
        .bind(ms(def.timeout))
        .bind(ms(def.lock_timeout))
        .fetch_one(&mut *conn)
        .await
        .map_err(e)?;
        let version = u32::try_from(version).unwrap_or_default();
        if def.versions.as_ref().is_some_and(|r| !r.contains(version)) {
            return Ok((datname, version, Vec::new()));
        }
        let sql = format!(
            "SELECT to_jsonb(q)::text FROM (\n{}\n) q LIMIT {}",
            def.sql,
            def.max_rows + 1
        );
        let rows: Vec<String> = sqlx::query_scalar(&sql)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await
            .map_err(e)?;
        if rows.len() > def.max_rows {
            return Err(PgError::Query {
                query: name,
                message: format!("returned more than max_rows ({}) rows", def.max_rows),
            });
        }
        Ok((datname, version, rows))
    }
    .await;
    if !result.as_ref().is_err_and(PgError::is_unreachable) {
        sqlx::query("RESET ALL").execute(&mut *conn).await.map_err(e)?;
    }
    result
}

// === rows to families ===

/// The families of one run, in the order the columns are declared (undeclared numeric
/// columns last, untyped, as `postgres_exporter` reports them). Problems that lose one
/// value go to `warnings`; rows that would give two series the same labels fail the run.
fn families(
    def: &QueryDef,
    version: u32,
    rows: &[String],
    datname: &str,
    reserved: &CustomQueries,
    warnings: &mut Vec<String>,
) -> Result<Vec<Family>, String> {
    let active: Vec<&Column> = def
        .columns
        .iter()
        .filter(|c| c.versions.as_ref().is_none_or(|r| r.contains(version)))
        .collect();
    let label_columns: Vec<&str> = active
        .iter()
        .filter(|c| c.usage == Usage::Label)
        .map(|c| c.name.as_str())
        .collect();
    // Columns a declared one consumes (histogram parts, and what is inactive here).
    let mut consumed: HashSet<String> = def.columns.iter().map(|c| c.name.clone()).collect();
    for c in active.iter().filter(|c| c.usage == Usage::Histogram) {
        for suffix in ["_bucket", "_sum", "_count"] {
            consumed.insert(format!("{}{suffix}", c.name));
        }
    }
    let mut out = Families::default();
    // Declared families first, so their order does not depend on the rows.
    for c in &active {
        let base = format!("{}_{}", def.name, c.name);
        let help = if c.help.is_empty() {
            format!("Custom query {} ({}), column {}.", def.name, def.origin, c.name)
        } else {
            c.help.clone()
        };
        match c.usage {
            Usage::Discard | Usage::Label => {}
            Usage::Counter => {
                // A counter not named …_total is served untyped, as OpenMetrics requires.
                let kind = if base.ends_with("_total") {
                    MetricKind::Counter
                } else {
                    MetricKind::Untyped
                };
                out.family(base, help, kind);
            }
            Usage::Gauge | Usage::Mapped => out.family(base, help, MetricKind::Gauge),
            Usage::Duration => out.family(format!("{base}_milliseconds"), help, MetricKind::Gauge),
            Usage::Histogram => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.family(format!("{base}{suffix}"), help.clone(), MetricKind::Untyped);
                }
            }
        }
    }
    for text in rows {
        let row: serde_json::Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| format!("a row did not decode: {e}"))?;
        let mut pairs: Vec<(std::borrow::Cow<'static, str>, Arc<str>)> = label_columns
            .iter()
            .map(|c| ((*c).to_owned().into(), Arc::from(label_value(row.get(*c)).as_str())))
            .collect();
        if def.adds_datname() {
            pairs.push(("datname".into(), Arc::from(datname)));
        }
        let row_labels: Labels = pairs.into();
        for c in &active {
            let base = format!("{}_{}", def.name, c.name);
            let value = row.get(&c.name);
            let at = |m: String| format!("column {}: {m}", c.name);
            match c.usage {
                Usage::Discard | Usage::Label => {}
                Usage::Counter | Usage::Gauge => match number(value) {
                    Some(v) => out.push(&base, row_labels.clone(), v)?,
                    None => warnings.push(at(format!("value {} is not a number", shown(value)))),
                },
                Usage::Mapped => match value.and_then(Value::as_str).and_then(|s| c.mapping.get(s)) {
                    Some(v) => out.push(&base, row_labels.clone(), *v)?,
                    None => warnings.push(at(format!("value {} is not in metric_mapping", shown(value)))),
                },
                Usage::Duration => match value.and_then(Value::as_str) {
                    Some("-1") => {}
                    Some(s) => match go_duration_ms(s) {
                        Some(ms) => out.push(&format!("{base}_milliseconds"), row_labels.clone(), ms)?,
                        None => warnings.push(at(format!("{s:?} is not a duration (like 1h2m3.5s)"))),
                    },
                    None => warnings.push(at(format!("value {} is not a duration text", shown(value)))),
                },
                Usage::Histogram => {
                    let bounds = value.and_then(Value::as_array);
                    let counts = row.get(&format!("{}_bucket", c.name)).and_then(Value::as_array);
                    let sum = number(row.get(&format!("{}_sum", c.name)));
                    let count = number(row.get(&format!("{}_count", c.name)));
                    let (Some(bounds), Some(counts), Some(sum), Some(count)) = (bounds, counts, sum, count) else {
                        warnings.push(at(format!(
                            "HISTOGRAM needs an array of bounds in {0}, an array of counts in {0}_bucket and numbers in {0}_sum and {0}_count",
                            c.name
                        )));
                        continue;
                    };
                    let mut buckets: BTreeMap<OrdF64, f64> = BTreeMap::new();
                    for (b, n) in bounds.iter().zip(counts) {
                        match (b.as_f64(), n.as_f64()) {
                            (Some(b), Some(n)) if !b.is_nan() => {
                                buckets.insert(OrdF64(b), n);
                            }
                            _ => warnings.push(at("a bucket bound or count is not a number".into())),
                        }
                    }
                    buckets.entry(OrdF64(f64::INFINITY)).or_insert(count);
                    for (le, n) in buckets {
                        let mut with_le: Vec<_> = row_labels.iter().cloned().collect();
                        with_le.push(("le".into(), Arc::from(go_g(le.0, None).as_str())));
                        out.push(&format!("{base}_bucket"), with_le.into(), n)?;
                    }
                    out.push(&format!("{base}_sum"), row_labels.clone(), sum)?;
                    out.push(&format!("{base}_count"), row_labels.clone(), count)?;
                }
            }
        }
        // Undeclared columns: untyped when numeric, as postgres_exporter reports them.
        for (column, value) in &row {
            if consumed.contains(column) || label_columns.contains(&column.as_str()) {
                continue;
            }
            let name = format!("{}_{column}", def.name);
            if !out.has(&name) {
                if !crate::metrics::valid_name(&name) {
                    warnings.push(format!("column {column}: {name} is not a valid metric name; skipped"));
                    consumed.insert(column.clone());
                    continue;
                }
                if let Some((collector, _)) = crate::collectors::find_metric(&name) {
                    warnings.push(format!("column {column}: {name} is exported by the {collector} collector; skipped"));
                    consumed.insert(column.clone());
                    continue;
                }
                if reserved.names.contains(&name) {
                    warnings.push(format!("column {column}: {name} is another query's metric; skipped"));
                    consumed.insert(column.clone());
                    continue;
                }
                if number(Some(value)).is_none() {
                    warnings.push(format!(
                        "column {column} is not declared and not a number; declare it (LABEL or DISCARD)"
                    ));
                    consumed.insert(column.clone());
                    continue;
                }
                out.family(
                    name.clone(),
                    format!("Unknown metric from {}", def.name),
                    MetricKind::Untyped,
                );
            }
            match number(Some(value)) {
                Some(v) => out.push(&name, row_labels.clone(), v)?,
                None => warnings.push(format!("column {column}: value {} is not a number", shown(Some(value)))),
            }
        }
    }
    let mut out = out.list;
    out.retain(|f| !f.samples.is_empty());
    Ok(out)
}

/// Families being built, each sample's labels checked unique within its family.
#[derive(Default)]
struct Families {
    list: Vec<Family>,
    index: HashMap<String, usize>,
    seen: Vec<HashSet<Vec<Arc<str>>>>,
}

impl Families {
    fn family(&mut self, name: String, help: String, kind: MetricKind) {
        if self.index.contains_key(&name) {
            return;
        }
        self.index.insert(name.clone(), self.list.len());
        self.list.push(Family {
            kind: kind.for_name(&name),
            name: name.into(),
            help: help.into(),
            samples: Vec::new(),
        });
        self.seen.push(HashSet::new());
    }

    fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    fn push(&mut self, name: &str, labels: Labels, value: f64) -> Result<(), String> {
        let Some(&i) = self.index.get(name) else {
            return Ok(());
        };
        let key: Vec<Arc<str>> = labels.iter().map(|(_, v)| Arc::clone(v)).collect();
        if !self.seen[i].insert(key) {
            let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            return Err(format!(
                "two rows give {name} the same labels {{{}}}; add a LABEL column that tells them apart",
                shown.join(", ")
            ));
        }
        self.list[i].samples.push(Sample { labels, value });
        Ok(())
    }
}

/// A value as `postgres_exporter` reads it: numbers, booleans (1/0), numeric text, times
/// (unix seconds); NULL is NaN.
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Null => Some(f64::NAN),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().or_else(|| timestamp(s)),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A timestamp as `to_jsonb` prints it in UTC, as unix seconds.
fn timestamp(s: &str) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    let seconds = |t: chrono::NaiveDateTime| {
        let t = t.and_utc();
        t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(seconds(t.naive_utc()));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(seconds)
}

/// A label value: text as is, numbers and booleans printed, NULL empty.
fn label_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn shown(v: Option<&Value>) -> String {
    let mut s = v.map_or_else(|| "(missing)".to_owned(), Value::to_string);
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Go's `time.ParseDuration`, in whole milliseconds as `postgres_exporter` reports it.
fn go_duration_ms(s: &str) -> Option<f64> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(digits);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += n * scale;
        rest = tail;
    }
    let ms = (nanos / 1e6).trunc();
    Some(if negative { -ms } else { ms })
}

/// A bucket bound, ordered (bounds are never NaN here).
#[derive(Debug, Clone, Copy)]
struct OrdF64(f64);
impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(yaml: &str) -> QueryDef {
        let pg = PostgresConfig {
            interval: Duration::from_secs(15),
            ..PostgresConfig::default()
        };
        let spec: QuerySpec = serde_norway::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let def = resolve(&pg, "test".into(), "q".into(), &spec, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        def.unwrap()
    }

    fn samples(families: &[Family], name: &str) -> Vec<(String, f64)> {
        families
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| &f.samples)
            .map(|s| {
                let l: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (l.join(","), s.value)
            })
            .collect()
    }

    #[test]
    fn rows_become_families_as_postgres_exporter_maps_them() {
        let d = def(
            "query: x\nmetrics:\n  - app: {usage: LABEL}\n  - idle: {usage: HISTOGRAM}\n  - n: {usage: GAUGE}\n",
        );
        let rows = [
            r#"{"app": "a", "idle": [1, 5, 1000000], "idle_bucket": [1, 2, 2], "idle_sum": 7.5, "idle_count": 3, "n": null, "extra": "3"}"#.to_owned(),
            r#"{"app": null, "idle": [1], "idle_bucket": [0], "idle_sum": 0, "idle_count": 0, "n": true, "extra": 1}"#.to_owned(),
        ];
        let mut warnings = Vec::new();
        let f = families(&d, 160_000, &rows, "postgres", &CustomQueries::default(), &mut warnings)
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let names: Vec<&str> = f.iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["q_idle_bucket", "q_idle_sum", "q_idle_count", "q_n", "q_extra"]);
        assert_eq!(
            samples(&f, "q_idle_bucket"),
            [
                ("app=a,le=1".to_owned(), 1.0),
                ("app=a,le=5".to_owned(), 2.0),
                ("app=a,le=1e+06".to_owned(), 2.0),
                ("app=a,le=+Inf".to_owned(), 3.0),
                ("app=,le=1".to_owned(), 0.0),
                ("app=,le=+Inf".to_owned(), 0.0),
            ]
        );
        assert!(samples(&f, "q_n")[0].1.is_nan());
        assert_eq!(samples(&f, "q_n")[1], ("app=".to_owned(), 1.0));
        assert_eq!(samples(&f, "q_extra"), [("app=a".to_owned(), 3.0), ("app=".to_owned(), 1.0)]);
        assert_eq!(f[4].kind, MetricKind::Untyped);

        // Two rows with the same labels fail the run, naming the family and labels.
        let twins = [r#"{"app": "a", "n": 1}"#.to_owned(), r#"{"app": "a", "n": 2}"#.to_owned()];
        let e = families(&d, 160_000, &twins, "postgres", &CustomQueries::default(), &mut warnings)
            .unwrap_err();
        assert!(e.contains("q_n") && e.contains(r#"app="a""#), "{e}");

        // An undeclared column that would take a built-in's name is skipped with a warning.
        let d = def("query: x\n");
        let mut d = d;
        d.name = "pg".into();
        let rows = [r#"{"up": 1, "mine": 2}"#.to_owned()];
        let f = families(&d, 160_000, &rows, "postgres", &CustomQueries::default(), &mut warnings)
            .unwrap();
        assert_eq!(samples(&f, "pg_mine"), [(String::new(), 2.0)]);
        assert!(samples(&f, "pg_up").is_empty());
        assert!(warnings.iter().any(|w| w.contains("pg_up is exported by the postgres collector")), "{warnings:?}");
    }

    #[test]
    fn version_ranges_read_as_postgres_exporter_does() {
        let r = VersionRange::parse(">=10.0.0 <13.0.0 || >=16.0.0").unwrap();
        assert!(r.contains(120_005));
        assert!(!r.contains(130_000));
        assert!(r.contains(160_004));
        assert!(!r.contains(90_624));
        assert!(VersionRange::parse("<9.6.24").unwrap().contains(90_623));
        assert!(!VersionRange::parse("<9.6.24").unwrap().contains(90_624));
        assert!(VersionRange::parse(">=thirteen").is_err());
        assert!(VersionRange::parse(">=13 ||").is_err());
    }

    #[test]
    fn durations_and_floats_as_go_prints_them() {
        assert_eq!(go_duration_ms("1h2m3.5s"), Some(3_723_500.0));
        assert_eq!(go_duration_ms("250us"), Some(0.0));
        assert_eq!(go_duration_ms("1500ms"), Some(1500.0));
        assert_eq!(go_duration_ms("-2s"), Some(-2000.0));
        assert_eq!(go_duration_ms("0"), Some(0.0));
        assert_eq!(go_duration_ms("00:05:00"), None);
        assert_eq!(go_duration_ms("5"), None);
        for (v, s) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (300.0, "300"),
            (100_000.0, "100000"),
            (1e6, "1e+06"),
            (1.5e6, "1.5e+06"),
            (0.0001, "0.0001"),
            (0.000_01, "1e-05"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_g(v, None), s, "{v}");
        }
    }

    #[test]
    fn values_read_as_postgres_exporter_reads_them() {
        assert_eq!(number(Some(&Value::Bool(true))), Some(1.0));
        assert_eq!(number(Some(&serde_json::json!("2.5"))), Some(2.5));
        assert!(number(Some(&Value::Null)).unwrap().is_nan());
        assert_eq!(
            number(Some(&serde_json::json!("2026-12-06T15:00:00.5+00:00"))),
            Some(1_796_569_200.5)
        );
        assert_eq!(number(Some(&serde_json::json!("idle"))), None);
        assert_eq!(label_value(Some(&serde_json::json!(5))), "5");
        assert_eq!(label_value(Some(&Value::Null)), "");
    }
}
