//! Issue 16, the pages an operator opens in a browser, over HTTP: every page renders
//! against a real PostgreSQL with a firing alert; label values and annotations are
//! escaped; no secret shows on any page; a silence made through the form (with its
//! preview) holds the alert back and expiring it releases it; forms refuse a missing or
//! foreign token and another site's origin. The browser test (`tests/browser/`) walks the
//! same pages in Chromium.

use std::path::Path;
use std::time::Duration;

use crate::common::receivers::{Emulator, PD_KEY};
use crate::common::{config_with, web_config, App, PgCluster, PASSWORD, USER};

pub const PAGES: &[&str] = &[
    "/",
    "/alerts",
    "/silences",
    "/notifications",
    "/rules",
    "/config",
];

/// A rule file whose alerts fire from a textfile series (labels and annotations carry
/// markup on purpose).
pub fn scene(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let textfile = dir.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    std::fs::write(
        textfile.join("scene.prom"),
        "scene_broken{table=\"orders\",note=\"<script>alert('label')</script>\"} 1\n",
    )
    .unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        "groups:\n  - name: scene\n    rules:\n      - alert: OrdersBroken\n        expr: scene_broken > 0\n\
         \x20       labels: {severity: P1}\n        annotations:\n\
         \x20         summary: 'Table {{ $labels.table }} is broken <script>alert(\"annotation\")</script>'\n\
         \x20         runbook_url: docs/runbooks.md#ordersbroken\n",
    )
    .unwrap();
    (textfile, rules)
}

/// centinela with PostgreSQL, the scene, a Slack and a PagerDuty receiver, and a login.
pub async fn start(dir: &Path, pg: &PgCluster, slack: &Emulator, pd: &Emulator) -> App {
    let (textfile, rules) = scene(dir);
    let mut config = config_with(
        &pg.dsn("postgres"),
        &format!(
            "[textfile]\ndirectory = {:?}\n\
             [alerting]\nrule_files = [{:?}]\nevaluation_interval = \"1s\"\ngroup_wait = \"1s\"\n\
             runbook_base_url = \"https://runbooks.example\"\n\
             [[alerting.receivers]]\nname = \"oncall\"\n\
             pagerduty = {{ routing_key = \"{PD_KEY}\", url = \"{}\" }}\n\
             slack = {{ webhook_url = \"{}\" }}\n",
            textfile.display().to_string(),
            rules.display().to_string(),
            pd.url(),
            slack.url(),
        ),
    );
    config.server.web_config_file = Some(web_config(dir, ""));
    App::start(&config).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(app: &App, path: &str) -> String {
    let r = client()
        .get(format!("{}{path}", app.base))
        .header("accept", "text/html")
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    r.text().await.unwrap()
}

fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_escape_hide_secrets_and_silence_through_the_form() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgCluster::start();
    let (slack, pd) = (Emulator::slack().await, Emulator::pagerduty().await);
    let app = start(dir.path(), &pg, &slack, &pd).await;
    slack.wait_accepted(1, Duration::from_secs(30)).await;

    // Every page renders, and none shows markup from a label or an annotation, a
    // password, a webhook URL or a routing key.
    for path in PAGES {
        let html = page(&app, path).await;
        assert!(!html.contains("<script>alert"), "{path} does not escape");
        for secret in [
            PASSWORD,
            crate::common::pg::SUPERUSER_PASSWORD,
            PD_KEY,
            &slack.url(),
        ] {
            assert!(!html.contains(secret), "{path} shows a secret");
        }
    }
    let alerts = page(&app, "/alerts").await;
    assert!(alerts.contains("OrdersBroken") && alerts.contains("firing"));
    assert!(alerts.contains("&lt;script&gt;alert('label')&lt;/script&gt;"));
    assert!(alerts.contains("https://runbooks.example/docs/runbooks.md#ordersbroken"));
    assert!(alerts.contains("Receiver oncall"));
    let overview = page(&app, "/").await;
    assert!(overview.contains("1 P1 alert(s) firing."), "{overview}");
    assert!(overview.contains(&pg.installation().version()[..2]));
    let config = page(&app, "/config").await;
    assert!(config.contains("&lt;secret&gt;"));
    // curl still gets the plain list.
    let text = client()
        .get(&app.base)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("centinela: PostgreSQL exporter"));

    // The form: preview, then create.
    let preview = page(
        &app,
        "/silences?matchers=alertname%3D%22OrdersBroken%22&duration=1h&comment=fixing",
    )
    .await;
    assert!(
        preview.contains("It would hold back 1 alert(s) now"),
        "{preview}"
    );
    let token = csrf(&preview);
    let post = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut r = client()
            .post(format!("{}/silences", app.base))
            .basic_auth(USER, Some(PASSWORD))
            .form(&form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let fields = |token: &str| {
        vec![
            ("matchers", "alertname=\"OrdersBroken\"".to_owned()),
            ("duration", "1h".to_owned()),
            ("comment", "fixing".to_owned()),
            ("csrf", token.to_owned()),
        ]
    };
    for (token, origin) in [
        ("", None),
        (&"0".repeat(64)[..], None),
        (&token[..], Some("http://evil.example")),
    ] {
        let r = post(fields(token), origin).await.unwrap();
        assert_eq!(r.status(), 403, "token {token:?}, origin {origin:?}");
    }
    let r = post(fields(&token), None).await.unwrap();
    assert_eq!(r.status(), 303);
    let list: serde_json::Value = client()
        .get(format!("{}/api/v1/silences", app.base))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["data"][0]["createdBy"], USER);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !page(&app, "/alerts")
        .await
        .contains(&format!("held back by silence <a href=\"/silences#{id}\">"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the alert never showed as held back"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let silences = page(&app, "/silences").await;
    let r = client()
        .post(format!("{}/silences/{id}/expire", app.base))
        .basic_auth(USER, Some(PASSWORD))
        .form(&[("csrf", csrf(&silences))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while page(&app, "/alerts").await.contains("held back by silence") {
        assert!(
            std::time::Instant::now() < deadline,
            "the alert stayed held back"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    app.stop().await;
}

/// The same walk in Debian's headless Chromium (`tests/browser/pages.mjs`, playwright-core
/// from `tests/browser/package.json`). `CENTINELA_SCREENSHOTS=docs/screenshots` keeps the
/// screenshots (the README's come from there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_walks_the_pages_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && root
                .join("tests/browser/node_modules/playwright-core")
                .exists(),
        "Chromium or playwright-core is missing: run scripts/test.sh, which installs them"
    );
    let dir = tempfile::tempdir().unwrap();
    let pg = PgCluster::start();
    let (slack, pd) = (Emulator::slack().await, Emulator::pagerduty().await);
    let app = start(dir.path(), &pg, &slack, &pd).await;
    slack.wait_accepted(1, Duration::from_secs(30)).await;
    let shots = std::env::var("CENTINELA_SCREENSHOTS")
        .map_or_else(|_| dir.path().join("shots"), |p| root.join(p));
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/pages.mjs"))
        .args([&app.base, USER, PASSWORD, &shots.display().to_string()])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert_eq!(
        report["steps"],
        serde_json::json!([
            "every page opened",
            "previewed",
            "created",
            "held back",
            "expired",
            "released"
        ])
    );
    assert_eq!(
        report["dialogs"], 0,
        "a script from a label or annotation ran"
    );
    for (path, html) in report["pages"].as_object().unwrap() {
        let html = html.as_str().unwrap();
        for secret in [
            PASSWORD,
            crate::common::pg::SUPERUSER_PASSWORD,
            PD_KEY,
            &slack.url(),
        ] {
            assert!(!html.contains(secret), "{path} shows a secret");
        }
    }
    for name in [
        "overview",
        "alerts",
        "silences",
        "notifications",
        "rules",
        "configuration",
        "alerts-held-back",
    ] {
        let png = std::fs::metadata(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.len() > 10_000, "{name}.png is too small to be a page");
    }
    app.stop().await;
}
