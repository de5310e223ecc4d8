//! The SQL centinela runs, one constant per view, each with why it is written that way.
//!
//! Every value is cast to `float8` or `text` in SQL so rows decode into plain tuples.

/// Server identity and settings in one round trip. Replication lag only on a replica:
/// 0 when replay has caught up with what was received (an idle primary sends nothing, and
/// "time since last replayed transaction" would grow without any lag).
pub const IDENTITY: &str = "
SELECT current_setting('server_version_num')::int4,
       current_setting('server_version'),
       extract(epoch FROM pg_postmaster_start_time())::float8,
       pg_is_in_recovery(),
       current_setting('max_connections')::float8,
       current_setting('superuser_reserved_connections')::float8,
       current_setting('autovacuum_freeze_max_age')::float8";

/// On a replica: whether the WAL receiver streams, when the primary last spoke, and the
/// lag. The lag is 0 only while the receiver streams and replay has caught up with what it
/// received: with the receiver gone (primary stopped or unreachable), "received =
/// replayed" is always true and would read as no lag, so the lag is then the time since
/// the last replayed transaction (or since the server started, if none was replayed).
pub const WAL_RECEIVER: &str = "
SELECT coalesce(r.status = 'streaming', false),
       extract(epoch FROM r.last_msg_receipt_time)::float8,
       CASE WHEN coalesce(r.status = 'streaming', false)
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
            ELSE greatest(0, extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(),
                                                                 pg_postmaster_start_time())))::float8
       END
FROM (SELECT 1) AS one
LEFT JOIN pg_stat_wal_receiver r ON true";

/// Backends per database and state, zeros included (as `postgres_exporter` does, so a state
/// that empties shows 0 rather than disappearing).
pub const ACTIVITY: &str = "
SELECT d.datname::text, s.state, count(a.pid)::float8,
       -- now() is this statement's transaction start, so a transaction that began after
       -- it would read as negative.
       greatest(0, coalesce(max(extract(epoch FROM now() - a.xact_start)), 0))::float8
FROM pg_database d
CROSS JOIN (VALUES ('active'), ('idle'), ('idle in transaction'),
                   ('idle in transaction (aborted)'), ('fastpath function call'),
                   ('disabled')) AS s(state)
LEFT JOIN pg_stat_activity a ON a.datid = d.oid AND a.state = s.state
GROUP BY d.datname, s.state
ORDER BY d.datname, s.state";

/// Locks per database and mode, zeros included, mode lower-cased like `postgres_exporter`.
pub const LOCKS: &str = "
SELECT d.datname::text, m.mode, count(l.mode)::float8
FROM pg_database d
CROSS JOIN (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'),
                   ('shareupdateexclusivelock'), ('sharelock'), ('sharerowexclusivelock'),
                   ('exclusivelock'), ('accessexclusivelock'), ('sireadlock')) AS m(mode)
LEFT JOIN pg_locks l ON l.database = d.oid AND lower(l.mode) = m.mode
GROUP BY d.datname, m.mode
ORDER BY d.datname, m.mode";

/// Per database: transaction-ID age (wraparound) and sessions waiting for a lock.
pub const DATABASES: &str = "
SELECT d.datname::text, age(d.datfrozenxid)::float8,
       (SELECT count(*) FROM pg_stat_activity a
         WHERE a.datid = d.oid AND a.wait_event_type = 'Lock')::float8
FROM pg_database d
ORDER BY d.datname";

/// WAL archiving. Timestamps are NULL when nothing was ever archived or failed.
pub const ARCHIVER: &str = "
SELECT archived_count::float8, failed_count::float8,
       extract(epoch FROM last_archived_time)::float8,
       extract(epoch FROM last_failed_time)::float8,
       extract(epoch FROM now() - last_archived_time)::float8
FROM pg_stat_archiver";

/// Replication slots and the WAL each keeps on disk.
pub const SLOTS: &str = "
SELECT slot_name::text, slot_type::text, coalesce(database::text, ''), active,
       coalesce(pg_wal_lsn_diff(
         CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
         restart_lsn), 0)::float8
FROM pg_replication_slots
ORDER BY slot_name";

/// The databases to visit, and which one this session is connected to.
pub const DISCOVER: &str = "
SELECT current_database()::text, datname::text
FROM pg_database WHERE datallowconn ORDER BY datname";

/// Per table. Size functions take an ACCESS SHARE lock on the relation, which queues behind
/// an ACCESS EXCLUSIVE lock held *or awaited* by another session (ALTER TABLE, LOCK,
/// VACUUM FULL). Relations with such a lock get the catalog estimate (relpages) instead, so
/// the collection never waits; `lock_timeout` covers the race of a lock taken mid-query.
pub const TABLES: &str = "
WITH locked AS (
  SELECT DISTINCT relation FROM pg_locks
  WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT s.schemaname::text, s.relname::text,
       s.n_live_tup::float8, s.n_dead_tup::float8, s.n_mod_since_analyze::float8,
       s.seq_scan::float8, coalesce(s.idx_scan, 0)::float8,
       s.vacuum_count::float8, s.autovacuum_count::float8,
       s.analyze_count::float8, s.autoanalyze_count::float8,
       extract(epoch FROM s.last_vacuum)::float8, extract(epoch FROM s.last_autovacuum)::float8,
       extract(epoch FROM s.last_analyze)::float8, extract(epoch FROM s.last_autoanalyze)::float8,
       CASE WHEN l.relation IS NULL THEN pg_table_size(s.relid)
            ELSE c.relpages::int8 * current_setting('block_size')::int8 END::float8,
       CASE WHEN l.relation IS NULL THEN pg_indexes_size(s.relid)
            ELSE (SELECT coalesce(sum(ic.relpages), 0)::int8 FROM pg_index i
                  JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = s.relid)
                 * current_setting('block_size')::int8 END::float8,
       l.relation IS NOT NULL
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN locked l ON l.relation = s.relid";

/// Per index, with what the unused-index check needs. An index is sized on its own lock,
/// and an index of a locked table still answers `pg_relation_size`.
pub const INDEXES: &str = "
WITH locked AS (
  SELECT DISTINCT relation FROM pg_locks
  WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT s.schemaname::text, s.relname::text, s.indexrelname::text,
       coalesce(s.idx_scan, 0)::float8,
       CASE WHEN l.relation IS NULL THEN pg_relation_size(s.indexrelid)
            ELSE c.relpages::int8 * current_setting('block_size')::int8 END::float8,
       l.relation IS NOT NULL, i.indisunique, i.indisprimary
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
JOIN pg_class c ON c.oid = s.indexrelid
LEFT JOIN locked l ON l.relation = s.indexrelid";

/// Size of the database this session is connected to.
pub const DATABASE_SIZE: &str = "SELECT pg_database_size(current_database())::float8";

/// Whether `pg_stat_statements` is installed in this database.
pub const HAS_STATEMENTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')";

/// The slowest statements by mean time, grouped over users because only `datname` and
/// `queryid` label them (never the text). `$1` threshold in ms, `$2` limit. `$time` is the
/// total-time column, renamed from `total_time` to `total_exec_time` in PostgreSQL 13.
macro_rules! statements_sql {
    ($time:literal) => {
        concat!(
            "SELECT d.datname::text, s.queryid::text, sum(s.calls)::float8,
       (sum(s.",
            $time,
            ") / 1000)::float8,
       (sum(s.",
            $time,
            ") / nullif(sum(s.calls), 0) / 1000)::float8 AS mean
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE s.queryid IS NOT NULL
GROUP BY d.datname, s.queryid
HAVING sum(s.",
            $time,
            ") / nullif(sum(s.calls), 0) > $1
ORDER BY mean DESC LIMIT $2"
        )
    };
}

/// `pg_stat_statements` from PostgreSQL 13 on.
pub const STATEMENTS_13: &str = statements_sql!("total_exec_time");
/// `pg_stat_statements` before 13.
pub const STATEMENTS_12: &str = statements_sql!("total_time");

/// On a primary, per standby: how far behind each position is, in bytes, and the lag times
/// the primary measured. A NULL lag means the standby has caught up and WAL is idle: 0.
pub const STANDBYS: &str = "
SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''),
       coalesce(sync_state, ''),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn), 0)::float8,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn), 0)::float8,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn), 0)::float8,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8,
       coalesce(extract(epoch FROM write_lag), 0)::float8,
       coalesce(extract(epoch FROM flush_lag), 0)::float8,
       coalesce(extract(epoch FROM replay_lag), 0)::float8
FROM pg_stat_replication
ORDER BY application_name, client_addr";

/// Invalid indexes (a failed `CREATE INDEX CONCURRENTLY` or `REINDEX CONCURRENTLY` leaves
/// one), with their size from `relpages`: `pg_relation_size` would take a lock, and an
/// index being dropped holds an exclusive one.
pub const INVALID_INDEXES: &str = "
SELECT n.nspname::text, t.relname::text, i.relname::text,
       (i.relpages::float8 * current_setting('block_size')::float8)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT x.indisvalid
ORDER BY 1, 2, 3";

