//! `redis` collector: `redis-cli ping` and `redis-cli --scan --pattern …`, continuously.
//!
//! Exports `redis_up`, `centinela_redis_ping_seconds`, `redis_memory_used_bytes`,
//! `redis_memory_max_bytes`, `redis_connected_clients`, `redis_evicted_keys_total`,
//! `redis_db_keys{db}` (`redis_exporter` names) and, per configured pattern and database,
//! `redis_keys_count{db,pattern}` counted with SCAN (never KEYS) within a time budget, with
//! `centinela_redis_key_scan_complete` saying whether the count is whole.

use serde::Deserialize;
use std::path::PathBuf;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use secrecy::{ExposeSecret, SecretString};

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::metrics::MetricDesc;
use crate::config::check::{secret, ConfigError, Problems};
use crate::metrics::{labels, Batch};

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[redis]
# url = "redis://127.0.0.1:6379" (or url_file); unset means no Redis collector.
# Key patterns counted with SCAN ... MATCH (never KEYS), in every database that has keys.
key_patterns = []
# Time allowed for counting all patterns in one run; a count cut short is marked partial.
scan_budget = "2s"
# Keys asked for per SCAN call.
scan_count = 1000
timeout = "5s"
# TLS: a rediss:// URL (system roots), or these PEM files for a private CA and a client
# certificate (redis-server --tls-auth-clients yes).
# tls_ca_file = "/run/secrets/redis-ca.crt"
# tls_cert_file = "/run/secrets/redis-client.crt"
# tls_key_file = "/run/secrets/redis-client.key"
"#;

/// This module's part of the configuration: `redis`.
pub type Section = RedisConfig;

/// `[redis]`: the server and the key patterns counted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`; a secret (it may hold a password).
    #[serde(default)]
    pub url: Option<SecretString>,
    /// A file holding the URL.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// Key patterns counted with SCAN ... MATCH.
    pub key_patterns: Vec<String>,
    /// Time allowed for counting all patterns in one run.
    #[serde(with = "humantime_serde")]
    pub scan_budget: Duration,
    /// Keys asked for per SCAN call.
    pub scan_count: u32,
    /// Per command.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// CA certificate (PEM) that signed the server's, instead of the system roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate (PEM), with `tls_key_file`.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// Client key (PEM); a secret.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
}

impl RedisConfig {
    /// True when a URL is configured.
    pub fn enabled(&self) -> bool {
        self.url.is_some() || self.url_file.is_some()
    }
}

// === metrics ===

crate::metrics! {
    REDIS_UP: "redis_up", Gauge, [],
        "1 if Redis answered PING, 0 if not.";
    REDIS_PING: "centinela_redis_ping_seconds", Gauge, [],
        "Round-trip time of PING.";
    REDIS_MEM_USED: "redis_memory_used_bytes", Gauge, [],
        "Memory used by Redis (used_memory).";
    REDIS_MEM_MAX: "redis_memory_max_bytes", Gauge, [],
        "Redis maxmemory; 0 means no limit.";
    REDIS_CLIENTS: "redis_connected_clients", Gauge, [],
        "Connected clients.";
    REDIS_EVICTED: "redis_evicted_keys_total", Counter, [],
        "Keys evicted because of maxmemory.";
    REDIS_DB_KEYS: "redis_db_keys", Gauge, ["db"],
        "Keys per database.";
    REDIS_KEYS_COUNT: "redis_keys_count", Untyped, ["db", "pattern"],
        "Keys matching each configured pattern, counted with SCAN (redis_exporter name; untyped because of its _count suffix). Check centinela_redis_key_scan_complete.";
    REDIS_SCAN_COMPLETE: "centinela_redis_key_scan_complete", Gauge, ["db", "pattern"],
        "1 if the pattern's SCAN finished within scan_budget, 0 if the count is partial (a lower bound).";
}


/// PING, INFO and key counts of one Redis server.
#[derive(Debug)]
pub struct RedisCollector {
    url: SecretString,
    /// A private CA and a client certificate, when configured.
    tls: Option<redis::TlsCertificates>,
    patterns: Vec<String>,
    budget: Duration,
    count: u32,
    timeout: Duration,
    /// One connection per database number, reused between runs.
    connections: Mutex<HashMap<u32, MultiplexedConnection>>,
}

/// The INFO fields centinela exports.
#[derive(Debug, Default, PartialEq)]
pub struct Info {
    /// `used_memory`.
    pub used_memory: Option<f64>,
    /// `maxmemory`.
    pub maxmemory: Option<f64>,
    /// `connected_clients`.
    pub connected_clients: Option<f64>,
    /// `evicted_keys`.
    pub evicted_keys: Option<f64>,
    /// (database number, keys)
    pub keyspace: Vec<(u32, f64)>,
}

/// Parses the text of `INFO`.
pub fn parse_info(text: &str) -> Info {
    let mut info = Info::default();
    for line in text.lines() {
        let Some((key, value)) = line.trim_end().split_once(':') else {
            continue;
        };
        let num = || value.parse::<f64>().ok();
        match key {
            "used_memory" => info.used_memory = num(),
            "maxmemory" => info.maxmemory = num(),
            "connected_clients" => info.connected_clients = num(),
            "evicted_keys" => info.evicted_keys = num(),
            _ => {
                if let Some(db) = key.strip_prefix("db").and_then(|d| d.parse::<u32>().ok()) {
                    let keys = value
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("keys="))
                        .and_then(|k| k.parse::<f64>().ok());
                    if let Some(keys) = keys {
                        info.keyspace.push((db, keys));
                    }
                }
            }
        }
    }
    info
}

/// Why a Redis run failed; messages never carry the URL.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The connection failed.
    #[error("cannot connect to Redis: {0}")]
    Connect(String),
    /// A command failed.
    #[error("Redis {command} failed: {message}")]
    Command {
        /// Which command.
        command: &'static str,
        /// Redis' message.
        message: String,
    },
    /// A command did not answer in time.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

// === impl RedisCollector ===

impl RedisCollector {
    /// The collector for `[redis]`, with its URL and TLS files already read.
    pub fn new(config: &RedisConfig, url: SecretString, tls: Option<redis::TlsCertificates>) -> Self {
        Self {
            url,
            tls,
            patterns: config.key_patterns.clone(),
            budget: config.scan_budget,
            count: config.scan_count,
            timeout: config.timeout,
            connections: Mutex::new(HashMap::new()),
        }
    }

    async fn connection(&self, db: u32) -> Result<MultiplexedConnection, RedisError> {
        let known = crate::sync::lock(&self.connections).get(&db).cloned();
        if let Some(c) = known {
            return Ok(c);
        }
        let mut url = reqwest::Url::parse(self.url.expose_secret())
            .map_err(|_| RedisError::Connect("invalid URL".into()))?;
        url.set_path(&format!("/{db}"));
        let client = match &self.tls {
            Some(certs) => redis::Client::build_with_tls(url.as_str(), certs.clone()),
            None => redis::Client::open(url.as_str()),
        }
        .map_err(|e| RedisError::Connect(e.to_string()))?;
        // The client's own defaults (1 s to connect, 500 ms per command) would override
        // redis.timeout; both follow it instead.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = tokio::time::timeout(
            self.timeout,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
            .map_err(|_| RedisError::Timeout(self.timeout))?
            .map_err(|e| RedisError::Connect(e.to_string()))?;
        crate::sync::lock(&self.connections).insert(db, conn.clone());
        Ok(conn)
    }

    async fn command<T: redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
        name: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisError> {
        tokio::time::timeout(self.timeout, cmd.query_async(conn))
            .await
            .map_err(|_| RedisError::Timeout(self.timeout))?
            .map_err(|e| RedisError::Command {
                command: name,
                message: e.to_string(),
            })
    }

    /// Counts keys matching `pattern` in `db` with SCAN until done or `deadline`.
    async fn count_keys(
        &self,
        db: u32,
        pattern: &str,
        deadline: Instant,
    ) -> Result<(f64, bool), RedisError> {
        let mut conn = self.connection(db).await?;
        let mut cursor: u64 = 0;
        let mut count = 0usize;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(self.count);
            let (next, keys): (u64, Vec<redis::Value>) =
                self.command(&mut conn, "SCAN", &cmd).await?;
            count += keys.len();
            cursor = next;
            if cursor == 0 {
                #[allow(clippy::cast_precision_loss)]
                return Ok((count as f64, true));
            }
            if Instant::now() >= deadline {
                #[allow(clippy::cast_precision_loss)]
                return Ok((count as f64, false));
            }
        }
    }

    async fn read(&self) -> Result<Batch, RedisError> {
        let mut conn = self.connection(0).await?;
        let started = Instant::now();
        let _pong: String = self.command(&mut conn, "PING", &redis::cmd("PING")).await?;
        let ping = started.elapsed();
        let info: String = self.command(&mut conn, "INFO", &redis::cmd("INFO")).await?;
        let info = parse_info(&info);

        let mut b = Batch::default();
        b.set(&REDIS_UP, 1.0);
        b.set(&REDIS_PING, ping.as_secs_f64());
        for (desc, value) in [
            (&REDIS_MEM_USED, info.used_memory),
            (&REDIS_MEM_MAX, info.maxmemory),
            (&REDIS_CLIENTS, info.connected_clients),
            (&REDIS_EVICTED, info.evicted_keys),
        ] {
            if let Some(v) = value {
                b.set(desc, v);
            }
        }
        for (db, keys) in &info.keyspace {
            b.push(&REDIS_DB_KEYS, labels([("db", &format!("db{db}"))]), *keys);
        }
        // The budget covers every pattern in every database of one run.
        let deadline = Instant::now() + self.budget;
        let mut counts = Vec::new();
        for (db, _) in &info.keyspace {
            for pattern in &self.patterns {
                let (n, complete) = self.count_keys(*db, pattern, deadline).await?;
                counts.push((format!("db{db}"), pattern, n, complete));
            }
        }
        for (db, pattern, n, _) in &counts {
            b.push(
                &REDIS_KEYS_COUNT,
                labels([("db", db), ("pattern", pattern)]),
                *n,
            );
        }
        for (db, pattern, _, complete) in &counts {
            let v = if *complete { 1.0 } else { 0.0 };
            b.push(
                &REDIS_SCAN_COMPLETE,
                labels([("db", db), ("pattern", pattern)]),
                v,
            );
        }
        Ok(b)
    }
}

impl Collector for RedisCollector {
    const NAME: &'static str = "redis";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("15s");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        _shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let url = check(section, problems);
        let tls = tls_files(section, problems);
        if tls.is_some()
            && url
                .as_ref()
                .is_some_and(|u| !u.expose_secret().starts_with("rediss://"))
        {
            problems.push(ConfigError::new(
                "redis.url",
                "the TLS files need a rediss:// URL",
            ));
        }
        let interval = every::<Self>(problems, schedule);
        url.map(|url| (Self::new(section, url, tls), interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        match self.read().await {
            Ok(b) => Ok(b),
            Err(e) => {
                // A broken connection is not reused; the next run connects afresh.
                crate::sync::lock(&self.connections).clear();
                Err(CollectError::Redis(e))
            }
        }
    }

    /// `redis_up 0` stays while Redis cannot be reached.
    fn on_failure(&self, _error: &CollectError) -> Batch {
        let mut b = Batch::default();
        b.set(&REDIS_UP, 0.0);
        b
    }
}

/// The TLS files of `[redis]`, read once (regular files, bounded); problems named.
fn tls_files(r: &RedisConfig, errors: &mut Problems) -> Option<redis::TlsCertificates> {
    let read = |key: &str, path: &Option<PathBuf>, errors: &mut Problems| {
        let path = path.as_ref()?;
        crate::bounded::read(path, crate::bounded::caps::PEM)
            .map_err(|e| {
                errors.push(ConfigError::new(
                    format!("redis.{key}"),
                    format!("cannot read {}: {e}", path.display()),
                ));
            })
            .ok()
    };
    let root = read("tls_ca_file", &r.tls_ca_file, errors);
    let cert = read("tls_cert_file", &r.tls_cert_file, errors);
    let key = read("tls_key_file", &r.tls_key_file, errors);
    if r.tls_cert_file.is_some() != r.tls_key_file.is_some() {
        errors.push(ConfigError::new(
            "redis.tls_cert_file",
            "tls_cert_file and tls_key_file go together",
        ));
    }
    if root.is_none() && cert.is_none() {
        return None;
    }
    Some(redis::TlsCertificates {
        client_tls: cert.zip(key).map(|(client_cert, client_key)| redis::ClientTlsConfig {
            client_cert,
            client_key,
        }),
        root_cert: root,
    })
}

/// Checks `[redis]`; returns the URL, read once (none: Redis is not monitored).
pub fn check(r: &RedisConfig, errors: &mut Problems) -> Option<SecretString> {
    let url = secret(
        ("redis.url", r.url.as_ref()),
        ("redis.url_file", r.url_file.as_deref()),
        |url| match ::redis::parse_redis_url(url) {
            Some(_) => Ok(()),
            None => Err("not a valid redis:// URL".into()),
        },
    )
    .unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    if !r.enabled() && !r.key_patterns.is_empty() {
        errors.push(ConfigError::new(
            "redis.key_patterns",
            "needs redis.url or redis.url_file",
        ));
    }
    if r.scan_count == 0 || r.scan_count > 100_000 {
        // A huge COUNT makes one SCAN call walk most of the keyspace and block Redis.
        errors.push(ConfigError::new(
            "redis.scan_count",
            format!("must be between 1 and 100000, got {}", r.scan_count),
        ));
    }
    errors.extend(crate::config::check::duration_in(
        "redis.timeout",
        r.timeout,
        Duration::from_millis(100),
        Duration::from_secs(60),
    ));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_and_keyspace() {
        let text = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\n\
                    # Clients\r\nconnected_clients:3\r\n# Stats\r\nevicted_keys:7\r\n\
                    # Keyspace\r\ndb0:keys=3000,expires=0,avg_ttl=0\r\ndb5:keys=2,expires=1,avg_ttl=10\r\n";
        let info = parse_info(text);
        assert_eq!(
            info,
            Info {
                used_memory: Some(1_048_576.0),
                maxmemory: Some(0.0),
                connected_clients: Some(3.0),
                evicted_keys: Some(7.0),
                keyspace: vec![(0, 3000.0), (5, 2.0)],
            }
        );
    }
}
