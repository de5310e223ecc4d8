//! Vacuum: each running VACUUM's progress (`pg_stat_progress_vacuum`, with 17's renamed
//! columns) and how many autovacuum workers are busy.

use std::sync::Arc;

use super::spec::{floats, select_list, text, Ctx, Versioned};
use super::PgError;
use crate::metrics::{labels, Batch, MetricDesc};

crate::metrics! {
    WORKERS: "pg_stat_activity_autovacuum_workers", Gauge, [],
        "Autovacuum workers running now (compare with pg_settings_autovacuum_max_workers).";
    PHASE: "pg_stat_progress_vacuum_phase", Gauge, ["datname", "relname", "phase"],
        "Always 1 for each running VACUUM; phase names the step it is in (scanning heap, vacuuming indexes, ...).";
    HEAP_BLKS: "pg_stat_progress_vacuum_heap_blks", Gauge, ["datname", "relname"],
        "Heap blocks of the table being vacuumed.";
    HEAP_SCANNED: "pg_stat_progress_vacuum_heap_blks_scanned", Gauge, ["datname", "relname"],
        "Heap blocks scanned so far.";
    HEAP_VACUUMED: "pg_stat_progress_vacuum_heap_blks_vacuumed", Gauge, ["datname", "relname"],
        "Heap blocks vacuumed so far.";
    INDEX_VACUUMS: "pg_stat_progress_vacuum_index_vacuums", Gauge, ["datname", "relname"],
        "Index vacuum cycles completed (more than one means maintenance_work_mem ran out).";
    MAX_DEAD_TUPLES: "pg_stat_progress_vacuum_max_dead_tuples", Gauge, ["datname", "relname"],
        "Dead tuples that fit in memory before an index vacuum cycle is needed. Before PostgreSQL 17.";
    NUM_DEAD_TUPLES: "pg_stat_progress_vacuum_num_dead_tuples", Gauge, ["datname", "relname"],
        "Dead tuples collected since the last index vacuum cycle. Before PostgreSQL 17.";
    MAX_DEAD_BYTES: "pg_stat_progress_vacuum_max_dead_tuple_bytes", Gauge, ["datname", "relname"],
        "Memory for dead tuple identifiers before an index vacuum cycle is needed. PostgreSQL 17 and later.";
    DEAD_BYTES: "pg_stat_progress_vacuum_dead_tuple_bytes", Gauge, ["datname", "relname"],
        "Memory the dead tuple identifiers collected since the last index vacuum cycle use. PostgreSQL 17 and later.";
    DEAD_ITEM_IDS: "pg_stat_progress_vacuum_num_dead_item_ids", Gauge, ["datname", "relname"],
        "Dead item identifiers collected since the last index vacuum cycle. PostgreSQL 17 and later.";
    INDEXES: "pg_stat_progress_vacuum_indexes", Gauge, ["datname", "relname"],
        "Indexes to vacuum or clean up in the current phase. PostgreSQL 17 and later.";
    INDEXES_DONE: "pg_stat_progress_vacuum_indexes_processed", Gauge, ["datname", "relname"],
        "Indexes vacuumed or cleaned up so far in the current phase. PostgreSQL 17 and later.";
    DELAY_TIME: "pg_stat_progress_vacuum_delay_time_seconds", Gauge, ["datname", "relname"],
        "Seconds spent sleeping for cost-based delay; 0 unless track_cost_delay_timing is on. PostgreSQL 18 and later.";
}

/// The progress figures by version (`p` is `pg_stat_progress_vacuum`).
static PROGRESS: &[Versioned] = &[
    Versioned { desc: &HEAP_BLKS, forms: &[(0, Some("p.heap_blks_total"))] },
    Versioned { desc: &HEAP_SCANNED, forms: &[(0, Some("p.heap_blks_scanned"))] },
    Versioned { desc: &HEAP_VACUUMED, forms: &[(0, Some("p.heap_blks_vacuumed"))] },
    Versioned { desc: &INDEX_VACUUMS, forms: &[(0, Some("p.index_vacuum_count"))] },
    Versioned { desc: &MAX_DEAD_TUPLES, forms: &[(0, Some("p.max_dead_tuples")), (170_000, None)] },
    Versioned { desc: &NUM_DEAD_TUPLES, forms: &[(0, Some("p.num_dead_tuples")), (170_000, None)] },
    Versioned { desc: &MAX_DEAD_BYTES, forms: &[(0, None), (170_000, Some("p.max_dead_tuple_bytes"))] },
    Versioned { desc: &DEAD_BYTES, forms: &[(0, None), (170_000, Some("p.dead_tuple_bytes"))] },
    Versioned { desc: &DEAD_ITEM_IDS, forms: &[(0, None), (170_000, Some("p.num_dead_item_ids"))] },
    Versioned { desc: &INDEXES, forms: &[(0, None), (170_000, Some("p.indexes_total"))] },
    Versioned { desc: &INDEXES_DONE, forms: &[(0, None), (170_000, Some("p.indexes_processed"))] },
    Versioned { desc: &DELAY_TIME, forms: &[(0, None), (180_000, Some("p.delay_time / 1000"))] },
];

/// One row per running VACUUM. The table is named as `schema.table` when it is in the
/// database this session is connected to, by OID otherwise (`pg_class` is per database).
fn progress_query(version: i32) -> (Vec<&'static MetricDesc>, String) {
    let (descs, columns) = select_list(PROGRESS, version);
    let sql = format!(
        "SELECT d.datname::text,
                coalesce(CASE WHEN d.datname = current_database() THEN p.relid::regclass::text END,
                         p.relid::text),
                p.phase::text, {columns}
         FROM pg_stat_progress_vacuum p JOIN pg_database d ON d.oid = p.datid
         ORDER BY 1, 2"
    );
    (descs, sql)
}

const WORKERS_SQL: &str =
    "SELECT count(*)::float8 FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'";

/// Reads the vacuum figures.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let mut b = Batch::default();
    let workers: Vec<(f64,)> = cx.rows_as("autovacuum_workers", WORKERS_SQL).await?;
    for (n,) in workers {
        b.set(&WORKERS, n);
    }
    let (descs, sql) = progress_query(cx.server.version);
    let rows = cx.rows("progress_vacuum", &sql).await?;
    for row in &rows {
        let datname = text(row, 0, "progress_vacuum")?;
        if !cx.filter.reports(&datname) {
            continue;
        }
        let relname = text(row, 1, "progress_vacuum")?;
        let phase = text(row, 2, "progress_vacuum")?;
        b.push(
            &PHASE,
            labels([("datname", &datname), ("relname", &relname), ("phase", &phase)]),
            1.0,
        );
        let l = labels([("datname", &datname), ("relname", &relname)]);
        for (desc, value) in descs.iter().zip(floats(row, 3, descs.len(), "progress_vacuum")?) {
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
    fn seventeen_renamed_the_dead_tuple_columns() {
        let (d16, q16) = progress_query(160_000);
        assert!(q16.contains("p.max_dead_tuples") && !q16.contains("dead_tuple_bytes"), "{q16}");
        assert_eq!(d16.len(), 6);
        let (d17, q17) = progress_query(170_000);
        assert!(!q17.contains("p.max_dead_tuples") && q17.contains("p.num_dead_item_ids"), "{q17}");
        assert!(!q17.contains("delay_time"), "{q17}");
        assert_eq!(d17.len(), 9);
        assert_eq!(progress_query(180_000).0.len(), 10);
    }
}
