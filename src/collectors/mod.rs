//! Collectors: each samples one source on its own interval and returns a batch.
//!
//! A collector is one file: its metric descriptors (`crate::metrics!`), its section's
//! checks and its run function, tied together by [`Collector`]. The [`collectors!`] list
//! at the bottom registers it: one line there is all the wiring (the schedule, `/metrics`,
//! `centinela metrics`, the README table and `check-config` follow from it).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgSslMode;

use crate::config::check::{ConfigError, Problems};
use crate::config::{Config, StartTls};
use crate::metrics::catalog::{self, Group};
use crate::metrics::{Batch, MetricDesc};

/// A source of samples. `runner` owns timing, timeouts and the `up` metric.
pub trait Collector: Send + Sync + Sized {
    /// The `collector` label of its self-metrics and its `centinela metrics` group.
    const NAME: &'static str;
    /// Every metric it can export (a test checks it exports no other).
    const METRICS: &'static [&'static MetricDesc];
    /// Checks its part of the configuration (problems, with key paths, go to `problems`)
    /// and builds it with its interval; `None` when it is not enabled.
    fn plan(config: &Config, shared: &Shared, problems: &mut Problems) -> Option<(Self, Duration)>;
    /// No registry, no HTTP, no alerting: sample and return.
    fn collect(&self) -> impl Future<Output = Result<Batch, CollectError>> + Send;
    /// What stays true when a run fails (`pg_up 0`); by default nothing, so a failed
    /// collector's series disappear rather than being served as if fresh.
    fn on_failure(&self, _error: &CollectError) -> Batch {
        Batch::default()
    }
}

/// What several collectors build on: the PostgreSQL connections (both PostgreSQL
/// collectors) and PostgreSQL's own TLS endpoint (`certs`).
#[derive(Debug, Default)]
pub struct Shared {
    pub pg: Option<Arc<postgres::PgConnections>>,
    pub pg_endpoint: Option<certs::Endpoint>,
}

impl Shared {
    fn plan(config: &Config, problems: &mut Problems) -> Self {
        let dsn = postgres::check(&config.postgres, problems);
        match postgres::connections(&config.postgres, dsn) {
            Ok(pg) => Self {
                pg_endpoint: if config.certs.postgres {
                    postgres_endpoint(pg.options())
                } else {
                    None
                },
                pg: Some(pg),
            },
            Err(e) => {
                problems.push(ConfigError::new("postgres", e.to_string()));
                Self::default()
            }
        }
    }
}

/// The interval of a collector scheduled under `[schedule]`, checked.
pub(crate) fn every(problems: &mut Problems, name: &str, interval: Duration) -> Duration {
    if interval < Duration::from_secs(1) {
        problems.push(ConfigError::new(
            format!("schedule.{name}"),
            "must be at least 1s",
        ));
    }
    interval
}

/// Why a run failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Host(String),
    #[error("{0}")]
    Io(String),
    #[error("run did not finish within {0:?}")]
    Timeout(Duration),
}

/// Registers the collectors: `module: Variant(Type), …;` per file or folder.
macro_rules! collectors {
    ($($module:ident: $($variant:ident($ty:ident)),+;)*) => {
        $(pub mod $module;)*
        $($(pub use $module::$ty;)+)*

        /// The closed set of collectors (enum dispatch: one variant per collector).
        #[derive(Debug)]
        pub enum CollectorKind {
            $($($variant($ty)),+),*
        }

        impl CollectorKind {
            pub fn name(&self) -> &'static str {
                match self { $($(Self::$variant(_) => $ty::NAME),+),* }
            }

            pub async fn collect(&self) -> Result<Batch, CollectError> {
                match self { $($(Self::$variant(c) => c.collect().await),+),* }
            }

            pub fn on_failure(&self, error: &CollectError) -> Batch {
                match self { $($(Self::$variant(c) => c.on_failure(error)),+),* }
            }
        }

        /// Every collector's metrics, in registration order.
        pub const COLLECTOR_METRICS: &[Group] = &[$($(($ty::NAME, $ty::METRICS)),+),*];

        /// Checks every collector's configuration and builds the enabled ones, with their
        /// schedules; every problem of every collector is returned together.
        pub fn plan(config: &Config) -> Result<Vec<Scheduled>, Problems> {
            let mut problems = Vec::new();
            let shared = Shared::plan(config, &mut problems);
            let mut all = Vec::new();
            $($(
                if let Some((c, interval)) = $ty::plan(config, &shared, &mut problems) {
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
    postgres: Postgres(PostgresCollector), PostgresTables(TablesCollector);
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

/// Looks a metric up by name in the whole catalogue.
#[must_use]
pub fn find_metric(name: &str) -> Option<(&'static str, &'static MetricDesc)> {
    catalog::find(&catalog(), name)
}

/// A collector with its schedule.
#[derive(Debug)]
pub struct Scheduled {
    pub collector: CollectorKind,
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
        starttls: Some(StartTls::Postgres),
        tls_optional: matches!(options.get_ssl_mode(), PgSslMode::Prefer | PgSslMode::Allow),
    })
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
                    d.name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
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
    }
}
