//! The set of running health checkers, one per configured backend, kept in
//! step with the config across reloads: a backend that stays keeps its
//! checker (and its rise/fall state); new ones start; removed ones stop.

use std::collections::HashMap;

use regha_model::{BackendIdentity, Health};
use tokio::sync::{mpsc, watch};

use crate::health::{CheckSpec, HealthReport, spawn_checker};

struct Checker {
    spec: CheckSpec,
    report: watch::Receiver<HealthReport>,
    stop: watch::Sender<bool>,
}

/// Running checkers; every new report pokes `changed`.
pub struct Checks {
    running: HashMap<BackendIdentity, Checker>,
    changed: mpsc::UnboundedSender<()>,
}

impl Checks {
    pub fn new(changed: mpsc::UnboundedSender<()>) -> Self {
        Self {
            running: HashMap::new(),
            changed,
        }
    }

    /// Makes the running set match `wanted`: unchanged checkers keep going,
    /// changed and removed ones stop, new ones start.
    pub fn sync(&mut self, wanted: Vec<(BackendIdentity, CheckSpec)>) {
        let keys: std::collections::HashSet<BackendIdentity> =
            wanted.iter().map(|(k, _)| *k).collect();
        self.running.retain(|k, c| {
            let keep = keys.contains(k);
            if !keep {
                let _ = c.stop.send(true);
            }
            keep
        });
        for (key, spec) in wanted {
            if let Some(c) = self.running.get(&key) {
                if same_check(&c.spec, &spec) {
                    continue;
                }
                let _ = c.stop.send(true);
            }
            let (tx, rx) = watch::channel(HealthReport::new());
            let (stop_tx, stop_rx) = watch::channel(false);
            spawn_checker(spec.clone(), tx, stop_rx);
            let mut poke_rx = rx.clone();
            let poke = self.changed.clone();
            tokio::spawn(async move {
                while poke_rx.changed().await.is_ok() {
                    if poke.send(()).is_err() {
                        break;
                    }
                }
            });
            self.running.insert(
                key,
                Checker {
                    spec,
                    report: rx,
                    stop: stop_tx,
                },
            );
        }
    }

    pub fn health(&self) -> HashMap<BackendIdentity, Health> {
        self.running
            .iter()
            .map(|(k, c)| (*k, c.report.borrow().state))
            .collect()
    }

    pub fn report(&self, key: &BackendIdentity) -> Option<HealthReport> {
        self.running.get(key).map(|c| c.report.borrow().clone())
    }

    /// Whether every checker has a first result (the state is known).
    pub fn all_decided(&self) -> bool {
        self.running
            .values()
            .all(|c| c.report.borrow().state != Health::Unknown)
    }

    pub fn stop_all(&mut self) {
        for c in self.running.values() {
            let _ = c.stop.send(true);
        }
        self.running.clear();
    }
}

fn same_check(a: &CheckSpec, b: &CheckSpec) -> bool {
    a.probe == b.probe
        && a.target == b.target
        && a.interval == b.interval
        && a.timeout == b.timeout
        && a.rise == b.rise
        && a.fall == b.fall
}
