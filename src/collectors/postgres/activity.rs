//! `pg_stat_activity`: backends per database and state with their oldest transaction and
//! longest time in that state, and what the busy backends wait on.

use std::sync::Arc;

use super::spec::Ctx;
use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    ACTIVITY_COUNT: "pg_stat_activity_count", Untyped, ["datname", "state"],
        "Backends per database and state (postgres_exporter name; untyped because of its _count suffix).";
    ACTIVITY_MAX_TX: "pg_stat_activity_max_tx_duration", Gauge, ["datname", "state"],
        "Age in seconds of the oldest open transaction per database and state, 0 when none.";
    ACTIVITY_MAX_STATE: "pg_stat_activity_max_state_duration", Gauge, ["datname", "state"],
        "Longest time in seconds a backend of the database has been in the state (since state_change): the longest running statement for active, the longest idle transaction for idle in transaction; 0 when none.";
    WAIT_EVENT_SESSIONS: "pg_wait_event_sessions", Gauge, ["wait_event_type", "wait_event"],
        "Backends waiting on each wait event at the last collection, idle client sessions and background processes idling in their main loop (type Activity) left out.";
}

/// Backends per database and state, zeros included (as `postgres_exporter` does, so a state
/// that empties shows 0 rather than disappearing). `now()` is this statement's transaction
/// start, so a transaction that began after it would read negative: never below 0.
const ACTIVITY: &str = "
SELECT d.datname::text, s.state, count(a.pid)::float8,
       greatest(0, coalesce(max(extract(epoch FROM now() - a.xact_start)), 0))::float8,
       greatest(0, coalesce(max(extract(epoch FROM now() - a.state_change)), 0))::float8
FROM pg_database d
CROSS JOIN (VALUES ('active'), ('idle'), ('idle in transaction'),
                   ('idle in transaction (aborted)'), ('fastpath function call'),
                   ('disabled')) AS s(state)
LEFT JOIN pg_stat_activity a ON a.datid = d.oid AND a.state = s.state
                             AND a.pid <> pg_backend_pid()
GROUP BY d.datname, s.state
ORDER BY d.datname, s.state";

/// Wait events of the backends that are doing something.
const WAIT_EVENTS: &str = "
SELECT wait_event_type::text, wait_event::text, count(*)::float8
FROM pg_stat_activity
WHERE wait_event IS NOT NULL AND wait_event_type <> 'Activity'
  AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid()
GROUP BY 1, 2
ORDER BY 1, 2";

/// Reads the backends.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let rows: Vec<(String, String, f64, f64, f64)> = cx.rows_as("activity", ACTIVITY).await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| cx.filter.reports(&r.0))
        .map(|(datname, state, count, tx, in_state)| {
            let l = labels([("datname", &datname), ("state", &state)]);
            (l, count, tx, in_state)
        })
        .collect();
    let mut b = Batch::default();
    for (l, count, _, _) in &rows {
        b.push(&ACTIVITY_COUNT, Arc::clone(l), *count);
    }
    for (l, _, tx, _) in &rows {
        b.push(&ACTIVITY_MAX_TX, Arc::clone(l), *tx);
    }
    for (l, _, _, in_state) in &rows {
        b.push(&ACTIVITY_MAX_STATE, Arc::clone(l), *in_state);
    }
    let waits: Vec<(String, String, f64)> = cx.rows_as("wait_events", WAIT_EVENTS).await?;
    for (kind, event, n) in &waits {
        b.push(
            &WAIT_EVENT_SESSIONS,
            labels([("wait_event_type", kind), ("wait_event", event)]),
            *n,
        );
    }
    Ok(Some(b))
}
