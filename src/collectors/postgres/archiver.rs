//! WAL archiving: `pg_stat_archiver`, and the backlog of segments waiting to be archived
//! (`.ready` files in `pg_wal/archive_status`) with the age of the oldest.

use super::spec::Ctx;
use super::PgError;
use crate::metrics::Batch;

crate::metrics! {
    ARCHIVED: "pg_stat_archiver_archived_count", Untyped, [],
        "WAL files archived successfully since the statistics reset (postgres_exporter name; untyped, a counter without _total).";
    FAILED: "pg_stat_archiver_failed_count", Untyped, [],
        "Failed attempts to archive WAL files since the statistics reset (postgres_exporter name; untyped, a counter without _total).";
    LAST_ARCHIVE_AGE: "pg_stat_archiver_last_archive_age", Gauge, [],
        "Seconds since the last WAL file was archived; absent if none ever was.";
    LAST_ARCHIVED_TIME: "pg_stat_archiver_last_archived_timestamp_seconds", Gauge, [],
        "When the last WAL file was archived (unix seconds); absent if none ever was.";
    LAST_FAILED_TIME: "pg_stat_archiver_last_failed_timestamp_seconds", Gauge, [],
        "When archiving last failed (unix seconds); absent if it never failed.";
    READY: "pg_archive_ready_files", Gauge, [],
        "WAL segments waiting to be archived (.ready files in pg_wal/archive_status). Needs pg_monitor (PostgreSQL 15 and later) or a superuser (14); absent without.";
    READY_AGE: "pg_archive_oldest_ready_age_seconds", Gauge, [],
        "Seconds since the oldest segment still waiting to be archived was marked ready, 0 when none waits. Same privileges as pg_archive_ready_files.";
}

/// Counts and times. Timestamps are NULL when nothing was ever archived or failed.
const ARCHIVER: &str = "
SELECT archived_count::float8, failed_count::float8,
       extract(epoch FROM last_archived_time)::float8,
       extract(epoch FROM last_failed_time)::float8,
       extract(epoch FROM now() - last_archived_time)::float8
FROM pg_stat_archiver";

/// The backlog from PostgreSQL 15 (`pg_ls_archive_statusdir()`, granted to `pg_monitor`).
pub(super) const BACKLOG: &str = "
SELECT count(*)::float8,
       greatest(0, coalesce(extract(epoch FROM now() - min(modification)), 0))::float8
FROM pg_ls_archive_statusdir()
WHERE name LIKE '%.ready'";

/// The backlog before 15, for a superuser: a segment archived between the listing and the
/// stat is skipped (`missing_ok`), not an error.
pub(super) const BACKLOG_14: &str = "
SELECT count(m)::float8,
       greatest(0, coalesce(extract(epoch FROM now() - min(m)), 0))::float8
FROM pg_ls_dir('pg_wal/archive_status', true, false) AS f,
     LATERAL (SELECT (pg_stat_file('pg_wal/archive_status/' || f, true)).modification) AS s(m)
WHERE f LIKE '%.ready'";

/// Reads the archiver and, where the session may list it, the backlog.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    type Row = (f64, f64, Option<f64>, Option<f64>, Option<f64>);
    let rows: Vec<Row> = cx.rows_as("archiver", ARCHIVER).await?;
    let mut b = Batch::default();
    for (archived, failed, last_archived, last_failed, age) in rows {
        b.set(&ARCHIVED, archived);
        b.set(&FAILED, failed);
        for (desc, value) in [
            (&LAST_ARCHIVE_AGE, age),
            (&LAST_ARCHIVED_TIME, last_archived),
            (&LAST_FAILED_TIME, last_failed),
        ] {
            if let Some(v) = value {
                b.set(desc, v);
            }
        }
    }
    if cx.server.reads_archive_status {
        let sql = if cx.server.version >= 150_000 {
            BACKLOG
        } else {
            BACKLOG_14
        };
        let rows: Vec<(f64, f64)> = cx.rows_as("archive_status", sql).await?;
        for (ready, oldest) in rows {
            b.set(&READY, ready);
            b.set(&READY_AGE, oldest);
        }
    } else {
        cx.note_once(
            "archive-status",
            "The archive backlog (pg_archive_ready_files) is not read: grant pg_monitor to centinela's role (a superuser on PostgreSQL 14).",
        );
    }
    Ok(Some(b))
}
