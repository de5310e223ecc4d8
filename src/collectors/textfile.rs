//! `textfile` collector: `node_exporter`'s textfile collector, for the rest of the scripts.
//!
//! Every `*.prom` file in the directory (written atomically by cron jobs: write a temp file,
//! then rename) is parsed and merged into `/metrics`. A file that does not parse, that uses
//! client-side timestamps, or that redefines a metric centinela or another file exports is
//! skipped whole with `centinela_textfile_scrape_error{file} 1`; the others still load.
//! Histogram and summary samples, and counters not named `…_total`, are served untyped.
//! Every input is bounded: a file's size, the series of all files together, and the time a
//! run may parse; what passes a bound is skipped and named.

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::{every, CollectError, Collector, Schedule, Shared};
use crate::config::check::Problems;
use std::time::Duration;
use crate::metrics::MetricDesc;
use crate::metrics::{labels, Batch, Family, Labels, MetricKind, Sample};
use crate::time::unix_seconds;

crate::message_error! {
    /// A textfile line that `node_exporter`'s parser would refuse (the text names the line).
    TextfileError
}

// === configuration ===

/// The documented defaults of this collector's section (part of `centinela defaults`).
pub const DEFAULTS: &str = r#"[textfile]
# Directory of *.prom files written by other tools (node_exporter's textfile format).
# directory = "/var/lib/centinela/textfile"
# A larger file is skipped (centinela_textfile_scrape_error 1) without being read.
max_file_size = "16MiB"
# Series of all files together, at most; the file that would pass it is skipped.
max_series = 100000
"#;

/// This module's part of the configuration: `textfile`.
pub type Section = TextfileConfig;

/// `[textfile]`: `node_exporter`'s textfile directory.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextfileConfig {
    /// The directory of `*.prom` files; none: off.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Files larger than this are skipped unread.
    pub max_file_size: bytesize::ByteSize,
    /// Series of all files together, at most.
    pub max_series: usize,
}

// === metrics ===

crate::metrics! {
    TEXTFILE_ERROR: "centinela_textfile_scrape_error", Gauge, ["file"],
        "1 if the *.prom file could not be read or parsed (it is skipped; the others still load), 0 if it loaded.";
    TEXTFILE_MTIME: "centinela_textfile_mtime_seconds", Gauge, ["file"],
        "Modification time of each *.prom file that loaded.";
}


/// Other tools' `*.prom` files, checked as `node_exporter` checks them.
#[derive(Debug)]
pub struct TextfileCollector {
    directory: PathBuf,
    limits: Limits,
    reported: Arc<crate::sync::Reported>,
    /// Names other collectors choose at run time (custom queries' metrics).
    reserved: Arc<HashSet<String>>,
}

/// What one run may read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one file.
    pub max_file_size: u64,
    /// Series of all files together.
    pub max_series: usize,
    /// Time one run may spend parsing.
    pub budget: Duration,
}

impl TextfileCollector {
    /// The collector for the `*.prom` files of `directory`.
    pub fn new(directory: PathBuf, limits: Limits) -> Self {
        Self {
            directory,
            limits,
            reported: Arc::default(),
            reserved: Arc::default(),
        }
    }
}

/// Parses one file of Prometheus text format into families; the error names the line.
pub fn parse(text: &str) -> Result<Vec<Family>, TextfileError> {
    parse_bounded(text, usize::MAX, None)
}

/// [`parse`], refusing more than `max_series` samples and giving up at `deadline`.
pub fn parse_bounded(
    text: &str,
    max_series: usize,
    deadline: Option<std::time::Instant>,
) -> Result<Vec<Family>, TextfileError> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut series = 0usize;
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if n % 4096 == 0 && deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(TextfileError::from(format!(
                "line {n}: parsing stopped, the file takes longer than the collector's interval"
            )));
        }
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut parts = rest.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), help) => {
                    check_name(name).map_err(|e| TextfileError::from(format!("line {n}: {e}")))?;
                    helps.insert(name.to_owned(), unescape_help(help.unwrap_or_default()));
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    check_name(name).map_err(|e| TextfileError::from(format!("line {n}: {e}")))?;
                    let kind = kind.trim();
                    if !matches!(
                        kind,
                        "counter" | "gauge" | "untyped" | "histogram" | "summary"
                    ) {
                        return Err(TextfileError::from(format!("line {n}: unknown type {kind:?}")));
                    }
                    if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(TextfileError::from(format!("line {n}: second TYPE line for {name}")));
                    }
                }
                _ => {}
            }
            continue;
        }
        let (name, labels, value) = parse_sample(line).map_err(|e| TextfileError::from(format!("line {n}: {e}")))?;
        series += 1;
        if series > max_series {
            return Err(TextfileError::from(format!(
                "line {n}: the series limit is reached (textfile.max_series, counting the files before this one)"
            )));
        }
        let key = format!("{name}{labels:?}");
        if !seen.insert(key) {
            return Err(TextfileError::from(format!("line {n}: duplicate series {name}")));
        }
        let base = [
            name.as_str(),
            name.strip_suffix("_bucket").unwrap_or(&name),
            name.strip_suffix("_sum").unwrap_or(&name),
            name.strip_suffix("_count").unwrap_or(&name),
        ]
        .into_iter()
        .find(|b| types.contains_key(*b))
        .unwrap_or(&name)
        .to_owned();
        let kind = match types.get(&base).map(String::as_str) {
            Some("gauge") if base == name => MetricKind::Gauge,
            Some("counter") if base == name && name.ends_with("_total") => MetricKind::Counter,
            _ => MetricKind::Untyped,
        };
        let help = helps
            .get(&name)
            .or_else(|| helps.get(&base))
            .cloned()
            .unwrap_or_else(|| format!("From a textfile ({base})."));
        let labels: Labels = labels
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), Arc::<str>::from(v)))
            .collect();
        if let Some(&f) = index.get(&name) {
            families[f].samples.push(Sample { labels, value });
        } else {
            index.insert(name.clone(), families.len());
            families.push(Family {
                name: Cow::Owned(name),
                help: Cow::Owned(help),
                kind,
                samples: vec![Sample { labels, value }],
            });
        }
    }
    Ok(families)
}

fn check_name(name: &str) -> Result<(), TextfileError> {
    if crate::metrics::valid_name(name) {
        Ok(())
    } else {
        Err(TextfileError::from(format!("invalid metric name {name:?}")))
    }
}

/// `# HELP` text unescaped in one pass: `\\` is a backslash and `\n` a newline, so an
/// escaped backslash followed by `n` stays a backslash and an `n`.
fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

type Parsed = (String, Vec<(String, String)>, f64);

fn parse_sample(line: &str) -> Result<Parsed, TextfileError> {
    let name_end = line
        .find(['{', ' ', '\t'])
        .ok_or(TextfileError::from("a sample needs a value"))?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut pairs = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        loop {
            while chars.peek().is_some_and(|(_, c)| *c == ' ' || *c == ',') {
                chars.next();
            }
            match chars.peek() {
                Some((i, '}')) => {
                    rest = &after[i + 1..];
                    break;
                }
                None => return Err(TextfileError::from("unterminated label set")),
                _ => {}
            }
            let mut label = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                label.push(c);
            }
            let label = label.trim().to_owned();
            let valid = label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(TextfileError::from(format!("invalid label name {label:?}")));
            }
            if label.starts_with("__") {
                // `__name__` would break the whole exposition; `__`-names are Prometheus' own.
                return Err(TextfileError::from(format!(
                    "label name {label:?} is reserved (names starting with __ are Prometheus' own)"
                )));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(TextfileError::from(format!("label {label} needs a quoted value")));
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        _ => return Err(TextfileError::from("invalid escape in a label value")),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(TextfileError::from("unterminated label value"));
            }
            if pairs.iter().any(|(k, _): &(String, String)| *k == label) {
                return Err(TextfileError::from(format!("label {label} given twice")));
            }
            pairs.push((label, value));
        }
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or(TextfileError::from("a sample needs a value"))?;
    let value = match value {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .map_err(|_| TextfileError::from(format!("invalid value {v:?}")))?,
    };
    if fields.next().is_some() {
        return Err(TextfileError::from("client-side timestamps are not supported"));
    }
    pairs.sort();
    Ok((name.to_owned(), pairs, value))
}

impl Collector for TextfileCollector {
    const NAME: &'static str = "textfile";
    const METRICS: &'static [&'static MetricDesc] = METRICS;

    type Section = Section;
    const SCHEDULE: Option<&'static str> = Some("15s");

    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)> {
        let interval = every::<Self>(problems, schedule);
        if section.max_series == 0 {
            problems.push(crate::config::ConfigError::new(
                "textfile.max_series",
                "must be at least 1",
            ));
        }
        let dir = section.directory.as_ref()?;
        let limits = Limits {
            max_file_size: section.max_file_size.as_u64(),
            max_series: section.max_series,
            budget: interval,
        };
        let mut collector = Self::new(dir.clone(), limits);
        if let Some(custom) = &shared.custom {
            collector.reserved = Arc::new(custom.names.clone());
        }
        Some((collector, interval))
    }

    async fn collect(&self) -> Result<Batch, CollectError> {
        let dir = self.directory.clone();
        let limits = self.limits;
        let reported = Arc::clone(&self.reported);
        let reserved = Arc::clone(&self.reserved);
        // The thread stops by itself at the deadline: a run abandoned by its timeout must
        // not leave a thread parsing (it would also hold the process at shutdown).
        let deadline = std::time::Instant::now() + limits.budget;
        tokio::task::spawn_blocking(move || {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| {
                    CollectError::Io(format!(
                        "cannot read textfile directory {}: {e}",
                        dir.display()
                    ))
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "prom") && p.is_file())
                .collect();
            files.sort();
            let mut b = Batch::default();
            let mut status = Vec::new();
            let mut owned: HashSet<String> = HashSet::new();
            let mut series = 0usize;
            let mut skipped: Vec<(String, String)> = Vec::new();
            for path in files {
                let file = path.display().to_string();
                let loaded = crate::bounded::read_to_string(&path, limits.max_file_size)
                    .map_err(|e| match e {
                        crate::bounded::ReadError::TooLarge { .. } => {
                            TextfileError::from(format!("{e} (textfile.max_file_size)"))
                        }
                        e => TextfileError::from(format!("unreadable: {e}")),
                    })
                    .and_then(|text| {
                        parse_bounded(&text, limits.max_series - series, Some(deadline))
                    })
                    .and_then(|families| {
                        for f in &families {
                            if super::find_metric(&f.name).is_some() {
                                return Err(TextfileError::from(format!("{} is a centinela metric", f.name)));
                            }
                            if reserved.contains(&*f.name) {
                                return Err(TextfileError::from(format!(
                                    "{} is a custom query's metric (postgres.query_files, postgres.queries)",
                                    f.name
                                )));
                            }
                            if owned.contains(&*f.name) {
                                return Err(TextfileError::from(format!(
                                    "{} is already defined by another file",
                                    f.name
                                )));
                            }
                        }
                        Ok(families)
                    });
                match loaded {
                    Ok(families) => {
                        series += families.iter().map(|f| f.samples.len()).sum::<usize>();
                        owned.extend(families.iter().map(|f| f.name.to_string()));
                        b.families.extend(families);
                        let mtime = std::fs::metadata(&path)
                            .and_then(|m| m.modified())
                            .map_or(0.0, unix_seconds);
                        status.push((file, Some(mtime)));
                    }
                    Err(e) => {
                        skipped.push((file.clone(), e.to_string()));
                        status.push((file, None));
                    }
                }
            }
            for (file, error) in reported.update(skipped) {
                tracing::warn!(file = %file, error = %error, "Textfile skipped.");
            }
            for (file, mtime) in &status {
                b.push(
                    &TEXTFILE_ERROR,
                    labels([("file", file)]),
                    if mtime.is_some() { 0.0 } else { 1.0 },
                );
            }
            for (file, mtime) in &status {
                if let Some(t) = mtime {
                    b.push(&TEXTFILE_MTIME, labels([("file", file)]), *t);
                }
            }
            Ok(b)
        })
        .await
        .map_err(|e| CollectError::Io(format!("textfile scan failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_text_is_unescaped_in_one_pass() {
        assert_eq!(unescape_help(r"a\nb"), "a\nb");
        assert_eq!(unescape_help(r"C:\\new"), r"C:\new");
        assert_eq!(unescape_help(r"x\\\n"), "x\\\n");
        assert_eq!(unescape_help(r"trailing\"), r"trailing\");
    }

    #[test]
    fn parses_typed_families_and_labels() {
        let f = parse(
            "# HELP apt_upgrades_pending Pending upgrades.\n# TYPE apt_upgrades_pending gauge\n\
             apt_upgrades_pending{origin=\"security\",arch=\"amd64\"} 3\n\
             apt_upgrades_pending{origin=\"a \\\"q\\\" b\"} 0\n\
             # TYPE jobs_total counter\njobs_total 12\n# TYPE runs counter\nruns 4\nplain NaN\n",
        )
        .unwrap();
        let names: Vec<_> = f.iter().map(|f| (&*f.name, f.kind)).collect();
        assert_eq!(
            names,
            [
                ("apt_upgrades_pending", MetricKind::Gauge),
                ("jobs_total", MetricKind::Counter),
                ("runs", MetricKind::Untyped),
                ("plain", MetricKind::Untyped),
            ]
        );
        assert_eq!(f[0].help, "Pending upgrades.");
        assert_eq!(f[0].samples.len(), 2);
        assert_eq!(&*f[0].samples[1].labels[0].1, "a \"q\" b");
    }

    #[test]
    fn many_names_parse_in_linear_time_and_bounds_are_named() {
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!("m_{i} {i}\n"));
        }
        let started = std::time::Instant::now();
        assert_eq!(parse(&text).unwrap().len(), 200_000);
        // Quadratic search took minutes at this size; linear takes well under a second
        // even in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let e = parse_bounded(&text, 1000, None).unwrap_err();
        assert!(e.0.starts_with("line 1001: the series limit is reached"), "{e}");
        let past = std::time::Instant::now();
        let e = parse_bounded(&text, usize::MAX, Some(past)).unwrap_err();
        assert!(e.0.contains("parsing stopped"), "{e}");
    }

    #[test]
    fn histograms_become_untyped_families() {
        let f = parse("# TYPE lat histogram\nlat_bucket{le=\"1\"} 2\nlat_bucket{le=\"+Inf\"} 3\nlat_sum 4\nlat_count 3\n").unwrap();
        assert_eq!(f.len(), 3);
        assert!(f.iter().all(|f| f.kind == MetricKind::Untyped));
    }

    #[test]
    fn rejects_what_prometheus_would() {
        for (text, why) in [
            ("9bad 1\n", "invalid metric name"),
            ("m{l=\"x} 1\n", "unterminated"),
            ("m{l=x} 1\n", "quoted value"),
            ("m one\n", "invalid value"),
            ("m 1 1700000000000\n", "timestamps"),
            ("m 1\nm 2\n", "duplicate series"),
            ("# TYPE m gauge\n# TYPE m counter\n", "second TYPE"),
            ("m{a=\"1\",a=\"2\"} 1\n", "twice"),
            ("m{__name__=\"x\"} 1\n", "is reserved"),
            ("m{__meta=\"x\"} 1\n", "is reserved"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.0.contains(why) && e.0.starts_with("line "), "{text:?}: {e}");
        }
    }
}
