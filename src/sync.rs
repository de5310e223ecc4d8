//! Locking without losing state: one home for how centinela treats a poisoned lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, taking over a lock whose holder panicked. Every value centinela guards is
/// left whole by its writers (one assignment, insert or removal at a time), so a poisoned
/// lock is read as it is, never treated as empty: a lost silence list would let muted
/// pages out, a lost counter would reset a metric.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lets a repeated warning through at most once per `every` for each key, counting what
/// it held back, so a flood (an attacker's connections, a file broken the same way on
/// every run) makes one log line per period, not one per event.
#[derive(Debug)]
pub struct Throttle {
    every: std::time::Duration,
    seen: Mutex<std::collections::HashMap<String, (std::time::Instant, u64)>>,
}

impl Throttle {
    /// At most one line per key per `every`.
    pub fn new(every: std::time::Duration) -> Self {
        Self {
            every,
            seen: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// `Some(held back since the last line)` when a line for `key` may be written now.
    pub fn allow(&self, key: &str) -> Option<u64> {
        let now = std::time::Instant::now();
        let mut seen = lock(&self.seen);
        match seen.get_mut(key) {
            Some((last, held)) if now.duration_since(*last) < self.every => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let n = *held;
                *last = now;
                *held = 0;
                Some(n)
            }
            None => {
                // Bounded: many distinct keys (client addresses) start over rather than grow.
                if seen.len() >= 10_000 {
                    seen.clear();
                }
                seen.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_line_through_per_period_and_counts_the_rest() {
        let t = Throttle::new(std::time::Duration::from_millis(50));
        assert_eq!(t.allow("a"), Some(0));
        assert_eq!(t.allow("a"), None);
        assert_eq!(t.allow("a"), None);
        assert_eq!(t.allow("b"), Some(0));
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert_eq!(t.allow("a"), Some(2));
        assert_eq!(t.allow("a"), None);
    }
}

/// The conditions last reported, per key (a file, a mount point, a source), so a warning is
/// logged when a condition appears or changes, not on every run while it lasts.
#[derive(Debug, Default)]
pub struct Reported(Mutex<std::collections::HashMap<String, String>>);

impl Reported {
    /// Records this run's conditions (key → state) and returns those that are new or
    /// changed since the last call. A key absent from `now` is forgotten: its condition
    /// ended, and its return is reported again.
    pub fn update(&self, now: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
        let now: std::collections::HashMap<String, String> = now.into_iter().collect();
        let mut last = lock(&self.0);
        let mut fresh: Vec<(String, String)> = now
            .iter()
            .filter(|(k, v)| last.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        fresh.sort();
        *last = now;
        fresh
    }
}

#[cfg(test)]
mod reported_tests {
    use super::Reported;

    #[test]
    fn a_condition_is_reported_when_it_appears_changes_or_returns() {
        let r = Reported::default();
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(r.update([kv("a", "x")]), [kv("a", "x")]);
        assert!(r.update([kv("a", "x")]).is_empty());
        assert_eq!(
            r.update([kv("a", "y"), kv("b", "x")]),
            [kv("a", "y"), kv("b", "x")]
        );
        assert!(r.update([]).is_empty());
        assert_eq!(r.update([kv("a", "y")]), [kv("a", "y")]);
    }
}
