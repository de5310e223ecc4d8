//! What a rule reads that centinela never exports. A rule written for postgres_exporter,
//! `node_exporter` or another exporter can name a metric nothing here produces: it would
//! load, evaluate to nothing and never fire. `check-config` and `rules check` say so, and
//! where centinela exports the same measure under another name, which name.

use std::collections::BTreeSet;

use super::rules::RuleSet;

/// Other exporters' names for what centinela exports under its own.
const RENAMED: &[(&str, &str)] = &[
    (
        "node_filesystem_size_bytes",
        "centinela_filesystem_size_bytes",
    ),
    (
        "node_filesystem_avail_bytes",
        "centinela_filesystem_avail_bytes",
    ),
    (
        "node_filesystem_free_bytes",
        "centinela_filesystem_free_bytes",
    ),
    ("node_filesystem_files", "centinela_filesystem_files"),
    (
        "node_filesystem_files_free",
        "centinela_filesystem_files_free",
    ),
    ("node_filesystem_readonly", "centinela_filesystem_readonly"),
    (
        "node_filesystem_device_error",
        "centinela_filesystem_device_error",
    ),
    ("node_memory_MemTotal_bytes", "centinela_memory_total_bytes"),
    (
        "node_memory_MemAvailable_bytes",
        "centinela_memory_available_bytes",
    ),
    ("node_memory_MemFree_bytes", "centinela_memory_free_bytes"),
    ("node_memory_Cached_bytes", "centinela_memory_cached_bytes"),
    (
        "node_memory_SwapTotal_bytes",
        "centinela_memory_swap_total_bytes",
    ),
    (
        "node_memory_SwapFree_bytes",
        "centinela_memory_swap_free_bytes",
    ),
    ("node_cpu_seconds_total", "centinela_cpu_seconds_total"),
    ("node_load1", "centinela_load1"),
    ("node_load5", "centinela_load5"),
    ("node_load15", "centinela_load15"),
    ("probe_success", "centinela_probe_success"),
    ("probe_duration_seconds", "centinela_probe_duration_seconds"),
    ("probe_http_status_code", "centinela_probe_http_status_code"),
    (
        "probe_ssl_earliest_cert_expiry",
        "centinela_cert_not_after_timestamp_seconds",
    ),
    (
        "ssl_cert_not_after",
        "centinela_cert_not_after_timestamp_seconds",
    ),
    (
        "x509_cert_not_after",
        "centinela_cert_not_after_timestamp_seconds",
    ),
    (
        "pgbackrest_backup_since_last_completion_seconds",
        "centinela_pgbackrest_last_backup_timestamp_seconds",
    ),
    ("pg_stat_statements_calls", "pg_stat_statements_calls_total"),
    (
        "pg_stat_statements_seconds",
        "pg_stat_statements_seconds_total",
    ),
    (
        "pg_postmaster_uptime_seconds",
        "pg_postmaster_start_time_seconds",
    ),
];

/// Names the alerting engine itself produces for rules to read.
const OWN: &[&str] = &["ALERTS", "ALERTS_FOR_STATE"];

/// One line per metric some rule reads that centinela never exports: the rule, the name
/// and, when known, the name centinela exports it under. `textfile` says whether textfiles
/// may still bring the name.
pub fn unexported(rules: &RuleSet, textfile: bool) -> Vec<String> {
    let recorded: BTreeSet<&str> = rules
        .rules()
        .filter(|r| matches!(r.kind, super::rules::RuleKind::Record))
        .map(|r| r.name.as_str())
        .collect();
    let mut out = Vec::new();
    for rule in rules.rules() {
        let mut reads = Vec::new();
        crate::promql::selectors(&rule.expr, &mut reads);
        let names: BTreeSet<String> = reads
            .iter()
            .filter_map(|r| crate::promql::storage::selector_name(&r.vs).map(str::to_owned))
            .collect();
        for name in names {
            if recorded.contains(name.as_str())
                || OWN.contains(&name.as_str())
                || crate::collectors::find_metric(&name).is_some()
            {
                continue;
            }
            let hint = match RENAMED.iter().find(|(other, _)| *other == name) {
                Some((_, ours)) => format!(", which centinela exports as {ours}"),
                None if textfile => {
                    ", which centinela never exports (unless a textfile brings it)".to_owned()
                }
                None => ", which centinela never exports: the rule cannot fire".to_owned(),
            };
            out.push(format!("rule {:?} reads {name}{hint}", rule.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_against_the_catalogue_and_renames_are_given() {
        let rules = RuleSet::parse(
            "t.yaml",
            r"groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum(pg_up)
      - alert: A
        expr: job:up:sum == 0 or pg_settings_max_connections < 1 or absent(ALERTS)
      - alert: B
        expr: node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.1
      - alert: C
        expr: rate(mysql_global_status_questions[5m]) > 1
",
        )
        .unwrap();
        let got = unexported(&rules, false);
        assert_eq!(
            got,
            [
                "rule \"B\" reads node_filesystem_avail_bytes, which centinela exports as centinela_filesystem_avail_bytes",
                "rule \"B\" reads node_filesystem_size_bytes, which centinela exports as centinela_filesystem_size_bytes",
                "rule \"C\" reads mysql_global_status_questions, which centinela never exports: the rule cannot fire",
            ]
        );
        assert!(unexported(&rules, true)[2].ends_with("(unless a textfile brings it)"));
    }
}
