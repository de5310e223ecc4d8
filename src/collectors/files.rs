//! `files` collector: `find /tmp -name "dtem_*" -mtime +1` and
//! `grep -c ERROR app.log.$(date +%Y-%m-%d)`, continuously.
//!
//! Exports `centinela_stale_files{name}`, `centinela_stale_files_bytes{name}`,
//! `centinela_stale_files_errors{name,reason}`, and per log `centinela_log_matches{name}`
//! (today's matching lines), `centinela_log_matches_total{name}` and
//! `centinela_log_file_present{name}`.
//!
//! Logs are read incrementally: only bytes written since the last run. The file handle is
//! kept between runs, so when the file is rotated (renamed, a new one created) the rest of
//! the old file is read before the new one; when it is truncated (copytruncate) reading
//! starts again at 0. The counter never counts a line twice and never goes backwards; the
//! gauge counts today's lines and starts over when the date, and so the path, changes.

use serde::Deserialize;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use regex::bytes::Regex;

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::metrics::MetricDesc;
use crate::config::check::{glob_problem, unique_names, ConfigError, Problems};
use crate::metrics::{labels, Batch};

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[files]
# Stale files: [[files.stale]] name = "tmp", path = "/tmp", pattern = "dtem_*", older_than = "1d"
stale = []
# Matching lines in today's log: [[files.logs]] name = "app",
# path = "/var/log/app.log.%Y-%m-%d", pattern = "ERROR"
logs = []
"#;

/// This module's part of the configuration: `files`.
pub type Section = FilesConfig;

/// `[files]`: stale files and log lines.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Directories searched for stale files.
    pub stale: Vec<StaleFilesConfig>,
    /// Logs whose matching lines are counted.
    pub logs: Vec<LogConfig>,
}

/// Files matching a pattern and older than an age.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleFilesConfig {
    /// The `name` label.
    pub name: String,
    /// Directory searched, recursively, like `find`.
    pub path: PathBuf,
    /// Glob on file names.
    pub pattern: String,
    /// Older than this is stale.
    #[serde(with = "humantime_serde")]
    pub older_than: Duration,
}

/// A log (today's file) whose matching lines are counted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The `name` label.
    pub name: String,
    /// Path with strftime fields (`%Y-%m-%d`), resolved in local time: today's file.
    pub path: String,
    /// Regular expression matched against each line.
    pub pattern: String,
}

// === metrics ===

crate::metrics! {
    STALE_FILES: "centinela_stale_files", Gauge, ["name"],
        "Files matching the pattern older than older_than (find -mtime).";
    STALE_BYTES: "centinela_stale_files_bytes", Gauge, ["name"],
        "Total size of those files.";
    STALE_ERROR: "centinela_stale_files_errors", Gauge, ["name", "reason"],
        "1 when the directory cannot be read (missing, unreadable) or the walk was cut short (truncated).";
    LOG_MATCHES: "centinela_log_matches", Gauge, ["name"],
        "Lines matching the pattern in today's file (grep -c); starts over when the date, and so the file, changes.";
    LOG_MATCHES_TOTAL: "centinela_log_matches_total", Counter, ["name"],
        "Matching lines seen since centinela started, across days, truncation and rotation; never counts a line twice.";
    LOG_FILE_PRESENT: "centinela_log_file_present", Gauge, ["name"],
        "1 if today's file exists.";
}


/// Entries a stale-file walk visits before it stops and says so.
const MAX_WALK_ENTRIES: usize = 1_000_000;
/// Bytes of log read per run at most; the rest is read in the following runs.
const MAX_READ_PER_RUN: u64 = 256 * 1024 * 1024;

/// A stale-file search, compiled.
#[derive(Debug, Clone)]
pub struct StaleSpec {
    /// The `name` label.
    pub name: String,
    /// The directory.
    pub path: PathBuf,
    /// The file-name pattern.
    pub pattern: glob::Pattern,
    /// The age.
    pub older_than: Duration,
}

/// (files, bytes, error)
pub fn scan_stale(spec: &StaleSpec, now: SystemTime) -> (u64, u64, Option<&'static str>) {
    if !spec.path.is_dir() {
        return (0, 0, Some("missing"));
    }
    let (mut files, mut bytes, mut visited, mut error) = (0, 0, 0usize, None);
    let mut dirs = vec![spec.path.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            // Like find, an unreadable subdirectory is reported and the rest still counted.
            error = Some("unreadable");
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > MAX_WALK_ENTRIES {
                return (files, bytes, Some("truncated"));
            }
            // symlink_metadata: links are not followed, as find does by default.
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() && spec.pattern.matches(&entry.file_name().to_string_lossy()) {
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok());
                if age.is_some_and(|a| a > spec.older_than) {
                    files += 1;
                    bytes += meta.len();
                }
            }
        }
    }
    (files, bytes, error)
}

/// Incremental matcher for one log.
#[derive(Debug)]
pub struct LogTail {
    template: String,
    pattern: Regex,
    path: Option<PathBuf>,
    file: Option<File>,
    inode: (u64, u64),
    offset: u64,
    partial: Vec<u8>,
    /// Matching lines in today's file.
    pub today: u64,
    /// Matching lines since start.
    pub total: u64,
    /// Whether today's file exists.
    pub present: bool,
}

impl LogTail {
    /// A tail of the log whose path is `template` (strftime fields), counting `pattern`.
    pub fn new(template: &str, pattern: Regex) -> Self {
        Self {
            template: template.to_owned(),
            pattern,
            path: None,
            file: None,
            inode: (0, 0),
            offset: 0,
            partial: Vec::new(),
            today: 0,
            total: 0,
            present: false,
        }
    }

    /// Reads what was written since the last call; `path` is today's path.
    pub fn poll_path(&mut self, path: &Path) {
        if self.path.as_deref() != Some(path) {
            // A new day: what yesterday's file still got is counted in the total only.
            if self.file.is_some() {
                let late = self.drain();
                self.total += late;
            }
            self.path = Some(path.to_path_buf());
            self.file = None;
            self.today = 0;
        }
        let meta = std::fs::metadata(path).ok();
        self.present = meta.is_some();
        let Some(meta) = meta.filter(std::fs::Metadata::is_file) else {
            // Rotated away and not yet recreated (or not a regular file: a FIFO would
            // block the read): finish the old file.
            self.present = false;
            self.count_drained();
            return;
        };
        let id = (meta.dev(), meta.ino());
        if self.file.is_none() || id != self.inode {
            // Rotated: finish the old file, then start the new one from its beginning.
            self.count_drained();
            if let Ok(f) = crate::bounded::open(path) {
                self.file = Some(f);
                self.inode = id;
                self.offset = 0;
                self.partial.clear();
            } else {
                self.present = false;
                return;
            }
        }
        if meta.len() < self.offset {
            // Truncated in place: what is there now is new.
            self.offset = 0;
            self.partial.clear();
        }
        self.count_drained();
    }

    /// Reads what was written to today's file since the last call.
    pub fn poll(&mut self, now: chrono::DateTime<chrono::Local>) {
        let path = PathBuf::from(now.format(&self.template).to_string());
        self.poll_path(&path);
    }

    fn count_drained(&mut self) {
        let n = self.drain();
        self.today += n;
        self.total += n;
    }

    /// Matching complete lines from the handle's offset to its end, read in chunks: memory
    /// stays at one chunk plus one line however large the file or however long a line.
    fn drain(&mut self) -> u64 {
        let Some(file) = self.file.as_mut() else {
            return 0;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return 0;
        }
        let mut n = 0;
        let mut left = MAX_READ_PER_RUN;
        let mut buf = vec![0u8; READ_CHUNK];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let read = match file.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(r) => r,
            };
            left -= read as u64;
            self.offset += read as u64;
            let mut rest = &buf[..read];
            while let Some(i) = rest.iter().position(|b| *b == b'\n') {
                let line = &rest[..i];
                let matched = if self.partial.is_empty() {
                    !line.is_empty() && self.pattern.is_match(line)
                } else {
                    extend_capped(&mut self.partial, line);
                    let m = self.pattern.is_match(&self.partial);
                    self.partial.clear();
                    m
                };
                n += u64::from(matched);
                rest = &rest[i + 1..];
            }
            extend_capped(&mut self.partial, rest);
        }
        n
    }
}

/// Bytes read at once from a log.
const READ_CHUNK: usize = 1 << 20;

/// A line longer than this is matched on its first this many bytes.
const MAX_LINE: usize = 64 << 10;

fn extend_capped(partial: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_LINE.saturating_sub(partial.len());
    partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Stale files and error lines in today's logs.
#[derive(Debug)]
pub struct FilesCollector {
    stale: Vec<StaleSpec>,
    logs: Arc<Mutex<Vec<(String, LogTail)>>>,
}

impl FilesCollector {
    /// The collector for `[files]` (patterns already checked).
    pub fn new(config: &FilesConfig) -> Self {
        Self {
            stale: config
                .stale
                .iter()
                .filter_map(|s| {
                    Some(StaleSpec {
                        name: s.name.clone(),
                        path: s.path.clone(),
                        pattern: glob::Pattern::new(&s.pattern).ok()?,
                        older_than: s.older_than,
                    })
                })
                .collect(),
            logs: Arc::new(Mutex::new(
                config
                    .logs
                    .iter()
                    .filter_map(|l| {
                        Some((
                            l.name.clone(),
                            LogTail::new(&l.path, Regex::new(&l.pattern).ok()?),
                        ))
                    })
                    .collect(),
            )),
        }
    }
}

impl Collector for FilesCollector {
    const NAME: &'static str = "files";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("1m");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        _shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        check(section, problems);
        let interval = every::<Self>(problems, schedule);
        (!section.stale.is_empty() || !section.logs.is_empty())
            .then(|| (Self::new(section), interval))
    }

    #[allow(clippy::cast_precision_loss)]
    async fn collect(&self) -> Result<Batch, CollectError> {
        let stale = self.stale.clone();
        let logs = Arc::clone(&self.logs);
        tokio::task::spawn_blocking(move || {
            let now = SystemTime::now();
            let mut b = Batch::default();
            let stale: Vec<_> = stale.iter().map(|s| (s, scan_stale(s, now))).collect();
            for (s, (files, _, _)) in &stale {
                b.push(&STALE_FILES, labels([("name", &s.name)]), *files as f64);
            }
            for (s, (_, bytes, _)) in &stale {
                b.push(&STALE_BYTES, labels([("name", &s.name)]), *bytes as f64);
            }
            for (s, (_, _, error)) in &stale {
                if let Some(reason) = error {
                    b.push(
                        &STALE_ERROR,
                        labels([("name", &s.name), ("reason", reason)]),
                        1.0,
                    );
                }
            }
            let mut logs = crate::sync::lock(&logs);
            let today = chrono::Local::now();
            for (_, tail) in logs.iter_mut() {
                tail.poll(today);
            }
            for (name, tail) in logs.iter() {
                b.push(&LOG_MATCHES, labels([("name", name)]), tail.today as f64);
            }
            for (name, tail) in logs.iter() {
                b.push(
                    &LOG_MATCHES_TOTAL,
                    labels([("name", name)]),
                    tail.total as f64,
                );
            }
            for (name, tail) in logs.iter() {
                b.push(
                    &LOG_FILE_PRESENT,
                    labels([("name", name)]),
                    if tail.present { 1.0 } else { 0.0 },
                );
            }
            Ok(b)
        })
        .await
        .map_err(|e| CollectError::Io(format!("files scan failed: {e}")))?
    }
}

/// Sets a file's modification time (tests and the demo age files this way).
pub fn set_mtime(path: &Path, t: SystemTime) -> std::io::Result<()> {
    File::options().write(true).open(path)?.set_modified(t)
}

/// Checks `[files]`: unique names, globs, regular expressions and strftime paths.
pub fn check(config: &FilesConfig, errors: &mut Problems) {
    errors.extend(unique_names("files.stale", config.stale.iter().map(|x| x.name.as_str())));
    for (i, f) in config.stale.iter().enumerate() {
        errors.extend(glob_problem(format!("files.stale[{i}].pattern"), &f.pattern));
    }
    errors.extend(unique_names("files.logs", config.logs.iter().map(|x| x.name.as_str())));
    for (i, l) in config.logs.iter().enumerate() {
        if let Err(e) = regex::Regex::new(&l.pattern) {
            errors.push(ConfigError::new(
                format!("files.logs[{i}].pattern"),
                format!("invalid regular expression: {e}"),
            ));
        }
        if chrono::format::StrftimeItems::new(&l.path)
            .any(|i| matches!(i, chrono::format::Item::Error))
        {
            errors.push(ConfigError::new(
                format!("files.logs[{i}].path"),
                format!("invalid strftime field in {:?}", l.path),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn append(path: &Path, text: &str) {
        let mut f = File::options()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_line_without_end_keeps_memory_bounded_and_still_matches_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let mut t = LogTail::new("", Regex::new("ERROR").unwrap());
        // 8 MB without a newline: read in chunks, only the first MAX_LINE bytes kept.
        append(&log, "ERROR at the start ");
        append(&log, &"x".repeat(8 << 20));
        t.poll_path(&log);
        assert_eq!(t.total, 0, "not a line yet");
        assert_eq!(t.partial.len(), MAX_LINE);
        append(&log, " end\nERROR next\n");
        t.poll_path(&log);
        assert_eq!(t.total, 2, "the long line is matched on its start, then the next");
        assert!(t.partial.is_empty());
        assert!(t.partial.capacity() <= 2 * MAX_LINE);
    }

    #[test]
    fn grows_truncates_rotates_and_changes_day_without_double_counting() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let mut t = LogTail::new("", Regex::new("ERROR").unwrap());
        t.poll_path(&log);
        assert_eq!((t.today, t.total, t.present), (0, 0, false));

        append(&log, "ok\nERROR one\nERROR two\nERR");
        t.poll_path(&log);
        assert_eq!((t.today, t.total), (2, 2), "the partial last line waits");
        append(&log, "OR three\nfine\n");
        t.poll_path(&log);
        assert_eq!((t.today, t.total), (3, 3));
        t.poll_path(&log);
        assert_eq!((t.today, t.total), (3, 3), "nothing new, nothing counted");

        // copytruncate: the same file starts over.
        std::fs::write(&log, "").unwrap();
        append(&log, "ERROR after truncate\n");
        t.poll_path(&log);
        assert_eq!((t.today, t.total), (4, 4));

        // Rotation: lines written to the old file after the last poll are still counted.
        append(&log, "ERROR late in old file\n");
        std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
        t.poll_path(&log);
        assert_eq!((t.today, t.total, t.present), (5, 5, false));
        append(&log, "ERROR in new file\nok\n");
        t.poll_path(&log);
        assert_eq!((t.today, t.total, t.present), (6, 6, true));

        // A new day: a new path; the gauge starts over, the counter goes on.
        let tomorrow = dir.path().join("app.log.tomorrow");
        append(&tomorrow, "ERROR tomorrow\n");
        append(&log, "ERROR written to yesterday's file after midnight\n");
        t.poll_path(&tomorrow);
        assert_eq!((t.today, t.total), (1, 8));
    }

    #[test]
    fn stale_files_by_pattern_and_age_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3 * 86400);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for (name, data, aged) in [
            ("dtem_a", "12345", true),
            ("sub/dtem_b", "123", true),
            ("dtem_new", "1", false),
            ("other_old", "1", true),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, data).unwrap();
            if aged {
                set_mtime(&p, old).unwrap();
            }
        }
        let spec = StaleSpec {
            name: "tmp".into(),
            path: dir.path().into(),
            pattern: glob::Pattern::new("dtem_*").unwrap(),
            older_than: Duration::from_secs(86400),
        };
        assert_eq!(scan_stale(&spec, SystemTime::now()), (2, 8, None));
        let missing = StaleSpec {
            path: dir.path().join("nope"),
            ..spec
        };
        assert_eq!(
            scan_stale(&missing, SystemTime::now()),
            (0, 0, Some("missing"))
        );
    }
}
