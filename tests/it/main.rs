//! Integration tests: one binary, real PostgreSQL and promtool.

// Test figures (sizes, timestamps) are far below 2^52.
#![allow(clippy::cast_precision_loss)]
// Helpers are methods of the harness types even where they need no `self`; receivers
// name path segments after Slack's (`T/B/X`).
#![allow(clippy::unused_self, clippy::many_single_char_names)]
// Test helpers panic on purpose when the environment is broken.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::let_underscore_must_use
)]

mod alerting;
mod cli;
mod common;
mod custom;
mod dashboards;
mod deploy;
mod http;
mod matrix;
mod notify;
mod pages;
mod postgres;
mod prometheus;
mod rules;
mod security;
mod server_log;
mod surroundings;
