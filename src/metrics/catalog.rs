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

// === host ===
metric!(
    FS_SIZE,
    "centinela_filesystem_size_bytes",
    Gauge,
    ["mountpoint", "device", "fstype"],
    "Filesystem size."
);
metric!(
    FS_AVAIL,
    "centinela_filesystem_avail_bytes",
    Gauge,
    ["mountpoint", "device", "fstype"],
    "Space available to unprivileged users (what df shows as Avail)."
);
metric!(
    FS_FREE,
    "centinela_filesystem_free_bytes",
    Gauge,
    ["mountpoint", "device", "fstype"],
    "Free space, including what is reserved for root."
);
metric!(
    FS_FILES,
    "centinela_filesystem_files",
    Gauge,
    ["mountpoint", "device", "fstype"],
    "Inodes in the filesystem."
);
metric!(
    FS_FILES_FREE,
    "centinela_filesystem_files_free",
    Gauge,
    ["mountpoint", "device", "fstype"],
    "Free inodes."
);
metric!(
    FS_READONLY,
    "centinela_filesystem_readonly",
    Gauge,
    ["mountpoint", "device", "fstype"],
    "1 if the filesystem is mounted read-only."
);
metric!(FS_ERROR, "centinela_filesystem_device_error", Gauge, ["mountpoint", "device", "fstype", "reason"], "1 for a filesystem that could not be read (reason timeout: statvfs did not answer, as a hung network mount does).");
metric!(
    MEM_TOTAL,
    "centinela_memory_total_bytes",
    Gauge,
    [],
    "Total usable memory (MemTotal)."
);
metric!(MEM_AVAILABLE, "centinela_memory_available_bytes", Gauge, [], "Memory available for new work without swapping (MemAvailable), what free -m shows as available.");
metric!(
    MEM_FREE,
    "centinela_memory_free_bytes",
    Gauge,
    [],
    "Unused memory (MemFree)."
);
metric!(
    MEM_CACHED,
    "centinela_memory_cached_bytes",
    Gauge,
    [],
    "Page cache (Cached)."
);
metric!(
    MEM_SWAP_TOTAL,
    "centinela_memory_swap_total_bytes",
    Gauge,
    [],
    "Swap space."
);
metric!(
    MEM_SWAP_FREE,
    "centinela_memory_swap_free_bytes",
    Gauge,
    [],
    "Unused swap space."
);
metric!(CG_MEM_MAX, "centinela_cgroup_memory_max_bytes", Gauge, [], "Memory limit of centinela's cgroup (v2 memory.max), i.e. the container's limit; absent when unlimited or outside cgroup v2.");
metric!(CG_MEM_CURRENT, "centinela_cgroup_memory_current_bytes", Gauge, [], "Memory used by centinela's cgroup (v2 memory.current), i.e. the whole container or pod's share.");
metric!(
    CPU_SECONDS,
    "centinela_cpu_seconds_total",
    Counter,
    ["mode"],
    "CPU time of all cores by mode, from /proc/stat."
);
metric!(CPU_UTIL, "centinela_cpu_utilization_ratio", Gauge, [], "Share of CPU time not idle (idle and iowait count as idle) between the last two runs, 0 to 1; absent after the first.");
metric!(
    LOAD1,
    "centinela_load1",
    Gauge,
    [],
    "1-minute load average."
);
metric!(
    LOAD5,
    "centinela_load5",
    Gauge,
    [],
    "5-minute load average."
);
metric!(
    LOAD15,
    "centinela_load15",
    Gauge,
    [],
    "15-minute load average."
);

// === certs ===
metric!(CERT_NOT_AFTER, "centinela_cert_not_after_timestamp_seconds", Gauge, ["source", "subject_cn", "issuer_cn", "serial"], "When the certificate expires (unix seconds). Source is a file path or an endpoint (host:port; postgres for the server's own).");
metric!(
    CERT_NOT_BEFORE,
    "centinela_cert_not_before_timestamp_seconds",
    Gauge,
    ["source", "subject_cn", "issuer_cn", "serial"],
    "When the certificate became valid (unix seconds)."
);
metric!(CERT_VERIFY_OK, "centinela_cert_verify_ok", Gauge, ["source", "reason"], "For a TLS endpoint: 1 if its chain verifies against the system roots for its name, 0 with the reason (expired, unknown_issuer for self-signed or private CAs, wrong_name, ...); the certificate is reported either way.");
metric!(CERT_SOURCE_ERROR, "centinela_cert_source_errors", Gauge, ["source", "reason"], "1 for a certificate source that could not be read: a glob that matches nothing, an unreadable file, a file without certificates, an endpoint that does not answer.");

// === backups ===
metric!(
    BK_NEWEST_TIME,
    "centinela_backup_newest_timestamp_seconds",
    Gauge,
    ["name"],
    "Modification time of the newest backup file (unix seconds); absent when there is none."
);
metric!(
    BK_NEWEST_SIZE,
    "centinela_backup_newest_size_bytes",
    Gauge,
    ["name"],
    "Size of the newest backup file."
);
metric!(BK_NEWEST_VALID, "centinela_backup_newest_valid", Gauge, ["name"], "1 if the newest backup file looks valid: not empty, and with the right header for pg_dump custom format (PGDMP) or gzip (.gz).");
metric!(
    BK_FILES,
    "centinela_backup_files",
    Gauge,
    ["name"],
    "Backup files in the set."
);
metric!(
    BK_SIZE,
    "centinela_backup_size_bytes",
    Gauge,
    ["name"],
    "Total size of the backup files in the set."
);
metric!(
    BK_ERROR,
    "centinela_backup_errors",
    Gauge,
    ["name", "reason"],
    "1 when the set cannot be read or holds nothing (reason missing, unreadable, empty)."
);

// === pgbackrest ===
metric!(
    PGBR_LAST,
    "centinela_pgbackrest_last_backup_timestamp_seconds",
    Gauge,
    ["stanza", "type"],
    "When the newest pgBackRest backup of each type (full, diff, incr) finished (unix seconds)."
);
metric!(
    PGBR_STATUS,
    "centinela_pgbackrest_stanza_status_code",
    Gauge,
    ["stanza", "message"],
    "pgBackRest's status code for the stanza (0 ok, 2 no valid backups, ...), with its message."
);
metric!(
    PGBR_ERROR,
    "centinela_pgbackrest_last_backup_error",
    Gauge,
    ["stanza"],
    "1 if pgBackRest recorded an error (checksum or otherwise) in the newest backup of the stanza."
);

// === redis ===
metric!(
    REDIS_UP,
    "redis_up",
    Gauge,
    [],
    "1 if Redis answered PING, 0 if not."
);
metric!(
    REDIS_PING,
    "centinela_redis_ping_seconds",
    Gauge,
    [],
    "Round-trip time of PING."
);
metric!(
    REDIS_MEM_USED,
    "redis_memory_used_bytes",
    Gauge,
    [],
    "Memory used by Redis (used_memory)."
);
metric!(
    REDIS_MEM_MAX,
    "redis_memory_max_bytes",
    Gauge,
    [],
    "Redis maxmemory; 0 means no limit."
);
metric!(
    REDIS_CLIENTS,
    "redis_connected_clients",
    Gauge,
    [],
    "Connected clients."
);
metric!(
    REDIS_EVICTED,
    "redis_evicted_keys_total",
    Counter,
    [],
    "Keys evicted because of maxmemory."
);
metric!(
    REDIS_DB_KEYS,
    "redis_db_keys",
    Gauge,
    ["db"],
    "Keys per database."
);
metric!(REDIS_KEYS_COUNT, "redis_keys_count", Untyped, ["db", "pattern"], "Keys matching each configured pattern, counted with SCAN (redis_exporter name; untyped because of its _count suffix). Check centinela_redis_key_scan_complete.");
metric!(REDIS_SCAN_COMPLETE, "centinela_redis_key_scan_complete", Gauge, ["db", "pattern"], "1 if the pattern's SCAN finished within scan_budget, 0 if the count is partial (a lower bound).");

// === files ===
metric!(
    STALE_FILES,
    "centinela_stale_files",
    Gauge,
    ["name"],
    "Files matching the pattern older than older_than (find -mtime)."
);
metric!(
    STALE_BYTES,
    "centinela_stale_files_bytes",
    Gauge,
    ["name"],
    "Total size of those files."
);
metric!(STALE_ERROR, "centinela_stale_files_errors", Gauge, ["name", "reason"], "1 when the directory cannot be read (missing, unreadable) or the walk was cut short (truncated).");
metric!(LOG_MATCHES, "centinela_log_matches", Gauge, ["name"], "Lines matching the pattern in today's file (grep -c); starts over when the date, and so the file, changes.");
metric!(LOG_MATCHES_TOTAL, "centinela_log_matches_total", Counter, ["name"], "Matching lines seen since centinela started, across days, truncation and rotation; never counts a line twice.");
metric!(
    LOG_FILE_PRESENT,
    "centinela_log_file_present",
    Gauge,
    ["name"],
    "1 if today's file exists."
);

// === probes ===
metric!(
    PROBE_SUCCESS,
    "centinela_probe_success",
    Gauge,
    ["name"],
    "1 if the URL answered with a status below 400 within the timeout (curl -f), 0 otherwise."
);
metric!(
    PROBE_DURATION,
    "centinela_probe_duration_seconds",
    Gauge,
    ["name"],
    "How long the probe took."
);
metric!(
    PROBE_STATUS,
    "centinela_probe_http_status_code",
    Gauge,
    ["name"],
    "HTTP status of the answer; 0 when there was none."
);

// === textfile ===
metric!(TEXTFILE_ERROR, "centinela_textfile_scrape_error", Gauge, ["file"], "1 if the *.prom file could not be read or parsed (it is skipped; the others still load), 0 if it loaded.");
metric!(
    TEXTFILE_MTIME,
    "centinela_textfile_mtime_seconds",
    Gauge,
    ["file"],
    "Modification time of each *.prom file that loaded."
);

// === alerting ===
metric!(
    ALERTS,
    "centinela_alerts",
    Gauge,
    ["state", "severity"],
    "Alerts of the alerting engine by state (pending, firing) and severity label."
);
metric!(
    RULE_EVAL_FAILURES,
    "centinela_rule_evaluation_failures_total",
    Counter,
    ["group", "rule"],
    "Evaluations of the rule that failed (the rule keeps its alerts' state meanwhile)."
);
metric!(
    RULE_GROUP_DURATION,
    "centinela_rule_group_duration_seconds",
    Gauge,
    ["group"],
    "How long the last evaluation of the rule group took."
);
metric!(
    HISTORY_POINTS,
    "centinela_alerting_history_points",
    Gauge,
    [],
    "Points held in the alerting history (16 bytes each, capped by history_max_points)."
);
metric!(
    HISTORY_SERIES,
    "centinela_alerting_history_series",
    Gauge,
    [],
    "Series held in the alerting history (only those some rule reads)."
);
metric!(
    HISTORY_DROPPED,
    "centinela_alerting_history_dropped_points_total",
    Counter,
    [],
    "Points not stored because history_max_points was reached."
);

metric!(
    NOTIFICATIONS,
    "centinela_notifications_total",
    Counter,
    ["receiver", "integration", "outcome"],
    "Delivery attempts by outcome: sent, failed (retried later) or rejected (permanent error, dropped)."
);
metric!(
    NOTIFICATION_LATENCY,
    "centinela_notification_latency_seconds",
    Gauge,
    ["receiver", "integration"],
    "Seconds from queueing to delivery of the last delivered notification (retries included)."
);
metric!(
    NOTIFICATION_QUEUE,
    "centinela_notification_queue_depth",
    Gauge,
    ["receiver", "integration"],
    "Notifications queued and not yet delivered."
);
metric!(
    NOTIFICATION_QUEUE_AGE,
    "centinela_notification_queue_oldest_age_seconds",
    Gauge,
    ["receiver", "integration"],
    "Age of the oldest undelivered notification (0 when the queue is empty)."
);
metric!(
    ALERTS_HELD_BACK,
    "centinela_alerts_held_back",
    Gauge,
    ["reason"],
    "Firing alerts not notified because of maintenance mode, a silence or an inhibition rule."
);

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
        "alerting",
        &[
            &ALERTS,
            &RULE_EVAL_FAILURES,
            &RULE_GROUP_DURATION,
            &HISTORY_POINTS,
            &HISTORY_SERIES,
            &HISTORY_DROPPED,
            &NOTIFICATIONS,
            &NOTIFICATION_LATENCY,
            &NOTIFICATION_QUEUE,
            &NOTIFICATION_QUEUE_AGE,
            &ALERTS_HELD_BACK,
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
    (
        "host",
        &[
            &FS_SIZE,
            &FS_AVAIL,
            &FS_FREE,
            &FS_FILES,
            &FS_FILES_FREE,
            &FS_READONLY,
            &FS_ERROR,
            &MEM_TOTAL,
            &MEM_AVAILABLE,
            &MEM_FREE,
            &MEM_CACHED,
            &MEM_SWAP_TOTAL,
            &MEM_SWAP_FREE,
            &CG_MEM_MAX,
            &CG_MEM_CURRENT,
            &CPU_SECONDS,
            &CPU_UTIL,
            &LOAD1,
            &LOAD5,
            &LOAD15,
        ],
    ),
    (
        "certs",
        &[
            &CERT_NOT_AFTER,
            &CERT_NOT_BEFORE,
            &CERT_VERIFY_OK,
            &CERT_SOURCE_ERROR,
        ],
    ),
    (
        "backups",
        &[
            &BK_NEWEST_TIME,
            &BK_NEWEST_SIZE,
            &BK_NEWEST_VALID,
            &BK_FILES,
            &BK_SIZE,
            &BK_ERROR,
        ],
    ),
    ("pgbackrest", &[&PGBR_LAST, &PGBR_STATUS, &PGBR_ERROR]),
    (
        "redis",
        &[
            &REDIS_UP,
            &REDIS_PING,
            &REDIS_MEM_USED,
            &REDIS_MEM_MAX,
            &REDIS_CLIENTS,
            &REDIS_EVICTED,
            &REDIS_DB_KEYS,
            &REDIS_KEYS_COUNT,
            &REDIS_SCAN_COMPLETE,
        ],
    ),
    (
        "files",
        &[
            &STALE_FILES,
            &STALE_BYTES,
            &STALE_ERROR,
            &LOG_MATCHES,
            &LOG_MATCHES_TOTAL,
            &LOG_FILE_PRESENT,
        ],
    ),
    ("probes", &[&PROBE_SUCCESS, &PROBE_DURATION, &PROBE_STATUS]),
    ("textfile", &[&TEXTFILE_ERROR, &TEXTFILE_MTIME]),
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
