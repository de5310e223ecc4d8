//! The alerting engine inside a running centinela, over a real PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{config_with, App, PgCluster};

async fn json(app: &App, path: &str) -> Value {
    app.get(path).await.json().await.unwrap()
}

async fn wait_json(app: &App, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = json(app, path).await;
        if ok(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last {path}: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn alerts(v: &Value) -> Vec<&Value> {
    v["data"]["alerts"].as_array().unwrap().iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_goes_pending_firing_then_resolves() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("quick.yaml");
    std::fs::write(
        &rules,
        r#"groups:
  - name: quick
    rules:
      - alert: PostgresqlDown
        expr: pg_up == 0
        for: 2s
        labels: {severity: P0}
        annotations:
          summary: "PostgreSQL down (pg_up {{ $value }})"
      - alert: BackendsChanging
        expr: changes(pg_up[1m]) > 100
"#,
    )
    .unwrap();
    let config = config_with(
        &pg.dsn("postgres"),
        &format!(
            "[alerting]\nrule_files = [\"{}\"]\nevaluation_interval = \"1s\"\n\
             [alerting.external_labels]\ninstance = \"db-test\"\n",
            rules.display()
        ),
    );
    let app = App::start(&config).await;
    let v = wait_json(&app, "/api/v1/rules", "rules evaluated", |v| {
        v["data"]["groups"][0]["rules"][0]["health"] == "ok"
    })
    .await;
    assert_eq!(v["data"]["groups"][0]["rules"][0]["type"], "alerting");
    assert_eq!(v["data"]["groups"][0]["rules"][0]["duration"], 2);
    assert!(alerts(&json(&app, "/api/v1/alerts").await).is_empty());

    pg.stop();
    let v = wait_json(&app, "/api/v1/alerts", "pending", |v| {
        alerts(v).iter().any(|a| a["state"] == "pending")
    })
    .await;
    let a = alerts(&v)[0];
    assert_eq!(a["labels"]["alertname"], "PostgresqlDown");
    assert_eq!(
        a["labels"]["instance"], "db-test",
        "external labels are attached"
    );
    let v = wait_json(&app, "/api/v1/alerts", "firing", |v| {
        alerts(v).iter().any(|a| a["state"] == "firing")
    })
    .await;
    assert_eq!(
        alerts(&v)[0]["annotations"]["summary"],
        "PostgreSQL down (pg_up 0)"
    );
    let m = app.metrics().await;
    assert_eq!(
        m.get(
            "centinela_alerts",
            &[("state", "firing"), ("severity", "P0")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "centinela_alerts",
            &[("state", "pending"), ("severity", "P0")]
        ),
        Some(0.0)
    );
    // Only the series the rules read are kept: pg_up, with history for changes().
    assert!(m.get("centinela_alerting_history_series", &[]).unwrap() <= 2.0);

    pg.restart();
    wait_json(&app, "/api/v1/alerts", "resolved", |v| alerts(v).is_empty()).await;
    let m = app.metrics().await;
    assert_eq!(
        m.get(
            "centinela_alerts",
            &[("state", "firing"), ("severity", "P0")]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "centinela_rule_evaluation_failures_total",
            &[("group", "quick"), ("rule", "PostgresqlDown")]
        ),
        Some(0.0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_pack_evaluates_cleanly_against_a_real_database() {
    let pg = PgCluster::start();
    let config = config_with(
        &pg.dsn("postgres"),
        "[host]\nenabled = true\n[alerting]\nevaluation_interval = \"1s\"\n",
    );
    let app = App::start(&config).await;
    let v = wait_json(&app, "/api/v1/rules", "every rule evaluated", |v| {
        let groups = v["data"]["groups"].as_array().unwrap();
        !groups.is_empty()
            && groups
                .iter()
                .flat_map(|g| g["rules"].as_array().unwrap())
                .all(|r| r["health"] != "unknown")
    })
    .await;
    let rules: Vec<&Value> = v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    // Every alert of the shipped pack, the file the binary embeds.
    let shipped = include_str!("../../alert-rules/centinela.rules.yaml")
        .matches("- alert:")
        .count();
    assert!(shipped > 40, "{shipped}");
    assert_eq!(rules.len(), shipped);
    for r in &rules {
        assert_eq!(
            r["health"], "ok",
            "rule {} failed: {}",
            r["name"], r["lastError"]
        );
    }
    // A healthy database raises no PostgreSQL alert.
    let active = json(&app, "/api/v1/alerts").await;
    assert!(
        !alerts(&active).iter().any(|a| a["labels"]["alertname"]
            .as_str()
            .unwrap()
            .starts_with("Postgresql")),
        "{active:#}"
    );
    app.stop().await;
}

#[test]
fn check_config_reports_rule_problems_under_alerting_rule_files() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.yaml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: rate(up[12h]) > 1\n",
    )
    .unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[alerting]\nrule_files = [\"{}\"]\nhistory = \"1h\"\n",
            rules.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
        .args(["--config"])
        .arg(&cfg)
        .arg("check-config")
        .env_remove("CENTINELA__ALERTING__ENABLED")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("alerting.history") && err.contains("rule \"X\" reads 43200s back"),
        "{err}"
    );
}
