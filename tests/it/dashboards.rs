//! Every query of every shipped dashboard panel, run through a real Prometheus scraping
//! centinela (examples/centinela.toml) and evaluating the shipped rule pack: it must parse
//! and return data, unless dashboards/allowed-empty.json lists the panel with the reason.
//! A panel that refers to a metric centinela does not export fails.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, SystemTime};

use centinela::collectors::files::set_mtime;

use crate::common::families::{self, Scene};
use crate::common::prom::Prometheus;
use crate::common::redis::RedisServer;
use crate::common::{App, PgCluster};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards");

#[test]
fn dashboards_are_generated_from_their_source() {
    let out = Command::new("python3")
        .arg(format!("{DIR}/generate.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data_from_prometheus() {
    // PostgreSQL: dead rows, an unused index (> 10 MiB), a vacuumed table, a slow statement.
    // The newest server, so the panels of views added in recent versions (pg_stat_io,
    // pg_stat_checkpointer) are checked too.
    let pg = PgCluster::start_newest();
    pg.exec(
        "postgres",
        "CREATE EXTENSION pg_stat_statements;
         CREATE TABLE orders (id int, customer int) WITH (autovacuum_enabled = off);
         INSERT INTO orders SELECT g, (g * 31) % 500009 FROM generate_series(1, 500000) g;
         CREATE INDEX orders_customer ON orders (customer);
         UPDATE orders SET id = id WHERE id % 4 = 0;
         CREATE TABLE kept AS SELECT 1 AS x",
    )
    .await;
    pg.exec(
        "postgres",
        "ANALYZE orders; VACUUM kept; SELECT pg_sleep(1.1)",
    )
    .await;

    let redis = RedisServer::start();
    redis.fill(0, "temp:", 50).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut params = rcgen::CertificateParams::new(vec!["svc.internal".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "svc.internal");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap().pem();
    std::fs::write(d.join("svc.pem"), &cert).unwrap();
    // TLS on, so the example's starttls endpoint and PostgreSQL's own certificate are read.
    pg.enable_ssl(&cert, &key.serialize_pem()).await;
    std::fs::create_dir(d.join("backups")).unwrap();
    std::fs::write(d.join("backups/db.dump"), "PGDMP...").unwrap();
    std::fs::create_dir(d.join("tmp")).unwrap();
    std::fs::write(d.join("tmp/dtem_1"), "x").unwrap();
    set_mtime(
        &d.join("tmp/dtem_1"),
        SystemTime::now() - Duration::from_secs(3 * 86400),
    )
    .unwrap();
    // Twelve errors in today's log: LogErrorsToday (> 10, no `for`) fires in centinela and
    // in Prometheus.

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let probe_port = listener.local_addr().unwrap().port();
    let hooks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let received = hooks.clone();
    let target = tokio::spawn(async move {
        axum::serve(
            listener,
            axum::Router::new()
                .route("/health", axum::routing::get(|| async { "ok" }))
                .route(
                    "/hook",
                    axum::routing::post(
                        move |axum::Json(v): axum::Json<serde_json::Value>| async move {
                            received.lock().unwrap().push(v);
                            "ok"
                        },
                    ),
                ),
        )
        .await
    });

    // examples/centinela.toml as shipped, its paths and ports pointed at the parts above
    // (as scripts/demo.sh does); pgBackRest off (no stanza here).
    let today = chrono::Local::now().format("%Y-%m-%d");
    std::fs::write(
        d.join(format!("app.log.{today}")),
        "ERROR boom\n".repeat(12),
    )
    .unwrap();
    std::fs::create_dir(d.join("textfile")).unwrap();
    std::fs::write(
        d.join("textfile/apt.prom"),
        "# TYPE apt_upgrades_pending gauge\napt_upgrades_pending{origin=\"security\"} 2\n",
    )
    .unwrap();
    let mut toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/centinela.toml"
    ))
    .unwrap();
    let dsn = pg.dsn("postgres");
    let hook = format!("http://127.0.0.1:{probe_port}/hook");
    for (from, to) in [
        ("\"0.0.0.0:9432\"", "\"127.0.0.1:0\"".to_owned()),
        (
            "\"postgres://centinela@127.0.0.1:5432/postgres?sslmode=prefer\"",
            format!("\"{dsn}\""),
        ),
        ("interval = \"15s\"", "interval = \"1s\"".to_owned()),
        (
            "slow_interval = \"5m\"",
            "slow_interval = \"1s\"".to_owned(),
        ),
        (
            "statement_timeout = \"5s\"",
            "statement_timeout = \"900ms\"".to_owned(),
        ),
        (
            "lock_timeout = \"1s\"",
            "lock_timeout = \"300ms\"".to_owned(),
        ),
        (
            "/var/backups/postgresql/daily",
            format!("{}/backups", d.display()),
        ),
        (
            "http://localhost:3000/health",
            format!("http://127.0.0.1:{probe_port}/health"),
        ),
        (
            "[\"/etc/centinela/certs/*.crt\", \"/etc/ssl/private/**/*.pem\"]",
            format!("[\"{}/*.pem\"]", d.display()),
        ),
        ("127.0.0.1:5432", format!("127.0.0.1:{}", pg.port)),
        (
            "enabled = true\nargs = [\"--stanza=main\"]",
            "enabled = false".to_owned(),
        ),
        ("redis://127.0.0.1:6379", redis.url()),
        ("path = \"/tmp\"", format!("path = \"{}/tmp\"", d.display())),
        ("/var/log/dtem/app.log", format!("{}/app.log", d.display())),
        (
            "/var/lib/centinela/textfile",
            format!("{}/textfile", d.display()),
        ),
        ("/var/lib/centinela\"", format!("{}/state\"", d.display())),
        (
            "/tmp/maintenance.mode",
            format!("{}/maintenance", d.display()),
        ),
        (
            "[alerting]\n",
            "[alerting]\nevaluation_interval = \"1s\"\ngroup_wait = \"1s\"\n".to_owned(),
        ),
    ] {
        assert!(
            toml.contains(from),
            "examples/centinela.toml no longer has {from}"
        );
        toml = toml.replacen(from, &to, 1);
    }
    toml.push_str(&format!(
        "\n[schedule]\ncerts = \"1s\"\nhost = \"1s\"\nbackups = \"1s\"\nredis = \"1s\"\n\
         files = \"1s\"\nprobes = \"1s\"\ntextfile = \"1s\"\n\
         [[alerting.receivers]]\nname = \"team\"\nwebhook = {{ url = \"{hook}\" }}\n"
    ));
    let config = centinela::app::Config::from_toml(&toml)
        .unwrap_or_else(|e| panic!("example config invalid: {e:?}\n{toml}"));
    let app = App::start(&config).await;
    app.wait_metrics(Duration::from_secs(30), "every collector up", |m| {
        let up = m.values("centinela_collector_up", &[]);
        up.len() == 10
            && up.iter().all(|v| *v == 1.0)
            && !m.values("pg_stat_statements_mean_seconds", &[]).is_empty()
            && m.get("centinela_custom_query_up", &[("query", "app")]) == Some(1.0)
            // Rates need a second sample.
            && m.get("pg_xid_consumption_per_second", &[]).is_some()
    })
    .await;
    // Every collector exports only the families it defines (its own `METRICS`), and
    // exports every family it defines but those that need a condition this scene lacks.
    assert_eq!(app.running.snapshot.slots().len(), 10);
    let mut unexported = Vec::new();
    for slot in app.running.snapshot.slots() {
        let defined = centinela::collectors::COLLECTOR_METRICS
            .iter()
            .find(|(name, _)| *name == slot.name)
            .map_or_else(
                || panic!("collector {} is not registered", slot.name),
                |(_, m)| *m,
            );
        let entry = slot.load();
        for family in &entry.batch.families {
            // The textfile and custom query collectors pass other tools' and the operator's
            // families through; those never carry a catalogue name.
            if matches!(slot.name, "textfile" | "postgres_custom")
                && centinela::collectors::find_metric(&family.name).is_none()
            {
                continue;
            }
            assert!(
                defined.iter().any(|d| d.matches(&family.name)),
                "collector {} exports {}, which it does not define",
                slot.name,
                family.name
            );
        }
        unexported.extend(
            defined
                .iter()
                .filter(|d| !entry.batch.families.iter().any(|f| d.matches(&f.name)))
                .map(|d| d.name.to_owned()),
        );
    }
    // A primary without standby.
    let scene = Scene {
        version: pg.installation().version_num(),
        replica: false,
        standby: false,
        provides: vec![
            families::MANUAL_VACUUM,
            families::MANUAL_ANALYZE,
            families::UNUSED_INDEX,
            families::SLOW_STATEMENT,
        ],
    };
    families::assert_conditions_are_defined();
    unexported.retain(|m| scene.expects(m));
    assert!(
        unexported.is_empty(),
        "defined but never exported here (list each in tests/it/common/families.rs with what it needs): {unexported:?}"
    );
    let rules_file = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/alert-rules/centinela.rules.yaml"
    ));
    let prometheus =
        Prometheus::scraping_with_rules(app.base.trim_start_matches("http://"), &[rules_file])
            .await;
    // Several scrapes, so rate() and deriv() have two samples or more.
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Prometheus loaded the shipped pack and evaluates every rule without error.
    let groups = prometheus.api("rules").await;
    let rules: Vec<_> = groups["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect();
    let shipped = std::fs::read_to_string(rules_file)
        .unwrap()
        .matches("- alert:")
        .count();
    assert_eq!(rules.len(), shipped, "{groups}");
    for r in &rules {
        assert_eq!(r["health"], "ok", "{r}");
    }
    // centinela's own engine notified the same alert through the webhook receiver.
    let notified = hooks.lock().unwrap().clone();
    assert!(
        notified
            .iter()
            .any(|v| v["commonLabels"]["alertname"] == "LogErrorsToday"),
        "{notified:?}"
    );

    let allowed: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(format!("{DIR}/allowed-empty.json")).unwrap(),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut listed_but_answered = std::collections::BTreeSet::new();
    let mut checked = 0;
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json") && !p.ends_with("allowed-empty.json")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    for file in files {
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let vars: Vec<_> = dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].clone())
            .collect();
        assert_eq!(vars, ["datasource", "instance"], "{}", file.display());
        for panel in dashboard["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{title}: hard-coded datasource"
            );
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].is_string(),
                "{title}: no unit"
            );
            assert!(
                !panel["description"].as_str().unwrap_or_default().is_empty(),
                "{title}: no description"
            );
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap().replace("$instance", ".+");
                let v = prometheus.query(&expr).await;
                checked += 1;
                if v["status"] != "success" {
                    failures.push(format!("{title}: {expr} did not run: {v}"));
                } else if v["data"]["result"].as_array().is_none_or(Vec::is_empty) {
                    if !allowed.contains_key(title) {
                        failures.push(format!("{title}: {expr} returned no data"));
                    }
                } else if allowed.contains_key(title) {
                    listed_but_answered.insert(title.to_owned());
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 40, "{checked}");
    // The list stays honest: a panel that answers here does not need an excuse.
    assert!(
        listed_but_answered.is_empty(),
        "remove from ALLOWED_EMPTY in dashboards/generate.py, they return data: {listed_but_answered:?}"
    );
    target.abort();
    app.stop().await;
}
