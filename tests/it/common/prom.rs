//! A throw-away Prometheus scraping one target every second.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Child,
    _dir: tempfile::TempDir,
    pub base: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`) and waits for a successful scrape.
    pub async fn scraping(target: &str) -> Self {
        Self::scraping_with_rules(target, &[]).await
    }

    /// As `scraping`, also evaluating `rule_files` every second.
    pub async fn scraping_with_rules(target: &str, rule_files: &[&std::path::Path]) -> Self {
        Self::start(target, rule_files, "").await
    }

    /// As `scraping`, with `job` YAML added to the scrape job (`scheme`, `basic_auth`,
    /// `tls_config`; each line indented by four spaces).
    pub async fn scraping_with(target: &str, job: &str) -> Self {
        Self::start(target, &[], job).await
    }

    async fn start(target: &str, rule_files: &[&std::path::Path], job: &str) -> Self {
        let exe = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "prometheus not found: run scripts/test.sh, which installs Debian's prometheus"
                )
            });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files: {rules:?}\n\
                 scrape_configs:\n  - job_name: centinela\n{job}    static_configs:\n      - targets: ['{target}']\n",
                rules = rule_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
            ),
        )
        .unwrap();
        let port = super::pg::free_port();
        let child = Command::new(exe)
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
            .expect("start prometheus");
        let p = Self {
            child,
            _dir: dir,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = p
                .client
                .get(format!("{}/api/v1/targets", p.base))
                .send()
                .await
            {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                let t = &v["data"]["activeTargets"][0];
                assert!(
                    t["lastError"].as_str().unwrap_or_default().is_empty(),
                    "scrape failed: {t}"
                );
                if t["health"] == "up" {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never scraped centinela successfully"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        p
    }

    /// `GET /api/v1/<path>`; the whole API answer.
    pub async fn api(&self, path: &str) -> serde_json::Value {
        self.get(path, &[]).await
    }

    /// An instant query; the whole API answer.
    pub async fn query(&self, q: &str) -> serde_json::Value {
        self.get("query", &[("query", q)]).await
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> serde_json::Value {
        self.client
            .get(format!("{}/api/v1/{path}", self.base))
            .query(params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
