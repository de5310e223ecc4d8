//! Go's number formatting, as Prometheus prints numbers: `strconv.FormatFloat`, `%g`/`%e`,
//! and the template humanizers. Templates, PromQL's `count_values` and the notifiers all
//! print through here, so a difference from Prometheus is mended in one place.

// Go's formatting code, whose single-letter names it follows.
#![allow(clippy::many_single_char_names)]

/// `strconv.FormatFloat(v, 'f', -1, 64)`, as `count_values` and templates print numbers.
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Decimal digits (no trailing zeros) and the decimal point position of `|v|`, rounded
/// to `precision` significant digits, or the shortest exact representation.
fn digits(v: f64, precision: Option<usize>) -> (Vec<u8>, i32) {
    let s = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, v.abs()),
        None => format!("{:e}", v.abs()),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    (d, exp + 1)
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// Go's `%.Ne`.
pub fn go_e(v: f64, precision: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let s = format!("{v:.precision$e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// Go's `%g` (`None`: `%v`, the shortest representation) for a float.
pub fn go_g(v: f64, precision: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (d, dp) = digits(v, precision);
    let nd = i32::try_from(d.len()).unwrap_or(i32::MAX);
    let mut prec = precision.map_or(nd, |p| i32::try_from(p.max(1)).unwrap_or(i32::MAX));
    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if precision.is_none() {
        eprec = 6;
    }
    let exp = dp - 1;
    let mut out = String::new();
    if v < 0.0 {
        out.push('-');
    }
    let digit = |i: i32| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| d.get(i))
            .map_or('0', |b| char::from(*b))
    };
    if exp < -4 || exp >= eprec {
        prec = prec.min(nd);
        out.push(digit(0));
        if prec > 1 {
            out.push('.');
            for i in 1..prec {
                out.push(digit(i));
            }
        }
        out += &format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        return out;
    }
    if prec > dp {
        prec = nd;
    }
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    let frac = (prec - dp).max(0);
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            out.push(digit(dp + i));
        }
    }
    out
}

const SMALL: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];

/// Prometheus' `humanize`: SI prefixes.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_g(v, Some(4));
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in SMALL {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", go_g(v, Some(4)))
}

/// Prometheus' `humanize1024`: binary prefixes.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return go_g(v, Some(4));
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", go_g(v, Some(4)))
}

/// Prometheus' `humanizeDuration`.
pub fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return go_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", go_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        #[allow(clippy::cast_possible_truncation)]
        let total = v as i64;
        let (s, m, h, d) = (
            total % 60,
            (total / 60) % 60,
            (total / 3600) % 24,
            total / 86400,
        );
        return if d != 0 {
            format!("{sign}{d}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", go_g(v, Some(4)))
        };
    }
    let mut prefix = "";
    for p in SMALL {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", go_g(v, Some(4)))
}

/// Prometheus' `humanizeTimestamp` (UTC).
pub fn humanize_timestamp(v: f64) -> String {
    if !v.is_finite() {
        return go_g(v, Some(4));
    }
    #[allow(clippy::cast_possible_truncation)]
    let nanos = (v * 1e9) as i64;
    let t = chrono::DateTime::from_timestamp_nanos(nanos);
    // Go's time.Time String(): trailing zeros of the fraction dropped.
    let mut s = t.format("%Y-%m-%d %H:%M:%S%.9f").to_string();
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s + " +0000 UTC"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_number_formats() {
        // Figures from Go's strconv / fmt for the same inputs.
        assert_eq!(go_g(1.0, Some(4)), "1");
        assert_eq!(go_g(1.5, Some(4)), "1.5");
        assert_eq!(go_g(1234.0, Some(4)), "1234");
        assert_eq!(go_g(12345.0, Some(4)), "1.234e+04");
        assert_eq!(go_g(100.0, Some(4)), "100");
        assert_eq!(go_g(0.000_123_4, Some(4)), "0.0001234");
        assert_eq!(go_g(0.000_012_34, Some(4)), "1.234e-05");
        assert_eq!(go_g(1e6, None), "1e+06");
        assert_eq!(go_g(123_456.7, None), "123456.7");
        assert_eq!(go_g(0.5, None), "0.5");
        assert_eq!(go_g(f64::INFINITY, None), "+Inf");
    }

    #[test]
    fn prometheus_humanizers() {
        assert_eq!(humanize(1_234_567.0), "1.235M");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize1024(1_073_741_824.0), "1Gi");
        assert_eq!(humanize1024(2048.0), "2ki");
        assert_eq!(humanize_duration(90_061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(
            humanize_timestamp(1_435_065_584.128),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
    }
}
