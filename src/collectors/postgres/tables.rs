//! `postgres_tables` collector: tables, indexes, database sizes and slow statements in every
//! discovered database, every `slow_interval`.
//!
//! Exports `pg_stat_user_tables_*`, `pg_statio_user_tables_*`, `pg_stat_user_indexes_*`,
//! `pg_unused_index_size_bytes`, `pg_database_size_bytes`, `pg_stat_statements_*`, and
//! from their own files `sequences.rs` and `roles.rs`, with `centinela_pg_*` bookkeeping.
//! Databases are visited one at a time; a database that fails is reported with
//! `centinela_pg_database_collect_success 0` and the others are still exported.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row as _;

use super::{queries, roles, sequences, DatabaseFilter, PgConnections, PgError, PostgresConfig};
use crate::collectors::{CollectError, Collector, Schedule, Shared};
use crate::config::check::Problems;
use crate::metrics::catalog::{concat, total};
use crate::metrics::{labels, Batch, Labels, MetricDesc};
use std::time::Duration;

// === metrics ===

const PARTS: &[&[&MetricDesc]] = &[OWN, sequences::METRICS, roles::METRICS];

/// Every metric the `postgres_tables` collector can export, in catalogue order.
pub static METRICS: &[&MetricDesc] = &concat::<{ total(PARTS) }>(PARTS);

crate::metrics! {
    list OWN;
    T_LIVE: "pg_stat_user_tables_n_live_tup", Gauge, ["datname", "schemaname", "relname"],
        "Estimated live rows.";
    T_DEAD: "pg_stat_user_tables_n_dead_tup", Gauge, ["datname", "schemaname", "relname"],
        "Estimated dead rows, waiting for VACUUM.";
    T_MOD: "pg_stat_user_tables_n_mod_since_analyze", Gauge, ["datname", "schemaname", "relname"],
        "Rows modified since the table was last analyzed.";
    T_SEQ_SCAN: "pg_stat_user_tables_seq_scan", Untyped, ["datname", "schemaname", "relname"],
        "Sequential scans started on the table (a counter; untyped, name kept from postgres_exporter).";
    T_IDX_SCAN: "pg_stat_user_tables_idx_scan", Untyped, ["datname", "schemaname", "relname"],
        "Index scans started on the table (a counter; untyped, name kept from postgres_exporter).";
    T_VACUUM_COUNT: "pg_stat_user_tables_vacuum_count", Untyped, ["datname", "schemaname", "relname"],
        "Manual VACUUMs of the table (a counter; untyped, name kept from postgres_exporter).";
    T_AUTOVACUUM_COUNT: "pg_stat_user_tables_autovacuum_count", Untyped, ["datname", "schemaname", "relname"],
        "Autovacuum runs on the table (a counter; untyped, name kept from postgres_exporter).";
    T_ANALYZE_COUNT: "pg_stat_user_tables_analyze_count", Untyped, ["datname", "schemaname", "relname"],
        "Manual ANALYZEs of the table (a counter; untyped, name kept from postgres_exporter).";
    T_AUTOANALYZE_COUNT: "pg_stat_user_tables_autoanalyze_count", Untyped, ["datname", "schemaname", "relname"],
        "Autoanalyze runs on the table (a counter; untyped, name kept from postgres_exporter).";
    T_LAST_VACUUM: "pg_stat_user_tables_last_vacuum", Gauge, ["datname", "schemaname", "relname"],
        "When the table was last vacuumed by hand (unix seconds). No sample if it never was (postgres_exporter exports 0).";
    T_LAST_AUTOVACUUM: "pg_stat_user_tables_last_autovacuum", Gauge, ["datname", "schemaname", "relname"],
        "When autovacuum last processed the table (unix seconds). No sample if it never did.";
    T_LAST_ANALYZE: "pg_stat_user_tables_last_analyze", Gauge, ["datname", "schemaname", "relname"],
        "When the table was last analyzed by hand (unix seconds). No sample if it never was.";
    T_LAST_AUTOANALYZE: "pg_stat_user_tables_last_autoanalyze", Gauge, ["datname", "schemaname", "relname"],
        "When autoanalyze last processed the table (unix seconds). No sample if it never did.";
    T_TABLE_SIZE: "pg_stat_user_tables_table_size_bytes", Gauge, ["datname", "schemaname", "relname"],
        "Size of the table with its TOAST, free-space and visibility maps (pg_table_size), or the catalog estimate while the table is locked.";
    T_INDEX_SIZE: "pg_stat_user_tables_index_size_bytes", Gauge, ["datname", "schemaname", "relname"],
        "Size of all the table's indexes (pg_indexes_size), or the catalog estimate while the table is locked.";
    T_XID_AGE: "pg_stat_user_tables_xid_age", Gauge, ["datname", "schemaname", "relname"],
        "Age in transactions of the table's relfrozenxid (the older of the table's and its TOAST table's): autovacuum forces a freeze at autovacuum_freeze_max_age. The largest over the tables summed into __other__.";
    T_MXID_AGE: "pg_stat_user_tables_mxid_age", Gauge, ["datname", "schemaname", "relname"],
        "Age in multixacts of the table's relminmxid (the older of the table's and its TOAST table's). The largest over the tables summed into __other__.";
    T_HEAP_READ: "pg_statio_user_tables_heap_blocks_read", Untyped, ["datname", "schemaname", "relname"],
        "Disk blocks read from the table (a counter; untyped, name kept from postgres_exporter).";
    T_HEAP_HIT: "pg_statio_user_tables_heap_blocks_hit", Untyped, ["datname", "schemaname", "relname"],
        "Buffer hits in the table (a counter; untyped, name kept from postgres_exporter).";
    T_IDX_READ: "pg_statio_user_tables_idx_blocks_read", Untyped, ["datname", "schemaname", "relname"],
        "Disk blocks read from all the table's indexes (a counter; untyped, name kept from postgres_exporter).";
    T_IDX_HIT: "pg_statio_user_tables_idx_blocks_hit", Untyped, ["datname", "schemaname", "relname"],
        "Buffer hits in all the table's indexes (a counter; untyped, name kept from postgres_exporter).";
    I_SCAN: "pg_stat_user_indexes_idx_scan", Untyped, ["datname", "schemaname", "relname", "indexrelname"],
        "Scans started on the index (a counter; untyped, name kept from postgres_exporter).";
    I_SIZE: "pg_stat_user_indexes_size_bytes", Gauge, ["datname", "schemaname", "relname", "indexrelname"],
        "Size of the index (pg_relation_size), or the catalog estimate while it is locked.";
    I_INVALID: "pg_invalid_index_size_bytes", Gauge, ["datname", "schemaname", "relname", "indexrelname"],
        "An invalid index (indisvalid = false, left by a failed CREATE INDEX CONCURRENTLY or REINDEX): it is maintained on every write but never used. Its size from relpages, read without a lock.";
    I_UNUSED: "pg_unused_index_size_bytes", Gauge, ["datname", "schemaname", "relname", "indexrelname"],
        "Size of each non-unique, non-primary index with fewer than unused_index_max_scans scans and larger than unused_index_min_size. Never cut by the table cap.";
    DB_SIZE: "pg_database_size_bytes", Gauge, ["datname"],
        "Disk space used by the database (pg_database_size).";
    ST_MEAN: "pg_stat_statements_mean_seconds", Gauge, ["datname", "queryid"],
        "Mean execution time of the slowest statements (mean above slow_statement_threshold, top slow_statement_limit); needs pg_stat_statements.";
    ST_CALLS: "pg_stat_statements_calls_total", Counter, ["datname", "queryid"],
        "Executions of each statement reported in pg_stat_statements_mean_seconds.";
    ST_SECONDS: "pg_stat_statements_seconds_total", Counter, ["datname", "queryid"],
        "Total execution time of each statement reported in pg_stat_statements_mean_seconds.";
    ST_UNAVAILABLE: "centinela_pg_statements_unavailable", Gauge, [],
        "1 when the pg_stat_statements extension is installed but the server was started without it in shared_preload_libraries (a replica, say): its view is not read, so nothing lands in the server log.";
    DB_COLLECTED: "centinela_pg_database_collect_success", Gauge, ["datname"],
        "1 if the database's tables and indexes were read in the last run, 0 if that database failed (the others are still reported).";
    DB_TABLES: "centinela_pg_tables", Gauge, ["datname"],
        "User tables in the database.";
    DB_TABLES_AGGREGATED: "centinela_pg_tables_aggregated", Gauge, ["datname"],
        "Tables beyond max_tables_per_database whose figures are summed into relname=\"__other__\".";
    DB_SIZE_ESTIMATED: "centinela_pg_relations_size_estimated", Gauge, ["datname"],
        "Relations whose size came from the catalog estimate (relpages) because another session held or awaited an ACCESS EXCLUSIVE lock on them.";
}


/// Label value for the sum of the tables (and their indexes) beyond the cap.
pub const OTHER: &str = "__other__";

/// SQLSTATE `lock_not_available`: `lock_timeout` fired.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Thresholds that decide what gets its own series.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Tables per database with series of their own (`max_tables_per_database`).
    pub max_tables: usize,
    /// An index scanned fewer times than this is unused ...
    pub unused_max_scans: f64,
    /// ... when larger than this (bytes).
    pub unused_min_size: f64,
    /// Tables above this dead-to-live ratio ...
    pub bloat_min_ratio: f64,
    /// ... and with this many dead rows always get their own series.
    pub bloat_min_dead: f64,
}

/// One row of `pg_stat_user_tables` with the table's sizes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRow {
    /// `schemaname`.
    pub schema: String,
    /// `relname`.
    pub name: String,
    /// `n_live_tup`.
    pub live: f64,
    /// `n_dead_tup`.
    pub dead: f64,
    /// `n_mod_since_analyze`.
    pub modified: f64,
    /// `seq_scan`.
    pub seq_scan: f64,
    /// `idx_scan`.
    pub idx_scan: f64,
    /// `vacuum_count`.
    pub vacuum_count: f64,
    /// `autovacuum_count`.
    pub autovacuum_count: f64,
    /// `analyze_count`.
    pub analyze_count: f64,
    /// `autoanalyze_count`.
    pub autoanalyze_count: f64,
    /// `last_vacuum` (Unix seconds).
    pub last_vacuum: Option<f64>,
    /// `last_autovacuum`.
    pub last_autovacuum: Option<f64>,
    /// `last_analyze`.
    pub last_analyze: Option<f64>,
    /// `last_autoanalyze`.
    pub last_autoanalyze: Option<f64>,
    /// Heap size in bytes.
    pub table_size: f64,
    /// Size of its indexes in bytes.
    pub index_size: f64,
    /// Sizes estimated from `relpages` (the table was locked).
    pub estimated: bool,
    /// `pg_statio_user_tables.heap_blks_read`.
    pub heap_read: f64,
    /// `heap_blks_hit`.
    pub heap_hit: f64,
    /// `idx_blks_read`.
    pub idx_read: f64,
    /// `idx_blks_hit`.
    pub idx_hit: f64,
    /// Age of `relfrozenxid` (none for a partitioned table).
    pub xid_age: Option<f64>,
    /// Age of `relminmxid`.
    pub mxid_age: Option<f64>,
}

/// One row of `pg_stat_user_indexes` with the index's size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexRow {
    /// `schemaname`.
    pub schema: String,
    /// The table's `relname`.
    pub table: String,
    /// `indexrelname`.
    pub name: String,
    /// `idx_scan`.
    pub scans: f64,
    /// Size in bytes.
    pub size: f64,
    /// Size estimated from `relpages` (the index was locked).
    pub estimated: bool,
    /// A unique index.
    pub unique: bool,
    /// A primary key.
    pub primary: bool,
}

type TableField = fn(&TableRow) -> Option<f64>;

/// Per-table families and how each reads its row.
const TABLE_FAMILIES: &[(&MetricDesc, TableField)] = &[
    (&T_LIVE, |r| Some(r.live)),
    (&T_DEAD, |r| Some(r.dead)),
    (&T_MOD, |r| Some(r.modified)),
    (&T_SEQ_SCAN, |r| Some(r.seq_scan)),
    (&T_IDX_SCAN, |r| Some(r.idx_scan)),
    (&T_VACUUM_COUNT, |r| Some(r.vacuum_count)),
    (&T_AUTOVACUUM_COUNT, |r| Some(r.autovacuum_count)),
    (&T_ANALYZE_COUNT, |r| Some(r.analyze_count)),
    (&T_AUTOANALYZE_COUNT, |r| Some(r.autoanalyze_count)),
    (&T_LAST_VACUUM, |r| r.last_vacuum),
    (&T_LAST_AUTOVACUUM, |r| r.last_autovacuum),
    (&T_LAST_ANALYZE, |r| r.last_analyze),
    (&T_LAST_AUTOANALYZE, |r| r.last_autoanalyze),
    (&T_TABLE_SIZE, |r| Some(r.table_size)),
    (&T_INDEX_SIZE, |r| Some(r.index_size)),
    (&T_XID_AGE, |r| r.xid_age),
    (&T_MXID_AGE, |r| r.mxid_age),
    (&T_HEAP_READ, |r| Some(r.heap_read)),
    (&T_HEAP_HIT, |r| Some(r.heap_hit)),
    (&T_IDX_READ, |r| Some(r.idx_read)),
    (&T_IDX_HIT, |r| Some(r.idx_hit)),
];

impl TableRow {
    fn is_bloated(&self, limits: &Limits) -> bool {
        self.dead > limits.bloat_min_dead && self.dead > self.live * limits.bloat_min_ratio
    }

    fn add(&mut self, other: &TableRow) {
        self.live += other.live;
        self.dead += other.dead;
        self.modified += other.modified;
        self.seq_scan += other.seq_scan;
        self.idx_scan += other.idx_scan;
        self.vacuum_count += other.vacuum_count;
        self.autovacuum_count += other.autovacuum_count;
        self.analyze_count += other.analyze_count;
        self.autoanalyze_count += other.autoanalyze_count;
        self.table_size += other.table_size;
        self.index_size += other.index_size;
        self.heap_read += other.heap_read;
        self.heap_hit += other.heap_hit;
        self.idx_read += other.idx_read;
        self.idx_hit += other.idx_hit;
        // Ages are not summed: the oldest table is what a freeze has to reach.
        self.xid_age = max_of(self.xid_age, other.xid_age);
        self.mxid_age = max_of(self.mxid_age, other.mxid_age);
    }
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl IndexRow {
    fn is_unused(&self, limits: &Limits) -> bool {
        !self.unique
            && !self.primary
            && self.scans < limits.unused_max_scans
            && self.size > limits.unused_min_size
    }
}

/// Turns one database's rows into series: the largest `max_tables` tables and every bloated
/// table get their own; the rest are summed into `relname="__other__"` (timestamps, which
/// cannot be summed, are left out there). Unused indexes are always listed.
#[allow(clippy::cast_precision_loss)]
pub fn database_batch(
    datname: &str,
    mut tables: Vec<TableRow>,
    indexes: &[IndexRow],
    limits: &Limits,
) -> Batch {
    let mut b = Batch::default();
    let total_tables = tables.len();
    let estimated = tables.iter().filter(|t| t.estimated).count()
        + indexes.iter().filter(|i| i.estimated).count();

    tables.sort_by(|a, b| {
        (b.table_size + b.index_size)
            .total_cmp(&(a.table_size + a.index_size))
            .then_with(|| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)))
    });
    let mut kept = Vec::with_capacity(tables.len().min(limits.max_tables));
    let mut other: Option<TableRow> = None;
    for (rank, t) in tables.into_iter().enumerate() {
        if rank < limits.max_tables || t.is_bloated(limits) {
            kept.push(t);
        } else {
            other
                .get_or_insert_with(|| TableRow {
                    schema: OTHER.into(),
                    name: OTHER.into(),
                    ..TableRow::default()
                })
                .add(&t);
        }
    }
    let aggregated = total_tables - kept.len();
    let kept_names: HashSet<(&str, &str)> = kept
        .iter()
        .map(|t| (t.schema.as_str(), t.name.as_str()))
        .collect();

    let rows: Vec<(Labels, &TableRow)> = kept
        .iter()
        .chain(other.as_ref())
        .map(|t| {
            let l = labels([
                ("datname", datname),
                ("schemaname", &t.schema),
                ("relname", &t.name),
            ]);
            (l, t)
        })
        .collect();
    for (desc, field) in TABLE_FAMILIES {
        for (l, t) in &rows {
            if let Some(v) = field(t) {
                b.push(desc, Arc::clone(l), v);
            }
        }
    }

    let mut index_rows: Vec<(Labels, f64, f64)> = Vec::new();
    let (mut other_scans, mut other_size, mut others) = (0.0, 0.0, 0usize);
    for i in indexes {
        if kept_names.contains(&(i.schema.as_str(), i.table.as_str())) {
            let l = labels([
                ("datname", datname),
                ("schemaname", &i.schema),
                ("relname", &i.table),
                ("indexrelname", &i.name),
            ]);
            index_rows.push((l, i.scans, i.size));
        } else {
            other_scans += i.scans;
            other_size += i.size;
            others += 1;
        }
    }
    if others > 0 {
        let l = labels([
            ("datname", datname),
            ("schemaname", OTHER),
            ("relname", OTHER),
            ("indexrelname", OTHER),
        ]);
        index_rows.push((l, other_scans, other_size));
    }
    for (l, scans, _) in &index_rows {
        b.push(&I_SCAN, Arc::clone(l), *scans);
    }
    for (l, _, size) in &index_rows {
        b.push(&I_SIZE, Arc::clone(l), *size);
    }
    for i in indexes.iter().filter(|i| i.is_unused(limits)) {
        let l = labels([
            ("datname", datname),
            ("schemaname", &i.schema),
            ("relname", &i.table),
            ("indexrelname", &i.name),
        ]);
        b.push(&I_UNUSED, l, i.size);
    }
    let db = labels([("datname", datname)]);
    b.push(&DB_TABLES, Arc::clone(&db), total_tables as f64);
    b.push(&DB_TABLES_AGGREGATED, Arc::clone(&db), aggregated as f64);
    b.push(&DB_SIZE_ESTIMATED, db, estimated as f64);
    b
}

/// Whether `shared_preload_libraries` (as `SHOW` gives it) loads `pg_stat_statements`.
pub(super) fn preloaded(libraries: &str) -> bool {
    libraries.split(',').any(|lib| {
        let lib = lib.trim().trim_matches('"');
        lib == "pg_stat_statements" || lib.ends_with("/pg_stat_statements")
    })
}

/// Tables, indexes, sizes and statements of every visited database, every `slow_interval`.
#[derive(Debug)]
pub struct TablesCollector {
    pg: Arc<PgConnections>,
    filter: DatabaseFilter,
    limits: Limits,
    slow_statement_ms: f64,
    slow_statement_limit: i64,
    sequence_min_ratio: f64,
    /// The server start (Unix seconds) for which the missing preload was already logged.
    unavailable_logged: std::sync::Mutex<Option<f64>>,
}

// === impl TablesCollector ===

impl TablesCollector {
    /// The collector over the shared connections.
    #[allow(clippy::cast_precision_loss)]
    pub fn new(pg: Arc<PgConnections>, config: &PostgresConfig) -> Self {
        Self {
            pg,
            filter: DatabaseFilter::new(config),
            limits: Limits {
                max_tables: config.max_tables_per_database,
                unused_max_scans: config.unused_index_max_scans as f64,
                unused_min_size: config.unused_index_min_size.as_u64() as f64,
                bloat_min_ratio: config.bloat_min_dead_ratio,
                bloat_min_dead: config.bloat_min_dead_tuples as f64,
            },
            slow_statement_ms: config.slow_statement_threshold.as_secs_f64() * 1000.0,
            slow_statement_limit: i64::from(config.slow_statement_limit),
            sequence_min_ratio: config.sequence_min_used_ratio,
            unavailable_logged: std::sync::Mutex::new(None),
        }
    }

    /// Reads one database. `statements_done` is set once `pg_stat_statements` has been read,
    /// since the view is cluster-wide and needs reading only once per run.
    async fn visit(
        &self,
        conn: &mut PgConnection,
        datname: &str,
        statements_done: &mut bool,
    ) -> Result<Batch, PgError> {
        let tables = fetch_lock_safe(conn, queries::TABLES, "tables").await?;
        let tables: Vec<TableRow> = tables
            .iter()
            .map(table_row)
            .collect::<Result<_, _>>()
            .map_err(|e| PgError::query("tables", &e))?;
        let indexes = fetch_lock_safe(conn, queries::INDEXES, "indexes").await?;
        let indexes: Vec<IndexRow> = indexes
            .iter()
            .map(index_row)
            .collect::<Result<_, _>>()
            .map_err(|e| PgError::query("indexes", &e))?;
        let size: f64 = sqlx::query_scalar(queries::DATABASE_SIZE)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| PgError::query("database_size", &e))?;

        let invalid: Vec<(String, String, String, f64)> = sqlx::query_as(queries::INVALID_INDEXES)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query("invalid_indexes", &e))?;

        let mut b = database_batch(datname, tables, &indexes, &self.limits);
        b.push(&DB_SIZE, labels([("datname", datname)]), size);
        for (schema, table, index, bytes) in &invalid {
            b.push(
                &I_INVALID,
                labels([
                    ("datname", datname),
                    ("schemaname", schema),
                    ("relname", table),
                    ("indexrelname", index),
                ]),
                *bytes,
            );
        }
        b.append(sequences::read(conn, datname, self.sequence_min_ratio).await?);
        if !*statements_done {
            if let Some(statements) = self.statements(conn, datname).await? {
                b.append(statements);
                *statements_done = true;
            }
        }
        Ok(b)
    }

    /// The slow statements, if `pg_stat_statements` is installed in this database. A view
    /// that cannot be read (the library not preloaded) is logged and skipped, not an error.
    async fn statements(
        &self,
        conn: &mut PgConnection,
        datname: &str,
    ) -> Result<Option<Batch>, PgError> {
        let (installed, version, preload, started): (bool, i32, String, f64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'), \
             current_setting('server_version_num')::int4, \
             current_setting('shared_preload_libraries'), \
             extract(epoch FROM pg_postmaster_start_time())::float8",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| PgError::query("pg_extension", &e))?;
        if !installed {
            return Ok(None);
        }
        if !preloaded(&preload) {
            // Reading the view would put an ERROR in the server log on every run: say so
            // once per server start, and export why the statements are missing.
            let mut logged = crate::sync::lock(&self.unavailable_logged);
            if *logged != Some(started) {
                tracing::warn!(datname, "pg_stat_statements is installed but not in shared_preload_libraries; slow statements are not read until the server restarts with it.");
                *logged = Some(started);
            }
            let mut b = Batch::default();
            b.set(&ST_UNAVAILABLE, 1.0);
            return Ok(Some(b));
        }
        let sql = if version >= 130_000 {
            queries::STATEMENTS_13
        } else {
            queries::STATEMENTS_12
        };
        let rows: Vec<(String, String, f64, f64, f64)> = match sqlx::query_as(sql)
            .bind(self.slow_statement_ms)
            .bind(self.slow_statement_limit)
            .fetch_all(&mut *conn)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(datname, error = %e, "Cannot read pg_stat_statements; slow statements are not exported.");
                return Ok(Some(Batch::default()));
            }
        };
        let mut b = Batch::default();
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(db, id, calls, secs, mean)| {
                (
                    labels([("datname", &db), ("queryid", &id)]),
                    calls,
                    secs,
                    mean,
                )
            })
            .collect();
        for (l, _, _, mean) in &rows {
            b.push(&ST_MEAN, Arc::clone(l), *mean);
        }
        for (l, calls, _, _) in &rows {
            b.push(&ST_CALLS, Arc::clone(l), *calls);
        }
        for (l, _, secs, _) in &rows {
            b.push(&ST_SECONDS, Arc::clone(l), *secs);
        }
        Ok(Some(b))
    }
}

impl Collector for TablesCollector {
    const NAME: &'static str = "postgres_tables";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = super::Section;

    fn plan(
        section: &Self::Section,
        _schedule: &Schedule,
        shared: &Shared,
        _problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let pg = shared.pg.as_ref()?;
        Some((Self::new(Arc::clone(pg), section), section.slow_interval))
    }

    async fn close(&self) {
        self.pg.close_idle().await;
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let mut home = self.pg.home().await?;
        let found: Vec<(String, String)> = sqlx::query_as(queries::DISCOVER)
            .fetch_all(&mut home.conn)
            .await
            .map_err(|e| PgError::query("discover", &e))?;
        let roles = roles::read(&mut home.conn).await;
        home.release().await;
        let home_db = found
            .first()
            .map(|(current, _)| current.clone())
            .unwrap_or_default();
        let databases: Vec<String> = found
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| self.filter.visits(d))
            .collect();

        let mut batch = roles?;
        let mut statements_done = false;
        let mut failed = 0;
        let mut last_failure = String::new();
        for datname in &databases {
            let session = if *datname == home_db {
                self.pg.home().await
            } else {
                self.pg.database(datname).await
            };
            let result = match session {
                Ok(mut session) => {
                    let r = self
                        .visit(&mut session.conn, datname, &mut statements_done)
                        .await;
                    // A failed query leaves a healthy session: close it politely too.
                    if !r.as_ref().is_err_and(PgError::is_unreachable) {
                        session.release().await;
                    }
                    r
                }
                Err(e) => Err(e),
            };
            let ok = match result {
                Ok(part) => {
                    batch.append(part);
                    1.0
                }
                Err(e) => {
                    tracing::warn!(collector = "postgres_tables", datname = %datname, error = %e, "Database skipped.");
                    failed += 1;
                    last_failure = e.to_string();
                    0.0
                }
            };
            batch.push(&DB_COLLECTED, labels([("datname", datname)]), ok);
        }
        if failed > 0 && failed == databases.len() {
            return Err(PgError::AllDatabases(last_failure).into());
        }
        Ok(batch)
    }
}

/// Runs a size query; if another session's lock was taken in the instant between reading
/// `pg_locks` and sizing the relation, `lock_timeout` fires and the query is read once more.
async fn fetch_lock_safe(
    conn: &mut PgConnection,
    sql: &'static str,
    what: &'static str,
) -> Result<Vec<PgRow>, PgError> {
    match sqlx::query(sql).fetch_all(&mut *conn).await {
        Err(e) if sql_state(&e).as_deref() == Some(LOCK_NOT_AVAILABLE) => sqlx::query(sql)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| PgError::query(what, &e)),
        r => r.map_err(|e| PgError::query(what, &e)),
    }
}

fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .map(std::borrow::Cow::into_owned)
}

fn table_row(r: &PgRow) -> Result<TableRow, sqlx::Error> {
    Ok(TableRow {
        schema: r.try_get(0)?,
        name: r.try_get(1)?,
        live: r.try_get(2)?,
        dead: r.try_get(3)?,
        modified: r.try_get(4)?,
        seq_scan: r.try_get(5)?,
        idx_scan: r.try_get(6)?,
        vacuum_count: r.try_get(7)?,
        autovacuum_count: r.try_get(8)?,
        analyze_count: r.try_get(9)?,
        autoanalyze_count: r.try_get(10)?,
        last_vacuum: r.try_get(11)?,
        last_autovacuum: r.try_get(12)?,
        last_analyze: r.try_get(13)?,
        last_autoanalyze: r.try_get(14)?,
        table_size: r.try_get(15)?,
        index_size: r.try_get(16)?,
        estimated: r.try_get(17)?,
        heap_read: r.try_get(18)?,
        heap_hit: r.try_get(19)?,
        idx_read: r.try_get(20)?,
        idx_hit: r.try_get(21)?,
        xid_age: r.try_get(22)?,
        mxid_age: r.try_get(23)?,
    })
}

fn index_row(r: &PgRow) -> Result<IndexRow, sqlx::Error> {
    Ok(IndexRow {
        schema: r.try_get(0)?,
        table: r.try_get(1)?,
        name: r.try_get(2)?,
        scans: r.try_get(3)?,
        size: r.try_get(4)?,
        estimated: r.try_get(5)?,
        unique: r.try_get(6)?,
        primary: r.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_list_is_read_as_postgres_writes_it() {
        assert!(preloaded("pg_stat_statements"));
        assert!(preloaded("auto_explain, pg_stat_statements"));
        assert!(preloaded("\"$libdir/pg_stat_statements\""));
        assert!(!preloaded(""));
        assert!(!preloaded("auto_explain"));
        assert!(!preloaded("pg_stat_statements_extra"));
    }

    fn limits(max_tables: usize) -> Limits {
        Limits {
            max_tables,
            unused_max_scans: 100.0,
            unused_min_size: 10.0 * 1024.0 * 1024.0,
            bloat_min_ratio: 0.1,
            bloat_min_dead: 10_000.0,
        }
    }

    fn table(name: &str, size: f64, live: f64, dead: f64) -> TableRow {
        TableRow {
            schema: "public".into(),
            name: name.into(),
            live,
            dead,
            table_size: size,
            last_vacuum: Some(1000.0),
            ..TableRow::default()
        }
    }

    fn index(table: &str, name: &str, scans: f64, size: f64, unique: bool) -> IndexRow {
        IndexRow {
            schema: "public".into(),
            table: table.into(),
            name: name.into(),
            scans,
            size,
            unique,
            ..IndexRow::default()
        }
    }

    #[test]
    fn cap_keeps_largest_and_bloated_and_sums_the_rest() {
        let tables = vec![
            table("small", 10.0, 5.0, 1.0),
            table("big", 1000.0, 50.0, 2.0),
            table("bloated", 1.0, 100.0, 50_000.0),
            table("mid", 100.0, 7.0, 3.0),
        ];
        let b = database_batch("app", tables, &[], &limits(2));
        let dead = |rel: &str| b.value("pg_stat_user_tables_n_dead_tup", &[("relname", rel)]);
        assert_eq!(dead("big"), Some(2.0));
        assert_eq!(dead("mid"), Some(3.0));
        assert_eq!(
            dead("bloated"),
            Some(50_000.0),
            "bloated tables are never cut"
        );
        assert_eq!(dead("small"), None);
        assert_eq!(dead(OTHER), Some(1.0));
        assert_eq!(
            b.value("pg_stat_user_tables_n_live_tup", &[("relname", OTHER)]),
            Some(5.0)
        );
        // Sums cannot carry timestamps.
        assert_eq!(
            b.value("pg_stat_user_tables_last_vacuum", &[("relname", OTHER)]),
            None
        );
        assert_eq!(
            b.value("pg_stat_user_tables_last_vacuum", &[("relname", "big")]),
            Some(1000.0)
        );
        assert_eq!(b.value("centinela_pg_tables", &[]), Some(4.0));
        assert_eq!(b.value("centinela_pg_tables_aggregated", &[]), Some(1.0));
        // The totals survive the cap.
        let total: f64 = b
            .families
            .iter()
            .find(|f| f.name == "pg_stat_user_tables_n_dead_tup")
            .unwrap()
            .samples
            .iter()
            .map(|s| s.value)
            .sum();
        assert_eq!(total, 50_006.0);
    }

    #[test]
    fn unused_indexes_are_listed_whatever_the_cap() {
        let tables = vec![
            table("big", 1000.0, 1.0, 0.0),
            table("small", 1.0, 1.0, 0.0),
        ];
        let mib = 1024.0 * 1024.0;
        let indexes = vec![
            index("small", "small_k", 0.0, 20.0 * mib, false),
            index("small", "small_u", 0.0, 20.0 * mib, true),
            index("big", "big_k", 500.0, 20.0 * mib, false),
            index("big", "big_tiny", 0.0, 1.0 * mib, false),
        ];
        let b = database_batch("app", tables, &indexes, &limits(1));
        let unused = |i: &str| b.value("pg_unused_index_size_bytes", &[("indexrelname", i)]);
        assert_eq!(unused("small_k"), Some(20.0 * mib));
        assert_eq!(
            unused("small_u"),
            None,
            "unique indexes are never unused candidates"
        );
        assert_eq!(unused("big_k"), None, "scanned often enough");
        assert_eq!(unused("big_tiny"), None, "below the size threshold");
        // Per-index series follow the table cap: small's indexes are summed.
        assert_eq!(
            b.value(
                "pg_stat_user_indexes_size_bytes",
                &[("indexrelname", "big_k")]
            ),
            Some(20.0 * mib)
        );
        assert_eq!(
            b.value(
                "pg_stat_user_indexes_size_bytes",
                &[("indexrelname", "small_k")]
            ),
            None
        );
        assert_eq!(
            b.value(
                "pg_stat_user_indexes_size_bytes",
                &[("indexrelname", OTHER)]
            ),
            Some(40.0 * mib)
        );
    }
}
