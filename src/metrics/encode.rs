//! Exposition encoders: Prometheus text 0.0.4 and OpenMetrics 1.0, from one sample model.
//!
//! Batches are encoded once per collector run, not once per scrape, so `/metrics` only
//! concatenates ready bytes. `prometheus-client` writes OpenMetrics only and encodes its
//! registry on every scrape, which is why this small encoder exists.

use super::sample::{Batch, Family, MetricKind};

/// Prometheus text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// OpenMetrics requires the exposition to end with this line.
pub const OPENMETRICS_EOF: &str = "# EOF\n";

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header, as Prometheus negotiates it.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Text,
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text => TEXT_CONTENT_TYPE,
            Self::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Encodes every non-empty family of `batch` (without the OpenMetrics `# EOF`).
pub fn encode(batch: &Batch, format: Format) -> String {
    // About 90 bytes a series is typical for per-table families.
    let mut out = String::with_capacity(batch.series() * 96 + batch.families.len() * 128);
    for family in batch.families.iter().filter(|f| !f.samples.is_empty()) {
        encode_family(&mut out, family, format);
    }
    // The text is kept until the next run: give back what the estimate over-reserved.
    out.shrink_to_fit();
    out
}

fn encode_family(out: &mut String, family: &Family, format: Format) {
    let sample_name = &*family.name;
    // OpenMetrics names a counter family without its `_total` suffix.
    let family_name = match (format, family.kind) {
        (Format::OpenMetrics, MetricKind::Counter) => {
            sample_name.strip_suffix("_total").unwrap_or(sample_name)
        }
        _ => sample_name,
    };
    let kind = match (format, family.kind) {
        (Format::OpenMetrics, MetricKind::Untyped) => "unknown",
        (_, kind) => kind.as_str(),
    };
    out.push_str("# HELP ");
    out.push_str(family_name);
    out.push(' ');
    escape_help(out, &family.help, format);
    out.push_str("\n# TYPE ");
    out.push_str(family_name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    for sample in &family.samples {
        out.push_str(sample_name);
        if !sample.labels.is_empty() {
            out.push('{');
            for (i, (name, value)) in sample.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                escape_label_value(out, value);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        write_value(out, sample.value);
        out.push('\n');
    }
}

fn escape_help(out: &mut String, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    if !value.contains(['\\', '"', '\n']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Integral values (counts, bytes, timestamps) print without a fraction.
        // Exact, since every integer below 2^53 is.
        #[allow(clippy::cast_possible_truncation)]
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // Shortest representation that parses back to the same f64.
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::sample::{labels, MetricDesc};

    static G: MetricDesc = MetricDesc {
        name: "demo_size_bytes",
        kind: MetricKind::Gauge,
        labels: &["datname"],
        help: "Size with a \\ backslash\nand newline.",
    };
    static C: MetricDesc = MetricDesc {
        name: "demo_errors_total",
        kind: MetricKind::Counter,
        labels: &[],
        help: "Errors \"quoted\".",
    };
    static U: MetricDesc = MetricDesc {
        name: "demo_locks_count",
        kind: MetricKind::Untyped,
        labels: &[],
        help: "Locks.",
    };

    fn batch() -> Batch {
        let mut b = Batch::default();
        b.push(&G, labels([("datname", "a\"b\\c\nd")]), 1536.0);
        b.push(&G, labels([("datname", "plain")]), 0.25);
        b.set(&C, 3.0);
        b.set(&U, f64::NAN);
        b
    }

    #[test]
    fn text_format_escapes_and_types() {
        let out = encode(&batch(), Format::Text);
        assert_eq!(
            out,
            "# HELP demo_size_bytes Size with a \\\\ backslash\\nand newline.\n\
             # TYPE demo_size_bytes gauge\n\
             demo_size_bytes{datname=\"a\\\"b\\\\c\\nd\"} 1536\n\
             demo_size_bytes{datname=\"plain\"} 0.25\n\
             # HELP demo_errors_total Errors \"quoted\".\n\
             # TYPE demo_errors_total counter\n\
             demo_errors_total 3\n\
             # HELP demo_locks_count Locks.\n\
             # TYPE demo_locks_count untyped\n\
             demo_locks_count NaN\n"
        );
    }

    #[test]
    fn openmetrics_exact_output() {
        // OpenMetrics 1.0: help escapes `"` too; a counter family drops `_total`, which its
        // sample keeps; untyped is `unknown`. `# EOF` is added once, after every batch.
        let out = encode(&batch(), Format::OpenMetrics);
        assert_eq!(
            out,
            "# HELP demo_size_bytes Size with a \\\\ backslash\\nand newline.\n\
             # TYPE demo_size_bytes gauge\n\
             demo_size_bytes{datname=\"a\\\"b\\\\c\\nd\"} 1536\n\
             demo_size_bytes{datname=\"plain\"} 0.25\n\
             # HELP demo_errors Errors \\\"quoted\\\".\n\
             # TYPE demo_errors counter\n\
             demo_errors_total 3\n\
             # HELP demo_locks_count Locks.\n\
             # TYPE demo_locks_count unknown\n\
             demo_locks_count NaN\n"
        );
    }

    #[test]
    fn openmetrics_names_counters_without_total_and_untyped_as_unknown() {
        let out = encode(&batch(), Format::OpenMetrics);
        assert!(out.contains("# TYPE demo_errors counter\ndemo_errors_total 3\n"));
        assert!(out.contains("# HELP demo_errors Errors \\\"quoted\\\".\n"));
        assert!(out.contains("# TYPE demo_locks_count unknown\n"));
    }

    #[test]
    fn values_format_like_prometheus() {
        let mut s = String::new();
        for v in [f64::INFINITY, f64::NEG_INFINITY, -2.0, 1e20, 1.5e-7] {
            write_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "+Inf -Inf -2 1e20 1.5e-7 ");
    }

    #[test]
    fn empty_families_are_left_out() {
        let mut b = Batch::default();
        b.families.push(Family::new(&G));
        assert_eq!(encode(&b, Format::Text), "");
    }

    #[test]
    fn accept_header_negotiation() {
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics
        );
    }
}
