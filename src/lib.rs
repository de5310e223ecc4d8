//! centinela: a Prometheus exporter and alerting sidecar for PostgreSQL.

pub mod alerting;
pub mod app;
pub mod cli;
pub mod collectors;
pub mod config;
pub mod http;
pub mod metrics;
pub mod promql;
pub mod snapshot;
pub mod supervisor;
pub mod telemetry;
pub mod time;
