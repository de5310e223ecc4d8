//! The alerting engine: Prometheus rule files evaluated over the sidecar's own samples.

pub mod dispatch;
pub mod engine;
pub mod matchers;
pub mod notify;
pub mod rules;
pub mod store;
pub mod template;
pub mod unittest;

use crate::promql;

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

/// What the HTTP API shares with a running alerting engine.
#[derive(Clone, Debug, Default)]
pub struct Handles {
    pub silences: dispatch::Silences,
    pub store: Option<store::Store>,
}

/// The key under which API-created silences are kept.
pub const SILENCES_KEY: &str = "silences";

/// Builds the engine and its delivery side, restores saved state and spawns the engine
/// and one delivery worker per receiver integration.
pub async fn start(
    config: &crate::config::AlertingConfig,
    snapshot: std::sync::Arc<crate::state::Snapshot>,
    published: std::sync::Arc<arc_swap::ArcSwap<engine::Published>>,
    tasks: &mut tokio::task::JoinSet<()>,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<Handles> {
    use std::sync::{Arc, Mutex};

    let mut engine = engine::Engine::new(config)
        .map_err(|p| anyhow::anyhow!("alerting rules are invalid: {}", p.join("; ")))?;
    let (specs, endpoints) = notify::build(config)
        .map_err(|p| anyhow::anyhow!("alerting receivers are invalid: {}", p.join("; ")))?;
    let store = match store::Store::open(&config.state_dir).await {
        Ok(s) => Some(s),
        Err(e) if endpoints.is_empty() => {
            tracing::warn!(error = %e, "No usable state_dir; alert state is kept in memory only.");
            None
        }
        Err(e) => anyhow::bail!("alerting.state_dir: {e}"),
    };
    let now = promql::eval::system_time_ms(std::time::SystemTime::now());
    let mut silences =
        dispatch::config_silences(config, now).map_err(|p| anyhow::anyhow!("{}", p.join("; ")))?;
    let mut dispatcher = dispatch::Dispatcher::new(config, specs, Arc::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(store) = &store {
        if let Some(json) = store.load("alerts").await? {
            match engine.restore_state(&json) {
                Ok(n) => tracing::info!(alerts = n, "Alert state restored."),
                Err(e) => tracing::warn!(error = %e, "Saved alert state ignored."),
            }
        }
        if let Some(json) = store.load("dispatch").await? {
            match serde_json::from_str(&json) {
                Ok(state) => dispatcher.state = state,
                Err(e) => tracing::warn!(error = %e, "Saved notification log ignored."),
            }
        }
        if let Some(json) = store.load(SILENCES_KEY).await? {
            let docs: Vec<dispatch::SilenceDoc> = serde_json::from_str(&json).unwrap_or_default();
            silences.extend(
                docs.iter()
                    .filter_map(|d| d.to_silence(d.id.clone(), now).ok()),
            );
        }
    }
    let silences: dispatch::Silences = Arc::new(Mutex::new(silences));
    dispatcher.silences = Arc::clone(&silences);
    let stats = Arc::new(notify::Stats::new(&endpoints));
    let mut wake = Vec::new();
    if let Some(store) = &store {
        let client = notify::http_client().map_err(|e| anyhow::anyhow!(e))?;
        for ep in endpoints {
            let w = Arc::new(tokio::sync::Notify::new());
            wake.push(Arc::clone(&w));
            tasks.spawn(notify::run_worker(
                ep,
                store.clone(),
                client.clone(),
                Arc::clone(&stats),
                w,
                config.max_retry_backoff,
                shutdown.clone(),
            ));
        }
    }
    tracing::info!(
        rules = engine.rules().rules().count(),
        receivers = config.receivers.len(),
        "Alerting engine started."
    );
    let delivery = engine::Delivery {
        dispatcher,
        store: store.clone(),
        stats,
        wake,
        runbook_base: config.runbook_base_url.clone(),
    };
    tasks.spawn(engine::run(
        engine,
        delivery,
        snapshot,
        published,
        config.evaluation_interval,
        shutdown,
    ));
    Ok(Handles { silences, store })
}
