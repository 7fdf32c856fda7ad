//! `bgp:` as the agent uses it: the VIPs this LB announces to its router
//! through a routing daemon (FRR or BIRD) instead of holding them with
//! VRRP, so that several LBs are active at once behind ECMP (issue 14).
//!
//! The agent does not speak BGP. It adds a kernel route for each VIP it is
//! ready to serve, `blackhole VIP/32 proto <route_protocol>`, and deletes it
//! to withdraw; the daemon exports routes of that protocol
//! (`redistribute kernel` with a route-map in FRR, `protocol kernel {
//! learn; }` in BIRD). The VIP is never an address on the LB.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The kernel route protocol regha's VIP routes carry when
/// `bgp.route_protocol` is not set. 250 is unassigned in
/// `/etc/iproute2/rt_protos`, and neither zebra nor BIRD treats it as its
/// own (zebra ignores kernel, bgp 186 and zebra 11 routes).
pub const DEFAULT_BGP_ROUTE_PROTOCOL: u8 = 250;
/// How long after the agent starts a VIP may first be announced, when
/// `bgp.warmup` is not set.
pub const DEFAULT_BGP_WARMUP: Duration = Duration::from_secs(2);
/// How long `regha-agent drain` waits for the VIPs' packets to stop, when
/// `bgp.drain_timeout` is not set.
pub const DEFAULT_BGP_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The vtysh the agent reads FRR's session state with.
pub const DEFAULT_VTYSH: &str = "/usr/bin/vtysh";

/// `bgp:`: VIPs announced as routes. See the module notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpConfig {
    /// `vips`: the VIPs announced, each a service's VIP and none held by a
    /// VRRP instance. Default: every service VIP no instance holds.
    pub vips: Vec<IpAddr>,
    /// `min_healthy`: a VIP is announced only while at least this many
    /// backends of its services take new flows. Default 1.
    pub min_healthy: u32,
    /// `warmup`: no VIP is announced before the agent has run this long
    /// (and its health view is settled). Default [`DEFAULT_BGP_WARMUP`].
    pub warmup: Duration,
    /// `route_protocol`: the protocol number of the routes, 1..=255 but not
    /// one the kernel or a routing daemon uses. Default
    /// [`DEFAULT_BGP_ROUTE_PROTOCOL`].
    pub route_protocol: u8,
    /// `drain_timeout`: how long `regha-agent drain` waits for the VIPs'
    /// packets to stop. Default [`DEFAULT_BGP_DRAIN_TIMEOUT`].
    pub drain_timeout: Duration,
    /// `frr`: where the agent reads the BGP and BFD sessions from. Default
    /// `Some` with [`DEFAULT_VTYSH`]; `frr: null` does not read them.
    pub frr: Option<FrrConfig>,
}

/// `bgp.frr`: FRR's vtysh, run every few seconds to show the sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrrConfig {
    /// `vtysh`: absolute path. Default [`DEFAULT_VTYSH`].
    pub vtysh: PathBuf,
    /// `pathspace`: FRR's `-N` name when it runs in a network namespace
    /// with its sockets under `/var/run/frr/<pathspace>/`. Default none.
    pub pathspace: Option<String>,
}

impl Default for FrrConfig {
    fn default() -> Self {
        Self {
            vtysh: PathBuf::from(DEFAULT_VTYSH),
            pathspace: None,
        }
    }
}

/// Route protocols a routing daemon or the kernel already uses
/// (`/etc/iproute2/rt_protos` and FRR's own): a VIP route must be told
/// apart from all of them.
pub const RESERVED_ROUTE_PROTOCOLS: &[(u8, &str)] = &[
    (1, "redirect"),
    (2, "kernel"),
    (3, "boot"),
    (4, "static"),
    (8, "gated"),
    (9, "ra"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
    (17, "mrouted"),
    (18, "keepalived"),
    (42, "babel"),
    (99, "openr"),
    (186, "bgp"),
    (187, "isis"),
    (188, "ospf"),
    (189, "rip"),
    (192, "eigrp"),
];
