//! `postgres` and `postgres_tables` collectors.
//!
//! `postgres` (every `interval`) exports `pg_up`, `pg_static`, `pg_postmaster_start_time_seconds`,
//! `pg_replication_is_replica`, `pg_replication_lag_seconds`, `pg_settings_*`,
//! `pg_stat_activity_count`, `pg_stat_activity_max_tx_duration`, `pg_lock_waiting_sessions`,
//! `pg_locks_count`, `pg_database_xid_age`, `pg_stat_archiver_*` and `pg_replication_slots_*`.
//! `postgres_tables` (every `slow_interval`) is in [`tables`].

mod pool;
pub mod queries;
pub mod tables;

use serde::Deserialize;
use std::path::PathBuf;
use bytesize::ByteSize;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{CollectError, Collector, Schedule, Shared};
use secrecy::SecretString;
use crate::metrics::MetricDesc;
use crate::config::check::{secret, ConfigError, Invalid, Problems};
use crate::metrics::{labels, Batch};
pub use pool::{PgConnections, PgSession};
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
# pg_stat_statements: statements with a mean time above this ...
slow_statement_threshold = "1s"
# ... at most this many, slowest first.
slow_statement_limit = 10
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
    /// `pg_stat_statements`: statements slower than this on average ...
    #[serde(with = "humantime_serde")]
    pub slow_statement_threshold: Duration,
    /// ... at most this many, slowest first.
    pub slow_statement_limit: u32,
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

// === metrics ===

crate::metrics! {
    PG_UP: "pg_up", Gauge, [],
        "1 if PostgreSQL answered the last collection, 0 if it could not be reached.";
    PG_STATIC: "pg_static", Gauge, ["version", "short_version"],
        "Always 1; labels carry the server version (postgres_exporter compatible).";
    PG_START_TIME: "pg_postmaster_start_time_seconds", Gauge, [],
        "When the PostgreSQL server started (unix seconds).";
    PG_IS_REPLICA: "pg_replication_is_replica", Gauge, [],
        "1 if the server is in recovery (a replica), 0 on a primary.";
    PG_REPLICATION_LAG: "pg_replication_lag_seconds", Gauge, [],
        "On a replica: seconds since the last replayed transaction; 0 only while the WAL receiver streams and replay has caught up with what it received. Absent on a primary.";
    PG_WAL_RECEIVER_STREAMING: "pg_stat_wal_receiver_streaming", Gauge, [],
        "On a replica: 1 while its WAL receiver streams from the primary, 0 when it does not (primary stopped or unreachable). Absent on a primary.";
    PG_WAL_RECEIVER_LAST_MSG: "pg_stat_wal_receiver_last_msg_receipt_time", Gauge, [],
        "On a replica: when the last message from the primary arrived (Unix seconds). Absent without a WAL receiver.";
    PG_MAX_CONNECTIONS: "pg_settings_max_connections", Gauge, [],
        "The server's max_connections setting.";
    PG_SUPERUSER_RESERVED: "pg_settings_superuser_reserved_connections", Gauge, [],
        "The server's superuser_reserved_connections setting.";
    PG_FREEZE_MAX_AGE: "pg_settings_autovacuum_freeze_max_age", Gauge, [],
        "The server's autovacuum_freeze_max_age setting (transactions).";
    PG_ACTIVITY_COUNT: "pg_stat_activity_count", Untyped, ["datname", "state"],
        "Backends per database and state (postgres_exporter name; untyped because of its _count suffix).";
    PG_ACTIVITY_MAX_TX: "pg_stat_activity_max_tx_duration", Gauge, ["datname", "state"],
        "Age in seconds of the oldest open transaction per database and state, 0 when none.";
    PG_LOCK_WAITING: "pg_lock_waiting_sessions", Gauge, ["datname"],
        "Sessions currently waiting for a lock, per database.";
    PG_LOCKS_COUNT: "pg_locks_count", Untyped, ["datname", "mode"],
        "Locks held or awaited per database and mode (postgres_exporter name; untyped because of its _count suffix).";
    PG_XID_AGE: "pg_database_xid_age", Gauge, ["datname"],
        "Age in transactions of the database's datfrozenxid (wraparound happens near 2^31).";
    PG_ARCHIVED: "pg_stat_archiver_archived_count", Untyped, [],
        "WAL files archived successfully since the statistics reset (postgres_exporter name; untyped, a counter without _total).";
    PG_ARCHIVE_FAILED: "pg_stat_archiver_failed_count", Untyped, [],
        "Failed attempts to archive WAL files since the statistics reset (postgres_exporter name; untyped, a counter without _total).";
    PG_LAST_ARCHIVE_AGE: "pg_stat_archiver_last_archive_age", Gauge, [],
        "Seconds since the last WAL file was archived; absent if none ever was.";
    PG_LAST_ARCHIVED_TIME: "pg_stat_archiver_last_archived_timestamp_seconds", Gauge, [],
        "When the last WAL file was archived (unix seconds); absent if none ever was.";
    PG_LAST_FAILED_TIME: "pg_stat_archiver_last_failed_timestamp_seconds", Gauge, [],
        "When archiving last failed (unix seconds); absent if it never failed.";
    PG_SLOT_ACTIVE: "pg_replication_slots_active", Gauge, ["slot_name", "slot_type", "database"],
        "1 if the replication slot is in use by a consumer.";
    PG_SLOT_RETAINED: "pg_replication_slots_pg_wal_lsn_diff", Gauge, ["slot_name", "slot_type", "database"],
        "Bytes of WAL the replication slot keeps on disk (current LSN minus the slot's restart LSN).";
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

    /// A failed query, named.
    pub fn query(query: &'static str, e: &sqlx::Error) -> Self {
        Self::Query {
            query,
            message: e.to_string(),
        }
    }

    /// True when PostgreSQL itself could not be reached (as opposed to a query failing).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Connect(_) | Self::ConnectTimeout(_) | Self::Backoff { .. }
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
}

// === impl PostgresCollector ===

impl PostgresCollector {
    /// The collector over the shared connections.
    pub fn new(pg: Arc<PgConnections>, config: &PostgresConfig) -> Self {
        Self {
            pg,
            filter: DatabaseFilter::new(config),
        }
    }

    async fn read(&self, conn: &mut PgConnection) -> Result<Batch, PgError> {
        let mut b = Batch::default();
        type Identity = (i32, String, f64, bool, f64, f64, f64);
        let (_num, version, start, replica, max_conn, reserved, freeze): Identity =
            sqlx::query_as(queries::IDENTITY)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| PgError::query("identity", &e))?;
        b.set(&PG_UP, 1.0);
        let short = version.split_whitespace().next().unwrap_or(&version);
        b.push(
            &PG_STATIC,
            labels([("version", &version), ("short_version", short)]),
            1.0,
        );
        b.set(&PG_START_TIME, start);
        b.set(&PG_IS_REPLICA, if replica { 1.0 } else { 0.0 });
        if replica {
            let (streaming, last_msg, lag): (bool, Option<f64>, f64) =
                sqlx::query_as(queries::WAL_RECEIVER)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| PgError::query("wal_receiver", &e))?;
            b.set(&PG_WAL_RECEIVER_STREAMING, if streaming { 1.0 } else { 0.0 });
            if let Some(t) = last_msg {
                b.set(&PG_WAL_RECEIVER_LAST_MSG, t);
            }
            b.set(&PG_REPLICATION_LAG, lag);
        }
        b.set(&PG_MAX_CONNECTIONS, max_conn);
        b.set(&PG_SUPERUSER_RESERVED, reserved);
        b.set(&PG_FREEZE_MAX_AGE, freeze);

        let activity: Vec<(String, String, f64, f64)> = sqlx::query_as(queries::ACTIVITY)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query("activity", &e))?;
        let activity: Vec<_> = activity
            .into_iter()
            .filter(|r| self.filter.reports(&r.0))
            .collect();
        for (datname, state, count, _) in &activity {
            b.push(
                &PG_ACTIVITY_COUNT,
                labels([("datname", datname), ("state", state)]),
                *count,
            );
        }
        for (datname, state, _, max_tx) in &activity {
            b.push(
                &PG_ACTIVITY_MAX_TX,
                labels([("datname", datname), ("state", state)]),
                *max_tx,
            );
        }

        let databases: Vec<(String, f64, f64)> = sqlx::query_as(queries::DATABASES)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query("databases", &e))?;
        let databases: Vec<_> = databases
            .into_iter()
            .filter(|r| self.filter.reports(&r.0))
            .collect();
        for (datname, xid_age, _) in &databases {
            b.push(&PG_XID_AGE, labels([("datname", datname)]), *xid_age);
        }
        for (datname, _, waiting) in &databases {
            b.push(&PG_LOCK_WAITING, labels([("datname", datname)]), *waiting);
        }

        let locks: Vec<(String, String, f64)> = sqlx::query_as(queries::LOCKS)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query("locks", &e))?;
        for (datname, mode, count) in locks.iter().filter(|r| self.filter.reports(&r.0)) {
            b.push(
                &PG_LOCKS_COUNT,
                labels([("datname", datname), ("mode", mode)]),
                *count,
            );
        }

        type Archiver = (f64, f64, Option<f64>, Option<f64>, Option<f64>);
        let (archived, failed, last_archived, last_failed, age): Archiver =
            sqlx::query_as(queries::ARCHIVER)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| PgError::query("archiver", &e))?;
        b.set(&PG_ARCHIVED, archived);
        b.set(&PG_ARCHIVE_FAILED, failed);
        if let Some(age) = age {
            b.set(&PG_LAST_ARCHIVE_AGE, age);
        }
        if let Some(t) = last_archived {
            b.set(&PG_LAST_ARCHIVED_TIME, t);
        }
        if let Some(t) = last_failed {
            b.set(&PG_LAST_FAILED_TIME, t);
        }

        let slots: Vec<(String, String, String, bool, f64)> = sqlx::query_as(queries::SLOTS)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query("replication_slots", &e))?;
        for (name, kind, database, active, _) in &slots {
            let l = labels([
                ("slot_name", name),
                ("slot_type", kind),
                ("database", database),
            ]);
            b.push(&PG_SLOT_ACTIVE, l, if *active { 1.0 } else { 0.0 });
        }
        for (name, kind, database, _, retained) in &slots {
            let l = labels([
                ("slot_name", name),
                ("slot_type", kind),
                ("database", database),
            ]);
            b.push(&PG_SLOT_RETAINED, l, *retained);
        }
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
        let batch = self.read(&mut session.conn).await?;
        session.release().await;
        Ok(batch)
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
        b.set(&PG_UP, if unreachable { 0.0 } else { 1.0 });
        b
    }
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
