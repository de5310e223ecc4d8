//! Command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "centinela",
    version,
    about = "Prometheus exporter and alerting sidecar for PostgreSQL"
)]
/// The command line.
pub struct Cli {
    /// Configuration file (TOML). Without it: built-in defaults, CENTINELA__* variables and
    /// the libpq PG* variables.
    #[arg(long, short, global = true, env = "CENTINELA_CONFIG")]
    pub config: Option<PathBuf>,
    /// exporter-toolkit's web configuration file (TLS, basic auth users, headers), as
    /// postgres_exporter reads it; overrides `[server] web_config_file`.
    #[arg(
        long = "web.config.file",
        global = true,
        env = "CENTINELA_WEB_CONFIG_FILE"
    )]
    pub web_config_file: Option<PathBuf>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CENTINELA_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do; none: run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the exporter (the default).
    Run,
    /// Validate the configuration; print every problem with its key; exit 1 on any.
    CheckConfig,
    /// Run every collector once and print the exposition; exit 1 if any failed.
    Collect,
    /// Print the documented default of every key (a valid configuration file).
    Defaults,
    /// List every metric centinela can export.
    Metrics {
        #[arg(long, value_enum, default_value_t = CatalogFormat::Text)]
        /// Plain text or the README's Markdown table.
        format: CatalogFormat,
    },
    /// Send a clearly marked test notification through a receiver's integrations (the
    /// same payloads and HTTP path as real alerts); exit 1 if any integration failed.
    NotifyTest {
        /// The receiver's `name` in `[[alerting.receivers]]`.
        #[arg(long)]
        receiver: String,
        /// The test alert's severity label, which decides colours and PagerDuty severity.
        #[arg(long, default_value = "P1")]
        severity: String,
    },
    /// Ask a running centinela's /health (for Docker's HEALTHCHECK in an image without
    /// curl); exit 0 on 200, else 1 with the reason.
    Healthcheck {
        /// Default: /health on the configured server.listen port, on the loopback address.
        #[arg(long)]
        url: Option<String>,
    },
    /// Validate Prometheus rule files or run their unit tests (promtool's format).
    Rules {
        #[command(subcommand)]
        /// What to do with them.
        action: RulesCommand,
    },
}

/// `centinela rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files (all problems, with file, group and rule); none: the built-in pack.
    Check {
        /// Rule files.
        files: Vec<PathBuf>,
    },
    /// Run rule unit-test files written for `promtool test rules`.
    #[command(arg_required_else_help = true)]
    Test {
        /// Unit-test files.
        files: Vec<PathBuf>,
    },
    /// Print the rule files (none: the built-in pack) as a Prometheus Operator
    /// PrometheusRule resource, after checking them.
    PrometheusRule {
        /// metadata.name of the resource.
        #[arg(long, default_value = "centinela")]
        name: String,
        /// metadata.namespace; unset leaves it to `kubectl apply -n`.
        #[arg(long)]
        namespace: Option<String>,
        /// Extra metadata label, `key=value` (repeatable), e.g. the `release` label the
        /// Operator's ruleSelector matches.
        #[arg(long = "label", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// Rule files; none: the built-in pack.
        files: Vec<PathBuf>,
    },
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?}: expected key=value")),
    }
}

/// How `centinela metrics` prints the catalogue.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CatalogFormat {
    /// One block per metric.
    Text,
    /// The README's table.
    Markdown,
}
