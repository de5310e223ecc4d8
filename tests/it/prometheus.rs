//! A real Prometheus scrapes centinela: its parser (OpenMetrics, which Prometheus asks for
//! first) accepts the exposition and every family arrives.

use std::time::Duration;

use crate::common::prom::Prometheus;
use crate::common::{config_with, App, PgCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_family() {
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
    let prometheus = Prometheus::scraping(app.base.trim_start_matches("http://")).await;
    // Give the first scrape's samples time to be queryable.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for name in served.names() {
        let v = prometheus
            .query(&format!("count({{__name__=\"{name}\",job=\"centinela\"}})"))
            .await;
        let n = v["data"]["result"][0]["value"][1].as_str().unwrap_or("0");
        assert_ne!(
            n, "0",
            "{name} served by centinela but not in Prometheus: {v}"
        );
    }
    let v = prometheus
        .query("pg_stat_user_tables_n_live_tup{relname=\"scraped\"}")
        .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "77", "{v}");
    app.stop().await;
}
