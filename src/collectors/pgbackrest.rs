//! `pgbackrest` collector: backup freshness from `pgbackrest info --output=json`, run by the
//! sidecar (no `COPY … FROM PROGRAM` inside the database).
//!
//! Exports per stanza `centinela_pgbackrest_last_backup_timestamp_seconds{stanza,type}` (when
//! the newest full, diff and incr backup finished), `centinela_pgbackrest_stanza_status_code`
//! and `centinela_pgbackrest_last_backup_error`.

use serde::Deserialize;
use std::process::Stdio;
use std::time::Duration;

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::config::check::Problems;
use crate::metrics::MetricDesc;
use crate::metrics::{labels, Batch};

crate::message_error! {
    /// pgBackRest's `info` output that cannot be read.
    PgBackRestError
}

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[pgbackrest]
# Read `pgbackrest info --output=json` (last full/diff/incr backup per stanza).
enabled = false
command = "pgbackrest"
# Extra arguments, e.g. ["--config=/etc/pgbackrest/pgbackrest.conf", "--stanza=main"].
args = []
timeout = "60s"
"#;

/// This module's part of the configuration: `pgbackrest`.
pub type Section = PgBackRestConfig;

/// `[pgbackrest]`: `pgbackrest info`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgBackRestConfig {
    /// Run it.
    pub enabled: bool,
    /// The program.
    pub command: String,
    /// Arguments before `--output=json info`.
    pub args: Vec<String>,
    /// Per run.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

// === metrics ===

crate::metrics! {
    PGBR_LAST: "centinela_pgbackrest_last_backup_timestamp_seconds", Gauge, ["stanza", "type"],
        "When the newest pgBackRest backup of each type (full, diff, incr) finished (unix seconds).";
    PGBR_STATUS: "centinela_pgbackrest_stanza_status_code", Gauge, ["stanza", "message"],
        "pgBackRest's status code for the stanza (0 ok, 2 no valid backups, ...), with its message.";
    PGBR_ERROR: "centinela_pgbackrest_last_backup_error", Gauge, ["stanza"],
        "1 if pgBackRest recorded an error (checksum or otherwise) in the newest backup of the stanza.";
}


/// The last backup of each type per stanza, from `pgbackrest info`.
#[derive(Debug)]
pub struct PgBackRestCollector {
    command: String,
    args: Vec<String>,
    timeout: Duration,
}

/// One stanza as `pgbackrest info` describes it.
#[derive(Debug, PartialEq)]
pub struct Stanza {
    /// The stanza.
    pub name: String,
    /// pgBackRest's status code (0: ok).
    pub status_code: f64,
    /// Its status message.
    pub status_message: String,
    /// (type, stop timestamp) of the newest backup of each type.
    pub last: Vec<(String, f64)>,
    /// Whether the newest backup recorded an error.
    pub last_error: Option<bool>,
}

/// Parses `pgbackrest info --output=json`.
pub fn parse_info(json: &str) -> Result<Vec<Stanza>, PgBackRestError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| PgBackRestError::from(format!("invalid JSON: {e}")))?;
    let stanzas = value.as_array().ok_or(PgBackRestError::from("expected a JSON array of stanzas"))?;
    Ok(stanzas
        .iter()
        .map(|s| {
            let backups = s["backup"].as_array().cloned().unwrap_or_default();
            let mut last: Vec<(String, f64)> = Vec::new();
            for kind in ["full", "diff", "incr"] {
                let newest = backups
                    .iter()
                    .filter(|b| b["type"] == kind)
                    .filter_map(|b| b["timestamp"]["stop"].as_f64())
                    .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
                if let Some(t) = newest {
                    last.push((kind.to_owned(), t));
                }
            }
            let newest = backups.iter().max_by(|a, b| {
                a["timestamp"]["stop"]
                    .as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&b["timestamp"]["stop"].as_f64().unwrap_or(0.0))
            });
            Stanza {
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                status_code: s["status"]["code"].as_f64().unwrap_or(-1.0),
                status_message: s["status"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                last,
                last_error: newest.and_then(|b| b["error"].as_bool()),
            }
        })
        .collect())
}

impl PgBackRestCollector {
    /// The collector for `[pgbackrest]`.
    pub fn new(config: &PgBackRestConfig) -> Self {
        Self {
            command: config.command.clone(),
            args: config.args.clone(),
            timeout: config.timeout,
        }
    }
}

impl Collector for PgBackRestCollector {
    const NAME: &'static str = "pgbackrest";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("5m");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        _shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let interval = every::<Self>(problems, schedule);
        section.enabled.then(|| (Self::new(section), interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let mut cmd = tokio::process::Command::new(&self.command);
        cmd.args(&self.args)
            .args(["--output=json", "info"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(self.timeout, cmd.output())
            .await
            .map_err(|_| {
                CollectError::Io(format!(
                    "{} info did not finish within {:?}",
                    self.command, self.timeout
                ))
            })?
            .map_err(|e| CollectError::Io(format!("cannot run {}: {e}", self.command)))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(CollectError::Io(format!(
                "{} info failed ({}): {}",
                self.command,
                out.status,
                stderr.trim()
            )));
        }
        let stanzas =
            parse_info(&String::from_utf8_lossy(&out.stdout)).map_err(|e| CollectError::Io(e.0))?;
        let mut b = Batch::default();
        for s in &stanzas {
            for (kind, t) in &s.last {
                b.push(
                    &PGBR_LAST,
                    labels([("stanza", &s.name), ("type", kind)]),
                    *t,
                );
            }
        }
        for s in &stanzas {
            b.push(
                &PGBR_STATUS,
                labels([("stanza", &s.name), ("message", &s.status_message)]),
                s.status_code,
            );
        }
        for s in &stanzas {
            if let Some(e) = s.last_error {
                b.push(
                    &PGBR_ERROR,
                    labels([("stanza", &s.name)]),
                    if e { 1.0 } else { 0.0 },
                );
            }
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_backup_per_type() {
        let json = r#"[{"name":"main","status":{"code":0,"message":"ok"},"backup":[
            {"type":"full","timestamp":{"start":100,"stop":110},"error":false},
            {"type":"incr","timestamp":{"start":200,"stop":205},"error":false},
            {"type":"full","timestamp":{"start":300,"stop":320},"error":true}]},
            {"name":"empty","status":{"code":2,"message":"no valid backups"},"backup":[]}]"#;
        let s = parse_info(json).unwrap();
        assert_eq!(
            s[0].last,
            [("full".to_owned(), 320.0), ("incr".to_owned(), 205.0)]
        );
        assert_eq!(s[0].last_error, Some(true));
        assert_eq!(
            (s[1].status_code, s[1].last.len(), s[1].last_error),
            (2.0, 0, None)
        );
        assert!(parse_info("{").is_err());
    }
}
