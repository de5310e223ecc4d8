//! The bounded in-memory history that range functions read: the sidecar's own samples,
//! kept only as long as some rule's selector needs them.

use std::collections::{HashMap, HashSet, VecDeque};

use promql_parser::parser::VectorSelector;

use super::labels::{LabelSet, METRIC_NAME};

/// Prometheus' staleness marker: a NaN with a payload no arithmetic produces.
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus' stale marker (a NaN with a fixed bit pattern).
pub fn stale_marker() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// True for the stale marker, not for other NaNs.
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One stored point: milliseconds since the epoch and a value.
pub type Point = (i64, f64);

/// Bytes one point costs in a series buffer.
pub const POINT_BYTES: usize = std::mem::size_of::<Point>();

/// Where the evaluator reads series from.
pub trait Storage {
    /// Every series `vs` selects, with its points in `[start, end]` (milliseconds, both
    /// included, as Prometheus 2.x reads ranges), staleness markers included.
    fn select(&self, vs: &VectorSelector, start: i64, end: i64) -> Vec<(LabelSet, Vec<Point>)>;
}

/// Does `vs` (name, matchers, `or` groups) select a series with labels `ls`?
pub fn selects(vs: &VectorSelector, ls: &LabelSet) -> bool {
    matches(vs, |name| ls.value(name))
}

/// Does `vs` select a series whose label values (`""` when absent, `__name__` for the
/// metric name) `value` gives?
pub fn matches<'a>(vs: &VectorSelector, value: impl Fn(&str) -> &'a str) -> bool {
    if let Some(name) = &vs.name {
        if value(METRIC_NAME) != name.as_str() {
            return false;
        }
    }
    let m = &vs.matchers;
    if !m.matchers.iter().all(|m| m.is_match(value(&m.name))) {
        return false;
    }
    m.or_matchers.is_empty()
        || m.or_matchers
            .iter()
            .any(|group| group.iter().all(|m| m.is_match(value(&m.name))))
}

/// The metric name a selector is limited to, if any.
pub fn selector_name(vs: &VectorSelector) -> Option<&str> {
    vs.name.as_deref().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && m.op == promql_parser::label::MatchOp::Equal)
            .map(|m| m.value.as_str())
    })
}

/// What the history keeps: which series at all, and which for how long.
#[derive(Clone, Debug, Default)]
pub struct Retention {
    /// Metric names any rule reads; `None` keeps every name (a selector without a name).
    pub names: Option<HashSet<String>>,
    /// Names read only at the evaluation instant: not copied into the history, but read
    /// from the latest collection through [`Layered`].
    pub live: HashSet<String>,
    /// Range selectors with how far back they read (range + offset, milliseconds).
    pub ranges: Vec<(VectorSelector, i64)>,
    /// Points kept at most, over all series; the oldest points of a series go first.
    pub max_points: usize,
}

struct Buffer {
    points: VecDeque<Point>,
    keep_ms: i64,
}

/// Per-series ring buffers under a global point cap.
pub struct History {
    by_name: HashMap<String, HashMap<LabelSet, Buffer>>,
    retention: Retention,
    /// Last output of each source (the snapshot, a recording rule): what disappears from it
    /// gets a staleness marker, as Prometheus writes for a vanished series.
    sources: HashMap<String, HashSet<LabelSet>>,
    points: usize,
    dropped: u64,
}

/// How long a series stays selectable after its last point (Prometheus' lookback delta).
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

impl History {
    /// An empty history keeping what `retention` says.
    pub fn new(retention: Retention) -> Self {
        Self {
            by_name: HashMap::new(),
            retention,
            sources: HashMap::new(),
            points: 0,
            dropped: 0,
        }
    }

    /// Unbounded history keeping everything (rule unit tests).
    pub fn unbounded() -> Self {
        Self::new(Retention {
            names: None,
            live: HashSet::new(),
            ranges: Vec::new(),
            max_points: usize::MAX,
        })
    }

    /// Whether the metric `name` is read from the latest collection, not from here.
    pub fn is_live(&self, name: &str) -> bool {
        self.retention.live.contains(name)
    }

    /// Whether the history keeps the metric `name`: some rule reads it back in time.
    pub fn wants(&self, name: &str) -> bool {
        self.retention
            .names
            .as_ref()
            .is_none_or(|n| n.contains(name))
    }

    /// Appends one point. Points must arrive in time order per series.
    pub fn append(&mut self, labels: LabelSet, t: i64, v: f64) {
        let Some(name) = labels.name().map(str::to_owned) else {
            return;
        };
        if !self.wants(&name) {
            return;
        }
        let unbounded = self.retention.max_points == usize::MAX;
        let bucket = self.by_name.entry(name).or_default();
        let buffer = if let Some(b) = bucket.get_mut(&labels) {
            b
        } else {
            let keep_ms = if unbounded {
                i64::MAX
            } else {
                self.retention
                    .ranges
                    .iter()
                    .filter(|(vs, _)| selects(vs, &labels))
                    .map(|(_, ms)| *ms)
                    .max()
                    .unwrap_or(0)
            };
            bucket.entry(labels).or_insert(Buffer {
                points: VecDeque::new(),
                keep_ms,
            })
        };
        if let Some(&(last, _)) = buffer.points.back() {
            if t < last {
                return;
            }
            if t == last {
                buffer.points.pop_back();
                self.points -= 1;
            }
        }
        if self.points >= self.retention.max_points {
            if buffer.points.len() > 1 {
                buffer.points.pop_front();
                self.points -= 1;
            } else {
                self.dropped += 1;
                return;
            }
        }
        buffer.points.push_back((t, v));
        self.points += 1;
    }

    /// Appends a source's whole output at `t`; series it no longer produces go stale.
    pub fn ingest(&mut self, source: &str, t: i64, samples: Vec<(LabelSet, f64)>) {
        let mut now = HashSet::with_capacity(samples.len());
        for (labels, v) in samples {
            if labels.name().is_some_and(|n| self.wants(n)) {
                now.insert(labels.clone());
                self.append(labels, t, v);
            }
        }
        let before = self.sources.insert(source.to_owned(), now);
        if let Some(before) = before {
            let current = &self.sources[source];
            let gone: Vec<LabelSet> = before
                .into_iter()
                .filter(|l| !current.contains(l))
                .collect();
            for labels in gone {
                self.append(labels, t, stale_marker());
            }
        }
    }

    /// Drops points no selector can read any more at time `now`.
    pub fn trim(&mut self, now: i64) {
        let mut removed = 0;
        for bucket in self.by_name.values_mut() {
            bucket.retain(|_, b| {
                let horizon = now.saturating_sub(b.keep_ms);
                // The newest point stays: instant selectors look back from it.
                while b.points.len() > 1 && b.points.front().is_some_and(|p| p.0 < horizon) {
                    b.points.pop_front();
                    removed += 1;
                }
                let alive = b.points.back().is_some_and(|&(t, v)| {
                    t >= now - LOOKBACK_MS.max(b.keep_ms) && !(is_stale(v) && t < horizon)
                });
                if !alive {
                    removed += b.points.len();
                }
                alive
            });
        }
        self.by_name.retain(|_, b| !b.is_empty());
        self.points -= removed;
    }

    /// Points held.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Series held.
    pub fn series(&self) -> usize {
        self.by_name.values().map(HashMap::len).sum()
    }

    /// Points refused because the cap was reached by series with a single point.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Approximate heap bytes: points, label sets and table overhead.
    pub fn heap_bytes(&self) -> usize {
        self.by_name
            .values()
            .flat_map(|b| b.iter())
            .map(|(l, b)| l.heap_bytes() + b.points.capacity() * POINT_BYTES + 64)
            .sum()
    }
}

impl Storage for History {
    fn select(&self, vs: &VectorSelector, start: i64, end: i64) -> Vec<(LabelSet, Vec<Point>)> {
        let mut out = Vec::new();
        let mut visit = |bucket: &HashMap<LabelSet, Buffer>| {
            for (labels, b) in bucket {
                if !selects(vs, labels) {
                    continue;
                }
                let points: Vec<Point> = b
                    .points
                    .iter()
                    .filter(|(t, _)| *t >= start && *t <= end)
                    .copied()
                    .collect();
                if !points.is_empty() {
                    out.push((labels.clone(), points));
                }
            }
        };
        match selector_name(vs) {
            Some(name) => {
                if let Some(bucket) = self.by_name.get(name) {
                    visit(bucket);
                }
            }
            None => self.by_name.values().for_each(visit),
        }
        // Prometheus returns series sorted by labels; sums depend on the order in the last bit.
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// The history, with the names it leaves to the latest collection read from `live`: what
/// a rule evaluation sees.
pub struct Layered<'a> {
    /// Everything rules read back in time, and every rule's output.
    pub history: &'a History,
    /// The latest collection, for the names the history leaves to it.
    pub live: &'a dyn Storage,
}

impl Storage for Layered<'_> {
    fn select(&self, vs: &VectorSelector, start: i64, end: i64) -> Vec<(LabelSet, Vec<Point>)> {
        match selector_name(vs) {
            Some(name) if self.history.is_live(name) => self.live.select(vs, start, end),
            _ => self.history.select(vs, start, end),
        }
    }
}

/// A source with nothing in it: evaluations without a latest collection (tests).
pub struct Nothing;

impl Storage for Nothing {
    fn select(&self, _: &VectorSelector, _: i64, _: i64) -> Vec<(LabelSet, Vec<Point>)> {
        Vec::new()
    }
}
