//! WAL: the current position as a counter (`rate()` gives WAL bytes per second) and
//! `pg_stat_wal` in its PostgreSQL 18 shape. 18 moved the write and sync counts to
//! `pg_stat_io`; they are served from there under the same names.

use super::spec::{push_floats, select_list, Ctx, Versioned};
use super::PgError;
use crate::metrics::{Batch, Labels, MetricDesc};

crate::metrics! {
    POSITION: "pg_wal_position_bytes_total", Counter, [],
        "The WAL position in bytes from 0/0: written on a primary (pg_current_wal_lsn), replayed on a replica (pg_last_wal_replay_lsn). rate() gives WAL bytes per second.";
    RECORDS: "pg_stat_wal_records_total", Counter, [],
        "WAL records generated (pg_stat_wal.wal_records). PostgreSQL 14 and later.";
    FPI: "pg_stat_wal_fpi_total", Counter, [],
        "Full-page images written to WAL (pg_stat_wal.wal_fpi). PostgreSQL 14 and later.";
    BYTES: "pg_stat_wal_bytes_total", Counter, [],
        "WAL bytes generated (pg_stat_wal.wal_bytes). PostgreSQL 14 and later.";
    BUFFERS_FULL: "pg_stat_wal_buffers_full_total", Counter, [],
        "Times WAL was written out because the WAL buffers were full (raise wal_buffers). PostgreSQL 14 and later.";
    WRITES: "pg_stat_wal_write_total", Counter, [],
        "Times WAL buffers were written out to disk (pg_stat_wal.wal_write; from pg_stat_io's WAL writes on PostgreSQL 18 and later). PostgreSQL 14 and later.";
    SYNCS: "pg_stat_wal_sync_total", Counter, [],
        "Times WAL files were synced to disk (pg_stat_wal.wal_sync; from pg_stat_io's WAL fsyncs on PostgreSQL 18 and later). PostgreSQL 14 and later.";
    WRITE_TIME: "pg_stat_wal_write_time_seconds_total", Counter, [],
        "Seconds spent writing WAL to disk; 0 unless track_wal_io_timing is on (from pg_stat_io on PostgreSQL 18 and later). PostgreSQL 14 and later.";
    SYNC_TIME: "pg_stat_wal_sync_time_seconds_total", Counter, [],
        "Seconds spent syncing WAL to disk; 0 unless track_wal_io_timing is on (from pg_stat_io on PostgreSQL 18 and later). PostgreSQL 14 and later.";
    FPI_BYTES: "pg_stat_wal_fpi_bytes_total", Counter, [],
        "Bytes of full-page images written to WAL (pg_stat_wal.wal_fpi_bytes). PostgreSQL 19 and later; not yet tested against a 19 server.";
}

/// The figures by version (`w` is `pg_stat_wal`).
static WAL: &[Versioned] = &[
    Versioned { desc: &POSITION, forms: &[(0, Some("CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0') ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END"))] },
    Versioned { desc: &RECORDS, forms: &[(0, None), (140_000, Some("w.wal_records"))] },
    Versioned { desc: &FPI, forms: &[(0, None), (140_000, Some("w.wal_fpi"))] },
    Versioned { desc: &BYTES, forms: &[(0, None), (140_000, Some("w.wal_bytes"))] },
    Versioned { desc: &BUFFERS_FULL, forms: &[(0, None), (140_000, Some("w.wal_buffers_full"))] },
    Versioned { desc: &WRITES, forms: &[(0, None), (140_000, Some("w.wal_write")), (180_000, Some("(SELECT sum(writes) FROM pg_stat_io WHERE object = 'wal')"))] },
    Versioned { desc: &SYNCS, forms: &[(0, None), (140_000, Some("w.wal_sync")), (180_000, Some("(SELECT sum(fsyncs) FROM pg_stat_io WHERE object = 'wal')"))] },
    Versioned { desc: &WRITE_TIME, forms: &[(0, None), (140_000, Some("w.wal_write_time / 1000")), (180_000, Some("(SELECT sum(write_time) FROM pg_stat_io WHERE object = 'wal') / 1000"))] },
    Versioned { desc: &SYNC_TIME, forms: &[(0, None), (140_000, Some("w.wal_sync_time / 1000")), (180_000, Some("(SELECT sum(fsync_time) FROM pg_stat_io WHERE object = 'wal') / 1000"))] },
    // Read through to_jsonb: a column the release notes misname gives NULL, not an error.
    Versioned { desc: &FPI_BYTES, forms: &[(0, None), (190_000, Some("(to_jsonb(w) ->> 'wal_fpi_bytes')::numeric"))] },
];

/// The figures of [`WAL`] a server of `version` has, with the query that reads them.
fn wal_query(version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, columns) = select_list(WAL, version);
    let from = if version >= 140_000 {
        "pg_stat_wal w"
    } else {
        "(SELECT 1) w"
    };
    (descs, format!("SELECT {columns} FROM {from}"))
}

/// Reads the WAL figures.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let (descs, sql) = wal_query(cx.server.version);
    let rows = cx.rows("stat_wal", &sql).await?;
    let mut b = Batch::default();
    for row in &rows {
        push_floats(row, 0, &descs, &Labels::from([]), "stat_wal", &mut b)?;
    }
    Ok(Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_move_to_pg_stat_io_on_18() {
        let (d13, q13) = wal_query(130_000);
        assert_eq!(d13.len(), 1, "{q13}");
        assert!(q13.ends_with("FROM (SELECT 1) w"), "{q13}");
        let (d17, q17) = wal_query(170_000);
        assert_eq!(d17.len(), 9, "{q17}");
        assert!(q17.contains("(w.wal_write)::float8") && !q17.contains("pg_stat_io"), "{q17}");
        let (d18, q18) = wal_query(180_004);
        assert_eq!(d18.len(), 9, "{q18}");
        assert!(!q18.contains("w.wal_write") && !q18.contains("w.wal_sync"), "{q18}");
        assert!(q18.contains("sum(fsyncs) FROM pg_stat_io WHERE object = 'wal'"), "{q18}");
        assert_eq!(wal_query(190_000).0.len(), WAL.len());
    }
}
