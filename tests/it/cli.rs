//! The `centinela` binary: exit codes, messages, secrets, environment.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::pg::free_port;
use crate::common::pg::SUPERUSER_PASSWORD;
use crate::common::{Exposition, PgCluster};

pub(crate) fn centinela() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_centinela"));
    // The test's own environment must not steer the binary.
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "CENTINELA_CONFIG",
    ] {
        c.env_remove(var);
    }
    c
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check_config(dir: &Path, toml: &str) -> Output {
    let file = dir.join("centinela.toml");
    std::fs::write(&file, toml).unwrap();
    centinela()
        .arg("check-config")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn bad_configuration_exits_1_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[postgres]\nintervall = \"5s\"\n", "postgres.intervall"),
        (
            "[postgres]\nmax_connections = \"two\"\n",
            "postgres.max_connections",
        ),
        ("[postgres]\ninterval = \"soon\"\n", "postgres.interval"),
        (
            "[postgres]\ndsn_file = \"/nonexistent/pg-dsn\"\n",
            "postgres.dsn_file",
        ),
        ("[sever]\nlisten = \"0.0.0.0:1\"\n", "sever"),
        (
            "[postgres]\ndsn = \"mysql://app:hunter2@db/app\"\n",
            "postgres.dsn",
        ),
    ];
    for (toml, key) in cases {
        let out = check_config(dir.path(), toml);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{toml}: {all}");
        assert!(
            all.contains(key),
            "{toml}: message does not name {key}: {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
        assert!(!all.contains("hunter2"), "secret leaked: {all}");
    }
    let out = centinela()
        .args(["check-config", "--config", "/nonexistent/centinela.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("/nonexistent/centinela.toml"));
}

#[test]
fn good_configuration_and_the_shipped_example_pass() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("dsn");
    std::fs::write(&secret, "postgres://u:pw@127.0.0.1:5432/db\n").unwrap();
    let out = check_config(
        dir.path(),
        &format!("[postgres]\ndsn_file = \"{}\"\n", secret.display()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/centinela.toml");
    let out = centinela()
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn custom_queries_that_clash_or_do_not_parse_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.yaml");
    std::fs::write(
        &file,
        "pg_database:\n  query: \"SELECT datname, pg_database_size(datname) AS size_bytes FROM pg_database\"\n  \
         metrics:\n    - datname: {usage: LABEL}\n    - size_bytes: {usage: GAUGE}\n\
         app:\n  query: \"SELECT 1 AS x_y\"\n  metrics:\n    - x_y: {usage: GAUGE}\n\
         typo:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAGUE}\n",
    )
    .unwrap();
    let out = check_config(
        dir.path(),
        &format!(
            "[postgres]\nquery_files = [{:?}]\n\
             [[postgres.queries]]\nname = \"app_x\"\nquery = \"SELECT 1 AS y\"\n\
             metrics = [{{ y = {{ usage = \"COUNTER\" }} }}]\n",
            file.display()
        ),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let path = file.display().to_string();
    for expected in [
        format!("postgres.query_files[0]: {path}: query pg_database: column size_bytes: metric pg_database_size_bytes is already exported by the postgres_tables collector"),
        format!("postgres.queries[0]: query app_x: column y: metric app_x_y is also defined by query app ({path}), column x_y"),
        format!("postgres.query_files[0]: {path}: query typo: column v: usage \"GAGUE\" is not one of"),
    ] {
        assert!(all.contains(&expected), "missing {expected:?} in:\n{all}");
    }
    // A file that is not YAML names its line.
    std::fs::write(&file, "pg_x:\n  query: [unclosed\n").unwrap();
    let out = check_config(
        dir.path(),
        &format!("[postgres]\nquery_files = [{:?}]\n", file.display()),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!("postgres.query_files[0]: {path}: ")) && all.contains("line"),
        "{all}"
    );
}

#[test]
fn collect_fails_with_reasons_and_never_prints_the_password() {
    let pg = PgCluster::start();
    pg.stop();
    let out = centinela()
        .arg("collect")
        .env("CENTINELA__POSTGRES__DSN", pg.dsn("postgres"))
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("collector postgres failed"), "{all}");
    let m = Exposition::parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(m.get("pg_up", &[]), Some(0.0));
    assert!(!all.contains(SUPERUSER_PASSWORD), "password leaked: {all}");
}

#[test]
fn wrong_password_is_reported_without_the_password() {
    let pg = PgCluster::start();
    let dsn = pg.dsn_as("postgres", "not-the-Right-one", "postgres");
    let out = centinela()
        .arg("collect")
        .env("CENTINELA__POSTGRES__DSN", &dsn)
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(all.contains("password authentication failed"), "{all}");
    assert!(!all.contains("not-the-Right-one"), "password leaked: {all}");
}

/// `centinela collect` succeeded and reached the database.
fn assert_connected(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    assert_eq!(
        Exposition::parse(&String::from_utf8_lossy(&out.stdout)).get("pg_up", &[]),
        Some(1.0)
    );
}

#[test]
fn connection_comes_from_database_url_or_libpq_variables() {
    let pg = PgCluster::start();
    let out = centinela()
        .arg("collect")
        .env("DATABASE_URL", pg.dsn("postgres"))
        .output()
        .unwrap();
    assert_connected(&out);

    let out = centinela()
        .arg("collect")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", pg.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", SUPERUSER_PASSWORD)
        .env("PGDATABASE", "postgres")
        .env("PGSSLMODE", "disable")
        .output()
        .unwrap();
    assert_connected(&out);
}

#[tokio::test]
async fn run_serves_until_sigterm_and_logs_no_secret() {
    let port = free_port();
    let child = centinela()
        .env("CENTINELA__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "CENTINELA__POSTGRES__DSN",
            format!(
                "postgres://app:{SUPERUSER_PASSWORD}@127.0.0.1:{}/db",
                free_port()
            ),
        )
        .env("CENTINELA__POSTGRES__INTERVAL", "1s")
        .env("CENTINELA__POSTGRES__STATEMENT_TIMEOUT", "500ms")
        .env("CENTINELA__POSTGRES__LOCK_TIMEOUT", "200ms")
        .env("RUST_LOG", "debug")
        .arg("--log-format=json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut body = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = reqwest::get(&url).await {
            let text = r.text().await.unwrap_or_default();
            if text.contains("pg_up 0") {
                body = Some(text);
                break;
            }
        }
    }
    let body = body.expect("centinela served pg_up 0 for an unreachable server");
    assert!(!body.contains(SUPERUSER_PASSWORD));
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "graceful stop on SIGTERM: {all}"
    );
    assert!(all.contains("Collection failed."), "{all}");
    assert!(all.contains("\"level\":\"WARN\""), "JSON log lines: {all}");
    assert!(
        !all.contains(SUPERUSER_PASSWORD),
        "password leaked into logs: {all}"
    );
}

/// The text between a generated section's markers in the README.
fn readme_section(readme: &str, name: &str) -> String {
    let begin = format!("<!-- {name}:begin (generated by scripts/update-readme.sh) -->\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README lacks the {name}:begin marker"))
        + begin.len();
    let end = readme
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("README lacks {name}:end"));
    readme[start..end].to_owned()
}

#[test]
fn readme_reference_sections_are_in_step_with_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let out = centinela()
        .args(["metrics", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    assert!(
        readme_section(&readme, "metrics") == generated,
        "README's metric reference is out of date: run scripts/update-readme.sh"
    );
    let defaults = format!("```toml\n{}```\n", centinela::app::defaults());
    assert!(
        readme_section(&readme, "config") == defaults,
        "README's configuration reference is out of date: run scripts/update-readme.sh"
    );
    let out = centinela().arg("metrics").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("pg_unused_index_size_bytes gauge"));
}

#[test]
fn version_is_printed() {
    let out = centinela().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("centinela {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The README's "What each seed check became" table stays true: every metric it names is in
/// the catalogue, every alert is in the built-in pack with the severity the table gives.
#[test]
fn readme_seed_table_names_real_metrics_and_alerts() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("## What each seed check became")
        .expect("README section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let pack: serde_norway::Value =
        serde_norway::from_str(centinela::alerting::DEFAULT_RULES).unwrap();
    let mut severities = std::collections::BTreeMap::new();
    for group in pack["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            if let Some(name) = rule["alert"].as_str() {
                severities.insert(
                    name.to_owned(),
                    rule["labels"]["severity"].as_str().unwrap().to_owned(),
                );
            }
        }
    }
    let code = regex::Regex::new(r"`([a-z][a-z0-9_]*)`").unwrap();
    let alert = regex::Regex::new(r"`([A-Z][A-Za-z0-9]+)` \((P[0-3])\)").unwrap();
    let (mut rows, mut metrics, mut alerts) = (0, 0, 0);
    for line in section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| seed"))
    {
        let cells: Vec<&str> = line.split(" | ").collect();
        assert_eq!(cells.len(), 3, "{line}");
        rows += 1;
        for m in code.captures_iter(cells[1]) {
            let name = &m[1];
            if ["pg_", "centinela_", "redis_"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert!(
                    centinela::collectors::find_metric(name).is_some(),
                    "README seed table names {name}, which centinela does not export"
                );
                metrics += 1;
            }
        }
        for a in alert.captures_iter(cells[2]) {
            assert_eq!(
                severities.get(&a[1]).map(String::as_str),
                Some(&a[2]),
                "README seed table: {} ({})",
                &a[1],
                &a[2]
            );
            alerts += 1;
        }
    }
    assert!(
        rows >= 17 && metrics >= 30 && alerts >= 20,
        "{rows} rows, {metrics} metrics, {alerts} alerts"
    );
}
