//! `postgres` and `postgres_tables` collectors.
//!
//! `postgres` (every `interval`) reads the server's identity, then each view in the
//! `views!` list below: one file per view, with its SQL chosen by server version, its
//! metric descriptors and its read. A view that fails is reported by
//! `centinela_pg_view_up{view} 0` and the others are still exported; only a lost
//! connection fails the whole run (`pg_up 0`). `postgres_tables` (every `slow_interval`)
//! is in [`tables`].

pub mod custom;
mod pool;
pub mod queries;
mod roles;
mod sequences;
pub mod server_log;
mod spec;
pub mod tables;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytesize::ByteSize;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{CollectError, Collector, Schedule, Shared};
use crate::config::check::{secret, ConfigError, Invalid, Problems};
use crate::metrics::catalog::{concat, total};
use crate::metrics::{labels, Batch, MetricDesc};
use crate::sync::lock;
pub use custom::CustomCollector;
pub use pool::{PgConnections, PgSession};
pub use server_log::ServerLogCollector;
use spec::{Ctx, History, Notes};
pub use tables::TablesCollector;

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[postgres]
# Connection string. Also: dsn_file = "/run/secrets/pg-dsn". With neither, DATABASE_URL,
# then the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE.
# dsn = "postgres://centinela@127.0.0.1:5432/postgres?sslmode=prefer"
# Activity, connections, locks, archiver, replication.
interval = "15s"
# Tables, indexes, database sizes, statements: they stat files, so they run less often.
slow_interval = "5m"
# Set on every session centinela opens, so a monitoring query never runs long or waits
# long behind another session's lock. Unset, statement_timeout is 5s, or half the interval
# when the interval is 5s or shorter; lock_timeout is 1s, or the statement timeout when
# that is shorter.
# statement_timeout = "5s"
# lock_timeout = "1s"
# Hard cap on the sessions centinela itself holds open.
max_connections = 2
# Databases to read tables and indexes from: "*" discovers every database that allows
# connections. Per-database activity, locks and xid age cover every database not excluded.
databases = ["*"]
exclude_databases = ["template0", "template1"]
# Tables per database that get their own series (largest first); the rest are summed into
# relname="__other__".
max_tables_per_database = 1000
# Unused index: non-unique, non-primary, fewer scans than this ...
unused_index_max_scans = 100
# ... and larger than this.
unused_index_min_size = "10MiB"
# Tables whose dead rows exceed this share of live rows ...
bloat_min_dead_ratio = 0.1
# ... and this count always get their own series, whatever the table cap.
bloat_min_dead_tuples = 10000
# Sequences that have used more than this share of their range (the smaller of the
# sequence's and its column's type) get a series.
sequence_min_used_ratio = 0.75
# pg_stat_statements: statements with a mean time above this ...
slow_statement_threshold = "1s"
# ... at most this many, slowest first.
slow_statement_limit = 10
# The share of the database's statement time centinela may take (pg_stat_statements);
# above it, the default rule CentinelaDatabaseCostHigh fires.
cost_budget = 0.005
# Replication truth by heartbeat (opt-in): the primary writes the time into one row of this
# table every interval (created if missing and allowed), and every server reads its age.
# heartbeat_table = "public.centinela_heartbeat"
# Where pg_wal is mounted in centinela's container, for the WAL runway (free space and time
# until full); unset: the server's data_directory/pg_wal, when centinela sees that path.
# wal_directory = "/var/lib/postgresql/data/pg_wal"
# The server's own log, counted by class (collector postgres_server_log); see the README,
# "The server log, classified". path is a glob; format: stderr, csvlog or jsonlog.
# [postgres.server_log]
# path = "/var/lib/postgresql/data/log/postgresql-*.log"
# format = "stderr"
# Your own SQL, in postgres_exporter's queries.yaml format (collector postgres_custom).
# Each query runs read-only on its own schedule; see the README, "Custom queries".
query_files = []
# Or inline, the same keys plus `name` (the metric prefix):
# [[postgres.queries]]
# name = "app_orders"
# query = "SELECT status, count(*) AS total FROM orders GROUP BY status"
# interval = "1m"
# metrics = [{ status = { usage = "LABEL" } }, { total = { usage = "GAUGE", description = "Orders by status." } }]
"#;

/// This module's part of the configuration: `postgres`.
pub type Section = PostgresConfig;

/// `[postgres]`: the connection and both PostgreSQL collectors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connection string; a secret, never printed.
    pub dsn: Option<SecretString>,
    /// File holding the connection string (a mounted Secret).
    pub dsn_file: Option<PathBuf>,
    /// Interval of the fast collector (activity, locks, archiver, replication).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Interval of the tables collector (tables, indexes, sizes, statements).
    #[serde(with = "humantime_serde")]
    pub slow_interval: Duration,
    /// Set on every session; unset: see [`PostgresConfig::statement_timeout`].
    #[serde(default, with = "humantime_serde")]
    pub statement_timeout: Option<Duration>,
    /// Set on every session; unset: see [`PostgresConfig::lock_timeout`].
    #[serde(default, with = "humantime_serde")]
    pub lock_timeout: Option<Duration>,
    /// Hard cap on the sessions centinela opens.
    pub max_connections: u32,
    /// Databases to visit; `"*"` discovers every database that allows connections.
    pub databases: Vec<String>,
    /// Databases never visited nor reported.
    pub exclude_databases: Vec<String>,
    /// Tables per database with series of their own; the rest are summed.
    pub max_tables_per_database: usize,
    /// An index with fewer scans than this ...
    pub unused_index_max_scans: i64,
    /// ... and larger than this is unused.
    pub unused_index_min_size: ByteSize,
    /// Tables whose dead rows exceed this share of live rows ...
    pub bloat_min_dead_ratio: f64,
    /// ... and this count always get their own series.
    pub bloat_min_dead_tuples: i64,
    /// Sequences past this share of their range get a series.
    pub sequence_min_used_ratio: f64,
    /// `pg_stat_statements`: statements slower than this on average ...
    #[serde(with = "humantime_serde")]
    pub slow_statement_threshold: Duration,
    /// ... at most this many, slowest first.
    pub slow_statement_limit: u32,
    /// The share of database time centinela may take.
    pub cost_budget: f64,
    /// `schema.table` of the heartbeat row; unset: no heartbeat.
    #[serde(default)]
    pub heartbeat_table: Option<String>,
    /// Where `pg_wal` is seen from centinela; unset: `data_directory/pg_wal`.
    #[serde(default)]
    pub wal_directory: Option<PathBuf>,
    /// Files of custom queries in `postgres_exporter`'s `queries.yaml` format.
    #[serde(default)]
    pub query_files: Vec<PathBuf>,
    /// Custom queries given inline (`[[postgres.queries]]`).
    #[serde(default)]
    pub queries: Vec<custom::QuerySpec>,
    /// The server's own log (`[postgres.server_log]`).
    #[serde(default)]
    pub server_log: server_log::ServerLogConfig,
}

impl PostgresConfig {
    /// The usual `statement_timeout` when none is set.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The usual `lock_timeout` when none is set.
    pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(1);

    /// The `statement_timeout` in force. Unset, it follows `interval`: 5s when that is
    /// shorter than the interval, else half the interval, and never shorter than a
    /// `lock_timeout` that is set (while that stays under the interval). So a short
    /// `interval` alone is never refused because of a default.
    #[must_use]
    pub fn statement_timeout(&self) -> Duration {
        if let Some(t) = self.statement_timeout {
            return t;
        }
        let derived = if Self::DEFAULT_STATEMENT_TIMEOUT < self.interval {
            Self::DEFAULT_STATEMENT_TIMEOUT
        } else {
            self.interval / 2
        };
        match self.lock_timeout {
            Some(lock) if lock > derived && lock < self.interval => lock,
            _ => derived,
        }
    }

    /// The `lock_timeout` in force. Unset: 1s, or the statement timeout when that is
    /// shorter.
    #[must_use]
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
            .unwrap_or_else(|| Self::DEFAULT_LOCK_TIMEOUT.min(self.statement_timeout()))
    }
}

// === views ===

/// Registers the views of the `postgres` collector, read in this order after the identity:
/// one file each (its SQL, its metric descriptors, `read`), one line here.
macro_rules! views {
    ($($view:ident),* $(,)?) => {
        mod server;
        $(mod $view;)*

        const PARTS: &[&[&MetricDesc]] = &[server::METRICS, $($view::METRICS),*];

        /// Every metric the `postgres` collector can export, in catalogue order.
        pub static METRICS: &[&MetricDesc] = &concat::<{ total(PARTS) }>(PARTS);

        /// Reads every view into `b`; a view that fails is recorded in `views`, a lost
        /// connection ends the run.
        async fn read_views(
            cx: &mut Ctx<'_>,
            b: &mut Batch,
            views: &mut Vec<(&'static str, Result<(), PgError>)>,
        ) -> Result<(), PgError> {
            $(
                match $view::read(cx).await {
                    Ok(Some(part)) => {
                        b.families.extend(part.families);
                        b.evidence.extend(part.evidence);
                        views.push((stringify!($view), Ok(())));
                    }
                    Ok(None) => {}
                    Err(e) if e.is_unreachable() => return Err(e),
                    Err(e) => views.push((stringify!($view), Err(e))),
                }
            )*
            Ok(())
        }
    };
}

views! {
    settings,
    activity,
    locks,
    database,
    bgwriter,
    wal,
    archiver,
    receiver,
    standbys,
    slots,
    io,
    vacuum,
    wraparound,
    wal_runway,
    own_cost,
    on_disk,
    evidence,
    heartbeat,
}

/// What can go wrong talking to PostgreSQL. No variant carries the DSN.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The connection failed.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// The connection did not finish in time.
    #[error("connecting to PostgreSQL timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// Connecting is paused after a failure.
    #[error("not connecting for another {wait:.1?} after the last failure ({last})")]
    Backoff {
        /// Until the next attempt.
        wait: Duration,
        /// The failure that started the pause.
        last: String,
    },
    /// A query failed.
    #[error("query {query} failed: {message}")]
    Query {
        /// Which query.
        query: &'static str,
        /// PostgreSQL's message.
        message: String,
    },
    /// The connection broke during a query (the server stopped or the network failed).
    #[error("connection to PostgreSQL lost during query {query}: {message}")]
    Lost {
        /// Which query.
        query: &'static str,
        /// The I/O error.
        message: String,
    },
    /// Every database visited failed.
    #[error("every database failed; last: {0}")]
    AllDatabases(String),
    /// The DSN file cannot be read.
    #[error("cannot read postgres.dsn_file {path}: {message}")]
    DsnFile {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The connection settings do not parse.
    #[error("postgres connection settings are invalid")]
    Options,
    /// The connection set was closed.
    #[error("connection set closed")]
    Closed,
}

impl PgError {
    fn connect(e: &sqlx::Error) -> Self {
        Self::Connect(e.to_string())
    }

    /// A failed query, named: [`PgError::Lost`] when the connection broke under it.
    pub fn query(query: &'static str, e: &sqlx::Error) -> Self {
        let message = e.to_string();
        match e {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) => Self::Lost { query, message },
            _ => Self::Query { query, message },
        }
    }

    /// True when PostgreSQL itself could not be reached (as opposed to a query failing).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Connect(_) | Self::ConnectTimeout(_) | Self::Backoff { .. } | Self::Lost { .. }
        )
    }
}

/// Which databases the tables collector visits.
#[derive(Debug, Clone)]
pub struct DatabaseFilter {
    all: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl DatabaseFilter {
    /// Which databases to visit and report, from `[postgres]`.
    pub fn new(config: &PostgresConfig) -> Self {
        Self {
            all: config.databases.iter().any(|d| d == "*"),
            include: config.databases.clone(),
            exclude: config.exclude_databases.clone(),
        }
    }

    /// Whether the tables collector visits `datname`.
    pub fn visits(&self, datname: &str) -> bool {
        self.reports(datname) && (self.all || self.include.iter().any(|d| d == datname))
    }

    /// Whether server-level per-database series (activity, locks, xid age) include
    /// `datname`: every database not excluded, since they cost no visit.
    pub fn reports(&self, datname: &str) -> bool {
        !self.exclude.iter().any(|d| d == datname)
    }
}

/// Connection options from the configuration: `dsn`, `dsn_file`, `DATABASE_URL`, then the
/// libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE).
/// `dsn` is the configured one, already read and checked by [`check`].
pub fn connect_options(
    config: &PostgresConfig,
    dsn: Option<SecretString>,
) -> Result<PgConnectOptions, PgError> {
    let dsn = dsn.or_else(|| std::env::var("DATABASE_URL").ok().map(Into::into));
    let options = match dsn {
        Some(dsn) => dsn
            .expose_secret()
            .parse::<PgConnectOptions>()
            .map_err(|_| PgError::Options)?,
        None => PgConnectOptions::new(),
    };
    let ms = |d: Duration| d.as_millis().to_string();
    Ok(options.application_name("centinela").options([
        ("statement_timeout", ms(config.statement_timeout())),
        ("lock_timeout", ms(config.lock_timeout())),
    ]))
}

/// The shared connection set for both PostgreSQL collectors.
pub fn connections(
    config: &PostgresConfig,
    dsn: Option<SecretString>,
) -> Result<Arc<PgConnections>, PgError> {
    Ok(Arc::new(PgConnections::new(
        connect_options(config, dsn)?,
        config.max_connections,
        config.interval / 2,
    )))
}

/// Server-level figures, every `interval`, over the one kept-open session.
#[derive(Debug)]
pub struct PostgresCollector {
    pg: Arc<PgConnections>,
    filter: DatabaseFilter,
    /// Boxed: the collectors' enum stays small.
    history: Box<History>,
    wal_directory: Option<PathBuf>,
    cost_budget: f64,
    served_tls: Option<Box<super::certs::Endpoint>>,
    heartbeat_table: Option<String>,
    notes: Notes,
    /// The last error of each failing view, so each is logged once, not every run.
    view_errors: Mutex<HashMap<&'static str, String>>,
}

// === impl PostgresCollector ===

impl PostgresCollector {
    /// The collector over the shared connections.
    pub fn new(pg: Arc<PgConnections>, config: &PostgresConfig) -> Self {
        Self {
            served_tls: served_endpoint(pg.options()).map(Box::new),
            pg,
            filter: DatabaseFilter::new(config),
            history: Box::default(),
            wal_directory: config.wal_directory.clone(),
            cost_budget: config.cost_budget,
            heartbeat_table: config.heartbeat_table.clone(),
            notes: Notes::default(),
            view_errors: Mutex::new(HashMap::new()),
        }
    }

    async fn read(&self, conn: &mut PgConnection) -> Result<Batch, PgError> {
        let (server, mut b) = server::identity(conn).await?;
        let mut views = Vec::new();
        let mut cx = Ctx::new(conn, &server, &self.filter, &self.history, &self.notes);
        cx.wal_directory = self.wal_directory.as_deref();
        cx.served_tls = self.served_tls.as_deref();
        cx.heartbeat_table = self.heartbeat_table.as_deref();
        read_views(&mut cx, &mut b, &mut views).await?;
        let failed = views.iter().any(|(_, r)| r.is_err());
        let mut errors = lock(&self.view_errors);
        for (view, result) in &views {
            b.push(
                &server::VIEW_UP,
                labels([("view", view)]),
                if result.is_ok() { 1.0 } else { 0.0 },
            );
            match result {
                Ok(()) => {
                    if errors.remove(view).is_some() {
                        tracing::info!(collector = "postgres", view, "View read again.");
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    if errors.get(view) != Some(&message) {
                        tracing::warn!(collector = "postgres", view, error = %message, "View not read; the other views are.");
                        errors.insert(view, message);
                    }
                }
            }
        }
        b.set(&server::PG_LAST_SCRAPE_ERROR, if failed { 1.0 } else { 0.0 });
        b.set(&own_cost::BUDGET, self.cost_budget);
        Ok(b)
    }
}

impl Collector for PostgresCollector {
    const NAME: &'static str = "postgres";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;

    fn plan(
        section: &Self::Section,
        _schedule: &Schedule,
        shared: &Shared,
        _problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let pg = shared.pg.as_ref()?;
        Some((Self::new(Arc::clone(pg), section), section.interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let mut session = self.pg.home().await?;
        let result = self.read(&mut session.conn).await;
        // A session whose query failed is still healthy and kept; one that lost its
        // connection is dropped.
        if !result.as_ref().is_err_and(PgError::is_unreachable) {
            session.release().await;
        }
        Ok(result?)
    }

    async fn close(&self) {
        self.pg.close_idle().await;
    }

    /// `pg_up` stays in the output when PostgreSQL cannot be reached, as 0; a query that
    /// failed on a reachable server keeps `pg_up 1` and fails the collector.
    fn on_failure(&self, error: &CollectError) -> Batch {
        let mut b = Batch::default();
        let unreachable = match error {
            CollectError::Postgres(e) => e.is_unreachable(),
            CollectError::Timeout(_) => true,
            _ => false,
        };
        b.set(&server::PG_UP, if unreachable { 0.0 } else { 1.0 });
        b.set(&server::PG_LAST_SCRAPE_ERROR, 1.0);
        b
    }
}

/// The server's own TLS endpoint when the DSN reaches it over TCP, whatever its sslmode:
/// the certificate it presents is compared with the one on disk.
fn served_endpoint(options: &PgConnectOptions) -> Option<super::certs::Endpoint> {
    let host = options.get_host();
    if options.get_socket().is_some() || host.starts_with('/') {
        return None;
    }
    let port = options.get_port();
    Some(super::certs::Endpoint {
        source: format!("{host}:{port}"),
        host: host.to_owned(),
        port,
        server_name: host.to_owned(),
        starttls: Some(super::certs::StartTls::Postgres),
        tls_optional: true,
    })
}

/// Checks `[postgres]`; returns the configured DSN, read once (none: libpq's defaults).
pub fn check(pg: &PostgresConfig, errors: &mut Problems) -> Option<SecretString> {
    let mut err = |key: &str, msg: String| errors.push(ConfigError::new(key, msg));
    let dsn = match secret(
        ("postgres.dsn", pg.dsn.as_ref()),
        ("postgres.dsn_file", pg.dsn_file.as_deref()),
        check_dsn,
    ) {
        Ok(dsn) => dsn,
        Err(e) => {
            err(&e.key, e.message);
            None
        }
    };
    // Without dsn or dsn_file, DATABASE_URL is the connection string: checked the same way,
    // so check-config does not pass what run then refuses.
    if pg.dsn.is_none() && pg.dsn_file.is_none() {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            if let Err(e) = check_dsn(&url) {
                err("DATABASE_URL (environment)", e.to_string());
            }
        }
    }
    for (key, value) in [
        ("postgres.interval", pg.interval),
        ("postgres.slow_interval", pg.slow_interval),
        // Unset timeouts follow `interval`; only a set one can be zero by itself.
        (
            "postgres.statement_timeout",
            pg.statement_timeout.unwrap_or(Duration::MAX),
        ),
        ("postgres.lock_timeout", pg.lock_timeout.unwrap_or(Duration::MAX)),
        (
            "postgres.slow_statement_threshold",
            pg.slow_statement_threshold,
        ),
    ] {
        if value.is_zero() {
            err(key, "must be greater than 0".into());
        }
    }
    if pg.interval < Duration::from_secs(1) && !pg.interval.is_zero() {
        err("postgres.interval", "must be at least 1s".into());
    }
    // Only what is set can conflict: the defaults follow `interval`.
    if pg.statement_timeout.is_some_and(|t| t >= pg.interval) && !pg.interval.is_zero() {
        err(
            "postgres.statement_timeout",
            format!(
                "must be shorter than postgres.interval ({}), or a slow statement delays the next run",
                humantime::format_duration(pg.interval)
            ),
        );
    }
    if pg.lock_timeout() > pg.statement_timeout() {
        err(
            "postgres.lock_timeout",
            "must not be longer than postgres.statement_timeout".into(),
        );
    }
    if pg.max_connections == 0 {
        err("postgres.max_connections", "must be at least 1".into());
    }
    if pg.databases.is_empty() {
        err(
            "postgres.databases",
            "must list at least one database, or \"*\"".into(),
        );
    }
    if pg.max_tables_per_database == 0 {
        err(
            "postgres.max_tables_per_database",
            "must be at least 1".into(),
        );
    }
    if pg.unused_index_max_scans < 0 {
        err(
            "postgres.unused_index_max_scans",
            format!("must be >= 0, got {}", pg.unused_index_max_scans),
        );
    }
    if !(0.0..=100.0).contains(&pg.bloat_min_dead_ratio) {
        err(
            "postgres.bloat_min_dead_ratio",
            format!("must be between 0 and 100, got {}", pg.bloat_min_dead_ratio),
        );
    }
    if !(0.0..=1.0).contains(&pg.sequence_min_used_ratio) {
        err(
            "postgres.sequence_min_used_ratio",
            format!("must be between 0 and 1, got {}", pg.sequence_min_used_ratio),
        );
    }
    if let Some(t) = &pg.heartbeat_table {
        let ident = |p: &str| {
            let mut c = p.chars();
            c.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let parts: Vec<&str> = t.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| ident(p)) {
            err(
                "postgres.heartbeat_table",
                format!("{t:?} is not a table name (schema.table, lower-case letters, digits and _)"),
            );
        }
    }
    if !(pg.cost_budget > 0.0 && pg.cost_budget <= 1.0) {
        err(
            "postgres.cost_budget",
            format!("must be above 0 and at most 1 (a share), got {}", pg.cost_budget),
        );
    }
    if pg.slow_statement_limit == 0 || pg.slow_statement_limit > 1000 {
        err(
            "postgres.slow_statement_limit",
            format!(
                "must be between 1 and 1000, got {}",
                pg.slow_statement_limit
            ),
        );
    }
    dsn
}

/// Parses a DSN without ever echoing it: parser messages can quote the input.
fn check_dsn(dsn: &str) -> Result<(), Invalid> {
    const EXPECTED: &str =
        "not a valid PostgreSQL connection URL (postgres://user:password@host:port/database?sslmode=…)";
    if !(dsn.starts_with("postgres://") || dsn.starts_with("postgresql://")) {
        return Err(EXPECTED.into());
    }
    dsn.parse::<PgConnectOptions>()
        .map(|_| ())
        .map_err(|_| EXPECTED.into())
}
