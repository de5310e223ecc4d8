//! The SQL of the `postgres_tables` collector, one constant per query, each with why it is
//! written that way (the `postgres` collector's SQL lives in each view's file).
//!
//! Every value is cast to `float8` or `text` in SQL so rows decode into plain tuples.

/// The databases to visit, and which one this session is connected to.
pub const DISCOVER: &str = "
SELECT current_database()::text, datname::text
FROM pg_database WHERE datallowconn ORDER BY datname";

/// Per table. Size functions take an ACCESS SHARE lock on the relation, which queues behind
/// an ACCESS EXCLUSIVE lock held *or awaited* by another session (ALTER TABLE, LOCK,
/// VACUUM FULL). Relations with such a lock get the catalog estimate (relpages) instead, so
/// the collection never waits; `lock_timeout` covers the race of a lock taken mid-query.
/// The freeze ages are the older of the table's and its TOAST table's; a partitioned
/// table holds no rows, so it has none.
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
       l.relation IS NOT NULL,
       coalesce(io.heap_blks_read, 0)::float8, coalesce(io.heap_blks_hit, 0)::float8,
       coalesce(io.idx_blks_read, 0)::float8, coalesce(io.idx_blks_hit, 0)::float8,
       CASE WHEN c.relkind IN ('r', 'm', 't')
            THEN greatest(age(c.relfrozenxid), age(t.relfrozenxid)) END::float8,
       CASE WHEN c.relkind IN ('r', 'm', 't')
            THEN greatest(mxid_age(c.relminmxid), mxid_age(t.relminmxid)) END::float8
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN pg_statio_user_tables io ON io.relid = s.relid
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

