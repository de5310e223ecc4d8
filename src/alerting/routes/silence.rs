//! Silences: alerts matching every matcher are held back between two times. Parsed here
//! from the configuration and the API's documents; `alerting::silences` owns the live list.

use serde::{Deserialize, Serialize};

use super::matchers::Matcher;
use crate::config::check::{ConfigError, Problems};
use crate::config::AlertingConfig;

/// Where a silence was made: configured ones are read-only through the API and are not
/// persisted (the configuration is their record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// From `alerting.silences`.
    Config,
    /// From `POST /api/v1/silences`.
    Api,
}

/// A silence from the configuration or the API.
#[derive(Clone, Debug)]
pub struct Silence {
    /// Its id (`config-N` for configured ones).
    pub id: String,
    /// Where it was made.
    pub source: Source,
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// From (Unix milliseconds).
    pub starts_at: i64,
    /// Until.
    pub ends_at: i64,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// True between its start and its end.
    pub fn active(&self, now: i64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// A silence as the API takes and shows it (Alertmanager API v2's shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceDoc {
    /// Its id; empty when adding one.
    #[serde(default)]
    pub id: String,
    /// All must match.
    pub matchers: Vec<MatcherDoc>,
    /// RFC 3339; empty: now.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339.
    pub ends_at: String,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// A matcher as Alertmanager's API object or as text (`severity=~"P2|P3"`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatcherDoc {
    /// `name=value`, `name=~"regex"`, ….
    Text(String),
    /// Alertmanager's matcher object.
    Api(super::matchers::ApiMatcher),
}

/// What is wrong with a silence document, and in which field (`matchers[1]`, `endsAt`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SilenceDocError {
    /// The field (`matchers[1]`, `endsAt`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl SilenceDocError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn parse_time(what: &str, s: &str) -> Result<i64, SilenceDocError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| SilenceDocError::new(what, format!("{s:?} is not an RFC 3339 time: {e}")))
}

impl SilenceDoc {
    /// Checks and converts; `now` fills a missing start.
    pub fn to_silence(
        &self,
        id: String,
        source: Source,
        now: i64,
    ) -> Result<Silence, SilenceDocError> {
        if self.matchers.is_empty() {
            return Err(SilenceDocError::new(
                "matchers",
                "at least one matcher is required",
            ));
        }
        let matchers = self
            .matchers
            .iter()
            .enumerate()
            .map(|(i, m)| {
                match m {
                    MatcherDoc::Text(t) => Matcher::parse(t),
                    MatcherDoc::Api(a) => Matcher::from_api(a),
                }
                .map_err(|e| SilenceDocError::new(format!("matchers[{i}]"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let starts_at = match &self.starts_at {
            Some(s) if !s.is_empty() => parse_time("startsAt", s)?,
            _ => now,
        };
        let ends_at = parse_time("endsAt", &self.ends_at)?;
        if ends_at <= starts_at {
            return Err(SilenceDocError::new("endsAt", "must be after startsAt"));
        }
        Ok(Silence {
            id,
            source,
            matchers,
            starts_at,
            ends_at,
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
        })
    }
}

impl Silence {
    /// The API's document for it.
    pub fn to_doc(&self) -> SilenceDoc {
        SilenceDoc {
            id: self.id.clone(),
            matchers: self
                .matchers
                .iter()
                .map(|m| MatcherDoc::Api(m.to_api()))
                .collect(),
            starts_at: Some(crate::time::rfc3339(self.starts_at)),
            ends_at: crate::time::rfc3339(self.ends_at),
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// The configured silences, checked (errors carry the key path).
pub fn config_silences(config: &AlertingConfig, now: i64) -> Result<Vec<Silence>, Problems> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in config.silences.iter().enumerate() {
        let doc = SilenceDoc {
            id: String::new(),
            matchers: s.matchers.iter().cloned().map(MatcherDoc::Text).collect(),
            starts_at: s.starts_at.clone(),
            ends_at: s.ends_at.clone(),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        };
        match doc.to_silence(format!("config-{i}"), Source::Config, now) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(ConfigError::new(
                format!("alerting.silences[{i}].{}", e.field),
                e.message,
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
