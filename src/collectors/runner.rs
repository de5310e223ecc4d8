//! The loop that runs one collector on its interval and publishes each result.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{CollectError, Scheduled};
use crate::snapshot::{Entry, RunStatus, Slot, Snapshot};

/// Runs `scheduled` until `shutdown`, publishing into its slot of `snapshot`.
pub async fn run(scheduled: Arc<Scheduled>, snapshot: Arc<Snapshot>, shutdown: CancellationToken) {
    let name = scheduled.collector.name();
    let mut ticker = tokio::time::interval(scheduled.interval);
    // A run that overran its interval is not followed by a burst of catch-up runs.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let Some(slot) = snapshot.slot(name) else {
            tracing::error!(collector = name, "Collector has no snapshot slot.");
            return;
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = run_once(&scheduled, slot) => {}
        }
        snapshot.note_run();
    }
    scheduled.collector.close().await;
    tracing::debug!(collector = name, "Collector stopped.");
}

/// One run: collect within the timeout, then publish the batch and the run status.
pub async fn run_once(scheduled: &Scheduled, slot: &Slot) {
    let name = scheduled.collector.name();
    let started = Instant::now();
    let result = match tokio::time::timeout(scheduled.timeout, scheduled.collector.collect()).await
    {
        Ok(r) => r,
        Err(_) => Err(CollectError::Timeout(scheduled.timeout)),
    };
    let mut status: RunStatus = slot.load().status.clone();
    status.runs += 1;
    status.last_run = Some(SystemTime::now());
    status.last_duration = started.elapsed();
    let batch = match result {
        Ok(batch) => {
            if status.last_error.is_some() {
                tracing::info!(collector = name, "Collector recovered.");
            }
            status.last_success = status.last_run;
            status.last_error = None;
            batch
        }
        Err(err) => {
            // Log on the change of error, not on every run of a long outage.
            let message = err.to_string();
            if status.last_error.as_deref() != Some(message.as_str()) {
                tracing::warn!(collector = name, error = %message, "Collection failed.");
            }
            status.errors_total += 1;
            status.last_error = Some(message);
            scheduled.collector.on_failure(&err)
        }
    };
    // Encoding a large batch (hundreds of thousands of series) is CPU work: keep it off
    // the async workers that serve scrapes.
    let entry = match tokio::task::spawn_blocking(move || Entry::new(batch, status)).await {
        Ok(entry) => entry,
        Err(e) => {
            tracing::error!(collector = name, error = %e, "Encoding the batch failed.");
            return;
        }
    };
    let large = entry.text.len() >= RELEASE_AFTER_BYTES;
    slot.publish(entry);
    // The run's rows, labels and encoding buffers are free now (and the previous entry,
    // unless a scrape still holds it): give them back instead of keeping them resident.
    if large {
        tokio::task::spawn_blocking(crate::memory::release_free);
    }
}

/// A run whose exposition is at least this large returns its freed memory to the system.
const RELEASE_AFTER_BYTES: usize = 1 << 20;
