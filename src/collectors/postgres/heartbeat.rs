//! Replication truth by heartbeat (opt-in, `postgres.heartbeat_table`): on a primary, each
//! run writes the time into one row and measures how long the commit took; on every server,
//! the row's age is how far behind this server is. A replica whose primary is idle still
//! gets a fresh row every interval, and one whose receiver died sees the age grow, which
//! replay timestamps alone hide.

use std::time::Instant;

use super::spec::Ctx;
use super::PgError;
use crate::metrics::Batch;

crate::metrics! {
    WRITE_OK: "pg_heartbeat_write_success", Gauge, [],
        "1 when the last heartbeat write on the primary committed, 0 when it failed (the server read-only or in trouble, the role without rights): a write-availability signal. Absent on replicas and without postgres.heartbeat_table.";
    COMMIT: "pg_heartbeat_commit_seconds", Gauge, [],
        "How long the last heartbeat write took to commit on the primary (synchronous standbys included); absent when it failed.";
    AGE: "pg_heartbeat_age_seconds", Gauge, [],
        "Age of the heartbeat row as this server sees it: on a replica, how far behind the primary it is end to end (at most one interval plus the delay), growing when the primary or the link is gone; absent until the row exists.";
}

/// Reads (and on a primary, first writes) the heartbeat.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let Some(table) = cx.heartbeat_table else {
        return Ok(None);
    };
    let mut b = Batch::default();
    // A write that committed leaves the row there; otherwise, ask whether the table exists.
    let mut written = false;
    if !cx.server.replica {
        match write(cx, table).await {
            Ok(seconds) => {
                written = true;
                b.set(&WRITE_OK, 1.0);
                b.set(&COMMIT, seconds);
            }
            Err(message) => {
                b.set(&WRITE_OK, 0.0);
                cx.note_once(
                    "heartbeat_write",
                    &format!(
                        "Heartbeat not written to {table}: {message}. Create it and let centinela's role write it: CREATE TABLE {table} (id int PRIMARY KEY, ts timestamptz NOT NULL); GRANT SELECT, INSERT, UPDATE ON {table} TO <role>;"
                    ),
                );
            }
        }
    }
    if written || exists(cx, table).await? {
        let age: Vec<(f64,)> = cx
            .rows_as(
                "heartbeat_age",
                &format!("SELECT greatest(0, extract(epoch FROM clock_timestamp() - ts))::float8 FROM {table} WHERE id = 1"),
            )
            .await?;
        if let Some((a,)) = age.first() {
            b.set(&AGE, *a);
        }
    }
    Ok(Some(b))
}

/// Whether `table` exists.
async fn exists(cx: &mut Ctx<'_>, table: &str) -> Result<bool, PgError> {
    let rows: Vec<(bool,)> = cx
        .rows_as(
            "heartbeat_exists",
            &format!("SELECT to_regclass('{table}') IS NOT NULL"),
        )
        .await?;
    Ok(rows.first().is_some_and(|(e,)| *e))
}

/// Writes the row (creating the table when it is missing and the role may); the commit's
/// duration in seconds, or why it failed.
async fn write(cx: &mut Ctx<'_>, table: &str) -> Result<f64, String> {
    if !exists(cx, table).await.map_err(|e| e.to_string())? {
        cx.rows_as::<(i32,)>(
            "heartbeat_create",
            &format!("CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, ts timestamptz NOT NULL)"),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    cx.rows_as::<(i32,)>(
        "heartbeat_write",
        &format!(
            "INSERT INTO {table} (id, ts) VALUES (1, clock_timestamp())
             ON CONFLICT (id) DO UPDATE SET ts = excluded.ts"
        ),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(started.elapsed().as_secs_f64())
}
