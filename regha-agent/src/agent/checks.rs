//! The set of running health checkers, one per configured backend, kept in
//! step with the config across reloads: a backend that stays keeps its
//! checker (and its rise/fall state); new ones start; removed ones stop.
//! Every report a checker publishes is forwarded to the agent's loop.

use std::collections::{HashMap, HashSet};

use regha_model::BackendIdentity;
use tokio::sync::{mpsc, watch};

use crate::{
    health::{CheckSpec, HealthReport, spawn_checker},
    net::Sources,
};

struct Checker {
    spec: CheckSpec,
    stop: watch::Sender<bool>,
    /// Whether the backend is suspect: its checks run at the fast interval.
    fast: watch::Sender<bool>,
}

/// A checker's report, for the agent's loop.
pub type Reported = (BackendIdentity, HealthReport);

/// Running checkers.
pub struct Checks {
    running: HashMap<BackendIdentity, Checker>,
    reports: mpsc::UnboundedSender<Reported>,
    /// Where every check leaves from: the LB interface's own address.
    sources: Sources,
}

impl Checks {
    pub fn new(reports: mpsc::UnboundedSender<Reported>, sources: Sources) -> Self {
        Self {
            running: HashMap::new(),
            reports,
            sources,
        }
    }

    /// Makes the running set match `wanted`: unchanged checkers keep going,
    /// changed and removed ones stop, new ones start.
    pub fn sync(&mut self, wanted: Vec<(BackendIdentity, CheckSpec)>) {
        let keys: HashSet<BackendIdentity> = wanted.iter().map(|(k, _)| *k).collect();
        self.running.retain(|k, c| {
            let keep = keys.contains(k);
            if !keep {
                let _ = c.stop.send(true);
            }
            keep
        });
        for (key, spec) in wanted {
            let mut suspect = false;
            if let Some(c) = self.running.get(&key) {
                if c.spec == spec {
                    continue;
                }
                let _ = c.stop.send(true);
                // A suspicion outlives a changed check.
                suspect = *c.fast.borrow();
            }
            let (tx, mut rx) = watch::channel(HealthReport::new());
            let (stop_tx, stop_rx) = watch::channel(false);
            let (fast_tx, fast_rx) = watch::channel(suspect);
            spawn_checker(spec.clone(), self.sources.clone(), tx, stop_rx, fast_rx);
            let reports = self.reports.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let report = rx.borrow_and_update().clone();
                    if reports.send((key, report)).is_err() {
                        break;
                    }
                }
            });
            self.running.insert(
                key,
                Checker {
                    spec,
                    stop: stop_tx,
                    fast: fast_tx,
                },
            );
        }
    }

    /// The backend is suspect (`true`): its checks run at the fast interval
    /// from now on; or no longer (`false`).
    pub fn set_suspect(&mut self, backend: &BackendIdentity, suspect: bool) {
        if let Some(c) = self.running.get(backend) {
            c.fast.send_replace(suspect);
        }
    }

    pub fn stop_all(&mut self) {
        for c in self.running.values() {
            let _ = c.stop.send(true);
        }
        self.running.clear();
    }
}
