//! Families a collector defines that need more than a running server to be exported, and
//! what each needs. A test scene says what it provides; every family whose needs it meets
//! must then be exported (the dashboards scene, the version matrix).

/// What a family needs beyond a running server with default settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// A server of this `server_version_num` or later.
    Since(i32),
    /// A server before this version.
    Before(i32),
    /// A replica.
    Replica,
    /// A primary.
    Primary,
    /// A primary with a streaming standby.
    Standby,
    /// Something the scene must set up, in words.
    Setup(&'static str),
}

use Needs::{Before, Primary, Replica, Setup, Since, Standby};

pub const UNREADABLE_BACKUPS: &str = "a backup directory that cannot be read";
pub const SLOT: &str = "a replication slot";
pub const SLOT_LIMIT: &str = "a slot and max_slot_wal_keep_size set";
pub const INACTIVE_SLOT: &str = "a slot not in use";
pub const SLOT_XMIN: &str = "a slot holding an xmin (hot_standby_feedback)";
pub const LOGICAL_SLOT: &str = "a logical slot";
pub const ARCHIVED: &str = "archive_mode on and a segment archived";
pub const ARCHIVE_FAILED: &str = "a failed archive attempt";
pub const STATS_RESET: &str = "a database whose statistics were reset";
pub const PENDING_RESTART: &str = "a setting changed that waits for a restart";
pub const BUSY_WAIT: &str = "a busy backend waiting (a lock, pg_sleep)";
pub const VACUUM_RUNNING: &str = "a VACUUM running";
pub const FULL_SEQUENCE: &str = "a sequence past sequence_min_used_ratio";
pub const EXPIRING_ROLE: &str = "a login role with a password expiry";
pub const MANUAL_VACUUM: &str = "a table vacuumed by hand";
pub const MANUAL_ANALYZE: &str = "a table analyzed by hand";
pub const UNUSED_INDEX: &str = "an index past unused_index_min_size, never scanned";
pub const SLOW_STATEMENT: &str = "a statement slower than slow_statement_threshold";
pub const HEARTBEAT: &str = "postgres.heartbeat_table set";
pub const INVALID_INDEX: &str = "an invalid index (a failed CREATE INDEX CONCURRENTLY)";

/// Every conditional family, with all it needs.
pub const CONDITIONAL: &[(&str, &[Needs])] = &[
    ("centinela_backup_errors", &[Setup(UNREADABLE_BACKUPS)]),
    (
        "centinela_cert_source_errors",
        &[Setup("a certificate source that cannot be read")],
    ),
    (
        "centinela_cgroup_memory_current_bytes",
        &[Setup("a cgroup v2 memory limit (a container)")],
    ),
    (
        "centinela_cgroup_memory_max_bytes",
        &[Setup("a cgroup v2 memory limit (a container)")],
    ),
    (
        "centinela_cpu_utilization_ratio",
        &[Setup("a second host run: the first has no earlier reading")],
    ),
    (
        "centinela_filesystem_device_error",
        &[Setup("a filesystem whose statvfs fails or hangs")],
    ),
    (
        "centinela_stale_files_errors",
        &[Setup("a stale-files directory that cannot be read")],
    ),
    (
        "centinela_pg_statements_unavailable",
        &[Setup("pg_stat_statements installed but not preloaded")],
    ),
    (
        "centinela_pg_setting_pending_restart",
        &[Setup(PENDING_RESTART)],
    ),
    // Replication, replica side.
    ("pg_replication_lag_seconds", &[Replica]),
    ("pg_replication_lag", &[Replica]),
    ("pg_stat_wal_receiver_streaming", &[Replica]),
    ("pg_stat_wal_receiver_last_msg_receipt_time", &[Replica]),
    ("pg_stat_wal_receiver_last_msg_age_seconds", &[Replica]),
    ("pg_replication_received_lsn_bytes", &[Replica]),
    ("pg_replication_replayed_lsn_bytes", &[Replica]),
    ("pg_stat_recovery_paused", &[Replica, Since(190_000)]),
    (
        "pg_stat_recovery_promote_triggered",
        &[Replica, Since(190_000)],
    ),
    // Replication, primary side.
    ("pg_stat_replication_standbys", &[Primary]),
    ("pg_stat_replication_pg_wal_lsn_diff", &[Standby]),
    ("pg_stat_replication_sent_behind_bytes", &[Standby]),
    ("pg_stat_replication_write_behind_bytes", &[Standby]),
    ("pg_stat_replication_flush_behind_bytes", &[Standby]),
    ("pg_stat_replication_write_lag_seconds", &[Standby]),
    ("pg_stat_replication_flush_lag_seconds", &[Standby]),
    ("pg_stat_replication_replay_lag_seconds", &[Standby]),
    ("pg_replication_slots_active", &[Setup(SLOT)]),
    ("pg_replication_slots_pg_wal_lsn_diff", &[Setup(SLOT)]),
    ("pg_replication_slots_wal_status", &[Setup(SLOT)]),
    (
        "pg_replication_slots_safe_wal_size_bytes",
        &[Setup(SLOT_LIMIT)],
    ),
    (
        "pg_replication_slots_inactive_since_timestamp_seconds",
        &[Setup(INACTIVE_SLOT), Since(170_000)],
    ),
    ("pg_replication_slots_xmin_age", &[Setup(SLOT_XMIN)]),
    (
        "pg_replication_slots_catalog_xmin_age",
        &[Setup(LOGICAL_SLOT)],
    ),
    // Archiving.
    ("pg_stat_archiver_last_archive_age", &[Setup(ARCHIVED)]),
    (
        "pg_stat_archiver_last_archived_timestamp_seconds",
        &[Setup(ARCHIVED)],
    ),
    (
        "pg_stat_archiver_last_failed_timestamp_seconds",
        &[Setup(ARCHIVE_FAILED)],
    ),
    // Databases.
    ("pg_stat_database_stats_reset", &[Setup(STATS_RESET)]),
    (
        "pg_stat_database_checksum_failures",
        &[Setup("data checksums on (initdb --data-checksums)")],
    ),
    (
        "pg_stat_database_parallel_workers_to_launch_total",
        &[Since(180_000)],
    ),
    (
        "pg_stat_database_parallel_workers_launched_total",
        &[Since(180_000)],
    ),
    ("pg_multixact_ids", &[Since(190_000)]),
    ("pg_multixact_members", &[Since(190_000)]),
    ("pg_multixact_members_size_bytes", &[Since(190_000)]),
    // Sessions and locks.
    ("pg_wait_event_sessions", &[Setup(BUSY_WAIT)]),
    ("pg_xmin_horizon_age", &[Setup(SLOT_XMIN)]),
    ("pg_heartbeat_write_success", &[Primary, Setup(HEARTBEAT)]),
    ("pg_heartbeat_commit_seconds", &[Primary, Setup(HEARTBEAT)]),
    ("pg_heartbeat_age_seconds", &[Setup(HEARTBEAT)]),
    ("centinela_db_time_seconds_total", &[Setup(SLOW_STATEMENT)]),
    (
        "pg_stat_statements_time_seconds_total",
        &[Setup(SLOW_STATEMENT)],
    ),
    ("centinela_db_time_share", &[Setup(SLOW_STATEMENT)]),
    ("pg_xmin_horizon_age_seconds", &[Setup(BUSY_WAIT)]),
    ("pg_stat_lock_waits_total", &[Since(190_000)]),
    ("pg_stat_lock_wait_time_seconds_total", &[Since(190_000)]),
    ("pg_stat_lock_fastpath_exceeded_total", &[Since(190_000)]),
    // Checkpointer and WAL.
    ("pg_stat_checkpointer_num_timed_total", &[Since(170_000)]),
    (
        "pg_stat_checkpointer_num_requested_total",
        &[Since(170_000)],
    ),
    ("pg_stat_checkpointer_num_done_total", &[Since(180_000)]),
    (
        "pg_stat_checkpointer_restartpoints_timed_total",
        &[Since(170_000)],
    ),
    (
        "pg_stat_checkpointer_restartpoints_req_total",
        &[Since(170_000)],
    ),
    (
        "pg_stat_checkpointer_restartpoints_done_total",
        &[Since(170_000)],
    ),
    ("pg_stat_checkpointer_write_time_total", &[Since(170_000)]),
    ("pg_stat_checkpointer_sync_time_total", &[Since(170_000)]),
    (
        "pg_stat_checkpointer_buffers_written_total",
        &[Since(170_000)],
    ),
    ("pg_stat_checkpointer_slru_written_total", &[Since(180_000)]),
    ("pg_stat_wal_fpi_bytes_total", &[Since(190_000)]),
    // pg_stat_io.
    ("pg_stat_io_reads_total", &[Since(160_000)]),
    ("pg_stat_io_read_bytes_total", &[Since(160_000)]),
    ("pg_stat_io_read_time_seconds_total", &[Since(160_000)]),
    ("pg_stat_io_writes_total", &[Since(160_000)]),
    ("pg_stat_io_write_bytes_total", &[Since(160_000)]),
    ("pg_stat_io_write_time_seconds_total", &[Since(160_000)]),
    ("pg_stat_io_writebacks_total", &[Since(160_000)]),
    ("pg_stat_io_extends_total", &[Since(160_000)]),
    ("pg_stat_io_extend_bytes_total", &[Since(160_000)]),
    ("pg_stat_io_hits_total", &[Since(160_000)]),
    ("pg_stat_io_evictions_total", &[Since(160_000)]),
    ("pg_stat_io_reuses_total", &[Since(160_000)]),
    ("pg_stat_io_fsyncs_total", &[Since(160_000)]),
    ("pg_stat_io_fsync_time_seconds_total", &[Since(160_000)]),
    // Vacuum progress.
    ("pg_stat_progress_vacuum_phase", &[Setup(VACUUM_RUNNING)]),
    (
        "pg_stat_progress_vacuum_heap_blks",
        &[Setup(VACUUM_RUNNING)],
    ),
    (
        "pg_stat_progress_vacuum_heap_blks_scanned",
        &[Setup(VACUUM_RUNNING)],
    ),
    (
        "pg_stat_progress_vacuum_heap_blks_vacuumed",
        &[Setup(VACUUM_RUNNING)],
    ),
    (
        "pg_stat_progress_vacuum_index_vacuums",
        &[Setup(VACUUM_RUNNING)],
    ),
    (
        "pg_stat_progress_vacuum_max_dead_tuples",
        &[Setup(VACUUM_RUNNING), Before(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_num_dead_tuples",
        &[Setup(VACUUM_RUNNING), Before(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_max_dead_tuple_bytes",
        &[Setup(VACUUM_RUNNING), Since(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_dead_tuple_bytes",
        &[Setup(VACUUM_RUNNING), Since(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_num_dead_item_ids",
        &[Setup(VACUUM_RUNNING), Since(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_indexes",
        &[Setup(VACUUM_RUNNING), Since(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_indexes_processed",
        &[Setup(VACUUM_RUNNING), Since(170_000)],
    ),
    (
        "pg_stat_progress_vacuum_delay_time_seconds",
        &[Setup(VACUUM_RUNNING), Since(180_000)],
    ),
    // Tables collector.
    ("pg_invalid_index_size_bytes", &[Setup(INVALID_INDEX)]),
    (
        "pg_stat_user_tables_last_autoanalyze",
        &[Setup("autovacuum having analyzed a table")],
    ),
    (
        "pg_stat_user_tables_last_autovacuum",
        &[Setup("autovacuum having vacuumed a table")],
    ),
    ("pg_stat_user_tables_last_vacuum", &[Setup(MANUAL_VACUUM)]),
    ("pg_stat_user_tables_last_analyze", &[Setup(MANUAL_ANALYZE)]),
    ("pg_unused_index_size_bytes", &[Setup(UNUSED_INDEX)]),
    ("pg_stat_statements_mean_seconds", &[Setup(SLOW_STATEMENT)]),
    ("pg_stat_statements_calls_total", &[Setup(SLOW_STATEMENT)]),
    ("pg_stat_statements_seconds_total", &[Setup(SLOW_STATEMENT)]),
    ("pg_sequence_used_ratio", &[Setup(FULL_SEQUENCE)]),
    (
        "pg_role_password_expiry_timestamp_seconds",
        &[Setup(EXPIRING_ROLE)],
    ),
];

/// What a test built: the server's version and role, and the conditions it set up.
#[derive(Clone, Debug)]
pub struct Scene {
    /// `server_version_num`.
    pub version: i32,
    /// A replica (else a primary).
    pub replica: bool,
    /// A primary with a streaming standby.
    pub standby: bool,
    /// The [`Needs::Setup`] conditions it set up.
    pub provides: Vec<&'static str>,
}

impl Scene {
    /// Whether `family` must be exported in this scene.
    pub fn expects(&self, family: &str) -> bool {
        CONDITIONAL
            .iter()
            .find(|(name, _)| *name == family)
            .is_none_or(|(_, needs)| needs.iter().all(|n| self.meets(*n)))
    }

    fn meets(&self, need: Needs) -> bool {
        match need {
            Since(v) => self.version >= v,
            Before(v) => self.version < v,
            Replica => self.replica,
            Primary => !self.replica,
            Standby => self.standby,
            Setup(what) => self.provides.contains(&what),
        }
    }
}

/// Every listed family is one some collector defines, so the table cannot go stale.
pub fn assert_conditions_are_defined() {
    for (name, _) in CONDITIONAL {
        assert!(
            centinela::collectors::find_metric(name).is_some(),
            "families.rs lists {name}, which no collector defines"
        );
    }
}
