//! Shared state: the latest batch of every collector and how its runs went.
//!
//! Collector runners write here; `/metrics`, the health endpoints and the alerting engine
//! read. A scrape never waits for a collector: it reads the last published entry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::metrics::{catalog, encode, labels, Batch, Format, MetricDesc};

/// What one collector last published.
#[derive(Debug, Default)]
pub struct Entry {
    /// Samples served now: the last successful batch, or what the collector reports on
    /// failure (`pg_up 0`), never stale data.
    pub batch: Arc<Batch>,
    /// `batch` encoded as Prometheus text, once per run.
    pub text: Bytes,
    /// `batch` encoded as OpenMetrics, on the first scrape that asks for it.
    openmetrics: OnceLock<Bytes>,
    /// How its runs went.
    pub status: RunStatus,
}

/// A collector's run history, as its self-metrics report it.
#[derive(Clone, Debug, Default)]
pub struct RunStatus {
    /// Runs finished, successful or not.
    pub runs: u64,
    /// Failed runs.
    pub errors_total: u64,
    /// When the last run ended.
    pub last_run: Option<SystemTime>,
    /// When the last successful run ended.
    pub last_success: Option<SystemTime>,
    /// How long the last run took.
    pub last_duration: Duration,
    /// The last run's error, already free of secrets.
    pub last_error: Option<String>,
}

impl RunStatus {
    /// True once it has run and its last run succeeded.
    pub fn ok(&self) -> bool {
        self.runs > 0 && self.last_error.is_none()
    }
}

impl Entry {
    /// An entry for `batch`, encoded as text now.
    pub fn new(mut batch: Batch, status: RunStatus) -> Self {
        // Kept until the next run: give back what the families over-reserved while growing.
        for family in &mut batch.families {
            family.samples.shrink_to_fit();
        }
        let text = Bytes::from(encode::encode(&batch, Format::Text));
        Self {
            batch: Arc::new(batch),
            text,
            openmetrics: OnceLock::new(),
            status,
        }
    }

    /// The batch in `format`, encoded once.
    pub fn encoded(&self, format: Format) -> Bytes {
        match format {
            Format::Text => self.text.clone(),
            Format::OpenMetrics => self
                .openmetrics
                .get_or_init(|| Bytes::from(encode::encode(&self.batch, Format::OpenMetrics)))
                .clone(),
        }
    }
}

/// Alerting's state directory as the snapshot reports it.
#[derive(Debug)]
enum StateDir {
    /// Alerting keeps no state on disk (off, or no receiver).
    None,
    /// Its database is open.
    Ok,
    /// It cannot be used, and why.
    Unusable(String),
}

/// One collector's place in the snapshot.
#[derive(Debug)]
pub struct Slot {
    /// The collector's name.
    pub name: &'static str,
    /// Its interval.
    pub interval: Duration,
    /// Its time budget per run.
    pub timeout: Duration,
    entry: ArcSwap<Entry>,
}

impl Slot {
    /// What it last published.
    pub fn load(&self) -> Arc<Entry> {
        self.entry.load_full()
    }

    /// Replaces what it last published.
    pub fn publish(&self, entry: Entry) {
        self.entry.store(Arc::new(entry));
    }

    /// How old the last success may be before a health check calls it stale: two missed
    /// intervals plus the run's own time budget.
    pub fn freshness_limit(&self) -> Duration {
        self.interval * 2 + self.timeout
    }
}

/// The latest state of every enabled collector.
#[derive(Debug)]
pub struct Snapshot {
    slots: Vec<Slot>,
    /// The alerting engine's own metrics, encoded once per evaluation like a collector's.
    alerting: ArcSwap<Entry>,
    /// Released (true) once every collector has run once; never taken back.
    ready: tokio::sync::watch::Sender<bool>,
    /// Restarts of each supervised task.
    restarts: Mutex<BTreeMap<String, u64>>,
    /// Connections and requests the HTTP server refused, by reason.
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Whether the web configuration last loaded: 2 none configured, 1 yes, 0 no.
    web_config_ok: std::sync::atomic::AtomicU8,
    /// Alerting's state directory, once alerting has one.
    state_dir: Mutex<StateDir>,
}

impl Snapshot {
    /// One empty slot per (name, interval, timeout).
    pub fn new(collectors: impl IntoIterator<Item = (&'static str, Duration, Duration)>) -> Self {
        Self {
            slots: collectors
                .into_iter()
                .map(|(name, interval, timeout)| Slot {
                    name,
                    interval,
                    timeout,
                    entry: ArcSwap::from_pointee(Entry::default()),
                })
                .collect(),
            alerting: ArcSwap::from_pointee(Entry::default()),
            ready: tokio::sync::watch::Sender::new(false),
            restarts: Mutex::new(BTreeMap::new()),
            rejected: Mutex::new(BTreeMap::new()),
            web_config_ok: std::sync::atomic::AtomicU8::new(2),
            state_dir: Mutex::new(StateDir::None),
        }
    }

    /// Called after each collector run: releases the readiness latch once every collector
    /// has run (successfully or not).
    pub fn note_run(&self) {
        if !*self.ready.borrow() && self.all_ran() {
            self.ready.send_replace(true);
        }
    }

    /// True once every collector has run once.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until every collector has run once.
    pub async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail while we borrow it.
        if rx.wait_for(|ready| *ready).await.is_err() {
            tracing::error!("Readiness latch dropped.");
        }
    }

    /// A supervised task exists (its restart count starts at 0).
    pub fn register_task(&self, task: &str) {
        crate::sync::lock(&self.restarts)
            .entry(task.to_owned())
            .or_insert(0);
    }

    /// A supervised task ended or panicked and was restarted (or the process stops).
    pub fn count_restart(&self, task: &str) {
        *crate::sync::lock(&self.restarts)
            .entry(task.to_owned())
            .or_insert(0) += 1;
    }

    /// Restarts per supervised task.
    pub fn restarts(&self) -> BTreeMap<String, u64> {
        crate::sync::lock(&self.restarts).clone()
    }

    /// The HTTP server refused a connection or a request for `reason`.
    pub fn count_rejected(&self, reason: &'static str) {
        *crate::sync::lock(&self.rejected).entry(reason).or_insert(0) += 1;
    }

    /// Refusals by reason.
    pub fn rejected(&self) -> BTreeMap<&'static str, u64> {
        crate::sync::lock(&self.rejected).clone()
    }

    /// Whether the web configuration last loaded; `None`: there is none.
    pub fn set_web_config_ok(&self, ok: Option<bool>) {
        let v = ok.map_or(2, u8::from);
        self.web_config_ok
            .store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// Alerting's state directory works (`None`) or why it does not.
    pub fn set_state_problem(&self, problem: Option<String>) {
        *crate::sync::lock(&self.state_dir) = match problem {
            None => StateDir::Ok,
            Some(p) => StateDir::Unusable(p),
        };
    }

    /// Why alerting's state directory cannot be used, if it cannot.
    pub fn state_problem(&self) -> Option<String> {
        match &*crate::sync::lock(&self.state_dir) {
            StateDir::Unusable(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// The alerting engine's own metrics, replacing its last ones.
    pub fn publish_alerting(&self, batch: Batch) {
        self.alerting
            .store(Arc::new(Entry::new(batch, RunStatus::default())));
    }

    /// Every collector's slot, in registration order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The slot of collector `name`.
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }

    /// True once every collector has finished one run, successful or not.
    pub fn all_ran(&self) -> bool {
        self.slots.iter().all(|s| s.load().status.runs > 0)
    }

    /// centinela's own metrics, built from the run statuses at scrape time (a few series).
    pub fn self_metrics(&self) -> Batch {
        let mut b = Batch::default();
        b.push(
            &catalog::BUILD_INFO,
            labels([("version", env!("CARGO_PKG_VERSION"))]),
            1.0,
        );
        #[allow(clippy::cast_precision_loss)]
        for (task, n) in self.restarts() {
            b.push(
                &catalog::TASK_RESTARTS,
                labels([("task", task.as_str())]),
                n as f64,
            );
        }
        #[allow(clippy::cast_precision_loss)]
        for (reason, n) in self.rejected() {
            b.push(
                &catalog::HTTP_REJECTED,
                labels([("reason", reason)]),
                n as f64,
            );
        }
        match &*crate::sync::lock(&self.state_dir) {
            StateDir::None => {}
            StateDir::Ok => b.push(&catalog::STATE_DIR_OK, labels([]), 1.0),
            StateDir::Unusable(_) => b.push(&catalog::STATE_DIR_OK, labels([]), 0.0),
        }
        match self
            .web_config_ok
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            2 => {}
            v => b.push(&catalog::WEB_CONFIG_RELOAD_OK, labels([]), f64::from(v)),
        }
        let entries: Vec<_> = self
            .slots
            .iter()
            .map(|s| (labels([("collector", s.name)]), s.load()))
            .collect();
        for (desc, field) in SELF_FAMILIES {
            for (l, entry) in &entries {
                if let Some(v) = field(entry) {
                    b.push(desc, Arc::clone(l), v);
                }
            }
        }
        b
    }

    /// The whole exposition as a list of chunks: self-metrics, then each collector's bytes.
    pub fn exposition(&self, format: Format) -> Vec<Bytes> {
        let mut chunks = Vec::with_capacity(self.slots.len() + 2);
        chunks.push(Bytes::from(encode::encode(&self.self_metrics(), format)));
        chunks.push(self.alerting.load().encoded(format));
        chunks.extend(self.slots.iter().map(|s| s.load().encoded(format)));
        if format == Format::OpenMetrics {
            chunks.push(Bytes::from_static(encode::OPENMETRICS_EOF.as_bytes()));
        }
        chunks
    }
}

type EntryField = fn(&Entry) -> Option<f64>;

/// Per-collector self-metrics and how each reads the collector's entry. Before a first run
/// only the error count exists.
#[allow(clippy::cast_precision_loss)]
const SELF_FAMILIES: &[(&MetricDesc, EntryField)] = &[
    (&catalog::COLLECTOR_UP, |e| {
        (e.status.runs > 0).then(|| if e.status.ok() { 1.0 } else { 0.0 })
    }),
    (&catalog::COLLECTOR_DURATION, |e| {
        (e.status.runs > 0).then_some(e.status.last_duration.as_secs_f64())
    }),
    (&catalog::COLLECTOR_LAST_SUCCESS, |e| {
        e.status.last_success.map(crate::time::unix_seconds)
    }),
    (&catalog::COLLECTOR_ERRORS, |e| {
        Some(e.status.errors_total as f64)
    }),
    (&catalog::COLLECTOR_SERIES, |e| {
        (e.status.runs > 0).then(|| e.batch.series() as f64)
    }),
];
