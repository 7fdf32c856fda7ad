//! The agent's decisions, pure: `(state, event) -> effects`, like
//! `vrrp/state.rs`. No sockets, no files, no clock: every [`Event`] comes
//! with the time, and every decision leaves as an [`Effect`] for the shell
//! (`agent/mod.rs`) to carry out, in order.
//!
//! ```text
//!  Start, Stop ------------------+
//!  Health (a checker's report) --+
//!  Mac (the neighbour table) ----+                     +--> ExcludeSources, SyncChecks, WatchMacs
//!  Vrrp (an instance's status) --+--> Core::step ------+--> WriteMaps (reconciler plan)
//!  Reload (a parsed config) -----+    (reconciler,     +--> Add/Remove/AnnounceVips
//!  Admin (an operator's command) +     holders, sync   +--> Start/Reconfigure/StopVrrp,
//!  Tick (a deadline passed) -----+     groups, admin)  |    TrackBackends, SyncVrrp
//!  PrivilegesDropped ------------+                     +--> SaveAdmin, Start/StopStats
//!                                                      +--> Reply (to the admin socket)
//! ```
//!
//! What lives where:
//! - `holder.rs`: who may hold each VIP (a static role, a VRRP instance)
//!   behind one interface, so another mechanism can be added beside them;
//! - `sync.rs`: VRRP instances in one sync group failing over together;
//! - `reload.rs`: what a new config changes, section by section, and what
//!   waits for a restart;
//! - `admin.rs`: `backend drain|disable|enable` and `vrrp resign|resume`;
//! - `status.rs`: the status document's agent part, from this state.
//!
//! The reconciler (`crate::reconcile`) decides the dataplane; the core
//! decides when to ask it and feeds it health, MACs and admin states.

mod admin;
mod bgp;
mod holder;
mod reload;
mod settle;
mod status;
mod suspicion;
mod sync;
#[cfg(test)]
mod tests;

use std::{
    collections::BTreeMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use regha_model::{BackendIdentity, BackendState, Health, Role, VirtualRouter};
use tracing::{error, warn};

pub use holder::{GroupView, HolderSpec, HolderStatus, VipHolder, all_vips, holders_for};
pub use status::ShellFacts;

use super::inputs;
use crate::{
    admin::{AdminTable, protocol::Request, protocol::Response},
    health::{
        CheckSpec, HealthReport,
        suspicion::{Counts, Tracker},
    },
    ids::Ids,
    net::Vip,
    reconcile::{Plan, Reconciler},
    status::HolderKind,
    vrrp::{VrrpStatus, state::SyncCommand},
};
use regha_config::{Config, ConfigErrors, StatsConfig, VrrpConfig};

/// Something the core must react to; `now` comes with [`Core::step`].
#[derive(Clone, Debug)]
pub enum Event {
    /// Setup is done (the dataplane is attached and its ids adopted):
    /// start the checks, the holders and the stats listener. `adopting`:
    /// the dataplane was already steering (a restart), so nothing is
    /// written before the first health results (bounded by `hold`).
    /// `routes`: the VIPs whose route of `bgp.route_protocol` an earlier
    /// run left in the kernel (adopted, not withdrawn: see `bgp.rs`).
    Start {
        adopting: bool,
        hold: Duration,
        routes: Vec<IpAddr>,
    },
    /// A backend's checker reported.
    Health {
        backend: BackendIdentity,
        report: HealthReport,
    },
    /// The neighbour table gave (or lost) a backend's MAC.
    Mac { addr: IpAddr, mac: Option<[u8; 6]> },
    /// The dataplane's handshake counters of the backends written to it
    /// (totals, as read every `SAMPLE_EVERY`; see `health::suspicion`).
    Signals(Vec<(BackendIdentity, Counts)>),
    /// A VRRP instance published its status.
    Vrrp {
        router: VirtualRouter,
        status: VrrpStatus,
    },
    /// SIGHUP: the config file as read and checked (an invalid one changes
    /// nothing).
    Reload(Result<Box<Config>, ConfigErrors>),
    /// An operator's command from the admin socket; answered by a
    /// [`Effect::Reply`].
    Admin(Request),
    /// A deadline of [`Core::next_deadline`] passed.
    Tick,
    /// Capabilities are dropped: a stats listener on a port below 1024 can
    /// no longer be opened.
    PrivilegesDropped,
    /// SIGTERM / SIGINT: release every VIP and stop.
    Stop,
}

/// What the shell must do, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Never send the agent's own traffic (health checks, resolution
    /// probes, IPv4 VRRP adverts) from these addresses: every VIP. The
    /// kernel would pick one as the source in some layouts, and the
    /// backends, holding the VIPs on `lo`, answer such packets to
    /// themselves (see `net/source.rs`).
    ExcludeSources(Vec<IpAddr>),
    /// Run exactly these health checkers (unchanged ones keep their state).
    SyncChecks(Vec<(BackendIdentity, CheckSpec)>),
    /// The backend is suspect (`true`): run its checks at the fast
    /// interval; or no longer (`false`).
    SuspectChecks {
        backend: BackendIdentity,
        suspect: bool,
    },
    /// Learn (and keep learning) the MACs of these addresses.
    WatchMacs(Vec<IpAddr>),
    /// Write the dataplane. `decided`: per service in `plan.apply`, the
    /// latest health decision behind it (logged as its delay to the maps).
    WriteMaps {
        plan: Plan,
        decided: Vec<Option<Instant>>,
    },
    /// Add these VIPs to the interface.
    AddVips(Vec<Vip>),
    /// Remove these VIPs from the interface.
    RemoveVips(Vec<Vip>),
    /// Gratuitous ARP / unsolicited NA, keepalived's default schedule.
    AnnounceVips(Vec<IpAddr>),
    /// Add (or keep) `blackhole VIP/32 proto <protocol>`, which the routing
    /// daemon exports: the VIP is announced (`bgp.rs`).
    AnnounceRoute {
        vip: IpAddr,
        protocol: u8,
    },
    /// Delete that route: the VIP is withdrawn.
    WithdrawRoute {
        vip: IpAddr,
        protocol: u8,
    },
    /// Start a VRRP instance (as backup).
    StartVrrp(VrrpConfig),
    /// Apply a changed section to the running instance, in place.
    ReconfigureVrrp(VrrpConfig),
    /// Stop the instance (a master releases its VIPs, then advertises
    /// priority 0) and hand its last status back as an [`Event::Vrrp`].
    StopVrrp {
        router: VirtualRouter,
    },
    /// `track_backends`' condition for the instance (over the backends of
    /// the services whose VIPs it holds).
    TrackBackends {
        router: VirtualRouter,
        ok: bool,
    },
    /// Whether the health view is settled (see `settle.rs`): an unsettled
    /// instance does not preempt.
    SettleVrrp {
        router: VirtualRouter,
        settled: bool,
    },
    /// The instance's sync group decided (see `sync.rs`).
    SyncVrrp {
        router: VirtualRouter,
        command: SyncCommand,
    },
    /// Keep the admin table for the next start.
    SaveAdmin(AdminTable),
    /// (Re)start the stats listener with this section; the running one
    /// stays if the new one cannot bind.
    StartStats(StatsConfig),
    StopStats,
    /// Answer the admin command. An effect before it in the same step that
    /// failed turns it into an error carrying that failure.
    Reply(Response),
    /// Record the configuration now applied (for `check-config`).
    RecordConfig(Box<Config>),
}

/// How the core was started.
#[derive(Clone, Debug)]
pub struct CoreOptions {
    /// `--role`: a static role that turns VRRP off.
    pub role_override: Option<Role>,
}

/// The agent's state. See the module notes.
#[derive(Debug)]
pub struct Core {
    config: Config,
    opts: CoreOptions,
    health: BTreeMap<BackendIdentity, HealthReport>,
    /// Each checked backend's suspicion (see `suspicion.rs`).
    suspicion: BTreeMap<BackendIdentity, Tracker>,
    macs: BTreeMap<IpAddr, [u8; 6]>,
    admin: AdminTable,
    reconciler: Reconciler,
    holders: Vec<Box<dyn VipHolder>>,
    /// After adopting a steering dataplane nothing is written until every
    /// check has a first result, or until this passes.
    hold_writes_until: Option<Instant>,
    /// Backend ids in the adopted maps that no configured backend claimed:
    /// cleared before the first write.
    unclaimed_cleared: bool,
    /// Before [`Event::PrivilegesDropped`] any port can be bound.
    privileged: bool,
    started: bool,
    /// Health decisions that arrive together become one write: the first
    /// change opens a window of [`settle::COALESCE`], written when it ends.
    coalesce_until: Option<Instant>,
    /// The last change of a backend's health (see `settle.rs`).
    last_change: Option<Instant>,
    /// Whether the holders were last told the view is settled.
    settled_told: Option<bool>,
    /// When `bgp.warmup` ends (set at the start, cleared once told).
    warm_at: Option<Instant>,
}

impl Core {
    /// `ids`: as the pinned maps hold them (empty on a fresh dataplane);
    /// `admin`: the table an earlier run kept.
    pub fn new(config: Config, ids: Ids, mut admin: AdminTable, opts: CoreOptions) -> Self {
        for e in admin.retain_configured(&config) {
            warn!(service = %e.service, backend = %e.backend, state = %e.state, "admin state dropped: the backend is no longer configured");
        }
        let holders = holders_for(&config, opts.role_override)
            .iter()
            .map(|spec| {
                let mut h = spec.build();
                // A drain outlives a restart: it is undone by `undrain`.
                h.drain(admin.lb_drained);
                h
            })
            .collect();
        Self {
            reconciler: Reconciler::new(ids, config.hash_seed),
            config,
            opts,
            health: BTreeMap::new(),
            suspicion: BTreeMap::new(),
            macs: BTreeMap::new(),
            admin,
            holders,
            hold_writes_until: None,
            unclaimed_cleared: false,
            privileged: true,
            started: false,
            coalesce_until: None,
            last_change: None,
            settled_told: None,
            warm_at: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Reacts to `event` at `now`; returns the effects in execution order.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        let mut out = Vec::new();
        match event {
            Event::Start {
                adopting,
                hold,
                routes,
            } => {
                for h in &mut self.holders {
                    if let HolderKind::Bgp { vip } = h.kind()
                        && routes.contains(&vip)
                    {
                        h.found_route();
                    }
                }
                if let Some(b) = &self.config.bgp {
                    self.warm_at = Some(now + b.warmup);
                }
                self.start(adopting, now + hold, &mut out)
            }
            Event::Health { backend, report } => {
                if let Some(old) = self.health.get(&backend) {
                    let changed = old.state != report.state;
                    if changed {
                        self.last_change = Some(now);
                        self.coalesce_until.get_or_insert(now + settle::COALESCE);
                    }
                    self.suspicion_report(backend, &report, now, &mut out);
                    self.health.insert(backend, report);
                    if !changed {
                        // Only the report's counts moved: the plan reads
                        // states alone, so there is nothing to plan (and a
                        // pending window or hold ends on its own tick).
                        return out;
                    }
                }
                if self.coalesce_until.is_some_and(|until| now < until) {
                    // Written with the others when the window ends.
                    self.tell_settled(now, &mut out);
                    return out;
                }
            }
            Event::Signals(counts) => {
                // Suspicion changes only the checks' schedule: nothing to
                // plan.
                self.signals(counts, now, &mut out);
                return out;
            }
            Event::Mac { addr, mac } => match mac {
                Some(m) => {
                    self.macs.insert(addr, m);
                }
                None => {
                    self.macs.remove(&addr);
                }
            },
            Event::Vrrp { router, status } => {
                let kind = HolderKind::vrrp(router);
                if let Some(i) = self.holders.iter().position(|h| h.kind() == kind) {
                    let before = self.holders[i].group_view();
                    self.holders[i].report(&status);
                    self.sync_group_of(i, before, &mut out);
                }
            }
            Event::Reload(result) => match result {
                Ok(config) => self.reload(*config, &mut out),
                Err(e) => error!("reload rejected, running state unchanged:\n{e}"),
            },
            Event::Admin(request) => self.admin(request, &mut out),
            Event::Tick => {
                if self.warm_at.is_some_and(|at| now >= at) {
                    self.warm_at = None;
                    for h in &mut self.holders {
                        out.extend(h.warm());
                    }
                }
            }
            Event::PrivilegesDropped => self.privileged = false,
            Event::Stop => {
                for h in &mut self.holders {
                    out.extend(h.stop());
                }
                out.push(Effect::StopStats);
                return out;
            }
        }
        if self.started {
            self.reconcile(now, &mut out);
        }
        out
    }

    /// When [`Event::Tick`] is due: a drain ends, or the hold on writes
    /// after an adoption.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.reconciler.next_deadline(),
            self.hold_writes_until,
            self.coalesce_until,
            self.settle_deadline(),
            self.warm_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn start(&mut self, adopting: bool, hold_until: Instant, out: &mut Vec<Effect>) {
        self.started = true;
        if adopting {
            self.hold_writes_until = Some(hold_until);
        }
        self.sync_inputs(out);
        for h in &mut self.holders {
            out.extend(h.start());
        }
        if let Some(stats) = &self.config.stats {
            out.push(Effect::StartStats(stats.clone()));
        }
        out.push(Effect::RecordConfig(Box::new(self.config.clone())));
    }

    /// The checkers and MAC watches the config needs, and the addresses
    /// they must not leave from; the health of backends no longer
    /// configured is forgotten.
    fn sync_inputs(&mut self, out: &mut Vec<Effect>) {
        out.push(Effect::ExcludeSources(inputs::vips(&self.config)));
        let checks = inputs::checks(&self.config);
        let wanted: BTreeMap<BackendIdentity, HealthReport> = checks
            .iter()
            .map(|(k, _)| (*k, self.health.remove(k).unwrap_or_default()))
            .collect();
        self.health = wanted;
        self.suspicion.retain(|k, _| self.health.contains_key(k));
        out.push(Effect::SyncChecks(checks));
        out.push(Effect::WatchMacs(inputs::dynamic_mac_addresses(
            &self.config,
        )));
    }

    /// The `fall` of the backend's service (1 when it is not configured).
    fn fall_of(&self, k: &BackendIdentity) -> u32 {
        (self.config.services.iter())
            .find(|s| inputs::service_identity(s) == k.service)
            .map_or(1, |s| s.health.fall)
    }

    /// Whether the MAC of the backend at `addr` is known: from the config or
    /// from the neighbour table.
    fn mac_known(&self, addr: IpAddr) -> bool {
        self.macs.contains_key(&addr)
            || self
                .config
                .services
                .iter()
                .flat_map(|s| &s.backends)
                .any(|b| b.address == addr && b.mac.is_some())
    }

    /// Plans the dataplane from what is known now and writes the difference;
    /// then tells the holders how many backends are up.
    fn reconcile(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.coalesce_until = None;
        self.write(now, out);
        self.tell_settled(now, out);
    }

    fn write(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if let Some(until) = self.hold_writes_until {
            // Decided: every check has a result, and every backend that is
            // up has its MAC (written or learned); until then the adopted
            // maps steer as before.
            // A first failed check is not enough: right after a restart
            // a check can time out under the start's load, and a ring
            // written without that backend would send its clients to
            // others that reset them (every LB steers in BGP mode). Down
            // counts once the checker has had `fall` tries, as for a
            // backend that was up all along.
            let decided = self.health.iter().all(|(k, r)| match r.state {
                Health::Unknown => false,
                Health::Up => self.mac_known(k.addr.ip()),
                Health::Down => r.checks >= u64::from(self.fall_of(k)),
            });
            if !decided && now < until {
                return;
            }
            self.hold_writes_until = None;
        }
        if !self.unclaimed_cleared {
            // Before the first plan, so that no new backend is given an id
            // these clears would then wipe.
            self.unclaimed_cleared = true;
            let stale = self.reconciler.take_unclaimed_ids();
            if !stale.is_empty() {
                out.push(Effect::WriteMaps {
                    plan: Plan {
                        clear_backends: stale,
                        ..Plan::default()
                    },
                    decided: Vec::new(),
                });
            }
        }
        let health = self.health.iter().map(|(k, r)| (*k, r.state)).collect();
        let macs = self.macs.iter().map(|(k, v)| (*k, *v)).collect();
        let wanted = inputs::services(&self.config, &health, &macs, &self.admin);
        match self.reconciler.plan(&wanted, now) {
            Ok(plan) if !plan.is_empty() => {
                let decided = plan
                    .apply
                    .iter()
                    .map(|spec| {
                        spec.backends
                            .iter()
                            .filter_map(|b| {
                                let key = BackendIdentity {
                                    service: spec.identity(),
                                    addr: std::net::SocketAddr::new(b.addr, b.port),
                                };
                                self.health.get(&key)?.decided_at
                            })
                            .max()
                    })
                    .collect();
                out.push(Effect::WriteMaps { plan, decided });
            }
            Ok(_) => {}
            Err(e) => error!(error = %e, "cannot plan the dataplane"),
        }
        let up: Vec<u32> = (self.holders.iter())
            .map(|h| self.backends_up(h.vips()))
            .collect();
        for (h, up) in self.holders.iter_mut().zip(up) {
            out.extend(h.backends_up(up));
        }
    }

    /// Every service as last planned (what the dataplane holds once the
    /// plan's write is done): flow sync's view of ids and rings.
    pub fn applied_services(&self) -> Vec<crate::dataplane::ServiceSpec> {
        self.config
            .services
            .iter()
            .filter_map(|s| self.reconciler.applied(&inputs::service_identity(s)))
            .cloned()
            .collect()
    }

    /// Backends that take new flows, over the services whose VIP is one of
    /// `vips` (a holder's), as last planned: what `track_backends` counts.
    /// With one VRRP instance every service's VIP is its.
    fn backends_up(&self, vips: &[Vip]) -> u32 {
        self.config
            .services
            .iter()
            .filter(|s| vips.iter().any(|(ip, _)| *ip == s.vip))
            .filter_map(|s| self.reconciler.applied(&inputs::service_identity(s)))
            .flat_map(|a| &a.backends)
            .filter(|b| b.state == BackendState::Up)
            .count() as u32
    }
}
