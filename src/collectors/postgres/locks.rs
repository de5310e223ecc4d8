//! `pg_locks`: locks per database and mode, sessions waiting for a lock and who blocks
//! them, the longest wait; on PostgreSQL 19, `pg_stat_lock`'s cumulative waits.

use std::sync::Arc;

use super::spec::{json_number, json_rows, Ctx};
use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    LOCKS_COUNT: "pg_locks_count", Untyped, ["datname", "mode"],
        "Locks held or awaited per database and mode (postgres_exporter name; untyped because of its _count suffix).";
    LOCK_WAITING: "pg_lock_waiting_sessions", Gauge, ["datname"],
        "Sessions currently waiting for a lock, per database.";
    BLOCKED: "pg_blocked_sessions", Gauge, ["datname"],
        "Sessions waiting for a lock that another session holds or waits for ahead of them (pg_blocking_pids not empty), per database.";
    LOCK_WAIT_MAX: "pg_lock_wait_max_seconds", Gauge, ["datname"],
        "Longest time a session of the database has waited for a lock so far (pg_locks.waitstart), 0 when none waits.";
    BLOCKERS: "pg_blocking_sessions", Gauge, [],
        "Sessions that hold back at least one other session's lock request, over every database.";
    STAT_LOCK_WAITS: "pg_stat_lock_waits_total", Counter, ["locktype"],
        "Lock requests of the type that had to wait (pg_stat_lock.waits). PostgreSQL 19 and later; not yet tested against a 19 server.";
    STAT_LOCK_WAIT_TIME: "pg_stat_lock_wait_time_seconds_total", Counter, ["locktype"],
        "Time spent waiting for locks of the type, counted for waits longer than deadlock_timeout while log_lock_waits is on (pg_stat_lock.wait_time). PostgreSQL 19 and later; not yet tested against a 19 server.";
    STAT_LOCK_FASTPATH: "pg_stat_lock_fastpath_exceeded_total", Counter, ["locktype"],
        "Locks of the type that could not take the fast path because its slots were full (pg_stat_lock.fastpath_exceeded). PostgreSQL 19 and later; not yet tested against a 19 server.";
}

/// Locks per database and mode, zeros included, mode lower-cased like `postgres_exporter`.
const LOCKS: &str = "
SELECT d.datname::text, m.mode, count(l.mode)::float8
FROM pg_database d
CROSS JOIN (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'),
                   ('shareupdateexclusivelock'), ('sharelock'), ('sharerowexclusivelock'),
                   ('exclusivelock'), ('accessexclusivelock'), ('sireadlock')) AS m(mode)
LEFT JOIN pg_locks l ON l.database = d.oid AND lower(l.mode) = m.mode
GROUP BY d.datname, m.mode
ORDER BY d.datname, m.mode";

/// Per database: sessions waiting for a lock, those blocked by another session, and the
/// longest wait. `pg_blocking_pids` is asked only for the waiting sessions (it takes the
/// lock manager's partition locks); `waitstart` exists from PostgreSQL 14.
fn waits_sql(version: i32) -> String {
    let since = if version >= 140_000 {
        "(SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)"
    } else {
        "NULL::timestamptz"
    };
    format!(
        "
WITH waiting AS (
  SELECT a.datid, a.pid, pg_blocking_pids(a.pid) AS blockers, {since} AS since
  FROM pg_stat_activity a
  WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
)
SELECT d.datname::text, count(w.pid)::float8,
       count(w.pid) FILTER (WHERE cardinality(w.blockers) > 0)::float8,
       greatest(0, coalesce(max(extract(epoch FROM now() - w.since)), 0))::float8,
       (SELECT count(DISTINCT b) FROM waiting, unnest(blockers) AS b)::float8
FROM pg_database d
LEFT JOIN waiting w ON w.datid = d.oid
GROUP BY d.datname
ORDER BY d.datname"
    )
}

/// Reads the locks.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let mut b = Batch::default();
    let locks: Vec<(String, String, f64)> = cx.rows_as("locks", LOCKS).await?;
    for (datname, mode, count) in locks.iter().filter(|r| cx.filter.reports(&r.0)) {
        b.push(
            &LOCKS_COUNT,
            labels([("datname", datname), ("mode", mode)]),
            *count,
        );
    }
    let sql = waits_sql(cx.server.version);
    let waits: Vec<(String, f64, f64, f64, f64)> = cx.rows_as("lock_waits", &sql).await?;
    let blockers = waits.first().map_or(0.0, |w| w.4);
    let rows: Vec<_> = waits
        .into_iter()
        .filter(|r| cx.filter.reports(&r.0))
        .map(|(datname, waiting, blocked, longest, _)| {
            (labels([("datname", &datname)]), waiting, blocked, longest)
        })
        .collect();
    for (l, waiting, _, _) in &rows {
        b.push(&LOCK_WAITING, Arc::clone(l), *waiting);
    }
    for (l, _, blocked, _) in &rows {
        b.push(&BLOCKED, Arc::clone(l), *blocked);
    }
    if cx.server.version >= 140_000 {
        for (l, _, _, longest) in &rows {
            b.push(&LOCK_WAIT_MAX, Arc::clone(l), *longest);
        }
    }
    b.set(&BLOCKERS, blockers);
    if cx.server.version >= 190_000 {
        read_stat_lock(cx, &mut b).await?;
    }
    Ok(Some(b))
}

/// PostgreSQL 19's `pg_stat_lock`, read through `to_jsonb` so a column named otherwise than
/// the release notes say gives no sample rather than an error.
async fn read_stat_lock(cx: &mut Ctx<'_>, b: &mut Batch) -> Result<(), PgError> {
    let rows = json_rows(cx, "stat_lock", "SELECT to_jsonb(s)::text FROM pg_stat_lock s").await?;
    for row in &rows {
        let Some(kind) = row["locktype"].as_str() else {
            continue;
        };
        let l = labels([("locktype", kind)]);
        for (desc, key, scale) in [
            (&STAT_LOCK_WAITS, "waits", 1.0),
            (&STAT_LOCK_WAIT_TIME, "wait_time", 1e-3),
            (&STAT_LOCK_FASTPATH, "fastpath_exceeded", 1.0),
        ] {
            if let Some(v) = json_number(row, key) {
                b.push(desc, Arc::clone(&l), v * scale);
            }
        }
    }
    Ok(())
}
