//! The shell around the core: what it owns (the maps, the interface, the
//! checkers, the MAC watcher, the VRRP instances, the stats listener, the
//! admin socket) and how it carries out each [`Effect`]. After every step it
//! publishes the status (the state file and the stats listener's copy).

use std::{
    collections::{BTreeMap, VecDeque},
    path::PathBuf,
    time::Instant,
};

use anyhow::{Context, Result, bail};
use rtnetlink::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

use super::{
    AgentOptions, Checks,
    addresses::AddressWatcher,
    checks::Reported,
    core::{Core, Effect, Event, ShellFacts},
    load_config,
    macs::MacWatcher,
};
use crate::bgp::RoutingStatus;
use crate::{
    admin::{self, AdminTable, protocol::Response},
    dataplane::{Dataplane, MapWriter},
    flowsync::{FlowSync, FlowSyncStatus, view::View},
    health::suspicion::Counts,
    net::{self, Interface, announce},
    reconcile::Plan,
    status::{AgentStatus, file},
    vrrp::{self, InstanceHandle, NetIo, VrrpStatus},
};
use regha_config::{Config, ConfigErrors, FlowSyncConfig, StatsConfig};
use regha_model::VirtualRouter;

/// A task that ends with its owner.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl AbortOnDrop {
    /// Aborts the task and waits until it is gone (what it held, closed).
    async fn end(mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

/// Where the loop's inputs arrive.
pub(super) struct Receivers {
    pub health: mpsc::UnboundedReceiver<Reported>,
    pub macs: mpsc::UnboundedReceiver<(std::net::IpAddr, [u8; 6])>,
    pub vrrp: mpsc::UnboundedReceiver<(VirtualRouter, VrrpStatus)>,
    pub admin: mpsc::Receiver<admin::socket::Command>,
}

struct Instance {
    handle: InstanceHandle,
    _forward: AbortOnDrop,
}

pub(super) struct Shell {
    opts: AgentOptions,
    handle: Handle,
    iface: Interface,
    pin_dir: PathBuf,
    maps: MapWriter,
    dataplane: Option<Dataplane>,
    checks: Checks,
    macs: MacWatcher,
    /// The interface's own addresses: where the agent's traffic leaves from.
    addresses: AddressWatcher,
    /// The running VRRP instances, by virtual router (family and VRID).
    vrrp: BTreeMap<VirtualRouter, Instance>,
    vrrp_tx: mpsc::UnboundedSender<(VirtualRouter, VrrpStatus)>,
    /// The stats listener's task and the address it listens on.
    stats: Option<(std::net::SocketAddr, AbortOnDrop)>,
    admin_tx: mpsc::Sender<admin::socket::Command>,
    /// The latest status, for the stats listener.
    published: watch::Sender<Option<AgentStatus>>,
    facts: ShellFacts,
    /// Who waits for the answer to the admin command being stepped.
    answer: Option<oneshot::Sender<Response>>,
    /// Set while the first step runs: a failure then stops the agent.
    starting: bool,
    /// Flow sync with the peer LBs (`flow_sync:`), when it is on.
    flow_sync: Option<FlowSync>,
    /// Its status as last published (a sample that changed nothing else
    /// publishes only when this changed).
    last_flow_sync: Option<FlowSyncStatus>,
    /// A write happened in this step: flow sync's view is stale.
    views_dirty: bool,
    /// FRR's sessions as last read (`bgp.frr`), and the reader's task.
    routing: Option<(watch::Receiver<Option<RoutingStatus>>, AbortOnDrop)>,
    last_routing: Option<RoutingStatus>,
}

impl Shell {
    #[expect(
        clippy::too_many_arguments,
        reason = "the shell owns each of these; a struct would only rename them"
    )]
    pub(super) fn new(
        opts: AgentOptions,
        handle: Handle,
        macs_handle: Handle,
        iface: Interface,
        pin_dir: PathBuf,
        maps: MapWriter,
        dataplane: Dataplane,
        addresses: AddressWatcher,
    ) -> (Self, Receivers) {
        let (health_tx, health) = mpsc::unbounded_channel();
        let (macs_tx, macs) = mpsc::unbounded_channel();
        let (vrrp_tx, vrrp) = mpsc::unbounded_channel();
        let (admin_tx, admin) = mpsc::channel(8);
        let shell = Self {
            facts: ShellFacts {
                pid: std::process::id(),
                iface: iface.name.clone(),
                started: Instant::now(),
                ring_swaps: 0,
                last_ring_swap_s: None,
            },
            macs: MacWatcher::start(macs_handle, iface.clone(), addresses.sources(), macs_tx),
            checks: Checks::new(health_tx, addresses.sources()),
            addresses,
            opts,
            handle,
            iface,
            pin_dir,
            maps,
            dataplane: Some(dataplane),
            vrrp: BTreeMap::new(),
            vrrp_tx,
            stats: None,
            admin_tx,
            published: watch::channel(None).0,
            answer: None,
            starting: true,
            flow_sync: None,
            last_flow_sync: None,
            views_dirty: false,
            routing: None,
            last_routing: None,
        };
        let rx = Receivers {
            health,
            macs,
            vrrp,
            admin,
        };
        (shell, rx)
    }

    /// Starts flow sync (before the first write, so every service is
    /// written asking the program for its flows, and before the
    /// capabilities go: it opens pinned maps and binds its socket).
    pub(super) fn start_flow_sync(&mut self, config: &FlowSyncConfig) -> Result<()> {
        let fs = FlowSync::start(config, &self.iface.name, self.iface.index, &self.pin_dir)?;
        self.maps.set_flow_sync(true);
        self.flow_sync = Some(fs);
        Ok(())
    }

    /// Reads FRR's sessions every few seconds for the status.
    pub(super) fn start_frr_reader(&mut self, config: regha_config::FrrConfig) {
        let (rx, task) = crate::bgp::frr::start(config);
        self.routing = Some((rx, AbortOnDrop(task)));
    }

    /// SIGHUP: the file as it reads now, with the command line's overrides.
    pub(super) fn reload_config(&self) -> Result<Config, ConfigErrors> {
        load_config(&self.opts)
    }

    /// The next step answers an admin command: to `answer`.
    pub(super) fn answer_next(&mut self, answer: oneshot::Sender<Response>) {
        self.answer = Some(answer);
    }

    /// Opens `<state dir>/<iface>.sock`; without it the agent runs on, but
    /// takes no commands.
    pub(super) fn start_admin_socket(&self) -> Option<AbortOnDrop> {
        let path = admin::socket_path(&self.opts.state_dir, &self.iface.name);
        match admin::socket::bind(&path) {
            Ok(listener) => {
                info!(path = %path.display(), "admin socket: backend drain|disable|enable, vrrp resign|resume");
                Some(AbortOnDrop(tokio::spawn(admin::socket::serve(
                    listener,
                    self.admin_tx.clone(),
                ))))
            }
            Err(e) => {
                error!(path = %path.display(), error = %e, "no admin socket: runtime commands are unavailable");
                None
            }
        }
    }

    /// Feeds `event` to the core and carries out the effects, then the
    /// events they produced (a stopped instance's last status), then
    /// publishes the status. An error here stops the agent: only the start
    /// fails that way.
    pub(super) async fn step(&mut self, core: &mut Core, event: Event) -> Result<()> {
        // A sample of the signals that changed nothing is not worth a
        // status write (ten a second).
        let mut quiet = matches!(event, Event::Signals(_));
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let mut failures: Vec<String> = Vec::new();
            for effect in core.step(event, Instant::now()) {
                quiet = false;
                if let Err(e) = self.run(effect, &mut queue, &failures).await {
                    let message = format!("{e:#}");
                    if self.starting {
                        bail!(message);
                    }
                    error!(error = %message, "an effect failed");
                    failures.push(message);
                }
            }
        }
        self.starting = false;
        if let Some(fs) = &self.flow_sync
            && std::mem::take(&mut self.views_dirty)
        {
            fs.set_view(View::new(&core.applied_services()));
        }
        let now = Instant::now();
        let flow_sync = self.flow_sync.as_ref().map(|fs| {
            let lost = self.maps.sync_lost().unwrap_or_else(|e| {
                tracing::debug!(error = %e, "cannot read SYNC_LOST");
                0
            });
            fs.status(lost, now)
        });
        let routing = self
            .routing
            .as_ref()
            .and_then(|(rx, _)| rx.borrow().clone());
        if quiet && flow_sync == self.last_flow_sync && routing == self.last_routing {
            return Ok(());
        }
        self.last_routing.clone_from(&routing);
        let mut status = core.status(&self.facts, now);
        if let Some(fs) = &self.flow_sync {
            fs.set_settled(status.settled);
        }
        status.flow_sync = flow_sync.clone();
        status.routing = routing;
        self.last_flow_sync = flow_sync;
        self.published.send_replace(Some(status.clone()));
        if let Err(e) = file::write(&self.opts.state_dir, &status) {
            warn!(error = %e, "cannot write the status file");
        }
        Ok(())
    }

    /// The handshake counters of the backends written to the dataplane,
    /// for [`Event::Signals`]; a backend whose counters cannot be read is
    /// left out of this sample.
    pub(super) fn signals(&self, core: &Core) -> Event {
        let counts = core
            .sampled_backends()
            .into_iter()
            .filter_map(|(backend, id)| match self.maps.signals(id) {
                Ok(s) => Some((backend, Counts::from(s))),
                Err(e) => {
                    tracing::debug!(backend = %backend.addr, id, error = %e, "cannot read the backend's signals");
                    None
                }
            })
            .collect();
        Event::Signals(counts)
    }

    async fn run(
        &mut self,
        effect: Effect,
        queue: &mut VecDeque<Event>,
        failures: &[String],
    ) -> Result<()> {
        match effect {
            Effect::ExcludeSources(vips) => self.addresses.exclude(vips),
            Effect::SyncChecks(checks) => self.checks.sync(checks),
            Effect::SuspectChecks { backend, suspect } => {
                self.checks.set_suspect(&backend, suspect)
            }
            Effect::WatchMacs(addrs) => self.macs.watch(addrs),
            Effect::WriteMaps { plan, decided } => {
                self.write_maps(&plan, &decided);
                self.views_dirty = true;
            }
            Effect::AddVips(vips) => {
                self.iface.add_vips(&self.handle, &vips).await?;
            }
            Effect::RemoveVips(vips) => self.iface.remove_vips(&self.handle, &vips).await?,
            Effect::AnnounceVips(ips) => announce_default(self.iface.clone(), ips),
            Effect::AnnounceRoute { vip, protocol } => {
                crate::bgp::route::announce(&self.handle, vip, protocol).await?;
            }
            Effect::WithdrawRoute { vip, protocol } => {
                crate::bgp::route::withdraw(&self.handle, vip, protocol).await?;
            }
            Effect::StartVrrp(config) => self.start_vrrp(config).await?,
            Effect::ReconfigureVrrp(config) => {
                if let Some(i) = self.vrrp.get(&config.router()) {
                    i.handle.reconfigure(config);
                }
            }
            Effect::StopVrrp { router } => {
                if let Some(i) = self.vrrp.remove(&router) {
                    let status = i.handle.status.clone();
                    // A master releases its VIPs, then tells the peers.
                    i.handle.stop().await;
                    let status = status.borrow().clone();
                    queue.push_back(Event::Vrrp { router, status });
                }
            }
            Effect::TrackBackends { router, ok } => {
                if let Some(i) = self.vrrp.get(&router) {
                    i.handle.backends_ok.send_replace(ok);
                }
            }
            Effect::SettleVrrp { router, settled } => {
                if let Some(i) = self.vrrp.get(&router) {
                    i.handle.settled.send_replace(settled);
                }
            }
            Effect::SyncVrrp { router, command } => {
                if let Some(i) = self.vrrp.get(&router) {
                    i.handle.sync(command);
                }
            }
            Effect::SaveAdmin(table) => self.save_admin(&table)?,
            Effect::StartStats(config) => self.start_stats(&config).await,
            Effect::StopStats => self.stats = None,
            Effect::RecordConfig(config) => {
                file::write_applied(&self.opts.state_dir, &self.iface.name, &config)
                    .context("cannot record the applied configuration for check-config")?;
            }
            Effect::Reply(response) => {
                let response = if failures.is_empty() {
                    response
                } else {
                    Response::error(format!(
                        "{}; but: {}",
                        response.message,
                        failures.join("; ")
                    ))
                };
                if let Some(answer) = self.answer.take() {
                    let _ = answer.send(response);
                }
            }
        }
        Ok(())
    }

    fn write_maps(&mut self, plan: &Plan, decided: &[Option<Instant>]) {
        for (i, spec) in plan.apply.iter().enumerate() {
            match self.maps.apply_service(spec) {
                Ok(report) => {
                    if let Some(ring) = &report.ring {
                        self.facts.ring_swaps += 1;
                        self.facts.last_ring_swap_s = Some(ring.duration.as_secs_f64());
                    }
                    let up = spec
                        .backends
                        .iter()
                        .filter(|b| b.state == regha_model::BackendState::Up)
                        .count();
                    info!(
                        service = spec.id,
                        vip = %spec.vip,
                        port = spec.port,
                        up,
                        backends = spec.backends.len(),
                        ring_swap_us = report.ring.map(|r| r.duration.as_micros() as u64),
                        // The latest health decision among this service's
                        // backends: its delay to the swapped map is the
                        // figure that matters (within one reconcile).
                        decision_to_map_us = decided
                            .get(i)
                            .copied()
                            .flatten()
                            .map(|d| d.elapsed().as_micros() as u64),
                        "service applied"
                    );
                }
                Err(e) => error!(service = spec.id, error = %e, "cannot apply service"),
            }
        }
        for spec in &plan.remove {
            match self.maps.remove_service(spec) {
                Ok(()) => {
                    info!(service = spec.id, vip = %spec.vip, port = spec.port, "service removed")
                }
                Err(e) => error!(service = spec.id, error = %e, "cannot remove service"),
            }
        }
        for id in &plan.clear_backends {
            if let Err(e) = self.maps.remove_backend(*id) {
                error!(backend = id, error = %e, "cannot clear backend");
            }
        }
    }

    async fn start_vrrp(&mut self, config: regha_config::VrrpConfig) -> Result<()> {
        let router = config.router();
        let name = config.name.clone();
        // Every VIP, of every instance: another instance's VIP may be the
        // interface's first IPv4 address, and would move with its role.
        let exclude = self.addresses.excluded();
        let src = vrrp::source_address(&self.handle, &self.iface, &config, &exclude)
            .await
            .with_context(|| format!("VRRP instance {name} ({router})"))?;
        // A netlink connection of its own: the instance adds and removes
        // its VIPs concurrently with everyone else (see `net::connect`).
        let handle = net::connect()?;
        let io =
            NetIo::open(&config, self.iface.clone(), handle, src, exclude).with_context(|| {
                format!("cannot open the VRRP socket of instance {name} ({router})")
            })?;
        let handle =
            vrrp::start(config, &self.iface.name, io).context("cannot start the trackers")?;
        let mut status = handle.status.clone();
        let tx = self.vrrp_tx.clone();
        let forward = tokio::spawn(async move {
            loop {
                let s = status.borrow_and_update().clone();
                if tx.send((router, s)).is_err() || status.changed().await.is_err() {
                    return;
                }
            }
        });
        self.vrrp.insert(
            router,
            Instance {
                handle,
                _forward: AbortOnDrop(forward),
            },
        );
        Ok(())
    }

    fn save_admin(&self, table: &AdminTable) -> Result<()> {
        table
            .save(&admin::table_path(&self.opts.state_dir, &self.iface.name))
            .context("applied, but not kept for a restart")
    }

    /// Starts a stats listener for `config`; the running one is replaced
    /// only once the new one listens. A listener that cannot start is
    /// logged, not fatal: the load balancer matters more. On the same
    /// address (auth turned on, say) the running one goes first, and its
    /// socket is closed before the new one binds: an address cannot be
    /// bound twice, and the old listener must not go on answering as it
    /// was configured.
    async fn start_stats(&mut self, config: &StatsConfig) {
        if self
            .stats
            .as_ref()
            .is_some_and(|(at, _)| *at == config.listen)
            && let Some((_, running)) = self.stats.take()
        {
            running.end().await;
        }
        match crate::stats::start(
            config,
            self.iface.name.clone(),
            self.pin_dir.clone(),
            self.published.subscribe(),
        )
        .await
        {
            Ok(task) => self.stats = Some((config.listen, AbortOnDrop(task))),
            Err(e) => error!(error = %e, "stats listener not started"),
        }
    }

    /// After [`Event::Stop`]'s effects: the checkers stop, the state file
    /// and socket go, and the dataplane is unpinned unless kept.
    pub(super) async fn shutdown(mut self) -> Result<()> {
        self.checks.stop_all();
        drop(self.flow_sync.take());
        file::remove(&self.opts.state_dir, &self.iface.name);
        let _ = std::fs::remove_file(admin::socket_path(&self.opts.state_dir, &self.iface.name));
        if self.opts.keep_dataplane {
            info!(pin_dir = %self.pin_dir.display(), "dataplane kept (--keep-dataplane): it keeps steering");
            return Ok(());
        }
        drop(self.maps);
        drop(self.dataplane.take());
        Dataplane::remove_pins(&self.pin_dir)
            .with_context(|| format!("removing the pins in {}", self.pin_dir.display()))?;
        info!("dataplane detached and unpinned");
        Ok(())
    }
}

/// Announces VIPs a static master holds with keepalived's defaults: 5 per
/// VIP at once and 5 more after 5 s, so switches that missed the first
/// burst still learn the move.
fn announce_default(iface: Interface, ips: Vec<std::net::IpAddr>) {
    let garp = regha_config::GarpConfig::default();
    tokio::spawn(async move {
        announce::send_burst(&iface, &ips, garp.repeat, 0);
        tokio::time::sleep(garp.delay).await;
        announce::send_burst(&iface, &ips, garp.repeat, 1);
    });
}
