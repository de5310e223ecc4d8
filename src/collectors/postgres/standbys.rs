//! On a primary, `pg_stat_replication`: every standby by name, address, state and sync
//! state, with how far behind each position is and the lags the primary measured.

use std::sync::Arc;

use super::spec::Ctx;
use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    STANDBYS: "pg_stat_replication_standbys", Gauge, [],
        "On a primary: standbys connected now (rows of pg_stat_replication, logical walsenders included). Absent on a replica.";
    REPLAY_BEHIND: "pg_stat_replication_pg_wal_lsn_diff", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL the standby has not replayed yet (current position minus its replay position).";
    SENT_BEHIND: "pg_stat_replication_sent_behind_bytes", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL not sent to it yet.";
    WRITE_BEHIND: "pg_stat_replication_write_behind_bytes", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL it has not written yet.";
    FLUSH_BEHIND: "pg_stat_replication_flush_behind_bytes", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: bytes of WAL it has not flushed yet.";
    WRITE_LAG: "pg_stat_replication_write_lag_seconds", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: the write lag it last measured; 0 once the standby caught up with idle WAL.";
    FLUSH_LAG: "pg_stat_replication_flush_lag_seconds", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: the flush lag it last measured; 0 once the standby caught up with idle WAL.";
    REPLAY_LAG: "pg_stat_replication_replay_lag_seconds", Gauge, ["application_name", "client_addr", "state", "sync_state"],
        "On a primary, per standby: the replay lag it last measured; 0 once the standby caught up with idle WAL.";
}

/// How far behind each position is, in bytes, and the lag times the primary measured. A
/// NULL lag means the standby has caught up and WAL is idle: 0.
const SQL: &str = "
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

/// Reads the standbys; nothing on a replica (cascading standbys are read on their primary).
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    if cx.server.replica {
        return Ok(None);
    }
    type Row = (String, String, String, String, f64, f64, f64, f64, f64, f64, f64);
    let rows: Vec<Row> = cx.rows_as("stat_replication", SQL).await?;
    let mut b = Batch::default();
    #[allow(clippy::cast_precision_loss)]
    b.set(&STANDBYS, rows.len() as f64);
    for (app, addr, state, sync, sent, write, flush, replay, write_lag, flush_lag, replay_lag) in &rows {
        let l = labels([
            ("application_name", app),
            ("client_addr", addr),
            ("state", state),
            ("sync_state", sync),
        ]);
        for (desc, v) in [
            (&REPLAY_BEHIND, replay),
            (&SENT_BEHIND, sent),
            (&WRITE_BEHIND, write),
            (&FLUSH_BEHIND, flush),
            (&WRITE_LAG, write_lag),
            (&FLUSH_LAG, flush_lag),
            (&REPLAY_LAG, replay_lag),
        ] {
            b.push(desc, Arc::clone(&l), *v);
        }
    }
    Ok(Some(b))
}
