//! `postgres_server_log` collector: PostgreSQL's own log, read incrementally and counted by
//! class (crashes, out of memory, corruption, connection and authentication failures,
//! archiving, checkpoints, deadlocks, timeouts, autovacuum cancellations, standby conflicts,
//! temporary files with their bytes).
//!
//! `[postgres.server_log] path` is a glob (`logging_collector` writes a new file per
//! period); `format` is `stderr` (any `log_line_prefix`: the severity is found by its
//! `LEVEL:  ` token), `csvlog` or `jsonlog`. Files are followed by inode: a file renamed
//! within the glob is read on from where it was, one truncated is read again from its
//! start, and files that were there at start are read from their end (history is not
//! counted). The last classified lines are kept for the evidence attached to pages.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::PostgresConfig;
use crate::collectors::{CollectError, Collector, Schedule, Shared};
use crate::config::check::{glob_problem, Problems};
use crate::metrics::{labels, Batch, MetricDesc};
use crate::sync::lock;

crate::metrics! {
    EVENTS: "pg_log_events_total", Counter, ["class"],
        "Server log messages by class since centinela started: fatal, panic, out_of_memory, checksum_failure (page verification failed, invalid page), too_many_connections, authentication_failure, archive_failed, checkpoints_too_frequent, deadlock, lock_timeout, statement_timeout, idle_timeout, autovacuum_canceled, standby_conflict, temp_file.";
    MESSAGES: "pg_log_messages_total", Counter, ["severity"],
        "Server log messages by severity (LOG, WARNING, ERROR, FATAL, PANIC) since centinela started.";
    TEMP_BYTES: "pg_log_temp_file_bytes_total", Counter, [],
        "Bytes of the temporary files the server logged (log_temp_files) since centinela started.";
    FILES: "centinela_server_log_files", Gauge, [],
        "Files matching postgres.server_log.path.";
    READ_BYTES: "centinela_server_log_read_bytes_total", Counter, [],
        "Bytes of server log read since centinela started.";
}

/// Every class, so each series exists from the first run (and `rate()` sees its first
/// event).
pub const CLASSES: &[&str] = &[
    "fatal",
    "panic",
    "out_of_memory",
    "checksum_failure",
    "too_many_connections",
    "authentication_failure",
    "archive_failed",
    "checkpoints_too_frequent",
    "deadlock",
    "lock_timeout",
    "statement_timeout",
    "idle_timeout",
    "autovacuum_canceled",
    "standby_conflict",
    "temp_file",
];

const SEVERITIES: &[&str] = &["LOG", "WARNING", "ERROR", "FATAL", "PANIC"];

/// Bytes read from the logs per run, at most; the rest waits for the next run.
const MAX_READ_PER_RUN: u64 = 64 << 20;
/// A record longer than this is classified on its first this many bytes.
const MAX_RECORD: usize = 64 << 10;
/// Classified lines kept.
const RECENT: usize = 50;
/// The newest of them attached to a page.
const EVIDENCE_LINES: usize = 10;

// === configuration ===

/// `[postgres.server_log]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerLogConfig {
    /// Glob of the server's log files; none: off.
    #[serde(default)]
    pub path: Option<String>,
    /// How the server writes them.
    #[serde(default)]
    pub format: LogFormat,
}

/// `log_destination` of the files read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain lines, with any `log_line_prefix`.
    #[default]
    Stderr,
    /// `csvlog`.
    Csvlog,
    /// `jsonlog` (PostgreSQL 15 and later).
    Jsonlog,
}

// === the collector ===

/// The server log, followed.
#[derive(Debug)]
pub struct ServerLogCollector {
    pattern: String,
    format: LogFormat,
    state: Mutex<State>,
    recent: Arc<Mutex<VecDeque<LogLine>>>,
}

/// A classified line, kept for evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its class.
    pub class: &'static str,
    /// The record as written (its first line, at most 500 bytes).
    pub text: String,
}

#[derive(Debug, Default)]
struct State {
    started: bool,
    files: HashMap<(u64, u64), Followed>,
    events: BTreeMap<&'static str, u64>,
    severities: BTreeMap<&'static str, u64>,
    temp_bytes: u64,
    read: u64,
}

#[derive(Debug, Default)]
struct Followed {
    offset: u64,
    /// An unfinished line (or, in csvlog, an unfinished record).
    partial: Vec<u8>,
    /// The file's first bytes when it was last read: a file truncated and written again
    /// (copytruncate) to the size it had starts differently (log lines start with a time).
    head: Vec<u8>,
}

/// Bytes of a file's start remembered to notice it was truncated and rewritten.
const HEAD: u64 = 64;

/// The first [`HEAD`] bytes of `file`.
fn head(file: &mut File) -> Vec<u8> {
    let mut head = Vec::new();
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _read = file.take(HEAD).read_to_end(&mut head);
    }
    head
}

impl Collector for ServerLogCollector {
    const NAME: &'static str = "postgres_server_log";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = PostgresConfig;

    fn plan(
        section: &Self::Section,
        _schedule: &Schedule,
        _shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let pattern = section.server_log.path.clone()?;
        if let Some(p) = glob_problem("postgres.server_log.path".into(), &pattern) {
            problems.push(p);
            return None;
        }
        Some((
            Self {
                pattern,
                format: section.server_log.format,
                state: Mutex::default(),
                recent: Arc::default(),
            },
            section.interval,
        ))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let files: Vec<PathBuf> = glob::glob(&self.pattern)
            .map_err(|e| CollectError::Io(format!("postgres.server_log.path: {e}")))?
            .flatten()
            .filter(|p| p.is_file())
            .collect();
        let mut state = lock(&self.state);
        let first = !state.started;
        state.started = true;
        let mut seen = Vec::new();
        let mut budget = MAX_READ_PER_RUN;
        let mut found: Vec<LogLine> = Vec::new();
        for path in &files {
            let Ok(meta) = std::fs::metadata(path) else { continue };
            let id = (meta.dev(), meta.ino());
            seen.push(id);
            let Ok(mut file) = File::open(path) else { continue };
            let start = head(&mut file);
            let f = state.files.entry(id).or_insert_with(|| Followed {
                // Files there at start are history; later files are read whole.
                offset: if first { meta.len() } else { 0 },
                partial: Vec::new(),
                head: start.clone(),
            });
            let rewritten = !start.starts_with(&f.head) && !f.head.starts_with(&start);
            if meta.len() < f.offset || rewritten {
                f.offset = 0;
                f.partial.clear();
            }
            f.head = start;
            if meta.len() == f.offset || budget == 0 {
                continue;
            }
            if file.seek(SeekFrom::Start(f.offset)).is_err() {
                continue;
            }
            let want = (meta.len() - f.offset).min(budget);
            let mut bytes = Vec::new();
            let read = (&mut file).take(want).read_to_end(&mut bytes).unwrap_or(0);
            f.offset += read as u64;
            budget -= read as u64;
            let records = split_records(&mut f.partial, &bytes, self.format);
            state.read += read as u64;
            for record in records {
                let Some((severity, message)) = parse(&record, self.format) else {
                    continue;
                };
                if let Some(s) = SEVERITIES.iter().find(|s| **s == severity) {
                    *state.severities.entry(s).or_default() += 1;
                }
                for class in classify(&severity, &message) {
                    *state.events.entry(class).or_default() += 1;
                    if class == "temp_file" {
                        state.temp_bytes += temp_file_bytes(&message).unwrap_or(0);
                    }
                    found.push(LogLine {
                        class,
                        text: first_line(&record),
                    });
                }
            }
        }
        state.files.retain(|id, _| seen.contains(id));
        let mut b = Batch::default();
        for class in CLASSES {
            let n = state.events.get(class).copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            b.push(&EVENTS, labels([("class", class)]), n as f64);
        }
        for s in SEVERITIES {
            let n = state.severities.get(s).copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            b.push(&MESSAGES, labels([("severity", s)]), n as f64);
        }
        #[allow(clippy::cast_precision_loss)]
        {
            b.set(&TEMP_BYTES, state.temp_bytes as f64);
            b.set(&FILES, files.len() as f64);
            b.set(&READ_BYTES, state.read as f64);
        }
        drop(state);
        let mut recent = lock(&self.recent);
        for line in found {
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(line);
        }
        let last: Vec<serde_json::Value> = recent
            .iter()
            .skip(recent.len().saturating_sub(EVIDENCE_LINES))
            .map(|l| serde_json::json!({"class": l.class, "line": l.text}))
            .collect();
        b.evidence.push(("server_log", serde_json::Value::Array(last)));
        Ok(b)
    }
}

impl ServerLogCollector {
    /// The last classified lines, oldest first (shared with whoever attaches evidence).
    pub fn recent(&self) -> Arc<Mutex<VecDeque<LogLine>>> {
        Arc::clone(&self.recent)
    }
}

/// Complete records of `bytes` after `partial`; what is left unfinished stays in `partial`.
/// A csvlog record ends at a newline outside quotes; the others at every newline.
fn split_records(partial: &mut Vec<u8>, bytes: &[u8], format: LogFormat) -> Vec<Vec<u8>> {
    let csv = format == LogFormat::Csvlog;
    // Inside quotes when the unfinished record holds an odd number of them.
    let mut quoted = csv && partial.iter().fold(false, |q, c| q ^ (*c == b'"'));
    let mut out = Vec::new();
    for &b in bytes {
        if b == b'\n' && !quoted {
            out.push(std::mem::take(partial));
            continue;
        }
        if csv && b == b'"' {
            quoted = !quoted;
        }
        if partial.len() < MAX_RECORD {
            partial.push(b);
        }
    }
    out
}

/// (severity, message) of one record.
fn parse(record: &[u8], format: LogFormat) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(record);
    match format {
        LogFormat::Jsonlog => {
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            Some((
                v.get("error_severity")?.as_str()?.to_owned(),
                v.get("message")?.as_str().unwrap_or_default().to_owned(),
            ))
        }
        LogFormat::Csvlog => {
            let fields = csv_fields(&text);
            Some((fields.get(11)?.clone(), fields.get(13)?.clone()))
        }
        LogFormat::Stderr => {
            static LEVEL: OnceLock<Regex> = OnceLock::new();
            let re = LEVEL.get_or_init(|| {
                Regex::new(r"(?:^|\s)(DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):  (.*)")
                    .unwrap_or_else(|e| unreachable!("a fixed regex: {e}"))
            });
            if text.starts_with('\t') {
                return None;
            }
            let c = re.captures(&text)?;
            Some((c[1].to_owned(), c[2].to_owned()))
        }
    }
}

/// The fields of one CSV record (quotes doubled inside quoted fields).
fn csv_fields(record: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The classes of a message.
pub fn classify(severity: &str, message: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    match severity {
        "FATAL" => out.push("fatal"),
        "PANIC" => out.push("panic"),
        _ => {}
    }
    let has = |s: &str| message.contains(s);
    for (class, found) in [
        ("out_of_memory", has("out of memory")),
        (
            "checksum_failure",
            has("page verification failed") || has("invalid page in block") || has("checksum failure"),
        ),
        (
            "too_many_connections",
            has("too many clients already") || has("remaining connection slots are reserved"),
        ),
        (
            "authentication_failure",
            has("authentication failed for user") || has("no pg_hba.conf entry"),
        ),
        (
            "archive_failed",
            has("archive command failed")
                || has("archive command was terminated")
                || (has("archiving write-ahead log file") && has("failed too many times")),
        ),
        ("checkpoints_too_frequent", has("checkpoints are occurring too frequently")),
        ("deadlock", has("deadlock detected")),
        ("lock_timeout", has("due to lock timeout")),
        ("statement_timeout", has("due to statement timeout")),
        (
            "idle_timeout",
            has("idle-in-transaction timeout") || has("idle-session timeout"),
        ),
        ("autovacuum_canceled", has("canceling autovacuum task")),
        ("standby_conflict", has("conflict with recovery")),
        ("temp_file", message.starts_with("temporary file: ")),
    ] {
        if found {
            out.push(class);
        }
    }
    out
}

/// The size of `temporary file: path "…", size N`.
fn temp_file_bytes(message: &str) -> Option<u64> {
    message.rsplit_once(", size ")?.1.trim().parse().ok()
}

fn first_line(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(record);
    let line = text.lines().next().unwrap_or_default();
    let mut end = line.len().min(500);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector(dir: &std::path::Path) -> ServerLogCollector {
        ServerLogCollector {
            pattern: format!("{}/*.log", dir.display()),
            format: LogFormat::Stderr,
            state: Mutex::default(),
            recent: Arc::default(),
        }
    }

    async fn deadlocks(c: &ServerLogCollector) -> f64 {
        let b = c.collect().await.unwrap();
        b.families
            .iter()
            .find(|f| f.name == "pg_log_events_total")
            .and_then(|f| f.samples.iter().find(|s| &*s.labels[0].1 == "deadlock"))
            .map_or(0.0, |s| s.value)
    }

    #[tokio::test]
    async fn history_is_skipped_and_rotation_and_truncation_lose_and_repeat_nothing() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let line = "2026-12-06 15:00:00.000 UTC [42] ERROR:  deadlock detected\n";
        let append = |name: &str, text: &str| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path().join(name))
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        };
        append("postgresql-1.log", line);
        let c = collector(dir.path());
        assert_eq!(deadlocks(&c).await, 0.0, "what was there at start is history");
        append("postgresql-1.log", line);
        assert_eq!(deadlocks(&c).await, 1.0);
        // Rotated by rename within the glob, written on, and a new file started.
        std::fs::rename(dir.path().join("postgresql-1.log"), dir.path().join("postgresql-1.old.log")).unwrap();
        append("postgresql-1.old.log", line);
        append("postgresql-2.log", line);
        assert_eq!(deadlocks(&c).await, 3.0);
        // Truncated in place (copytruncate) and written again to the same size: what is
        // there now is new.
        std::fs::write(
            dir.path().join("postgresql-2.log"),
            line.replace("15:00:00", "15:00:09"),
        )
        .unwrap();
        assert_eq!(deadlocks(&c).await, 4.0);
        // A line written in two parts counts once, when it ends.
        append("postgresql-2.log", &line[..30]);
        assert_eq!(deadlocks(&c).await, 4.0);
        append("postgresql-2.log", &line[30..]);
        assert_eq!(deadlocks(&c).await, 5.0);
    }

    #[test]
    fn records_of_each_format_are_classified() {
        let stderr = b"2026-12-06 15:00:00.000 UTC [42] app@db FATAL:  password authentication failed for user \"app\"\n\tcontinued\n2026-12-06 15:00:01.000 UTC [43] LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp43.0\", size 1048576\npart";
        let mut partial = Vec::new();
        let records = split_records(&mut partial, stderr, LogFormat::Stderr);
        assert_eq!(records.len(), 3);
        assert_eq!(partial, b"part");
        let (s, m) = parse(&records[0], LogFormat::Stderr).unwrap();
        assert_eq!(classify(&s, &m), ["fatal", "authentication_failure"]);
        assert!(parse(&records[1], LogFormat::Stderr).is_none());
        let (s, m) = parse(&records[2], LogFormat::Stderr).unwrap();
        assert_eq!(classify(&s, &m), ["temp_file"]);
        assert_eq!(temp_file_bytes(&m), Some(1_048_576));

        let csv = b"2026-12-06 15:00:00.000 UTC,\"app\",\"db\",42,\"[local]\",1.2,1,\"SELECT\",2026-12-06 15:00:00 UTC,3/4,0,ERROR,40P01,\"deadlock detected\",\"Process 42 waits for ShareLock; blocked by process 43.\nProcess 43 waits\",,,,,,\"UPDATE t SET v = 1\",,,\"psql\",\"client backend\",,0\n";
        let mut partial = Vec::new();
        let records = split_records(&mut partial, csv, LogFormat::Csvlog);
        assert_eq!(records.len(), 1, "a quoted newline does not end a csv record");
        let (s, m) = parse(&records[0], LogFormat::Csvlog).unwrap();
        assert_eq!((s.as_str(), m.as_str()), ("ERROR", "deadlock detected"));
        assert_eq!(classify(&s, &m), ["deadlock"]);

        let json = br#"{"timestamp":"2026-12-06 15:00:00.000 UTC","error_severity":"ERROR","state_code":"57014","message":"canceling statement due to statement timeout"}"#;
        let (s, m) = parse(json, LogFormat::Jsonlog).unwrap();
        assert_eq!(classify(&s, &m), ["statement_timeout"]);
    }
}
