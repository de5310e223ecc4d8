//! The live silences: one owner for adding, expiring, listing and persisting them. The
//! engine reads the active ones each evaluation; the HTTP API changes them.

use std::sync::{Arc, PoisonError, RwLock};

use super::outbox::{Store, StoreError};
use super::routes::silence::{Silence, SilenceDoc, SilenceDocError, Source};

/// The key under which API-created silences are kept in the state database.
pub const SILENCES_KEY: &str = "silences";

/// Why a silence could not be added or expired.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// The document is not a valid silence (the error names the field).
    #[error(transparent)]
    Invalid(#[from] SilenceDocError),
    /// No silence has that id.
    #[error("no silence {0}")]
    NotFound(String),
    /// A configured silence cannot be expired through the API.
    #[error("silence {0} comes from the configuration; remove it there")]
    Configured(String),
    /// The state database refused the change.
    #[error("cannot save the silences")]
    Save(#[source] StoreError),
    /// A limit of `[alerting]` would be passed.
    #[error("{0}")]
    Limit(String),
}

/// Caps on what the API may add (`alerting.max_silences`, `alerting.max_silence_bytes`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// API silences not yet ended, at most.
    pub max_silences: usize,
    /// One silence as JSON, at most (bytes).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_silences: 1000,
            max_bytes: 16 << 10,
        }
    }
}

/// The silences in force, shared by the engine and the HTTP API (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Silences {
    list: Arc<RwLock<Vec<Silence>>>,
    store: Option<Store>,
    limits: Limits,
}

impl Silences {
    /// Starts from the configured silences and those the API saved before.
    #[must_use]
    pub fn new(list: Vec<Silence>, store: Option<Store>, limits: Limits) -> Self {
        Self {
            list: Arc::new(RwLock::new(list)),
            store,
            limits,
        }
    }

    /// Every silence, active or not. A writer that panicked left the list whole (each
    /// change is one push or one retain), so a poisoned lock is read, never treated as
    /// "no silences".
    #[must_use]
    pub fn list(&self) -> Vec<Silence> {
        self.list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The silences in force at `now`.
    #[must_use]
    pub fn active(&self, now: i64) -> Vec<Silence> {
        self.list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|s| s.active(now))
            .cloned()
            .collect()
    }

    /// Checks and adds an API silence under `id`, then persists the API silences.
    pub async fn add(
        &self,
        doc: &SilenceDoc,
        id: String,
        now: i64,
    ) -> Result<Silence, SilenceError> {
        let size = serde_json::to_string(doc).map_or(usize::MAX, |t| t.len());
        if size as u64 > self.limits.max_bytes {
            return Err(SilenceError::Limit(format!(
                "the silence is {} as JSON, more than alerting.max_silence_bytes ({})",
                bytesize::ByteSize(size as u64),
                bytesize::ByteSize(self.limits.max_bytes)
            )));
        }
        let silence = doc.to_silence(id, Source::Api, now)?;
        {
            let mut list = self.list.write().unwrap_or_else(PoisonError::into_inner);
            let live = list
                .iter()
                .filter(|s| s.source == Source::Api && s.ends_at > now)
                .count();
            if live >= self.limits.max_silences {
                return Err(SilenceError::Limit(format!(
                    "{live} silences are in force or pending, the most alerting.max_silences allows; expire one first"
                )));
            }
            // Ended API silences are dropped here, so the list does not grow with them.
            list.retain(|s| s.source != Source::Api || s.ends_at > now);
            list.push(silence.clone());
        }
        self.persist(now).await?;
        Ok(silence)
    }

    /// Removes an API silence and persists the rest.
    pub async fn expire(&self, id: &str, now: i64) -> Result<(), SilenceError> {
        let removed = {
            let mut list = self.list.write().unwrap_or_else(PoisonError::into_inner);
            if list
                .iter()
                .any(|s| s.id == id && s.source == Source::Config)
            {
                return Err(SilenceError::Configured(id.to_owned()));
            }
            let before = list.len();
            list.retain(|s| s.id != id);
            before != list.len()
        };
        if !removed {
            return Err(SilenceError::NotFound(id.to_owned()));
        }
        self.persist(now).await
    }

    /// Saves the API silences that have not ended.
    async fn persist(&self, now: i64) -> Result<(), SilenceError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let docs: Vec<SilenceDoc> = self
            .list()
            .iter()
            .filter(|s| s.source == Source::Api && s.ends_at > now)
            .map(Silence::to_doc)
            .collect();
        let text = serde_json::to_string(&docs)
            .map_err(|e| SilenceError::Save(StoreError::Encode(e.to_string())))?;
        store
            .save(SILENCES_KEY, &text)
            .await
            .map_err(SilenceError::Save)
    }
}
