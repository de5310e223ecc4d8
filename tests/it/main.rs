//! Integration tests: one binary, real PostgreSQL and promtool.

// Test helpers panic on purpose when the environment is broken.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::let_underscore_must_use
)]

mod alerting;
mod cli;
mod common;
mod dashboards;
mod deploy;
mod http;
mod notify;
mod postgres;
mod prometheus;
mod rules;
mod surroundings;
