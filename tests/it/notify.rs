//! Notifications end to end: a running centinela, alert conditions written through the
//! textfile collector (or a real PostgreSQL), the Slack and PagerDuty emulators, and a
//! real Alertmanager.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::pg::free_port;
use crate::common::receivers::{
    pd_events, pd_server_error, pd_throttled, slack_error, slack_rate_limited, slack_texts,
    Emulator, PD_KEY,
};
use crate::common::{config_with, config_with_postgres, App, PgCluster};

/// A DSN nothing listens on: these tests drive alerts through the textfile collector.
const NO_PG: &str = "postgresql://postgres@127.0.0.1:1/postgres";

const RULES: &str = r#"groups:
  - name: test
    rules:
      - alert: TestCondition
        expr: test_condition > 0
        for: 2s
        annotations:
          summary: "Condition on {{ $labels.table }} is {{ $value }}"
          description: "Written by the test."
          runbook_url: docs/runbooks.md#testcondition
      - alert: Flapping
        expr: test_flap > 0
        keep_firing_for: 1m
        labels: {severity: P2}
        annotations:
          summary: "Flapping"
"#;

struct Setup {
    dir: tempfile::TempDir,
    slack: Emulator,
    pd: Emulator,
}

impl Setup {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("textfile")).unwrap();
        std::fs::write(dir.path().join("rules.yaml"), RULES).unwrap();
        Self {
            dir,
            slack: Emulator::slack().await,
            pd: Emulator::pagerduty().await,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sets the condition series (`test_condition{table,severity}` lines), atomically.
    fn set(&self, lines: &[&str]) {
        let tmp = self.path("textfile/.tmp");
        std::fs::write(
            &tmp,
            lines.iter().flat_map(|l| [l, "\n"]).collect::<String>(),
        )
        .unwrap();
        std::fs::rename(&tmp, self.path("textfile/test.prom")).unwrap();
    }

    /// The alerting section: fast timers, both receivers, `extra` TOML inside `[alerting]`.
    fn toml(&self, extra: &str, routes: &str) -> String {
        format!(
            "[textfile]\ndirectory = {textfile:?}\n\
             [alerting]\nrule_files = [{rules:?}]\nevaluation_interval = \"1s\"\n\
             state_dir = {state:?}\ngroup_wait = \"1s\"\ngroup_interval = \"2s\"\n\
             repeat_interval = \"1h\"\nmax_retry_backoff = \"2s\"\n\
             runbook_base_url = \"https://runbooks.example/centinela\"\n{extra}\n\
             [alerting.external_labels]\ninstance = \"db-test\"\n\
             [[alerting.receivers]]\nname = \"oncall\"\n\
             pagerduty = {{ routing_key = \"{PD_KEY}\", url = \"{pd}\", min_interval = \"0s\" }}\n\
             [[alerting.receivers]]\nname = \"chat\"\nslack = {{ webhook_url = \"{slack}\" }}\n{routes}",
            textfile = self.path("textfile").display().to_string(),
            rules = self.path("rules.yaml").display().to_string(),
            state = self.path("state").display().to_string(),
            pd = self.pd.url(),
            slack = self.slack.url(),
        )
    }

    async fn start(&self, extra: &str) -> App {
        App::start(&config_with(NO_PG, &self.toml(extra, ""))).await
    }
}

/// `centinela_notifications_total` of one receiver and outcome.
fn outcomes(m: &crate::common::Exposition, receiver: &str, outcome: &str) -> Option<f64> {
    m.get(
        "centinela_notifications_total",
        &[("receiver", receiver), ("outcome", outcome)],
    )
}

async fn alert_states(app: &App) -> Vec<String> {
    let v: Value = app.get("/api/v1/alerts").await.json().await.unwrap();
    v["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["labels"]["alertname"].as_str().unwrap(),
                a["state"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_then_resolved_reaches_pagerduty_and_slack_with_exact_payloads() {
    let s = Setup::new().await;
    let app = s.start("").await;
    s.set(&[r#"test_condition{table="orders",severity="P1"} 7"#]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !seen.contains(&"TestCondition:firing".to_owned()) {
        assert!(Instant::now() < deadline, "never fired: {seen:?}");
        let states = alert_states(&app).await;
        for st in states {
            if !seen.contains(&st) {
                seen.push(st);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen[0], "TestCondition:pending", "pending first: {seen:?}");
    assert!(
        s.pd.accepted().is_empty() && s.slack.accepted().is_empty(),
        "nothing sent while pending"
    );

    let pd = s.pd.wait_accepted(1, Duration::from_secs(15)).await;
    let trigger = &pd[0];
    let key = trigger["dedup_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64, "SHA-256 hex of the group key");
    assert_eq!(trigger["routing_key"], PD_KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["client"], "centinela");
    let p = &trigger["payload"];
    assert_eq!(p["severity"], "error", "P1 is error");
    assert_eq!(p["summary"], "[P1] TestCondition: Condition on orders is 7");
    assert_eq!(p["source"], "db-test");
    assert_eq!(p["group"], "TestCondition");
    assert_eq!(p["custom_details"]["num_firing"], 1);
    assert_eq!(
        p["custom_details"]["firing"][0]["labels"]["table"],
        "orders"
    );
    assert_eq!(
        trigger["links"],
        json!([{"href": "https://runbooks.example/centinela/docs/runbooks.md#testcondition", "text": "Runbook: TestCondition"}])
    );

    let slack = s.slack.wait_accepted(1, Duration::from_secs(15)).await;
    let m = &slack[0];
    assert_eq!(
        m["text"],
        "🔴 [FIRING:1] P1 TestCondition — Condition on orders is 7"
    );
    let att = &m["attachments"][0];
    assert_eq!(att["color"], "#E8590C");
    let body = att["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(body.starts_with("*Condition on orders is 7*\nWritten by the test.\n`instance=db-test` `table=orders` · value `7` · since "), "{body}");
    assert!(
        body.ends_with(
            "\n<https://runbooks.example/centinela/docs/runbooks.md#testcondition|Runbook>"
        ),
        "{body}"
    );

    s.set(&[]);
    let pd = s.pd.wait_accepted(2, Duration::from_secs(15)).await;
    assert_eq!(
        pd[1],
        json!({"event_action": "resolve", "dedup_key": key, "routing_key": PD_KEY})
    );
    let slack = s.slack.wait_accepted(2, Duration::from_secs(15)).await;
    assert_eq!(
        slack[1]["text"],
        "✅ [RESOLVED] P1 TestCondition — Condition on orders is 7"
    );
    assert_eq!(slack[1]["attachments"][0]["color"], "#2EB67D");

    // The queue depth is read at each evaluation: the one after Slack's answer can still
    // count the message the worker is about to delete, so wait for an empty queue too.
    let m = app
        .wait_metrics(Duration::from_secs(5), "sent counters, empty queue", |m| {
            outcomes(m, "oncall", "sent") == Some(2.0)
                && m.get(
                    "centinela_notification_queue_depth",
                    &[("receiver", "chat")],
                ) == Some(0.0)
        })
        .await;
    assert_eq!(outcomes(&m, "chat", "rejected"), Some(0.0));
    assert_eq!(
        m.get(
            "centinela_notification_queue_depth",
            &[("receiver", "chat")]
        ),
        Some(0.0)
    );
    assert!(
        !m.raw.contains(&s.slack.url()),
        "the webhook URL is a secret"
    );
    assert!(!m.raw.contains(PD_KEY));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_routes_keep_p3_away_from_pagerduty() {
    let s = Setup::new().await;
    let routes = "[[alerting.routes]]\nmatchers = ['severity=~\"P0|P1\"']\nreceivers = [\"oncall\", \"chat\"]\n\
                  [[alerting.routes]]\nmatchers = ['severity=~\"P2|P3\"']\nreceivers = [\"chat\"]\nrepeat_interval = \"12h\"\n";
    let app = App::start(&config_with(NO_PG, &s.toml("", routes))).await;
    s.set(&[
        r#"test_condition{table="a",severity="P3"} 1"#,
        r#"test_condition{table="b",severity="P0"} 1"#,
    ]);
    let slack = s.slack.wait_accepted(2, Duration::from_secs(20)).await;
    let mut texts = slack_texts(&slack);
    texts.sort();
    assert!(
        texts[0].starts_with("🔵 [FIRING:1] P3") && texts[1].starts_with("🚨 [FIRING:1] P0"),
        "{texts:?}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pd = pd_events(&s.pd.accepted());
    assert_eq!(pd.len(), 1, "{pd:?}");
    assert_eq!(
        (pd[0].0.as_str(), pd[0].2.as_str()),
        ("trigger", "critical")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_429_is_retried_after_retry_after_and_delivered_once() {
    let s = Setup::new().await;
    s.slack
        .script([slack_rate_limited(2), slack_rate_limited(2)]);
    let app = s.start("").await;
    s.set(&[r#"test_condition{table="t",severity="P2"} 1"#]);
    s.slack.wait_accepted(1, Duration::from_secs(30)).await;
    let log = s.slack.log();
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    for w in log.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= Duration::from_millis(1900),
            "Retry-After 2 not honoured: {gap:?}"
        );
    }
    assert_eq!(log[0].body, log[2].body, "the same message, not a new one");
    let m = app
        .wait_metrics(Duration::from_secs(5), "counters", |m| {
            outcomes(m, "chat", "sent") == Some(1.0)
        })
        .await;
    assert_eq!(outcomes(&m, "chat", "failed"), Some(2.0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_are_counted_not_retried() {
    let s = Setup::new().await;
    s.slack.script([slack_error(404, "channel_not_found")]);
    let app = s.start("").await;
    s.set(&[r#"test_condition{table="t",severity="P2"} 1"#]);
    app.wait_metrics(Duration::from_secs(20), "a rejected notification", |m| {
        outcomes(m, "chat", "rejected") == Some(1.0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.slack.log().len(), 1, "a 404 is not retried");
    // The next message (the resolve) goes through: the queue is not stuck.
    s.set(&[]);
    let got = s.slack.wait_accepted(1, Duration::from_secs(15)).await;
    assert!(slack_texts(&got)[0].starts_with("✅ [RESOLVED]"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_down_then_back_gets_the_page_once() {
    let mut s = Setup::new().await;
    s.pd.stop();
    s.pd.script([pd_throttled(), pd_server_error()]);
    let app = s.start("").await;
    s.set(&[r#"test_condition{table="t",severity="P0"} 1"#]);
    app.wait_metrics(Duration::from_secs(20), "failed deliveries", |m| {
        outcomes(m, "oncall", "failed").is_some_and(|n| n >= 2.0)
    })
    .await;
    let m = app.metrics().await;
    assert_eq!(
        m.get(
            "centinela_notification_queue_depth",
            &[("receiver", "oncall")]
        ),
        Some(1.0)
    );
    s.pd.restart().await;
    let got = s.pd.wait_accepted(1, Duration::from_secs(15)).await;
    assert_eq!(pd_events(&got)[0].0, "trigger");
    let statuses: Vec<u16> = s.pd.log().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [429, 500, 202],
        "429 and 500 after the outage are retried too"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.pd.accepted().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_file_holds_back_p2_but_not_p0() {
    let s = Setup::new().await;
    let flag = s.path("maintenance.mode");
    std::fs::write(&flag, "").unwrap();
    let app = s
        .start(&format!(
            "maintenance_file = {:?}",
            flag.display().to_string()
        ))
        .await;
    s.set(&[
        r#"test_condition{table="a",severity="P2"} 1"#,
        r#"test_condition{table="b",severity="P0"} 1"#,
    ]);
    s.pd.wait_accepted(1, Duration::from_secs(20)).await;
    let slack = s.slack.wait_accepted(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts = slack_texts(&s.slack.accepted());
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(slack_texts(&slack)[0].starts_with("🚨 [FIRING:1] P0"));
    let m = app.metrics().await;
    assert_eq!(
        m.get("centinela_alerts_held_back", &[("reason", "maintenance")]),
        Some(1.0)
    );
    std::fs::remove_file(&flag).unwrap();
    let slack = s.slack.wait_accepted(2, Duration::from_secs(10)).await;
    assert!(
        slack_texts(&slack)[1].starts_with("🟠 [FIRING:1] P2"),
        "released after maintenance"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_with_keep_firing_for_notifies_once() {
    let s = Setup::new().await;
    let app = s.start("").await;
    for i in 0..8 {
        s.set(&[if i % 2 == 0 {
            "test_flap 1"
        } else {
            "test_flap 0"
        }]);
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts = slack_texts(&s.slack.accepted());
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("🟠 [FIRING:1] P2 Flapping"));
    assert!(s.pd.accepted().is_empty(), "P2 does not page");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_from_the_api_hold_alerts_back() {
    let s = Setup::new().await;
    let mut config = config_with(NO_PG, &s.toml("", ""));
    config.server.web_config_file = Some(crate::common::web_config(s.dir.path(), ""));
    let app = App::start(&config).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/silences", app.base);
    let login = |r: reqwest::RequestBuilder| {
        r.basic_auth(crate::common::USER, Some(crate::common::PASSWORD))
    };
    let ends = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let bad = login(client.post(&url))
        .json(&json!({"matchers": [{"name": "severity", "value": "(", "isRegex": true}], "endsAt": ends}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let err: Value = bad.json().await.unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .starts_with("matchers[0]: invalid regular expression"),
        "{err}"
    );
    let ok: Value = login(client.post(&url))
        .json(&json!({"matchers": ["table=\"quiet\""], "endsAt": ends, "createdBy": "test", "comment": "known"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = ok["data"]["silenceID"].as_str().unwrap().to_owned();
    let list: Value = login(client.get(&url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["id"], id);
    assert_eq!(list["data"][0]["createdBy"], crate::common::USER);
    assert_eq!(list["data"][0]["status"]["state"], "active");
    s.set(&[
        r#"test_condition{table="quiet",severity="P2"} 1"#,
        r#"test_condition{table="loud",severity="P2"} 1"#,
    ]);
    let got = s.slack.wait_accepted(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.slack.accepted().len(), 1);
    assert!(
        got[0].to_string().contains("table=loud") && !got[0].to_string().contains("table=quiet")
    );
    let r = login(client.delete(format!("{url}/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = s.slack.wait_accepted(2, Duration::from_secs(10)).await;
    assert!(
        got[1].to_string().contains("table=quiet"),
        "released when the silence is expired"
    );
    app.stop().await;
}

// === kill -9 ===

/// Runs the binary, its log appended to `centinela.log` beside the config.
fn spawn_centinela(config: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("centinela.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_centinela"))
        .args(["--config", &config.display().to_string(), "run"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn scrape(port: u16) -> Option<crate::common::Exposition> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    Some(crate::common::Exposition::parse(&r.text().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_a_queued_page_delivers_it_after_restart_and_never_twice() {
    let mut s = Setup::new().await;
    s.pd.stop();
    let port = free_port();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[postgres]\ndsn = \"{NO_PG}\"\n\
         [schedule]\ntextfile = \"1s\"\n{}",
        s.toml("", "")
    );
    let config = s.path("centinela.toml");
    std::fs::write(&config, toml).unwrap();
    s.set(&[r#"test_condition{table="t",severity="P0"} 1"#]);
    let mut child = spawn_centinela(&config);
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(status) = child.try_wait().unwrap() {
        panic!(
            "centinela exited ({status}): {}",
            std::fs::read_to_string(s.path("centinela.log")).unwrap()
        );
    }
    // Slack gets its message; PagerDuty is down, so the page waits in the queue.
    s.slack.wait_accepted(1, Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let queued = scrape(port).await.and_then(|m| {
            m.get(
                "centinela_notification_queue_depth",
                &[("receiver", "oncall")],
            )
        });
        if queued == Some(1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "page never queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    s.pd.restart().await;
    let mut child = spawn_centinela(&config);
    let got = s.pd.wait_accepted(1, Duration::from_secs(30)).await;
    assert_eq!(pd_events(&got)[0].0, "trigger");
    // Several evaluations and group intervals later: no second page, no second message.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        s.pd.accepted().len(),
        1,
        "{:?}",
        pd_events(&s.pd.accepted())
    );
    assert_eq!(
        s.slack.accepted().len(),
        1,
        "{:?}",
        slack_texts(&s.slack.accepted())
    );
    // The alert stayed firing across the restart, and its resolve is not forgotten.
    s.set(&[]);
    let got = s.pd.wait_accepted(2, Duration::from_secs(20)).await;
    assert_eq!(pd_events(&got)[1].0, "resolve");
    assert_eq!(pd_events(&got)[1].1, pd_events(&got)[0].1);
    child.kill().unwrap();
    child.wait().unwrap();
}

// === real PostgreSQL ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_tables_one_message_then_postgres_down_pages_once_and_inhibits_them() {
    let s = Setup::new().await;
    let pg = PgCluster::start();
    let shipped = std::fs::read_to_string("alert-rules/centinela.rules.yaml").unwrap();
    let dead_expr = shipped
        .split("- alert: PostgresqlDeadTuples")
        .nth(1)
        .and_then(|r| r.split("for:").next())
        .and_then(|r| r.split("expr: |").nth(1))
        .unwrap()
        .trim()
        .replace('\n', " ");
    std::fs::write(
        s.path("rules.yaml"),
        format!(
            "groups:\n  - name: pg\n    rules:\n\
             \x20     - alert: PostgresqlDown\n        expr: pg_up == 0\n        for: 2s\n        labels: {{severity: P0}}\n        annotations: {{summary: PostgreSQL is down}}\n\
             \x20     - alert: PostgresqlDeadTuples\n        expr: '{dead_expr}'\n        labels: {{severity: P3, component: postgresql}}\n        annotations: {{summary: 'Dead tuples in {{{{ $labels.relname }}}}'}}\n"
        ),
    )
    .unwrap();
    for i in 0..10 {
        pg.exec("postgres", &format!(
            "CREATE TABLE t{i} (id int) WITH (autovacuum_enabled = false); INSERT INTO t{i} SELECT generate_series(1, 30000); DELETE FROM t{i} WHERE id <= 15000"
        )).await;
    }
    let app = App::start(&config_with(&pg.dsn("postgres"), &s.toml("", ""))).await;
    let slack = s.slack.wait_accepted(1, Duration::from_secs(40)).await;
    assert_eq!(
        slack_texts(&slack)[0],
        "🔵 [FIRING:10] P3 PostgresqlDeadTuples — Dead tuples in t0"
    );
    let blocks = slack[0]["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 12, "title, 10 tables, footer");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.slack.accepted().len(), 1, "ten tables, one message");
    assert!(s.pd.accepted().is_empty(), "P3 never pages");

    pg.stop();
    let pages = s.pd.wait_accepted(1, Duration::from_secs(30)).await;
    assert_eq!(pd_events(&pages)[0].0, "trigger");
    assert_eq!(pd_events(&pages)[0].2, "critical");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(s.pd.accepted().len(), 1, "one page");
    let texts = slack_texts(&s.slack.accepted());
    assert_eq!(
        texts.len(),
        2,
        "the P0 and nothing about the tables: {texts:?}"
    );
    assert!(texts[1].starts_with("🚨 [FIRING:1] P0 PostgresqlDown"));
    let m = app.metrics().await;
    assert_eq!(
        m.get(
            "centinela_alerts",
            &[("state", "firing"), ("severity", "P0")]
        ),
        Some(1.0)
    );
    app.stop().await;
}

// === real Alertmanager ===

struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus-alertmanager")
            .args([
                &format!("--config.file={}", config.display()),
                &format!("--storage.path={}", dir.path().display()),
                &format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager is installed (scripts/test.sh installs it)");
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn alerts(&self) -> Vec<Value> {
        match reqwest::get(format!("{}/api/v2/alerts", self.url())).await {
            Ok(r) => r.json::<Vec<Value>>().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_receives_firing_and_resolved_alerts() {
    let s = Setup::new().await;
    let am = Alertmanager::start();
    let extra = format!(
        "[[alerting.receivers]]\nname = \"fleet\"\nalertmanager = {{ url = \"{}\", resend_interval = \"2s\" }}\n\
         [[alerting.routes]]\nreceivers = [\"fleet\"]\n",
        am.url()
    );
    let app = App::start(&config_with(
        NO_PG,
        &s.toml("external_url = \"http://sidecar.test:9432\"", &extra),
    ))
    .await;
    s.set(&[r#"test_condition{table="orders",severity="P2"} 3"#]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        if let Some(a) = am.alerts().await.into_iter().next() {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager never got the alert"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(alert["labels"]["alertname"], "TestCondition");
    assert_eq!(alert["labels"]["instance"], "db-test");
    assert_eq!(alert["labels"]["table"], "orders");
    assert_eq!(alert["annotations"]["summary"], "Condition on orders is 3");
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(
        alert["generatorURL"],
        "http://sidecar.test:9432/api/v1/rules#TestCondition"
    );
    let ends = chrono::DateTime::parse_from_rfc3339(alert["endsAt"].as_str().unwrap()).unwrap();
    assert!(ends > chrono::Utc::now(), "endsAt is ahead while firing");
    assert!(
        s.slack.accepted().is_empty() && s.pd.accepted().is_empty(),
        "routed to fleet only"
    );

    s.set(&[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !am.alerts().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "Alertmanager never saw the resolve: {:?}",
            am.alerts().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

// === notify-test ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_a_marked_message_and_fails_loudly() {
    let s = Setup::new().await;
    let config = s.path("centinela.toml");
    std::fs::write(&config, s.toml("", "")).unwrap();
    let run = |args: &[&str]| {
        let config = config.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_centinela"))
                .arg("--config")
                .arg(&config)
                .args(&args)
                .output()
                .unwrap()
        })
    };
    let out = run(&["notify-test", "--receiver", "chat", "--severity", "P0"])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "chat/slack: delivered\n"
    );
    let got = s.slack.accepted();
    assert_eq!(got.len(), 1);
    assert!(
        slack_texts(&got)[0].starts_with("🧪 [TEST] 🚨 [FIRING:1] P0 CentinelaTestNotification")
    );

    s.pd.script([crate::common::receivers::Scripted {
        status: 400,
        body: r#"{"status":"invalid event","message":"Event object is invalid","errors":["x"]}"#
            .into(),
        retry_after: None,
    }]);
    let out = run(&["notify-test", "--receiver", "oncall"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: oncall/pagerduty: HTTP 400: {\"status\":\"invalid event\""),
        "{err}"
    );
    assert!(!err.contains(PD_KEY));

    let out = run(&["notify-test", "--receiver", "nobody"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no receiver named \"nobody\" (configured: oncall, chat)"));
}

// === payload limits, checked by the emulators' validators ===

#[test]
fn huge_groups_stay_within_slack_and_pagerduty_limits() {
    use centinela::alerting::model::AlertRecord;
    use centinela::alerting::notify::{pagerduty, slack, GroupView};
    use centinela::promql::LabelSet;
    let long = "x".repeat(5000);
    let firing: Vec<AlertRecord> = (0..500)
        .map(|i| {
            let labels = LabelSet::new([
                ("alertname".to_owned(), "PostgresqlDeadTuples".to_owned()),
                ("severity".to_owned(), "P3".to_owned()),
                ("relname".to_owned(), format!("table_{i}_{long}")),
            ]);
            AlertRecord::new(
                &labels,
                [("summary".to_owned(), format!("<b>{long}</b> & more"))].into(),
                1e9,
                0,
            )
        })
        .collect();
    let view = GroupView {
        key: "0:chat:{alertname=\"PostgresqlDeadTuples\"}",
        receiver: "chat",
        group_labels: &std::collections::BTreeMap::new(),
        firing: &firing,
        resolved: &firing[..3],
        external_url: "",
        test: false,
    };
    let msg = slack::render(&view, 40);
    assert_eq!(
        crate::common::receivers::slack_problems(&msg),
        None,
        "Slack would reject it"
    );
    assert!(msg.to_string().contains("… and 460 more firing"));
    assert!(!msg.to_string().contains("<b>"), "user text is escaped");
    let mut event = pagerduty::render(&view);
    event["routing_key"] = json!(PD_KEY);
    assert_eq!(
        crate::common::receivers::pagerduty_problems(&event),
        Vec::<String>::new()
    );
    assert!(event.to_string().len() < 512 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_pile_up_pages_with_its_evidence() {
    let s = Setup::new().await;
    let pg = PgCluster::start();
    pg.exec(
        "postgres",
        "CREATE EXTENSION pg_stat_statements; CREATE TABLE orders AS SELECT generate_series(1, 100) AS id",
    )
    .await;
    std::fs::write(
        s.path("rules.yaml"),
        "groups:\n  - name: pg\n    rules:\n\
         \x20     - alert: LockPileUp\n        expr: sum(pg_blocked_sessions) >= 2\n        for: 1s\n\
         \x20       labels: {severity: P1}\n        annotations: {summary: '{{ $value }} sessions wait for a lock'}\n",
    )
    .unwrap();
    let config = config_with_postgres(
        &pg.dsn("postgres"),
        &format!(
            "max_connections = 3\n[postgres.server_log]\npath = \"{}/server.log\"\n",
            pg.dir().display()
        ),
        &s.toml("", ""),
    );
    let app = App::start(&config).await;
    app.wait_metrics(Duration::from_secs(20), "the log followed", |m| {
        m.get("centinela_server_log_files", &[]) == Some(1.0)
    })
    .await;
    // A statement the server cancels, for the log part.
    let mut c = pg.connect("postgres").await;
    assert!(
        sqlx::raw_sql("SET statement_timeout = '50ms'; SELECT pg_sleep(1)")
            .execute(&mut c)
            .await
            .is_err()
    );
    // Statements that keep taking time, for the statements part.
    let busy = {
        let mut c = pg.connect("postgres").await;
        tokio::spawn(async move {
            while sqlx::query("SELECT pg_sleep(0.05)")
                .execute(&mut c)
                .await
                .is_ok()
            {}
        })
    };
    // The pile-up: a batch job holds the table; two web sessions wait for it.
    let mut holder = pg.connect("postgres").await;
    sqlx::raw_sql(
        "SET application_name = 'batch-job'; BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE",
    )
    .execute(&mut holder)
    .await
    .unwrap();
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    let mut waiters = Vec::new();
    for _ in 0..2 {
        let mut c = pg.connect("postgres").await;
        sqlx::query("SET application_name = 'web'")
            .execute(&mut c)
            .await
            .unwrap();
        waiters.push(tokio::spawn(async move {
            sqlx::query("SELECT count(*) FROM orders")
                .execute(&mut c)
                .await
                .map(|_| ())
        }));
    }

    let pages = s.pd.wait_accepted(1, Duration::from_secs(30)).await;
    let slack = s.slack.wait_accepted(1, Duration::from_secs(30)).await;
    println!(
        "PagerDuty event:\n{}",
        serde_json::to_string_pretty(&pages[0]).unwrap()
    );
    println!(
        "Slack message:\n{}",
        serde_json::to_string_pretty(&slack[0]).unwrap()
    );

    // PagerDuty carries it in custom_details.
    let e = &pages[0]["payload"]["custom_details"]["firing"][0]["evidence"];
    let tree = e["blocking"]
        .as_array()
        .unwrap_or_else(|| panic!("no blocking tree: {e}"));
    let root = tree
        .iter()
        .find(|s| s["pid"] == holder_pid)
        .unwrap_or_else(|| panic!("the holder is not in the tree: {e}"));
    assert_eq!(root["blocked_by"], json!([]));
    assert_eq!(root["application"], "batch-job");
    assert_eq!(root["state"], "idle in transaction");
    let blocked: Vec<&Value> = tree
        .iter()
        .filter(|s| s["blocked_by"] == json!([holder_pid]))
        .collect();
    assert_eq!(blocked.len(), 2, "{e}");
    for w in &blocked {
        assert_eq!(w["wait_event"], "Lock:relation");
        assert_eq!(w["application"], "web");
        assert!(w["query"].as_str().unwrap().contains("FROM orders"), "{w}");
    }
    assert!(
        e["wait_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["wait_event"] == "Lock:relation" && w["sessions"] == 2),
        "{e}"
    );
    assert!(
        e["statements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|st| st["query"]
                .as_str()
                .unwrap_or_default()
                .contains("pg_sleep")),
        "{e}"
    );
    assert!(
        e["server_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["class"] == "statement_timeout"),
        "{e}"
    );
    assert!(serde_json::to_string(e).unwrap().len() <= 16 << 10);

    // Slack shows it in one block of its own.
    let blocks = slack[0]["attachments"][0]["blocks"].as_array().unwrap();
    let evidence = blocks
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("*Evidence*"))
        .unwrap_or_else(|| panic!("no evidence block: {}", slack[0]));
    assert!(evidence.len() <= 3000);
    assert!(
        evidence.contains(&format!("pid {holder_pid} (batch-job")),
        "{evidence}"
    );
    assert!(
        evidence.contains("waits") && evidence.contains("Lock:relation"),
        "{evidence}"
    );
    assert!(evidence.contains("[statement_timeout]"), "{evidence}");

    // And the API returns it with the alert.
    let v: Value = app.get("/api/v1/alerts").await.json().await.unwrap();
    let alert = v["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "LockPileUp")
        .unwrap()
        .clone();
    assert_eq!(alert["evidence"]["blocking"], e["blocking"]);

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    busy.abort();
    app.stop().await;
}
