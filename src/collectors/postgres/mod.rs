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
    STANDBY_REPLAY_BEHIND: "pg_stat_replication_pg_wal_lsn_diff", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL the standby has not replayed yet (current position minus its replay position).";
    STANDBY_SENT_BEHIND: "pg_stat_replication_sent_behind_bytes", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL not sent to it yet.";
    STANDBY_WRITE_BEHIND: "pg_stat_replication_write_behind_bytes", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL it has not written yet.";
    STANDBY_FLUSH_BEHIND: "pg_stat_replication_flush_behind_bytes", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL it has not flushed yet.";
    STANDBY_WRITE_LAG: "pg_stat_replication_write_lag_seconds", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: the write lag it last measured; 0 once the standby caught up with idle WAL.";
    STANDBY_FLUSH_LAG: "pg_stat_replication_flush_lag_seconds", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: the flush lag it last measured; 0 once the standby caught up with idle WAL.";
    STANDBY_REPLAY_LAG: "pg_stat_replication_replay_lag_seconds", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: the replay lag it last measured; 0 once the standby caught up with idle WAL.";
    DB_NUMBACKENDS: "pg_stat_database_numbackends", Gauge, ["datid", "datname"],
        "Backends connected to the database now.";
    DB_XACT_COMMIT: "pg_stat_database_xact_commit", Untyped, ["datid", "datname"],
        "Transactions committed in the database (a counter).";
    DB_XACT_ROLLBACK: "pg_stat_database_xact_rollback", Untyped, ["datid", "datname"],
        "Transactions rolled back in the database (a counter).";
    DB_BLKS_READ: "pg_stat_database_blks_read", Untyped, ["datid", "datname"],
        "Disk blocks read in the database (a counter).";
    DB_BLKS_HIT: "pg_stat_database_blks_hit", Untyped, ["datid", "datname"],
        "Blocks found in PostgreSQL's buffer cache, so no read was needed (a counter).";
    DB_TUP_RETURNED: "pg_stat_database_tup_returned", Untyped, ["datid", "datname"],
        "Rows returned by queries in the database (a counter).";
    DB_TUP_FETCHED: "pg_stat_database_tup_fetched", Untyped, ["datid", "datname"],
        "Rows fetched by queries in the database (a counter).";
    DB_TUP_INSERTED: "pg_stat_database_tup_inserted", Untyped, ["datid", "datname"],
        "Rows inserted in the database (a counter).";
    DB_TUP_UPDATED: "pg_stat_database_tup_updated", Untyped, ["datid", "datname"],
        "Rows updated in the database (a counter).";
    DB_TUP_DELETED: "pg_stat_database_tup_deleted", Untyped, ["datid", "datname"],
        "Rows deleted in the database (a counter).";
    DB_CONFLICTS: "pg_stat_database_conflicts", Untyped, ["datid", "datname"],
        "Queries canceled by conflicts with recovery, on a replica (a counter).";
    DB_TEMP_FILES: "pg_stat_database_temp_files", Untyped, ["datid", "datname"],
        "Temporary files created by queries in the database (a counter).";
    DB_TEMP_BYTES: "pg_stat_database_temp_bytes", Untyped, ["datid", "datname"],
        "Bytes written to temporary files by queries in the database (a counter).";
    DB_DEADLOCKS: "pg_stat_database_deadlocks", Untyped, ["datid", "datname"],
        "Deadlocks detected in the database (a counter).";
    DB_BLK_READ_TIME: "pg_stat_database_blk_read_time", Untyped, ["datid", "datname"],
        "Milliseconds spent reading data file blocks (a counter; 0 unless track_io_timing is on).";
    DB_BLK_WRITE_TIME: "pg_stat_database_blk_write_time", Untyped, ["datid", "datname"],
        "Milliseconds spent writing data file blocks (a counter; 0 unless track_io_timing is on).";
    DB_STATS_RESET: "pg_stat_database_stats_reset", Gauge, ["datid", "datname"],
        "When the database's statistics were last reset (unix seconds); absent if never.";
    DB_CHECKSUM_FAILURES: "pg_stat_database_checksum_failures", Untyped, ["datid", "datname"],
        "Data page checksum failures (a counter; absent when data checksums are off). PostgreSQL 12 and later.";
    DB_ACTIVE_TIME: "pg_stat_database_active_time_seconds_total", Counter, ["datid", "datname"],
        "Seconds spent executing statements in the database. PostgreSQL 14 and later.";
    DB_IDLE_IN_XACT_TIME: "pg_stat_database_idle_in_transaction_time_seconds_total", Counter, ["datid", "datname"],
        "Seconds sessions spent idle in a transaction in the database. PostgreSQL 14 and later.";
    DB_SESSION_TIME: "pg_stat_database_session_time_seconds_total", Counter, ["datid", "datname"],
        "Seconds sessions spent connected to the database. PostgreSQL 14 and later.";
    DB_SESSIONS: "pg_stat_database_sessions_total", Counter, ["datid", "datname"],
        "Sessions established to the database. PostgreSQL 14 and later.";
    DB_SESSIONS_ABANDONED: "pg_stat_database_sessions_abandoned_total", Counter, ["datid", "datname"],
        "Sessions ended because the client went away. PostgreSQL 14 and later.";
    DB_SESSIONS_FATAL: "pg_stat_database_sessions_fatal_total", Counter, ["datid", "datname"],
        "Sessions ended by fatal errors. PostgreSQL 14 and later.";
    DB_SESSIONS_KILLED: "pg_stat_database_sessions_killed_total", Counter, ["datid", "datname"],
        "Sessions ended by operator intervention. PostgreSQL 14 and later.";
    DB_PARALLEL_TO_LAUNCH: "pg_stat_database_parallel_workers_to_launch_total", Counter, ["datid", "datname"],
        "Parallel workers planned to be launched by queries. PostgreSQL 18 and later.";
    DB_PARALLEL_LAUNCHED: "pg_stat_database_parallel_workers_launched_total", Counter, ["datid", "datname"],
        "Parallel workers launched by queries. PostgreSQL 18 and later.";
    BGW_CHECKPOINTS_TIMED: "pg_stat_bgwriter_checkpoints_timed_total", Counter, [],
        "Scheduled checkpoints performed (from pg_stat_checkpointer on PostgreSQL 17 and later).";
    BGW_CHECKPOINTS_REQ: "pg_stat_bgwriter_checkpoints_req_total", Counter, [],
        "Requested checkpoints performed (from pg_stat_checkpointer on PostgreSQL 17 and later).";
    BGW_CHECKPOINT_WRITE_TIME: "pg_stat_bgwriter_checkpoint_write_time_total", Counter, [],
        "Milliseconds checkpoints spent writing files (from pg_stat_checkpointer on 17 and later).";
    BGW_CHECKPOINT_SYNC_TIME: "pg_stat_bgwriter_checkpoint_sync_time_total", Counter, [],
        "Milliseconds checkpoints spent syncing files (from pg_stat_checkpointer on 17 and later).";
    BGW_BUFFERS_CHECKPOINT: "pg_stat_bgwriter_buffers_checkpoint_total", Counter, [],
        "Buffers written by checkpoints (pg_stat_checkpointer's buffers_written on 17 and later).";
    BGW_BUFFERS_CLEAN: "pg_stat_bgwriter_buffers_clean_total", Counter, [],
        "Buffers written by the background writer.";
    BGW_MAXWRITTEN_CLEAN: "pg_stat_bgwriter_maxwritten_clean_total", Counter, [],
        "Times the background writer stopped a cleaning scan for having written too many buffers.";
    BGW_BUFFERS_BACKEND: "pg_stat_bgwriter_buffers_backend_total", Counter, [],
        "Buffers written directly by backends. Before PostgreSQL 17 (then in pg_stat_io).";
    BGW_BUFFERS_BACKEND_FSYNC: "pg_stat_bgwriter_buffers_backend_fsync_total", Counter, [],
        "Times a backend had to fsync on its own. Before PostgreSQL 17 (then in pg_stat_io).";
    BGW_BUFFERS_ALLOC: "pg_stat_bgwriter_buffers_alloc_total", Counter, [],
        "Buffers allocated.";
    BGW_STATS_RESET: "pg_stat_bgwriter_stats_reset_total", Counter, [],
        "When the background writer's statistics were last reset (unix seconds; postgres_exporter's name).";
}

/// A figure read from a view whose columns moved between versions: for each version range
/// (from its first `server_version_num`), the expression, or `None` where the server no
/// longer has it.
struct Versioned {
    desc: &'static MetricDesc,
    forms: &'static [(i32, Option<&'static str>)],
}

impl Versioned {
    /// The expression for a server of `version`.
    fn expr(&self, version: i32) -> Option<&'static str> {
        self.forms
            .iter()
            .rev()
            .find(|(since, _)| version >= *since)
            .and_then(|(_, e)| *e)
    }
}

/// Checkpoints and the background writer. PostgreSQL 17 moved the checkpoint figures to
/// `pg_stat_checkpointer` (`cp`) and the backend writes to `pg_stat_io`; the old names keep
/// being served from the new view, so dashboards made before 17 keep drawing.
static BGWRITER: &[Versioned] = &[
    Versioned { desc: &BGW_CHECKPOINTS_TIMED, forms: &[(0, Some("b.checkpoints_timed")), (170_000, Some("cp.num_timed"))] },
    Versioned { desc: &BGW_CHECKPOINTS_REQ, forms: &[(0, Some("b.checkpoints_req")), (170_000, Some("cp.num_requested"))] },
    Versioned { desc: &BGW_CHECKPOINT_WRITE_TIME, forms: &[(0, Some("b.checkpoint_write_time")), (170_000, Some("cp.write_time"))] },
    Versioned { desc: &BGW_CHECKPOINT_SYNC_TIME, forms: &[(0, Some("b.checkpoint_sync_time")), (170_000, Some("cp.sync_time"))] },
    Versioned { desc: &BGW_BUFFERS_CHECKPOINT, forms: &[(0, Some("b.buffers_checkpoint")), (170_000, Some("cp.buffers_written"))] },
    Versioned { desc: &BGW_BUFFERS_CLEAN, forms: &[(0, Some("b.buffers_clean"))] },
    Versioned { desc: &BGW_MAXWRITTEN_CLEAN, forms: &[(0, Some("b.maxwritten_clean"))] },
    Versioned { desc: &BGW_BUFFERS_BACKEND, forms: &[(0, Some("b.buffers_backend")), (170_000, None)] },
    Versioned { desc: &BGW_BUFFERS_BACKEND_FSYNC, forms: &[(0, Some("b.buffers_backend_fsync")), (170_000, None)] },
    Versioned { desc: &BGW_BUFFERS_ALLOC, forms: &[(0, Some("b.buffers_alloc"))] },
    Versioned { desc: &BGW_STATS_RESET, forms: &[(0, Some("extract(epoch FROM b.stats_reset)"))] },
];

/// The figures of `spec` a server of `version` has, and their `SELECT` list (each as
/// float8, in the same order).
fn select_list(spec: &[Versioned], version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, exprs): (Vec<_>, Vec<_>) = spec
        .iter()
        .filter_map(|v| v.expr(version).map(|e| (v.desc, format!("({e})::float8"))))
        .unzip();
    (descs, exprs.join(", "))
}

/// Pushes the floats of `row` from column `first` on, one per `descs`, under `l`; a NULL
/// (no value on this server) gives no sample.
fn push_floats(
    row: &sqlx::postgres::PgRow,
    first: usize,
    descs: &[&'static MetricDesc],
    l: &crate::metrics::Labels,
    query: &'static str,
    b: &mut Batch,
) -> Result<(), PgError> {
    use sqlx::Row as _;
    for (i, desc) in descs.iter().enumerate() {
        let value: Option<f64> = row
            .try_get(first + i)
            .map_err(|e| PgError::query(query, &e))?;
        if let Some(v) = value {
            b.push(desc, Arc::clone(l), v);
        }
    }
    Ok(())
}

/// The figures of [`BGWRITER`] a server of `version` has, with the query that reads them.
fn bgwriter_query(version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, columns) = select_list(BGWRITER, version);
    let from = if version >= 170_000 {
        "pg_stat_bgwriter b CROSS JOIN pg_stat_checkpointer cp"
    } else {
        "pg_stat_bgwriter b"
    };
    (descs, format!("SELECT {columns} FROM {from}"))
}

/// Every `pg_stat_database` column centinela reads, oldest first, as [`Versioned`] figures
/// (the same spec as the background writer's). Names and labels are `postgres_exporter`'s
/// where it has them; time columns are converted to seconds.
static DATABASE_COLUMNS: &[Versioned] = &[
    Versioned { desc: &DB_NUMBACKENDS, forms: &[(0, Some("numbackends"))] },
    Versioned { desc: &DB_XACT_COMMIT, forms: &[(0, Some("xact_commit"))] },
    Versioned { desc: &DB_XACT_ROLLBACK, forms: &[(0, Some("xact_rollback"))] },
    Versioned { desc: &DB_BLKS_READ, forms: &[(0, Some("blks_read"))] },
    Versioned { desc: &DB_BLKS_HIT, forms: &[(0, Some("blks_hit"))] },
    Versioned { desc: &DB_TUP_RETURNED, forms: &[(0, Some("tup_returned"))] },
    Versioned { desc: &DB_TUP_FETCHED, forms: &[(0, Some("tup_fetched"))] },
    Versioned { desc: &DB_TUP_INSERTED, forms: &[(0, Some("tup_inserted"))] },
    Versioned { desc: &DB_TUP_UPDATED, forms: &[(0, Some("tup_updated"))] },
    Versioned { desc: &DB_TUP_DELETED, forms: &[(0, Some("tup_deleted"))] },
    Versioned { desc: &DB_CONFLICTS, forms: &[(0, Some("conflicts"))] },
    Versioned { desc: &DB_TEMP_FILES, forms: &[(0, Some("temp_files"))] },
    Versioned { desc: &DB_TEMP_BYTES, forms: &[(0, Some("temp_bytes"))] },
    Versioned { desc: &DB_DEADLOCKS, forms: &[(0, Some("deadlocks"))] },
    Versioned { desc: &DB_BLK_READ_TIME, forms: &[(0, Some("blk_read_time"))] },
    Versioned { desc: &DB_BLK_WRITE_TIME, forms: &[(0, Some("blk_write_time"))] },
    Versioned { desc: &DB_STATS_RESET, forms: &[(0, Some("extract(epoch FROM stats_reset)"))] },
    Versioned { desc: &DB_CHECKSUM_FAILURES, forms: &[(0, None), (120_000, Some("checksum_failures"))] },
    Versioned { desc: &DB_ACTIVE_TIME, forms: &[(0, None), (140_000, Some("active_time / 1000"))] },
    Versioned { desc: &DB_IDLE_IN_XACT_TIME, forms: &[(0, None), (140_000, Some("idle_in_transaction_time / 1000"))] },
    Versioned { desc: &DB_SESSION_TIME, forms: &[(0, None), (140_000, Some("session_time / 1000"))] },
    Versioned { desc: &DB_SESSIONS, forms: &[(0, None), (140_000, Some("sessions"))] },
    Versioned { desc: &DB_SESSIONS_ABANDONED, forms: &[(0, None), (140_000, Some("sessions_abandoned"))] },
    Versioned { desc: &DB_SESSIONS_FATAL, forms: &[(0, None), (140_000, Some("sessions_fatal"))] },
    Versioned { desc: &DB_SESSIONS_KILLED, forms: &[(0, None), (140_000, Some("sessions_killed"))] },
    Versioned { desc: &DB_PARALLEL_TO_LAUNCH, forms: &[(0, None), (180_000, Some("parallel_workers_to_launch"))] },
    Versioned { desc: &DB_PARALLEL_LAUNCHED, forms: &[(0, None), (180_000, Some("parallel_workers_launched"))] },
];

/// `pg_stat_database` for a server of `version`: the databases' id and name, then one
/// float per figure it has (NULL where the server has no value), and those figures.
fn database_query(version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, columns) = select_list(DATABASE_COLUMNS, version);
    let sql = format!(
        "SELECT datid::text, datname::text, {columns} FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY datname"
    );
    (descs, sql)
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
        let (version_num, version, start, replica, max_conn, reserved, freeze): Identity =
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
        self.read_databases(conn, version_num, &mut b).await?;
        read_bgwriter(conn, version_num, &mut b).await?;
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

        if !replica {
            read_standbys(conn, &mut b).await?;
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

    /// `pg_stat_database`, with the columns the server's version has.
    async fn read_databases(
        &self,
        conn: &mut PgConnection,
        version: i32,
        b: &mut Batch,
    ) -> Result<(), PgError> {
        use sqlx::Row as _;
        let (descs, sql) = database_query(version);
        let rows = sqlx::query(&sql)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query("stat_database", &e))?;
        for row in &rows {
            let datid: String = row.try_get(0).map_err(|e| PgError::query("stat_database", &e))?;
            let datname: String = row.try_get(1).map_err(|e| PgError::query("stat_database", &e))?;
            if self.filter.reports(&datname) {
                let l = labels([("datid", &datid), ("datname", &datname)]);
                push_floats(row, 2, &descs, &l, "stat_database", b)?;
            }
        }
        Ok(())
    }
}

/// On a primary: every standby connected, with how far behind it is.
async fn read_standbys(conn: &mut PgConnection, b: &mut Batch) -> Result<(), PgError> {
    type Standby = (String, String, String, String, f64, f64, f64, f64, f64, f64, f64);
    let rows: Vec<Standby> = sqlx::query_as(queries::STANDBYS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| PgError::query("stat_replication", &e))?;
    for (app, addr, state, sync, sent, write, flush, replay, write_lag, flush_lag, replay_lag) in &rows {
        let l = labels([
            ("application_name", app),
            ("client_addr", addr),
            ("state", state),
            ("sync_state", sync),
        ]);
        for (desc, v) in [
            (&STANDBY_REPLAY_BEHIND, replay),
            (&STANDBY_SENT_BEHIND, sent),
            (&STANDBY_WRITE_BEHIND, write),
            (&STANDBY_FLUSH_BEHIND, flush),
            (&STANDBY_WRITE_LAG, write_lag),
            (&STANDBY_FLUSH_LAG, flush_lag),
            (&STANDBY_REPLAY_LAG, replay_lag),
        ] {
            b.push(desc, Arc::clone(&l), *v);
        }
    }
    Ok(())
}

/// Checkpoints and the background writer, from the views the server's version has.
async fn read_bgwriter(conn: &mut PgConnection, version: i32, b: &mut Batch) -> Result<(), PgError> {
    let (descs, sql) = bgwriter_query(version);
    let row = sqlx::query(&sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| PgError::query("stat_bgwriter", &e))?;
    push_floats(&row, 0, &descs, &labels([]), "stat_bgwriter", b)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_asked_for_the_columns_each_version_has() {
        let (_, q13) = database_query(130_000);
        assert!(q13.contains("(checksum_failures)::float8"), "{q13}");
        assert!(!q13.contains("active_time"), "{q13}");
        let (_, q14) = database_query(140_005);
        assert!(q14.contains("(active_time / 1000)::float8"), "{q14}");
        assert!(!q14.contains("parallel_workers"), "{q14}");
        let (_, q18) = database_query(180_001);
        assert!(q18.contains("(parallel_workers_launched)::float8"), "{q18}");
        assert_eq!(database_query(110_000).0.len(), 17);
        assert_eq!(database_query(180_000).0.len(), DATABASE_COLUMNS.len());
        let (d15, q15) = bgwriter_query(150_000);
        assert!(q15.contains("(b.checkpoints_timed)::float8"), "{q15}");
        assert!(q15.contains("(b.buffers_backend)::float8") && !q15.contains("pg_stat_checkpointer"), "{q15}");
        assert_eq!(d15.len(), BGWRITER.len());
        let (d17, q17) = bgwriter_query(170_002);
        assert!(q17.contains("(cp.num_timed)::float8") && q17.contains("CROSS JOIN pg_stat_checkpointer cp"), "{q17}");
        assert!(!q17.contains("buffers_backend"), "{q17}");
        assert_eq!(d17.len(), BGWRITER.len() - 2);
        assert_eq!(d17[0].name, "pg_stat_bgwriter_checkpoints_timed_total", "the old name, served from the new view");
        // Every column's metric is this collector's.
        for c in DATABASE_COLUMNS {
            assert!(METRICS.iter().any(|m| std::ptr::eq(*m, c.desc)), "{}", c.desc.name);
        }
    }
}
