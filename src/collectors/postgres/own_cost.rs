//! What centinela costs the database it watches: the time its role's statements take
//! (`pg_stat_statements`, top-level), their share of all statements' time, its sessions and
//! those of them waiting on a lock. The budget (`postgres.cost_budget`) is exported beside
//! the share, so the default rule compares the two.

use super::spec::Ctx;
use super::PgError;
use crate::metrics::Batch;

crate::metrics! {
    DB_TIME: "centinela_db_time_seconds_total", Counter, [],
        "Execution and planning time of the top-level statements of centinela's role in pg_stat_statements (of the DSN's database's view). Includes other clients that use the same role (centinela_db_role_shared 1). Absent without pg_stat_statements.";
    ALL_TIME: "pg_stat_statements_time_seconds_total", Counter, [],
        "Execution and planning time of every role's top-level statements in pg_stat_statements. Absent without pg_stat_statements.";
    SHARE: "centinela_db_time_share", Gauge, [],
        "centinela's share of the database's statement time over the last hour of samples (0 to 1); absent until two samples, or while no statement time accrues.";
    BUDGET: "centinela_db_time_budget_ratio", Gauge, [],
        "The share of database time centinela may take (postgres.cost_budget); the default rule CentinelaDatabaseCostHigh compares centinela_db_time_share with it.";
    SESSIONS: "centinela_db_sessions", Gauge, [],
        "Sessions centinela holds open on the server (application_name centinela), this one included.";
    LOCK_WAITS: "centinela_db_lock_waiting_sessions", Gauge, [],
        "centinela's sessions waiting on a lock at the last collection (lock_timeout ends such waits).";
    ROLE_SHARED: "centinela_db_role_shared", Gauge, [],
        "1 when other clients log in with centinela's role, so centinela_db_time_seconds_total counts their statements too; give centinela a role of its own.";
}

/// centinela's sessions, and whether other clients use its role.
const SESSIONS_SQL: &str = "
SELECT count(*) FILTER (WHERE application_name = 'centinela')::float8,
       count(*) FILTER (WHERE application_name = 'centinela' AND wait_event_type = 'Lock')::float8,
       count(*) FILTER (WHERE usename = session_user AND application_name <> 'centinela'
                          AND backend_type = 'client backend')::float8
FROM pg_stat_activity";

/// Top-level statement time, centinela's role's and everyone's, in seconds.
const TIME: &str = "
SELECT coalesce(sum(total_exec_time + total_plan_time) FILTER (WHERE userid = session_user::text::regrole::oid), 0) / 1000,
       coalesce(sum(total_exec_time + total_plan_time), 0) / 1000
FROM pg_stat_statements WHERE toplevel";

/// Reads centinela's sessions and, where `pg_stat_statements` is readable, its time.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let mut b = Batch::default();
    let sessions: Vec<(f64, f64, f64)> = cx.rows_as("own_sessions", SESSIONS_SQL).await?;
    if let Some((n, waiting, others)) = sessions.first() {
        b.set(&SESSIONS, *n);
        b.set(&LOCK_WAITS, *waiting);
        b.set(&ROLE_SHARED, if *others > 0.0 { 1.0 } else { 0.0 });
    }
    if !cx.server.reads_statements {
        return Ok(Some(b));
    }
    let time: Vec<(f64, f64)> = cx.rows_as("own_cost", TIME).await?;
    let Some(&(ours, all)) = time.first() else {
        return Ok(Some(b));
    };
    b.set(&DB_TIME, ours);
    b.set(&ALL_TIME, all);
    let ours_rate = cx.history.rate("own_db_time", ours, None, WINDOW);
    let all_rate = cx.history.rate("all_db_time", all, None, WINDOW);
    if let (Some(o), Some(a)) = (ours_rate, all_rate) {
        if a > 0.0 {
            b.set(&SHARE, (o / a).clamp(0.0, 1.0));
        }
    }
    Ok(Some(b))
}

/// The share is taken over at most this much history.
const WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);
