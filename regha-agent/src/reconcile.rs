//! The reconciler's decisions, as pure functions: from what the config asks
//! for, what the health checks see and which MACs are known, the dataplane
//! state wanted; and from that and what was applied before, the difference
//! to apply. No I/O here: the daemon feeds it and carries out the plan.

use regha_model::{
    AdminState, BackendIdentity, BackendState, HashMode, Health, Protocol, ServiceIdentity,
};
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use crate::{
    dataplane::{BackendSpec, ServiceSpec},
    ids::{IdError, Ids},
};

/// How long a backend removed from the config keeps its existing flows
/// (draining) before it is removed from the dataplane.
pub const DRAIN_PERIOD: Duration = Duration::from_secs(60);

/// A backend as the daemon sees it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendInput {
    pub addr: SocketAddr,
    pub weight: u32,
    pub health: Health,
    /// `None` until the neighbour table (or the config) gives one.
    pub mac: Option<[u8; 6]>,
    /// What an operator asked for (`regha-agent backend drain|disable|enable`).
    pub admin: AdminState,
}

/// A service as the config asks for it, with its backends' current state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInput {
    pub identity: ServiceIdentity,
    pub protocol: Protocol,
    pub hash: HashMode,
    pub ring_size: u32,
    pub backends: Vec<BackendInput>,
    /// Source networks allowed; empty: all.
    pub allow: Vec<regha_model::IpPrefix>,
}

/// What to do to the dataplane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Services to write (new or changed), in id order.
    pub apply: Vec<ServiceSpec>,
    /// Services to remove.
    pub remove: Vec<ServiceSpec>,
    /// Backend ids to clear (after `apply` and `remove`).
    pub clear_backends: Vec<u32>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.apply.is_empty() && self.remove.is_empty() && self.clear_backends.is_empty()
    }
}

/// Whether a backend takes new flows: healthy, with a known MAC, and not
/// taken out by an operator. An admin drain keeps a serving backend's
/// existing flows for as long as it lasts (no [`DRAIN_PERIOD`]: it ends with
/// `enable`); a backend that fails its checks or has no MAC loses them all
/// the same, since nothing could reach it. Disabled moves every flow at once.
fn state_of(b: &BackendInput) -> BackendState {
    let serving = matches!((b.health, b.mac), (Health::Up, Some(_)));
    match (b.admin, serving) {
        (AdminState::Disabled, _) | (_, false) => BackendState::Down,
        (AdminState::Drain, true) => BackendState::Draining,
        (AdminState::Enabled, true) => BackendState::Up,
    }
}

/// The reconciler's memory: ids, what was last applied, what is draining.
#[derive(Debug, Default)]
pub struct Reconciler {
    ids: Ids,
    applied: BTreeMap<ServiceIdentity, ServiceSpec>,
    /// Backends removed from the config, with the time their drain ends.
    draining: BTreeMap<BackendIdentity, (Instant, BackendSpec)>,
    seed: u32,
}

impl Reconciler {
    pub fn new(ids: Ids, seed: u32) -> Self {
        Self {
            ids,
            seed,
            ..Self::default()
        }
    }

    /// The plan that brings the dataplane from what was applied to `inputs`,
    /// at time `now`. The plan is taken as applied: call `plan` again (it
    /// yields the rest) if carrying it out failed half-way.
    pub fn plan(&mut self, inputs: &[ServiceInput], now: Instant) -> Result<Plan, IdError> {
        let mut plan = Plan::default();
        let mut wanted: BTreeMap<ServiceIdentity, ServiceSpec> = BTreeMap::new();
        for input in inputs {
            let id = self.ids.service(input.identity)?;
            let mut backends = Vec::with_capacity(input.backends.len());
            for b in &input.backends {
                let key = BackendIdentity {
                    service: input.identity,
                    addr: b.addr,
                };
                // Back in the config while draining: it is simply a backend again.
                self.draining.remove(&key);
                backends.push(BackendSpec {
                    id: self.ids.backend(key)?,
                    addr: b.addr.ip(),
                    port: b.addr.port(),
                    mac: b.mac.unwrap_or_default(),
                    weight: b.weight,
                    state: state_of(b),
                });
            }
            // Backends that left the config: drain, then go.
            if let Some(old) = self.applied.get(&input.identity) {
                for ob in &old.backends {
                    let key = BackendIdentity {
                        service: input.identity,
                        addr: SocketAddr::new(ob.addr, ob.port),
                    };
                    let still = input.backends.iter().any(|b| b.addr == key.addr);
                    if !still && !self.draining.contains_key(&key) {
                        let was_serving = ob.state != BackendState::Down;
                        let spec = BackendSpec {
                            state: if was_serving {
                                BackendState::Draining
                            } else {
                                BackendState::Down
                            },
                            ..ob.clone()
                        };
                        let until = if was_serving { now + DRAIN_PERIOD } else { now };
                        self.draining.insert(key, (until, spec));
                    }
                }
            }
            for (key, (until, spec)) in &self.draining {
                if key.service == input.identity && *until > now {
                    backends.push(spec.clone());
                }
            }
            backends.sort_by_key(|b| b.id);
            wanted.insert(
                input.identity,
                ServiceSpec {
                    id,
                    vip: input.identity.vip,
                    port: input.identity.port,
                    protocol: input.protocol,
                    hash: input.hash,
                    seed: self.seed,
                    ring_size: input.ring_size,
                    backends,
                    allow: input.allow.clone(),
                },
            );
        }

        // Drains that ended, or whose service went away: release their ids.
        let ended: Vec<BackendIdentity> = self
            .draining
            .iter()
            .filter(|(k, (until, _))| *until <= now || !wanted.contains_key(&k.service))
            .map(|(k, _)| *k)
            .collect();
        for key in ended {
            self.draining.remove(&key);
            if let Some(id) = self.ids.release_backend(&key) {
                plan.clear_backends.push(id);
            }
        }

        for (identity, old) in std::mem::take(&mut self.applied) {
            if !wanted.contains_key(&identity) {
                for b in &old.backends {
                    let key = BackendIdentity {
                        service: identity,
                        addr: SocketAddr::new(b.addr, b.port),
                    };
                    if let Some(id) = self.ids.release_backend(&key) {
                        plan.clear_backends.push(id);
                    }
                }
                self.ids.release_service(&identity);
                plan.remove.push(old);
            } else if wanted.get(&identity) != Some(&old) {
                // Changed: re-applied below.
            } else {
                self.applied.insert(identity, old);
            }
        }
        for (identity, spec) in wanted {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.applied.entry(identity) {
                plan.apply.push(spec.clone());
                slot.insert(spec);
            }
        }
        plan.apply.sort_by_key(|s| s.id);
        plan.clear_backends.sort_unstable();
        plan.clear_backends.dedup();
        Ok(plan)
    }

    /// A new hash seed: every service is written again with it.
    pub fn set_seed(&mut self, seed: u32) {
        self.seed = seed;
    }

    /// The earliest moment a drain ends, if any: when to plan again.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.draining.values().map(|(until, _)| *until).min()
    }

    /// Whether every backend of the service is out (VRRP tracking uses it).
    pub fn all_down(&self, service: &ServiceIdentity) -> bool {
        self.applied
            .get(service)
            .is_none_or(|s| s.backends.iter().all(|b| b.state != BackendState::Up))
    }

    /// The service as last planned, if it exists.
    pub fn applied(&self, service: &ServiceIdentity) -> Option<&ServiceSpec> {
        self.applied.get(service)
    }

    /// Ids no configured backend claimed after a restart: clear them.
    pub fn take_unclaimed_ids(&mut self) -> Vec<u32> {
        self.ids.take_unclaimed()
    }
}

#[cfg(test)]
mod tests;
