//! Wiring: snapshot, collector tasks and the HTTP server, stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use arc_swap::ArcSwap;

use crate::alerting::{self, engine::Published};
use crate::collectors::{self, runner};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Format;
use crate::state::Snapshot;

/// How long tasks get to finish after a stop signal before they are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A started centinela.
#[derive(Debug)]
pub struct Running {
    pub local_addr: SocketAddr,
    pub snapshot: Arc<Snapshot>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

/// Binds the listener, starts every collector and the server.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let scheduled = collectors::build(config).context("failed to set up collectors")?;
    let snapshot = Arc::new(Snapshot::for_collectors(&scheduled));
    let listener = TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.server.listen))?;
    let local_addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    for s in scheduled {
        tasks.spawn(runner::run(s, Arc::clone(&snapshot), shutdown.clone()));
    }
    let published = Arc::new(ArcSwap::from_pointee(Published::default()));
    let alerting = if config.alerting.enabled {
        alerting::start(
            &config.alerting,
            Arc::clone(&snapshot),
            Arc::clone(&published),
            &mut tasks,
            shutdown.clone(),
        )
        .await?
    } else {
        alerting::Handles::default()
    };
    let router = http::router(AppState {
        snapshot: Arc::clone(&snapshot),
        alerting: Arc::clone(&published),
        silences: alerting.silences,
        store: alerting.store,
    });
    let token = shutdown.clone();
    tasks.spawn(async move {
        if let Err(e) = http::serve(listener, router, token).await {
            tracing::error!(error = %e, "HTTP server failed.");
        }
    });
    tracing::info!(listen = %local_addr, "centinela started.");
    Ok(Running {
        local_addr,
        snapshot,
        shutdown,
        tasks,
    })
}

impl Running {
    /// Stops every task and waits for them (bounded by a grace period).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_GRACE, drain).await.is_err() {
            tracing::warn!("Tasks did not stop within the grace period.");
        }
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully.
    pub async fn until_signal(self) {
        shutdown_signal().await;
        tracing::info!("Stop signal received, shutting down.");
        self.stop().await;
        tracing::info!("centinela stopped.");
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot watch SIGTERM; stopping on SIGINT only.");
                if let Err(e) = ctrl_c.await {
                    tracing::error!(error = %e, "Cannot watch SIGINT either.");
                }
            }
        }
    }
    #[cfg(not(unix))]
    if let Err(e) = ctrl_c.await {
        tracing::error!(error = %e, "Cannot watch SIGINT.");
    }
}

/// `centinela collect`: every collector once; the exposition and the failures.
pub async fn collect_once(config: &Config) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let scheduled = collectors::build(config).context("failed to set up collectors")?;
    let snapshot = Snapshot::for_collectors(&scheduled);
    for s in &scheduled {
        let slot = snapshot
            .slot(s.collector.name())
            .context("collector without a snapshot slot")?;
        runner::run_once(s, slot).await;
    }
    let failures = snapshot
        .slots()
        .iter()
        .filter_map(|slot| {
            slot.load()
                .status
                .last_error
                .clone()
                .map(|e| (slot.name.to_owned(), e))
        })
        .collect();
    let text = snapshot
        .exposition(Format::Text)
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    Ok((text, failures))
}
