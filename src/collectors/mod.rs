//! Collectors: each samples one source on its own interval and returns a batch.

pub mod postgres;
pub mod runner;

use std::future::Future;
use std::time::Duration;

use crate::config::Config;
use crate::metrics::Batch;

pub use postgres::{PostgresCollector, TablesCollector};

/// A source of samples. `runner` owns timing, timeouts and the `up` metric.
pub trait Collector: Send + Sync {
    fn name(&self) -> &'static str;
    /// No registry, no HTTP, no alerting: sample and return.
    fn collect(&self) -> impl Future<Output = Result<Batch, CollectError>> + Send;
    /// What stays true when a run fails (`pg_up 0`); by default nothing, so a failed
    /// collector's series disappear rather than being served as if fresh.
    fn on_failure(&self, _error: &CollectError) -> Batch {
        Batch::default()
    }
}

/// Why a run failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
    #[error("run did not finish within {0:?}")]
    Timeout(Duration),
}

/// The closed set of collectors (enum dispatch: one variant per collector).
#[derive(Debug)]
pub enum CollectorKind {
    Postgres(PostgresCollector),
    PostgresTables(TablesCollector),
}

impl CollectorKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres(c) => c.name(),
            Self::PostgresTables(c) => c.name(),
        }
    }

    pub async fn collect(&self) -> Result<Batch, CollectError> {
        match self {
            Self::Postgres(c) => c.collect().await,
            Self::PostgresTables(c) => c.collect().await,
        }
    }

    pub fn on_failure(&self, error: &CollectError) -> Batch {
        match self {
            Self::Postgres(c) => c.on_failure(error),
            Self::PostgresTables(c) => c.on_failure(error),
        }
    }
}

/// A collector with its schedule.
#[derive(Debug)]
pub struct Scheduled {
    pub collector: CollectorKind,
    pub interval: Duration,
    /// A run must end before the next is due.
    pub timeout: Duration,
}

/// Every enabled collector for `config`.
pub fn build(config: &Config) -> Result<Vec<Scheduled>, postgres::PgError> {
    let pg = postgres::connections(&config.postgres)?;
    Ok(vec![
        Scheduled {
            collector: CollectorKind::Postgres(PostgresCollector::new(
                pg.clone(),
                &config.postgres,
            )),
            interval: config.postgres.interval,
            timeout: config.postgres.interval,
        },
        Scheduled {
            collector: CollectorKind::PostgresTables(TablesCollector::new(pg, &config.postgres)),
            interval: config.postgres.slow_interval,
            timeout: config.postgres.slow_interval,
        },
    ])
}
