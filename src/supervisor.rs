//! Long-running tasks under watch. A task that panics or ends before the stop signal is
//! logged with its name and counted in `centinela_task_restarts_total{task}`; then it is
//! restarted (collectors, delivery workers) or, if the process cannot work without it
//! (the engine, the HTTP server), the process stops with a failure so that the
//! orchestrator restarts it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::snapshot::Snapshot;

/// Pause before a restart, so a task that fails at once does not spin.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Spawns and watches the process's tasks.
#[derive(Debug)]
pub struct Supervisor {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
    snapshot: Arc<Snapshot>,
    failed: Arc<AtomicBool>,
}

/// How a task's run ended.
fn outcome(result: Result<(), Box<dyn std::any::Any + Send>>) -> String {
    match result {
        Ok(()) => "ended".to_owned(),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text payload".to_owned());
            format!("panicked: {message}")
        }
    }
}

impl Supervisor {
    /// Tasks stop on `shutdown`; their restarts are counted in `snapshot`.
    #[must_use]
    pub fn new(shutdown: CancellationToken, snapshot: Arc<Snapshot>) -> Self {
        Self {
            tasks: JoinSet::new(),
            shutdown,
            snapshot,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The token every task stops on.
    #[must_use]
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A task that is started again (after a short pause) whenever it panics or ends
    /// before the stop signal. `make` builds a fresh run each time.
    pub fn restarting<F, Fut>(&mut self, name: String, mut make: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.shutdown.clone();
        let snapshot = Arc::clone(&self.snapshot);
        snapshot.register_task(&name);
        self.tasks.spawn(async move {
            loop {
                let result = AssertUnwindSafe(make()).catch_unwind().await;
                if shutdown.is_cancelled() {
                    return;
                }
                tracing::error!(task = %name, outcome = %outcome(result), "Task stopped unexpectedly; restarting it.");
                snapshot.count_restart(&name);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RESTART_DELAY) => {}
                }
            }
        });
    }

    /// A task the process cannot run without: if it panics or ends before the stop
    /// signal, every task is stopped and [`Supervisor::failed`] turns true.
    pub fn essential<Fut>(&mut self, name: &'static str, task: Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.shutdown.clone();
        let snapshot = Arc::clone(&self.snapshot);
        let failed = Arc::clone(&self.failed);
        snapshot.register_task(name);
        self.tasks.spawn(async move {
            let result = AssertUnwindSafe(task).catch_unwind().await;
            if shutdown.is_cancelled() {
                return;
            }
            tracing::error!(task = name, outcome = %outcome(result), "Essential task stopped; stopping centinela.");
            snapshot.count_restart(name);
            failed.store(true, Ordering::SeqCst);
            shutdown.cancel();
        });
    }

    /// True once an essential task has stopped unexpectedly.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Waits for every task to finish, at most `grace`; false if some did not.
    pub async fn drain(&mut self, grace: Duration) -> bool {
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        tokio::time::timeout(grace, drain).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn supervisor() -> Supervisor {
        let snapshot = Arc::new(Snapshot::new([]));
        Supervisor::new(CancellationToken::new(), snapshot)
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_logged_counted_and_restarted() {
        let mut sup = supervisor();
        let starts = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&starts);
        let token = sup.shutdown();
        sup.restarting("collector:test".into(), move || {
            let (s, token) = (Arc::clone(&s), token.clone());
            async move {
                let n = s.fetch_add(1, Ordering::SeqCst);
                assert!(n > 0, "first run dies on purpose");
                // The second run keeps going until the stop signal, like a healthy collector.
                token.cancelled().await;
            }
        });
        tokio::time::sleep(RESTART_DELAY * 3).await;
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "started again after the panic"
        );
        assert_eq!(sup.snapshot.restarts()["collector:test"], 1);
        assert!(!sup.failed());
        sup.shutdown.cancel();
        assert!(sup.drain(Duration::from_secs(1)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn an_essential_task_that_ends_stops_everything() {
        let mut sup = supervisor();
        let other = sup.shutdown();
        sup.restarting("worker".into(), move || {
            let t = other.clone();
            async move { t.cancelled().await }
        });
        sup.essential("engine", async {});
        assert!(
            sup.drain(Duration::from_secs(5)).await,
            "every task stopped"
        );
        assert!(sup.failed());
        assert!(sup.shutdown.is_cancelled());
        assert_eq!(sup.snapshot.restarts()["engine"], 1);
        assert_eq!(sup.snapshot.restarts()["worker"], 0);
    }
}
