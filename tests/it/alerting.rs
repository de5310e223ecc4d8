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

/// `tests/rule-forms/`, the forms public rule collections use, loaded by a running
/// centinela over a real database, its host, a certificate and a textfile histogram: every
/// rule evaluates with health ok and renders without a template error.
#[tokio::test(flavor = "multi_thread")]
async fn rules_in_the_public_collections_forms_evaluate_cleanly_over_the_exposition() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut params = rcgen::CertificateParams::new(vec!["db.internal".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(
        d.join("server.pem"),
        params.self_signed(&key).unwrap().pem(),
    )
    .unwrap();
    std::fs::create_dir(d.join("textfile")).unwrap();
    let mut histogram = String::from("# TYPE app_request_duration_seconds histogram\n");
    for (le, n) in [("0.1", 50), ("0.5", 80), ("1", 95), ("+Inf", 100)] {
        histogram.push_str(&format!(
            "app_request_duration_seconds_bucket{{job=\"api\",le=\"{le}\"}} {n}\n"
        ));
    }
    histogram.push_str("app_request_duration_seconds_sum{job=\"api\"} 21\n");
    histogram.push_str("app_request_duration_seconds_count{job=\"api\"} 100\n");
    std::fs::write(d.join("textfile/app.prom"), histogram).unwrap();
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/rule-forms/forms.rules.yaml"
    );
    let config = config_with(
        &pg.dsn("postgres"),
        &format!(
            "[host]\nenabled = true\n[textfile]\ndirectory = \"{}/textfile\"\n\
             [[certs.files]]\npaths = [\"{}/*.pem\"]\n\
             [alerting]\nevaluation_interval = \"1s\"\nrule_files = [\"{rules}\"]\n\
             external_labels = {{ cluster = \"eu-1\" }}\n",
            d.display(),
            d.display()
        ),
    );
    let app = App::start(&config).await;
    let v = wait_json(&app, "/api/v1/rules", "every rule evaluated twice", |v| {
        let rules: Vec<&Value> = v["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .collect();
        rules.len() == 12 && rules.iter().all(|r| r["health"] != "unknown")
    })
    .await;
    for g in v["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(
                r["health"], "ok",
                "rule {} failed: {}",
                r["name"], r["lastError"]
            );
        }
    }
    // Rules that hold on any running database fire, their text rendered.
    let active = wait_json(
        &app,
        "/api/v1/alerts",
        "the always-true forms firing",
        |v| {
            let names: Vec<&str> = alerts(v)
                .iter()
                .map(|a| a["labels"]["alertname"].as_str().unwrap())
                .collect();
            [
                "PostgresqlUp",
                "PostgresqlConnectionsUsage",
                "HostMemoryUnderPressure",
                "HostOutOfDiskSpace",
                "CertificateExpiresSoon",
            ]
            .iter()
            .all(|n| names.contains(n))
        },
    )
    .await;
    let text = active.to_string();
    assert!(!text.contains("error expanding template"), "{active:#}");
    let up = alerts(&active)
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "PostgresqlUp")
        .unwrap();
    let description = up["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains("LABELS = map[__name__:pg_up]")
            && description.contains("EXTERNAL = map[cluster:eu-1]"),
        "{description}"
    );
    let usage = alerts(&active)
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "PostgresqlConnectionsUsage")
        .unwrap();
    // `query` answered from centinela's own history: max_connections and the states, sorted
    // (centinela's own session is active or idle depending on the moment it was sampled).
    let description = usage["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains(" allowed; ACTIVE=") && description.contains(" IDLE="),
        "{description}"
    );
    app.stop().await;
}
