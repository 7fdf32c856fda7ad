//! The daemon: one loop around the reconciler.
//!
//! ```text
//!  health checkers (one task per backend) --watch--> poke --+
//!  neighbour refresh (timer) ------------------------------+--> reconcile --> MapWriter (maps)
//!  drain deadlines (timer) --------------------------------+        |
//!  SIGHUP (reload) ----------------------------------------+        +--> state file (status)
//!  role (static; VRRP later) --> VIPs + gratuitous ARP
//!  admin socket (drain, disable, enable, resign) --> admin table --> reconcile
//!  state (watch) --> stats listener (reads the maps itself, per request)
//!  SIGTERM / SIGINT --> VIPs removed, dataplane unpinned (unless kept), exit
//! ```

mod admin;
mod checks;
mod inputs;
pub mod role;
pub mod state;

use regha_config::{Config, ConfigErrors};
use regha_model::{BackendState, Role, ServiceIdentity, XdpMode as XdpModeSetting};
use std::{
    collections::HashMap,
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use aya::programs::XdpMode;
use rtnetlink::Handle;
use tokio::{signal::unix::SignalKind, sync::mpsc};
use tracing::{error, info, warn};

use crate::{
    dataplane::{DEFAULT_BPFFS_ROOT, Dataplane, DataplaneOptions, MapWriter},
    ids::Ids,
    net::{self, Interface},
    reconcile::{Plan, Reconciler},
};

pub use checks::Checks;

/// How often backend MACs are re-read from the neighbour table.
const NEIGHBOUR_REFRESH: Duration = Duration::from_secs(2);

/// What the command line decides.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    pub config_path: PathBuf,
    pub iface: Option<String>,
    pub role: Option<Role>,
    pub xdp_mode: Option<XdpModeSetting>,
    pub keep_dataplane: bool,
    pub bpffs_root: PathBuf,
    pub state_dir: PathBuf,
}

impl AgentOptions {
    pub fn new(config_path: PathBuf) -> Self {
        Self {
            config_path,
            iface: None,
            role: None,
            xdp_mode: None,
            keep_dataplane: false,
            bpffs_root: PathBuf::from(DEFAULT_BPFFS_ROOT),
            state_dir: PathBuf::from(state::DEFAULT_STATE_DIR),
        }
    }
}

/// Loads and validates the config with the command line's overrides.
pub fn load_config(opts: &AgentOptions) -> Result<Config, ConfigErrors> {
    let mut config =
        Config::load(&opts.config_path)?.with_interface_override(opts.iface.as_deref())?;
    if let Some(role) = opts.role {
        config.role = Some(role);
    }
    if let Some(mode) = opts.xdp_mode {
        config.xdp_mode = mode;
    }
    Ok(config)
}

/// The VIPs this host holds as master: VRRP's virtual addresses, or with a
/// static role the services' VIPs.
fn vips(config: &Config) -> Vec<(IpAddr, u8)> {
    if let Some(v) = &config.vrrp {
        return v.virtual_ipaddresses.clone();
    }
    let mut out: Vec<(IpAddr, u8)> = config
        .services
        .iter()
        .map(|s| (s.vip, if s.vip.is_ipv4() { 32 } else { 128 }))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

struct Agent {
    opts: AgentOptions,
    config: Config,
    handle: Handle,
    iface: Interface,
    pin_dir: PathBuf,
    maps: MapWriter,
    dataplane: Option<Dataplane>,
    reconciler: Reconciler,
    checks: Checks,
    macs: HashMap<IpAddr, [u8; 6]>,
    role: Role,
    vrrp: Option<crate::vrrp::InstanceHandle>,
    started: Instant,
    ops: admin::Ops,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(opts: AgentOptions) -> Result<()> {
    let config = load_config(&opts).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    for w in config
        .warnings()
        .into_iter()
        .chain(config.script_warnings())
    {
        warn!(warning = %w, "configuration warning (check-config lists them)");
    }
    let iface_name = config
        .interface
        .clone()
        .expect("with_interface_override sets it");
    let handle = net::connect()?;
    let iface = Interface::lookup(&handle, &iface_name).await?;
    let pin_dir = opts.bpffs_root.join(&iface.name);
    let adopting = pin_dir.join("link").exists();
    let dp_opts = DataplaneOptions {
        pin_dir: pin_dir.clone(),
        iface_mac: iface.mac,
        flow_table_size: config.flow_table_size,
    };
    let mut dataplane = Dataplane::load(&dp_opts)?;
    let mode = match config.xdp_mode {
        XdpModeSetting::Native => XdpMode::Driver,
        XdpModeSetting::Generic => XdpMode::Skb,
    };
    dataplane.attach(&iface.name, mode)?;
    let maps = dataplane.maps()?;
    let ids = adopt_ids(&maps)?;
    info!(iface = %iface.name, adopting, pin_dir = %pin_dir.display(), ?mode, "dataplane ready");

    let role = config.role.unwrap_or(Role::Backup);
    let (poke_tx, mut poke_rx) = mpsc::unbounded_channel();
    let (opts_state_dir, config_for_ops) = (opts.state_dir.clone(), config.clone());
    let mut agent = Agent {
        reconciler: Reconciler::new(ids, config.hash_seed),
        checks: Checks::new(poke_tx),
        macs: HashMap::new(),
        opts,
        config,
        handle,
        iface,
        pin_dir,
        maps,
        dataplane: Some(dataplane),
        role,
        vrrp: None,
        started: Instant::now(),
        ops: admin::Ops::new(&opts_state_dir, &iface_name, &config_for_ops),
    };
    agent.checks.sync(inputs::checks(&agent.config));
    agent.refresh_macs(true).await;
    if agent.uses_vrrp() {
        agent.start_vrrp().await?;
    } else {
        agent.apply_role(None).await;
    }

    // After a restart the dataplane is steering: do not mark every backend
    // down while the first checks run. Wait for them (bounded by the
    // longest check timeout), then reconcile.
    if adopting {
        let deadline = Instant::now() + agent.longest_timeout() + Duration::from_millis(500);
        while !agent.checks.all_decided() && Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(50), poke_rx.recv()).await;
        }
    }
    for id in agent.reconciler.take_unclaimed_ids() {
        agent.maps.remove_backend(id)?;
    }
    agent.reconcile();
    let (admin_tx, mut admin_rx) = mpsc::channel(8);
    let _admin = agent.start_admin_socket(admin_tx);
    let _stats = agent.start_stats().await;
    // Setup is over: every socket, listener and map the agent needs to open
    // with more privilege is open.
    let keep = crate::privileges::mask(&crate::privileges::KEPT);
    crate::privileges::drop_all_threads(keep)
        .context("cannot drop the capabilities the agent no longer needs")?;
    info!(
        kept = ?crate::privileges::names(keep),
        no_new_privs = true,
        "capabilities dropped: every other one is gone from all threads"
    );

    let mut hup = tokio::signal::unix::signal(SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(SignalKind::interrupt())?;
    let mut vrrp_status = agent.vrrp.as_ref().map(|v| v.status.clone());
    let mut neigh = tokio::time::interval(NEIGHBOUR_REFRESH);
    neigh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let drain = agent.reconciler.next_deadline();
        tokio::select! {
            Some(()) = poke_rx.recv() => {
                // Drain whatever else queued up: one reconcile for a burst.
                while poke_rx.try_recv().is_ok() {}
                agent.reconcile();
            }
            _ = neigh.tick() => {
                if agent.refresh_macs(false).await {
                    agent.reconcile();
                }
            }
            () = sleep_until(drain) => agent.reconcile(),
            _ = hup.recv() => agent.reload().await,
            Ok(()) = vrrp_changed(&mut vrrp_status) => {
                let state = vrrp_status.as_mut().map(|s| s.borrow_and_update().state);
                if let Some(state) = state {
                    agent.role = state.role();
                }
                if let Err(e) = state::write(&agent) {
                    warn!(error = %e, "cannot write the status file");
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some((request, answer)) = admin_rx.recv() => {
                let _ = answer.send(agent.admin(request).await);
                // A resign or resume replaced the VRRP instance.
                vrrp_status = agent.vrrp.as_ref().map(|v| v.status.clone());
            }
        }
    }
    agent.shutdown().await
}

async fn vrrp_changed(
    rx: &mut Option<tokio::sync::watch::Receiver<crate::vrrp::VrrpStatus>>,
) -> Result<(), tokio::sync::watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Ids as the pinned maps hold them (empty on a fresh dataplane).
fn adopt_ids(maps: &MapWriter) -> Result<Ids> {
    let services = maps
        .service_entries()?
        .into_iter()
        .filter(|(k, _)| k.port != regha_common::FRAGMENT_PORT)
        .filter_map(|(k, v)| {
            let vip = crate::dataplane::ip_of(&k.addr, k.family)?;
            Some((
                ServiceIdentity {
                    vip,
                    port: k.port,
                    protocol: regha_model::Protocol::from_number(k.proto)?,
                },
                v.id,
            ))
        });
    let backends = maps.backend_entries()?;
    Ok(Ids::adopt(services, backends))
}

impl Agent {
    /// VRRP decides the role unless a static role is forced on the command line.
    fn uses_vrrp(&self) -> bool {
        self.config.vrrp.is_some() && self.opts.role.is_none()
    }

    /// Starts the VRRP instance. A VIP this host holds from before (a crash)
    /// is released first: the instance starts as backup and takes the VIPs
    /// only if it becomes master.
    async fn start_vrrp(&mut self) -> Result<()> {
        let vrrp = self.config.vrrp.clone().expect("uses_vrrp checked it");
        role::apply(
            &self.handle,
            &self.iface,
            &vrrp.virtual_ipaddresses,
            Role::Backup,
        )
        .await?;
        let src = crate::vrrp::source_address(&self.handle, &self.iface, &vrrp).await?;
        let stop_script = vrrp.notify.stop.clone();
        let instance = crate::vrrp::start(
            vrrp,
            self.iface.clone(),
            self.handle.clone(),
            src,
            stop_script,
        )
        .context("cannot open the VRRP socket")?;
        self.vrrp = Some(instance);
        self.role = Role::Backup;
        Ok(())
    }

    /// `track_backends`' condition: "at least `min_healthy` backends are
    /// up" (the VRRP instance weighs it with the other trackers).
    fn backends_ok(&self) -> Option<bool> {
        let vrrp = self.config.vrrp.as_ref()?;
        let track = vrrp.track_backends?;
        let up = self
            .config
            .services
            .iter()
            .map(|s| {
                let identity = inputs::service_identity(s);
                self.reconciler.applied(&identity).map_or(0, |a| {
                    a.backends
                        .iter()
                        .filter(|b| b.state == BackendState::Up)
                        .count()
                })
            })
            .sum::<usize>() as u32;
        Some(up >= track.min_healthy)
    }

    fn longest_timeout(&self) -> Duration {
        self.config
            .services
            .iter()
            .map(|s| s.health.timeout)
            .max()
            .unwrap_or_default()
    }

    /// Re-reads backend MACs; with `resolve`, makes the kernel resolve the
    /// missing ones. Returns whether any MAC changed.
    async fn refresh_macs(&mut self, resolve: bool) -> bool {
        let mut changed = false;
        for addr in inputs::dynamic_mac_addresses(&self.config) {
            let found = if resolve || !self.macs.contains_key(&addr) {
                net::resolve_mac(&self.handle, &self.iface, addr).await.ok()
            } else {
                net::lookup_mac(&self.handle, &self.iface, addr)
                    .await
                    .ok()
                    .flatten()
            };
            match found {
                Some(mac) if self.macs.get(&addr) != Some(&mac) => {
                    info!(backend = %addr, mac = %net::mac_str(mac), "backend MAC learned");
                    self.macs.insert(addr, mac);
                    changed = true;
                }
                Some(_) => {}
                None if resolve => {
                    warn!(backend = %addr, "backend MAC unknown: it stays out until resolved")
                }
                None => {}
            }
        }
        changed
    }

    /// Computes and applies the plan; logs how long each health decision
    /// took to reach the maps.
    fn reconcile(&mut self) {
        let health = self.checks.health();
        let inputs = inputs::services(&self.config, &health, &self.macs, &self.ops.table);
        let plan = match self.reconciler.plan(&inputs, Instant::now()) {
            Ok(p) => p,
            Err(e) => {
                error!(error = %e, "cannot plan the dataplane");
                return;
            }
        };
        if !plan.is_empty() {
            self.apply(plan);
        }
        if let (Some(t), Some(v)) = (self.backends_ok(), &self.vrrp) {
            v.backends_ok.send_if_modified(|cur| {
                let changed = *cur != t;
                *cur = t;
                changed
            });
        }
        if let Err(e) = state::write(self) {
            warn!(error = %e, "cannot write the status file");
        }
    }

    fn apply(&mut self, plan: Plan) {
        for spec in &plan.apply {
            match self.maps.apply_service(spec) {
                Ok(report) => {
                    if let Some(ring) = &report.ring {
                        self.ops.record_swap(ring.duration);
                    }
                    let identity = ServiceIdentity {
                        vip: spec.vip,
                        port: spec.port,
                        protocol: spec.protocol,
                    };
                    let up = spec
                        .backends
                        .iter()
                        .filter(|b| b.state == BackendState::Up)
                        .count();
                    // The latest health decision among this service's
                    // backends: its delay to the swapped map is the figure
                    // that matters (the brief: within one reconcile).
                    let decided = spec
                        .backends
                        .iter()
                        .filter_map(|b| {
                            self.checks.report(&regha_model::BackendIdentity {
                                service: identity,
                                addr: std::net::SocketAddr::new(b.addr, b.port),
                            })
                        })
                        .filter_map(|r| r.decided_at)
                        .max();
                    info!(
                        service = spec.id,
                        vip = %spec.vip,
                        port = spec.port,
                        up,
                        backends = spec.backends.len(),
                        ring_swap_us = report.ring.map(|r| r.duration.as_micros() as u64),
                        decision_to_map_us = decided.map(|d| d.elapsed().as_micros() as u64),
                        "service applied"
                    );
                }
                Err(e) => error!(service = spec.id, error = %e, "cannot apply service"),
            }
        }
        for spec in &plan.remove {
            if let Err(e) = self.maps.remove_service(spec) {
                error!(service = spec.id, error = %e, "cannot remove service");
            } else {
                info!(service = spec.id, vip = %spec.vip, port = spec.port, "service removed");
            }
        }
        for id in &plan.clear_backends {
            if let Err(e) = self.maps.remove_backend(*id) {
                error!(backend = id, error = %e, "cannot clear backend");
            }
        }
    }

    async fn apply_role(&mut self, previous: Option<Role>) {
        let vips = vips(&self.config);
        match role::apply(&self.handle, &self.iface, &vips, self.role).await {
            Ok(added) => {
                info!(role = ?self.role, ?previous, "role applied");
                if self.role == Role::Master {
                    // Announce on every start as master too: a crashed
                    // predecessor may have left stale caches elsewhere.
                    let all = vips.iter().map(|(ip, _)| *ip).collect::<Vec<_>>();
                    role::announce(
                        self.iface.clone(),
                        if added.is_empty() { all } else { added },
                    );
                }
            }
            Err(e) => error!(error = %e, role = ?self.role, "cannot apply the role's VIPs"),
        }
    }

    /// SIGHUP: a valid config is applied as a difference; an invalid one
    /// changes nothing.
    async fn reload(&mut self) {
        let new = match load_config(&self.opts) {
            Ok(c) => c,
            Err(e) => {
                error!("reload rejected, running state unchanged:\n{e}");
                return;
            }
        };
        if new.interface != self.config.interface {
            error!(
                old = ?self.config.interface,
                new = ?new.interface,
                "reload rejected: the interface cannot change at runtime (restart the agent)"
            );
            return;
        }
        if new.hash_seed != self.config.hash_seed {
            warn!("hash_seed changed: it applies to services written from now on");
        }
        if new.vrrp != self.config.vrrp && self.vrrp_decides() {
            warn!("the vrrp section changed: it applies after a restart of the agent");
        }
        let old_role = self.role;
        let old_vips = vips(&self.config);
        self.checks.sync(inputs::checks(&new));
        let vrrp_config = self.config.vrrp.clone();
        self.config = new;
        self.ops.config_changed(&self.config);
        if self.vrrp_decides() {
            // The running instance keeps the section it started with.
            self.config.vrrp = vrrp_config;
        } else {
            self.role = self.config.role.unwrap_or(Role::Backup);
        }
        self.refresh_macs(true).await;
        if !self.vrrp_decides() && (self.role != old_role || vips(&self.config) != old_vips) {
            // VIPs no longer configured go first.
            for (ip, _) in old_vips.iter().filter(|v| !vips(&self.config).contains(v)) {
                if let Err(e) = self.iface.remove_vip(&self.handle, *ip).await {
                    error!(vip = %ip, error = %e, "cannot remove a VIP dropped from the config");
                }
            }
            self.apply_role(Some(old_role)).await;
        }
        info!(
            services = self.config.services.len(),
            "configuration reloaded"
        );
        self.reconcile();
    }

    async fn shutdown(mut self) -> Result<()> {
        info!("stopping");
        self.checks.stop_all();
        if let Some(v) = self.vrrp.take() {
            // A master releases the VIPs, then tells the peers (priority 0).
            v.stop().await;
        }
        for (ip, _) in vips(&self.config) {
            if let Err(e) = self.iface.remove_vip(&self.handle, ip).await {
                error!(vip = %ip, error = %e, "cannot remove VIP on stop");
            }
        }
        state::remove(&self.opts.state_dir, &self.iface.name);
        let _ = std::fs::remove_file(crate::admin::socket_path(
            &self.opts.state_dir,
            &self.iface.name,
        ));
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
