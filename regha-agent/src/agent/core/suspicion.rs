//! Suspicion in the core: the dataplane's signals make a backend suspect
//! (`health::suspicion` holds the rule), which only switches its checks to
//! the fast interval; the checks' reports end it (cleared, or down).

use std::time::Instant;

use regha_config::HealthConfig;
use regha_model::BackendIdentity;
use tracing::{info, warn};

use super::{Core, Effect, inputs};
use crate::health::{
    HealthReport,
    suspicion::{Change, Counts, Ended, Rule},
};

impl Core {
    /// The service's health section of `backend`, as configured now.
    fn health_config(&self, backend: &BackendIdentity) -> Option<&HealthConfig> {
        self.config
            .services
            .iter()
            .find(|s| inputs::service_identity(s) == backend.service)
            .map(|s| &s.health)
    }

    /// A sample of the counters: a backend may become suspect (or its
    /// suspicion be dropped, if it is no longer checked as up).
    pub(super) fn signals(
        &mut self,
        counts: Vec<(BackendIdentity, Counts)>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        for (backend, total) in counts {
            let Some(report) = self.health.get(&backend) else {
                continue;
            };
            let Some(health) = self.health_config(&backend) else {
                continue;
            };
            let rule = Rule::from(&health.suspect);
            let fast_interval = health.fast_interval;
            let fast_timeout = health.fast_timeout;
            let tracker = self.suspicion.entry(backend).or_default();
            match tracker.sample(&rule, now, total, report) {
                Some(Change::Started(reason)) => {
                    // INFO: a flood of spoofed SYNs starts one after
                    // another, and most end cleared; the WARN is for one
                    // the checks confirm.
                    info!(
                        service = %backend.service,
                        backend = %backend.addr,
                        %reason,
                        fast_interval = ?fast_interval,
                        fast_timeout = ?fast_timeout,
                        "backend is suspect: checking it at the fast interval"
                    );
                    out.push(Effect::SuspectChecks {
                        backend,
                        suspect: true,
                    });
                }
                Some(Change::Ended(how)) => ended(backend, how, now, None, out),
                None => {}
            }
        }
    }

    /// A checker's report, before it replaces the last one: a suspicion
    /// ends when the checks decided.
    pub(super) fn suspicion_report(
        &mut self,
        backend: BackendIdentity,
        report: &HealthReport,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let rise = self.health_config(&backend).map_or(1, |h| h.rise);
        let Some(tracker) = self.suspicion.get_mut(&backend) else {
            return;
        };
        let since = tracker.suspect().map(|s| s.since);
        if let Some(Change::Ended(how)) = tracker.report(report, rise) {
            ended(backend, how, now, since, out);
        }
    }

    /// Why `backend` is suspect, if it is.
    pub(super) fn suspect_reason(&self, backend: &BackendIdentity) -> Option<String> {
        let s = self.suspicion.get(backend)?.suspect()?;
        Some(s.reason.to_string())
    }

    /// The backends written to the dataplane, with their ids: whose
    /// counters the shell samples.
    pub fn sampled_backends(&self) -> Vec<(BackendIdentity, u32)> {
        let mut out = Vec::new();
        for s in &self.config.services {
            let service = inputs::service_identity(s);
            let Some(applied) = self.reconciler.applied(&service) else {
                continue;
            };
            for b in &applied.backends {
                let addr = std::net::SocketAddr::new(b.addr, b.port);
                out.push((BackendIdentity { service, addr }, b.id));
            }
        }
        out
    }
}

fn ended(
    backend: BackendIdentity,
    how: Ended,
    now: Instant,
    since: Option<Instant>,
    out: &mut Vec<Effect>,
) {
    let after_ms = since.map(|s| now.saturating_duration_since(s).as_millis() as u64);
    match how {
        Ended::WentDown => warn!(
            service = %backend.service,
            backend = %backend.addr,
            ended = %how,
            ?after_ms,
            "suspicion confirmed: the fast checks took the backend down"
        ),
        Ended::Cleared | Ended::Dropped => info!(
            service = %backend.service,
            backend = %backend.addr,
            ended = %how,
            ?after_ms,
            "suspicion over: checks back at the normal interval"
        ),
    }
    out.push(Effect::SuspectChecks {
        backend,
        suspect: false,
    });
}
