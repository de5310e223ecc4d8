//! `pg_replication_slots`: whether each slot is in use, the WAL it keeps, how much more WAL
//! may be written before it is lost, and the transaction horizon it holds back.

use std::sync::Arc;

use super::spec::Ctx;
use super::PgError;
use crate::metrics::{labels, Batch, MetricDesc};

crate::metrics! {
    ACTIVE: "pg_replication_slots_active", Gauge, ["slot_name", "slot_type", "database"],
        "1 if the replication slot is in use by a consumer.";
    RETAINED: "pg_replication_slots_pg_wal_lsn_diff", Gauge, ["slot_name", "slot_type", "database"],
        "Bytes of WAL the replication slot keeps on disk (current LSN minus the slot's restart LSN).";
    WAL_STATUS: "pg_replication_slots_wal_status", Gauge, ["slot_name", "slot_type", "database", "wal_status"],
        "Always 1; wal_status says whether the WAL the slot needs is kept (reserved, extended), about to be removed (unreserved) or gone (lost).";
    SAFE_WAL_SIZE: "pg_replication_slots_safe_wal_size_bytes", Gauge, ["slot_name", "slot_type", "database"],
        "Bytes of WAL that can still be written before the slot loses WAL it needs (max_slot_wal_keep_size); absent when that limit is off (-1).";
    INACTIVE_SINCE: "pg_replication_slots_inactive_since_timestamp_seconds", Gauge, ["slot_name", "slot_type", "database"],
        "When the slot last stopped being used (Unix seconds); absent while it is in use. PostgreSQL 17 and later.";
    XMIN_AGE: "pg_replication_slots_xmin_age", Gauge, ["slot_name", "slot_type", "database"],
        "Age in transactions of the oldest transaction the slot keeps VACUUM from removing rows of (its xmin, a standby's hot_standby_feedback); absent when it holds none.";
    CATALOG_XMIN_AGE: "pg_replication_slots_catalog_xmin_age", Gauge, ["slot_name", "slot_type", "database"],
        "Age in transactions of the oldest transaction whose catalog rows the slot keeps (catalog_xmin, logical slots); absent when it holds none.";
}

/// Slots, with the columns of the server's version (`wal_status` and `safe_wal_size` from
/// 13, `inactive_since` from 17).
fn sql(version: i32) -> String {
    let (status, safe) = if version >= 130_000 {
        ("wal_status::text", "safe_wal_size::float8")
    } else {
        ("NULL::text", "NULL::float8")
    };
    let inactive = if version >= 170_000 {
        "extract(epoch FROM inactive_since)::float8"
    } else {
        "NULL::float8"
    };
    format!(
        "
SELECT slot_name::text, slot_type::text, coalesce(database::text, ''), coalesce(active, false),
       coalesce(pg_wal_lsn_diff(
         CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
         restart_lsn), 0)::float8,
       {status}, {safe}, {inactive}, age(xmin)::float8, age(catalog_xmin)::float8
FROM pg_replication_slots
ORDER BY slot_name"
    )
}

/// Name, type, database, active, retained bytes, `wal_status`, `safe_wal_size`,
/// `inactive_since`, xmin age, catalog xmin age.
type Row = (
    String,
    String,
    String,
    bool,
    f64,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// How a figure reads its row.
type Field = fn(&Row) -> Option<f64>;

/// The figures a slot may lack, and how each reads its row.
const OPTIONAL: [(&MetricDesc, Field); 4] = [
    (&SAFE_WAL_SIZE, |r| r.6),
    (&INACTIVE_SINCE, |r| r.7),
    (&XMIN_AGE, |r| r.8),
    (&CATALOG_XMIN_AGE, |r| r.9),
];

/// Reads the slots.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let rows: Vec<Row> = cx.rows_as("replication_slots", &sql(cx.server.version)).await?;
    let mut b = Batch::default();
    let slots: Vec<_> = rows
        .into_iter()
        .map(|r| {
            let l = labels([("slot_name", &r.0), ("slot_type", &r.1), ("database", &r.2)]);
            (l, r)
        })
        .collect();
    for (l, r) in &slots {
        b.push(&ACTIVE, Arc::clone(l), if r.3 { 1.0 } else { 0.0 });
    }
    for (l, r) in &slots {
        b.push(&RETAINED, Arc::clone(l), r.4);
    }
    for (_, r) in &slots {
        if let Some(status) = &r.5 {
            let l = labels([
                ("slot_name", &r.0),
                ("slot_type", &r.1),
                ("database", &r.2),
                ("wal_status", status),
            ]);
            b.push(&WAL_STATUS, l, 1.0);
        }
    }
    for (desc, field) in OPTIONAL {
        for (l, r) in &slots {
            if let Some(v) = field(r) {
                b.push(desc, Arc::clone(l), v);
            }
        }
    }
    Ok(Some(b))
}
