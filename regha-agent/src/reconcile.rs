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

/// How long a serving backend that fails its checks keeps its established
/// flows (it leaves the ring at once, so new flows avoid it). HAProxy keeps
/// a marked-down server's sessions for good; regha keeps them this long, so
/// that a flap shorter than it (this LB's own brief loss of the segment, a
/// partition that heals: the checks fail, then pass again) costs no
/// connection, and then lets them re-hash, so that the clients of a dead
/// host get a reset from the backend that takes them over instead of
/// waiting out TCP's retransmissions.
pub const DOWN_GRACE: Duration = Duration::from_secs(10);

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
/// `enable`); one without a MAC loses them all the same, since nothing
/// could reach it, and one that fails its checks loses them after
/// [`DOWN_GRACE`] ([`Reconciler::graced`]). Disabled moves every flow at
/// once.
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
    /// Configured backends that failed their checks while serving, with the
    /// time their [`DOWN_GRACE`] ends.
    fading: BTreeMap<BackendIdentity, Instant>,
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
                let was = self
                    .applied
                    .get(&input.identity)
                    .and_then(|s| {
                        s.backends
                            .iter()
                            .find(|o| o.addr == b.addr.ip() && o.port == b.addr.port())
                    })
                    .map(|o| o.state);
                backends.push(BackendSpec {
                    id: self.ids.backend(key)?,
                    addr: b.addr.ip(),
                    port: b.addr.port(),
                    mac: b.mac.unwrap_or_default(),
                    weight: b.weight,
                    state: self.graced(key, b, was, now),
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
                        let was_serving =
                            ob.state != BackendState::Down && !self.fading.contains_key(&key);
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

        // Graces of backends that left the config (or whose service did) end.
        self.fading.retain(|k, _| {
            wanted.get(&k.service).is_some_and(|s| {
                s.backends.iter().any(|b| {
                    b.addr == k.addr.ip()
                        && b.port == k.addr.port()
                        && b.state == BackendState::Draining
                })
            })
        });

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

    /// [`state_of`], with [`DOWN_GRACE`]: a backend that was serving (`was`)
    /// and now fails its checks, its MAC still known and no operator having
    /// disabled it, drains (out of the ring, its flows kept) until the grace
    /// ends, then goes down.
    fn graced(
        &mut self,
        key: BackendIdentity,
        b: &BackendInput,
        was: Option<BackendState>,
        now: Instant,
    ) -> BackendState {
        let state = state_of(b);
        let fails = state == BackendState::Down
            && b.health == Health::Down
            && b.mac.is_some()
            && b.admin != AdminState::Disabled;
        if !fails {
            self.fading.remove(&key);
            return state;
        }
        let serving = matches!(was, Some(BackendState::Up | BackendState::Draining));
        let until = match self.fading.get(&key) {
            Some(until) => *until,
            None if serving => {
                self.fading.insert(key, now + DOWN_GRACE);
                now + DOWN_GRACE
            }
            None => return state,
        };
        if until > now {
            BackendState::Draining
        } else {
            self.fading.remove(&key);
            state
        }
    }

    /// A new hash seed: every service is written again with it.
    pub fn set_seed(&mut self, seed: u32) {
        self.seed = seed;
    }

    /// The earliest moment a drain ends, if any: when to plan again.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.draining
            .values()
            .map(|(until, _)| *until)
            .chain(self.fading.values().copied())
            .min()
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
