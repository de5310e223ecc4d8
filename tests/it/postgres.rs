//! PostgreSQL collectors against real throw-away clusters.

use std::time::{Duration, Instant};

use sqlx::Connection as _;

use crate::common::{test_config, App, PgCluster};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_tuples_are_reported_and_drop_after_vacuum() {
    let pg = PgCluster::start();
    // Autovacuum off, so only our VACUUM clears the dead rows; the session ends, which
    // flushes its statistics.
    pg.exec(
        "postgres",
        "CREATE TABLE bloat (id int, v int) WITH (autovacuum_enabled = off);
         INSERT INTO bloat SELECT g, 0 FROM generate_series(1, 2000) g;
         UPDATE bloat SET v = 1;",
    )
    .await;
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let table = [
        ("datname", "postgres"),
        ("schemaname", "public"),
        ("relname", "bloat"),
    ];
    let m = app
        .wait_metrics(WAIT, "n_dead_tup of bloat near 2000", |m| {
            m.get("pg_stat_user_tables_n_dead_tup", &table)
                .is_some_and(|v| (v - 2000.0).abs() <= 100.0)
        })
        .await;
    assert_eq!(
        m.get("pg_stat_user_tables_n_live_tup", &table),
        Some(2000.0)
    );
    assert_eq!(
        m.get("pg_stat_user_tables_last_vacuum", &table),
        None,
        "a table never vacuumed has no last_vacuum sample, not 0"
    );
    assert!(
        m.get("pg_stat_user_tables_table_size_bytes", &table)
            .unwrap()
            > 8192.0
    );

    let before = now();
    pg.exec("postgres", "VACUUM bloat").await;
    let m = app
        .wait_metrics(WAIT, "n_dead_tup of bloat at 0 after VACUUM", |m| {
            m.get("pg_stat_user_tables_n_dead_tup", &table) == Some(0.0)
        })
        .await;
    let last_vacuum = m
        .get("pg_stat_user_tables_last_vacuum", &table)
        .expect("last_vacuum after VACUUM");
    assert!(
        last_vacuum >= before - 1.0 && last_vacuum <= now() + 1.0,
        "{last_vacuum} vs {before}"
    );
    assert_eq!(m.get("pg_stat_user_tables_vacuum_count", &table), Some(1.0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_index_series_follows_scans_and_ignores_unique_indexes() {
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE TABLE items (id int, k int, u int);
         INSERT INTO items SELECT g, g, g FROM generate_series(1, 100000) g;
         CREATE INDEX items_k ON items (k);
         CREATE UNIQUE INDEX items_u ON items (u);
         ANALYZE items;",
    )
    .await;
    let config = test_config(
        &pg.dsn("postgres"),
        "unused_index_min_size = \"1MiB\"\nunused_index_max_scans = 3",
    );
    let app = App::start(&config).await;
    let k = [("relname", "items"), ("indexrelname", "items_k")];
    let u = [("relname", "items"), ("indexrelname", "items_u")];
    let m = app
        .wait_metrics(WAIT, "items_k listed as unused", |m| {
            m.get("pg_unused_index_size_bytes", &k).is_some()
        })
        .await;
    let size_k = m.get("pg_unused_index_size_bytes", &k).unwrap();
    let size_u = m.get("pg_stat_user_indexes_size_bytes", &u).unwrap();
    assert!(size_k > 1024.0 * 1024.0, "items_k is {size_k} bytes");
    assert!(
        (size_k - size_u).abs() < 0.1 * size_k,
        "same-size unique index: {size_k} vs {size_u}"
    );
    assert_eq!(
        m.get("pg_unused_index_size_bytes", &u),
        None,
        "a unique index is never unused"
    );
    assert_eq!(m.get("pg_stat_user_indexes_idx_scan", &k), Some(0.0));

    pg.exec(
        "postgres",
        "SET enable_seqscan = off; SET enable_bitmapscan = off;
         SELECT * FROM items WHERE k = 1; SELECT * FROM items WHERE k = 2;
         SELECT * FROM items WHERE k = 3;",
    )
    .await;
    let m = app
        .wait_metrics(WAIT, "items_k no longer unused after 3 scans", |m| {
            m.get("pg_unused_index_size_bytes", &k).is_none()
                && m.get("pg_stat_user_indexes_idx_scan", &k) == Some(3.0)
        })
        .await;
    assert_eq!(
        m.get(
            "centinela_collector_up",
            &[("collector", "postgres_tables")]
        ),
        Some(1.0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_raise_the_idle_count() {
    let pg = PgCluster::start();
    pg.exec("postgres", "CREATE DATABASE idlers").await;
    // centinela visits only `postgres`, so its own sessions never touch `idlers`.
    let app = App::start(&test_config(
        &pg.dsn("postgres"),
        "databases = [\"postgres\"]",
    ))
    .await;
    let idle = [("datname", "idlers"), ("state", "idle")];
    app.wait_metrics(WAIT, "idle count 0 in idlers", |m| {
        m.get("pg_stat_activity_count", &idle) == Some(0.0)
    })
    .await;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(pg.connect("idlers").await);
    }
    app.wait_metrics(WAIT, "idle count 5 in idlers", |m| {
        m.get("pg_stat_activity_count", &idle) == Some(5.0)
    })
    .await;
    for s in sessions {
        s.close().await.unwrap();
    }
    app.wait_metrics(WAIT, "idle count back to 0", |m| {
        m.get("pg_stat_activity_count", &idle) == Some(0.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_is_visited_within_the_connection_cap() {
    let pg = PgCluster::start();
    pg.exec("postgres", "CREATE DATABASE second").await;
    pg.exec(
        "postgres",
        "CREATE TABLE first_t AS SELECT g FROM generate_series(1, 10) g",
    )
    .await;
    pg.exec(
        "second",
        "CREATE TABLE second_t AS SELECT g FROM generate_series(1, 42) g",
    )
    .await;
    let app = App::start(&test_config(&pg.dsn("postgres"), "max_connections = 1")).await;

    // Sample centinela's sessions while it works: never more than max_connections.
    let mut watcher = pg.connect("postgres").await;
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut most = 0i64;
    while Instant::now() < deadline {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'centinela'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        most = most.max(n);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(most >= 1, "centinela was never seen connected");
    assert_eq!(
        most, 1,
        "centinela held {most} sessions with max_connections = 1"
    );

    let m = app
        .wait_metrics(WAIT, "tables of both databases", |m| {
            m.get(
                "pg_stat_user_tables_n_live_tup",
                &[("datname", "second"), ("relname", "second_t")],
            )
            .is_some()
                && m.get(
                    "pg_stat_user_tables_n_live_tup",
                    &[("datname", "postgres"), ("relname", "first_t")],
                )
                .is_some()
        })
        .await;
    assert_eq!(
        m.get(
            "pg_stat_user_tables_n_live_tup",
            &[("datname", "second"), ("relname", "second_t")]
        ),
        Some(42.0)
    );
    assert_eq!(
        m.get(
            "centinela_pg_database_collect_success",
            &[("datname", "second")]
        ),
        Some(1.0)
    );
    assert!(
        m.get("pg_database_size_bytes", &[("datname", "second")])
            .unwrap()
            > 1e6
    );
    // template0/template1 are excluded by default.
    assert!(m
        .values("pg_database_size_bytes", &[("datname", "template1")])
        .is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_table_does_not_stall_the_collection() {
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE TABLE locked AS SELECT g FROM generate_series(1, 1000) g;
         CREATE TABLE free AS SELECT g FROM generate_series(1, 500) g;",
    )
    .await;
    // ANALYZE sets relpages, the estimate used for the locked table.
    pg.exec("postgres", "ANALYZE locked, free").await;
    let mut holder = pg.connect("postgres").await;
    sqlx::raw_sql("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut holder)
        .await
        .unwrap();

    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let m = app
        .wait_metrics(
            WAIT,
            "a successful tables run while `locked` is locked",
            |m| {
                m.get(
                    "centinela_collector_up",
                    &[("collector", "postgres_tables")],
                ) == Some(1.0)
            },
        )
        .await;
    assert_eq!(
        m.get("pg_stat_user_tables_n_live_tup", &[("relname", "free")]),
        Some(500.0)
    );
    // The locked table is still reported, sized from the catalog.
    assert_eq!(
        m.get("pg_stat_user_tables_n_live_tup", &[("relname", "locked")]),
        Some(1000.0)
    );
    assert!(
        m.get(
            "pg_stat_user_tables_table_size_bytes",
            &[("relname", "locked")]
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        m.get(
            "centinela_pg_relations_size_estimated",
            &[("datname", "postgres")]
        ),
        Some(1.0)
    );
    let took = m
        .get(
            "centinela_collector_duration_seconds",
            &[("collector", "postgres_tables")],
        )
        .unwrap();
    assert!(
        took < 0.9,
        "the run took {took}s, longer than statement_timeout"
    );

    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    app.wait_metrics(WAIT, "exact size once the lock is gone", |m| {
        m.get(
            "centinela_pg_relations_size_estimated",
            &[("datname", "postgres")],
        ) == Some(0.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_reported_and_recovered_without_restart() {
    let pg = PgCluster::start();
    pg.exec("postgres", "CREATE TABLE t AS SELECT 1 AS x").await;
    let interval = 2.0;
    let config = test_config(&pg.dsn("postgres"), "");
    let mut config = config;
    config.collectors.postgres.interval = Duration::from_secs_f64(interval);
    let app = App::start(&config).await;
    app.wait_metrics(WAIT, "pg_up 1 and tables", |m| {
        m.get("pg_up", &[]) == Some(1.0)
            && m.get("pg_stat_user_tables_n_live_tup", &[("relname", "t")])
                .is_some()
    })
    .await;
    let health = app.get("/health/db").await;
    assert_eq!(health.status(), 200);

    pg.stop();
    let m = app
        .wait_metrics(WAIT, "pg_up 0", |m| m.get("pg_up", &[]) == Some(0.0))
        .await;
    assert_eq!(
        m.get("centinela_collector_up", &[("collector", "postgres")]),
        Some(0.0)
    );
    assert!(m
        .get(
            "centinela_collector_last_success_timestamp_seconds",
            &[("collector", "postgres")]
        )
        .is_some());
    assert!(
        m.values("pg_stat_activity_count", &[]).is_empty(),
        "no stale series while down"
    );
    let m = app
        .wait_metrics(WAIT, "table series gone", |m| {
            m.values("pg_stat_user_tables_n_live_tup", &[]).is_empty()
        })
        .await;
    assert_eq!(
        m.get(
            "centinela_collector_up",
            &[("collector", "postgres_tables")]
        ),
        Some(0.0)
    );
    let health = app.get("/health/db").await;
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "failing");
    assert!(
        body["error"].as_str().unwrap().contains("connect"),
        "{body}"
    );
    assert_eq!(app.get("/health").await.status(), 200);

    pg.restart();
    let back = Instant::now();
    app.wait_metrics(WAIT, "pg_up 1 again", |m| m.get("pg_up", &[]) == Some(1.0))
        .await;
    let took = back.elapsed().as_secs_f64();
    assert!(
        took <= 2.0 * interval + 0.5,
        "pg_up came back after {took:.1}s, more than two intervals"
    );
    assert_eq!(app.get("/health/db").await.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_monitor_role_sees_what_a_superuser_sees() {
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE ROLE watcher LOGIN PASSWORD 'watcher-pw' IN ROLE pg_monitor;
         CREATE DATABASE busy;",
    )
    .await;
    pg.exec(
        "postgres",
        "CREATE TABLE owned_by_super (id int); INSERT INTO owned_by_super SELECT generate_series(1, 300);
         DELETE FROM owned_by_super WHERE id <= 100;",
    )
    .await;
    // Idle sessions of the superuser in a database centinela does not visit, so its own
    // sessions never mix into the count.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(pg.connect("busy").await);
    }
    let only_postgres = "databases = [\"postgres\"]";
    let superuser = App::start(&test_config(&pg.dsn("postgres"), only_postgres)).await;
    let monitor = App::start(&test_config(
        &pg.dsn_as("watcher", "watcher-pw", "postgres"),
        only_postgres,
    ))
    .await;
    let table = [("datname", "postgres"), ("relname", "owned_by_super")];
    let ready = |m: &crate::common::Exposition| {
        m.get("pg_stat_user_tables_n_dead_tup", &table) == Some(100.0)
            && m.get("centinela_collector_up", &[("collector", "postgres")]) == Some(1.0)
    };
    let a = superuser.wait_metrics(WAIT, "superuser view", ready).await;
    let b = monitor.wait_metrics(WAIT, "pg_monitor view", ready).await;
    for name in [
        "pg_stat_user_tables_n_live_tup",
        "pg_stat_user_tables_n_dead_tup",
        "pg_stat_user_tables_table_size_bytes",
    ] {
        assert_eq!(a.get(name, &table), b.get(name, &table), "{name}");
    }
    let idle_busy = [("datname", "busy"), ("state", "idle")];
    assert_eq!(
        b.get("pg_stat_activity_count", &idle_busy),
        Some(3.0),
        "pg_monitor sees other roles' sessions"
    );
    assert_eq!(
        a.get("pg_stat_activity_count", &idle_busy),
        b.get("pg_stat_activity_count", &idle_busy)
    );
    superuser.stop().await;
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_statements_are_labelled_by_queryid_only() {
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE EXTENSION pg_stat_statements; SELECT pg_sleep(0.3);",
    )
    .await;
    let app = App::start(&test_config(
        &pg.dsn("postgres"),
        "slow_statement_threshold = \"200ms\"",
    ))
    .await;
    let m = app
        .wait_metrics(WAIT, "a slow statement", |m| {
            !m.values("pg_stat_statements_mean_seconds", &[]).is_empty()
        })
        .await;
    let slow: Vec<_> = m
        .samples
        .iter()
        .filter(|(n, _, _)| n == "pg_stat_statements_mean_seconds")
        .collect();
    assert_eq!(
        slow.len(),
        1,
        "only pg_sleep(0.3) is slower than 200ms: {slow:?}"
    );
    let (_, labels, mean) = slow[0];
    assert!(*mean >= 0.3, "{mean}");
    assert_eq!(
        labels.keys().map(String::as_str).collect::<Vec<_>>(),
        ["datname", "queryid"]
    );
    assert_eq!(labels["datname"], "postgres");
    let id = labels["queryid"].as_str();
    assert_eq!(
        m.get("pg_stat_statements_calls_total", &[("queryid", id)]),
        Some(1.0)
    );
    assert!(
        !m.raw.contains("pg_sleep"),
        "query text must never be exported"
    );
    app.stop().await;
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A replica reads lag 0 only while its WAL receiver streams and has replayed what it
/// received. With the primary stopped, "received = replayed" stays true, but the receiver
/// is gone: the lag must grow and the receiver must read as not streaming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_lag_grows_and_the_receiver_reads_down_when_the_primary_stops() {
    let primary = PgCluster::start();
    let replica = primary.replica().await;
    primary
        .exec(
            "postgres",
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
        )
        .await;
    let app = App::start(&test_config(&replica.dsn("postgres"), "")).await;
    let m = app
        .wait_metrics(WAIT, "a streaming, caught-up replica", |m| {
            m.get("pg_stat_wal_receiver_streaming", &[]) == Some(1.0)
                && m.get("pg_replication_lag_seconds", &[]) == Some(0.0)
        })
        .await;
    assert_eq!(m.get("pg_replication_is_replica", &[]), Some(1.0));
    let last_msg = m
        .get("pg_stat_wal_receiver_last_msg_receipt_time", &[])
        .expect("time of the primary's last message");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - last_msg).abs() < 60.0,
        "last message {last_msg}, now {now}"
    );

    primary.stop();
    let stopped = Instant::now();
    let m = app
        .wait_metrics(
            Duration::from_secs(10),
            "the receiver down and a lag",
            |m| {
                m.get("pg_stat_wal_receiver_streaming", &[]) == Some(0.0)
                    && m.get("pg_replication_lag_seconds", &[])
                        .is_some_and(|l| l > 0.0)
            },
        )
        .await;
    let first = m.get("pg_replication_lag_seconds", &[]).unwrap();
    // Intervals are 1 s in tests: the change shows within two of them, plus the slack a
    // loaded CI machine needs to stop a server and scrape.
    assert!(
        stopped.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopped.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = app
        .metrics()
        .await
        .get("pg_replication_lag_seconds", &[])
        .unwrap();
    // 3 s later, at least two 1 s collections have run since `first` was read.
    assert!(later >= first + 1.5, "the lag grows: {first} then {later}");
    assert_eq!(
        app.metrics().await.get("pg_up", &[]),
        Some(1.0),
        "the replica itself is up"
    );
    app.stop().await;
}

/// `pg_stat_database` under `postgres_exporter`'s names: transactions, cache hits and a real
/// deadlock, per database, with the columns this server's version has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_database_counts_transactions_cache_hits_and_deadlocks() {
    let pg = PgCluster::start();
    pg.exec("postgres", "CREATE DATABASE shop").await;
    pg.exec(
        "shop",
        "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0), (2, 0)",
    )
    .await;
    // A deadlock: each session locks one row, then wants the other's.
    let mut a = pg.connect("shop").await;
    let mut b = pg.connect("shop").await;
    sqlx::raw_sql("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
        .execute(&mut a)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; UPDATE t SET v = 1 WHERE id = 2")
        .execute(&mut b)
        .await
        .unwrap();
    let first = tokio::spawn(async move {
        let r = sqlx::query("UPDATE t SET v = 2 WHERE id = 2")
            .execute(&mut a)
            .await;
        let _ = sqlx::query("ROLLBACK").execute(&mut a).await;
        (r.is_ok(), a)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = sqlx::raw_sql("UPDATE t SET v = 2 WHERE id = 1")
        .execute(&mut b)
        .await
        .is_ok();
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut b).await;
    let (first, a) = first.await.unwrap();
    assert!(
        first != second,
        "exactly one side of the deadlock is cancelled"
    );
    drop((a, b));

    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let shop = [("datname", "shop")];
    let m = app
        .wait_metrics(WAIT, "a deadlock and rollbacks in shop", |m| {
            m.get("pg_stat_database_deadlocks", &shop) == Some(1.0)
                && m.get("pg_stat_database_xact_rollback", &shop)
                    .is_some_and(|v| v >= 2.0)
        })
        .await;
    assert!(m.get("pg_stat_database_xact_commit", &shop).unwrap() >= 2.0);
    assert!(m.get("pg_stat_database_blks_hit", &shop).unwrap() > 0.0);
    assert!(m.get("pg_stat_database_tup_inserted", &shop).unwrap() >= 2.0);
    // centinela's own session to postgres counts as a backend there.
    assert!(
        m.get("pg_stat_database_numbackends", &[("datname", "postgres")])
            .unwrap()
            >= 1.0
    );
    let datid = m
        .samples
        .iter()
        .find(|(n, l, _)| {
            n == "pg_stat_database_deadlocks"
                && l.get("datname").map(String::as_str) == Some("shop")
        })
        .and_then(|(_, l, _)| l.get("datid").cloned())
        .expect("a datid label");
    assert!(datid.parse::<u32>().is_ok(), "datid {datid}");
    // The server's version (15 here) decides the columns: session statistics from 14 on,
    // parallel workers from 18 on.
    assert!(m
        .get("pg_stat_database_sessions_total", &shop)
        .is_some_and(|v| v >= 3.0));
    assert!(m
        .get("pg_stat_database_parallel_workers_launched_total", &shop)
        .is_none());
    // The template databases are excluded as everywhere else.
    assert!(m
        .get("pg_stat_database_xact_commit", &[("datname", "template0")])
        .is_none());
    app.stop().await;
}

/// Checkpoints under `postgres_exporter`'s `pg_stat_bgwriter` names (from
/// `pg_stat_checkpointer` on 17 and later): a requested checkpoint is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_checkpoint_is_counted() {
    let pg = PgCluster::start();
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let before = app
        .wait_metrics(WAIT, "checkpoint counters", |m| {
            m.get("pg_stat_bgwriter_checkpoints_req_total", &[])
                .is_some()
        })
        .await
        .get("pg_stat_bgwriter_checkpoints_req_total", &[])
        .unwrap();
    pg.exec("postgres", "CHECKPOINT").await;
    let m = app
        .wait_metrics(WAIT, "one more requested checkpoint", |m| {
            m.get("pg_stat_bgwriter_checkpoints_req_total", &[]) >= Some(before + 1.0)
        })
        .await;
    assert!(m.get("pg_stat_bgwriter_buffers_alloc_total", &[]).unwrap() > 0.0);
    assert!(m
        .get("pg_stat_bgwriter_checkpoints_timed_total", &[])
        .is_some());
    app.stop().await;
}

/// On a primary, each connected standby is reported by name and state, with how far
/// behind it is; it catches up, and leaves when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_reports_its_standby_and_how_far_behind_it_is() {
    let primary = PgCluster::start();
    let replica = primary.replica().await;
    primary
        .exec(
            "postgres",
            "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)",
        )
        .await;
    let app = App::start(&test_config(&primary.dsn("postgres"), "")).await;
    let standby = [
        ("application_name", "replica"),
        ("state", "streaming"),
        ("sync_state", "async"),
    ];
    let m = app
        .wait_metrics(WAIT, "the standby, caught up", |m| {
            m.get("pg_stat_replication_pg_wal_lsn_diff", &standby) == Some(0.0)
        })
        .await;
    for name in [
        "pg_stat_replication_sent_behind_bytes",
        "pg_stat_replication_write_behind_bytes",
        "pg_stat_replication_flush_behind_bytes",
    ] {
        assert_eq!(m.get(name, &standby), Some(0.0), "{name}");
    }
    assert!(m
        .get("pg_stat_replication_replay_lag_seconds", &standby)
        .is_some_and(|s| (0.0..60.0).contains(&s)));
    assert_eq!(m.get("pg_replication_is_replica", &[]), Some(0.0));
    assert!(
        m.get("pg_replication_lag_seconds", &[]).is_none(),
        "no lag on a primary"
    );

    replica.stop();
    app.wait_metrics(WAIT, "the standby gone", |m| {
        m.values("pg_stat_replication_pg_wal_lsn_diff", &[])
            .is_empty()
    })
    .await;
    app.stop().await;
}

/// A replica whose catalogue has `pg_stat_statements` (replicated from the primary) but
/// whose server was started without the library: its view is never read, so the server
/// logs nothing, and a series says why the statements are missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_without_the_preloaded_library_are_skipped_quietly() {
    let primary = PgCluster::start();
    primary
        .exec("postgres", "CREATE EXTENSION pg_stat_statements")
        .await;
    let replica = primary.replica_with("shared_preload_libraries = ''").await;
    let app = App::start(&test_config(&replica.dsn("postgres"), "")).await;
    let m = app
        .wait_metrics(WAIT, "statements marked unavailable", |m| {
            m.get("centinela_pg_statements_unavailable", &[]) == Some(1.0)
        })
        .await;
    assert!(m.values("pg_stat_statements_mean_seconds", &[]).is_empty());
    // Several slow runs (1 s apart in tests), not one ERROR among them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = replica.server_log();
    assert!(
        !log.contains("pg_stat_statements must be loaded"),
        "the server logged the unreadable view:\n{log}"
    );
    assert_eq!(
        app.metrics().await.get(
            "centinela_collector_up",
            &[("collector", "postgres_tables")]
        ),
        Some(1.0)
    );
    app.stop().await;
}

/// A failed `CREATE UNIQUE INDEX CONCURRENTLY` leaves an invalid index behind: it is
/// reported until it is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_index_is_reported_until_dropped() {
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE TABLE dup (v int); INSERT INTO dup SELECT 1 FROM generate_series(1, 100)",
    )
    .await;
    let mut c = pg.connect("postgres").await;
    let failed = sqlx::raw_sql("CREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v)")
        .execute(&mut c)
        .await;
    assert!(failed.is_err(), "duplicates make the unique build fail");
    drop(c);
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let index = [
        ("datname", "postgres"),
        ("schemaname", "public"),
        ("relname", "dup"),
        ("indexrelname", "dup_v"),
    ];
    app.wait_metrics(WAIT, "the invalid index", |m| {
        m.get("pg_invalid_index_size_bytes", &index)
            .is_some_and(|b| b >= 0.0)
    })
    .await;
    pg.exec("postgres", "DROP INDEX dup_v").await;
    let m = app
        .wait_metrics(WAIT, "the invalid index gone", |m| {
            m.get("pg_invalid_index_size_bytes", &index).is_none()
        })
        .await;
    assert!(m.values("pg_invalid_index_size_bytes", &[]).is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wraparound_has_a_rate_a_time_left_and_names_who_holds_the_horizon() {
    let pg = PgCluster::start_configured("max_prepared_transactions = 2");
    pg.exec(
        "postgres",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)",
    )
    .await;
    // Two holders: a forgotten transaction with an ID, and a prepared transaction.
    let mut forgotten = pg.connect("postgres").await;
    sqlx::raw_sql("SET application_name = 'forgotten'; BEGIN; SELECT txid_current();")
        .execute(&mut forgotten)
        .await
        .unwrap();
    let forgotten_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut forgotten)
        .await
        .unwrap();
    let mut preparer = pg.connect("postgres").await;
    sqlx::raw_sql("BEGIN; INSERT INTO t VALUES (1000); PREPARE TRANSACTION 'stuck';")
        .execute(&mut preparer)
        .await
        .unwrap();

    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    // Transaction IDs and multixacts consumed while centinela samples.
    let mut a = pg.connect("postgres").await;
    let mut b = pg.connect("postgres").await;
    for _ in 0..4 {
        sqlx::raw_sql(
            "DO $$ BEGIN FOR i IN 1..300 LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$",
        )
        .execute(&mut a)
        .await
        .unwrap();
        // Two sessions sharing row locks make a multixact per row.
        for s in [&mut a, &mut b] {
            sqlx::raw_sql("BEGIN; SELECT count(*) FROM (SELECT * FROM t FOR SHARE) x;")
                .execute(&mut *s)
                .await
                .unwrap();
        }
        for s in [&mut a, &mut b] {
            sqlx::raw_sql("COMMIT").execute(&mut *s).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let m = app
        .wait_metrics(WAIT, "consumption rates and times left", |m| {
            m.get("pg_xid_consumption_per_second", &[])
                .is_some_and(|r| r > 0.0)
                && m.get("pg_multixact_consumption_per_second", &[])
                    .is_some_and(|r| r > 0.0)
        })
        .await;
    let rate = m.get("pg_xid_consumption_per_second", &[]).unwrap();
    let age = m
        .values("pg_database_xid_age", &[])
        .into_iter()
        .fold(0.0, f64::max);
    let to_freeze = m
        .get(
            "pg_xid_wraparound_eta_seconds",
            &[("limit", "autovacuum_freeze_max_age")],
        )
        .unwrap();
    let to_stop = m
        .get("pg_xid_wraparound_eta_seconds", &[("limit", "stop")])
        .unwrap();
    // age + rate × time left is the limit (the age read in the same run, within the
    // transactions consumed between the two views' queries).
    let at_freeze = age + rate * to_freeze;
    assert!((at_freeze - 200_000_000.0).abs() < 10_000.0, "{at_freeze}");
    let at_stop = age + rate * to_stop;
    assert!((at_stop - 2_144_483_648.0).abs() < 100_000.0, "{at_stop}");
    assert!(m
        .get("pg_multixact_wraparound_eta_seconds", &[("limit", "stop")])
        .is_some_and(f64::is_finite));

    // The holders, by kind, named.
    let backend = m
        .samples
        .iter()
        .find(|(n, l, _)| n == "pg_xmin_horizon_age" && l["source"] == "backend")
        .unwrap_or_else(|| panic!("no backend holder:\n{}", m.raw));
    assert_eq!(backend.1["holder"], forgotten_pid.to_string());
    assert_eq!(backend.1["detail"], "forgotten, idle in transaction");
    assert!(backend.2 >= 300.0, "{}", backend.2);
    let prepared = [("source", "prepared_transaction"), ("holder", "stuck")];
    assert!(m.get("pg_xmin_horizon_age", &prepared).unwrap() >= 300.0);
    assert!(m.get("pg_xmin_horizon_age_seconds", &prepared).unwrap() >= 1.0);

    // Released, they are gone.
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut forgotten)
        .await
        .unwrap();
    pg.exec("postgres", "ROLLBACK PREPARED 'stuck'").await;
    app.wait_metrics(WAIT, "no holder left", |m| {
        m.values("pg_xmin_horizon_age", &[]).is_empty()
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_runway_names_archiving_then_a_slot_then_write_volume() {
    let pg = PgCluster::start_configured(
        "max_wal_size = '32MB'\nmin_wal_size = '32MB'\narchive_mode = on\narchive_command = 'false'",
    );
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let fill = |table: &'static str| {
        let pg = &pg;
        async move {
            pg.exec(
                "postgres",
                &format!(
                    "CREATE TABLE {table} AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 300000) g"
                ),
            )
            .await;
            pg.exec("postgres", "SELECT pg_switch_wal()").await;
        }
    };
    let cause = |m: &crate::common::Exposition| {
        m.samples
            .iter()
            .find(|(n, _, _)| n == "pg_wal_runway_seconds")
            .map(|(_, l, v)| (l["cause"].clone(), l["slot"].clone(), *v))
    };

    // Archiving fails: the backlog is the cause.
    fill("a").await;
    let m = app
        .wait_metrics(WAIT, "archiving as the cause", |m| {
            cause(m).is_some_and(|(c, _, _)| c == "archiving")
        })
        .await;
    assert!(
        m.get("pg_wal_retained_bytes", &[("cause", "archiving")])
            .unwrap()
            > 32.0 * 1_048_576.0
    );
    assert!(m.get("pg_wal_directory_bytes", &[]).unwrap() > 32.0 * 1_048_576.0);
    assert!(cause(&m).unwrap().2 > 0.0);
    // What centinela reports is what statvfs says here.
    let stat = nix::sys::statvfs::statvfs(&pg.data_dir().join("pg_wal")).unwrap();
    let size = stat.blocks() as f64 * stat.fragment_size() as f64;
    assert_eq!(m.get("pg_wal_filesystem_size_bytes", &[]), Some(size));

    // Archiving works again; a slot nobody reads keeps WAL.
    pg.exec(
        "postgres",
        "ALTER SYSTEM SET archive_command = 'true'; SELECT pg_reload_conf()",
    )
    .await;
    pg.exec(
        "postgres",
        "SELECT pg_create_physical_replication_slot('forgotten', true)",
    )
    .await;
    fill("b").await;
    let m = app
        .wait_metrics(WAIT, "the slot as the cause", |m| {
            cause(m).is_some_and(|(c, s, _)| c == "slot" && s == "forgotten")
        })
        .await;
    assert!(
        m.get(
            "pg_wal_retained_bytes",
            &[("cause", "slot"), ("slot", "forgotten")]
        )
        .unwrap()
            > 32.0 * 1_048_576.0
    );
    assert!(m.get("pg_wal_bytes_per_second", &[]).unwrap() > 0.0);

    // Nothing retains: write volume.
    pg.exec("postgres", "SELECT pg_drop_replication_slot('forgotten')")
        .await;
    pg.exec("postgres", "CHECKPOINT").await;
    app.wait_metrics(WAIT, "write volume as the cause", |m| {
        cause(m).is_some_and(|(c, s, _)| c == "write_volume" && s.is_empty())
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn centinela_measures_its_own_share_of_database_time() {
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE EXTENSION pg_stat_statements;
         CREATE ROLE watcher LOGIN PASSWORD 'w' IN ROLE pg_monitor;
         CREATE TABLE work AS SELECT g FROM generate_series(1, 200000) g",
    )
    .await;
    let app = App::start(&test_config(
        &pg.dsn_as("watcher", "w", "postgres"),
        "cost_budget = 0.02",
    ))
    .await;
    // The application's work, under another role, while centinela samples.
    let mut app_db = pg.connect("postgres").await;
    for _ in 0..10 {
        sqlx::query("SELECT count(*) FROM work a JOIN work b USING (g)")
            .execute(&mut app_db)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let m = app
        .wait_metrics(WAIT, "centinela's share of database time", |m| {
            m.get("centinela_db_time_share", &[]).is_some()
        })
        .await;
    let ours = m.get("centinela_db_time_seconds_total", &[]).unwrap();
    let all = m.get("pg_stat_statements_time_seconds_total", &[]).unwrap();
    assert!(ours > 0.0 && ours < all, "{ours} of {all}");
    let share = m.get("centinela_db_time_share", &[]).unwrap();
    assert!(share > 0.0 && share < 0.5, "{share}");
    assert_eq!(m.get("centinela_db_time_budget_ratio", &[]), Some(0.02));
    assert_eq!(m.get("centinela_db_role_shared", &[]), Some(0.0));
    assert!(m.get("centinela_db_sessions", &[]).unwrap() >= 1.0);
    assert_eq!(m.get("centinela_db_lock_waiting_sessions", &[]), Some(0.0));
    // centinela's time is what pg_stat_statements holds for its role.
    let mut admin = pg.connect("postgres").await;
    let direct: f64 = sqlx::query_scalar(
        "SELECT (sum(total_exec_time + total_plan_time) / 1000)::float8 FROM pg_stat_statements
         WHERE toplevel AND userid = 'watcher'::regrole",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(direct >= ours, "{direct} < {ours}");
    app.stop().await;

    // Another client with centinela's role is flagged.
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    app.wait_metrics(WAIT, "a shared role", |m| {
        m.get("centinela_db_role_shared", &[]) == Some(1.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_on_disk_is_compared_with_what_the_server_runs() {
    let pg = PgCluster::start();
    let cert = |cn: &str, year: i32| {
        let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    };
    let (first, first_key) = cert("db.internal", 2030);
    pg.enable_ssl(&first, &first_key).await;
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    let m = app
        .wait_metrics(WAIT, "the served certificate compared", |m| {
            m.get("pg_ssl_cert_file_differs", &[]).is_some()
        })
        .await;
    assert_eq!(m.get("pg_ssl_cert_file_differs", &[]), Some(0.0));
    assert_eq!(
        m.get("pg_ssl_cert_file_not_after_timestamp_seconds", &[]),
        Some(1_893_456_000.0)
    );
    for file in ["postgresql.conf", "postgresql.auto.conf", "pg_hba.conf"] {
        assert_eq!(
            m.get("pg_config_reload_pending", &[("file", file)]),
            Some(0.0),
            "{file}"
        );
    }
    assert_eq!(m.get("pg_hba_file_rule_errors", &[]), Some(0.0));

    // Rotated on disk, not reloaded.
    let (second, second_key) = cert("db.internal", 2031);
    for (name, data) in [("server.crt", &second), ("server.key", &second_key)] {
        std::fs::write(pg.data_dir().join(name), data).unwrap();
    }
    // A bad setting and a bad pg_hba.conf line, not reloaded either.
    let append = |file: &str, line: &str| {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(pg.data_dir().join(file))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    };
    append("postgresql.conf", "work_mem = 'lots'");
    append("pg_hba.conf", "host all all 0.0.0.0/0 nosuchmethod");
    let m = app
        .wait_metrics(WAIT, "the rotation and the edits noticed", |m| {
            m.get("pg_ssl_cert_file_differs", &[]) == Some(1.0)
                && m.get("pg_config_reload_pending", &[("file", "postgresql.conf")]) == Some(1.0)
                && m.get("pg_config_reload_pending", &[("file", "pg_hba.conf")]) == Some(1.0)
        })
        .await;
    assert_eq!(
        m.get("pg_ssl_cert_file_not_after_timestamp_seconds", &[]),
        Some(1_924_992_000.0)
    );
    assert_eq!(
        m.get("pg_config_file_errors", &[("file", "postgresql.conf")]),
        Some(1.0)
    );
    assert_eq!(m.get("pg_hba_file_rule_errors", &[]), Some(1.0));

    // Reloaded: the new certificate is served; the edits are loaded (the bad ones skipped).
    pg.exec("postgres", "SELECT pg_reload_conf()").await;
    app.wait_metrics(WAIT, "the reload noticed", |m| {
        m.get("pg_ssl_cert_file_differs", &[]) == Some(0.0)
            && m.get("pg_config_reload_pending", &[("file", "postgresql.conf")]) == Some(0.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_shows_the_replicas_delay_even_when_the_primary_is_idle_or_gone() {
    let primary = PgCluster::start();
    let replica = primary.replica().await;
    let config = "heartbeat_table = \"public.centinela_heartbeat\"";
    let on_primary = App::start(&test_config(&primary.dsn("postgres"), config)).await;
    let on_replica = App::start(&test_config(&replica.dsn("postgres"), config)).await;
    let m = on_primary
        .wait_metrics(WAIT, "a heartbeat written", |m| {
            m.get("pg_heartbeat_write_success", &[]) == Some(1.0)
        })
        .await;
    let commit = m.get("pg_heartbeat_commit_seconds", &[]).unwrap();
    assert!(commit > 0.0 && commit < 1.0, "{commit}");
    assert!(m.get("pg_heartbeat_age_seconds", &[]).unwrap() < 2.0);
    // The primary does nothing else, and the replica still reads a fresh row.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let r = on_replica
        .wait_metrics(WAIT, "the heartbeat on the replica", |m| {
            m.get("pg_heartbeat_age_seconds", &[]).is_some()
        })
        .await;
    let age = r.get("pg_heartbeat_age_seconds", &[]).unwrap();
    assert!(age < 3.0, "an idle primary's replica reads {age} s");
    assert_eq!(
        r.get("pg_heartbeat_write_success", &[]),
        None,
        "replicas never write"
    );
    // The primary gone: the replica's age grows, replay has nothing to say.
    primary.stop();
    on_replica
        .wait_metrics(WAIT, "the age growing past 5 s", |m| {
            m.get("pg_heartbeat_age_seconds", &[])
                .is_some_and(|a| a > 5.0)
        })
        .await;
    on_primary.stop().await;
    on_replica.stop().await;

    // A role that may not write: the failure is a 0, not a failed view.
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE ROLE reader LOGIN PASSWORD 'r' IN ROLE pg_monitor",
    )
    .await;
    let app = App::start(&test_config(&pg.dsn_as("reader", "r", "postgres"), config)).await;
    let m = app
        .wait_metrics(WAIT, "the write refused", |m| {
            m.get("pg_heartbeat_write_success", &[]) == Some(0.0)
        })
        .await;
    assert_eq!(
        m.get("centinela_pg_view_up", &[("view", "heartbeat")]),
        Some(1.0)
    );
    app.stop().await;
}
