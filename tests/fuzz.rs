//! Property-based fuzzing of the parsers hostile input reaches (issue 13): the textfile
//! parser, the configuration and web configuration loaders, rule files, templates, PromQL
//! evaluation and the receivers' answers. Inputs are seeds from `tests/fuzz-corpus/`
//! mutated at random (inserted, deleted, duplicated and swapped bytes and tokens), and
//! inputs generated from scratch. Every target must not panic; where the output has a
//! property to check, it is checked.
//!
//! `FUZZ_CASES` sets the cases per target (default 300, the short run CI makes).
//! Failing cases are kept in `tests/fuzz.proptest-regressions` and replayed first.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// A target is run for its panics; most results are dropped on purpose.
#![allow(clippy::let_underscore_must_use)]

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;

use centinela::alerting::notify::worker::{classify, retry_after};
use centinela::alerting::notify::Integration;
use centinela::alerting::rules::template::{Data, Template};
use centinela::alerting::rules::RuleSet;
use centinela::collectors::textfile;
use centinela::metrics::{encode, Batch, Format};
use centinela::promql::{self, Evaluator, History, LabelSet, Value};

fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "tests/fuzz.proptest-regressions",
            ),
        )),
        ..ProptestConfig::default()
    }
}

/// The seeds of one target: each file of its corpus folder, or each line for `*.txt`.
fn corpus(target: &str) -> &'static [String] {
    static ALL: OnceLock<std::collections::HashMap<String, Vec<String>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
        let mut map = std::collections::HashMap::new();
        for dir in std::fs::read_dir(&root).unwrap().flatten() {
            let mut seeds = Vec::new();
            let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
            files.sort_by_key(std::fs::DirEntry::path);
            for f in files {
                let text = std::fs::read_to_string(f.path()).unwrap();
                if f.path().extension().is_some_and(|e| e == "txt") {
                    seeds.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
                } else {
                    seeds.push(text);
                }
            }
            map.insert(dir.file_name().to_string_lossy().into_owned(), seeds);
        }
        map
    });
    &all[target]
}

/// Fragments that tend to matter to these parsers.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    "\\",
    "\n",
    "=",
    ",",
    "#",
    " ",
    "__name__",
    "NaN",
    "+Inf",
    "-Inf",
    "1e308",
    "[",
    "]",
    "(",
    ")",
    "{{",
    "}}",
    "|",
    "$",
    "$labels",
    "$value",
    ":",
    "'",
    "[[",
    "]]",
    "\u{0}",
    "é",
    "0x",
    "-",
    "@",
    "offset",
    "by",
    "on",
    "group_left",
    "bool",
    "5m",
    "0s",
    "999999999999y",
    "~",
    "!~",
    "=~",
    "TYPE",
    "HELP",
    "counter",
    "histogram",
    "le",
];

/// An edit of a seed: (kind, position, token or byte, length).
type Edit = (u8, usize, usize, usize);

fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for &(kind, pos, tok, len) in edits {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match kind % 5 {
            0 => {
                let t = TOKENS[tok % TOKENS.len()].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            1 => {
                let end = (at + len % 16).min(b.len());
                b.drain(at..end);
            }
            2 => {
                let end = (at + len % 64).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
            3 => {
                if at < b.len() {
                    b[at] = u8::try_from(tok % 256).unwrap();
                }
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// A mutated seed of `target`, or a string made from scratch.
fn input(target: &'static str) -> impl Strategy<Value = String> {
    let seeds = corpus(target).len();
    prop_oneof![
        3 => (0..seeds, prop::collection::vec(any::<Edit>(), 0..12))
            .prop_map(move |(i, edits)| mutate(&corpus(target)[i], &edits)),
        1 => prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat()),
        1 => ".{0,200}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// The textfile parser: never panics; what it accepts encodes to an exposition that it
    /// accepts again, with the same samples, and never with a `__` label.
    #[test]
    fn textfile(text in input("textfile")) {
        if let Ok(families) = textfile::parse(&text) {
            let samples: usize = families.iter().map(|f| f.samples.len()).sum();
            let batch = Batch {
                families,
                ..Batch::default()
            };
            let out = encode::encode(&batch, Format::Text);
            let again = textfile::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
            prop_assert_eq!(again.iter().map(|f| f.samples.len()).sum::<usize>(), samples);
            let reserved = !out.contains("{__") && !out.contains(",__");
            prop_assert!(reserved, "a reserved label name in:\n{}", out);
            encode::encode(&batch, Format::OpenMetrics);
        }
    }

    /// The configuration: loading never panics; what loads is planned without a panic, and
    /// every problem names its key.
    #[test]
    fn configuration(text in input("config")) {
        if let Ok(config) = centinela::app::Config::from_toml(&text) {
            if let Err(problems) = centinela::app::plan(&config) {
                prop_assert!(problems.iter().all(|p| !p.key.is_empty()));
            }
        }
    }

    /// The web configuration file: never panics, whatever it holds.
    #[test]
    fn web_configuration(text in input("web-config")) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, &text).unwrap();
        let _ = centinela::http::web_config::load(&path);
    }

    /// Rule files: never panic; every rule of a file that loads has an expression that
    /// parses again.
    #[test]
    fn rule_files(text in input("rules")) {
        let _ = RuleSet::parse("fuzz.yaml", &text);
    }

    /// Templates: parsing and rendering never panic, whatever the labels hold.
    #[test]
    fn templates(text in input("templates"), value in any::<f64>(), label in ".{0,20}") {
        if let Ok(t) = Template::parse(&text) {
            let labels = LabelSet::new([
                ("instance".to_owned(), label.clone()),
                ("job".to_owned(), "j".to_owned()),
            ]);
            let external = LabelSet::new([("cluster".to_owned(), label)]);
            let query = |q: &str| -> Result<Vec<(LabelSet, f64)>, String> {
                if q.len().is_multiple_of(3) {
                    return Err("refused".to_owned());
                }
                Ok(vec![(labels.clone(), value), (external.clone(), 1.0)])
            };
            let data = Data {
                labels: &labels,
                external_labels: &external,
                external_url: "http://x/prefix",
                value,
                query: Some(&query),
            };
            let _ = t.render(&data);
            let _ = t.expand(&data);
        }
    }

    /// PromQL: evaluation never panics over a small history with stale series, NaN and
    /// infinities; an instant vector never holds two series with the same labels.
    #[test]
    fn promql(expr in input("promql"), at in 0i64..40) {
        if let Ok(parsed) = promql::parse(&expr) {
            let history = history();
            let got = Evaluator::new(history, std::time::Duration::from_secs(60)).eval(&parsed, at * 30_000);
            prop_assert!(unique(&got), "{}", expr);
        }
    }

    /// Receivers' answers: classification never panics and follows the contract (2xx is
    /// delivered, except a Slack answer that is not `ok`; 408, 429 and 5xx are retried;
    /// anything else is refused for good).
    #[test]
    fn receiver_answers(status in 100u16..600, body in ".{0,64}", header in ".{0,40}", slack in any::<bool>()) {
        let integration = if slack { Integration::Slack } else { Integration::PagerDuty };
        let code = reqwest::StatusCode::from_u16(status).unwrap();
        let after = retry_after(&header, std::time::SystemTime::now());
        if let Ok(n) = header.trim().parse::<u64>() {
            prop_assert_eq!(after, Some(std::time::Duration::from_secs(n)));
        }
        let got = classify(integration, code, &body, after);
        let retry = matches!(got, Err(centinela::alerting::notify::worker::SendError::Retry { .. }));
        if code.is_success() {
            prop_assert_eq!(got.is_ok(), !slack || body.trim() == "ok");
        } else {
            prop_assert!(got.is_err());
            prop_assert_eq!(retry, status == 408 || status == 429 || (500..600).contains(&status));
        }
    }
}

/// A PromQL expression from a small grammar: selectors with matchers, ranges, offsets and
/// `@`, functions, aggregations with their parameters, binary operators with matching
/// modifiers, and subqueries, nested a few levels.
fn promql_expr() -> impl Strategy<Value = String> {
    let selector = (
        prop::sample::select(vec![
            "x",
            "y",
            "c",
            "nope",
            "{job=\"a\"}",
            "x{job=~\"a|b\"}",
            "y{job!=\"a\"}",
        ]),
        prop::sample::select(vec![
            "",
            " offset 1m",
            " offset -30s",
            " @ 300",
            " @ start()",
            " @ end()",
        ]),
    )
        .prop_map(|(s, m)| format!("{s}{m}"));
    let range = (
        prop::sample::select(vec!["x", "y", "c"]),
        prop::sample::select(vec!["1m", "5m", "30s", "1h", "0s", "17s"]),
    )
        .prop_map(|(s, r)| format!("{s}[{r}]"));
    let number = prop::sample::select(vec![
        "0", "1", "-1", "0.5", "1e300", "NaN", "Inf", "-Inf", "3",
    ]);
    let leaf = prop_oneof![selector, number.prop_map(str::to_owned)];
    leaf.prop_recursive(4, 24, 3, move |inner| {
        let range = range.clone();
        prop_oneof![
            (
                prop::sample::select(vec![
                    "rate",
                    "irate",
                    "increase",
                    "delta",
                    "deriv",
                    "changes",
                    "resets",
                    "avg_over_time",
                    "max_over_time",
                    "count_over_time",
                    "last_over_time",
                    "absent_over_time",
                    "stddev_over_time"
                ]),
                range.clone()
            )
                .prop_map(|(f, r)| format!("{f}({r})")),
            (
                prop::sample::select(vec![
                    "abs",
                    "ceil",
                    "floor",
                    "exp",
                    "ln",
                    "sqrt",
                    "sgn",
                    "round",
                    "absent",
                    "sort",
                    "sort_desc",
                    "timestamp",
                    "scalar",
                    "vector"
                ]),
                inner.clone()
            )
                .prop_map(|(f, e)| format!("{f}({e})")),
            (
                prop::sample::select(vec![
                    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"
                ]),
                prop::sample::select(vec!["", " by (job)", " without (job)", " by ()"]),
                inner.clone()
            )
                .prop_map(|(a, m, e)| format!("{a}{m} ({e})")),
            (
                prop::sample::select(vec!["topk", "bottomk", "quantile"]),
                prop::sample::select(vec!["1", "0.5", "-1", "1e300", "NaN", "2"]),
                inner.clone()
            )
                .prop_map(|(a, p, e)| format!("{a}({p}, {e})")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "< bool", "and", "or", "unless",
                    "atan2"
                ]),
                prop::sample::select(vec![
                    "",
                    " on (job)",
                    " ignoring (job)",
                    " on (job) group_left",
                    " ignoring (job) group_right"
                ]),
                inner.clone()
            )
                .prop_map(|(l, op, m, r)| format!("({l}) {op}{m} ({r})")),
            (
                inner.clone(),
                prop::sample::select(vec!["5m:1m", "10m:", "1m:7s", "3m:1m"])
            )
                .prop_map(|(e, r)| format!("max_over_time(({e})[{r}])")),
            (
                inner.clone(),
                prop::sample::select(vec!["0", "1.5", "-1"]),
                prop::sample::select(vec!["1", "3"])
            )
                .prop_map(|(e, lo, hi)| format!("clamp({e}, {lo}, {hi})")),
            inner
                .clone()
                .prop_map(|e| format!("label_replace({e}, \"dst\", \"$1\", \"job\", \"(.*)\")")),
            inner.prop_map(|e| format!("histogram_quantile(0.9, {e})")),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    /// PromQL from the grammar: the same properties as mutated expressions.
    #[test]
    fn promql_grammar(expr in promql_expr(), at in 0i64..40) {
        if let Ok(parsed) = promql::parse(&expr) {
            let got = Evaluator::new(history(), std::time::Duration::from_secs(60)).eval(&parsed, at * 30_000);
            prop_assert!(unique(&got), "{}", expr);
        }
    }
}

/// An instant vector never holds two series with one label set (Prometheus refuses it).
fn unique(got: &promql::value::Result<Value>) -> bool {
    let Ok(Value::Vector(v)) = got else {
        return true;
    };
    let mut seen = std::collections::HashSet::new();
    v.iter().all(|s| seen.insert(s.labels.clone()))
}

/// `x`, `y` and counter `c` over 20 minutes, with a gap, NaN and infinities.
fn history() -> &'static History {
    static H: OnceLock<History> = OnceLock::new();
    H.get_or_init(|| {
        let mut h = History::unbounded();
        for i in 0..40i64 {
            let l = |name: &str, job: &str| {
                LabelSet::new([
                    ("__name__".to_owned(), name.to_owned()),
                    ("job".to_owned(), job.to_owned()),
                ])
            };
            #[allow(clippy::cast_precision_loss)]
            let f = i as f64;
            let mut samples = vec![
                (l("c", "a"), if i == 20 { 1.0 } else { f * 10.0 }),
                (l("y", "a"), f.sin()),
            ];
            if !(10..15).contains(&i) {
                samples.push((l("x", "a"), f));
                samples.push((
                    l("x", "b"),
                    match i % 7 {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        2 => -0.0,
                        _ => -f,
                    },
                ));
            }
            h.ingest("fuzz", i * 30_000, samples);
        }
        h
    })
}
