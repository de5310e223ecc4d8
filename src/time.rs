//! Time conversions shared by every layer: Unix milliseconds, RFC 3339, Unix seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A duration in whole milliseconds, saturating at `i64::MAX`.
#[must_use]
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A wall-clock time as Unix milliseconds (negative before 1970).
#[must_use]
pub fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => millis(d),
        Err(e) => -millis(e.duration()),
    }
}

/// Now, as Unix milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    system_time_ms(SystemTime::now())
}

/// A wall-clock time as Unix seconds with a fraction (0 before 1970).
#[must_use]
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Unix milliseconds as RFC 3339 UTC with millisecond precision; empty when out of range.
#[must_use]
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_and_saturate() {
        assert_eq!(millis(Duration::from_secs(2)), 2000);
        assert_eq!(millis(Duration::MAX), i64::MAX);
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(system_time_ms(t), 1_500);
        assert_eq!(system_time_ms(UNIX_EPOCH - Duration::from_millis(5)), -5);
        assert!((unix_seconds(t) - 1.5).abs() < 1e-9);
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
    }
}
