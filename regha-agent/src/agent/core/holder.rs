//! Who may hold a VIP on this host. Each VIP has exactly one holder, and
//! the holder alone decides whether this host holds it: a static role, or a
//! VRRP instance's election (one holder per instance: several instances
//! are several holders; those in one sync group are coordinated by the
//! core, `sync.rs`). [`VipHolder`] is the interface a further way of
//! holding a VIP implements (a routing announcement: it would announce a
//! route instead of adding an address, from the same health view); the
//! core only starts, reconfigures, informs and stops holders, and reads
//! their status.
//!
//! A holder is pure: its methods return the [`Effect`]s that carry its
//! decisions out (adding addresses, starting a VRRP instance), which the
//! agent's shell runs.

use std::fmt::Debug;

use regha_model::{Role, VirtualRouter, VrrpState};

use super::Effect;
use super::bgp::BgpHolder;
use crate::{
    admin::AdminError,
    net::Vip,
    status::{BgpVipStatus, HolderKind, VrrpInstanceStatus},
    vrrp::{VrrpStatus, state::SyncCommand},
};
use regha_config::{BgpConfig, Config, VrrpConfig};

/// What a holder is configured with: its part of the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderSpec {
    /// A fixed role for these VIPs.
    Static { role: Role, vips: Vec<Vip> },
    /// A VRRP instance decides.
    Vrrp(Box<VrrpConfig>),
    /// The VIP is announced as a route (`bgp:`), see `bgp.rs`.
    Bgp {
        vip: std::net::IpAddr,
        config: BgpConfig,
    },
}

impl HolderSpec {
    pub fn kind(&self) -> HolderKind {
        match self {
            Self::Static { .. } => HolderKind::Static,
            Self::Vrrp(v) => HolderKind::vrrp(v.router()),
            Self::Bgp { vip, .. } => HolderKind::Bgp { vip: *vip },
        }
    }

    /// A new holder for this spec, not started.
    pub fn build(&self) -> Box<dyn VipHolder> {
        match self {
            Self::Static { role, vips } => Box::new(StaticHolder {
                role: *role,
                vips: vips.clone(),
            }),
            Self::Vrrp(config) => Box::new(VrrpHolder::new((**config).clone())),
            Self::Bgp { vip, config } => Box::new(BgpHolder::new(*vip, config.clone())),
        }
    }
}

/// The holders a config asks for. Each VIP of `bgp.vips` is announced by
/// its own holder, whatever else is set. A static role given on the
/// command line (`--role`) takes every other VIP away from VRRP; otherwise
/// each `vrrp` instance holds its virtual addresses, and without any
/// `role:` holds the services' VIPs.
pub fn holders_for(config: &Config, role_override: Option<Role>) -> Vec<HolderSpec> {
    let mut out: Vec<HolderSpec> = (config.bgp.iter())
        .flat_map(|b| {
            b.vips.iter().map(|vip| HolderSpec::Bgp {
                vip: *vip,
                config: b.clone(),
            })
        })
        .collect();
    let others = all_vips(config);
    let bgp_only = config.bgp.is_some() && config.vrrp.is_empty() && config.role.is_none();
    if (bgp_only && role_override.is_none()) || others.is_empty() {
        return out;
    }
    out.extend(holders_without_bgp(config, role_override, others));
    out
}

fn holders_without_bgp(
    config: &Config,
    role_override: Option<Role>,
    others: Vec<Vip>,
) -> Vec<HolderSpec> {
    match role_override {
        None if !config.vrrp.is_empty() => config
            .vrrp
            .iter()
            .map(|v| HolderSpec::Vrrp(Box::new(v.clone())))
            .collect(),
        Some(role) => vec![HolderSpec::Static { role, vips: others }],
        None => vec![HolderSpec::Static {
            role: config.role.unwrap_or(Role::Backup),
            vips: others,
        }],
    }
}

/// The VIPs a master holds as addresses: every instance's virtual
/// addresses, or without VRRP the services' VIPs (as host addresses). Never
/// a VIP `bgp:` announces: that one is a route, not an address.
pub fn all_vips(config: &Config) -> Vec<Vip> {
    if !config.vrrp.is_empty() {
        return (config.vrrp.iter())
            .flat_map(|v| v.virtual_ipaddresses.iter().copied())
            .collect();
    }
    let announced =
        |ip: &std::net::IpAddr| config.bgp.as_ref().is_some_and(|b| b.vips.contains(ip));
    let mut out: Vec<Vip> = config
        .services
        .iter()
        .filter(|s| !announced(&s.vip))
        .map(|s| (s.vip, if s.vip.is_ipv4() { 32 } else { 128 }))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The holder's view for the status document.
#[derive(Clone, Debug, PartialEq)]
pub enum HolderStatus {
    Static,
    Vrrp(VrrpInstanceStatus),
    Bgp(BgpVipStatus),
}

/// What a sync group reads of a member in the election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupView {
    pub state: VrrpState,
    pub wants_master: bool,
    pub own_fault: bool,
}

/// One way of holding a set of VIPs. See the module notes.
pub trait VipHolder: Debug + Send {
    fn kind(&self) -> HolderKind;
    fn vips(&self) -> &[Vip];
    /// Whether this host holds the VIPs now.
    fn holds(&self) -> bool;
    /// Starts holding (at agent start, or when a reload adds the holder).
    fn start(&mut self) -> Vec<Effect>;
    /// Stops: afterwards this host holds none of the VIPs.
    fn stop(&mut self) -> Vec<Effect>;
    /// A reload: the effects that apply `spec` in place, or `None` when the
    /// change needs a new holder (the core then stops this one and starts
    /// the new one).
    fn reconfigure(&mut self, spec: &HolderSpec) -> Option<Vec<Effect>>;
    /// The number of backends up (over all services) changed.
    fn backends_up(&mut self, up: u32) -> Vec<Effect>;
    /// Whether the agent's health view is settled (see `settle.rs`); told
    /// at every reconcile. An unsettled host does not take a VIP from a
    /// peer that holds it.
    fn settled(&mut self, _settled: bool) -> Vec<Effect> {
        Vec::new()
    }
    /// What the running mechanism reported (a VRRP instance's status).
    fn report(&mut self, _report: &VrrpStatus) {}
    /// `vrrp resign`: leave now and stay out. `None`: not this holder's
    /// command.
    fn resign(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>> {
        None
    }
    /// `vrrp resume`: rejoin. `None`: not this holder's command.
    fn resume(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>> {
        None
    }
    fn status(&self) -> HolderStatus;
    /// The name operators give it (`vrrp resign NAME`), if it has one.
    fn name(&self) -> Option<&str> {
        None
    }
    /// The sync group it fails over with, if any.
    fn sync_group(&self) -> Option<&str> {
        None
    }
    /// What its sync group reads; `None` while it is out of the election
    /// (not started, stopped, resigned).
    fn group_view(&self) -> Option<GroupView> {
        None
    }
    /// Carries out its sync group's decision.
    fn sync(&mut self, _command: SyncCommand) -> Vec<Effect> {
        Vec::new()
    }
    /// The warm-up after the start passed (`bgp.warmup`).
    fn warm(&mut self) -> Vec<Effect> {
        Vec::new()
    }
    /// Before the start: the shell found this holder's route in the kernel
    /// (an earlier run left it), to adopt rather than withdraw.
    fn found_route(&mut self) {}
    /// `regha-agent drain` (`true`) or `undrain`: the message and the
    /// effects; `None`: not this holder's command.
    fn drain(&mut self, _drained: bool) -> Option<(String, Vec<Effect>)> {
        None
    }
}

/// A fixed role: a master holds (and announces) its VIPs, a backup none.
#[derive(Debug)]
pub struct StaticHolder {
    role: Role,
    vips: Vec<Vip>,
}

fn ips(vips: &[Vip]) -> Vec<std::net::IpAddr> {
    vips.iter().map(|(ip, _)| *ip).collect()
}

impl VipHolder for StaticHolder {
    fn kind(&self) -> HolderKind {
        HolderKind::Static
    }

    fn vips(&self) -> &[Vip] {
        &self.vips
    }

    fn holds(&self) -> bool {
        self.role == Role::Master
    }

    fn start(&mut self) -> Vec<Effect> {
        match self.role {
            // Announced on every start, added or not: a crashed
            // predecessor may have left stale caches on the segment.
            Role::Master => vec![
                Effect::AddVips(self.vips.clone()),
                Effect::AnnounceVips(ips(&self.vips)),
            ],
            Role::Backup => vec![Effect::RemoveVips(self.vips.clone())],
        }
    }

    fn stop(&mut self) -> Vec<Effect> {
        vec![Effect::RemoveVips(self.vips.clone())]
    }

    fn reconfigure(&mut self, spec: &HolderSpec) -> Option<Vec<Effect>> {
        let HolderSpec::Static { role, vips } = spec else {
            return None;
        };
        let mut out = Vec::new();
        let gone: Vec<Vip> = (self.vips.iter())
            .filter(|v| !vips.contains(v) || *role == Role::Backup)
            .copied()
            .collect();
        if !gone.is_empty() {
            out.push(Effect::RemoveVips(gone));
        }
        if *role == Role::Master {
            let new: Vec<Vip> = (vips.iter())
                .filter(|v| self.role == Role::Backup || !self.vips.contains(v))
                .copied()
                .collect();
            if !new.is_empty() {
                out.push(Effect::AddVips(new.clone()));
                out.push(Effect::AnnounceVips(ips(&new)));
            }
        }
        self.role = *role;
        self.vips = vips.clone();
        Some(out)
    }

    fn backends_up(&mut self, _up: u32) -> Vec<Effect> {
        Vec::new()
    }

    fn status(&self) -> HolderStatus {
        HolderStatus::Static
    }
}

/// A VRRP instance: it runs as its own task (it adds and removes the VIPs
/// itself, in the order the protocol needs); this holder starts, informs
/// and stops it, and keeps what it reported.
#[derive(Debug)]
pub struct VrrpHolder {
    config: VrrpConfig,
    /// The instance's last report; kept while resigned (shown with
    /// priority 0).
    last: Option<VrrpStatus>,
    running: bool,
    resigned: bool,
    /// `track_backends`' condition as last sent to the instance.
    backends_ok: Option<bool>,
    /// The number of backends up, as last heard.
    up: Option<u32>,
    /// The sync group's fault as last sent to the instance.
    group_fault: Option<bool>,
    /// Whether the health view is settled, as last sent to the instance.
    settled: Option<bool>,
    /// A sync group's Master or Backup sent and not answered yet (no report
    /// since): not sent twice.
    pending: Option<SyncCommand>,
}

impl VrrpHolder {
    fn new(config: VrrpConfig) -> Self {
        Self {
            config,
            last: None,
            running: false,
            resigned: false,
            backends_ok: None,
            up: None,
            group_fault: None,
            settled: None,
            pending: None,
        }
    }

    fn router(&self) -> VirtualRouter {
        self.config.router()
    }

    /// Starts the instance, leaving any VIP a crash left behind first:
    /// the instance starts as backup and takes the VIPs only as master.
    fn run(&mut self) -> Vec<Effect> {
        self.running = true;
        self.backends_ok = None;
        self.group_fault = None;
        self.settled = None;
        self.pending = None;
        let mut out = vec![
            Effect::RemoveVips(self.config.virtual_ipaddresses.clone()),
            Effect::StartVrrp(self.config.clone()),
        ];
        if let Some(up) = self.up {
            out.extend(self.backends_up(up));
        }
        out
    }

    fn halt(&mut self) -> Vec<Effect> {
        self.running = false;
        vec![
            Effect::StopVrrp {
                router: self.router(),
            },
            Effect::RemoveVips(self.config.virtual_ipaddresses.clone()),
        ]
    }
}

impl VipHolder for VrrpHolder {
    fn kind(&self) -> HolderKind {
        HolderKind::vrrp(self.router())
    }

    fn vips(&self) -> &[Vip] {
        &self.config.virtual_ipaddresses
    }

    fn holds(&self) -> bool {
        self.running
            && self
                .last
                .as_ref()
                .is_some_and(|s| s.state == VrrpState::Master)
    }

    fn start(&mut self) -> Vec<Effect> {
        self.run()
    }

    fn stop(&mut self) -> Vec<Effect> {
        if !self.running {
            return vec![Effect::RemoveVips(self.config.virtual_ipaddresses.clone())];
        }
        self.halt()
    }

    fn reconfigure(&mut self, spec: &HolderSpec) -> Option<Vec<Effect>> {
        let HolderSpec::Vrrp(new) = spec else {
            return None;
        };
        let owner = |c: &VrrpConfig| c.priority == crate::vrrp::state::PRIORITY_OWNER;
        if new.router() != self.config.router()
            || new.version != self.config.version
            || owner(new) != owner(&self.config)
        {
            return None;
        }
        let new: &VrrpConfig = new;
        if *new == self.config {
            return Some(Vec::new());
        }
        let mut out = Vec::new();
        let had_tracking = self.config.track_backends;
        if new.sync_group != self.config.sync_group {
            // Out of its old group, or into a new one: its group's fault
            // is decided afresh.
            self.group_fault = None;
        }
        self.config = new.clone();
        if self.running {
            out.push(Effect::ReconfigureVrrp(new.clone()));
            if had_tracking != new.track_backends {
                self.backends_ok = None;
                if let Some(up) = self.up {
                    out.extend(self.backends_up(up));
                }
            }
        }
        Some(out)
    }

    fn backends_up(&mut self, up: u32) -> Vec<Effect> {
        self.up = Some(up);
        let Some(track) = self.config.track_backends else {
            return Vec::new();
        };
        let ok = up >= track.min_healthy;
        if !self.running || self.backends_ok == Some(ok) {
            return Vec::new();
        }
        self.backends_ok = Some(ok);
        vec![Effect::TrackBackends {
            router: self.router(),
            ok,
        }]
    }

    fn settled(&mut self, settled: bool) -> Vec<Effect> {
        if !self.running || self.settled == Some(settled) {
            return Vec::new();
        }
        self.settled = Some(settled);
        vec![Effect::SettleVrrp {
            router: self.router(),
            settled,
        }]
    }

    fn report(&mut self, report: &VrrpStatus) {
        // A changed state or wish answers a sync group's command.
        let view = |s: &VrrpStatus| (s.state, s.transitions, s.wants_master);
        if self.last.as_ref().map(view) != Some(view(report)) {
            self.pending = None;
        }
        // A stopped instance's last report (its Initialize) counts too: the
        // shell hands it over after the stop.
        self.last = Some(report.clone());
    }

    fn resign(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>> {
        if self.resigned {
            return Some(Ok((
                "already resigned: `regha-agent vrrp resume` rejoins".to_owned(),
                Vec::new(),
            )));
        }
        let was = self
            .last
            .as_ref()
            .map_or(VrrpState::Initialize, |s| s.state);
        self.resigned = true;
        let effects = self.halt();
        Some(Ok((
            format!(
                "resigned (was {}): VIPs released{}, out of the election until `regha-agent vrrp resume` or a restart",
                was.role(),
                if was == VrrpState::Master {
                    " and priority 0 advertised"
                } else {
                    ""
                }
            ),
            effects,
        )))
    }

    fn resume(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>> {
        if !self.resigned {
            return Some(Ok((
                "not resigned: nothing to resume".to_owned(),
                Vec::new(),
            )));
        }
        self.resigned = false;
        self.last = None;
        Some(Ok((
            "resumed: back in the election as backup".to_owned(),
            self.run(),
        )))
    }

    fn name(&self) -> Option<&str> {
        Some(&self.config.name)
    }

    fn sync_group(&self) -> Option<&str> {
        self.config.sync_group.as_deref()
    }

    fn group_view(&self) -> Option<GroupView> {
        if !self.running {
            return None;
        }
        let last = self.last.as_ref();
        Some(GroupView {
            state: last.map_or(VrrpState::Initialize, |s| s.state),
            wants_master: last.is_some_and(|s| s.wants_master),
            own_fault: last.is_some_and(|s| s.own_fault),
        })
    }

    fn sync(&mut self, command: SyncCommand) -> Vec<Effect> {
        if !self.running {
            return Vec::new();
        }
        match command {
            SyncCommand::Fault(fault) => {
                if self.group_fault == Some(fault) || (self.group_fault.is_none() && !fault) {
                    return Vec::new();
                }
                self.group_fault = Some(fault);
            }
            SyncCommand::Master | SyncCommand::Backup => {
                if self.pending == Some(command) {
                    return Vec::new();
                }
                self.pending = Some(command);
            }
        }
        vec![Effect::SyncVrrp {
            router: self.router(),
            command,
        }]
    }

    fn status(&self) -> HolderStatus {
        let last = self
            .last
            .clone()
            .unwrap_or_else(|| VrrpStatus::initial(self.config.priority));
        // Resigned: the stopped instance's last word, advertising nothing.
        let (priority, master) = if self.resigned {
            (0, None)
        } else {
            (last.priority, last.master)
        };
        HolderStatus::Vrrp(VrrpInstanceStatus {
            name: self.config.name.clone(),
            vrid: self.config.virtual_router_id,
            family: self.config.family(),
            sync_group: self.config.sync_group.clone(),
            state: last.state,
            priority,
            configured_priority: self.config.priority,
            master,
            peers: self.config.unicast_peers.clone(),
            transitions: last.transitions,
            rejected: last
                .rejected
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            resigned: self.resigned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(config: &str, role: Option<Role>) -> Vec<String> {
        let config = Config::from_yaml_str(config).expect("valid");
        holders_for(&config, role)
            .iter()
            .map(|h| match h {
                HolderSpec::Static { role, vips } => format!("static {role:?} {vips:?}"),
                HolderSpec::Vrrp(v) => format!("vrrp {}", v.name),
                HolderSpec::Bgp { vip, .. } => format!("bgp {vip}"),
            })
            .collect()
    }

    const SERVICES: &str = "services:
  - { name: a, vip: 192.0.2.100, port: 80, backends: [{ address: 192.0.2.11 }] }
  - { name: b, vip: 203.0.113.10, port: 80, backends: [{ address: 192.0.2.11 }] }
";

    /// One holder per VIP: bgp's VIPs are announced whatever else decides
    /// the others, and never held as an address by a static role.
    #[test]
    fn each_vip_has_one_holder_bgp_beside_vrrp_or_a_role() {
        let both = format!(
            "interface: eth0\nvrrp: {{ virtual_router_id: 51, virtual_ipaddresses: [192.0.2.100] }}\nbgp: {{}}\n{SERVICES}"
        );
        assert_eq!(kinds(&both, None), ["bgp 203.0.113.10", "vrrp VI_51"]);
        let only = "interface: eth0\nbgp: { frr: null }\nservices:\n  - { name: b, vip: 203.0.113.10, port: 80, backends: [{ address: 192.0.2.11 }] }\n";
        assert_eq!(kinds(only, None), ["bgp 203.0.113.10"]);
        let with_role =
            format!("interface: eth0\nrole: master\nbgp: {{ vips: [203.0.113.10] }}\n{SERVICES}");
        assert_eq!(
            kinds(&with_role, None),
            ["bgp 203.0.113.10", "static Master [(192.0.2.100, 32)]"]
        );
        // --role takes the others from VRRP, never bgp's.
        assert_eq!(
            kinds(&both, Some(Role::Backup)),
            ["bgp 203.0.113.10", "static Backup [(192.0.2.100, 32)]"]
        );
    }
}
