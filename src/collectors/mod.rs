//! Collectors: each samples one source on its own interval and returns a batch.
//!
//! A collector is one file: its metric descriptors (`crate::metrics!`), its section's
//! checks and its run function, tied together by [`Collector`]. The `collectors!` list
//! at the bottom registers it: one line there is all the wiring (the schedule, `/metrics`,
//! `centinela metrics`, the README table and `check-config` follow from it).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgSslMode;

use std::collections::BTreeMap;

use crate::config::check::{ConfigError, Problems};
use crate::metrics::catalog::{self, Group};
use crate::metrics::{Batch, MetricDesc};

/// A source of samples. `runner` owns timing, timeouts and the `up` metric.
pub trait Collector: Send + Sync + Sized {
    /// The `collector` label of its self-metrics and its `centinela metrics` group.
    const NAME: &'static str;
    /// Every metric it can export (a test checks it exports no other).
    const METRICS: &'static [&'static MetricDesc];
    /// Its default interval under `[schedule]`; `None` when its own section sets it.
    const SCHEDULE: Option<&'static str> = None;
    /// Its part of the configuration (its module's `Section`).
    type Section;
    /// Checks its section (problems, with key paths, go to `problems`) and builds it with
    /// its interval; `None` when it is not enabled.
    fn plan(
        section: &Self::Section,
        schedule: &Schedule,
        shared: &Shared,
        problems: &mut Problems,
    ) -> Option<(Self, Duration)>;
    /// No registry, no HTTP, no alerting: sample and return.
    fn collect(&self) -> impl Future<Output = Result<Batch, CollectError>> + Send;
    /// What stays true when a run fails (`pg_up 0`); by default nothing, so a failed
    /// collector's series disappear rather than being served as if fresh.
    fn on_failure(&self, _error: &CollectError) -> Batch {
        Batch::default()
    }
    /// Releases what it holds open between runs (at shutdown); by default nothing.
    fn close(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The `[schedule]` table: collector name → interval.
pub type Schedule = BTreeMap<String, Duration>;

/// What several collectors build on: the PostgreSQL connections (both PostgreSQL
/// collectors) and the TLS endpoints found elsewhere in the configuration (`certs`):
/// PostgreSQL's own and those of https probes.
#[derive(Debug, Default)]
pub struct Shared {
    /// The connections both PostgreSQL collectors use; `None` when the DSN is unusable.
    pub pg: Option<Arc<postgres::PgConnections>>,
    /// Endpoints whose certificates the `certs` collector reads without being told.
    pub tls_endpoints: Vec<certs::Endpoint>,
    /// The custom SQL queries (`postgres_custom`), whose metric names no textfile may take.
    pub custom: Option<Arc<postgres::custom::CustomQueries>>,
}

impl Shared {
    fn plan(sections: &Sections, problems: &mut Problems) -> Self {
        let dsn = postgres::check(&sections.postgres, problems);
        let mut shared = Self {
            custom: postgres::custom::load(&sections.postgres, problems),
            ..Self::default()
        };
        match postgres::connections(&sections.postgres, dsn) {
            Ok(pg) => {
                if sections.certs.postgres {
                    shared.tls_endpoints.extend(postgres_endpoint(pg.options()));
                }
                shared.pg = Some(pg);
            }
            Err(e) => problems.push(ConfigError::new("postgres", e.to_string())),
        }
        shared.tls_endpoints.extend(
            sections
                .probes
                .iter()
                .filter_map(|p| https_endpoint(&p.url)),
        );
        shared
    }
}

/// The interval of collector `C` under `[schedule]`, checked.
pub(crate) fn every<C: Collector>(problems: &mut Problems, schedule: &Schedule) -> Duration {
    let key = format!("schedule.{}", C::NAME);
    match schedule.get(C::NAME) {
        Some(interval) if *interval >= Duration::from_secs(1) => *interval,
        Some(interval) => {
            problems.push(ConfigError::new(key, "must be at least 1s"));
            *interval
        }
        None => {
            problems.push(ConfigError::new(key, "is missing"));
            Duration::from_secs(60)
        }
    }
}

/// Why a run failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A PostgreSQL query or connection failed.
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// A host figure could not be read.
    #[error("{0}")]
    Host(String),
    /// A file or program could not be read.
    #[error("{0}")]
    Io(String),
    /// The run took longer than its time budget.
    #[error("run did not finish within {0:?}")]
    Timeout(Duration),
}

/// Registers the collectors: `module: Variant(Type), …;` per file or folder. The module
/// name is its configuration section's key.
macro_rules! collectors {
    ($($module:ident: $($variant:ident($ty:ident)),+;)*) => {
        $(pub mod $module;)*
        $($(pub use $module::$ty;)+)*

        /// Every collector's section of the configuration, by its key.
        #[derive(Debug, Default, serde::Deserialize)]
        pub struct Sections {
            $(
                #[doc = concat!("`[", stringify!($module), "]`.")]
                #[serde(default)]
                pub $module: $module::Section,
            )*
        }

        /// The configuration keys the collectors own (top-level tables and lists).
        pub const SECTION_KEYS: &[&str] = &[$(stringify!($module)),*];

        /// The documented defaults of every collector's section, in registration order.
        pub const SECTION_DEFAULTS: &[&str] = &[$($module::DEFAULTS),*];

        /// (collector, default interval) of those scheduled under `[schedule]`.
        pub const SCHEDULE_DEFAULTS: &[(&str, Option<&str>)] =
            &[$($(($ty::NAME, $ty::SCHEDULE)),+),*];

        /// The closed set of collectors (enum dispatch: one variant per collector).
        #[derive(Debug)]
        pub enum CollectorKind {
            $($(
                #[doc = concat!("The [`", stringify!($ty), "`].")]
                $variant($ty)
            ),+),*
        }

        impl CollectorKind {
            /// The collector's name.
            pub fn name(&self) -> &'static str {
                match self { $($(Self::$variant(_) => $ty::NAME),+),* }
            }

            /// One run.
            pub async fn collect(&self) -> Result<Batch, CollectError> {
                match self { $($(Self::$variant(c) => c.collect().await),+),* }
            }

            /// What stays true when a run fails.
            pub fn on_failure(&self, error: &CollectError) -> Batch {
                match self { $($(Self::$variant(c) => c.on_failure(error)),+),* }
            }

            /// Releases what it holds open (at shutdown).
            pub async fn close(&self) {
                match self { $($(Self::$variant(c) => c.close().await),+),* }
            }
        }

        /// Every collector's metrics, in registration order.
        pub const COLLECTOR_METRICS: &[Group] = &[$($(($ty::NAME, $ty::METRICS)),+),*];

        /// Checks every collector's configuration and builds the enabled ones, with their
        /// schedules; every problem of every collector is returned together.
        pub fn plan(sections: &Sections, schedule: &Schedule) -> Result<Vec<Scheduled>, Problems> {
            let mut problems = Vec::new();
            for name in schedule.keys() {
                if !SCHEDULE_DEFAULTS.iter().any(|(n, d)| n == name && d.is_some()) {
                    problems.push(ConfigError::new(
                        format!("schedule.{name}"),
                        "no collector of that name is scheduled here",
                    ));
                }
            }
            let shared = Shared::plan(sections, &mut problems);
            let mut all = Vec::new();
            $($(
                if let Some((c, interval)) =
                    $ty::plan(&sections.$module, schedule, &shared, &mut problems)
                {
                    all.push(Scheduled::every(CollectorKind::$variant(c), interval));
                }
            )+)*
            if problems.is_empty() {
                Ok(all)
            } else {
                Err(problems)
            }
        }
    };
}

collectors! {
    postgres: Postgres(PostgresCollector), PostgresTables(TablesCollector), PostgresCustom(CustomCollector), PostgresServerLog(ServerLogCollector);
    host: Host(HostCollector);
    certs: Certs(CertsCollector);
    backups: Backups(BackupsCollector);
    pgbackrest: PgBackRest(PgBackRestCollector);
    redis: Redis(RedisCollector);
    files: Files(FilesCollector);
    probes: Probes(ProbesCollector);
    textfile: Textfile(TextfileCollector);
}

pub mod runner;

/// The whole catalogue: centinela's own metrics, the alerting engine's, then every
/// collector's.
#[must_use]
pub fn catalog() -> Vec<Group> {
    let mut all = vec![("self", catalog::SELF), ("alerting", catalog::ALERTING)];
    all.extend_from_slice(COLLECTOR_METRICS);
    all
}

/// Looks a metric up by name in the whole catalogue (a template matches its instances:
/// `pg_settings_max_connections` is `pg_settings_<setting>`).
#[must_use]
pub fn find_metric(name: &str) -> Option<(&'static str, &'static MetricDesc)> {
    // The textfile collector asks once per family it reads: no catalogue is built for it.
    [("self", catalog::SELF), ("alerting", catalog::ALERTING)]
        .iter()
        .chain(COLLECTOR_METRICS)
        .flat_map(|(c, descs)| descs.iter().map(move |d| (*c, *d)))
        .find(|(_, d)| d.matches(name))
}

/// A collector with its schedule.
#[derive(Debug)]
pub struct Scheduled {
    /// The collector.
    pub collector: CollectorKind,
    /// How often it runs.
    pub interval: Duration,
    /// A run must end before the next is due.
    pub timeout: Duration,
}

impl Scheduled {
    fn every(collector: CollectorKind, interval: Duration) -> Self {
        Self {
            collector,
            interval,
            timeout: interval,
        }
    }
}

/// PostgreSQL's own server certificate is read when the connection may use TLS over TCP.
fn postgres_endpoint(options: &sqlx::postgres::PgConnectOptions) -> Option<certs::Endpoint> {
    let host = options.get_host();
    if matches!(options.get_ssl_mode(), PgSslMode::Disable)
        || options.get_socket().is_some()
        || host.starts_with('/')
    {
        return None;
    }
    let port = options.get_port();
    Some(certs::Endpoint {
        source: format!("{host}:{port}"),
        host: host.to_owned(),
        port,
        server_name: host.to_owned(),
        starttls: Some(certs::StartTls::Postgres),
        tls_optional: matches!(options.get_ssl_mode(), PgSslMode::Prefer | PgSslMode::Allow),
    })
}

/// The TLS endpoint of an https URL (a probe's), if it is one.
fn https_endpoint(url: &str) -> Option<certs::Endpoint> {
    let url = reqwest::Url::parse(url).ok()?;
    let (Some(host), Some(port), "https") =
        (url.host_str(), url.port_or_known_default(), url.scheme())
    else {
        return None;
    };
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some(certs::Endpoint {
        source: format!("{host}:{port}"),
        server_name: bare.clone(),
        host: bare,
        port,
        starttls: None,
        tls_optional: false,
    })
}

/// The `[schedule]` table of the defaults: each scheduled collector's default interval.
#[must_use]
pub fn schedule_defaults() -> String {
    let mut out = String::from("[schedule]\n# How often each of the other collectors runs.\n");
    for (name, interval) in SCHEDULE_DEFAULTS {
        if let Some(interval) = interval {
            out.push_str(&format!("{name} = \"{interval}\"\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_names_are_unique_and_follow_conventions() {
        let mut seen = HashSet::new();
        for (_, descs) in catalog() {
            for d in descs {
                assert!(seen.insert(d.name), "{} listed twice", d.name);
                assert!(
                    d.name.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'_'
                        || (d.is_template() && (b == b'<' || b == b'>'))),
                    "{}",
                    d.name
                );
                assert!(!d.help.is_empty(), "{} has no help", d.name);
                match d.kind {
                    crate::metrics::sample::MetricKind::Counter => {
                        assert!(d.name.ends_with("_total"), "{}", d.name);
                    }
                    _ => assert!(!d.name.ends_with("_total"), "{}", d.name),
                }
            }
        }
        // No fixed name falls under another metric's template.
        let all: Vec<_> = catalog().into_iter().flat_map(|(_, d)| d.iter()).collect();
        for t in all.iter().filter(|d| d.is_template()) {
            for d in all.iter().filter(|d| !d.is_template()) {
                assert!(!t.matches(d.name), "{} falls under {}", d.name, t.name);
            }
        }
    }
}
