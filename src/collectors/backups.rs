//! `backups` collector: `ls -t /backups/daily/ | head -n1`, done right.
//!
//! Exports per backup set `centinela_backup_newest_timestamp_seconds`,
//! `centinela_backup_newest_size_bytes`, `centinela_backup_newest_valid`,
//! `centinela_backup_files`, `centinela_backup_size_bytes`, and `centinela_backup_errors`
//! for a set that is missing, unreadable or empty.

use serde::Deserialize;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{every, CollectError, Collector, Schedule, Shared};
use std::time::Duration;
use crate::metrics::MetricDesc;
use crate::config::check::{glob_problem, unique_names, Problems};
use crate::metrics::{labels, Batch};
use crate::time::unix_seconds;

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"# [[backups]]: backup sets; none by default. Each: name = "daily",
# path = "/backups/daily", pattern = "*.dump" (default: every regular file),
# recursive = false. Newest file, its age, size and validity.
"#;

/// This module's part of the configuration: `backups`.
pub type Section = Vec<BackupConfig>;

/// A backup set: a directory and a pattern.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// The `name` label.
    pub name: String,
    /// The directory.
    pub path: PathBuf,
    /// Glob on file names; every regular file when absent.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Also look in subdirectories.
    #[serde(default)]
    pub recursive: bool,
}

// === metrics ===

crate::metrics! {
    BK_NEWEST_TIME: "centinela_backup_newest_timestamp_seconds", Gauge, ["name"],
        "Modification time of the newest backup file (unix seconds); absent when there is none.";
    BK_NEWEST_SIZE: "centinela_backup_newest_size_bytes", Gauge, ["name"],
        "Size of the newest backup file.";
    BK_NEWEST_VALID: "centinela_backup_newest_valid", Gauge, ["name"],
        "1 if the newest backup file looks valid: not empty, and with the right header for pg_dump custom format (PGDMP) or gzip (.gz).";
    BK_FILES: "centinela_backup_files", Gauge, ["name"],
        "Backup files in the set.";
    BK_SIZE: "centinela_backup_size_bytes", Gauge, ["name"],
        "Total size of the backup files in the set.";
    BK_ERROR: "centinela_backup_errors", Gauge, ["name", "reason"],
        "1 when the set cannot be read or holds nothing (reason missing, unreadable, empty).";
}


/// A backup set, compiled.
#[derive(Debug, Clone)]
pub struct BackupSet {
    /// The `name` label.
    pub name: String,
    /// The directory.
    pub path: PathBuf,
    /// The file-name pattern; none: every regular file.
    pub pattern: Option<glob::Pattern>,
    /// Also look in subdirectories.
    pub recursive: bool,
}

/// What one walk of a set found.
#[derive(Debug, Default, PartialEq)]
pub struct SetReport {
    /// Matching files.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// (path, modified, size)
    pub newest: Option<(PathBuf, SystemTime, u64)>,
    /// Why the walk failed, if it did.
    pub error: Option<&'static str>,
}

/// The newest backup of each set: its age, size and validity.
#[derive(Debug)]
pub struct BackupsCollector {
    sets: Vec<BackupSet>,
    /// Sets whose newest file did not look valid, as last logged.
    reported: crate::sync::Reported,
}

impl BackupsCollector {
    /// The collector for the configured sets (patterns already checked).
    pub fn new(config: &[BackupConfig]) -> Self {
        Self {
            reported: crate::sync::Reported::default(),
            sets: config
                .iter()
                .map(|b| BackupSet {
                    name: b.name.clone(),
                    path: b.path.clone(),
                    pattern: b
                        .pattern
                        .as_deref()
                        .and_then(|p| glob::Pattern::new(p).ok()),
                    recursive: b.recursive,
                })
                .collect(),
        }
    }
}

/// Walks one set (blocking I/O).
pub fn scan_set(set: &BackupSet) -> SetReport {
    let mut report = SetReport::default();
    if !set.path.is_dir() {
        report.error = Some("missing");
        return report;
    }
    let mut dirs = vec![set.path.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            report.error = Some("unreadable");
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if set.recursive {
                    dirs.push(entry.path());
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if set.pattern.as_ref().is_some_and(|p| !p.matches(&name)) {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            report.files += 1;
            report.bytes += meta.len();
            if report.newest.as_ref().is_none_or(|(_, t, _)| modified > *t) {
                report.newest = Some((entry.path(), modified, meta.len()));
            }
        }
    }
    if report.files == 0 && report.error.is_none() {
        report.error = Some("empty");
    }
    report
}

/// Non-empty, and for known formats the right magic bytes: `pg_dump`'s custom format starts
/// with `PGDMP`, gzip with 1f 8b. Other files only need to be non-empty.
pub fn looks_valid(path: &Path, size: u64) -> bool {
    if size == 0 {
        return false;
    }
    let mut head = [0u8; 5];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = &head[..read];
    let name = path.to_string_lossy().to_ascii_lowercase();
    // `name` is lower-cased above, so these comparisons ignore case.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    if name.ends_with(".gz") || name.ends_with(".tgz") {
        head.starts_with(&[0x1f, 0x8b])
    } else if name.ends_with(".dump") || name.ends_with(".backup") {
        head.starts_with(b"PGDMP")
    } else {
        read > 0
    }
}

impl Collector for BackupsCollector {
    const NAME: &'static str = "backups";
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
        (!section.is_empty()).then(|| (Self::new(section), interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let sets = self.sets.clone();
        let reports = tokio::task::spawn_blocking(move || {
            sets.iter()
                .map(|s| {
                    let r = scan_set(s);
                    let valid = r.newest.as_ref().map(|(p, _, size)| looks_valid(p, *size));
                    (s.name.clone(), r, valid)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| CollectError::Io(format!("backup scan failed: {e}")))?;
        let mut b = Batch::default();
        let mut invalid = Vec::new();
        #[allow(clippy::cast_precision_loss)]
        for (name, r, valid) in &reports {
            let l = labels([("name", name)]);
            if let Some((path, modified, size)) = &r.newest {
                b.push(&BK_NEWEST_TIME, l.clone(), unix_seconds(*modified));
                b.push(&BK_NEWEST_SIZE, l.clone(), *size as f64);
                b.push(
                    &BK_NEWEST_VALID,
                    l.clone(),
                    if *valid == Some(true) { 1.0 } else { 0.0 },
                );
                if *valid != Some(true) {
                    invalid.push((name.clone(), path.display().to_string()));
                }
            }
            b.push(&BK_FILES, l.clone(), r.files as f64);
            b.push(&BK_SIZE, l, r.bytes as f64);
        }
        for (name, file) in self.reported.update(invalid) {
            tracing::warn!(backup = %name, file = %file, "Newest backup does not look valid.");
        }
        for (name, r, _) in &reports {
            if let Some(reason) = r.error {
                b.push(&BK_ERROR, labels([("name", name), ("reason", reason)]), 1.0);
            }
        }
        Ok(b)
    }
}

/// Checks `[[backups]]`: unique names and valid patterns.
pub fn check(config: &[BackupConfig], errors: &mut Problems) {
    errors.extend(unique_names("backups", config.iter().map(|x| x.name.as_str())));
    for (i, b) in config.iter().enumerate() {
        if let Some(p) = &b.pattern {
            errors.extend(glob_problem(format!("backups[{i}].pattern"), p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_by_format() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, data: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, data).unwrap();
            p
        };
        let ok_dump = write("a.dump", b"PGDMP\x01\x0e");
        let bad_dump = write("b.dump", b"<html>");
        let ok_gz = write("c.sql.gz", &[0x1f, 0x8b, 8, 0]);
        let bad_gz = write("d.sql.gz", b"plain");
        let empty = write("e.sql", b"");
        let plain = write("f.sql", b"CREATE TABLE");
        assert!(looks_valid(&ok_dump, 7));
        assert!(!looks_valid(&bad_dump, 6));
        assert!(looks_valid(&ok_gz, 4));
        assert!(!looks_valid(&bad_gz, 5));
        assert!(!looks_valid(&empty, 0));
        assert!(looks_valid(&plain, 12));
    }
}
