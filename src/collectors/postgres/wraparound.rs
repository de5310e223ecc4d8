//! Wraparound with a rate, a time left and a culprit: transaction-ID and multixact
//! consumption from successive samples, the time until the oldest database reaches
//! `autovacuum_freeze_max_age` (forced vacuums) and the stop limit (2^31 − 3M: no new
//! IDs), and who holds the oldest xmin back by kind of holder.

use super::spec::Ctx;
use super::PgError;
use crate::metrics::{labels, Batch};

crate::metrics! {
    XID_RATE: "pg_xid_consumption_per_second", Gauge, [],
        "Transaction IDs assigned per second over the last hour of samples (less until centinela has run that long); absent until two samples.";
    MXID_RATE: "pg_multixact_consumption_per_second", Gauge, [],
        "Multixact IDs assigned per second over the last hour of samples; absent until two samples.";
    XID_ETA: "pg_xid_wraparound_eta_seconds", Gauge, ["limit"],
        "Seconds until the oldest database's transaction-ID age reaches the limit at the current rate if nothing is frozen meanwhile: limit=autovacuum_freeze_max_age (anti-wraparound vacuums are forced) or limit=stop (2^31 - 3M: the server refuses to assign transaction IDs). 0 when already past; +Inf while none are consumed.";
    MXID_ETA: "pg_multixact_wraparound_eta_seconds", Gauge, ["limit"],
        "Seconds until the oldest database's multixact age reaches the limit at the current rate: limit=autovacuum_multixact_freeze_max_age or limit=stop (2^31 - 3M). 0 when already past; +Inf while none are consumed.";
    HORIZON_AGE: "pg_xmin_horizon_age", Gauge, ["source", "holder", "detail"],
        "Age in transactions of the oldest xmin each kind of holder keeps, which VACUUM can neither clean nor freeze past: source=backend (a transaction open for 2 s or more, centinela's own left out; holder: pid; detail: application and state), prepared_transaction (gid; owner and database), replication_slot and replication_slot_catalog (slot name; slot type and database), standby (application_name; client address, hot_standby_feedback).";
    HORIZON_SECONDS: "pg_xmin_horizon_age_seconds", Gauge, ["source", "holder", "detail"],
        "How long the holder of pg_xmin_horizon_age has held it: a backend's transaction, a prepared transaction; absent for slots and standbys.";
}

/// The stop limit: PostgreSQL 14 and later refuse new IDs 3 million before 2^31.
const STOP: f64 = 2_147_483_648.0 - 3_000_000.0;
/// Multixact IDs are 32-bit and wrap.
const MXID_MODULUS: f64 = 4_294_967_296.0;
/// Rates are taken over at most this much history.
const WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where the counters stand: the next transaction ID (64-bit, from the snapshot), the next
/// multixact (`datminmxid` + its age, modulo 2^32), the oldest ages and the limits.
const COUNTERS: &str = "
SELECT pg_snapshot_xmax(pg_current_snapshot())::text::float8,
       (SELECT datminmxid::text::float8 + mxid_age(datminmxid) FROM pg_database LIMIT 1),
       (SELECT max(age(datfrozenxid)) FROM pg_database)::float8,
       (SELECT max(mxid_age(datminmxid)) FROM pg_database)::float8,
       current_setting('autovacuum_freeze_max_age')::float8,
       current_setting('autovacuum_multixact_freeze_max_age')::float8";

/// The oldest xmin of each kind of holder. A backend with an assigned transaction ID holds
/// the horizon by it as well; WAL senders are counted as their standbys. Backends count
/// once their transaction is 2 seconds old, so the statements of a busy server (and
/// centinela's own) do not come and go as holders.
const HOLDERS: &str = "
SELECT DISTINCT ON (source) source, holder, detail, age::float8, seconds::float8
FROM (
  SELECT 'backend' AS source, pid::text AS holder,
         coalesce(nullif(application_name, ''), backend_type) || ', ' || coalesce(state, '') AS detail,
         greatest(age(backend_xmin), age(backend_xid)) AS age,
         extract(epoch FROM now() - xact_start) AS seconds
  FROM pg_stat_activity
  WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)
    AND backend_type <> 'walsender' AND application_name <> 'centinela'
    AND xact_start < now() - interval '2 seconds'
  UNION ALL
  SELECT 'prepared_transaction', gid, owner::text || ', ' || database::text, age(transaction),
         extract(epoch FROM now() - prepared)
  FROM pg_prepared_xacts
  UNION ALL
  SELECT 'replication_slot', slot_name::text, slot_type || ', ' || coalesce(database::text, ''),
         age(xmin), NULL
  FROM pg_replication_slots WHERE xmin IS NOT NULL
  UNION ALL
  SELECT 'replication_slot_catalog', slot_name::text, slot_type || ', ' || coalesce(database::text, ''),
         age(catalog_xmin), NULL
  FROM pg_replication_slots WHERE catalog_xmin IS NOT NULL
  UNION ALL
  SELECT 'standby', coalesce(nullif(application_name, ''), pid::text),
         coalesce(client_addr::text, 'local'), age(backend_xmin), NULL
  FROM pg_stat_replication WHERE backend_xmin IS NOT NULL
) h
ORDER BY source, age DESC";

/// Reads the counters and the holders.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    let (next_xid, next_mxid, xid_age, mxid_age, freeze, mxid_freeze): (
        f64,
        Option<f64>,
        f64,
        f64,
        f64,
        f64,
    ) = cx
        .rows_as("wraparound", COUNTERS)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| PgError::Query {
            query: "wraparound",
            message: "no row".into(),
        })?;
    let mut b = Batch::default();
    let xid_rate = cx.history.rate("xid", next_xid, None, WINDOW);
    let mxid_rate = next_mxid.and_then(|m| {
        cx.history
            .rate("mxid", m.rem_euclid(MXID_MODULUS), Some(MXID_MODULUS), WINDOW)
    });
    for (rate_desc, eta_desc, rate, age, limits) in [
        (
            &XID_RATE,
            &XID_ETA,
            xid_rate,
            xid_age,
            [("autovacuum_freeze_max_age", freeze), ("stop", STOP)],
        ),
        (
            &MXID_RATE,
            &MXID_ETA,
            mxid_rate,
            mxid_age,
            [("autovacuum_multixact_freeze_max_age", mxid_freeze), ("stop", STOP)],
        ),
    ] {
        let Some(rate) = rate else { continue };
        b.set(rate_desc, rate);
        for (limit, at) in limits {
            b.push(eta_desc, labels([("limit", limit)]), eta(age, at, rate));
        }
    }
    let holders: Vec<(String, String, String, f64, Option<f64>)> =
        cx.rows_as("xmin_horizon", HOLDERS).await?;
    for (source, holder, detail, age, _) in &holders {
        b.push(
            &HORIZON_AGE,
            labels([("source", source), ("holder", holder), ("detail", detail)]),
            *age,
        );
    }
    for (source, holder, detail, _, seconds) in &holders {
        if let Some(s) = seconds {
            b.push(
                &HORIZON_SECONDS,
                labels([("source", source), ("holder", holder), ("detail", detail)]),
                s.max(0.0),
            );
        }
    }
    Ok(Some(b))
}

/// Seconds until `age` reaches `limit` at `rate` per second.
fn eta(age: f64, limit: f64, rate: f64) -> f64 {
    if age >= limit {
        0.0
    } else if rate <= 0.0 {
        f64::INFINITY
    } else {
        (limit - age) / rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_at_the_rate() {
        assert_eq!(eta(100.0, 1100.0, 10.0), 100.0);
        assert_eq!(eta(1200.0, 1100.0, 10.0), 0.0);
        assert_eq!(eta(100.0, 1100.0, 0.0), f64::INFINITY);
    }
}
