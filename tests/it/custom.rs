//! Custom SQL queries (`postgres_custom`) against a real PostgreSQL: postgres_exporter's
//! `queries.yaml` loaded unchanged, inline queries, and queries that fail, hang, write or
//! wait on a lock without holding the others back.

use std::time::Duration;

use crate::common::{assert_promtool_ok, config_with_postgres, App, PgCluster};

const WAIT: Duration = Duration::from_secs(30);

/// postgres_exporter's documented examples, as users keep them (`pg_postmaster` renamed:
/// centinela exports that name itself, and check-config refuses the clash), plus one query
/// of each column usage.
const QUERIES_YAML: &str = r#"
app_postmaster:
  query: "SELECT pg_postmaster_start_time as start_time_seconds from pg_postmaster_start_time()"
  master: true
  metrics:
    - start_time_seconds:
        usage: "GAUGE"
        description: "Time at which postmaster started"

pg_process_idle:
  query: |
    WITH
      metrics AS (
        SELECT
          application_name,
          SUM(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - state_change))::bigint)::float AS process_idle_seconds_sum,
          COUNT(*) AS process_idle_seconds_count
        FROM pg_stat_activity
        WHERE state = 'idle'
        GROUP BY application_name
      ),
      buckets AS (
        SELECT
          application_name,
          le,
          SUM(
            CASE WHEN EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - state_change)) <= le
              THEN 1
              ELSE 0
            END
          )::bigint AS bucket
        FROM
          pg_stat_activity,
          UNNEST(ARRAY[1, 2, 5, 15, 30, 60, 90, 120, 300]) AS le
        GROUP BY application_name, le
        ORDER BY application_name, le
      )
    SELECT
      application_name,
      process_idle_seconds_sum as seconds_sum,
      process_idle_seconds_count as seconds_count,
      ARRAY_AGG(le) AS seconds,
      ARRAY_AGG(bucket) AS seconds_bucket
    FROM metrics JOIN buckets USING (application_name)
    GROUP BY 1, 2, 3
  metrics:
    - application_name:
        usage: "LABEL"
        description: "Application Name"
    - seconds:
        usage: "HISTOGRAM"
        description: "Idle time of server processes"

app_orders:
  query: |
    SELECT status, count(*) AS total, sum(amount) AS amount_sum, status AS state,
           max(wait) AS max_wait, 'ignored' AS note, count(*) * 2 AS doubled
    FROM orders GROUP BY status;
  cache_seconds: 1
  databases: [app]
  metrics:
    - status: {usage: "LABEL", description: "Order status"}
    - total: {usage: "GAUGE", description: "Orders"}
    - amount_sum: {usage: "COUNTER", description: "Amount ordered"}
    - state: {usage: "MAPPEDMETRIC", description: "Status as a number", metric_mapping: {new: 1, paid: 2}}
    - max_wait: {usage: "DURATION", description: "Longest wait"}
    - note: {usage: "DISCARD"}

old_servers:
  query: "SELECT 1 AS one"
  runonserver: "<10.0.0"
  metrics:
    - one: {usage: "GAUGE"}

per_column:
  query: "SELECT 1 AS a, 2 AS b"
  runonserver: ">=10.0.0"
  metrics:
    - a: {usage: "GAUGE"}
    - b: {usage: "GAUGE", pg_version: "<10.0.0"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_yaml_loads_unchanged_and_a_bad_query_holds_no_other_back() {
    let pg = PgCluster::start();
    pg.exec("postgres", "CREATE DATABASE app").await;
    pg.exec(
        "app",
        "CREATE TABLE orders (status text, amount numeric, wait text);
         INSERT INTO orders VALUES ('new', 10.5, '30s'), ('new', 20, '1m30s'), ('paid', 5, '-1');
         CREATE SEQUENCE ids;
         CREATE TABLE held (v int);",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.yaml");
    std::fs::write(&file, QUERIES_YAML).unwrap();
    // An idle session of a known application, for the histogram.
    let mut idle = pg.connect("postgres").await;
    sqlx::query("SET application_name = 'idler'")
        .execute(&mut idle)
        .await
        .unwrap();
    let inline = r#"
[[postgres.queries]]
name = "app_tables"
query = "SELECT count(*) AS orders FROM pg_tables WHERE tablename = 'orders'"
databases = ["*"]
metrics = [{ orders = { usage = "GAUGE", description = "Tables named orders" } }]

[[postgres.queries]]
name = "slow"
query = "SELECT 1 AS v FROM pg_sleep(5)"
interval = "2s"
timeout = "500ms"

[[postgres.queries]]
name = "writer"
query = "SELECT nextval('ids') AS v"
databases = ["app"]

[[postgres.queries]]
name = "waiter"
query = "SELECT count(*) AS n FROM held"
databases = ["app"]

[[postgres.queries]]
name = "twins"
query = "SELECT 'a' AS k, 1 AS v UNION ALL SELECT 'a', 2"
metrics = [{ k = { usage = "LABEL" } }]
"#;
    let config = config_with_postgres(
        &pg.dsn("postgres"),
        &format!(
            "max_connections = 4\nquery_files = [{:?}]\n",
            file.display()
        ),
        inline,
    );
    // A session holds the table `waiter` reads.
    let mut holder = pg.connect("app").await;
    sqlx::raw_sql("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut holder)
        .await
        .unwrap();

    let app = App::start(&config).await;
    let up = |q: &'static str| {
        move |m: &crate::common::Exposition| m.values("centinela_custom_query_up", &[("query", q)])
    };
    let m = app
        .wait_metrics(WAIT, "every custom query ran", |m| {
            [
                "app_postmaster",
                "pg_process_idle",
                "app_orders",
                "per_column",
                "slow",
                "writer",
                "waiter",
                "twins",
            ]
            .iter()
            .all(|q| !up(q)(m).is_empty())
                && up("app_tables")(m).len() == 2
        })
        .await;

    // Every usage as postgres_exporter maps it.
    let new = [("status", "new"), ("datname", "app")];
    let paid = [("status", "paid"), ("datname", "app")];
    assert_eq!(m.get("app_orders_total", &new), Some(2.0));
    assert_eq!(m.get("app_orders_total", &paid), Some(1.0));
    assert_eq!(m.get("app_orders_amount_sum", &new), Some(30.5));
    assert_eq!(m.get("app_orders_state", &new), Some(1.0));
    assert_eq!(m.get("app_orders_state", &paid), Some(2.0));
    // max('30s', '1m30s') as text is '30s'; '-1' is no value.
    assert_eq!(
        m.get("app_orders_max_wait_milliseconds", &new),
        Some(30_000.0)
    );
    assert_eq!(m.get("app_orders_max_wait_milliseconds", &paid), None);
    assert_eq!(m.get("app_orders_doubled", &new), Some(4.0));
    assert!(!m.names().contains("app_orders_note"));
    assert!(!m.names().contains("app_orders_status"));
    // A gauge is typed as one, unless its name ends like a counter's or a histogram's.
    assert_eq!(
        m.types.get("app_orders_state").map(String::as_str),
        Some("gauge")
    );
    assert_eq!(
        m.types.get("app_orders_total").map(String::as_str),
        Some("untyped")
    );
    assert_eq!(
        m.types.get("app_orders_amount_sum").map(String::as_str),
        Some("untyped")
    );
    assert_eq!(
        m.types.get("app_orders_doubled").map(String::as_str),
        Some("untyped")
    );
    // A timestamp is unix seconds.
    let started = m.get("app_postmaster_start_time_seconds", &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started > now - 600.0 && started <= now,
        "{started} vs {now}"
    );
    // The histogram: buckets from arrays, +Inf equal to the count.
    let idler = [("application_name", "idler")];
    let count = m.get("pg_process_idle_seconds_count", &idler).unwrap();
    assert!(count >= 1.0);
    assert_eq!(
        m.get(
            "pg_process_idle_seconds_bucket",
            &[("application_name", "idler"), ("le", "+Inf")]
        ),
        Some(count)
    );
    assert_eq!(
        m.get(
            "pg_process_idle_seconds_bucket",
            &[("application_name", "idler"), ("le", "300")]
        ),
        Some(count)
    );
    assert!(m.get("pg_process_idle_seconds_sum", &idler).is_some());
    // Server versions: the whole query, and one column.
    assert!(up("old_servers")(&m).is_empty());
    assert!(!m.names().contains("old_servers_one"));
    assert_eq!(m.get("per_column_a", &[]), Some(1.0));
    assert!(!m.names().contains("per_column_b"));
    // Every database: a datname label.
    assert_eq!(m.get("app_tables_orders", &[("datname", "app")]), Some(1.0));
    assert_eq!(
        m.get("app_tables_orders", &[("datname", "postgres")]),
        Some(0.0)
    );

    // The failures: each its own up 0, none of their series.
    for q in ["slow", "writer", "waiter", "twins"] {
        assert_eq!(up(q)(&m), vec![0.0], "{q}");
    }
    assert!(!m.names().contains("slow_v"));
    assert!(!m.names().contains("twins_v"));
    // Read-only: the sequence never advanced.
    let mut app_db = pg.connect("app").await;
    let called: bool = sqlx::query_scalar("SELECT is_called FROM ids")
        .fetch_one(&mut app_db)
        .await
        .unwrap();
    assert!(!called, "a custom query advanced a sequence");
    // The lock wait ended at lock_timeout: the waiter is not among the waiting sessions.
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'centinela' AND wait_event_type = 'Lock'",
    )
    .fetch_one(&mut app_db)
    .await
    .unwrap();
    assert_eq!(waiting, 0);

    // The others still follow the data while `slow` keeps failing.
    pg.exec("app", "INSERT INTO orders VALUES ('paid', 1, '1s')")
        .await;
    let m = app
        .wait_metrics(WAIT, "app_orders follows the new order", |m| {
            m.get("app_orders_total", &paid) == Some(2.0)
        })
        .await;
    assert!(
        m.get("centinela_custom_query_errors_total", &[("query", "slow")])
            .unwrap()
            >= 1.0
    );
    assert!(
        m.get(
            "centinela_custom_query_duration_seconds",
            &[("query", "slow")]
        )
        .unwrap()
            < 2.0,
        "the slow query was not stopped at its timeout"
    );
    assert_eq!(
        m.get(
            "centinela_collector_up",
            &[("collector", "postgres_custom")]
        ),
        Some(1.0)
    );
    // promtool's only lint is the name postgres_exporter gives DURATION columns
    // (`_milliseconds`); it is kept for compatibility.
    let linted: Vec<&str> = m
        .raw
        .lines()
        .filter(|l| !l.contains("app_orders_max_wait_milliseconds"))
        .collect();
    assert_promtool_ok(&(linted.join("\n") + "\n"));

    // The lock released, the waiter succeeds.
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    app.wait_metrics(WAIT, "waiter up once the lock is gone", |m| {
        m.get("waiter_n", &[("datname", "app")]) == Some(0.0)
    })
    .await;
    app.stop().await;
}
