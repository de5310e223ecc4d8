//! The shipped deployment artifacts against centinela and a real PostgreSQL: every shipped
//! configuration passes `check-config` with its placeholder secrets, the init script makes
//! a least-privilege role centinela can monitor with, and the image's health check command
//! tells a running centinela from a missing one. Rendering and schema checks of the
//! manifests, systemd and compose files are in scripts/check-deploy.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::pg::SUPERUSER_PASSWORD;
use crate::common::{config_with, App, PgCluster};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with the test's environment cleared (`cli::centinela`), run with `args`.
fn centinela(args: &[&str]) -> Output {
    crate::cli::centinela().args(args).output().unwrap()
}

/// `config` with absolute paths moved under `root` (state directories, secrets), so it can
/// be checked here; `secrets` maps each in-container secret path to a shipped placeholder.
fn relocated(config: &str, root: &Path, secrets: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(config)).unwrap();
    let mut text = text.replace(
        "/var/lib/centinela",
        &root.join("state").display().to_string(),
    );
    for (inside, placeholder) in secrets {
        let copy = root.join(inside.trim_start_matches('/'));
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(placeholder), &copy).unwrap();
        text = text.replace(inside, &copy.display().to_string());
    }
    std::fs::create_dir_all(root.join("state")).unwrap();
    let path = root.join("centinela.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn shipped_configurations_pass_check_config_with_their_placeholder_secrets() {
    let k8s_secrets = [
        (
            "/etc/centinela/secrets/dsn",
            "deploy/kubernetes/secrets/dsn",
        ),
        (
            "/etc/centinela/secrets/slack-webhook-url",
            "deploy/kubernetes/secrets/slack-webhook-url",
        ),
        (
            "/etc/centinela/secrets/pagerduty-routing-key",
            "deploy/kubernetes/secrets/pagerduty-routing-key",
        ),
    ];
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("deploy/kubernetes/centinela.toml", &k8s_secrets),
        ("deploy/systemd/centinela.toml", &k8s_secrets),
        (
            "deploy/compose/centinela.toml",
            &[("/run/secrets/dsn", "deploy/compose/secrets/dsn")],
        ),
    ];
    for (config, secrets) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = relocated(config, dir.path(), secrets);
        let out = centinela(&["--config", path.to_str().unwrap(), "check-config"]);
        assert!(
            out.status.success(),
            "{config}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The check would catch a broken secret: an empty routing key is named, not printed.
    let dir = tempfile::tempdir().unwrap();
    let path = relocated("deploy/kubernetes/centinela.toml", dir.path(), &k8s_secrets);
    let key = dir
        .path()
        .join("etc/centinela/secrets/pagerduty-routing-key");
    std::fs::write(&key, "").unwrap();
    let out = centinela(&["--config", path.to_str().unwrap(), "check-config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("routing_key_file"), "{err}");
}

#[test]
fn kubernetes_and_compose_placeholders_agree_with_the_helm_values() {
    // The init script takes user and password from the DSN; both placeholders must parse.
    for dsn in [
        "deploy/kubernetes/secrets/dsn",
        "deploy/compose/secrets/dsn",
    ] {
        let text = std::fs::read_to_string(repo().join(dsn)).unwrap();
        let url: sqlx::postgres::PgConnectOptions = text.parse().unwrap();
        assert_eq!(url.get_username(), "centinela", "{dsn}");
        assert!(
            !text.ends_with('\n'),
            "{dsn}: a trailing newline would end up in the password"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_script_creates_a_least_privilege_role_centinela_monitors_with() {
    let pg = PgCluster::start();
    pg.exec("postgres", "CREATE TABLE secret_orders AS SELECT 1 AS id")
        .await;
    let shipped = std::fs::read_to_string(repo().join("deploy/kubernetes/secrets/dsn")).unwrap();
    let dsn = shipped.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", pg.port));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dsn"), &dsn).unwrap();

    // As the official image runs it: sh, POSTGRES_USER, psql reaching the server.
    let out = Command::new("sh")
        .arg(repo().join("deploy/kubernetes/initdb/10-centinela-role.sh"))
        .env("POSTGRES_USER", "postgres")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", pg.port.to_string())
        .env("PGPASSWORD", SUPERUSER_PASSWORD)
        .env("CENTINELA_DSN_FILE", dir.path().join("dsn"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The role reads statistics but not the data.
    let mut conn = {
        use sqlx::Connection as _;
        sqlx::PgConnection::connect(&dsn.replace("sslmode=prefer", "sslmode=disable"))
            .await
            .unwrap()
    };
    let denied = sqlx::query("SELECT * FROM secret_orders")
        .fetch_all(&mut conn)
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("permission denied"), "{denied}");
    let (monitor,): (bool,) = sqlx::query_as("SELECT pg_has_role('pg_monitor', 'MEMBER')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(monitor);
    let (superuser,): (bool,) =
        sqlx::query_as("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!superuser);

    // centinela with that DSN sees the server and the table's statistics.
    let app = App::start(&config_with(&dsn, "")).await;
    app.wait_metrics(Duration::from_secs(30), "tables as the monitor role", |m| {
        m.get("pg_up", &[]) == Some(1.0)
            && m.get(
                "pg_stat_user_tables_n_live_tup",
                &[("relname", "secret_orders")],
            )
            .is_some()
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_command_answers_for_a_running_centinela_only() {
    let pg = PgCluster::start();
    let app = App::start(&config_with(&pg.dsn("postgres"), "")).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    let out = centinela(&["healthcheck", "--url", &format!("{}/health", app.base)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without --url: /health on the configured port (the image's HEALTHCHECK).
    let dir = tempfile::tempdir().unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("[server]\nlisten = \"0.0.0.0:{port}\"\n")).unwrap();
    let out = centinela(&["--config", config.to_str().unwrap(), "healthcheck"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = centinela(&["healthcheck", "--url", &format!("{}/nowhere", app.base)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    app.stop().await;

    let out = centinela(&["--config", config.to_str().unwrap(), "healthcheck"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("127.0.0.1:{port}/health")) && err.contains("refused"),
        "{err}"
    );
}
