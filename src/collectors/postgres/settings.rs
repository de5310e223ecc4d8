//! `pg_settings`: every numeric and boolean setting as `pg_settings_<name>`, in
//! postgres_exporter's form (base units, `_bytes` and `_seconds` suffixes), and the
//! settings changed but waiting for a restart.

use super::spec::Ctx;
use super::PgError;
use crate::metrics::{labels, Batch, Labels};

crate::metrics! {
    SETTING: "pg_settings_<setting>", Gauge, [],
        "Each numeric and boolean server setting, named after it (dots and dashes become underscores), as postgres_exporter names it: sizes in bytes with a _bytes suffix, times in seconds with a _seconds suffix, booleans as 1 or 0; -1 (disabled) is kept as -1.";
    PENDING_RESTART: "centinela_pg_setting_pending_restart", Gauge, ["name"],
        "1 for each setting changed in the configuration whose new value waits for a server restart (pg_settings.pending_restart); absent when none waits.";
}

const SQL: &str = "
SELECT name::text, setting::text, coalesce(unit, '')::text, vartype::text,
       coalesce(short_desc, '')::text, pending_restart
FROM pg_settings
WHERE vartype IN ('bool', 'integer', 'real') OR pending_restart
ORDER BY name";

/// One setting as exported: the metric name, the value and the unit it was converted to.
#[derive(Debug, PartialEq)]
pub struct Converted {
    /// `pg_settings_<name>[_<unit>]`.
    pub name: String,
    /// In base units.
    pub value: f64,
    /// `bytes`, `seconds` or empty.
    pub unit: &'static str,
}

/// Converts one setting as postgres_exporter does; `None` for a value or unit it cannot read.
pub fn convert(name: &str, setting: &str, unit: &str, vartype: &str) -> Option<Converted> {
    let base: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let (value, unit) = match vartype {
        "bool" => (if setting == "on" { 1.0 } else { 0.0 }, ""),
        "integer" | "real" => {
            let raw: f64 = setting.trim().parse().ok()?;
            let (scale, unit) = unit_scale(unit)?;
            // -1 means "disabled" or "unlimited": kept as is, as postgres_exporter does.
            let value = if raw == -1.0 { raw } else { raw * scale };
            (value, unit)
        }
        _ => return None,
    };
    let name = if unit.is_empty() {
        format!("pg_settings_{base}")
    } else {
        format!("pg_settings_{base}_{unit}")
    };
    Some(Converted { name, value, unit })
}

/// The factor to base units and the unit's suffix, for a `pg_settings.unit` such as `8kB`,
/// `16MB`, `ms` or `min`.
fn unit_scale(unit: &str) -> Option<(f64, &'static str)> {
    if unit.is_empty() {
        return Some((1.0, ""));
    }
    let digits = unit.bytes().take_while(u8::is_ascii_digit).count();
    let (count, base) = unit.split_at(digits);
    let count: f64 = if count.is_empty() { 1.0 } else { count.parse().ok()? };
    let (scale, suffix) = match base {
        "B" => (1.0, "bytes"),
        "kB" => (1024.0, "bytes"),
        "MB" => (1024.0 * 1024.0, "bytes"),
        "GB" => (1024.0 * 1024.0 * 1024.0, "bytes"),
        "TB" => (1024.0 * 1024.0 * 1024.0 * 1024.0, "bytes"),
        "us" => (1e-6, "seconds"),
        "ms" => (1e-3, "seconds"),
        "s" => (1.0, "seconds"),
        "min" => (60.0, "seconds"),
        "h" => (3600.0, "seconds"),
        "d" => (86400.0, "seconds"),
        _ => return None,
    };
    Some((count * scale, suffix))
}

/// Reads `pg_settings`.
pub async fn read(cx: &mut Ctx<'_>) -> Result<Option<Batch>, PgError> {
    type Row = (String, String, String, String, String, bool);
    let rows: Vec<Row> = cx.rows_as("settings", SQL).await?;
    let mut b = Batch::default();
    let none = Labels::from([]);
    for (name, setting, unit, vartype, short_desc, _) in &rows {
        match convert(name, setting, unit, vartype) {
            Some(c) => b.push_named(
                &SETTING,
                &c.name,
                || match c.unit {
                    "" => format!("Server setting {name}: {short_desc}"),
                    u => format!("Server setting {name}: {short_desc} [Units converted to {u}.]"),
                },
                none.clone(),
                c.value,
            ),
            None if matches!(vartype.as_str(), "integer" | "real") => cx.note_once(
                "settings-unit",
                &format!("Setting {name} has a unit or value centinela cannot convert ({setting} {unit}); it is not exported."),
            ),
            None => {}
        }
    }
    for (name, ..) in rows.iter().filter(|r| r.5) {
        b.push(&PENDING_RESTART, labels([("name", name)]), 1.0);
    }
    Ok(Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_and_scaled_as_postgres_exporter_does() {
        let c = |n, s, u, t| convert(n, s, u, t).map(|c| (c.name, c.value));
        assert_eq!(
            c("shared_buffers", "16384", "8kB", "integer"),
            Some(("pg_settings_shared_buffers_bytes".into(), 134_217_728.0))
        );
        assert_eq!(
            c("max_wal_size", "1024", "MB", "integer"),
            Some(("pg_settings_max_wal_size_bytes".into(), 1_073_741_824.0))
        );
        assert_eq!(
            c("statement_timeout", "1500", "ms", "integer"),
            Some(("pg_settings_statement_timeout_seconds".into(), 1.5))
        );
        assert_eq!(
            c("log_rotation_age", "1440", "min", "integer"),
            Some(("pg_settings_log_rotation_age_seconds".into(), 86400.0))
        );
        assert_eq!(
            c("wal_segment_size", "16777216", "B", "integer"),
            Some(("pg_settings_wal_segment_size_bytes".into(), 16_777_216.0))
        );
        // -1 (disabled) stays -1 in any unit.
        assert_eq!(
            c("max_slot_wal_keep_size", "-1", "MB", "integer"),
            Some(("pg_settings_max_slot_wal_keep_size_bytes".into(), -1.0))
        );
        assert_eq!(
            c("autovacuum_vacuum_scale_factor", "0.2", "", "real"),
            Some(("pg_settings_autovacuum_vacuum_scale_factor".into(), 0.2))
        );
        assert_eq!(c("fsync", "on", "", "bool"), Some(("pg_settings_fsync".into(), 1.0)));
        assert_eq!(
            c("pg_stat_statements.track_utility", "off", "", "bool"),
            Some(("pg_settings_pg_stat_statements_track_utility".into(), 0.0))
        );
        assert_eq!(c("odd", "12", "furlongs", "integer"), None);
        assert_eq!(c("odd", "twelve", "", "integer"), None);
        assert_eq!(c("datestyle", "ISO, MDY", "", "string"), None);
        // Every converted name is an instance of the template.
        let name = convert("max_connections", "100", "", "integer").unwrap().name;
        assert!(SETTING.matches(&name), "{name}");
    }
}
