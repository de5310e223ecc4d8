//! Label sets as PromQL sees them: sorted name/value pairs, `__name__` included.

use std::fmt;
use std::sync::Arc;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: name and value, shared by reference count (values come from the snapshot's
/// samples, which already share them between families).
pub type Pair = (Arc<str>, Arc<str>);

/// A series' identity. Sorted by name; no empty values (Prometheus drops them). Cloning
/// is a reference-count increment: the history's index, its staleness bookkeeping and
/// the evaluator's results share one allocation per series.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelSet(Arc<[Pair]>);

impl Default for LabelSet {
    fn default() -> Self {
        Self(Arc::from(Vec::new()))
    }
}

impl LabelSet {
    /// A set from (name, value) pairs; empty values are dropped, as Prometheus does.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self::shared(
            pairs
                .into_iter()
                .map(|(k, v)| (Arc::<str>::from(k), Arc::<str>::from(v))),
        )
    }

    /// A set from shared pairs, without copying their strings.
    pub fn shared(pairs: impl IntoIterator<Item = Pair>) -> Self {
        let mut v: Vec<Pair> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        v.sort();
        v.dedup_by(|a, b| a.0 == b.0);
        Self(v.into())
    }

    fn index(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name))
    }

    /// A label's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.index(name).ok().map(|i| &*self.0[i].1)
    }

    /// The value of `name`, `""` when absent (PromQL treats both alike).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The metric name.
    pub fn name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        let mut v = self.0.to_vec();
        match self.index(name) {
            Ok(i) if value.is_empty() => {
                v.remove(i);
            }
            Ok(i) if &*v[i].1 == value => return,
            Ok(i) => v[i].1 = value.into(),
            Err(_) if value.is_empty() => return,
            Err(i) => v.insert(i, (name.into(), value.into())),
        }
        self.0 = v.into();
    }

    /// Removes a label.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    /// The set without the metric name.
    #[must_use]
    pub fn without_name(mut self) -> Self {
        self.remove(METRIC_NAME);
        self
    }

    /// Keeps only the labels in `names`.
    pub fn keep(&mut self, names: &[String]) {
        self.retain(|k| names.iter().any(|n| n == k));
    }

    /// Drops the labels in `names`.
    pub fn drop_all(&mut self, names: &[String]) {
        self.retain(|k| !names.iter().any(|n| n == k));
    }

    fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        if self.0.iter().all(|(k, _)| keep(k)) {
            return;
        }
        self.0 = self.0.iter().filter(|(k, _)| keep(k)).cloned().collect();
    }

    /// Labels in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True without labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels that decide vector matching: only `names` (`on`), or all but `names` and
    /// the metric name (`ignoring`, and the default).
    pub fn signature(&self, on: bool, names: &[String]) -> Vec<Pair> {
        self.0
            .iter()
            .filter(|(k, _)| {
                if on {
                    names.iter().any(|n| **n == **k)
                } else {
                    &**k != METRIC_NAME && !names.iter().any(|n| **n == **k)
                }
            })
            .cloned()
            .collect()
    }

    /// Approximate heap bytes of this set's own allocation, for the history's memory
    /// accounting (its strings are shared with the snapshot).
    pub fn heap_bytes(&self) -> usize {
        16 + self.0.len() * std::mem::size_of::<Pair>()
    }
}

impl fmt::Display for LabelSet {
    /// `name{a="b", c="d"}`, the form promtool prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (k, v) in self.iter().filter(|(k, _)| *k != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// A valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
#[must_use]
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
#[must_use]
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}
