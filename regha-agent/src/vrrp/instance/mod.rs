//! One VRRP instance as a tokio task: the state machine (`state.rs`) fed by
//! the socket (decoded by `packet.rs`), its timer, priority changes
//! (tracking), reloads and shutdown; its actions carried out in order over
//! a [`VrrpIo`] (`io.rs`: the real one, or the replay tests' recorder). It
//! owns the VIPs while it runs: advertisement first, then VIPs, then
//! gratuitous ARPs when taking over; VIPs removed before anything else when
//! leaving.
//!
//! ```text
//!  io.recv --advert--> +---------+ --SendAdvert--> io.send
//!  timer  -----------> | Machine | --TakeVips----> io.add_vips + announce bursts
//!  TrackState -------> |         | --ReleaseVips-> io.remove_vips
//!  reconfigure ------> |         | --Transition--> status (watch), io.notify
//!  sync (its group) -> |         |
//!  shutdown ---------> +---------+
//!     ^
//!     +-- backend condition (watch, from the agent)
//!     +-- tracked scripts, link events (io.trackers)
//! ```
//!
//! Every tracking input updates the pure `TrackState`; when the resulting
//! effective priority (or FAULT) differs from the last one fed to the
//! machine, the machine gets `SetPriority` and/or `Fault`. The clock is
//! tokio's, so the replay tests run it on paused time.

mod io;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, net::IpAddr, time::Duration};

use regha_model::{VrrpState, VrrpVersion};
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};
use tracing::{debug, info, warn};

pub use io::{NetIo, VrrpIo, source_address};

use super::{
    network::Datagram,
    packet::{self, Advert, Expect, Reject, V3Checksum},
    state::{Action, Event, Machine, Params, SyncCommand},
    track::TrackState,
    trackers::TrackEvent,
};
use regha_config::VrrpConfig;

/// What the agent learns from the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpStatus {
    pub state: VrrpState,
    pub priority: u8,
    pub master: Option<IpAddr>,
    pub transitions: u64,
    pub rejected: HashMap<&'static str, u64>,
    /// A sync group member whose down timer ran out: it would be master but
    /// for its group (which reads this to decide).
    pub wants_master: bool,
    /// In Fault (or to be) for its own reasons, not its group's.
    pub own_fault: bool,
}

impl VrrpStatus {
    /// Before the instance runs.
    pub fn initial(priority: u8) -> Self {
        Self {
            state: VrrpState::Initialize,
            priority,
            master: None,
            transitions: 0,
            rejected: HashMap::new(),
            wants_master: false,
            own_fault: false,
        }
    }
}

/// The tracking input: the effective priority, or fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracked {
    Priority(u8),
    Fault,
}

/// The running instance, as its owner holds it.
pub struct InstanceHandle {
    pub status: watch::Receiver<VrrpStatus>,
    /// `track_backends`' condition ("at least min_healthy are up"), as the
    /// agent computes it; ignored without `track_backends`.
    pub backends_ok: watch::Sender<bool>,
    /// Whether the agent's health view is settled; an unsettled host does
    /// not preempt (see `vrrp/state.rs`).
    pub settled: watch::Sender<bool>,
    reconfigure: mpsc::UnboundedSender<VrrpConfig>,
    sync: mpsc::UnboundedSender<SyncCommand>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl InstanceHandle {
    /// What the instance's sync group decided.
    pub fn sync(&self, command: SyncCommand) {
        let _ = self.sync.send(command);
    }

    /// Applies a reloaded config in place. The caller keeps the VRID, the
    /// version, the family and whether this host owns the addresses (255):
    /// a change of those is another instance.
    pub fn reconfigure(&self, config: VrrpConfig) {
        let _ = self.reconfigure.send(config);
    }

    /// Stops the instance (a master releases its VIPs, then sends priority 0)
    /// and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// Starts the instance over `io` (see [`NetIo::open`]). Fails only when the
/// trackers cannot start.
pub fn start<I: VrrpIo + 'static>(
    config: VrrpConfig,
    iface: &str,
    mut io: I,
) -> std::io::Result<InstanceHandle> {
    let track_rx = io.trackers(&config)?;
    let (status_tx, status_rx) = watch::channel(VrrpStatus::initial(config.priority));
    let (backends_tx, backends_rx) = watch::channel(true);
    let (settled_tx, settled_rx) = watch::channel(true);
    let (reconfigure_tx, reconfigure_rx) = mpsc::unbounded_channel();
    let (sync_tx, sync_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let instance = Instance {
        second_burst_at: None,
        refresh_at: None,
        track: TrackState::new(&config, iface),
        applied: Tracked::Priority(config.priority),
        machine: Machine::new(params(&config, io.src())),
        io,
        config,
        status: status_tx,
    };
    let inputs = Inputs {
        backends: backends_rx,
        settled: settled_rx,
        track: track_rx,
        reconfigure: reconfigure_rx,
        sync: sync_rx,
        stop: stop_rx,
    };
    let task = tokio::spawn(instance.run(inputs));
    Ok(InstanceHandle {
        status: status_rx,
        backends_ok: backends_tx,
        settled: settled_tx,
        reconfigure: reconfigure_tx,
        sync: sync_tx,
        stop: Some(stop_tx),
        task,
    })
}

fn params(config: &VrrpConfig, src: IpAddr) -> Params {
    Params {
        version: config.version,
        priority: config.priority,
        advert_interval: config.advert_interval,
        preempt: config.preempt,
        preempt_delay: config.preempt_delay,
        primary_addr: src,
        sync_group: config.sync_group.is_some(),
    }
}

struct Inputs {
    backends: watch::Receiver<bool>,
    settled: watch::Receiver<bool>,
    track: mpsc::UnboundedReceiver<TrackEvent>,
    reconfigure: mpsc::UnboundedReceiver<VrrpConfig>,
    sync: mpsc::UnboundedReceiver<SyncCommand>,
    stop: oneshot::Receiver<()>,
}

struct Instance<I> {
    /// When a new master sends its second burst of announcements
    /// (`garp_master_delay`); `None` once sent or when not master.
    second_burst_at: Option<Instant>,
    /// When a master next re-announces (`garp_master_refresh`); `None`
    /// when not master or refresh is off.
    refresh_at: Option<Instant>,
    track: TrackState,
    /// The tracking result the machine last got.
    applied: Tracked,
    machine: Machine,
    io: I,
    config: VrrpConfig,
    status: watch::Sender<VrrpStatus>,
}

/// The machine's clock: tokio's, which tests can pause.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<I: VrrpIo> Instance<I> {
    fn expect(&self) -> Expect {
        Expect {
            version: self.config.version,
            vrid: self.config.virtual_router_id,
            interval_s: match self.config.version {
                VrrpVersion::V2 => Some(self.config.advert_interval.as_secs() as u16),
                VrrpVersion::V3 => None,
            },
            auth: self.config.auth_pass.as_deref().map(packet::auth_bytes),
            family_v6: self.io.src().is_ipv6(),
        }
    }

    fn advert(&self, priority: u8) -> Advert {
        let interval = match self.config.version {
            VrrpVersion::V2 => self.config.advert_interval.as_secs() as u16,
            VrrpVersion::V3 => (self.config.advert_interval.as_millis() / 10) as u16,
        };
        Advert {
            version: self.config.version,
            vrid: self.config.virtual_router_id,
            priority,
            interval,
            addrs: self.vips(),
            auth: self.config.auth_pass.as_deref().map(packet::auth_bytes),
        }
    }

    async fn run(mut self, mut inputs: Inputs) {
        let mut expect = self.expect();
        let mut buf = vec![0u8; 2048];
        self.retrack().await;
        let start = self.machine.handle(Event::Startup, now());
        self.execute(start).await;
        loop {
            let deadline = self.machine.deadline().map(Instant::from_std);
            let event = tokio::select! {
                biased;
                _ = &mut inputs.stop => break,
                r = self.io.recv(&mut buf) => match r {
                    Ok(d) => self.received(&buf, d, &expect),
                    Err(e) => {
                        warn!(error = %e, "VRRP receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        None
                    }
                },
                () = sleep_until(deadline) => Some(Event::Timer),
                () = sleep_until(self.second_burst_at) => {
                    self.second_burst_at = None;
                    self.io.announce(&self.vips(), self.config.garp.repeat, 1);
                    None
                }
                () = sleep_until(self.refresh_at) => {
                    let garp = self.config.garp;
                    self.io.announce(&self.vips(), garp.refresh_repeat, 0);
                    self.refresh_at = Some(Instant::now() + garp.refresh);
                    None
                }
                r = inputs.backends.changed() => {
                    if r.is_ok() {
                        let ok = *inputs.backends.borrow_and_update();
                        self.track.set_backends(ok);
                    }
                    self.retrack().await;
                    None
                }
                r = inputs.settled.changed() => match r {
                    Ok(()) => {
                        let settled = *inputs.settled.borrow_and_update();
                        debug!(vrid = self.config.virtual_router_id, settled, "health view");
                        Some(Event::Settled(settled))
                    }
                    Err(_) => None,
                },
                Some(ev) = inputs.track.recv() => {
                    self.tracked(ev);
                    self.retrack().await;
                    None
                }
                Some(config) = inputs.reconfigure.recv() => {
                    if let Some(rx) = self.reconfigure(config).await {
                        inputs.track = rx;
                    }
                    expect = self.expect();
                    None
                }
                Some(command) = inputs.sync.recv() => {
                    debug!(vrid = self.config.virtual_router_id, ?command, "sync group command");
                    Some(Event::Sync(command))
                }
            };
            if let Some(event) = event {
                let from = match &event {
                    Event::Advert { from, .. } => Some(*from),
                    _ => None,
                };
                let actions = self.machine.handle(event, now());
                self.execute(actions).await;
                // The master a backup follows; a master hearing a lower
                // peer (during a preemption) keeps showing itself.
                if let Some(from) = from
                    && self.machine.state() == VrrpState::Backup
                {
                    self.status.send_modify(|s| s.master = Some(from));
                }
            }
        }
        let actions = self.machine.handle(Event::Shutdown, now());
        self.execute(actions).await;
        if let Some(script) = self.config.notify.stop.clone() {
            self.io.notify(script);
        }
    }

    /// One datagram: the machine's event, or `None` (counted if refused).
    fn received(&mut self, buf: &[u8], d: Datagram, expect: &Expect) -> Option<Event> {
        match decode(buf, d, expect) {
            Ok(rx) => {
                if rx.src == self.io.src() {
                    return None; // our own advert looped back
                }
                if let Err(reason) = packet::accept_source(rx.src, &self.config.unicast_peers) {
                    debug!(reason = reason.name(), src = %rx.src, "VRRP packet rejected");
                    self.count_rejected(reason);
                    return None;
                }
                self.check_addresses(&rx.advert);
                Some(Event::Advert {
                    from: rx.src,
                    priority: rx.advert.priority,
                    interval: interval_of(&rx.advert),
                })
            }
            Err(Reject::OtherVrid) | Err(Reject::NotVrrp) => None,
            Err(reason) => {
                debug!(reason = reason.name(), "VRRP packet rejected");
                self.count_rejected(reason);
                None
            }
        }
    }

    fn count_rejected(&self, reason: Reject) {
        self.status
            .send_modify(|s| *s.rejected.entry(reason.name()).or_insert(0) += 1);
    }

    fn tracked(&mut self, ev: TrackEvent) {
        match ev {
            TrackEvent::Script { index, success } => {
                if let Some(ok) = self.track.script_ran(index, success) {
                    let name = self
                        .config
                        .track_scripts
                        .get(index)
                        .map(|s| s.name.as_str());
                    info!(script = name, ok, "tracked script changed");
                }
            }
            TrackEvent::Link { name, up } => self.track.link(&name, up),
        }
    }

    /// Feeds the machine the tracking result if it changed: the priority
    /// first, so that leaving FAULT starts with the right one.
    async fn retrack(&mut self) {
        let now_tracked = self.track.tracked();
        if now_tracked == self.applied {
            return;
        }
        info!(vrid = self.config.virtual_router_id, from = ?self.applied, to = ?now_tracked, "tracking changed the priority");
        self.applied = now_tracked;
        let mut actions = Vec::new();
        match now_tracked {
            Tracked::Fault => actions.extend(self.machine.handle(Event::Fault(true), now())),
            Tracked::Priority(p) => {
                actions.extend(self.machine.handle(Event::SetPriority(p), now()));
                actions.extend(self.machine.handle(Event::Fault(false), now()));
            }
        }
        self.status
            .send_modify(|s| s.priority = self.machine.priority());
        self.execute(actions).await;
    }

    /// A reload of this instance's section. Returns the new trackers'
    /// receiver when they were restarted.
    async fn reconfigure(
        &mut self,
        config: VrrpConfig,
    ) -> Option<mpsc::UnboundedReceiver<TrackEvent>> {
        if config == self.config {
            return None;
        }
        let old = std::mem::replace(&mut self.config, config);
        info!(
            vrid = self.config.virtual_router_id,
            "VRRP instance reconfigured in place"
        );
        if (old.unicast_src != self.config.unicast_src
            || old.unicast_peers != self.config.unicast_peers)
            && let Err(e) = self.io.reopen(&self.config).await
        {
            warn!(error = %format!("{e:#}"), "cannot reopen the VRRP socket for the new peers: the old one stays");
        }
        let master = self.machine.state() == VrrpState::Master;
        let added: Vec<_> = (self.config.virtual_ipaddresses.iter())
            .filter(|v| !old.virtual_ipaddresses.contains(v))
            .copied()
            .collect();
        let removed: Vec<_> = (old.virtual_ipaddresses.iter())
            .filter(|v| !self.config.virtual_ipaddresses.contains(v))
            .copied()
            .collect();
        if let Err(e) = self.io.remove_vips(&removed).await {
            warn!(error = %e, "cannot remove the VIPs dropped from the config");
        }
        if master && !added.is_empty() {
            match self.io.add_vips(&added).await {
                Ok(_) => {
                    let ips: Vec<IpAddr> = added.iter().map(|(ip, _)| *ip).collect();
                    self.io.announce(&ips, self.config.garp.repeat, 0);
                }
                Err(e) => warn!(error = %e, "cannot add the VIPs new in the config"),
            }
        }
        if master && old.garp.refresh != self.config.garp.refresh {
            let refresh = self.config.garp.refresh;
            self.refresh_at = (!refresh.is_zero()).then(|| Instant::now() + refresh);
        }
        // The new settings and the priority tracking derives from them go
        // to the machine together: a master advertises both in one advert.
        self.track = self.track.reconfigured(&old, &self.config);
        let priority = match self.track.tracked() {
            Tracked::Priority(p) => {
                self.applied = Tracked::Priority(p);
                Some(p)
            }
            Tracked::Fault => None,
        };
        let actions = self.machine.handle(
            Event::Reconfigure {
                params: params(&self.config, self.io.src()),
                priority,
            },
            now(),
        );
        self.status
            .send_modify(|s| s.priority = self.machine.priority());
        self.execute(actions).await;
        let trackers_changed = old.track_scripts != self.config.track_scripts
            || old.track_interfaces != self.config.track_interfaces;
        let rx = if trackers_changed {
            match self.io.trackers(&self.config) {
                Ok(rx) => Some(rx),
                Err(e) => {
                    warn!(error = %e, "cannot restart the trackers: tracking keeps its last state");
                    None
                }
            }
        } else {
            None
        };
        // FAULT (or leaving it) goes through the usual path.
        self.retrack().await;
        rx
    }

    fn check_addresses(&self, a: &Advert) {
        let mut theirs = a.addrs.clone();
        theirs.sort_unstable();
        let mut ours = self.vips();
        ours.sort_unstable();
        if theirs != ours {
            debug!(
                ?theirs,
                ?ours,
                "advert's address list differs from ours (RFC: log, not fatal)"
            );
        }
    }

    fn vips(&self) -> Vec<IpAddr> {
        self.config
            .virtual_ipaddresses
            .iter()
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// What the sync group reads, when it changed: whether the machine
    /// wants master, and whether its fault is its own.
    fn publish_group_view(&self) {
        let (wants, own) = (self.machine.wants_master(), self.machine.own_fault());
        self.status.send_if_modified(|s| {
            let changed = s.wants_master != wants || s.own_fault != own;
            s.wants_master = wants;
            s.own_fault = own;
            changed
        });
    }

    /// The first burst of announcements now, the second after
    /// `garp_master_delay`, and the refresh timer armed.
    fn announce(&mut self) {
        let garp = self.config.garp;
        self.io.announce(&self.vips(), garp.repeat, 0);
        self.second_burst_at = (!garp.delay.is_zero()).then(|| Instant::now() + garp.delay);
        self.refresh_at = (!garp.refresh.is_zero()).then(|| Instant::now() + garp.refresh);
    }

    /// Stops announcing: the VIPs are going, or gone.
    fn stop_announcing(&mut self) {
        self.second_burst_at = None;
        self.refresh_at = None;
    }

    async fn execute(&mut self, actions: Vec<Action>) {
        self.publish_group_view();
        for action in actions {
            match action {
                Action::SendAdvert { priority } => {
                    let advert = self.advert(priority);
                    let src = self.io.src();
                    for dst in self.io.destinations() {
                        let payload = advert.encode(src, dst, V3Checksum::WithPseudoHeader);
                        if let Err(e) = self.io.send(&payload, dst).await {
                            warn!(error = %e, %dst, "VRRP advert not sent");
                        }
                    }
                }
                Action::TakeVips => {
                    let vips = self.config.virtual_ipaddresses.clone();
                    match self.io.add_vips(&vips).await {
                        Ok(_) => self.announce(),
                        Err(e) => warn!(error = %e, "cannot add the VIPs"),
                    }
                }
                Action::AnnounceVips => self.announce(),
                Action::ReleaseVips => {
                    self.stop_announcing();
                    let vips = self.config.virtual_ipaddresses.clone();
                    if let Err(e) = self.io.remove_vips(&vips).await {
                        warn!(error = %e, "cannot remove the VIPs");
                    }
                }
                Action::Transition { from, to } => {
                    let priority = self.machine.priority();
                    info!(
                        vrid = self.config.virtual_router_id,
                        %from,
                        %to,
                        priority,
                        "VRRP transition"
                    );
                    self.status.send_modify(|s| {
                        s.state = to;
                        s.priority = priority;
                        s.transitions += 1;
                        if to == VrrpState::Master {
                            s.master = None;
                        }
                    });
                    let notify = &self.config.notify;
                    let script = match to {
                        VrrpState::Master => notify.master.clone(),
                        VrrpState::Backup => notify.backup.clone(),
                        VrrpState::Fault => notify.fault.clone(),
                        VrrpState::Initialize => None,
                    };
                    if let Some(script) = script {
                        self.io.notify(script);
                    }
                }
            }
        }
    }
}

fn interval_of(a: &Advert) -> Duration {
    match a.version {
        VrrpVersion::V2 => Duration::from_secs(u64::from(a.interval)),
        VrrpVersion::V3 => Duration::from_millis(u64::from(a.interval) * 10),
    }
}

/// Runs the codec on one datagram of either family.
fn decode(buf: &[u8], d: Datagram, expect: &Expect) -> Result<packet::Received, Reject> {
    match d {
        Datagram::V4 { len } => packet::decode_ipv4_packet(&buf[..len.min(buf.len())], expect),
        Datagram::V6 {
            len,
            src,
            dst,
            hop_limit,
        } => packet::decode_ipv6_payload(&buf[..len.min(buf.len())], src, dst, hop_limit, expect),
    }
}
