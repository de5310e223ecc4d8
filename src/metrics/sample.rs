//! The sample model every collector produces: families of labelled values, grouped in a batch.

use std::borrow::Cow;
use std::sync::Arc;

/// How a family is typed in the exposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that goes up and down.
    Gauge,
    /// A count that only goes up (`_total`).
    Counter,
    /// Used for postgres_exporter-compatible names that break Prometheus naming rules
    /// (`pg_locks_count` as a gauge, `pg_stat_user_tables_seq_scan` as a counter without
    /// `_total`): untyped keeps the name dashboards use and passes `promtool check metrics`.
    Untyped,
}

impl MetricKind {
    /// The type a family of this kind named `name` is written with. A gauge whose name
    /// ends in a suffix Prometheus reserves for other types (`_count`, `_sum`, `_bucket`,
    /// `_total`), as a `pg_settings_<setting>` instance can, is written untyped: the name
    /// stays as postgres_exporter has it and `promtool check metrics` accepts it.
    #[must_use]
    pub fn for_name(self, name: &str) -> Self {
        let reserved = ["_count", "_sum", "_bucket", "_total"]
            .iter()
            .any(|s| name.ends_with(s));
        match self {
            Self::Gauge if reserved => Self::Untyped,
            kind => kind,
        }
    }

    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
            Self::Untyped => "untyped",
        }
    }
}

/// A metric centinela can export: the single source for `/metrics`, `centinela metrics`
/// and the README's metric reference. A name with a `<placeholder>` is a template: one
/// family per value, named at run time (`pg_settings_<setting>`).
#[derive(Debug)]
pub struct MetricDesc {
    /// The metric name.
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// Its label names, in order.
    pub labels: &'static [&'static str],
    /// Its `# HELP` text.
    pub help: &'static str,
}

impl MetricDesc {
    /// Whether the name is a template (`pg_settings_<setting>`).
    pub fn is_template(&self) -> bool {
        self.name.contains('<')
    }

    /// Whether a family named `name` is this metric: the same name, or for a template a
    /// name with its prefix and suffix around a non-empty middle.
    pub fn matches(&self, name: &str) -> bool {
        match self.name.split_once('<') {
            None => self.name == name,
            Some((prefix, rest)) => {
                let suffix = rest.split_once('>').map_or("", |(_, s)| s);
                name.len() > prefix.len() + suffix.len()
                    && name.starts_with(prefix)
                    && name.ends_with(suffix)
            }
        }
    }
}

/// One label pair. Names are mostly static; values are shared between the families of one
/// row (a table's `datname`, `schemaname`, `relname` appear in ~15 families).
pub type Label = (Cow<'static, str>, Arc<str>);
/// A sample's labels, shared by reference count between families.
pub type Labels = Arc<[Label]>;

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
#[must_use]
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Builds a label set from static names and values.
pub fn labels<const N: usize>(pairs: [(&'static str, &str); N]) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), Arc::<str>::from(v)))
        .collect()
}

/// One series' value.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Its labels, in the descriptor's order.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// A metric family: its name, help, type and series.
#[derive(Clone, Debug)]
pub struct Family {
    /// The metric name.
    pub name: Cow<'static, str>,
    /// Its `# HELP` text.
    pub help: Cow<'static, str>,
    /// Its type.
    pub kind: MetricKind,
    /// Its series.
    pub samples: Vec<Sample>,
}

impl Family {
    /// An empty family for `desc`.
    pub fn new(desc: &'static MetricDesc) -> Self {
        Self {
            name: Cow::Borrowed(desc.name),
            help: Cow::Borrowed(desc.help),
            kind: desc.kind,
            samples: Vec::new(),
        }
    }
}

/// What one collector run produced.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Families, each once.
    pub families: Vec<Family>,
    /// Evidence for pages, by part (`blocking`, `server_log`, …): what the run saw, bounded,
    /// attached to a P0 or P1 alert when it fires. Not exported.
    pub evidence: Vec<(&'static str, serde_json::Value)>,
}

impl Batch {
    /// Adds a sample to the family of `desc`, creating the family on first use.
    pub fn push(&mut self, desc: &'static MetricDesc, labels: Labels, value: f64) {
        debug_assert!(
            labels
                .iter()
                .map(|(k, _)| k.as_ref())
                .eq(desc.labels.iter().copied()),
            "labels of {} do not match its descriptor {:?}",
            desc.name,
            desc.labels
        );
        let sample = Sample { labels, value };
        // Collectors add families in runs, so the last family is almost always the match.
        if let Some(f) = self.families.last_mut() {
            if f.name == desc.name {
                f.samples.push(sample);
                return;
            }
        }
        if let Some(f) = self.families.iter_mut().find(|f| f.name == desc.name) {
            f.samples.push(sample);
            return;
        }
        let mut family = Family::new(desc);
        family.samples.push(sample);
        self.families.push(family);
    }

    /// Adds a sample to the family `name`, an instance of the template `desc`, whose help
    /// text is `help`; the family is created on first use.
    pub fn push_named(
        &mut self,
        desc: &'static MetricDesc,
        name: &str,
        help: impl FnOnce() -> String,
        labels: Labels,
        value: f64,
    ) {
        debug_assert!(
            desc.matches(name),
            "{name} is not an instance of {}",
            desc.name
        );
        let sample = Sample { labels, value };
        if let Some(f) = self.families.iter_mut().rev().find(|f| f.name == name) {
            f.samples.push(sample);
            return;
        }
        self.families.push(Family {
            name: Cow::Owned(name.to_owned()),
            help: Cow::Owned(help()),
            kind: desc.kind.for_name(name),
            samples: vec![sample],
        });
    }

    /// Adds a sample without labels.
    pub fn set(&mut self, desc: &'static MetricDesc, value: f64) {
        self.push(desc, Labels::from([]), value);
    }

    /// Moves `other`'s families in (families of the same name are merged).
    pub fn append(&mut self, other: Batch) {
        self.evidence.extend(other.evidence);
        for family in other.families {
            match self.families.iter_mut().find(|f| f.name == family.name) {
                Some(f) => f.samples.extend(family.samples),
                None => self.families.push(family),
            }
        }
    }

    /// The number of series.
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    /// The value of the first sample of `name` whose labels include all of `matchers`.
    pub fn value(&self, name: &str, matchers: &[(&str, &str)]) -> Option<f64> {
        self.families
            .iter()
            .find(|f| f.name == name)?
            .samples
            .iter()
            .find(|s| {
                matchers
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && &**lv == *v))
            })
            .map(|s| s.value)
    }
}
