//! HTTP endpoints: exposition formats, compression, readiness, lint by promtool.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use centinela::http::{self, AppState};
use centinela::snapshot::{Entry, RunStatus, Snapshot};
use tokio_util::sync::CancellationToken;

use crate::common::{assert_promtool_ok, test_config, App, Exposition, PgCluster};

const WAIT: Duration = Duration::from_secs(20);

async fn app_with_tables(pg: &PgCluster) -> App {
    pg.exec(
        "postgres",
        "CREATE TABLE \"odd \"\"name\"\"\" (id int primary key, v text);
         INSERT INTO \"odd \"\"name\"\"\" SELECT g, 'x' FROM generate_series(1, 100) g;
         CREATE INDEX odd_v ON \"odd \"\"name\"\"\" (v);",
    )
    .await;
    // A later session: statistics of the first are flushed when it ends.
    pg.exec("postgres", "VACUUM ANALYZE").await;
    let app = App::start(&test_config(&pg.dsn("postgres"), "")).await;
    app.wait_metrics(WAIT, "both collectors up", |m| {
        m.get("centinela_collector_up", &[("collector", "postgres")]) == Some(1.0)
            && m.get(
                "centinela_collector_up",
                &[("collector", "postgres_tables")],
            ) == Some(1.0)
    })
    .await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposition_passes_promtool_and_matches_the_catalogue() {
    let pg = PgCluster::start();
    let app = app_with_tables(&pg).await;
    let text = app.metrics_text().await;

    assert_promtool_ok(&text);

    // Label values with quotes and spaces survive the round trip.
    let m = Exposition::parse(&text);
    assert_eq!(
        m.get(
            "pg_stat_user_tables_n_live_tup",
            &[("relname", "odd \"name\"")]
        ),
        Some(100.0)
    );

    // Every exported family is in the catalogue, with the catalogue's type.
    for name in m.names() {
        let (_, desc) = centinela::collectors::find_metric(name)
            .unwrap_or_else(|| panic!("{name} is exported but not in the catalogue"));
        assert_eq!(
            m.types.get(name).map(String::as_str),
            Some(desc.kind.for_name(name).as_str()),
            "{name}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_on_request_and_gzip_when_accepted() {
    let pg = PgCluster::start();
    let app = app_with_tables(&pg).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("{}/metrics", app.base);

    let r = client
        .get(&url)
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let om = r.text().await.unwrap();
    assert!(om.ends_with("# EOF\n"), "OpenMetrics must end in # EOF");
    assert_eq!(om.matches("# EOF").count(), 1);
    assert!(om.contains("# TYPE centinela_collector_errors counter\n"));
    assert!(om.contains("# TYPE pg_locks_count unknown\n"));

    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.text().await.unwrap();
    assert!(!plain.contains("# EOF"));

    let r = client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let compressed = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        compressed.len() < text.len() / 3,
        "gzip {} vs {}",
        compressed.len(),
        text.len()
    );
    let m = Exposition::parse(&text);
    assert_eq!(m.get("pg_up", &[]), Some(1.0));
    assert_eq!(m.names(), Exposition::parse(&plain).names());
    app.stop().await;
}

#[tokio::test]
async fn ready_waits_for_every_collector_and_health_never_does() {
    let snapshot = Arc::new(Snapshot::new([
        ("postgres", Duration::from_secs(15), Duration::from_secs(15)),
        (
            "postgres_tables",
            Duration::from_secs(300),
            Duration::from_secs(300),
        ),
    ]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token = CancellationToken::new();
    let server_config = centinela::app::Config::from_toml("").unwrap().server;
    let server = tokio::spawn({
        let (token, snapshot) = (token.clone(), Arc::clone(&snapshot));
        async move {
            http::serve(
                listener,
                AppState {
                    snapshot: Arc::clone(&snapshot),
                    alerting: Arc::default(),
                    silences: centinela::alerting::Silences::default(),
                    store: None,
                    scrapes: Arc::new(tokio::sync::Semaphore::new(4)),
                    web: Arc::new(http::web_config::Watched::none()),
                    deliveries: None,
                    pages: Arc::new(http::PageContext::new("".into(), String::new())),
                    gzip: Arc::default(),
                },
                Arc::new(http::web_config::Watched::none()),
                &server_config,
                token,
            )
            .await
        }
    });
    let get = |path: &'static str| {
        let url = format!("{base}{path}");
        async move { reqwest::get(url).await.unwrap() }
    };
    assert_eq!(get("/health").await.status(), 200);
    let r = get("/ready").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["pending"],
        serde_json::json!(["postgres", "postgres_tables"])
    );
    assert_eq!(get("/health/db").await.status(), 503);

    let ok = RunStatus {
        runs: 1,
        last_success: Some(std::time::SystemTime::now()),
        ..RunStatus::default()
    };
    snapshot
        .slot("postgres")
        .unwrap()
        .publish(Entry::new(centinela::metrics::Batch::default(), ok));
    assert_eq!(
        get("/ready").await.status(),
        503,
        "one collector still pending"
    );
    assert_eq!(get("/health/db").await.status(), 200);

    // A failed first run still counts as having run: a database outage must not make the
    // pod unready.
    let failed = RunStatus {
        runs: 1,
        errors_total: 1,
        last_error: Some("boom".into()),
        ..RunStatus::default()
    };
    snapshot
        .slot("postgres_tables")
        .unwrap()
        .publish(Entry::new(centinela::metrics::Batch::default(), failed));
    assert_eq!(get("/ready").await.status(), 200);

    // Stale: the last success is older than two intervals plus the timeout.
    let old = std::time::SystemTime::now() - Duration::from_secs(60);
    let stale = RunStatus {
        runs: 5,
        last_success: Some(old),
        ..RunStatus::default()
    };
    snapshot
        .slot("postgres")
        .unwrap()
        .publish(Entry::new(centinela::metrics::Batch::default(), stale));
    let r = get("/health/db").await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "stale"
    );

    token.cancel();
    server.await.unwrap().unwrap();
}
