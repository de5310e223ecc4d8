//! Checkpoints and the background writer, under postgres_exporter's `pg_stat_bgwriter_*`
//! names on every version. PostgreSQL 17 moved the checkpoint figures to
//! `pg_stat_checkpointer` and the backend writes to `pg_stat_io`: the old names are served
//! from the new views (so dashboards made before 17 keep drawing), and 17's own figures
//! are exported as `pg_stat_checkpointer_*` too.

use super::spec::{push_floats, select_list, Ctx, Versioned};
use super::PgError;
use crate::metrics::{Batch, Labels, MetricDesc};

crate::metrics! {
    BGW_CHECKPOINTS_TIMED: "pg_stat_bgwriter_checkpoints_timed_total", Counter, [],
        "Scheduled checkpoints performed (from pg_stat_checkpointer on PostgreSQL 17 and later).";
    BGW_CHECKPOINTS_REQ: "pg_stat_bgwriter_checkpoints_req_total", Counter, [],
        "Requested checkpoints performed (from pg_stat_checkpointer on PostgreSQL 17 and later).";
    BGW_CHECKPOINT_WRITE_TIME: "pg_stat_bgwriter_checkpoint_write_time_total", Counter, [],
        "Milliseconds checkpoints spent writing files (from pg_stat_checkpointer on 17 and later).";
    BGW_CHECKPOINT_SYNC_TIME: "pg_stat_bgwriter_checkpoint_sync_time_total", Counter, [],
        "Milliseconds checkpoints spent syncing files (from pg_stat_checkpointer on 17 and later).";
    BGW_BUFFERS_CHECKPOINT: "pg_stat_bgwriter_buffers_checkpoint_total", Counter, [],
        "Buffers written by checkpoints (pg_stat_checkpointer's buffers_written on 17 and later).";
    BGW_BUFFERS_CLEAN: "pg_stat_bgwriter_buffers_clean_total", Counter, [],
        "Buffers written by the background writer.";
    BGW_MAXWRITTEN_CLEAN: "pg_stat_bgwriter_maxwritten_clean_total", Counter, [],
        "Times the background writer stopped a cleaning scan for having written too many buffers.";
    BGW_BUFFERS_BACKEND: "pg_stat_bgwriter_buffers_backend_total", Counter, [],
        "Buffers written directly by backends, not by the checkpointer or the background writer (from pg_stat_io's relation writes on PostgreSQL 17 and later).";
    BGW_BUFFERS_BACKEND_FSYNC: "pg_stat_bgwriter_buffers_backend_fsync_total", Counter, [],
        "Times a backend had to fsync on its own (from pg_stat_io's relation fsyncs on PostgreSQL 17 and later).";
    BGW_BUFFERS_ALLOC: "pg_stat_bgwriter_buffers_alloc_total", Counter, [],
        "Buffers allocated.";
    BGW_STATS_RESET: "pg_stat_bgwriter_stats_reset_total", Counter, [],
        "When the background writer's statistics were last reset (unix seconds; postgres_exporter's name).";
    CP_NUM_TIMED: "pg_stat_checkpointer_num_timed_total", Counter, [],
        "Scheduled checkpoints (pg_stat_checkpointer.num_timed). PostgreSQL 17 and later.";
    CP_NUM_REQUESTED: "pg_stat_checkpointer_num_requested_total", Counter, [],
        "Requested checkpoints (pg_stat_checkpointer.num_requested). PostgreSQL 17 and later.";
    CP_NUM_DONE: "pg_stat_checkpointer_num_done_total", Counter, [],
        "Checkpoints completed (pg_stat_checkpointer.num_done). PostgreSQL 18 and later.";
    CP_RESTARTPOINTS_TIMED: "pg_stat_checkpointer_restartpoints_timed_total", Counter, [],
        "Scheduled restartpoints on a replica. PostgreSQL 17 and later.";
    CP_RESTARTPOINTS_REQ: "pg_stat_checkpointer_restartpoints_req_total", Counter, [],
        "Requested restartpoints on a replica. PostgreSQL 17 and later.";
    CP_RESTARTPOINTS_DONE: "pg_stat_checkpointer_restartpoints_done_total", Counter, [],
        "Restartpoints completed on a replica. PostgreSQL 17 and later.";
    CP_WRITE_TIME: "pg_stat_checkpointer_write_time_total", Counter, [],
        "Milliseconds checkpoints and restartpoints spent writing files. PostgreSQL 17 and later.";
    CP_SYNC_TIME: "pg_stat_checkpointer_sync_time_total", Counter, [],
        "Milliseconds checkpoints and restartpoints spent syncing files. PostgreSQL 17 and later.";
    CP_BUFFERS_WRITTEN: "pg_stat_checkpointer_buffers_written_total", Counter, [],
        "Buffers written by checkpoints and restartpoints. PostgreSQL 17 and later.";
    CP_SLRU_WRITTEN: "pg_stat_checkpointer_slru_written_total", Counter, [],
        "SLRU buffers written by checkpoints and restartpoints. PostgreSQL 18 and later.";
}

/// Backend relation writes and fsyncs as `pg_stat_bgwriter` counted them before 17: every
/// process but the checkpointer and the background writer, shared buffers only.
const BACKEND_IO: &str = "(SELECT sum({}) FROM pg_stat_io \
     WHERE object = 'relation' AND backend_type NOT IN ('checkpointer', 'background writer'))";

/// The `pg_stat_bgwriter` (`b`) and `pg_stat_checkpointer` (`cp`) figures by version.
static BGWRITER: &[Versioned] = &[
    Versioned { desc: &BGW_CHECKPOINTS_TIMED, forms: &[(0, Some("b.checkpoints_timed")), (170_000, Some("cp.num_timed"))] },
    Versioned { desc: &BGW_CHECKPOINTS_REQ, forms: &[(0, Some("b.checkpoints_req")), (170_000, Some("cp.num_requested"))] },
    Versioned { desc: &BGW_CHECKPOINT_WRITE_TIME, forms: &[(0, Some("b.checkpoint_write_time")), (170_000, Some("cp.write_time"))] },
    Versioned { desc: &BGW_CHECKPOINT_SYNC_TIME, forms: &[(0, Some("b.checkpoint_sync_time")), (170_000, Some("cp.sync_time"))] },
    Versioned { desc: &BGW_BUFFERS_CHECKPOINT, forms: &[(0, Some("b.buffers_checkpoint")), (170_000, Some("cp.buffers_written"))] },
    Versioned { desc: &BGW_BUFFERS_CLEAN, forms: &[(0, Some("b.buffers_clean"))] },
    Versioned { desc: &BGW_MAXWRITTEN_CLEAN, forms: &[(0, Some("b.maxwritten_clean"))] },
    Versioned { desc: &BGW_BUFFERS_BACKEND, forms: &[(0, Some("b.buffers_backend")), (170_000, Some("{writes}"))] },
    Versioned { desc: &BGW_BUFFERS_BACKEND_FSYNC, forms: &[(0, Some("b.buffers_backend_fsync")), (170_000, Some("{fsyncs}"))] },
    Versioned { desc: &BGW_BUFFERS_ALLOC, forms: &[(0, Some("b.buffers_alloc"))] },
    Versioned { desc: &BGW_STATS_RESET, forms: &[(0, Some("extract(epoch FROM b.stats_reset)"))] },
    Versioned { desc: &CP_NUM_TIMED, forms: &[(0, None), (170_000, Some("cp.num_timed"))] },
    Versioned { desc: &CP_NUM_REQUESTED, forms: &[(0, None), (170_000, Some("cp.num_requested"))] },
    Versioned { desc: &CP_NUM_DONE, forms: &[(0, None), (180_000, Some("cp.num_done"))] },
    Versioned { desc: &CP_RESTARTPOINTS_TIMED, forms: &[(0, None), (170_000, Some("cp.restartpoints_timed"))] },
    Versioned { desc: &CP_RESTARTPOINTS_REQ, forms: &[(0, None), (170_000, Some("cp.restartpoints_req"))] },
    Versioned { desc: &CP_RESTARTPOINTS_DONE, forms: &[(0, None), (170_000, Some("cp.restartpoints_done"))] },
    Versioned { desc: &CP_WRITE_TIME, forms: &[(0, None), (170_000, Some("cp.write_time"))] },
    Versioned { desc: &CP_SYNC_TIME, forms: &[(0, None), (170_000, Some("cp.sync_time"))] },
    Versioned { desc: &CP_BUFFERS_WRITTEN, forms: &[(0, None), (170_000, Some("cp.buffers_written"))] },
    Versioned { desc: &CP_SLRU_WRITTEN, forms: &[(0, None), (180_000, Some("cp.slru_written"))] },
];

/// The figures of [`BGWRITER`] a server of `version` has, with the query that reads them.
fn bgwriter_query(version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, columns) = select_list(BGWRITER, version);
    let columns = columns
        .replace("{writes}", &BACKEND_IO.replace("{}", "writes"))
        .replace("{fsyncs}", &BACKEND_IO.replace("{}", "fsyncs"));
    let from = if version >= 170_000 {
        "pg_stat_bgwriter b CROSS JOIN pg_stat_checkpointer cp"
    } else {
        "pg_stat_bgwriter b"
    };
    (descs, format!("SELECT {columns} FROM {from}"))
}

/// Reads checkpoints and the background writer from the views the server's version has.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let (descs, sql) = bgwriter_query(cx.server.version);
    let rows = cx.rows("stat_bgwriter", &sql).await?;
    let mut b = Batch::default();
    for row in &rows {
        push_floats(row, 0, &descs, &Labels::from([]), "stat_bgwriter", &mut b)?;
    }
    Ok(Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_are_served_from_the_new_views() {
        let (d15, q15) = bgwriter_query(150_000);
        assert!(q15.contains("(b.checkpoints_timed)::float8"), "{q15}");
        assert!(
            q15.contains("(b.buffers_backend)::float8") && !q15.contains("pg_stat_checkpointer"),
            "{q15}"
        );
        assert!(!q15.contains("pg_stat_io"), "{q15}");
        assert_eq!(d15.len(), 11);
        let (d17, q17) = bgwriter_query(170_002);
        assert!(
            q17.contains("(cp.num_timed)::float8") && q17.contains("CROSS JOIN pg_stat_checkpointer cp"),
            "{q17}"
        );
        assert!(q17.contains("(SELECT sum(writes) FROM pg_stat_io"), "{q17}");
        assert!(!q17.contains("b.buffers_backend"), "{q17}");
        assert!(!q17.contains("num_done"), "{q17}");
        assert_eq!(d17[0].name, "pg_stat_bgwriter_checkpoints_timed_total", "the old name, served from the new view");
        assert!(d17.iter().any(|d| d.name == "pg_stat_checkpointer_restartpoints_done_total"));
        let (d18, q18) = bgwriter_query(180_000);
        assert!(q18.contains("(cp.num_done)::float8") && q18.contains("cp.slru_written"), "{q18}");
        assert_eq!(d18.len(), BGWRITER.len());
    }
}
