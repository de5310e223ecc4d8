//! Alertmanager forwarding, the way Prometheus does it: the full list on every change
//! and every `resend_interval`, firing alerts with `endsAt` ahead, resolved ones for 15m.

use std::collections::BTreeMap;

use super::{Dispatcher, ForwardState};
use crate::alerting::model::{AlertRecord, Integration, Notification};

impl Dispatcher {
    /// Alertmanager forwarding, as Prometheus does it: the full list on every change and
    /// every `resend_interval`, firing alerts with `endsAt` ahead, resolved ones for 15m.
    pub(super) fn forward(
        &mut self,
        lists: &BTreeMap<String, Vec<(&AlertRecord, bool)>>,
        now: i64,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        let names: Vec<String> = self
            .receivers
            .iter()
            .filter(|r| r.integrations.contains(&Integration::Alertmanager))
            .map(|r| r.name.clone())
            .collect();
        for name in names {
            let list = lists.get(&name).cloned().unwrap_or_default();
            let prev = self.state.forwarded.get(&name).cloned().unwrap_or_default();
            // Resolved alerts are forwarded only if Alertmanager heard of them firing.
            let list: Vec<(&AlertRecord, bool)> = list
                .into_iter()
                .filter(|(a, resolved)| !resolved || prev.sent.contains_key(&a.fingerprint))
                .collect();
            let sent: BTreeMap<String, bool> = list
                .iter()
                .map(|(a, r)| (a.fingerprint.clone(), *r))
                .collect();
            let resend = self
                .receiver(&name)
                .and_then(|r| r.resend_ms)
                .unwrap_or(60_000);
            if list.is_empty() {
                self.state.forwarded.remove(&name);
                continue;
            }
            if sent == prev.sent && now < prev.last_send + resend {
                continue;
            }
            let ends = now + 4 * resend.max(self.eval_interval_ms);
            out.push(Notification::Forward {
                receiver: name.clone(),
                alerts: list.iter().map(|(a, r)| ((*a).clone(), *r)).collect(),
                ends_at: ends,
            });
            self.state.forwarded.insert(
                name,
                ForwardState {
                    last_send: now,
                    sent,
                },
            );
        }
        out
    }
}
