//! `pg_stat_database` under postgres_exporter's names, every counter the server's version
//! has, with each database's transaction-ID and multixact age beside it; on PostgreSQL 19
//! the multixact usage (`pg_get_multixact_stats()`).

use super::spec::{floats, json_number, json_rows, select_list, text, Ctx, Versioned};
use super::PgError;
use crate::metrics::{labels, Batch, MetricDesc};

crate::metrics! {
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
    XID_AGE: "pg_database_xid_age", Gauge, ["datname"],
        "Age in transactions of the database's datfrozenxid (wraparound happens near 2^31).";
    MXID_AGE: "pg_database_mxid_age", Gauge, ["datname"],
        "Age in multixacts of the database's datminmxid (multixact wraparound happens near 2^31; autovacuum_multixact_freeze_max_age starts forced vacuums).";
    MXID_IDS: "pg_multixact_ids", Gauge, [],
        "Multixact IDs in use (pg_get_multixact_stats().num_mxids). PostgreSQL 19 and later; not yet tested against a 19 server.";
    MXID_MEMBERS: "pg_multixact_members", Gauge, [],
        "Multixact member entries in use (pg_get_multixact_stats().num_members). PostgreSQL 19 and later; not yet tested against a 19 server.";
    MXID_MEMBERS_SIZE: "pg_multixact_members_size_bytes", Gauge, [],
        "Disk space the multixact members use in pg_multixact/members (pg_get_multixact_stats().members_size). PostgreSQL 19 and later; not yet tested against a 19 server.";
}

/// Every `pg_stat_database` column centinela reads (`s`), and the ages from `pg_database`
/// (`d`), oldest first. Names and labels are `postgres_exporter`'s where it has them; time
/// columns are converted to seconds.
static DATABASE_COLUMNS: &[Versioned] = &[
    Versioned { desc: &DB_NUMBACKENDS, forms: &[(0, Some("s.numbackends"))] },
    Versioned { desc: &DB_XACT_COMMIT, forms: &[(0, Some("s.xact_commit"))] },
    Versioned { desc: &DB_XACT_ROLLBACK, forms: &[(0, Some("s.xact_rollback"))] },
    Versioned { desc: &DB_BLKS_READ, forms: &[(0, Some("s.blks_read"))] },
    Versioned { desc: &DB_BLKS_HIT, forms: &[(0, Some("s.blks_hit"))] },
    Versioned { desc: &DB_TUP_RETURNED, forms: &[(0, Some("s.tup_returned"))] },
    Versioned { desc: &DB_TUP_FETCHED, forms: &[(0, Some("s.tup_fetched"))] },
    Versioned { desc: &DB_TUP_INSERTED, forms: &[(0, Some("s.tup_inserted"))] },
    Versioned { desc: &DB_TUP_UPDATED, forms: &[(0, Some("s.tup_updated"))] },
    Versioned { desc: &DB_TUP_DELETED, forms: &[(0, Some("s.tup_deleted"))] },
    Versioned { desc: &DB_CONFLICTS, forms: &[(0, Some("s.conflicts"))] },
    Versioned { desc: &DB_TEMP_FILES, forms: &[(0, Some("s.temp_files"))] },
    Versioned { desc: &DB_TEMP_BYTES, forms: &[(0, Some("s.temp_bytes"))] },
    Versioned { desc: &DB_DEADLOCKS, forms: &[(0, Some("s.deadlocks"))] },
    Versioned { desc: &DB_BLK_READ_TIME, forms: &[(0, Some("s.blk_read_time"))] },
    Versioned { desc: &DB_BLK_WRITE_TIME, forms: &[(0, Some("s.blk_write_time"))] },
    Versioned { desc: &DB_STATS_RESET, forms: &[(0, Some("extract(epoch FROM s.stats_reset)"))] },
    Versioned { desc: &DB_CHECKSUM_FAILURES, forms: &[(0, None), (120_000, Some("s.checksum_failures"))] },
    Versioned { desc: &DB_ACTIVE_TIME, forms: &[(0, None), (140_000, Some("s.active_time / 1000"))] },
    Versioned { desc: &DB_IDLE_IN_XACT_TIME, forms: &[(0, None), (140_000, Some("s.idle_in_transaction_time / 1000"))] },
    Versioned { desc: &DB_SESSION_TIME, forms: &[(0, None), (140_000, Some("s.session_time / 1000"))] },
    Versioned { desc: &DB_SESSIONS, forms: &[(0, None), (140_000, Some("s.sessions"))] },
    Versioned { desc: &DB_SESSIONS_ABANDONED, forms: &[(0, None), (140_000, Some("s.sessions_abandoned"))] },
    Versioned { desc: &DB_SESSIONS_FATAL, forms: &[(0, None), (140_000, Some("s.sessions_fatal"))] },
    Versioned { desc: &DB_SESSIONS_KILLED, forms: &[(0, None), (140_000, Some("s.sessions_killed"))] },
    Versioned { desc: &DB_PARALLEL_TO_LAUNCH, forms: &[(0, None), (180_000, Some("s.parallel_workers_to_launch"))] },
    Versioned { desc: &DB_PARALLEL_LAUNCHED, forms: &[(0, None), (180_000, Some("s.parallel_workers_launched"))] },
    Versioned { desc: &XID_AGE, forms: &[(0, Some("age(d.datfrozenxid)"))] },
    Versioned { desc: &MXID_AGE, forms: &[(0, Some("mxid_age(d.datminmxid)"))] },
];

/// `pg_stat_database` for a server of `version`: the databases' id and name, then one
/// float per figure it has (NULL where the server has no value), and those figures.
fn database_query(version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, columns) = select_list(DATABASE_COLUMNS, version);
    let sql = format!(
        "SELECT s.datid::text, s.datname::text, {columns} \
         FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid \
         WHERE s.datname IS NOT NULL ORDER BY s.datname"
    );
    (descs, sql)
}

/// Reads `pg_stat_database`; the ages carry `datname` only, as postgres_exporter's do.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let (descs, sql) = database_query(cx.server.version);
    let rows = cx.rows("stat_database", &sql).await?;
    let mut b = Batch::default();
    for row in &rows {
        let datid = text(row, 0, "stat_database")?;
        let datname = text(row, 1, "stat_database")?;
        if !cx.filter.reports(&datname) {
            continue;
        }
        let by_db = labels([("datid", &datid), ("datname", &datname)]);
        let by_name = labels([("datname", &datname)]);
        for (desc, value) in descs.iter().zip(floats(row, 2, descs.len(), "stat_database")?) {
            let l = if desc.labels.len() == 2 { &by_db } else { &by_name };
            if let Some(v) = value {
                b.push(desc, std::sync::Arc::clone(l), v);
            }
        }
    }
    if cx.server.version >= 190_000 {
        let rows = json_rows(
            cx,
            "multixact_stats",
            "SELECT to_jsonb(m)::text FROM pg_get_multixact_stats() m",
        )
        .await?;
        for row in &rows {
            for (desc, key) in [
                (&MXID_IDS, "num_mxids"),
                (&MXID_MEMBERS, "num_members"),
                (&MXID_MEMBERS_SIZE, "members_size"),
            ] {
                if let Some(v) = json_number(row, key) {
                    b.set(desc, v);
                }
            }
        }
    }
    Ok(Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_server_version() {
        let (_, q13) = database_query(130_000);
        assert!(q13.contains("(s.checksum_failures)::float8"), "{q13}");
        assert!(!q13.contains("active_time"), "{q13}");
        let (_, q14) = database_query(140_005);
        assert!(q14.contains("(s.active_time / 1000)::float8"), "{q14}");
        assert!(!q14.contains("parallel_workers"), "{q14}");
        let (_, q18) = database_query(180_001);
        assert!(q18.contains("(s.parallel_workers_launched)::float8"), "{q18}");
        assert_eq!(database_query(110_000).0.len(), 19);
        assert_eq!(database_query(180_000).0.len(), DATABASE_COLUMNS.len());
        // Every column's metric is this view's.
        for c in DATABASE_COLUMNS {
            assert!(METRICS.iter().any(|m| std::ptr::eq(*m, c.desc)), "{}", c.desc.name);
        }
    }
}
