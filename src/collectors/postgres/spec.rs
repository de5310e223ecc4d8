//! What every view of the `postgres` collector reads with: the server's facts, the session,
//! and the version spec that picks each figure's column by `server_version_num`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row as _;

use super::{DatabaseFilter, PgError};
use crate::metrics::{Batch, Labels, MetricDesc};
use crate::sync::lock;

/// What the identity query found, once per run, before any view is read.
#[derive(Debug, Clone)]
pub struct Server {
    /// `server_version_num`, e.g. `170_002`.
    pub version: i32,
    /// In recovery (a replica).
    pub replica: bool,
    /// When the server started (Unix seconds): a restart resets "logged once" notes.
    pub started: f64,
    /// The session may list the archive status directory (`pg_ls_archive_statusdir()` on
    /// 15+, `pg_ls_dir` before): `pg_monitor` or a superuser.
    pub reads_archive_status: bool,
    /// `pg_stat_statements` is installed in the DSN's database and loaded
    /// (`shared_preload_libraries`), so its view can be read without an error.
    pub reads_statements: bool,
}

/// One run's session, server facts and filters, handed to each view in turn.
pub struct Ctx<'a> {
    /// The home session.
    pub conn: &'a mut PgConnection,
    /// The server's version and role.
    pub server: &'a Server,
    /// Which databases per-database series cover.
    pub filter: &'a DatabaseFilter,
    /// Earlier runs' counter samples, for rates.
    pub history: &'a History,
    /// Where `pg_wal` is seen from here, when configured (`postgres.wal_directory`).
    pub wal_directory: Option<&'a std::path::Path>,
    /// The server's TLS endpoint (TCP connections), to read the certificate it presents.
    pub served_tls: Option<&'a crate::collectors::certs::Endpoint>,
    /// The heartbeat table (`postgres.heartbeat_table`), when replication is measured so.
    pub heartbeat_table: Option<&'a str>,
    notes: &'a Notes,
}

impl<'a> Ctx<'a> {
    /// A context for one run.
    pub fn new(
        conn: &'a mut PgConnection,
        server: &'a Server,
        filter: &'a DatabaseFilter,
        history: &'a History,
        notes: &'a Notes,
    ) -> Self {
        Self {
            conn,
            server,
            filter,
            history,
            wal_directory: None,
            served_tls: None,
            heartbeat_table: None,
            notes,
        }
    }

    /// Every row of `sql`; `what` names the query in errors.
    pub async fn rows(&mut self, what: &'static str, sql: &str) -> Result<Vec<PgRow>, PgError> {
        sqlx::query(sql)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| PgError::query(what, &e))
    }

    /// Every row of `sql` as tuples (every column cast in SQL to `float8`, `text` or `bool`).
    pub async fn rows_as<T>(&mut self, what: &'static str, sql: &str) -> Result<Vec<T>, PgError>
    where
        T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        sqlx::query_as(sql)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| PgError::query(what, &e))
    }

    /// Logs `message` once per server start under `key` (a fact about the server, such as
    /// a missing privilege, that would otherwise repeat every interval).
    pub fn note_once(&self, key: &'static str, message: &str) {
        if self.notes.first(key, self.server.started) {
            tracing::warn!(collector = "postgres", "{message}");
        }
    }
}

/// Keys already logged, for the server start they were logged under.
#[derive(Debug, Default)]
pub struct Notes(Mutex<(f64, HashSet<&'static str>)>);

impl Notes {
    fn first(&self, key: &'static str, started: f64) -> bool {
        let mut notes = lock(&self.0);
        if notes.0 != started {
            *notes = (started, HashSet::new());
        }
        notes.1.insert(key)
    }
}

/// Samples of counters across runs, by name, to give their rate; and what a view checks
/// less often than every run, with when it last did.
#[derive(Debug, Default)]
pub struct History {
    /// Samples of each counter or gauge, oldest first, within its window.
    samples: Mutex<HashMap<&'static str, VecDeque<(Instant, f64)>>>,
    /// Each occasional check: when it last ran and what it found.
    checks: Mutex<HashMap<&'static str, (Instant, Option<f64>)>>,
    /// `pg_stat_statements` totals (calls, seconds) by query id at the last run.
    statements: Mutex<HashMap<i64, (f64, f64)>>,
}

impl History {
    /// Records `value` of counter `key` now and returns its rate per second over the
    /// samples of the last `window`; `None` until there are two. A counter that wraps at
    /// `modulus` is unwrapped; one that goes back otherwise (another server, a restore)
    /// starts over.
    pub fn rate(
        &self,
        key: &'static str,
        value: f64,
        modulus: Option<f64>,
        window: Duration,
    ) -> Option<f64> {
        let now = Instant::now();
        let mut all = lock(&self.samples);
        let samples = all.entry(key).or_default();
        let value = match (samples.back(), modulus) {
            (Some(&(_, last)), Some(m)) => last + (value - last.rem_euclid(m)).rem_euclid(m),
            _ => value,
        };
        if samples.back().is_some_and(|&(_, last)| value < last) {
            samples.clear();
        }
        change_per_second(samples, now, value, window)
    }

    /// The `top` statements whose time grew most (by 10 ms or more) since the last call, as
    /// (query id, calls, seconds) grown; `statements` are (query id, calls, seconds) totals now. Nothing on
    /// the first call.
    pub fn statement_growth(&self, statements: Vec<(i64, f64, f64)>, top: usize) -> Vec<(i64, f64, f64)> {
        let mut before = lock(&self.statements);
        let first = before.is_empty();
        let mut grown: Vec<(i64, f64, f64)> = statements
            .iter()
            .filter_map(|(id, calls, secs)| {
                let (c0, s0) = before.get(id).copied().unwrap_or((0.0, 0.0));
                // Under 10 ms over an interval is noise (centinela's own reads among it).
                (*secs - s0 >= 0.01).then(|| (*id, (calls - c0).max(0.0), secs - s0))
            })
            .collect();
        *before = statements.into_iter().map(|(id, c, s)| (id, (c, s))).collect();
        if first {
            return Vec::new();
        }
        grown.sort_by(|a, b| b.2.total_cmp(&a.2));
        grown.truncate(top);
        grown
    }

    /// Whether check `key` is due: the first time, and once `every` has passed since.
    pub fn due(&self, key: &'static str, every: Duration) -> bool {
        let all = lock(&self.checks);
        all.get(key)
            .is_none_or(|(at, _)| at.elapsed() >= every)
    }

    /// Records the outcome of check `key` (now); `None` until it is first recorded.
    pub fn record(&self, key: &'static str, value: Option<f64>) {
        lock(&self.checks).insert(key, (Instant::now(), value));
    }

    /// The last recorded outcome of check `key`.
    pub fn last(&self, key: &'static str) -> Option<f64> {
        lock(&self.checks).get(key).and_then(|(_, v)| *v)
    }

    /// Records gauge `key` now and returns how fast it changed per second over the last
    /// `window` (negative when it fell); `None` until there are two samples.
    pub fn slope(&self, key: &'static str, value: f64, window: Duration) -> Option<f64> {
        let now = Instant::now();
        let mut all = lock(&self.samples);
        change_per_second(all.entry(key).or_default(), now, value, window)
    }
}

/// Adds `value` at `now` to `samples`, drops those older than `window` (keeping two), and
/// returns the change per second from the oldest kept; `None` until there are two.
fn change_per_second(
    samples: &mut VecDeque<(Instant, f64)>,
    now: Instant,
    value: f64,
    window: Duration,
) -> Option<f64> {
    samples.push_back((now, value));
    while samples.len() > 2
        && samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > window)
    {
        samples.pop_front();
    }
    let (t0, v0) = *samples.front()?;
    let seconds = now.duration_since(t0).as_secs_f64();
    (samples.len() >= 2 && seconds > 0.0).then(|| (value - v0) / seconds)
}

/// A figure read from a view whose columns moved between versions: for each version range
/// (from its first `server_version_num`), the expression, or `None` where the server does
/// not have it.
pub struct Versioned {
    /// The metric the figure is exported as.
    pub desc: &'static MetricDesc,
    /// `(since, expression)`, oldest first.
    pub forms: &'static [(i32, Option<&'static str>)],
}

impl Versioned {
    /// The expression for a server of `version`.
    pub fn expr(&self, version: i32) -> Option<&'static str> {
        self.forms
            .iter()
            .rev()
            .find(|(since, _)| version >= *since)
            .and_then(|(_, e)| *e)
    }
}

/// The figures of `spec` a server of `version` has, and their `SELECT` list (each as
/// float8, in the same order).
pub fn select_list(spec: &[Versioned], version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, exprs): (Vec<_>, Vec<_>) = spec
        .iter()
        .filter_map(|v| v.expr(version).map(|e| (v.desc, format!("({e})::float8"))))
        .unzip();
    (descs, exprs.join(", "))
}

/// The floats of `row` from column `first` on, one per `descs`; `None` where the server
/// gave NULL (no value on this server).
pub fn floats(
    row: &PgRow,
    first: usize,
    count: usize,
    what: &'static str,
) -> Result<Vec<Option<f64>>, PgError> {
    (first..first + count)
        .map(|i| row.try_get(i).map_err(|e| PgError::query(what, &e)))
        .collect()
}

/// Pushes the floats of `row` from column `first` on, one per `descs`, under `l`; a NULL
/// gives no sample.
pub fn push_floats(
    row: &PgRow,
    first: usize,
    descs: &[&'static MetricDesc],
    l: &Labels,
    what: &'static str,
    b: &mut Batch,
) -> Result<(), PgError> {
    for (desc, value) in descs.iter().zip(floats(row, first, descs.len(), what)?) {
        if let Some(v) = value {
            b.push(desc, Arc::clone(l), v);
        }
    }
    Ok(())
}

/// A text column of `row`.
pub fn text(row: &PgRow, i: usize, what: &'static str) -> Result<String, PgError> {
    row.try_get(i).map_err(|e| PgError::query(what, &e))
}

/// A number (a boolean as 0 or 1) of a row read through `to_jsonb(row)::text`, as the
/// PostgreSQL 19 views are (written from the release notes): a column missing or renamed
/// gives no sample instead of an error.
pub fn json_number(row: &serde_json::Value, key: &str) -> Option<f64> {
    match &row[key] {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Rows of `sql`, one `to_jsonb(..)::text` column each, parsed.
pub async fn json_rows(
    cx: &mut Ctx<'_>,
    what: &'static str,
    sql: &str,
) -> Result<Vec<serde_json::Value>, PgError> {
    let rows: Vec<(String,)> = cx.rows_as(what, sql).await?;
    rows.into_iter()
        .map(|(text,)| {
            serde_json::from_str(&text).map_err(|e| PgError::Query {
                query: what,
                message: format!("not JSON: {e}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_unwrap_a_wrapping_counter_and_start_over_when_one_goes_back() {
        let h = History::default();
        let w = Duration::from_secs(3600);
        assert_eq!(h.rate("x", 4_294_967_000.0, Some(4_294_967_296.0), w), None);
        std::thread::sleep(Duration::from_millis(20));
        let r = h.rate("x", 100.0, Some(4_294_967_296.0), w).unwrap();
        // 396 IDs in about 20 ms.
        assert!(r > 396.0 / 1.0 && r < 396.0 / 0.015, "{r}");
        assert_eq!(h.rate("y", 50.0, None, w), None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(h.rate("y", 60.0, None, w).unwrap() > 0.0);
        // Backwards without a modulus: another server; only the new sample is kept.
        assert_eq!(h.rate("y", 10.0, None, w), None);
    }
}
