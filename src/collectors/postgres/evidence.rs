//! What a page should show of the database when it fires: the blocking tree (who blocks
//! whom, for how long, with the statements' query ids), the wait events of the busy
//! sessions, and the statements whose time grew most since the previous run. Read every
//! run, bounded, and kept beside the batch (not exported); the alerting engine attaches
//! the latest to a P0 or P1 alert when it fires.

use serde_json::json;

use super::spec::Ctx;
use super::PgError;
use crate::metrics::Batch;

crate::metrics! {}

/// Statements listed, at most.
const STATEMENTS_MAX: usize = 5;

/// Waiting sessions with who blocks them, and the blockers that wait on nobody (the
/// roots), longest waits first; at most 20 sessions, statements cut to 200 characters.
const TREE: &str = "
WITH waiting AS (
  SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity
  WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()
), involved AS (
  SELECT pid FROM waiting UNION SELECT unnest(blockers) FROM waiting
)
SELECT a.pid, coalesce(w.blockers, '{}')::int4[],
       coalesce(a.usename::text, ''), coalesce(a.application_name, ''),
       coalesce(a.datname::text, ''), coalesce(a.state, ''),
       coalesce(a.wait_event_type || ':' || a.wait_event, ''),
       greatest(0, extract(epoch FROM now() - coalesce(a.state_change, now())))::float8,
       greatest(0, extract(epoch FROM now() - coalesce(a.xact_start, now())))::float8,
       coalesce(a.query_id::text, ''), left(coalesce(a.query, ''), 200)
FROM involved i JOIN pg_stat_activity a USING (pid)
LEFT JOIN waiting w USING (pid)
ORDER BY cardinality(coalesce(w.blockers, '{}')) = 0 DESC, 8 DESC
LIMIT 20";

/// Busy sessions by wait event.
const WAITS: &str = "
SELECT wait_event_type::text || ':' || wait_event::text, count(*)::int8
FROM pg_stat_activity
WHERE wait_event IS NOT NULL AND wait_event_type <> 'Activity'
  AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid()
GROUP BY 1 ORDER BY 2 DESC LIMIT 10";

/// Top-level statements by total time (the 500 costliest: enough to find what grew).
const STATEMENTS: &str = "
SELECT queryid, calls::float8, (total_exec_time / 1000)::float8, left(query, 200)
FROM pg_stat_statements WHERE toplevel AND queryid IS NOT NULL
ORDER BY total_exec_time DESC LIMIT 500";

/// Reads the three parts into the batch's evidence.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let mut b = Batch::default();
    type Row = (i32, Vec<i32>, String, String, String, String, String, f64, f64, String, String);
    let tree: Vec<Row> = cx.rows_as("evidence_blocking", TREE).await?;
    let sessions: Vec<serde_json::Value> = tree
        .into_iter()
        .map(|(pid, blocked_by, user, app, db, state, wait, in_state, in_xact, query_id, query)| {
            json!({
                "pid": pid, "blocked_by": blocked_by, "user": user, "application": app,
                "database": db, "state": state, "wait_event": wait,
                "seconds_in_state": round(in_state), "transaction_seconds": round(in_xact),
                "query_id": query_id, "query": query,
            })
        })
        .collect();
    b.evidence.push(("blocking", serde_json::Value::Array(sessions)));
    let waits: Vec<(String, i64)> = cx.rows_as("evidence_waits", WAITS).await?;
    b.evidence.push((
        "wait_events",
        waits
            .into_iter()
            .map(|(event, n)| json!({"wait_event": event, "sessions": n}))
            .collect(),
    ));
    if cx.server.reads_statements {
        let rows: Vec<(i64, f64, f64, String)> = cx.rows_as("evidence_statements", STATEMENTS).await?;
        let grown = cx.history.statement_growth(
            rows.iter().map(|(id, calls, secs, _)| (*id, *calls, *secs)).collect(),
            STATEMENTS_MAX,
        );
        b.evidence.push((
            "statements",
            grown
                .into_iter()
                .map(|(id, calls, secs)| {
                    let query = rows.iter().find(|r| r.0 == id).map_or("", |r| r.3.as_str());
                    json!({"query_id": id.to_string(), "calls": calls, "seconds": round(secs), "query": query})
                })
                .collect(),
        ));
    }
    Ok(Some(b))
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
