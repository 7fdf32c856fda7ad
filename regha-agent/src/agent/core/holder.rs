//! Who may hold a VIP on this host. Each VIP has exactly one holder, and
//! the holder alone decides whether this host holds it: a static role, or a
//! VRRP instance's election. [`VipHolder`] is the interface a further way of
//! holding a VIP implements (a routing announcement: it would announce a
//! route instead of adding an address, from the same health view); the
//! core only starts, reconfigures, informs and stops holders, and reads
//! their status.
//!
//! A holder is pure: its methods return the [`Effect`]s that carry its
//! decisions out (adding addresses, starting a VRRP instance), which the
//! agent's shell runs.

use std::fmt::Debug;

use regha_model::{Role, VrrpState};

use super::Effect;
use crate::{
    admin::AdminError,
    net::Vip,
    status::{HolderKind, VrrpInstanceStatus},
    vrrp::VrrpStatus,
};
use regha_config::{Config, VrrpConfig};

/// What a holder is configured with: its part of the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderSpec {
    /// A fixed role for these VIPs.
    Static { role: Role, vips: Vec<Vip> },
    /// A VRRP instance decides.
    Vrrp(Box<VrrpConfig>),
}

impl HolderSpec {
    pub fn kind(&self) -> HolderKind {
        match self {
            Self::Static { .. } => HolderKind::Static,
            Self::Vrrp(v) => HolderKind::Vrrp {
                vrid: v.virtual_router_id,
            },
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
        }
    }
}

/// The holders a config asks for. A static role given on the command line
/// (`--role`) takes every VIP away from VRRP; otherwise the `vrrp` section
/// holds its virtual addresses, and without it `role:` holds the services'
/// VIPs.
pub fn holders_for(config: &Config, role_override: Option<Role>) -> Vec<HolderSpec> {
    match (role_override, &config.vrrp) {
        (None, Some(v)) => vec![HolderSpec::Vrrp(Box::new(v.clone()))],
        (Some(role), _) => vec![HolderSpec::Static {
            role,
            vips: all_vips(config),
        }],
        (None, None) => vec![HolderSpec::Static {
            role: config.role.unwrap_or(Role::Backup),
            vips: all_vips(config),
        }],
    }
}

/// The VIPs a master holds: VRRP's virtual addresses, or without VRRP the
/// services' VIPs (as host addresses).
pub fn all_vips(config: &Config) -> Vec<Vip> {
    if let Some(v) = &config.vrrp {
        return v.virtual_ipaddresses.clone();
    }
    let mut out: Vec<Vip> = config
        .services
        .iter()
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
    /// What the running mechanism reported.
    fn report(&mut self, report: &VrrpStatus);
    /// `vrrp resign`: leave now and stay out. `None`: not this holder's
    /// command.
    fn resign(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>>;
    /// `vrrp resume`: rejoin. `None`: not this holder's command.
    fn resume(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>>;
    fn status(&self) -> HolderStatus;
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

    fn report(&mut self, _report: &VrrpStatus) {}

    fn resign(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>> {
        None
    }

    fn resume(&mut self) -> Option<Result<(String, Vec<Effect>), AdminError>> {
        None
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
        }
    }

    fn vrid(&self) -> u8 {
        self.config.virtual_router_id
    }

    /// Starts the instance, leaving any VIP a crash left behind first:
    /// the instance starts as backup and takes the VIPs only as master.
    fn run(&mut self) -> Vec<Effect> {
        self.running = true;
        self.backends_ok = None;
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
            Effect::StopVrrp { vrid: self.vrid() },
            Effect::RemoveVips(self.config.virtual_ipaddresses.clone()),
        ]
    }
}

impl VipHolder for VrrpHolder {
    fn kind(&self) -> HolderKind {
        HolderKind::Vrrp { vrid: self.vrid() }
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
        let family = |c: &VrrpConfig| c.virtual_ipaddresses.first().map(|(ip, _)| ip.is_ipv4());
        let owner = |c: &VrrpConfig| c.priority == crate::vrrp::state::PRIORITY_OWNER;
        if new.virtual_router_id != self.config.virtual_router_id
            || new.version != self.config.version
            || family(new) != family(&self.config)
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
            vrid: self.vrid(),
            ok,
        }]
    }

    fn report(&mut self, report: &VrrpStatus) {
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

    fn status(&self) -> HolderStatus {
        let last = self.last.clone().unwrap_or(VrrpStatus {
            state: VrrpState::Initialize,
            priority: self.config.priority,
            master: None,
            transitions: 0,
            rejected: Default::default(),
        });
        // Resigned: the stopped instance's last word, advertising nothing.
        let (priority, master) = if self.resigned {
            (0, None)
        } else {
            (last.priority, last.master)
        };
        HolderStatus::Vrrp(VrrpInstanceStatus {
            vrid: self.vrid(),
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
