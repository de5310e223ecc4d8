//! The alerting engine: Prometheus rule files evaluated over the sidecar's own samples.

pub mod rules;
pub mod template;
pub mod unittest;

/// The built-in rule pack, loaded when `alerting.rule_files` is not set.
pub const DEFAULT_RULES: &str = include_str!("../../alert-rules/centinela.rules.yaml");
pub const DEFAULT_RULES_NAME: &str = "<built-in>/centinela.rules.yaml";
