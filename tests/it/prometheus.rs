//! A real Prometheus scrapes centinela: its parser (OpenMetrics, which Prometheus asks for
//! first) accepts the exposition and every family arrives.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::pg::free_port;
use crate::common::{config_with, App, PgCluster};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn query(client: &reqwest::Client, base: &str, q: &str) -> serde_json::Value {
    client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_family() {
    let exe = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("prometheus not found: run scripts/test.sh, which installs Debian's prometheus")
        });
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE TABLE scraped AS SELECT g FROM generate_series(1, 77) g",
    )
    .await;
    let app = App::start(&config_with(&pg.dsn("postgres"), "")).await;
    let served = app
        .wait_metrics(Duration::from_secs(20), "tables collected", |m| {
            m.get("pg_stat_user_tables_n_live_tup", &[("relname", "scraped")])
                .is_some()
        })
        .await;

    let dir = tempfile::tempdir().unwrap();
    let target = app.base.trim_start_matches("http://");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: centinela\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = Prometheus(
        Command::new(exe)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/api/v1/targets")).send().await {
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            let t = &v["data"]["activeTargets"][0];
            if t["health"] == "up" {
                assert_eq!(t["lastError"], "", "{t}");
                break;
            }
            assert!(
                t["lastError"].as_str().unwrap_or_default().is_empty(),
                "scrape failed: {t}"
            );
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped centinela successfully"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give the first scrape's samples time to be queryable.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    for name in served.names() {
        let v = query(
            &client,
            &base,
            &format!("count({{__name__=\"{name}\",job=\"centinela\"}})"),
        )
        .await;
        let n = v["data"]["result"][0]["value"][1].as_str().unwrap_or("0");
        assert_ne!(
            n, "0",
            "{name} served by centinela but not in Prometheus: {v}"
        );
    }
    let v = query(
        &client,
        &base,
        "pg_stat_user_tables_n_live_tup{relname=\"scraped\"}",
    )
    .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "77", "{v}");
    app.stop().await;
}
