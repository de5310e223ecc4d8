//! The server log, classified: every class provoked in a real PostgreSQL (and its replica,
//! for standby conflicts), read in the three formats the server writes at once.

use std::time::Duration;

use sqlx::Connection as _;

use crate::common::{config_with_postgres, App, Exposition, PgCluster};

const WAIT: Duration = Duration::from_secs(60);

/// All three destinations at once, every message the classes need, and limits low enough to
/// reach.
const SETTINGS: &str = "logging_collector = on
log_destination = 'stderr,csvlog,jsonlog'
log_directory = 'log'
log_filename = 'postgresql-%H%M%S.log'
log_min_messages = info
lc_messages = 'C'
log_temp_files = 0
max_connections = 14
superuser_reserved_connections = 3
archive_mode = on
archive_command = 'false'
max_wal_size = '32MB'
min_wal_size = '32MB'
checkpoint_warning = '30s'
deadlock_timeout = '200ms'
autovacuum_naptime = '1s'
wal_level = replica";

fn app_config(pg: &PgCluster, glob: &str, format: &str) -> centinela::app::Config {
    config_with_postgres(
        &pg.dsn("postgres"),
        &format!(
            "max_connections = 1\n[postgres.server_log]\npath = \"{}/log/{glob}\"\nformat = \"{format}\"",
            pg.data_dir().display()
        ),
        "",
    )
}

async fn run(c: &mut sqlx::PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(c).await.map(|_| ())
}

fn events(m: &Exposition, class: &str) -> f64 {
    m.get("pg_log_events_total", &[("class", class)])
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_class_is_counted_from_a_real_server_in_every_format() {
    let pg = PgCluster::start_configured(SETTINGS);
    pg.exec(
        "postgres",
        "CREATE ROLE app LOGIN PASSWORD 'a';
         CREATE TABLE d (id int PRIMARY KEY, v int); INSERT INTO d VALUES (1, 0), (2, 0);
         GRANT ALL ON d TO app;
         CREATE TABLE av (g int, pad text) WITH (autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1);
         CREATE TABLE page (g int); INSERT INTO page SELECT generate_series(1, 1000)",
    )
    .await;
    let apps = [
        App::start(&app_config(&pg, "*.log", "stderr")).await,
        App::start(&app_config(&pg, "*.csv", "csvlog")).await,
        App::start(&app_config(&pg, "*.json", "jsonlog")).await,
    ];
    for app in &apps {
        app.wait_metrics(WAIT, "the log followed", |m| {
            m.get("centinela_server_log_files", &[])
                .is_some_and(|n| n >= 1.0)
        })
        .await;
    }
    let connect = |user: &str, password: &str| {
        let dsn = pg.dsn_as(user, password, "postgres");
        async move { sqlx::PgConnection::connect(&dsn).await }
    };
    // fatal, authentication_failure: a wrong password.
    assert!(connect("app", "wrong").await.is_err());
    // too_many_connections: the slots left to roles without SUPERUSER run out.
    let mut held = Vec::new();
    let mut refused = false;
    for _ in 0..14 {
        if let Ok(c) = connect("app", "a").await {
            held.push(c);
        } else {
            refused = true;
            break;
        }
    }
    assert!(refused, "no connection was refused");
    drop(held);
    // deadlock: two sessions take two rows in opposite order.
    let mut a = pg.connect("postgres").await;
    let mut b = pg.connect("postgres").await;
    run(&mut a, "BEGIN; UPDATE d SET v = 1 WHERE id = 1")
        .await
        .unwrap();
    run(&mut b, "BEGIN; UPDATE d SET v = 1 WHERE id = 2")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        run(&mut a, "UPDATE d SET v = 2 WHERE id = 2"),
        run(&mut b, "UPDATE d SET v = 2 WHERE id = 1")
    );
    assert!(
        ra.is_err() != rb.is_err(),
        "exactly one side is the deadlock victim"
    );
    run(&mut a, "ROLLBACK").await.unwrap();
    run(&mut b, "ROLLBACK").await.unwrap();
    // lock_timeout: a table held by another session.
    run(&mut a, "BEGIN; LOCK TABLE d").await.unwrap();
    assert!(run(&mut b, "SET lock_timeout = '100ms'; SELECT * FROM d")
        .await
        .is_err());
    run(&mut a, "ROLLBACK").await.unwrap();
    // statement_timeout.
    assert!(run(
        &mut b,
        "SET statement_timeout = '100ms'; SELECT pg_sleep(2)"
    )
    .await
    .is_err());
    run(&mut b, "RESET statement_timeout").await.unwrap();
    // idle_timeout: the server ends the session (FATAL).
    let mut idle = pg.connect("postgres").await;
    run(
        &mut idle,
        "SET idle_in_transaction_session_timeout = '200ms'; BEGIN",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(run(&mut idle, "SELECT 1").await.is_err());
    // temp_file: a sort that spills.
    run(
        &mut b,
        "SET work_mem = '64kB'; SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC) s",
    )
    .await
    .unwrap();
    // out_of_memory: a string past 1 GB.
    assert!(run(
        &mut b,
        "SELECT length(string_agg(repeat('x', 1048576), '')) FROM generate_series(1, 1100)"
    )
    .await
    .is_err());
    // archive_failed and checkpoints_too_frequent: WAL past max_wal_size, twice, quickly.
    for _ in 0..3 {
        run(
            &mut b,
            "CREATE TABLE IF NOT EXISTS w AS SELECT 1 AS g, repeat('x', 200) AS pad WHERE false; INSERT INTO w SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g",
        )
        .await
        .unwrap();
    }
    run(&mut b, "SELECT pg_switch_wal()").await.unwrap();
    // autovacuum_canceled: a slow autovacuum, then a lock it must give way to.
    run(
        &mut b,
        "INSERT INTO av SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g; DELETE FROM av",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'autovacuum: VACUUM%av%'",
        )
        .fetch_one(&mut b)
        .await
        .unwrap();
        if n > 0 {
            break;
        }
        assert!(started.elapsed() < WAIT, "autovacuum never started on av");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    run(&mut a, "BEGIN; LOCK TABLE av; COMMIT").await.unwrap();

    let m = apps[2]
        .wait_metrics(WAIT, "every class but corruption counted", |m| {
            [
                "fatal",
                "authentication_failure",
                "too_many_connections",
                "deadlock",
                "lock_timeout",
                "statement_timeout",
                "idle_timeout",
                "temp_file",
                "out_of_memory",
                "archive_failed",
                "checkpoints_too_frequent",
                "autovacuum_canceled",
            ]
            .iter()
            .all(|c| events(m, c) >= 1.0)
        })
        .await;
    assert!(m.get("pg_log_temp_file_bytes_total", &[]).unwrap() > 1_000_000.0);
    assert_eq!(events(&m, "deadlock"), 1.0);
    assert!(
        m.get("pg_log_messages_total", &[("severity", "FATAL")])
            .unwrap()
            >= 3.0
    );

    // checksum_failure: a page damaged on disk, read after a restart.
    let file: String = sqlx::query_scalar("SELECT pg_relation_filepath('page')")
        .fetch_one(&mut b)
        .await
        .unwrap();
    drop((a, b, idle));
    pg.stop();
    {
        use std::io::{Seek as _, Write as _};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(pg.data_dir().join(&file))
            .unwrap();
        f.seek(std::io::SeekFrom::Start(8)).unwrap();
        f.write_all(&[0xff; 16]).unwrap();
    }
    pg.restart();
    let mut c = pg.connect("postgres").await;
    assert!(run(&mut c, "SELECT count(*) FROM page").await.is_err());
    let m = apps[2]
        .wait_metrics(WAIT, "the damaged page counted", |m| {
            events(m, "checksum_failure") >= 1.0
        })
        .await;

    // The other formats count the same (the classes are complete in every file by now).
    for app in &apps[..2] {
        let other = app
            .wait_metrics(WAIT, "the same counts in this format", |o| {
                events(o, "checksum_failure") >= 1.0
            })
            .await;
        for class in centinela::collectors::postgres::server_log::CLASSES {
            if matches!(
                *class,
                "archive_failed" | "checkpoints_too_frequent" | "temp_file"
            ) {
                // Repeated by the server as it goes on: they grow between the reads.
                assert!(events(&other, class) >= 1.0, "{class}");
                continue;
            }
            assert_eq!(events(&other, class), events(&m, class), "{class}");
        }
    }
    for app in apps {
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_conflict_is_counted_from_the_replicas_log() {
    let primary = PgCluster::start_configured("wal_level = replica");
    primary
        .exec(
            "postgres",
            "CREATE TABLE sc AS SELECT generate_series(1, 10) g",
        )
        .await;
    let replica = primary
        .replica_with(
            "logging_collector = on\nlog_destination = 'jsonlog'\nlog_directory = 'log'\n\
             log_filename = 'replica-%H%M%S.log'\nlc_messages = 'C'\nlog_min_messages = info\n\
             hot_standby_feedback = off\nmax_standby_streaming_delay = 0",
        )
        .await;
    let app = App::start(&app_config(&replica, "replica-*.json", "jsonlog")).await;
    app.wait_metrics(WAIT, "the replica's log followed", |m| {
        m.get("centinela_server_log_files", &[])
            .is_some_and(|n| n >= 1.0)
    })
    .await;
    // A query on the replica holds a lock that the primary's DROP TABLE needs on replay.
    let mut reader = replica.connect("postgres").await;
    let started = std::time::Instant::now();
    loop {
        let seen = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sc")
            .fetch_one(&mut reader)
            .await;
        if seen.is_ok() {
            break;
        }
        assert!(started.elapsed() < WAIT, "sc never reached the replica");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held =
        sqlx::raw_sql("BEGIN; SELECT count(*) FROM sc; SELECT pg_sleep(10)").execute(&mut reader);
    let drop_it = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        primary.exec("postgres", "DROP TABLE sc").await;
    };
    let (held, ()) = tokio::join!(held, drop_it);
    assert!(held.is_err(), "the replica's query was not canceled");
    app.wait_metrics(WAIT, "the conflict counted", |m| {
        events(m, "standby_conflict") >= 1.0
    })
    .await;
    app.stop().await;
}
