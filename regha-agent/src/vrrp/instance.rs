//! One VRRP instance as a tokio task: the state machine (`state.rs`) fed by
//! the socket (`network.rs`, decoded by `packet.rs`), its timer, priority
//! changes (tracking) and shutdown; its actions carried out in order. It
//! owns the VIPs while it runs: advertisement first, then VIPs, then
//! gratuitous ARPs when taking over; VIPs removed before anything else when
//! leaving.
//!
//! ```text
//!  socket --advert--> +---------+ --SendAdvert--> socket
//!  timer  ----------> | Machine | --TakeVips----> netlink add + GARP/NA
//!  TrackState -------> |         | --ReleaseVips-> netlink remove
//!  shutdown --------> +---------+ --Transition--> state (watch), notify script
//!     ^
//!     +-- backend condition (watch, from the agent)
//!     +-- tracked scripts, link events (mpsc, from trackers.rs)
//! ```
//!
//! Every tracking input updates the pure `TrackState`; when the resulting
//! effective priority (or FAULT) differs from the last one fed to the
//! machine, the machine gets `SetPriority` and/or `Fault`.

use regha_config::VrrpConfig;
use regha_model::{Role, VrrpState, VrrpVersion};
use std::{
    collections::HashMap,
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use rtnetlink::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::{
    network::{Datagram, Destination, VrrpSocket},
    packet::{self, Advert, Expect, Reject, V3Checksum},
    state::{Action, Event, Machine, Params},
    track::TrackState,
    trackers::{self, TrackEvent},
};
use crate::{agent::role, net::Interface};

/// What the agent learns from the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpStatus {
    pub state: VrrpState,
    pub priority: u8,
    pub master: Option<IpAddr>,
    pub transitions: u64,
    pub rejected: HashMap<&'static str, u64>,
}

/// The tracking input: the effective priority, or fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracked {
    Priority(u8),
    Fault,
}

pub struct InstanceHandle {
    pub status: watch::Receiver<VrrpStatus>,
    /// `track_backends`' condition ("at least min_healthy are up"), as the
    /// agent computes it; ignored without `track_backends`.
    pub backends_ok: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl InstanceHandle {
    /// Stops the instance (a master releases its VIPs, then sends priority 0)
    /// and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// The address adverts come from when `unicast_src` is not set: for IPv4
/// VIPs the interface's primary IPv4 address, for IPv6 VIPs its link-local
/// address (RFC 5798 section 5.1.2.1), waited for while DAD runs.
pub async fn source_address(
    handle: &Handle,
    iface: &Interface,
    config: &VrrpConfig,
) -> anyhow::Result<IpAddr> {
    use anyhow::Context;
    if let Some(src) = config.unicast_src {
        return Ok(src);
    }
    let vips: Vec<IpAddr> = config
        .virtual_ipaddresses
        .iter()
        .map(|(ip, _)| *ip)
        .collect();
    if vips.first().is_some_and(IpAddr::is_ipv6) {
        let ll = super::network::link_local_v6(handle, iface.index, Duration::from_secs(5))
            .await?
            .with_context(|| {
                format!(
                    "{} has no usable IPv6 link-local address to send VRRP adverts from",
                    iface.name
                )
            })?;
        return Ok(IpAddr::V6(ll));
    }
    let primary = iface.primary_ipv4(handle, &vips).await?.with_context(|| {
        format!(
            "{} has no IPv4 address to send VRRP adverts from",
            iface.name
        )
    })?;
    Ok(IpAddr::V4(primary))
}

/// Starts the instance, sending from `src` (see [`source_address`]); its
/// family is the VIPs'.
pub fn start(
    config: VrrpConfig,
    iface: Interface,
    handle: Handle,
    src: IpAddr,
    notify_stop: Option<PathBuf>,
) -> std::io::Result<InstanceHandle> {
    let dst = if config.unicast_peers.is_empty() {
        Destination::Multicast
    } else {
        Destination::Unicast(config.unicast_peers.clone())
    };
    let socket = VrrpSocket::open(&iface.name, iface.index, src, dst)?;
    let params = Params {
        version: config.version,
        priority: config.priority,
        advert_interval: config.advert_interval,
        preempt: config.preempt,
        preempt_delay: config.preempt_delay,
        primary_addr: src,
    };
    let status = VrrpStatus {
        state: VrrpState::Initialize,
        priority: config.priority,
        master: None,
        transitions: 0,
        rejected: HashMap::new(),
    };
    let (status_tx, status_rx) = watch::channel(status);
    let (backends_tx, backends_rx) = watch::channel(true);
    let (track_tx, track_rx) = mpsc::unbounded_channel();
    let mut links: Vec<String> = config
        .track_interfaces
        .iter()
        .map(|t| t.name.clone())
        .collect();
    links.push(iface.name.clone());
    for s in &config.track_scripts {
        info!(script = %s.name, command = %trackers::command_line(s), weight = s.weight, "tracking a script");
    }
    let trackers = trackers::start(&config.track_scripts, links, track_tx)?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let instance = Instance {
        announcing: None,
        refresh_at: None,
        track: TrackState::new(&config, &iface.name),
        applied: Tracked::Priority(config.priority),
        _trackers: trackers,
        machine: Machine::new(params),
        socket,
        config,
        iface,
        handle,
        status: status_tx,
        notify_stop,
    };
    let task = tokio::spawn(instance.run(backends_rx, track_rx, stop_rx));
    Ok(InstanceHandle {
        status: status_rx,
        backends_ok: backends_tx,
        stop: Some(stop_tx),
        task,
    })
}

struct Instance {
    /// The running announcement (first burst, delay, second burst): aborted
    /// when the VIPs are released.
    announcing: Option<tokio::task::JoinHandle<()>>,
    /// When a master next re-announces (`garp_master_refresh`); `None`
    /// when not master or refresh is off.
    refresh_at: Option<Instant>,
    track: TrackState,
    /// The tracking result the machine last got.
    applied: Tracked,
    _trackers: trackers::Trackers,
    machine: Machine,
    socket: VrrpSocket,
    config: VrrpConfig,
    iface: Interface,
    handle: Handle,
    status: watch::Sender<VrrpStatus>,
    notify_stop: Option<PathBuf>,
}

impl Instance {
    fn expect(&self) -> Expect {
        Expect {
            version: self.config.version,
            vrid: self.config.virtual_router_id,
            interval_s: match self.config.version {
                VrrpVersion::V2 => Some(self.config.advert_interval.as_secs() as u16),
                VrrpVersion::V3 => None,
            },
            auth: self.config.auth_pass.as_deref().map(packet::auth_bytes),
            family_v6: self.socket.src().is_ipv6(),
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
            addrs: self
                .config
                .virtual_ipaddresses
                .iter()
                .map(|(ip, _)| *ip)
                .collect(),
            auth: self.config.auth_pass.as_deref().map(packet::auth_bytes),
        }
    }

    async fn run(
        mut self,
        mut backends: watch::Receiver<bool>,
        mut track_rx: mpsc::UnboundedReceiver<TrackEvent>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let expect = self.expect();
        let mut buf = vec![0u8; 2048];
        self.retrack().await;
        let start = self.machine.handle(Event::Startup, Instant::now());
        self.execute(start).await;
        loop {
            let deadline = self.machine.deadline();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let event = tokio::select! {
                biased;
                _ = &mut stop => break,
                r = self.socket.recv(&mut buf) => match r {
                    Ok(d) => match decode(&buf, d, &expect) {
                        Ok(rx) => {
                            if rx.src == self.socket.src() {
                                continue; // our own advert looped back
                            }
                            if let Err(reason) = packet::accept_source(rx.src, &self.config.unicast_peers) {
                                debug!(reason = reason.name(), src = %rx.src, "VRRP packet rejected");
                                self.status.send_modify(|s| *s.rejected.entry(reason.name()).or_insert(0) += 1);
                                continue;
                            }
                            self.check_addresses(&rx.advert);
                            Some(Event::Advert {
                                from: rx.src,
                                priority: rx.advert.priority,
                                interval: self.interval_of(&rx.advert),
                            })
                        }
                        Err(Reject::OtherVrid) | Err(Reject::NotVrrp) => None,
                        Err(reason) => {
                            debug!(reason = reason.name(), "VRRP packet rejected");
                            self.status.send_modify(|s| *s.rejected.entry(reason.name()).or_insert(0) += 1);
                            None
                        }
                    },
                    Err(e) => {
                        warn!(error = %e, "VRRP receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        None
                    }
                },
                () = sleep => Some(Event::Timer),
                () = sleep_until(self.refresh_at) => {
                    self.refresh();
                    None
                }
                r = backends.changed() => {
                    if r.is_ok() {
                        let ok = *backends.borrow_and_update();
                        self.track.set_backends(ok);
                    }
                    self.retrack().await;
                    None
                }
                Some(ev) = track_rx.recv() => {
                    match ev {
                        TrackEvent::Script { index, success } => {
                            if let Some(ok) = self.track.script_ran(index, success) {
                                let name = self.config.track_scripts.get(index).map(|s| s.name.as_str());
                                info!(script = name, ok, "tracked script changed");
                            }
                        }
                        TrackEvent::Link { name, up } => self.track.link(&name, up),
                    }
                    self.retrack().await;
                    None
                }
            };
            if let Some(event) = event {
                let from = match &event {
                    Event::Advert { from, .. } => Some(*from),
                    _ => None,
                };
                let actions = self.machine.handle(event, Instant::now());
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
        let actions = self.machine.handle(Event::Shutdown, Instant::now());
        self.execute(actions).await;
        if let Some(script) = self.notify_stop.take() {
            run_notify(script);
        }
    }

    /// Feeds the machine the tracking result if it changed: the priority
    /// first, so that leaving FAULT starts with the right one.
    async fn retrack(&mut self) {
        let now = self.track.tracked();
        if now == self.applied {
            return;
        }
        info!(vrid = self.config.virtual_router_id, from = ?self.applied, to = ?now, "tracking changed the priority");
        self.applied = now;
        let mut actions = Vec::new();
        match now {
            Tracked::Fault => {
                actions.extend(self.machine.handle(Event::Fault(true), Instant::now()))
            }
            Tracked::Priority(p) => {
                actions.extend(self.machine.handle(Event::SetPriority(p), Instant::now()));
                actions.extend(self.machine.handle(Event::Fault(false), Instant::now()));
            }
        }
        self.status
            .send_modify(|s| s.priority = self.machine.priority());
        self.execute(actions).await;
    }

    fn interval_of(&self, a: &Advert) -> Duration {
        match a.version {
            VrrpVersion::V2 => Duration::from_secs(u64::from(a.interval)),
            VrrpVersion::V3 => Duration::from_millis(u64::from(a.interval) * 10),
        }
    }

    fn check_addresses(&self, a: &Advert) {
        let ours: Vec<IpAddr> = self
            .config
            .virtual_ipaddresses
            .iter()
            .map(|(ip, _)| *ip)
            .collect();
        let mut theirs = a.addrs.clone();
        theirs.sort_unstable();
        let mut sorted = ours;
        sorted.sort_unstable();
        if theirs != sorted {
            debug!(?theirs, ours = ?sorted, "advert's address list differs from ours (RFC: log, not fatal)");
        }
    }

    fn vips(&self) -> Vec<IpAddr> {
        self.config
            .virtual_ipaddresses
            .iter()
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// Gratuitous ARP / unsolicited NA bursts for every VIP (replacing a
    /// burst still pending), and the refresh timer armed.
    fn announce(&mut self) {
        if let Some(t) = self.announcing.take() {
            t.abort();
        }
        let task = role::announce_with(self.iface.clone(), self.vips(), self.config.garp);
        self.announcing = Some(task);
        let refresh = self.config.garp.refresh;
        self.refresh_at = (!refresh.is_zero()).then(|| Instant::now() + refresh);
    }

    /// `garp_master_refresh` came round: announce again, re-arm.
    fn refresh(&mut self) {
        let garp = self.config.garp;
        role::send_burst(&self.iface, &self.vips(), garp.refresh_repeat, 0);
        self.refresh_at = Some(Instant::now() + garp.refresh);
    }

    /// Stops announcing: the VIPs are going, or gone.
    fn stop_announcing(&mut self) {
        if let Some(t) = self.announcing.take() {
            t.abort();
        }
        self.refresh_at = None;
    }

    async fn execute(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert { priority } => {
                    let advert = self.advert(priority);
                    for dst in self.socket.destinations() {
                        let payload =
                            advert.encode(self.socket.src(), dst, V3Checksum::WithPseudoHeader);
                        if let Err(e) = self.socket.send(&payload, dst).await {
                            warn!(error = %e, %dst, "VRRP advert not sent");
                        }
                    }
                }
                Action::TakeVips => {
                    match role::apply(
                        &self.handle,
                        &self.iface,
                        &self.config.virtual_ipaddresses,
                        Role::Master,
                    )
                    .await
                    {
                        Ok(_) => self.announce(),
                        Err(e) => warn!(error = %e, "cannot add the VIPs"),
                    }
                }
                Action::AnnounceVips => self.announce(),
                Action::ReleaseVips => {
                    self.stop_announcing();
                    if let Err(e) = role::apply(
                        &self.handle,
                        &self.iface,
                        &self.config.virtual_ipaddresses,
                        Role::Backup,
                    )
                    .await
                    {
                        warn!(error = %e, "cannot remove the VIPs");
                    }
                }
                Action::Transition { from, to } => {
                    info!(
                        vrid = self.config.virtual_router_id,
                        ?from,
                        ?to,
                        priority = self.machine.priority(),
                        "VRRP transition"
                    );
                    let priority = self.machine.priority();
                    self.status.send_modify(|s| {
                        s.state = to;
                        s.priority = priority;
                        s.transitions += 1;
                        if to == VrrpState::Master {
                            s.master = None;
                        }
                    });
                    let script = match to {
                        VrrpState::Master => self.config.notify.master.clone(),
                        VrrpState::Backup => self.config.notify.backup.clone(),
                        VrrpState::Fault => self.config.notify.fault.clone(),
                        VrrpState::Initialize => None,
                    };
                    if let Some(script) = script {
                        run_notify(script);
                    }
                }
            }
        }
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

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Runs a notify script without blocking the state machine, killed after 10 s.
fn run_notify(script: PathBuf) {
    tokio::spawn(async move {
        // No shell and no arguments: the path as configured, run directly.
        let mut child = match tokio::process::Command::new(&script)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                warn!(script = %script.display(), error = %e, "notify script did not start");
                return;
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(Ok(st)) if st.success() => {}
            Ok(Ok(st)) => warn!(script = %script.display(), status = %st, "notify script failed"),
            Ok(Err(e)) => warn!(script = %script.display(), error = %e, "notify script"),
            Err(_) => warn!(script = %script.display(), "notify script killed after 10 s"),
        }
    });
}
