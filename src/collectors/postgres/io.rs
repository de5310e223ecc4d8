//! `pg_stat_io` (PostgreSQL 16 and later), summed over I/O contexts to one series per
//! backend type and object: reads, writes, extends in operations and bytes (18's byte
//! columns, `op_bytes` times the count before), hits, evictions, reuses, fsyncs and times.

use std::sync::Arc;

use super::spec::{floats, select_list, text, Ctx, Versioned};
use super::PgError;
use crate::metrics::{labels, Batch, MetricDesc};

crate::metrics! {
    READS: "pg_stat_io_reads_total", Counter, ["backend_type", "object"],
        "Read operations. PostgreSQL 16 and later.";
    READ_BYTES: "pg_stat_io_read_bytes_total", Counter, ["backend_type", "object"],
        "Bytes read. PostgreSQL 16 and later.";
    READ_TIME: "pg_stat_io_read_time_seconds_total", Counter, ["backend_type", "object"],
        "Seconds spent reading; 0 unless track_io_timing is on. PostgreSQL 16 and later.";
    WRITES: "pg_stat_io_writes_total", Counter, ["backend_type", "object"],
        "Write operations. PostgreSQL 16 and later.";
    WRITE_BYTES: "pg_stat_io_write_bytes_total", Counter, ["backend_type", "object"],
        "Bytes written. PostgreSQL 16 and later.";
    WRITE_TIME: "pg_stat_io_write_time_seconds_total", Counter, ["backend_type", "object"],
        "Seconds spent writing; 0 unless track_io_timing is on. PostgreSQL 16 and later.";
    WRITEBACKS: "pg_stat_io_writebacks_total", Counter, ["backend_type", "object"],
        "Requests to the kernel to write data out to storage. PostgreSQL 16 and later.";
    EXTENDS: "pg_stat_io_extends_total", Counter, ["backend_type", "object"],
        "Relation extend operations. PostgreSQL 16 and later.";
    EXTEND_BYTES: "pg_stat_io_extend_bytes_total", Counter, ["backend_type", "object"],
        "Bytes added by extend operations. PostgreSQL 16 and later.";
    HITS: "pg_stat_io_hits_total", Counter, ["backend_type", "object"],
        "Times a wanted block was found in a shared or local buffer. PostgreSQL 16 and later.";
    EVICTIONS: "pg_stat_io_evictions_total", Counter, ["backend_type", "object"],
        "Times a block was evicted from a buffer to make room for another: a cache under pressure even when the hit ratio looks high. PostgreSQL 16 and later.";
    REUSES: "pg_stat_io_reuses_total", Counter, ["backend_type", "object"],
        "Times a buffer of a ring (bulk read, bulk write, vacuum) was reused. PostgreSQL 16 and later.";
    FSYNCS: "pg_stat_io_fsyncs_total", Counter, ["backend_type", "object"],
        "fsync calls; outside the checkpointer, a sign the checkpointer cannot keep up. PostgreSQL 16 and later.";
    FSYNC_TIME: "pg_stat_io_fsync_time_seconds_total", Counter, ["backend_type", "object"],
        "Seconds spent in fsync; 0 unless track_io_timing is on. PostgreSQL 16 and later.";
}

/// The figures by version: sums over contexts, times in seconds, bytes from 18's columns
/// or the operation count times `op_bytes` before.
static IO: &[Versioned] = &[
    Versioned { desc: &READS, forms: &[(0, None), (160_000, Some("sum(reads)"))] },
    Versioned { desc: &READ_BYTES, forms: &[(0, None), (160_000, Some("sum(reads * op_bytes)")), (180_000, Some("sum(read_bytes)"))] },
    Versioned { desc: &READ_TIME, forms: &[(0, None), (160_000, Some("sum(read_time) / 1000"))] },
    Versioned { desc: &WRITES, forms: &[(0, None), (160_000, Some("sum(writes)"))] },
    Versioned { desc: &WRITE_BYTES, forms: &[(0, None), (160_000, Some("sum(writes * op_bytes)")), (180_000, Some("sum(write_bytes)"))] },
    Versioned { desc: &WRITE_TIME, forms: &[(0, None), (160_000, Some("sum(write_time) / 1000"))] },
    Versioned { desc: &WRITEBACKS, forms: &[(0, None), (160_000, Some("sum(writebacks)"))] },
    Versioned { desc: &EXTENDS, forms: &[(0, None), (160_000, Some("sum(extends)"))] },
    Versioned { desc: &EXTEND_BYTES, forms: &[(0, None), (160_000, Some("sum(extends * op_bytes)")), (180_000, Some("sum(extend_bytes)"))] },
    Versioned { desc: &HITS, forms: &[(0, None), (160_000, Some("sum(hits)"))] },
    Versioned { desc: &EVICTIONS, forms: &[(0, None), (160_000, Some("sum(evictions)"))] },
    Versioned { desc: &REUSES, forms: &[(0, None), (160_000, Some("sum(reuses)"))] },
    Versioned { desc: &FSYNCS, forms: &[(0, None), (160_000, Some("sum(fsyncs)"))] },
    Versioned { desc: &FSYNC_TIME, forms: &[(0, None), (160_000, Some("sum(fsync_time) / 1000"))] },
];

/// The query for a server of `version`, or `None` before 16.
fn io_query(version: i32) -> Option<(Vec<&'static MetricDesc>, String)> {
    let (descs, columns) = select_list(IO, version);
    (!descs.is_empty()).then(|| {
        let sql = format!(
            "SELECT backend_type::text, object::text, {columns} FROM pg_stat_io \
             GROUP BY backend_type, object ORDER BY backend_type, object"
        );
        (descs, sql)
    })
}

/// Reads `pg_stat_io`. A backend type and object whose every figure is 0 or NULL (an I/O
/// path the server never takes) gives no series.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let Some((descs, sql)) = io_query(cx.server.version) else {
        return Ok(None);
    };
    let rows = cx.rows("stat_io", &sql).await?;
    let mut b = Batch::default();
    for row in &rows {
        let values = floats(row, 2, descs.len(), "stat_io")?;
        if values.iter().all(|v| v.is_none_or(|v| v == 0.0)) {
            continue;
        }
        let l = labels([
            ("backend_type", &text(row, 0, "stat_io")?),
            ("object", &text(row, 1, "stat_io")?),
        ]);
        for (desc, value) in descs.iter().zip(values) {
            if let Some(v) = value {
                b.push(desc, Arc::clone(&l), v);
            }
        }
    }
    Ok(Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_from_op_bytes_before_18() {
        assert!(io_query(150_000).is_none());
        let (d16, q16) = io_query(160_000).unwrap();
        assert_eq!(d16.len(), IO.len());
        assert!(q16.contains("(sum(reads * op_bytes))::float8"), "{q16}");
        let (_, q18) = io_query(180_000).unwrap();
        assert!(q18.contains("(sum(read_bytes))::float8") && !q18.contains("op_bytes"), "{q18}");
    }
}
