//! Collectors: each samples one source on its own interval and returns a batch.

pub mod backups;
pub mod certs;
pub mod files;
pub mod host;
pub mod pgbackrest;
pub mod postgres;
pub mod probes;
pub mod redis;
pub mod runner;
pub mod textfile;

use std::future::Future;
use std::time::Duration;

use sqlx::postgres::PgSslMode;

use crate::config::{resolve_secret, Config, StartTls};
use crate::metrics::Batch;

pub use backups::BackupsCollector;
pub use certs::CertsCollector;
pub use files::FilesCollector;
pub use host::HostCollector;
pub use pgbackrest::PgBackRestCollector;
pub use postgres::{PostgresCollector, TablesCollector};
pub use probes::ProbesCollector;
pub use redis::RedisCollector;
pub use textfile::TextfileCollector;

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
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Host(String),
    #[error("{0}")]
    Io(String),
    #[error("run did not finish within {0:?}")]
    Timeout(Duration),
}

/// Why the collectors could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
    #[error("cannot read redis.url_file {path}: {message}")]
    RedisUrl { path: String, message: String },
    #[error(transparent)]
    Collector(#[from] CollectError),
}

macro_rules! collectors {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// The closed set of collectors (enum dispatch: one variant per collector).
        #[derive(Debug)]
        pub enum CollectorKind {
            $($variant($ty)),*
        }

        impl CollectorKind {
            pub fn name(&self) -> &'static str {
                match self { $(Self::$variant(c) => c.name()),* }
            }

            pub async fn collect(&self) -> Result<Batch, CollectError> {
                match self { $(Self::$variant(c) => c.collect().await),* }
            }

            pub fn on_failure(&self, error: &CollectError) -> Batch {
                match self { $(Self::$variant(c) => c.on_failure(error)),* }
            }
        }
    };
}

collectors! {
    Postgres(PostgresCollector),
    PostgresTables(TablesCollector),
    Host(HostCollector),
    Certs(CertsCollector),
    Backups(BackupsCollector),
    PgBackRest(PgBackRestCollector),
    Redis(RedisCollector),
    Files(FilesCollector),
    Probes(ProbesCollector),
    Textfile(TextfileCollector),
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

/// Every enabled collector for `config`.
pub fn build(config: &Config) -> Result<Vec<Scheduled>, BuildError> {
    let pg = postgres::connections(&config.postgres)?;
    let s = &config.schedule;
    let pg_endpoint = if config.certs.postgres {
        postgres_endpoint(pg.options())
    } else {
        None
    };
    let mut all = vec![
        Scheduled::every(
            CollectorKind::Postgres(PostgresCollector::new(pg.clone(), &config.postgres)),
            config.postgres.interval,
        ),
        Scheduled::every(
            CollectorKind::PostgresTables(TablesCollector::new(pg, &config.postgres)),
            config.postgres.slow_interval,
        ),
    ];
    if config.host.enabled {
        all.push(Scheduled::every(
            CollectorKind::Host(HostCollector::new(&config.host)),
            s.host,
        ));
    }
    let certs = CertsCollector::new(config, pg_endpoint);
    if !certs.is_empty() {
        all.push(Scheduled::every(CollectorKind::Certs(certs), s.certs));
    }
    if !config.backups.is_empty() {
        all.push(Scheduled::every(
            CollectorKind::Backups(BackupsCollector::new(&config.backups)),
            s.backups,
        ));
    }
    if config.pgbackrest.enabled {
        all.push(Scheduled::every(
            CollectorKind::PgBackRest(PgBackRestCollector::new(&config.pgbackrest)),
            s.pgbackrest,
        ));
    }
    let redis_url = resolve_secret(config.redis.url.as_ref(), config.redis.url_file.as_deref())
        .map_err(|(path, e)| BuildError::RedisUrl {
            path,
            message: e.to_string(),
        })?;
    if let Some(url) = redis_url {
        all.push(Scheduled::every(
            CollectorKind::Redis(RedisCollector::new(&config.redis, url)),
            s.redis,
        ));
    }
    if !config.files.stale.is_empty() || !config.files.logs.is_empty() {
        all.push(Scheduled::every(
            CollectorKind::Files(FilesCollector::new(&config.files)),
            s.files,
        ));
    }
    if !config.probes.is_empty() {
        all.push(Scheduled::every(
            CollectorKind::Probes(ProbesCollector::new(&config.probes)?),
            s.probes,
        ));
    }
    if let Some(dir) = &config.textfile.directory {
        all.push(Scheduled::every(
            CollectorKind::Textfile(TextfileCollector::new(dir.clone())),
            s.textfile,
        ));
    }
    Ok(all)
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
