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

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{CollectError, Collector};
use crate::config::{resolve_secret, PostgresConfig};
use crate::metrics::catalog::{
    PG_ACTIVITY_COUNT, PG_ACTIVITY_MAX_TX, PG_ARCHIVED, PG_ARCHIVE_FAILED, PG_FREEZE_MAX_AGE,
    PG_IS_REPLICA, PG_LAST_ARCHIVED_TIME, PG_LAST_ARCHIVE_AGE, PG_LAST_FAILED_TIME, PG_LOCKS_COUNT,
    PG_LOCK_WAITING, PG_MAX_CONNECTIONS, PG_REPLICATION_LAG, PG_SLOT_ACTIVE, PG_SLOT_RETAINED,
    PG_START_TIME, PG_STATIC, PG_SUPERUSER_RESERVED, PG_UP, PG_XID_AGE,
};
use crate::metrics::{labels, Batch};
pub use pool::{PgConnections, PgSession};
pub use tables::TablesCollector;

/// What can go wrong talking to PostgreSQL. No variant carries the DSN.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("connecting to PostgreSQL timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("not connecting for another {wait:.1?} after the last failure ({last})")]
    Backoff { wait: Duration, last: String },
    #[error("query {query} failed: {message}")]
    Query {
        query: &'static str,
        message: String,
    },
    #[error("every database failed; last: {0}")]
    AllDatabases(String),
    #[error("cannot read postgres.dsn_file {path}: {message}")]
    DsnFile { path: String, message: String },
    #[error("postgres connection settings are invalid")]
    Options,
    #[error("connection set closed")]
    Closed,
}

impl PgError {
    fn connect(e: &sqlx::Error) -> Self {
        Self::Connect(e.to_string())
    }

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
pub fn connect_options(config: &PostgresConfig) -> Result<PgConnectOptions, PgError> {
    let dsn = resolve_secret(config.dsn.as_ref(), config.dsn_file.as_deref())
        .map_err(|(path, e)| PgError::DsnFile {
            path,
            message: e.to_string(),
        })?
        .or_else(|| std::env::var("DATABASE_URL").ok().map(Into::into));
    let options = match dsn {
        Some(dsn) => dsn
            .expose_secret()
            .parse::<PgConnectOptions>()
            .map_err(|_| PgError::Options)?,
        None => PgConnectOptions::new(),
    };
    let ms = |d: Duration| d.as_millis().to_string();
    Ok(options.application_name("centinela").options([
        ("statement_timeout", ms(config.statement_timeout)),
        ("lock_timeout", ms(config.lock_timeout)),
    ]))
}

/// The shared connection set for both PostgreSQL collectors.
pub fn connections(config: &PostgresConfig) -> Result<Arc<PgConnections>, PgError> {
    Ok(Arc::new(PgConnections::new(
        connect_options(config)?,
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
    pub fn new(pg: Arc<PgConnections>, config: &PostgresConfig) -> Self {
        Self {
            pg,
            filter: DatabaseFilter::new(config),
        }
    }

    async fn read(&self, conn: &mut PgConnection) -> Result<Batch, PgError> {
        let mut b = Batch::default();
        type Identity = (i32, String, f64, bool, f64, f64, f64, Option<f64>);
        let (_num, version, start, replica, max_conn, reserved, freeze, lag): Identity =
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
        if let Some(lag) = lag {
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
    fn name(&self) -> &'static str {
        "postgres"
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
