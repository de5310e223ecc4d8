//! Every metric centinela can export, grouped by the collector that produces it.
//!
//! Collectors build their batches from these descriptors, `centinela metrics` prints them,
//! and the README's metric reference is generated from them (a test keeps both in step).

use super::sample::{MetricDesc, MetricKind::Counter, MetricKind::Gauge, MetricKind::Untyped};

macro_rules! metric {
    ($id:ident, $name:literal, $kind:expr, [$($label:literal),*], $help:literal) => {
        pub static $id: MetricDesc = MetricDesc {
            name: $name,
            kind: $kind,
            labels: &[$($label),*],
            help: $help,
        };
    };
}

// === self ===
metric!(
    BUILD_INFO,
    "centinela_build_info",
    Gauge,
    ["version"],
    "Always 1; the version label names the running build."
);
metric!(
    COLLECTOR_UP,
    "centinela_collector_up",
    Gauge,
    ["collector"],
    "1 if the collector's last run succeeded, 0 if it failed; absent before its first run."
);
metric!(
    COLLECTOR_DURATION,
    "centinela_collector_duration_seconds",
    Gauge,
    ["collector"],
    "How long the collector's last run took."
);
metric!(
    COLLECTOR_LAST_SUCCESS,
    "centinela_collector_last_success_timestamp_seconds",
    Gauge,
    ["collector"],
    "When the collector last succeeded (unix seconds); absent if it never has."
);
metric!(
    COLLECTOR_ERRORS,
    "centinela_collector_errors_total",
    Counter,
    ["collector"],
    "Failed runs of the collector since start."
);
metric!(
    COLLECTOR_SERIES,
    "centinela_collector_series",
    Gauge,
    ["collector"],
    "Series the collector's last run exported."
);

// === postgres (interval) ===
metric!(
    PG_UP,
    "pg_up",
    Gauge,
    [],
    "1 if PostgreSQL answered the last collection, 0 if it could not be reached."
);
metric!(
    PG_STATIC,
    "pg_static",
    Gauge,
    ["version", "short_version"],
    "Always 1; labels carry the server version (postgres_exporter compatible)."
);
metric!(
    PG_START_TIME,
    "pg_postmaster_start_time_seconds",
    Gauge,
    [],
    "When the PostgreSQL server started (unix seconds)."
);
metric!(
    PG_IS_REPLICA,
    "pg_replication_is_replica",
    Gauge,
    [],
    "1 if the server is in recovery (a replica), 0 on a primary."
);
metric!(PG_REPLICATION_LAG, "pg_replication_lag_seconds", Gauge, [], "On a replica: seconds since the last replayed transaction, 0 when replay has caught up with what was received. Absent on a primary.");
metric!(
    PG_MAX_CONNECTIONS,
    "pg_settings_max_connections",
    Gauge,
    [],
    "The server's max_connections setting."
);
metric!(
    PG_SUPERUSER_RESERVED,
    "pg_settings_superuser_reserved_connections",
    Gauge,
    [],
    "The server's superuser_reserved_connections setting."
);
metric!(
    PG_FREEZE_MAX_AGE,
    "pg_settings_autovacuum_freeze_max_age",
    Gauge,
    [],
    "The server's autovacuum_freeze_max_age setting (transactions)."
);
metric!(PG_ACTIVITY_COUNT, "pg_stat_activity_count", Untyped, ["datname", "state"], "Backends per database and state (postgres_exporter name; untyped because of its _count suffix).");
metric!(
    PG_ACTIVITY_MAX_TX,
    "pg_stat_activity_max_tx_duration",
    Gauge,
    ["datname", "state"],
    "Age in seconds of the oldest open transaction per database and state, 0 when none."
);
metric!(
    PG_LOCK_WAITING,
    "pg_lock_waiting_sessions",
    Gauge,
    ["datname"],
    "Sessions currently waiting for a lock, per database."
);
metric!(PG_LOCKS_COUNT, "pg_locks_count", Untyped, ["datname", "mode"], "Locks held or awaited per database and mode (postgres_exporter name; untyped because of its _count suffix).");
metric!(
    PG_XID_AGE,
    "pg_database_xid_age",
    Gauge,
    ["datname"],
    "Age in transactions of the database's datfrozenxid (wraparound happens near 2^31)."
);
metric!(PG_ARCHIVED, "pg_stat_archiver_archived_count", Untyped, [], "WAL files archived successfully since the statistics reset (postgres_exporter name; untyped, a counter without _total).");
metric!(PG_ARCHIVE_FAILED, "pg_stat_archiver_failed_count", Untyped, [], "Failed attempts to archive WAL files since the statistics reset (postgres_exporter name; untyped, a counter without _total).");
metric!(
    PG_LAST_ARCHIVE_AGE,
    "pg_stat_archiver_last_archive_age",
    Gauge,
    [],
    "Seconds since the last WAL file was archived; absent if none ever was."
);
metric!(
    PG_LAST_ARCHIVED_TIME,
    "pg_stat_archiver_last_archived_timestamp_seconds",
    Gauge,
    [],
    "When the last WAL file was archived (unix seconds); absent if none ever was."
);
metric!(
    PG_LAST_FAILED_TIME,
    "pg_stat_archiver_last_failed_timestamp_seconds",
    Gauge,
    [],
    "When archiving last failed (unix seconds); absent if it never failed."
);
metric!(
    PG_SLOT_ACTIVE,
    "pg_replication_slots_active",
    Gauge,
    ["slot_name", "slot_type", "database"],
    "1 if the replication slot is in use by a consumer."
);
metric!(
    PG_SLOT_RETAINED,
    "pg_replication_slots_pg_wal_lsn_diff",
    Gauge,
    ["slot_name", "slot_type", "database"],
    "Bytes of WAL the replication slot keeps on disk (current LSN minus the slot's restart LSN)."
);

// === postgres_tables (slow_interval) ===
metric!(
    T_LIVE,
    "pg_stat_user_tables_n_live_tup",
    Gauge,
    ["datname", "schemaname", "relname"],
    "Estimated live rows."
);
metric!(
    T_DEAD,
    "pg_stat_user_tables_n_dead_tup",
    Gauge,
    ["datname", "schemaname", "relname"],
    "Estimated dead rows, waiting for VACUUM."
);
metric!(
    T_MOD,
    "pg_stat_user_tables_n_mod_since_analyze",
    Gauge,
    ["datname", "schemaname", "relname"],
    "Rows modified since the table was last analyzed."
);
metric!(
    T_SEQ_SCAN,
    "pg_stat_user_tables_seq_scan",
    Untyped,
    ["datname", "schemaname", "relname"],
    "Sequential scans started on the table (a counter; untyped, name kept from postgres_exporter)."
);
metric!(
    T_IDX_SCAN,
    "pg_stat_user_tables_idx_scan",
    Untyped,
    ["datname", "schemaname", "relname"],
    "Index scans started on the table (a counter; untyped, name kept from postgres_exporter)."
);
metric!(
    T_VACUUM_COUNT,
    "pg_stat_user_tables_vacuum_count",
    Untyped,
    ["datname", "schemaname", "relname"],
    "Manual VACUUMs of the table (a counter; untyped, name kept from postgres_exporter)."
);
metric!(
    T_AUTOVACUUM_COUNT,
    "pg_stat_user_tables_autovacuum_count",
    Untyped,
    ["datname", "schemaname", "relname"],
    "Autovacuum runs on the table (a counter; untyped, name kept from postgres_exporter)."
);
metric!(
    T_ANALYZE_COUNT,
    "pg_stat_user_tables_analyze_count",
    Untyped,
    ["datname", "schemaname", "relname"],
    "Manual ANALYZEs of the table (a counter; untyped, name kept from postgres_exporter)."
);
metric!(
    T_AUTOANALYZE_COUNT,
    "pg_stat_user_tables_autoanalyze_count",
    Untyped,
    ["datname", "schemaname", "relname"],
    "Autoanalyze runs on the table (a counter; untyped, name kept from postgres_exporter)."
);
metric!(T_LAST_VACUUM, "pg_stat_user_tables_last_vacuum", Gauge, ["datname", "schemaname", "relname"], "When the table was last vacuumed by hand (unix seconds). No sample if it never was (postgres_exporter exports 0).");
metric!(
    T_LAST_AUTOVACUUM,
    "pg_stat_user_tables_last_autovacuum",
    Gauge,
    ["datname", "schemaname", "relname"],
    "When autovacuum last processed the table (unix seconds). No sample if it never did."
);
metric!(
    T_LAST_ANALYZE,
    "pg_stat_user_tables_last_analyze",
    Gauge,
    ["datname", "schemaname", "relname"],
    "When the table was last analyzed by hand (unix seconds). No sample if it never was."
);
metric!(
    T_LAST_AUTOANALYZE,
    "pg_stat_user_tables_last_autoanalyze",
    Gauge,
    ["datname", "schemaname", "relname"],
    "When autoanalyze last processed the table (unix seconds). No sample if it never did."
);
metric!(T_TABLE_SIZE, "pg_stat_user_tables_table_size_bytes", Gauge, ["datname", "schemaname", "relname"], "Size of the table with its TOAST, free-space and visibility maps (pg_table_size), or the catalog estimate while the table is locked.");
metric!(T_INDEX_SIZE, "pg_stat_user_tables_index_size_bytes", Gauge, ["datname", "schemaname", "relname"], "Size of all the table's indexes (pg_indexes_size), or the catalog estimate while the table is locked.");
metric!(
    I_SCAN,
    "pg_stat_user_indexes_idx_scan",
    Untyped,
    ["datname", "schemaname", "relname", "indexrelname"],
    "Scans started on the index (a counter; untyped, name kept from postgres_exporter)."
);
metric!(
    I_SIZE,
    "pg_stat_user_indexes_size_bytes",
    Gauge,
    ["datname", "schemaname", "relname", "indexrelname"],
    "Size of the index (pg_relation_size), or the catalog estimate while it is locked."
);
metric!(I_UNUSED, "pg_unused_index_size_bytes", Gauge, ["datname", "schemaname", "relname", "indexrelname"], "Size of each non-unique, non-primary index with fewer than unused_index_max_scans scans and larger than unused_index_min_size. Never cut by the table cap.");
metric!(
    DB_SIZE,
    "pg_database_size_bytes",
    Gauge,
    ["datname"],
    "Disk space used by the database (pg_database_size)."
);
metric!(ST_MEAN, "pg_stat_statements_mean_seconds", Gauge, ["datname", "queryid"], "Mean execution time of the slowest statements (mean above slow_statement_threshold, top slow_statement_limit); needs pg_stat_statements.");
metric!(
    ST_CALLS,
    "pg_stat_statements_calls_total",
    Counter,
    ["datname", "queryid"],
    "Executions of each statement reported in pg_stat_statements_mean_seconds."
);
metric!(
    ST_SECONDS,
    "pg_stat_statements_seconds_total",
    Counter,
    ["datname", "queryid"],
    "Total execution time of each statement reported in pg_stat_statements_mean_seconds."
);
metric!(DB_COLLECTED, "centinela_pg_database_collect_success", Gauge, ["datname"], "1 if the database's tables and indexes were read in the last run, 0 if that database failed (the others are still reported).");
metric!(
    DB_TABLES,
    "centinela_pg_tables",
    Gauge,
    ["datname"],
    "User tables in the database."
);
metric!(
    DB_TABLES_AGGREGATED,
    "centinela_pg_tables_aggregated",
    Gauge,
    ["datname"],
    "Tables beyond max_tables_per_database whose figures are summed into relname=\"__other__\"."
);
metric!(DB_SIZE_ESTIMATED, "centinela_pg_relations_size_estimated", Gauge, ["datname"], "Relations whose size came from the catalog estimate (relpages) because another session held or awaited an ACCESS EXCLUSIVE lock on them.");

/// The catalogue: collector name and the metrics it can export.
pub static CATALOG: &[(&str, &[&MetricDesc])] = &[
    (
        "self",
        &[
            &BUILD_INFO,
            &COLLECTOR_UP,
            &COLLECTOR_DURATION,
            &COLLECTOR_LAST_SUCCESS,
            &COLLECTOR_ERRORS,
            &COLLECTOR_SERIES,
        ],
    ),
    (
        "postgres",
        &[
            &PG_UP,
            &PG_STATIC,
            &PG_START_TIME,
            &PG_IS_REPLICA,
            &PG_REPLICATION_LAG,
            &PG_MAX_CONNECTIONS,
            &PG_SUPERUSER_RESERVED,
            &PG_FREEZE_MAX_AGE,
            &PG_ACTIVITY_COUNT,
            &PG_ACTIVITY_MAX_TX,
            &PG_LOCK_WAITING,
            &PG_LOCKS_COUNT,
            &PG_XID_AGE,
            &PG_ARCHIVED,
            &PG_ARCHIVE_FAILED,
            &PG_LAST_ARCHIVE_AGE,
            &PG_LAST_ARCHIVED_TIME,
            &PG_LAST_FAILED_TIME,
            &PG_SLOT_ACTIVE,
            &PG_SLOT_RETAINED,
        ],
    ),
    (
        "postgres_tables",
        &[
            &T_LIVE,
            &T_DEAD,
            &T_MOD,
            &T_SEQ_SCAN,
            &T_IDX_SCAN,
            &T_VACUUM_COUNT,
            &T_AUTOVACUUM_COUNT,
            &T_ANALYZE_COUNT,
            &T_AUTOANALYZE_COUNT,
            &T_LAST_VACUUM,
            &T_LAST_AUTOVACUUM,
            &T_LAST_ANALYZE,
            &T_LAST_AUTOANALYZE,
            &T_TABLE_SIZE,
            &T_INDEX_SIZE,
            &I_SCAN,
            &I_SIZE,
            &I_UNUSED,
            &DB_SIZE,
            &ST_MEAN,
            &ST_CALLS,
            &ST_SECONDS,
            &DB_COLLECTED,
            &DB_TABLES,
            &DB_TABLES_AGGREGATED,
            &DB_SIZE_ESTIMATED,
        ],
    ),
];

/// Looks a metric up by name.
pub fn find(name: &str) -> Option<(&'static str, &'static MetricDesc)> {
    CATALOG
        .iter()
        .flat_map(|(c, descs)| descs.iter().map(move |d| (*c, *d)))
        .find(|(_, d)| d.name == name)
}

/// The catalogue as plain text: one block per metric.
pub fn render_text() -> String {
    let mut out = String::new();
    for (collector, descs) in CATALOG {
        for d in *descs {
            out.push_str(&format!(
                "{} {} [{}] ({})\n    {}\n",
                d.name,
                d.kind.as_str(),
                d.labels.join(","),
                collector,
                d.help
            ));
        }
    }
    out
}

/// The catalogue as the README's Markdown table.
pub fn render_markdown() -> String {
    let mut out =
        String::from("| metric | type | labels | collector | help |\n|---|---|---|---|---|\n");
    for (collector, descs) in CATALOG {
        for d in *descs {
            let labels = d
                .labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                d.name,
                d.kind.as_str(),
                labels,
                collector,
                d.help.replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_follow_conventions() {
        let mut seen = HashSet::new();
        for (_, descs) in CATALOG {
            for d in *descs {
                assert!(seen.insert(d.name), "{} listed twice", d.name);
                assert!(
                    d.name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{}",
                    d.name
                );
                assert!(!d.help.is_empty(), "{} has no help", d.name);
                match d.kind {
                    crate::metrics::sample::MetricKind::Counter => {
                        assert!(d.name.ends_with("_total"), "{}", d.name);
                    }
                    _ => assert!(!d.name.ends_with("_total"), "{}", d.name),
                }
            }
        }
    }
}
