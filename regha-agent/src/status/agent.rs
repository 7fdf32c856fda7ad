//! What the running agent knows and the maps cannot say: names, health
//! detail, who holds each VIP, the VRRP instances. Built by the agent's core
//! after every step and written to the state file.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
};

use regha_model::{
    AdminState, BackendState, Health, IpFamily, Mac, Protocol, Role, VirtualRouter, VrrpState,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AgentStatus {
    pub pid: u32,
    pub iface: String,
    /// `master` while this host holds any VIP.
    pub role: Role,
    /// Every VIP, who decides whether this host holds it, and whether it does.
    pub vips: Vec<VipStatus>,
    pub uptime_s: u64,
    pub services: Vec<ServiceStatus>,
    /// The VRRP instances (empty without VRRP, or with a static `--role`).
    #[serde(default)]
    pub vrrp: Vec<VrrpInstanceStatus>,
    /// Ring swaps since the agent started, and how long the last one took.
    #[serde(default)]
    pub ring_swaps: u64,
    #[serde(default)]
    pub last_ring_swap_s: Option<f64>,
    /// Whether this host's health view is settled: every check decided,
    /// none changed for a check interval, no write pending. An unsettled
    /// host does not take a VIP from a peer (`agent/core/settle.rs`).
    #[serde(default)]
    pub settled: bool,
    /// Flow sync with the peer LBs (`flow_sync:`), when it is on.
    #[serde(default)]
    pub flow_sync: Option<crate::flowsync::FlowSyncStatus>,
    /// The VIPs announced as routes (`bgp:`); empty without.
    #[serde(default)]
    pub bgp: Vec<BgpVipStatus>,
    /// The routing daemon's BGP and BFD sessions as FRR shows them (the
    /// shell fills it in; `bgp.frr`).
    #[serde(default)]
    pub routing: Option<crate::bgp::RoutingStatus>,
}

/// What decides whether this host holds a VIP.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HolderKind {
    /// A static role (`role:` or `--role`).
    Static,
    /// A VRRP instance, by its virtual router (VRID and family). A state
    /// file written before instances had a family says IPv4.
    Vrrp {
        vrid: u8,
        #[serde(default = "ipv4")]
        family: IpFamily,
    },
    /// Announced as a route through a routing daemon (`bgp:`).
    Bgp { vip: IpAddr },
}

fn ipv4() -> IpFamily {
    IpFamily::Ipv4
}

impl HolderKind {
    pub fn vrrp(router: VirtualRouter) -> Self {
        Self::Vrrp {
            vrid: router.vrid,
            family: router.family,
        }
    }

    /// The virtual router of a VRRP holder.
    pub fn router(self) -> Option<VirtualRouter> {
        match self {
            Self::Static | Self::Bgp { .. } => None,
            Self::Vrrp { vrid, family } => Some(VirtualRouter { family, vrid }),
        }
    }
}

impl std::fmt::Display for HolderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static => f.write_str("static role"),
            Self::Vrrp { vrid, family } => write!(f, "VRRP {vrid}/{family}"),
            Self::Bgp { .. } => f.write_str("BGP"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VipStatus {
    pub address: IpAddr,
    pub prefix: u8,
    pub holder: HolderKind,
    /// Whether this host holds it now.
    pub held: bool,
}

impl std::fmt::Display for VipStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A VIP `bgp:` announces: whether its route is in the kernel (and so,
/// through the routing daemon, at the router), and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BgpVipStatus {
    pub vip: IpAddr,
    pub announced: bool,
    /// Why it is announced or not, in words.
    pub reason: String,
    /// Backends of the VIP's services that take new flows.
    pub backends_up: u32,
    pub min_healthy: u32,
    /// `regha-agent drain` holds it withdrawn until `undrain`.
    pub drained: bool,
    pub route_protocol: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VrrpInstanceStatus {
    /// The instance's `name` (`VI_<vrid>` unless the config names it).
    #[serde(default)]
    pub name: String,
    pub vrid: u8,
    #[serde(default = "ipv4")]
    pub family: IpFamily,
    /// The sync group it fails over with, if any.
    #[serde(default)]
    pub sync_group: Option<String>,
    pub state: VrrpState,
    /// The effective priority (tracking included); 0 while resigned.
    pub priority: u8,
    pub configured_priority: u8,
    /// The master last heard (none while this host is master).
    pub master: Option<IpAddr>,
    /// The unicast peers; empty means multicast.
    pub peers: Vec<IpAddr>,
    pub transitions: u64,
    /// Packets refused, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// `regha-agent vrrp resign` holds the instance out of the election.
    pub resigned: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatus {
    pub name: String,
    pub vip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    /// Dataplane id, once written.
    pub id: Option<u32>,
    /// No backend takes new flows.
    pub all_down: bool,
    /// A hash of the service's ring as written (backends, weights, ring
    /// size, seed; never local ids): equal on every LB that steers its
    /// clients alike. Hex; none before the first write.
    #[serde(default)]
    pub ring_fingerprint: Option<String>,
    pub backends: Vec<BackendStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BackendStatus {
    pub address: SocketAddr,
    pub id: Option<u32>,
    /// What the agent last wrote for it (none before the first write): up
    /// only with a passing check, a known MAC and no admin hold.
    #[serde(default)]
    pub state: Option<BackendState>,
    pub health: Health,
    pub since_s: u64,
    pub last_check: Option<String>,
    pub latency_ms: Option<f64>,
    pub checks: u64,
    pub transitions: u64,
    pub mac: Option<Mac>,
    /// What an operator asked (`regha-agent backend ...`).
    #[serde(default)]
    pub admin: AdminState,
    /// Whether the last check passed (none before the first).
    #[serde(default)]
    pub last_check_ok: Option<bool>,
    /// The configured weight.
    #[serde(default)]
    pub weight: u32,
    /// Why the dataplane's signals make the backend suspect (none when
    /// they do not): its checks run at the fast interval until they decide.
    #[serde(default)]
    pub suspect: Option<String>,
    /// Whether its checks run at the fast interval now (suspect, or in
    /// transition between two states).
    #[serde(default)]
    pub fast_checks: bool,
}
