//! What holds an alert back at one instant: maintenance mode, a silence or an inhibition.

use super::matchers::{all_match, Matcher};
use super::silence::Silence;
use crate::alerting::model::Severity;
use crate::promql::LabelSet;

pub(super) struct Inhibit {
    pub(super) source: Vec<Matcher>,
    pub(super) target: Vec<Matcher>,
    pub(super) equal: Vec<String>,
    /// The built-in rule also counts pending sources: PostgreSQL's table alerts go away
    /// the moment it stops answering, long before `PostgresqlDown` has been down for 1m.
    pub(super) pending_sources: bool,
}

/// Why an alert is held back, if it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Muted {
    /// The maintenance file exists and the alert is not P0.
    Maintenance,
    /// A silence matches it.
    Silenced,
    /// An inhibition rule's source fires.
    Inhibited,
}

impl Muted {
    /// Every reason, in `held` order.
    pub const ALL: [Self; 3] = [Self::Maintenance, Self::Silenced, Self::Inhibited];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Maintenance => "maintenance",
            Self::Silenced => "silenced",
            Self::Inhibited => "inhibited",
        }
    }
}

/// What holds alerts back at one instant.
pub(super) struct MuteCheck {
    pub(super) maintenance: bool,
    pub(super) silences: Vec<Silence>,
    pub(super) firing: Vec<LabelSet>,
    pub(super) pending: Vec<LabelSet>,
}

impl MuteCheck {
    pub(super) fn muted(&self, inhibit: &[Inhibit], labels: &LabelSet) -> Option<Muted> {
        if self.maintenance && Severity::parse(labels.value("severity")) != Severity::P0 {
            return Some(Muted::Maintenance);
        }
        if self.silences.iter().any(|s| all_match(&s.matchers, labels)) {
            return Some(Muted::Silenced);
        }
        let inhibited = inhibit.iter().any(|rule| {
            all_match(&rule.target, labels)
                && self
                    .firing
                    .iter()
                    .chain(self.pending.iter().filter(|_| rule.pending_sources))
                    .any(|src| {
                        src != labels
                            && all_match(&rule.source, src)
                            && rule.equal.iter().all(|l| src.value(l) == labels.value(l))
                    })
        });
        inhibited.then_some(Muted::Inhibited)
    }
}
