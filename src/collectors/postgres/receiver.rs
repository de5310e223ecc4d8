//! On a replica: the WAL receiver, the positions received and replayed, and a lag that is
//! never 0 while the receiver is down; on PostgreSQL 19, `pg_stat_recovery`'s pause and
//! promotion state.

use super::spec::{json_number, json_rows, Ctx};
use super::PgError;
use crate::metrics::Batch;

crate::metrics! {
    LAG: "pg_replication_lag_seconds", Gauge, [],
        "On a replica: seconds since the last replayed transaction; 0 only while the WAL receiver streams and replay has caught up with what it received. Absent on a primary.";
    LAG_COMPAT: "pg_replication_lag", Gauge, [],
        "The same value as pg_replication_lag_seconds, under the name postgres_exporter's mixin alerts on. Absent on a primary.";
    STREAMING: "pg_stat_wal_receiver_streaming", Gauge, [],
        "On a replica: 1 while its WAL receiver streams from the primary, 0 when it does not (primary stopped or unreachable). Absent on a primary.";
    LAST_MSG: "pg_stat_wal_receiver_last_msg_receipt_time", Gauge, [],
        "On a replica: when the last message from the primary arrived (Unix seconds). Absent without a WAL receiver.";
    LAST_MSG_AGE: "pg_stat_wal_receiver_last_msg_age_seconds", Gauge, [],
        "On a replica: seconds since the last message from the primary, or since the server started when none arrived; grows while the primary is unreachable. Absent on a primary.";
    RECEIVED: "pg_replication_received_lsn_bytes", Gauge, [],
        "On a replica: the last WAL position received and flushed (pg_last_wal_receive_lsn), in bytes from 0/0. Absent before anything was received.";
    REPLAYED: "pg_replication_replayed_lsn_bytes", Gauge, [],
        "On a replica: the last WAL position replayed (pg_last_wal_replay_lsn), in bytes from 0/0.";
    RECOVERY_PAUSED: "pg_stat_recovery_paused", Gauge, [],
        "On a replica: 1 while replay is paused or a pause is requested (pg_stat_recovery.pause_state). PostgreSQL 19 and later; not yet tested against a 19 server.";
    PROMOTE_TRIGGERED: "pg_stat_recovery_promote_triggered", Gauge, [],
        "On a replica: 1 once promotion has been requested (pg_stat_recovery.promote_triggered). PostgreSQL 19 and later; not yet tested against a 19 server.";
}

/// Whether the WAL receiver streams, when the primary last spoke, the positions, and the
/// lag. The lag is 0 only while the receiver streams and replay has caught up with what it
/// received: with the receiver gone (primary stopped or unreachable), "received =
/// replayed" is always true and would read as no lag, so the lag is then the time since
/// the last replayed transaction (or since the server started, if none was replayed).
const SQL: &str = "
SELECT coalesce(r.status = 'streaming', false),
       extract(epoch FROM r.last_msg_receipt_time)::float8,
       greatest(0, extract(epoch FROM now() - coalesce(r.last_msg_receipt_time,
                                                       pg_postmaster_start_time())))::float8,
       CASE WHEN coalesce(r.status = 'streaming', false)
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
            ELSE greatest(0, extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(),
                                                                 pg_postmaster_start_time())))::float8
       END,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::float8,
       pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8
FROM (SELECT 1) AS one
LEFT JOIN pg_stat_wal_receiver r ON true";

/// Reads the receiver; nothing on a primary.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    if !cx.server.replica {
        return Ok(None);
    }
    type Row = (bool, Option<f64>, f64, f64, Option<f64>, Option<f64>);
    let rows: Vec<Row> = cx.rows_as("wal_receiver", SQL).await?;
    let mut b = Batch::default();
    for (streaming, last_msg, last_msg_age, lag, received, replayed) in rows {
        b.set(&STREAMING, if streaming { 1.0 } else { 0.0 });
        if let Some(t) = last_msg {
            b.set(&LAST_MSG, t);
        }
        b.set(&LAST_MSG_AGE, last_msg_age);
        b.set(&LAG, lag);
        b.set(&LAG_COMPAT, lag);
        if let Some(v) = received {
            b.set(&RECEIVED, v);
        }
        if let Some(v) = replayed {
            b.set(&REPLAYED, v);
        }
    }
    if cx.server.version >= 190_000 {
        let rows = json_rows(
            cx,
            "stat_recovery",
            "SELECT to_jsonb(r)::text FROM pg_stat_recovery r",
        )
        .await?;
        for row in &rows {
            if let Some(state) = row["pause_state"].as_str() {
                b.set(&RECOVERY_PAUSED, if state == "not paused" { 0.0 } else { 1.0 });
            }
            if let Some(v) = json_number(row, "promote_triggered") {
                b.set(&PROMOTE_TRIGGERED, v);
            }
        }
    }
    Ok(Some(b))
}
