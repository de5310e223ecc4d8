//! WAL runway: how long until the filesystem holding `pg_wal` is full, and why. The free
//! space and its fill rate (from successive samples), the WAL rate, and what holds WAL
//! back: the slot that retains most, and the archive backlog. The cause is the slot or
//! archiving when it retains more than `max_wal_size`, else write volume.

use std::path::PathBuf;
use std::time::Duration;

use super::spec::Ctx;
use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    DIR_BYTES: "pg_wal_directory_bytes", Gauge, [],
        "Bytes of WAL segments in pg_wal (pg_ls_waldir()).";
    RATE: "pg_wal_bytes_per_second", Gauge, [],
        "WAL written (on a replica: received) per second over the last hour of samples; absent until two samples.";
    RETAINED: "pg_wal_retained_bytes", Gauge, ["cause", "slot"],
        "WAL kept for a consumer: cause=slot (the replication slot that retains most, by name) and cause=archiving (segments waiting for archive_command, counted as whole segments; needs the archive status to be readable, as pg_archive_ready_files).";
    FS_FREE: "pg_wal_filesystem_avail_bytes", Gauge, [],
        "Space available on the filesystem holding pg_wal, as centinela sees it (postgres.wal_directory, or data_directory/pg_wal); absent when centinela cannot see that directory.";
    FS_SIZE: "pg_wal_filesystem_size_bytes", Gauge, [],
        "Size of the filesystem holding pg_wal; absent when centinela cannot see that directory.";
    RUNWAY: "pg_wal_runway_seconds", Gauge, ["cause", "slot"],
        "Seconds until the filesystem holding pg_wal is full at the rate its used space grew over the last hour; +Inf while it does not grow. cause: slot (the slot named), archiving, or write_volume (nothing retains more than max_wal_size: data or WAL volume itself).";
}

/// Rates are taken over at most this much history.
const WINDOW: Duration = Duration::from_secs(3600);
/// A filesystem that does not answer statvfs in this time is left out of the run.
const STATVFS_TIMEOUT: Duration = Duration::from_secs(2);

/// The data directory, the WAL position (received on a replica), `pg_wal`'s size, the limits
/// and the slot that retains most.
const WAL: &str = "
SELECT current_setting('data_directory'),
       (CASE WHEN pg_is_in_recovery()
             THEN pg_wal_lsn_diff(coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0')
             ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END)::float8,
       (SELECT coalesce(sum(size), 0) FROM pg_ls_waldir())::float8,
       (SELECT setting::float8 * 1048576 FROM pg_settings WHERE name = 'max_wal_size'),
       (SELECT setting::float8 FROM pg_settings WHERE name = 'wal_segment_size'),
       s.slot_name::text, s.retained::float8
FROM (SELECT 1) one
LEFT JOIN LATERAL (
  SELECT slot_name,
         pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery()
                              THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                              ELSE pg_current_wal_lsn() END, restart_lsn) AS retained
  FROM pg_replication_slots WHERE restart_lsn IS NOT NULL
  ORDER BY 2 DESC LIMIT 1
) s ON true";

/// Reads the WAL figures and, where centinela sees `pg_wal`, the runway.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    type Row = (String, f64, f64, f64, f64, Option<String>, Option<f64>);
    let rows: Vec<Row> = cx.rows_as("wal_runway", WAL).await?;
    let Some((data_dir, position, dir_bytes, max_wal_size, segment, slot, slot_retained)) =
        rows.into_iter().next()
    else {
        return Ok(None);
    };
    let mut b = Batch::default();
    b.set(&DIR_BYTES, dir_bytes);
    if let Some(rate) = cx.history.rate("wal_position", position, None, WINDOW) {
        b.set(&RATE, rate);
    }
    let mut holders: Vec<(&str, String, f64)> = Vec::new();
    if let (Some(slot), Some(bytes)) = (slot, slot_retained) {
        holders.push(("slot", slot, bytes.max(0.0)));
    }
    if cx.server.reads_archive_status {
        // The archiver view's count of `.ready` segments (and their age, unused here).
        let sql = if cx.server.version >= 150_000 {
            super::archiver::BACKLOG
        } else {
            super::archiver::BACKLOG_14
        };
        let ready: Vec<(f64, f64)> = cx.rows_as("wal_runway_ready", sql).await?;
        if let Some((n, _)) = ready.first() {
            holders.push(("archiving", String::new(), n * segment));
        }
    }
    for (cause, slot, bytes) in &holders {
        b.push(&RETAINED, labels([("cause", cause), ("slot", slot)]), *bytes);
    }

    let dir = cx
        .wal_directory
        .map_or_else(|| PathBuf::from(&data_dir).join("pg_wal"), ToOwned::to_owned);
    let Some((avail, size)) = filesystem(dir.clone()).await else {
        cx.note_once(
            "wal_directory",
            &format!(
                "Cannot see the WAL directory {} from here, so there is no WAL runway; mount the data volume or set postgres.wal_directory.",
                dir.display()
            ),
        );
        return Ok(Some(b));
    };
    b.set(&FS_FREE, avail);
    b.set(&FS_SIZE, size);
    let used = size - avail;
    if let Some(fill) = cx.history.slope("wal_fs_used", used, WINDOW) {
        let (cause, slot) = holders
            .iter()
            .filter(|(_, _, bytes)| *bytes > max_wal_size)
            .max_by(|a, c| a.2.total_cmp(&c.2))
            .map_or(("write_volume", ""), |(c, s, _)| (*c, s.as_str()));
        let runway = if fill > 0.0 { avail / fill } else { f64::INFINITY };
        b.push(&RUNWAY, labels([("cause", cause), ("slot", slot)]), runway);
    }
    Ok(Some(b))
}

/// (available, size) in bytes of the filesystem holding `dir`; `None` when it cannot be
/// read in time.
async fn filesystem(dir: PathBuf) -> Option<(f64, f64)> {
    let stat = tokio::task::spawn_blocking(move || nix::sys::statvfs::statvfs(&dir));
    let stat = tokio::time::timeout(STATVFS_TIMEOUT, stat).await.ok()?.ok()?.ok()?;
    #[allow(clippy::cast_precision_loss, clippy::useless_conversion)]
    let bytes = |blocks| u64::from(blocks) as f64 * stat.fragment_size() as f64;
    Some((bytes(stat.blocks_available()), bytes(stat.blocks())))
}
