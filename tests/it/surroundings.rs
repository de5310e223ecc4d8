//! The collectors around the database, against real parts: TLS servers (PostgreSQL's own
//! included), redis-server, files on disk, an HTTP target, textfiles.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use centinela::collectors::files::set_mtime;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::common::redis::RedisServer;
use crate::common::{assert_promtool_ok, config_with, App, PgCluster};

const WAIT: Duration = Duration::from_secs(20);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// A self-signed certificate for `names` valid until `days` from now (negative: expired).
fn cert(cn: &str, names: &[&str], days: i64) -> (rcgen::Certificate, rcgen::KeyPair, i64) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    params.not_after = not_after;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert, key, not_after.unix_timestamp())
}

/// A TLS server on a free port presenting `cert`, until the test ends.
async fn tls_server(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_files_tls_endpoints_and_postgres_itself() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (valid, _, valid_end) = cert("valid.example", &["valid.example"], 365);
    let (soon, _, soon_end) = cert("soon.example", &["soon.example"], 10);
    let (expired, expired_key, expired_end) = cert("expired.example", &["expired.example"], -3);
    let (b1, _, _) = cert("chain-1", &["chain-1"], 100);
    let (b2, _, _) = cert("chain-2", &["chain-2"], 200);
    let (b3, _, _) = cert("chain-3", &["chain-3"], 300);
    std::fs::write(d.join("valid.pem"), valid.pem()).unwrap();
    std::fs::write(d.join("soon.pem"), soon.pem()).unwrap();
    std::fs::create_dir(d.join("nested")).unwrap();
    std::fs::write(d.join("nested/expired.der"), expired.der()).unwrap();
    std::fs::write(
        d.join("bundle.pem"),
        format!("{}{}{}", b1.pem(), b2.pem(), b3.pem()),
    )
    .unwrap();
    std::fs::write(d.join("garbage.pem"), "this is not a certificate\n").unwrap();

    let tls_port = tls_server(&expired, &expired_key).await;
    // An https health URL: its certificate is read too, with no certs entry for it.
    let (probed, probed_key, probed_end) = cert("api.internal", &["localhost"], 60);
    let probe_port = tls_server(&probed, &probed_key).await;
    let pg = PgCluster::start();
    let (pg_cert, pg_key, pg_end) = cert("db.internal", &["db.internal"], 45);
    pg.enable_ssl(&pg_cert.pem(), &pg_key.serialize_pem()).await;

    // sslmode=prefer: the server's certificate is read with no certs configuration for it.
    let dsn = pg
        .dsn("postgres")
        .replace("sslmode=disable", "sslmode=prefer");
    let config = config_with(
        &dsn,
        &format!(
            "[[certs.files]]\npaths = [\"{d}/*.pem\", \"{d}/**/*.der\", \"{d}/missing-*.crt\"]\n\
             [[certs.endpoints]]\naddress = \"127.0.0.1:{tls_port}\"\nserver_name = \"expired.example\"\n\
             [[probes]]\nname = \"api\"\nurl = \"https://localhost:{probe_port}/health\"\n",
            d = d.display()
        ),
    );
    let app = App::start(&config).await;
    let m = app
        .wait_metrics(WAIT, "certs collected", |m| {
            m.get("centinela_collector_up", &[("collector", "certs")]) == Some(1.0)
        })
        .await;
    let not_after = |source: &str, cn: &str| {
        m.get(
            "centinela_cert_not_after_timestamp_seconds",
            &[("source", source), ("subject_cn", cn)],
        )
    };
    let path = |name: &str| d.join(name).display().to_string();
    assert_eq!(
        not_after(&path("valid.pem"), "valid.example"),
        Some(valid_end as f64)
    );
    assert_eq!(
        not_after(&path("soon.pem"), "soon.example"),
        Some(soon_end as f64)
    );
    assert_eq!(
        not_after(&path("nested/expired.der"), "expired.example"),
        Some(expired_end as f64)
    );
    assert!(soon_end - now() < 11 * 86400 && expired_end < now());
    let bundle = m.values(
        "centinela_cert_not_after_timestamp_seconds",
        &[("source", &path("bundle.pem"))],
    );
    assert_eq!(bundle.len(), 3, "one series per certificate of a bundle");
    let before = m
        .get(
            "centinela_cert_not_before_timestamp_seconds",
            &[("subject_cn", "valid.example")],
        )
        .unwrap();
    assert!(before < now() as f64);
    assert_eq!(
        m.get(
            "centinela_cert_source_errors",
            &[
                ("source", &path("garbage.pem")),
                ("reason", "not_a_certificate")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "centinela_cert_source_errors",
            &[
                ("source", &format!("{}/missing-*.crt", d.display())),
                ("reason", "no_match")
            ]
        ),
        Some(1.0)
    );

    // The TLS endpoint's expired certificate is still read, and said not to verify.
    let tls_source = format!("127.0.0.1:{tls_port}");
    assert_eq!(
        not_after(&tls_source, "expired.example"),
        Some(expired_end as f64)
    );
    assert_eq!(
        m.get(
            "centinela_cert_verify_ok",
            &[("source", &tls_source), ("reason", "expired")]
        ),
        Some(0.0)
    );

    let probe_source = format!("localhost:{probe_port}");
    assert_eq!(
        not_after(&probe_source, "api.internal"),
        Some(probed_end as f64)
    );
    assert_eq!(
        m.get(
            "centinela_cert_verify_ok",
            &[("source", &probe_source), ("reason", "unknown_issuer")]
        ),
        Some(0.0)
    );

    // PostgreSQL's own certificate, through SSLRequest.
    let pg_source = format!("127.0.0.1:{}", pg.port);
    assert_eq!(not_after(&pg_source, "db.internal"), Some(pg_end as f64));
    let verify = m.values("centinela_cert_verify_ok", &[("source", &pg_source)]);
    assert_eq!(
        verify,
        [0.0],
        "a self-signed server certificate does not verify"
    );

    assert_promtool_ok(&app.metrics_text().await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_are_counted_with_scan_and_outages_are_seen() {
    let pg = PgCluster::start();
    let mut redis = RedisServer::start();
    redis.fill(0, "temp:", 3000).await;
    redis.fill(0, "keep:", 500).await;
    redis.fill(3, "temp:", 7).await;
    let config = config_with(
        &pg.dsn("postgres"),
        &format!(
            "[redis]\nurl = \"{}\"\nkey_patterns = [\"temp:*\"]\n",
            redis.url()
        ),
    );
    let app = App::start(&config).await;
    let m = app
        .wait_metrics(WAIT, "redis counted", |m| {
            m.get("redis_up", &[]) == Some(1.0)
        })
        .await;
    assert_eq!(
        m.get("redis_keys_count", &[("db", "db0"), ("pattern", "temp:*")]),
        Some(3000.0)
    );
    assert_eq!(
        m.get("redis_keys_count", &[("db", "db3"), ("pattern", "temp:*")]),
        Some(7.0)
    );
    assert_eq!(
        m.get(
            "centinela_redis_key_scan_complete",
            &[("db", "db0"), ("pattern", "temp:*")]
        ),
        Some(1.0)
    );
    assert_eq!(m.get("redis_db_keys", &[("db", "db0")]), Some(3500.0));
    assert!(m.get("redis_memory_used_bytes", &[]).unwrap() > 0.0);
    assert!(m.get("redis_connected_clients", &[]).unwrap() >= 1.0);
    assert_eq!(app.get("/health/redis").await.status(), 200);

    redis.stop();
    let m = app
        .wait_metrics(WAIT, "redis_up 0", |m| m.get("redis_up", &[]) == Some(0.0))
        .await;
    assert!(
        m.values("redis_keys_count", &[]).is_empty(),
        "no stale counts while down"
    );
    let health = app.get("/health/redis").await;
    assert_eq!(health.status(), 503);
    redis.restart();
    app.wait_metrics(WAIT, "redis_up 1 again", |m| {
        m.get("redis_up", &[]) == Some(1.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_cut_short_by_its_budget_is_marked_partial() {
    let pg = PgCluster::start();
    let redis = RedisServer::start();
    redis.fill(0, "temp:", 20_000).await;
    let config = config_with(
        &pg.dsn("postgres"),
        &format!(
            "[redis]\nurl = \"{}\"\nkey_patterns = [\"temp:*\"]\nscan_budget = \"1ms\"\nscan_count = 10\n",
            redis.url()
        ),
    );
    let app = App::start(&config).await;
    let m = app
        .wait_metrics(WAIT, "a partial count", |m| {
            m.get(
                "centinela_redis_key_scan_complete",
                &[("pattern", "temp:*")],
            ) == Some(0.0)
        })
        .await;
    let n = m.get("redis_keys_count", &[("pattern", "temp:*")]).unwrap();
    assert!(n < 20_000.0, "partial count {n}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_stale_files_logs_and_textfiles() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hours_ago = |h: u64| SystemTime::now() - Duration::from_secs(h * 3600);

    // Backups: the newest is a valid pg_dump; an older one is bigger; a .log is ignored.
    let daily = d.join("daily");
    std::fs::create_dir(&daily).unwrap();
    for (name, data, age) in [
        ("db-1.dump", &b"PGDMP old backup, bigger"[..], 50),
        ("db-2.dump", &b"PGDMP newest"[..], 2),
        ("notes.log", &b"ignored"[..], 1),
    ] {
        std::fs::write(daily.join(name), data).unwrap();
        set_mtime(&daily.join(name), hours_ago(age)).unwrap();
    }
    let broken = d.join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("db.sql.gz"), "not gzip").unwrap();
    std::fs::create_dir(d.join("empty")).unwrap();

    // Stale temp files.
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for (name, age) in [
        ("dtem_1", 30),
        ("dtem_2", 48),
        ("dtem_new", 1),
        ("other", 30),
    ] {
        std::fs::write(tmp.join(name), "1234").unwrap();
        set_mtime(&tmp.join(name), hours_ago(age)).unwrap();
    }

    // Today's log.
    let logs = d.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let today = logs.join(format!(
        "app.log.{}",
        chrono::Local::now().format("%Y-%m-%d")
    ));
    std::fs::write(&today, "INFO start\nERROR one\nERROR two\n").unwrap();

    // Textfiles: one good, one broken.
    let textfile = d.join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    std::fs::write(
        textfile.join("apt.prom"),
        "# HELP apt_upgrades_pending Pending upgrades.\n# TYPE apt_upgrades_pending gauge\napt_upgrades_pending{origin=\"security\"} 4\n",
    )
    .unwrap();
    std::fs::write(textfile.join("broken.prom"), "this is not exposition\n").unwrap();

    let config = config_with(
        &pg.dsn("postgres"),
        &format!(
            "[[backups]]\nname = \"daily\"\npath = \"{d}/daily\"\npattern = \"*.dump\"\n\
             [[backups]]\nname = \"broken\"\npath = \"{d}/broken\"\n\
             [[backups]]\nname = \"empty\"\npath = \"{d}/empty\"\n\
             [[backups]]\nname = \"missing\"\npath = \"{d}/nope\"\n\
             [[files.stale]]\nname = \"tmp\"\npath = \"{d}/tmp\"\npattern = \"dtem_*\"\nolder_than = \"1d\"\n\
             [[files.logs]]\nname = \"app\"\npath = \"{d}/logs/app.log.%Y-%m-%d\"\npattern = \"ERROR\"\n\
             [textfile]\ndirectory = \"{d}/textfile\"\n",
            d = d.display()
        ),
    );
    let app = App::start(&config).await;
    let m = app
        .wait_metrics(WAIT, "files and backups", |m| {
            m.get("centinela_log_matches", &[("name", "app")]) == Some(2.0)
                && m.get("centinela_backup_files", &[("name", "daily")])
                    .is_some()
                && m.get("apt_upgrades_pending", &[]).is_some()
        })
        .await;
    let newest = m
        .get(
            "centinela_backup_newest_timestamp_seconds",
            &[("name", "daily")],
        )
        .unwrap();
    assert!(
        (newest - (now() - 2 * 3600) as f64).abs() < 5.0,
        "newest is db-2.dump"
    );
    assert_eq!(
        m.get("centinela_backup_newest_size_bytes", &[("name", "daily")]),
        Some(12.0)
    );
    assert_eq!(
        m.get("centinela_backup_newest_valid", &[("name", "daily")]),
        Some(1.0)
    );
    assert_eq!(
        m.get("centinela_backup_files", &[("name", "daily")]),
        Some(2.0)
    );
    assert_eq!(
        m.get("centinela_backup_size_bytes", &[("name", "daily")]),
        Some(36.0)
    );
    assert_eq!(
        m.get("centinela_backup_newest_valid", &[("name", "broken")]),
        Some(0.0)
    );
    assert_eq!(
        m.get("centinela_backup_files", &[("name", "empty")]),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "centinela_backup_errors",
            &[("name", "empty"), ("reason", "empty")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "centinela_backup_errors",
            &[("name", "missing"), ("reason", "missing")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get("centinela_stale_files", &[("name", "tmp")]),
        Some(2.0)
    );
    assert_eq!(
        m.get("centinela_stale_files_bytes", &[("name", "tmp")]),
        Some(8.0)
    );
    assert_eq!(
        m.get("apt_upgrades_pending", &[("origin", "security")]),
        Some(4.0)
    );
    let file = |n: &str| textfile.join(n).display().to_string();
    assert_eq!(
        m.get(
            "centinela_textfile_scrape_error",
            &[("file", &file("broken.prom"))]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "centinela_textfile_scrape_error",
            &[("file", &file("apt.prom"))]
        ),
        Some(0.0)
    );

    // The log grows, is truncated (copytruncate), then rotated, while centinela runs.
    let append = |text: &str| {
        let mut f = std::fs::File::options().append(true).open(&today).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append("ERROR three\n");
    app.wait_metrics(WAIT, "3 matches", |m| {
        m.get("centinela_log_matches_total", &[("name", "app")]) == Some(3.0)
    })
    .await;
    std::fs::write(&today, "ERROR after truncation\n").unwrap();
    app.wait_metrics(WAIT, "4 matches", |m| {
        m.get("centinela_log_matches_total", &[("name", "app")]) == Some(4.0)
    })
    .await;
    std::fs::rename(&today, logs.join("rotated.1")).unwrap();
    std::fs::write(&today, "ERROR in the new file\n").unwrap();
    let m = app
        .wait_metrics(WAIT, "5 matches", |m| {
            m.get("centinela_log_matches_total", &[("name", "app")]) == Some(5.0)
        })
        .await;
    assert_eq!(
        m.get("centinela_log_matches", &[("name", "app")]),
        Some(5.0)
    );

    assert_promtool_ok(&app.metrics_text().await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_see_200_then_500_then_silence() {
    use axum::http::StatusCode;
    let pg = PgCluster::start();
    let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
    let s = Arc::clone(&status);
    let router = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let s = Arc::clone(&s);
            async move { StatusCode::from_u16(s.load(std::sync::atomic::Ordering::SeqCst)).unwrap() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let config = config_with(
        &pg.dsn("postgres"),
        &format!("[[probes]]\nname = \"api\"\nurl = \"http://127.0.0.1:{port}/health\"\ntimeout = \"500ms\"\n"),
    );
    let app = App::start(&config).await;
    let api = [("name", "api")];
    let m = app
        .wait_metrics(WAIT, "probe 200", |m| {
            m.get("centinela_probe_success", &api) == Some(1.0)
        })
        .await;
    assert_eq!(m.get("centinela_probe_http_status_code", &api), Some(200.0));
    assert!(m.get("centinela_probe_duration_seconds", &api).unwrap() < 0.5);

    status.store(500, std::sync::atomic::Ordering::SeqCst);
    app.wait_metrics(WAIT, "probe 500", |m| {
        m.get("centinela_probe_success", &api) == Some(0.0)
            && m.get("centinela_probe_http_status_code", &api) == Some(500.0)
    })
    .await;

    server.abort();
    let _ = server.await;
    app.wait_metrics(WAIT, "no answer", |m| {
        m.get("centinela_probe_success", &api) == Some(0.0)
            && m.get("centinela_probe_http_status_code", &api) == Some(0.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbackrest_stanza_backup_times() {
    let pg = PgCluster::start();
    let repo = tempfile::Builder::new()
        .prefix("centinela-pgbr")
        .tempdir()
        .unwrap();
    let r = repo.path();
    for sub in ["repo", "log", "lock", "spool"] {
        std::fs::create_dir(r.join(sub)).unwrap();
        pg.give(&r.join(sub));
    }
    pg.give(r);
    let conf = r.join("pgbackrest.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nrepo1-path={r}/repo\nlog-path={r}/log\nlock-path={r}/lock\nspool-path={r}/spool\n\
             start-fast=y\nlog-level-console=warn\n\
             [main]\npg1-path={data}\npg1-port={port}\npg1-socket-path={sock}\npg1-user=postgres\n",
            r = r.display(),
            data = pg.data_dir().display(),
            port = pg.port,
            sock = pg.dir().display()
        ),
    )
    .unwrap();
    pg.give(&conf);
    let config_arg = format!("--config={}", conf.display());
    pg.exec(
        "postgres",
        &format!(
            "ALTER SYSTEM SET archive_mode = 'on';
             ALTER SYSTEM SET archive_command = 'pgbackrest {config_arg} --stanza=main archive-push %p'"
        ),
    )
    .await;
    pg.stop();
    pg.restart();
    for args in [
        vec![config_arg.as_str(), "--stanza=main", "stanza-create"],
        vec![
            config_arg.as_str(),
            "--stanza=main",
            "--type=full",
            "backup",
        ],
    ] {
        let out = pg.run_as_owner("pgbackrest", &args);
        assert!(
            out.status.success(),
            "pgbackrest {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let finished = now();

    let config = config_with(
        &pg.dsn("postgres"),
        &format!("[pgbackrest]\nenabled = true\nargs = [\"{config_arg}\", \"--stanza=main\"]\n"),
    );
    let app = App::start(&config).await;
    let m = app
        .wait_metrics(WAIT, "pgbackrest info read", |m| {
            m.get("centinela_collector_up", &[("collector", "pgbackrest")]) == Some(1.0)
        })
        .await;
    let full = m
        .get(
            "centinela_pgbackrest_last_backup_timestamp_seconds",
            &[("stanza", "main"), ("type", "full")],
        )
        .expect("a full backup time");
    assert!(
        (full - finished as f64).abs() < 120.0,
        "full backup at {full}, finished by {finished}"
    );
    assert!(m
        .values(
            "centinela_pgbackrest_last_backup_timestamp_seconds",
            &[("type", "incr")]
        )
        .is_empty());
    assert_eq!(
        m.get(
            "centinela_pgbackrest_stanza_status_code",
            &[("stanza", "main")]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "centinela_pgbackrest_last_backup_error",
            &[("stanza", "main")]
        ),
        Some(0.0)
    );
    app.stop().await;
}
