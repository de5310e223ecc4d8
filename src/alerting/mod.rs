//! The alerting engine: Prometheus rule files evaluated over the sidecar's own samples.

pub mod engine;
pub mod rules;
pub mod template;
pub mod unittest;

/// The built-in rule pack, loaded when `alerting.rule_files` is not set.
pub const DEFAULT_RULES: &str = include_str!("../../alert-rules/centinela.rules.yaml");
pub const DEFAULT_RULES_NAME: &str = "<built-in>/centinela.rules.yaml";

/// The configured rule files, or the built-in pack when none are configured.
pub fn load_rules(files: &[String]) -> Result<rules::RuleSet, Vec<String>> {
    if files.is_empty() {
        rules::RuleSet::parse(DEFAULT_RULES_NAME, DEFAULT_RULES)
    } else {
        rules::RuleSet::load_files(files)
    }
}
