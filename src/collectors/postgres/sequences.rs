//! Sequences near exhaustion, per database (a `postgres_tables` visit): the share of its
//! range each sequence has used, where the range ends at the smaller of the sequence's own
//! limit and its owning column's type (an `integer` column fed by a `bigint` sequence
//! fails at 2^31 − 1).

use sqlx::postgres::PgConnection;

use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    USED: "pg_sequence_used_ratio", Gauge, ["datname", "schemaname", "sequence"],
        "Share of its usable range the sequence has consumed (0-1), for sequences past sequence_min_used_ratio; the range ends at the smaller of the sequence's limit and its owning column's type. Sequences the role may not read are left out.";
}

/// Permanent sequences the session may read (`pg_sequence_last_value` is asked only
/// then, so nothing is refused), with the share used; `$1` is the threshold.
const SQL: &str = "
SELECT * FROM (
  SELECT n.nspname::text, c.relname::text,
         CASE WHEN s.seqincrement > 0
              THEN (v.last - s.seqmin)::float8
                   / nullif((least(s.seqmax, coalesce(col.max, s.seqmax)) - s.seqmin)::float8, 0)
              ELSE (s.seqmax - v.last)::float8
                   / nullif((s.seqmax - greatest(s.seqmin, coalesce(-col.max - 1, s.seqmin)))::float8, 0)
         END AS used
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid AND c.relpersistence = 'p'
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (
    SELECT CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
                THEN pg_sequence_last_value(c.oid) END AS last) v
  LEFT JOIN LATERAL (
    SELECT CASE a.atttypid WHEN 'int2'::regtype THEN 32767::int8
                           WHEN 'int4'::regtype THEN 2147483647::int8 END AS max
    FROM pg_depend d
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      AND d.refobjsubid > 0
    LIMIT 1) col ON true
  WHERE v.last IS NOT NULL
) q
WHERE used >= $1
ORDER BY 1, 2";

/// The sequences of the database `conn` is connected to past `min_ratio`.
pub async fn read(conn: &mut PgConnection, datname: &str, min_ratio: f64) -> Result<Batch, PgError> {
    let rows: Vec<(String, String, f64)> = sqlx::query_as(SQL)
        .bind(min_ratio)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| PgError::query("sequences", &e))?;
    let mut b = Batch::default();
    for (schema, sequence, used) in &rows {
        b.push(
            &USED,
            labels([("datname", datname), ("schemaname", schema), ("sequence", sequence)]),
            *used,
        );
    }
    Ok(b)
}
