//! Issue 13, "nobody silences a page or reads the metrics uninvited, and the HTTP surface
//! holds under abuse": the web configuration read as exporter-toolkit reads it (TLS,
//! client certificates, basic auth, headers), writes that need a login, a real Prometheus
//! scraping through TLS and basic auth, and the listener's limits under slow and greedy
//! clients.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::prom::Prometheus;
use crate::common::{config_with, web_config, App, Exposition, PASSWORD, USER};

const NO_PG: &str = "postgresql://postgres@127.0.0.1:1/postgres";

fn ends_in_an_hour() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

fn silence(comment: &str) -> Value {
    json!({"matchers": ["alertname=\"Anything\""], "endsAt": ends_in_an_hour(), "createdBy": "someone else", "comment": comment})
}

/// A certificate authority for the tests, and leaf certificates it signs.
struct Pki {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM) for `sans`.
    fn leaf(&self, sans: &[&str]) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, sans[0]);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn rejected(m: &Exposition, reason: &str) -> f64 {
    m.get("centinela_http_rejected_total", &[("reason", reason)])
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_cannot_be_changed_without_a_login_and_the_answer_says_how() {
    let app = App::start(&config_with(NO_PG, "")).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/silences", app.base);
    let r = client
        .post(&url)
        .json(&json!({"matchers": ["alertname=~\".+\""], "endsAt": "2036-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    let text = body["error"].as_str().unwrap();
    assert!(
        text.contains("basic_auth_users") && text.contains("--web.config.file"),
        "{text}"
    );
    let r = client
        .delete(format!("{url}/0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Reads stay open without a web configuration.
    let list: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["data"], json!([]));
    let m = app.metrics().await;
    assert_eq!(rejected(&m, "forbidden"), 2.0);
    assert!(m
        .get("centinela_web_config_last_reload_successful", &[])
        .is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_guards_every_path_but_the_probes_and_names_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with(
        NO_PG,
        "[alerting]\nmax_silences = 2\nmax_silence_bytes = \"2KiB\"",
    );
    config.server.web_config_file = Some(web_config(
        dir.path(),
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'none'\"\n",
    ));
    let app = App::start(&config).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", app.base));

    let r = get("/metrics").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic");
    assert_eq!(
        r.headers()["x-frame-options"],
        "deny",
        "headers go on refusals too"
    );
    for (user, password) in [(USER, "wrong"), ("nobody", PASSWORD), ("", "")] {
        let r = get("/api/v1/alerts")
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}:{password}");
    }
    // The probe paths stay open to reads.
    assert_eq!(get("/health").send().await.unwrap().status(), 200);
    let r = get("/metrics")
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-security-policy"], "default-src 'none'");
    let m = Exposition::parse(&r.text().await.unwrap());
    assert!(rejected(&m, "unauthorized") >= 4.0, "{}", m.raw);
    assert_eq!(
        m.get("centinela_web_config_last_reload_successful", &[]),
        Some(1.0)
    );

    // Writes: without credentials 401 (not 403: a login exists); with them the writer is
    // recorded, whatever the body claims.
    let url = format!("{}/api/v1/silences", app.base);
    let r = client.post(&url).json(&silence("a")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let login = |r: reqwest::RequestBuilder| r.basic_auth(USER, Some(PASSWORD));
    for comment in ["first", "second"] {
        let r = login(client.post(&url))
            .json(&silence(comment))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let list: Value = login(client.get(&url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["createdBy"] == USER));

    // Limits: a third silence, a silence too large, a body too large.
    let r = login(client.post(&url))
        .json(&silence("third"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("alerting.max_silences"),
        "{body}"
    );
    let id = list["data"][0]["id"].as_str().unwrap();
    let r = login(client.delete(format!("{url}/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = login(client.post(&url))
        .json(&silence(&"x".repeat(4000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("alerting.max_silence_bytes"),
        "{body}"
    );
    // Refused from the declared length, before any of the body is read: the request is
    // sent without one, as a client's body upload can race the answer and the close.
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{USER}:{PASSWORD}"),
    );
    stream
        .write_all(
            format!(
                "POST /api/v1/silences HTTP/1.1\r\nHost: centinela\r\n\
                 Authorization: Basic {auth}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                2 << 20
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = vec![0; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let m = Exposition::parse(
        &get("/metrics")
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(rejected(&m, "body_too_large"), 1.0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_through_tls_and_basic_auth_and_a_rotated_certificate_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Pki::new("centinela test CA");
    let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"]);
    let cert_file = write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    let ca_file = write(dir.path(), "ca.crt", &ca.pem);
    let mut config = config_with(NO_PG, "");
    // Relative paths are relative to the web configuration file.
    config.server.web_config_file = Some(web_config(
        dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n",
    ));
    let app = App::start(&config).await;
    let target = app
        .base
        .trim_start_matches("http://")
        .replace("127.0.0.1", "localhost");

    // Plain HTTP on the TLS port gets nothing useful.
    assert!(reqwest::get(format!("http://{target}/metrics"))
        .await
        .map_or(true, |r| r.status() != 200));

    let prometheus = Prometheus::scraping_with(
        &target,
        &format!(
            "    scheme: https\n    basic_auth:\n      username: {USER}\n      password: {PASSWORD}\n    tls_config:\n      ca_file: {ca_file}\n"
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = prometheus.query("up{job=\"centinela\"}").await;
    assert_eq!(v["data"]["result"][0]["value"][1], "1", "{v}");
    let v = prometheus.query("centinela_build_info").await;
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1, "{v}");

    // Rotation: a certificate from another CA replaces the files; new connections get it
    // within a few seconds, without a restart.
    let client = |pem: &str| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let url = format!("https://{target}/health");
    let other = Pki::new("rotated CA");
    assert!(client(&other.pem).get(&url).send().await.is_err());
    let (cert2, key2) = other.leaf(&["localhost"]);
    // Key first, then certificate, as a secret volume update makes them appear.
    write(dir.path(), "server.key", &key2);
    std::fs::write(&cert_file, cert2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client(&other.pem).get(&url).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the rotated certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(client(&ca.pem).get(&url).send().await.is_err());

    // A change that does not load keeps the last good configuration and says so.
    std::fs::write(dir.path().join("server.key"), "not a key").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = client(&other.pem)
            .get(format!("https://{target}/metrics"))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        let m = Exposition::parse(&r.text().await.unwrap());
        if m.get("centinela_web_config_last_reload_successful", &[]) == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a broken key file was not reported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        client(&other.pem).get(&url).send().await.unwrap().status(),
        200
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_verified_and_name_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Pki::new("centinela test CA");
    let (cert, key) = ca.leaf(&["localhost"]);
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    write(dir.path(), "clients.crt", &ca.pem);
    let web = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n  client_allowed_sans: [oncall.example]\n",
    );
    let mut config = config_with(NO_PG, "");
    config.server.web_config_file = Some(web.into());
    let probe = crate::common::pg::free_port();
    config.server.probe_listen = Some(format!("127.0.0.1:{probe}"));
    let app = App::start(&config).await;
    let base = app.base.replace("http://127.0.0.1", "https://localhost");
    let client = |identity: Option<(String, String)>| {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap());
        if let Some((c, k)) = identity {
            b = b.identity(reqwest::Identity::from_pem(format!("{c}{k}").as_bytes()).unwrap());
        }
        b.build().unwrap()
    };
    assert!(client(None)
        .get(format!("{base}/health"))
        .send()
        .await
        .is_err());
    // Signed by the CA but without an allowed SAN.
    let stranger = client(Some(ca.leaf(&["stranger.example"])));
    assert!(stranger.get(format!("{base}/health")).send().await.is_err());
    // Signed by another CA.
    let forged = client(Some(Pki::new("other CA").leaf(&["oncall.example"])));
    assert!(forged.get(format!("{base}/health")).send().await.is_err());

    let oncall = client(Some(ca.leaf(&["oncall.example"])));
    let r = oncall
        .post(format!("{base}/api/v1/silences"))
        .json(&silence("maintenance"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a verified certificate is a login");
    let list: Value = oncall
        .get(format!("{base}/api/v1/silences"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["createdBy"], "cert:oncall.example");

    // The kubelet's probes use the plain probe listener, which serves nothing else.
    let r = reqwest::get(format!("http://127.0.0.1:{probe}/health"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(format!("http://127.0.0.1:{probe}/metrics"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let m = Exposition::parse(
        &oncall
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(rejected(&m, "tls_handshake") >= 3.0, "{}", m.raw);
    app.stop().await;
}

/// A connection from `ip` (any 127/8 address is the loopback).
async fn connect_from(ip: &str, to: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket.connect(to.parse().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_greedy_clients_are_cut_off_while_scrapes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    // An exposition (about 12 MB) larger than what the kernel buffers for a client that
    // reads nothing (at most 4 MB sent, a few KB received), so that client holds its scrape.
    let textfile = dir.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    let mut big = String::from("# TYPE big_series gauge\n");
    for i in 0..120_000 {
        big.push_str(&format!(
            "big_series{{i=\"{i:08}\",padding=\"{}\"}} {i}\n",
            "p".repeat(60)
        ));
    }
    std::fs::write(textfile.join("big.prom"), big).unwrap();
    let mut config = config_with(
        NO_PG,
        &format!(
            "[textfile]\ndirectory = {:?}\nmax_series = 1000000",
            textfile.display().to_string()
        ),
    );
    // Parsing 12 MB takes longer than the tests' 1 s interval in a debug build, more so
    // while other tests run.
    config
        .schedule
        .insert("textfile".to_owned(), Duration::from_secs(60));
    config.server.max_connections_per_client = 8;
    config.server.header_timeout = Duration::from_secs(1);
    config.server.max_concurrent_scrapes = 1;
    let app = App::start(&config).await;
    app.wait_metrics(Duration::from_secs(60), "the large textfile", |m| {
        m.get("big_series", &[("i", "00000001")]).is_some()
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // Slowloris from 127.0.0.2: headers never finished.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        let mut s = connect_from("127.0.0.2", &addr).await;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    for s in &mut held {
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
        {
            if buf[..n].starts_with(b"HTTP/1.1 503") {
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 12, "8 held, the other 12 refused with 503");
    // Another address still gets its scrape.
    let r = reqwest::get(format!("{}/health", app.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    // The held ones are closed once header_timeout passes.
    let started = Instant::now();
    for s in &mut held {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a half-open connection was kept open");
    }
    assert!(started.elapsed() < Duration::from_secs(3));

    // A scrape that is never read holds the one scrape slot; the next gets 503.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.3:0".parse().unwrap()).unwrap();
    let mut greedy = socket.connect(addr.parse().unwrap()).await.unwrap();
    greedy
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    drop(greedy);
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let r = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
        if r.status() == 200 {
            break Exposition::parse(&r.text().await.unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "the scrape slot was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rejected(&m, "client_connection_limit"), 12.0);
    assert!(
        rejected(&m, "timeout") >= 8.0,
        "{}",
        m.raw
            .lines()
            .filter(|l| l.contains("rejected"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(rejected(&m, "scrape_limit") >= 1.0);
    app.stop().await;
}

/// `check-config` names what is wrong in a web configuration, with the key, and refuses a
/// device or an oversized file instead of reading it.
#[test]
fn check_config_names_web_configuration_problems() {
    let dir = tempfile::tempdir().unwrap();
    let check = |web: &str| {
        let path = write(dir.path(), "web.yml", web);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
            .args(["--web.config.file", &path, "check-config"])
            .env("CENTINELA__POSTGRES__DSN", NO_PG)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{web} was accepted");
        String::from_utf8(out.stderr).unwrap()
    };
    let mut cases = vec![
        (
            "basic_auth_users:\n  ops: plain-text\n",
            "basic_auth_users.ops: is not a bcrypt hash",
        ),
        (
            "basic_auth_user:\n  ops: x\n",
            "unknown field `basic_auth_user`",
        ),
        (
            "http_server_config:\n  headers:\n    Server: centinela\n",
            "http_server_config.headers.Server: this header cannot be configured",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "expected one of",
        ),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
            "tls_server_config.cert_file: cannot read",
        ),
        (
            "tls_server_config:\n  key_file: x.key\n",
            "missing one of cert or cert_file",
        ),
        (
            "tls_server_config:\n  cert_file: /dev/zero\n  key_file: /dev/zero\n",
            "is a device, not a regular file",
        ),
        (
            "rate_limit:\n  interval: 1s\n",
            "rate_limit.burst: must be at least 1",
        ),
    ];
    let started = Instant::now();
    let ca = Pki::new("ca");
    let (cert, key) = ca.leaf(&["localhost"]);
    write(dir.path(), "s.crt", &cert);
    write(dir.path(), "s.key", &key);
    write(dir.path(), "ca.crt", &ca.pem);
    cases.extend([
        ("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  min_version: TLS11\n", "tls_server_config.min_version: TLS 1.0 and 1.1 are not supported"),
        ("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_ca_file: ca.crt\n", "client CA's have been configured without a Client Auth Policy"),
        ("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", "unknown or unsupported cipher"),
        ("tls_server_config:\n  cert_file: s.crt\n  key_file: ca.crt\n", "tls_server_config.key_file: holds no PEM private key"),
    ]);
    for (web, expected) in cases {
        let err = check(web);
        assert!(err.contains("server.web_config_file: "), "{err}");
        assert!(
            err.contains(expected),
            "{web}\nexpected {expected:?} in:\n{err}"
        );
        assert!(!err.contains(&key), "a key was echoed");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A secret or rule file that is a device, or too large, is refused by name at once
/// instead of being read whole (`/dev/zero` used to make check-config run forever).
#[test]
fn devices_and_oversized_files_are_refused_by_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; 17 << 20]).unwrap();
    for (config, expected) in [
        (
            "[postgres]\ndsn_file = \"/dev/zero\"\n".to_owned(),
            "postgres.dsn_file: cannot read /dev/zero: is a device, not a regular file",
        ),
        (
            format!("[postgres]\ndsn = \"{NO_PG}\"\n[alerting]\nrule_files = [\"/dev/zero\"]\n"),
            "/dev/zero: cannot read: is a device, not a regular file",
        ),
        (
            format!(
                "[postgres]\ndsn = \"{NO_PG}\"\n[alerting]\nrule_files = [{:?}]\n",
                big.display().to_string()
            ),
            "cannot read: is larger than 16.0 MiB",
        ),
    ] {
        let path = write(dir.path(), "c.toml", &config);
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
            .args(["--config", &path, "check-config"])
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_are_bounded_skipped_by_name_and_never_break_the_exposition() {
    let dir = tempfile::tempdir().unwrap();
    let textfile = dir.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    // A reserved label name used to make the whole /metrics unparseable.
    std::fs::write(textfile.join("bad.prom"), "evil{__name__=\"x\"} 1\n").unwrap();
    std::fs::write(
        textfile.join("big.prom"),
        format!("big 1\n# {}\n", "x".repeat(4096)),
    )
    .unwrap();
    std::fs::write(textfile.join("good.prom"), "# TYPE good gauge\ngood 1\n").unwrap();
    // Certificates: a bundle repeating one certificate, a symbolic link loop under the
    // glob, a FIFO and a directory named like certificates.
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(certs.join("sub")).unwrap();
    let (cert, _) = Pki::new("loop CA").leaf(&["loop.example"]);
    std::fs::write(certs.join("a.pem"), format!("{cert}{cert}")).unwrap();
    std::os::unix::fs::symlink("..", certs.join("sub/up")).unwrap();
    std::fs::create_dir(certs.join("dir.pem")).unwrap();
    nix::unistd::mkfifo(&certs.join("fifo.pem"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let d = certs.display().to_string();
    let config = config_with(
        NO_PG,
        &format!(
            "[textfile]\ndirectory = {:?}\nmax_file_size = \"1KiB\"\n\
             [[certs.files]]\npaths = [\"{d}/**/*.pem\", \"{d}/dir.pem\"]\n",
            textfile.display().to_string()
        ),
    );
    let app = App::start(&config).await;
    let m = app
        .wait_metrics(Duration::from_secs(20), "textfiles and certificates", |m| {
            m.get("good", &[]).is_some()
                && m.get("centinela_collector_up", &[("collector", "certs")])
                    .is_some()
        })
        .await;
    crate::common::assert_promtool_ok(&m.raw);
    let error = |file: &str| {
        m.get(
            "centinela_textfile_scrape_error",
            &[("file", &textfile.join(file).display().to_string())],
        )
    };
    assert_eq!(error("bad.prom"), Some(1.0));
    assert_eq!(error("big.prom"), Some(1.0));
    assert_eq!(error("good.prom"), Some(0.0));
    assert!(m.get("evil", &[]).is_none() && m.get("big", &[]).is_none());

    let expiries = m.values(
        "centinela_cert_not_after_timestamp_seconds",
        &[("subject_cn", "loop.example")],
    );
    assert_eq!(
        expiries.len(),
        1,
        "one series for a certificate met many times:\n{}",
        m.raw
    );
    let reason = |source: String, reason: &str| {
        m.get(
            "centinela_cert_source_errors",
            &[("source", &source), ("reason", reason)],
        )
    };
    assert_eq!(
        reason(format!("{d}/dir.pem"), "not_a_file"),
        Some(1.0),
        "{}",
        m.raw
    );
    assert_eq!(
        reason(format!("{d}/fifo.pem"), "not_a_file"),
        Some(1.0),
        "{}",
        m.raw
    );
    assert_eq!(
        m.get("centinela_collector_up", &[("collector", "certs")]),
        Some(1.0)
    );
    app.stop().await;
}

/// Alerting with one Slack receiver, a rule that always fires, and `state_dir`.
fn always_firing(dir: &Path, state_dir: &Path, slack: &str) -> centinela::app::Config {
    std::fs::write(
        dir.join("rules.yaml"),
        "groups:\n  - name: t\n    rules:\n      - alert: Always\n        expr: vector(1)\n        labels: {severity: P2}\n",
    )
    .unwrap();
    config_with(
        NO_PG,
        &format!(
            "[alerting]\nrule_files = [{rules:?}]\nevaluation_interval = \"1s\"\nstate_dir = {state:?}\n\
             group_wait = \"1s\"\n\
             [[alerting.receivers]]\nname = \"chat\"\nslack = {{ webhook_url = \"{slack}\" }}\n\
             [[alerting.routes]]\nreceivers = [\"chat\"]\n",
            rules = dir.join("rules.yaml").display().to_string(),
            state = state_dir.display().to_string(),
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_unusable_state_dir_keeps_monitoring_and_paging_and_says_so() {
    use crate::common::receivers::Emulator;
    let dir = tempfile::tempdir().unwrap();
    let slack = Emulator::slack().await;

    // Damaged: the file is moved aside (kept), a new database starts, pages go out.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("centinela.db"), "this is not a database").unwrap();
    let app = App::start(&always_firing(dir.path(), &state, &slack.url())).await;
    slack.wait_accepted(1, Duration::from_secs(20)).await;
    let aside: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("centinela.db.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path()).unwrap(),
        "this is not a database"
    );
    let m = app.metrics().await;
    assert_eq!(m.get("centinela_state_dir_ok", &[]), Some(1.0));
    app.stop().await;

    // Unusable (a path under a regular file): monitoring and pages go on, in memory;
    // /ready and the self-metric say so.
    let slack = Emulator::slack().await;
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let app = App::start(&always_firing(
        dir.path(),
        &file.join("state"),
        &slack.url(),
    ))
    .await;
    slack.wait_accepted(1, Duration::from_secs(20)).await;
    let m = app.metrics().await;
    assert_eq!(m.get("centinela_state_dir_ok", &[]), Some(0.0));
    assert_eq!(
        m.get(
            "centinela_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    let r = app.get("/ready").await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "state_dir_unusable");
    assert!(
        body["error"].as_str().unwrap().contains("plain-file"),
        "{body}"
    );
    app.stop().await;
}

/// Timers that used to overflow (a `group_wait` of 300,000,000 years notified at once) or
/// to spin (`repeat_interval` 0s, a Slack timeout of 0s) are refused with their key.
#[test]
fn zero_and_enormous_durations_are_refused_by_name() {
    let config = centinela::app::Config::from_toml(&format!(
        "[postgres]\ndsn = \"{NO_PG}\"\n\
         [alerting]\ngroup_wait = \"300000000y\"\nrepeat_interval = \"0s\"\nmax_retry_backoff = \"100y\"\n\
         [[alerting.receivers]]\nname = \"chat\"\nslack = {{ url = \"http://127.0.0.1:1/\", timeout = \"0s\" }}\n\
         [[alerting.routes]]\nreceivers = [\"chat\"]\ngroup_interval = \"0s\"\n"
    ))
    .unwrap();
    let problems: Vec<String> = match centinela::app::plan(&config) {
        Ok(_) => panic!("accepted"),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    };
    for key in [
        "alerting.group_wait: must be between 0s and 1day",
        "alerting.repeat_interval: must be between 1m and 1year",
        "alerting.max_retry_backoff: must be between 1s and 1day",
        "alerting.receivers[0].slack.timeout: must be between 1s and 5m",
        "alerting.routes[0].group_interval: must be between 1s and 7days",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(key)),
            "{key} not in {problems:#?}"
        );
    }
}

/// `redis.timeout` governs connecting and each command: the client's own defaults (500 ms
/// per command) used to fail every run against a Redis that answers in 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_is_given_the_configured_timeout() {
    let redis = crate::common::redis::RedisServer::start();
    let mut config = config_with(
        NO_PG,
        &format!("[redis]\nurl = \"{}\"\ntimeout = \"5s\"\n", redis.url()),
    );
    config
        .schedule
        .insert("redis".to_owned(), Duration::from_secs(3));
    let app = App::start(&config).await;
    let up = |m: &Exposition| m.get("centinela_collector_up", &[("collector", "redis")]);
    app.wait_metrics(Duration::from_secs(20), "a first Redis run", |m| {
        up(m) == Some(1.0)
    })
    .await;
    let success = |m: &Exposition| {
        m.get(
            "centinela_collector_last_success_timestamp_seconds",
            &[("collector", "redis")],
        )
        .unwrap()
    };
    let before = success(&app.metrics().await);
    // Every client waits about 2 s for each answer, for 12 s.
    let port = redis.port;
    let pauser = tokio::spawn(async move {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        for _ in 0..6 {
            let _: () = redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg("1900")
                .arg("ALL")
                .query_async(&mut c)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    pauser.await.unwrap();
    let m = app.metrics().await;
    assert_eq!(
        m.get(
            "centinela_collector_errors_total",
            &[("collector", "redis")]
        ),
        Some(0.0),
        "{}",
        m.raw
            .lines()
            .filter(|l| l.contains("redis"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        success(&m) > before + 5.0,
        "runs kept succeeding while Redis was slow"
    );
}

/// `check-config` refuses a garbage `DATABASE_URL` (run used to refuse what check-config
/// passed) without echoing it, and warns about a `CENTINELA_` variable that sets nothing.
#[test]
fn the_environment_is_checked_like_the_file() {
    let run = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
            .arg("check-config")
            .env_remove("CENTINELA__POSTGRES__DSN")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8(out.stderr).unwrap())
    };
    let (ok, err) = run(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]);
    assert!(!ok);
    assert!(
        err.contains("DATABASE_URL (environment): not a valid PostgreSQL connection URL"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
    let (ok, err) = run(&[
        ("DATABASE_URL", NO_PG),
        ("CENTINELA_POSTGRES__INTERVAL", "30s"),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("warning: CENTINELA_POSTGRES__INTERVAL sets nothing")
            && err.contains("did you mean CENTINELA__POSTGRES__INTERVAL?"),
        "{err}"
    );
}

/// Messages queued for a receiver that was then removed from the configuration are dropped
/// at start (and said so), instead of being kept, and reported, forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_receivers_queue_is_purged() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // "ghost" points nowhere: its message stays queued.
    let mut ghost = always_firing(dir.path(), &state, "http://127.0.0.1:1/hook");
    ghost.alerting.receivers[0].name = "ghost".into();
    ghost.alerting.routes[0].receivers = vec!["ghost".into()];
    let app = App::start(&ghost).await;
    app.wait_metrics(Duration::from_secs(20), "a queued message for ghost", |m| {
        m.get(
            "centinela_notification_queue_depth",
            &[("receiver", "ghost")],
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await;
    app.stop().await;

    let slack = crate::common::receivers::Emulator::slack().await;
    let app = App::start(&always_firing(dir.path(), &state, &slack.url())).await;
    slack.wait_accepted(1, Duration::from_secs(20)).await;
    let m = app.metrics().await;
    assert!(
        m.get(
            "centinela_notification_queue_depth",
            &[("receiver", "ghost")]
        )
        .is_none(),
        "{}",
        m.raw
            .lines()
            .filter(|l| l.contains("queue"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    app.stop().await;
}

/// kill -9 while a message is being sent (the receiver has it, no answer recorded): after
/// the restart it is sent again, once, and counted as a resend; nothing else repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_delivery_resends_only_that_message_and_counts_it() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    // A receiver that reads the request and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}/hook", hang.local_addr().unwrap());
    let (got_tx, mut got_rx) = tokio::sync::mpsc::channel::<()>(8);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = hang.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = got_tx.send(()).await;
            held.push(s);
        }
    });
    let port = crate::common::pg::free_port();
    let write_config = |slack: &str| {
        let mut text =
            format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[postgres]\ndsn = \"{NO_PG}\"\n");
        let rules = dir.path().join("rules.yaml");
        std::fs::write(
            &rules,
            "groups:\n  - name: t\n    rules:\n      - alert: Always\n        expr: vector(1)\n        labels: {severity: P2}\n",
        )
        .unwrap();
        text.push_str(&format!(
            "[alerting]\nrule_files = [{:?}]\nevaluation_interval = \"1s\"\nstate_dir = {:?}\ngroup_wait = \"1s\"\n\
             [[alerting.receivers]]\nname = \"chat\"\nslack = {{ url = \"{slack}\", timeout = \"60s\" }}\n\
             [[alerting.routes]]\nreceivers = [\"chat\"]\n",
            rules.display().to_string(),
            dir.path().join("state").display().to_string(),
        ));
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let spawn = |config: &Path| {
        Command::new(env!("CARGO_BIN_EXE_centinela"))
            .args(["--config", &config.display().to_string(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = spawn(&write_config(&hang_url));
    tokio::time::timeout(Duration::from_secs(30), got_rx.recv())
        .await
        .expect("the message reached the hanging receiver");
    child.kill().unwrap();
    child.wait().unwrap();

    let slack = crate::common::receivers::Emulator::slack().await;
    let mut child = spawn(&write_config(&slack.url()));
    slack.wait_accepted(1, Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            let m = Exposition::parse(&r.text().await.unwrap());
            if m.get(
                "centinela_notifications_total",
                &[("receiver", "chat"), ("outcome", "sent")],
            ) == Some(1.0)
            {
                break m;
            }
        }
        assert!(Instant::now() < deadline, "no delivery recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        m.get(
            "centinela_notifications_resent_total",
            &[("receiver", "chat")]
        ),
        Some(1.0)
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(slack.accepted().len(), 1, "sent once after the restart");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// PostgreSQL that accepts centinela only with a client certificate (`hostssl … cert`),
/// reached with `sslmode=verify-full`: through the DSN's parameters and through the libpq
/// variables. A server whose certificate another CA signed is refused, and no run shows a
/// key or a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_verify_full_and_a_client_certificate() {
    let pg = crate::common::PgCluster::start();
    let ca = Pki::new("pg test CA");
    let (server_cert, server_key) = ca.leaf(&["localhost"]);
    pg.enable_ssl(&server_cert, &server_key).await;
    let data = pg.data_dir();
    std::fs::write(data.join("root.crt"), &ca.pem).unwrap();
    pg.give(&data.join("root.crt"));
    let hba = std::fs::read_to_string(data.join("pg_hba.conf")).unwrap();
    std::fs::write(
        data.join("pg_hba.conf"),
        format!("hostssl all centinela 127.0.0.1/32 cert\nhost all centinela 127.0.0.1/32 reject\n{hba}"),
    )
    .unwrap();
    pg.exec(
        "postgres",
        "CREATE ROLE centinela LOGIN IN ROLE pg_monitor;
         ALTER SYSTEM SET ssl_ca_file = 'root.crt';
         SELECT pg_reload_conf()",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let dir = tempfile::tempdir().unwrap();
    let (client_cert, client_key) = ca.leaf(&["centinela"]);
    let root = write(dir.path(), "root.crt", &ca.pem);
    let cert = write(dir.path(), "client.crt", &client_cert);
    let key = write(dir.path(), "client.key", &client_key);
    let other = write(dir.path(), "other.crt", &Pki::new("other CA").pem);
    let collect = |env: &[(&str, String)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
            .arg("collect")
            .env("CENTINELA__HOST__ENABLED", "false")
            .env("CENTINELA__ALERTING__ENABLED", "false")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(!text.contains("PRIVATE KEY") && !err.contains("PRIVATE KEY"));
        (Exposition::parse(&text), err)
    };
    let port = pg.port;
    let dsn = |root: &str| {
        format!(
            "postgres://centinela@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={root}&sslcert={cert}&sslkey={key}"
        )
    };
    let (m, err) = collect(&[("CENTINELA__POSTGRES__DSN", dsn(&root))]);
    assert_eq!(m.get("pg_up", &[]), Some(1.0), "{err}");
    assert!(m
        .get("pg_stat_database_xact_commit", &[("datname", "postgres")])
        .is_some());

    // The libpq variables, as a pod's environment gives them.
    let (m, err) = collect(&[
        ("PGHOST", "localhost".into()),
        ("PGPORT", port.to_string()),
        ("PGUSER", "centinela".into()),
        ("PGDATABASE", "postgres".into()),
        ("PGSSLMODE", "verify-full".into()),
        ("PGSSLROOTCERT", root.clone()),
        ("PGSSLCERT", cert.clone()),
        ("PGSSLKEY", key.clone()),
    ]);
    assert_eq!(m.get("pg_up", &[]), Some(1.0), "{err}");

    // Trusting another CA: refused, and said why.
    let (m, err) = collect(&[("CENTINELA__POSTGRES__DSN", dsn(&other))]);
    assert_eq!(m.get("pg_up", &[]), Some(0.0));
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // Without a client certificate the server refuses the login.
    let (m, _) = collect(&[(
        "CENTINELA__POSTGRES__DSN",
        format!(
            "postgres://centinela@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={root}"
        ),
    )]);
    assert_eq!(m.get("pg_up", &[]), Some(0.0));
}

/// Redis over TLS (`rediss://`) with a private CA, a client certificate that the server
/// requires, and an ACL user with a password; the password never shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_with_a_client_certificate_and_an_acl_user() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Pki::new("redis test CA");
    let (server_cert, server_key) = ca.leaf(&["localhost"]);
    let (client_cert, client_key) = ca.leaf(&["centinela"]);
    let ca_file = write(dir.path(), "ca.crt", &ca.pem);
    let server_crt = write(dir.path(), "server.crt", &server_cert);
    let server_key = write(dir.path(), "server.key", &server_key);
    let client_crt = write(dir.path(), "client.crt", &client_cert);
    let client_key = write(dir.path(), "client.key", &client_key);
    let port = crate::common::pg::free_port();
    let mut server = std::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            &server_crt,
            "--tls-key-file",
            &server_key,
            "--tls-ca-cert-file",
            &ca_file,
            "--tls-auth-clients",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir.path().display().to_string(),
            "--user",
            "centinela",
            "on",
            ">redis-pw-9",
            "~*",
            "&*",
            "+@all",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server with TLS did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config = |password: &str, cert: bool| {
        let files = if cert {
            format!("tls_cert_file = {client_crt:?}\ntls_key_file = {client_key:?}\n")
        } else {
            String::new()
        };
        config_with(
            NO_PG,
            &format!(
                "[redis]\nurl = \"rediss://centinela:{password}@localhost:{port}\"\ntls_ca_file = {ca_file:?}\n{files}"
            ),
        )
    };
    let up = |m: &Exposition| m.get("redis_up", &[]);
    let app = App::start(&config("redis-pw-9", true)).await;
    let m = app
        .wait_metrics(Duration::from_secs(20), "Redis over TLS", |m| {
            up(m).is_some()
        })
        .await;
    assert_eq!(up(&m), Some(1.0), "{}", m.raw);
    app.stop().await;

    for (password, cert) in [("wrong-pw-7", true), ("redis-pw-9", false)] {
        let app = App::start(&config(password, cert)).await;
        let m = app
            .wait_metrics(Duration::from_secs(20), "a refused Redis run", |m| {
                up(m).is_some()
            })
            .await;
        assert_eq!(up(&m), Some(0.0), "password {password}, certificate {cert}");
        assert!(!m.raw.contains(password));
        app.stop().await;
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// A real three-peer Alertmanager cluster gossiping on loopback: centinela posts to every
/// peer (`urls`), one peer is killed mid-incident, and the page is still delivered, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_cluster_pages_once_with_a_peer_killed() {
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    // The page's destination: Alertmanager's webhook, captured.
    let pages: Arc<Mutex<Vec<Value>>> = Arc::default();
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let pages = Arc::clone(&pages);
            move |axum::Json(v): axum::Json<Value>| async move {
                pages.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(hook, router).await });

    let am_config = dir.path().join("am.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: hook\n  group_wait: 3s\n  group_interval: 5m\n  repeat_interval: 4h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook_url}\n        send_resolved: false\n"
        ),
    )
    .unwrap();
    let web: Vec<u16> = (0..3).map(|_| crate::common::pg::free_port()).collect();
    let gossip: Vec<u16> = (0..3).map(|_| crate::common::pg::free_port()).collect();
    let mut peers: Vec<std::process::Child> = (0..3)
        .map(|i| {
            let storage = dir.path().join(format!("am{i}"));
            std::fs::create_dir(&storage).unwrap();
            let mut cmd = Command::new("prometheus-alertmanager");
            cmd.arg(format!("--config.file={}", am_config.display()))
                .arg(format!("--storage.path={}", storage.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{}", web[i]))
                .arg(format!("--cluster.listen-address=127.0.0.1:{}", gossip[i]))
                .args([
                    "--cluster.peer-timeout=2s",
                    "--cluster.settle-timeout=3s",
                    "--cluster.gossip-interval=100ms",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (j, g) in gossip.iter().enumerate() {
                if j != i {
                    cmd.arg(format!("--cluster.peer=127.0.0.1:{g}"));
                }
            }
            cmd.spawn().expect("prometheus-alertmanager is installed")
        })
        .collect();
    // Wait for a cluster of three.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: Value =
            match reqwest::get(format!("http://127.0.0.1:{}/api/v2/status", web[0])).await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => Value::Null,
            };
        if status["cluster"]["peers"]
            .as_array()
            .is_some_and(|p| p.len() == 3)
            && status["cluster"]["status"] == "ready"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Alertmanager cluster did not form: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    std::fs::write(
        dir.path().join("rules.yaml"),
        "groups:\n  - name: t\n    rules:\n      - alert: DatabaseDown\n        expr: vector(1)\n        labels: {severity: P0}\n",
    )
    .unwrap();
    let urls: Vec<String> = web
        .iter()
        .map(|p| format!("\"http://127.0.0.1:{p}\""))
        .collect();
    let config = config_with(
        NO_PG,
        &format!(
            "[alerting]\nrule_files = [{:?}]\nevaluation_interval = \"1s\"\n\
             [[alerting.receivers]]\nname = \"fleet\"\nalertmanager = {{ urls = [{}], resend_interval = \"2s\" }}\n\
             [[alerting.routes]]\nreceivers = [\"fleet\"]\n",
            dir.path().join("rules.yaml").display().to_string(),
            urls.join(", ")
        ),
    );
    let app = App::start(&config).await;
    // Every peer gets the alert from centinela itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    for p in &web {
        loop {
            let alerts: Vec<Value> =
                match reqwest::get(format!("http://127.0.0.1:{p}/api/v2/alerts")).await {
                    Ok(r) => r.json().await.unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
            if alerts
                .iter()
                .any(|a| a["labels"]["alertname"] == "DatabaseDown")
            {
                break;
            }
            assert!(Instant::now() < deadline, "peer {p} never got the alert");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Mid-incident, before the group wait is over: one peer dies.
    let _ = peers[0].kill();
    let _ = peers[0].wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pages.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the page was never delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Long enough for every surviving peer's turn (peer timeout 2s) and several resends.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let got = pages.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "paged {} times: {got:#?}", got.len());
    assert_eq!(got[0]["alerts"][0]["labels"]["alertname"], "DatabaseDown");
    // A dead peer neither holds the queue back nor fails a delivery: the others take it.
    let m = app
        .wait_metrics(Duration::from_secs(10), "resends delivered", |m| {
            m.get(
                "centinela_notifications_total",
                &[("receiver", "fleet"), ("outcome", "sent")],
            )
            .is_some_and(|n| n >= 3.0)
        })
        .await;
    assert_eq!(
        m.get(
            "centinela_notifications_total",
            &[("receiver", "fleet"), ("outcome", "failed")]
        ),
        Some(0.0)
    );
    app.stop().await;
    for p in &mut peers[1..] {
        let _ = p.kill();
        let _ = p.wait();
    }
}

/// SIGTERM while a collector's blocking thread is still busy (a 100 MB textfile being
/// parsed): the process stops within seconds instead of waiting for the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_process_while_a_collector_thread_is_busy() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let textfile = dir.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(textfile.join("huge.prom")).unwrap());
    for i in 0..1_600_000 {
        writeln!(f, "huge_series{{i=\"{i:010}\",padding=\"{:040}\"}} {i}", 0).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let port = crate::common::pg::free_port();
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[postgres]\ndsn = \"{NO_PG}\"\n\
             [textfile]\ndirectory = {:?}\nmax_file_size = \"1GiB\"\nmax_series = 10000000\n\
             [schedule]\ntextfile = \"1h\"\n",
            textfile.display().to_string()
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
        .args(["--config", &config, "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{url}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "centinela did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = Exposition::parse(
        &reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        m.get(
            "centinela_collector_duration_seconds",
            &[("collector", "textfile")]
        )
        .is_none(),
        "the textfile run should still be going"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if stopped.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still running 10 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
