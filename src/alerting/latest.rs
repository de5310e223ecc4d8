//! The latest collection as rule evaluation reads it: every collector's last batch and
//! the snapshot's self-metrics, indexed by family name, at the evaluation time.
//!
//! Names that rules read only at the evaluation instant are selected here, straight from
//! the batches `/metrics` serves, instead of being copied into the history on every
//! evaluation: a per-table rule over 10,000 tables costs no stored series.

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::VectorSelector;

use crate::metrics::{Batch, Family, Sample};
use crate::promql::labels::{Pair, METRIC_NAME};
use crate::promql::storage::{matches, selector_name, Point, Storage};
use crate::promql::LabelSet;
use crate::snapshot::Snapshot;

/// One evaluation's view of the snapshot.
pub struct Latest {
    batches: Vec<Arc<Batch>>,
    /// Family name → (batch, family) positions.
    index: HashMap<String, Vec<(usize, usize)>>,
    ts: i64,
}

impl Latest {
    /// What `snapshot` holds now, stamped `ts` (milliseconds).
    pub fn load(snapshot: &Snapshot, ts: i64) -> Self {
        let batches: Vec<Arc<Batch>> = std::iter::once(Arc::new(snapshot.self_metrics()))
            .chain(snapshot.slots().iter().map(|s| Arc::clone(&s.load().batch)))
            .collect();
        let mut index: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (b, batch) in batches.iter().enumerate() {
            for (f, family) in batch.families.iter().enumerate() {
                index
                    .entry(family.name.to_string())
                    .or_default()
                    .push((b, f));
            }
        }
        Self { batches, index, ts }
    }

    fn families(&self) -> impl Iterator<Item = &Family> {
        self.batches.iter().flat_map(|b| b.families.iter())
    }

    fn family(&self, name: &str) -> impl Iterator<Item = &Family> {
        self.index
            .get(name)
            .into_iter()
            .flatten()
            .map(|&(b, f)| &self.batches[b].families[f])
    }

    /// Every series of the families `keep` accepts, as the history ingests them. Label
    /// values are the batches' own strings; each label name is allocated once per call.
    pub fn samples(&self, keep: impl Fn(&str) -> bool) -> Vec<(LabelSet, f64)> {
        let mut names = Names::default();
        let mut out = Vec::new();
        for family in self.families().filter(|f| keep(&f.name)) {
            let name = names.metric(&family.name);
            for s in &family.samples {
                out.push((names.labels(&name, s), s.value));
            }
        }
        out
    }
}

/// Shares label names between the label sets built in one pass.
#[derive(Default)]
struct Names<'a> {
    names: HashMap<&'a str, Arc<str>>,
    metric_name: Option<Arc<str>>,
}

impl<'a> Names<'a> {
    fn metric(&mut self, family: &str) -> Pair {
        let key = self
            .metric_name
            .get_or_insert_with(|| Arc::from(METRIC_NAME));
        (Arc::clone(key), Arc::from(family))
    }

    fn labels(&mut self, metric: &Pair, s: &'a Sample) -> LabelSet {
        let pairs = s.labels.iter().map(|(k, v)| {
            let k = self.names.entry(k).or_insert_with(|| Arc::from(&**k));
            (Arc::clone(k), Arc::clone(v))
        });
        LabelSet::shared(
            pairs
                .chain(std::iter::once(metric.clone()))
                .collect::<Vec<_>>(),
        )
    }
}

impl Storage for Latest {
    fn select(&self, vs: &VectorSelector, start: i64, end: i64) -> Vec<(LabelSet, Vec<Point>)> {
        let Some(name) = selector_name(vs) else {
            return Vec::new();
        };
        if self.ts < start || self.ts > end {
            return Vec::new();
        }
        let mut names = Names::default();
        let mut out = Vec::new();
        for family in self.family(name) {
            let metric = names.metric(&family.name);
            for s in &family.samples {
                let value = |label: &str| {
                    if label == METRIC_NAME {
                        return &*family.name;
                    }
                    s.labels
                        .iter()
                        .find(|(k, _)| k == label)
                        .map_or("", |(_, v)| &**v)
                };
                if matches(vs, value) {
                    out.push((names.labels(&metric, s), vec![(self.ts, s.value)]));
                }
            }
        }
        // The history's order: sorted by labels.
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}
