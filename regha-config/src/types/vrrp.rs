//! `vrrp:` as the agent uses it: each instance, its trackers, its
//! gratuitous ARP and notify scripts, and the password type that never
//! prints.
//!
//! `vrrp:` is one instance (a map, as before several existed) or a list of
//! them; both read into `Config::vrrp`, a list. Instances run as
//! keepalived runs its `vrrp_instance`s: each its own election, on its own
//! virtual router (family and VRID); those naming the same `sync_group`
//! fail over together (keepalived's `vrrp_sync_group`).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use regha_model::{IpFamily, VirtualRouter, VrrpVersion};

/// The name an instance gets when `name:` is left out: keepalived's usual
/// `VI_` and the VRID.
pub fn default_instance_name(vrid: u8) -> String {
    format!("VI_{vrid}")
}

/// One VRRP instance, compatible with a keepalived `vrrp_instance` on the
/// same VRID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpConfig {
    /// `name`: unique among the instances, `[A-Za-z0-9_.-]{1,63}`; names the
    /// instance in logs, status, metrics, `vrrp resign NAME` and
    /// `services[].vrrp_instance`. Default [`default_instance_name`]
    /// (`VI_51`).
    pub name: String,
    /// `sync_group`: instances naming the same group fail over together, as
    /// in a keepalived `vrrp_sync_group`: one that leaves master takes the
    /// others with it, one in FAULT puts all in FAULT, and the group takes
    /// over only when every member would. Default none.
    pub sync_group: Option<String>,
    /// `virtual_router_id`: 1..=255, required, the same on every peer;
    /// unique among the instances of one family.
    pub virtual_router_id: u8,
    /// `priority`: 1..=255, default 100. 255 means the address owner.
    pub priority: u8,
    /// `advert_interval`: default 1s. Version 2: whole seconds, 1s..=255s;
    /// version 3: a multiple of 10ms, 10ms..=40.95s.
    pub advert_interval: Duration,
    /// `version`: 2 (RFC 3768, IPv4 only) or 3 (RFC 5798). Default 2.
    pub version: VrrpVersion,
    /// `auth_pass`: version 2 simple password, 1..=8 bytes. Default none
    /// (no authentication).
    pub auth_pass: Option<Secret>,
    /// `preempt`: a higher priority takes over from a lower master. Default true.
    pub preempt: bool,
    /// `preempt_delay`: wait this long after start before preempting,
    /// at most 1000s. Default 0s.
    pub preempt_delay: Duration,
    /// `unicast_src`: source address of unicast adverts. Default none (the
    /// interface's primary address).
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peers`: send adverts to these instead of multicast. Default
    /// empty (multicast to 224.0.0.18 / ff02::12).
    pub unicast_peers: Vec<IpAddr>,
    /// `virtual_ipaddresses`: required, 1..=255, one family; `IP` or
    /// `IP/prefix` (prefix default 32 for IPv4, 128 for IPv6).
    pub virtual_ipaddresses: Vec<(IpAddr, u8)>,
    /// `track_backends`: priority tracking of backend health. Default none.
    pub track_backends: Option<TrackBackends>,
    /// `track_scripts`: keepalived's `vrrp_script` + `track_script`. Default empty.
    pub track_scripts: Vec<TrackScript>,
    /// `track_interfaces`: keepalived's `track_interface`. Default empty.
    pub track_interfaces: Vec<TrackInterface>,
    /// `garp_master_delay`, `garp_master_repeat`, `garp_master_refresh`,
    /// `garp_master_refresh_repeat`: how a master announces the VIPs.
    pub garp: GarpConfig,
    /// `peer_priorities`: the configured priorities of the other hosts on
    /// this VRID, each 1..=255. Default empty. Only `check-config` (and the
    /// agent's start-up log) reads it: a host's config does not otherwise
    /// know its peers' priorities, and without them no one can tell whether
    /// a tracker's weight can change who is master.
    ///
    /// The check assumes the peers track the same things with the same
    /// weights (a mirrored keepalived pair). Then, against a peer of
    /// priority P, a tracker of weight w failing on one side only moves the
    /// difference of the two priorities by |w|; it can change who is master
    /// only if |w| > |priority - P| (at |w| = the gap the priorities tie and
    /// the primary address decides, which is not the tracker's doing).
    /// A tracker whose |w| is at most the gap to every listed peer is
    /// reported as a warning. keepalived's usual 101/100 pair has a gap of
    /// 1: `weight: 2` and `weight: -50` both can flip it, `weight: 1` cannot.
    /// Weight 0 (FAULT) always hands over and is never reported.
    pub peer_priorities: Vec<u8>,
    /// `notify`: scripts run on transitions. Default: none of them.
    pub notify: NotifyScripts,
}

impl VrrpConfig {
    /// The family of its VIPs (validation keeps them to one, and at least
    /// one).
    pub fn family(&self) -> IpFamily {
        self.virtual_ipaddresses
            .first()
            .map_or(IpFamily::Ipv4, |(ip, _)| IpFamily::of(*ip))
    }

    /// The virtual router it runs: family and VRID.
    pub fn router(&self) -> VirtualRouter {
        VirtualRouter {
            family: self.family(),
            vrid: self.virtual_router_id,
        }
    }

    /// Whether `ip` is one of its VIPs.
    pub fn holds(&self, ip: IpAddr) -> bool {
        self.virtual_ipaddresses.iter().any(|(v, _)| *v == ip)
    }
}

/// A password from the config. Its `Debug` prints `"<redacted>"` and it has
/// no `Display`, so that logging a config (or a part of it) with `?` never
/// shows it; the code that needs the text derefs it to `&str`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// `vrrp.track_backends`: the tracked condition is "at least `min_healthy`
/// backends are healthy, counted over the services whose VIP the instance
/// holds" (with one instance: every service), weighted as keepalived weighs
/// a tracked script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackBackends {
    /// `min_healthy`: 1..=the number of backends configured. Default 1.
    pub min_healthy: u32,
    /// `weight`: -254..=254, default 0. Positive: added to the priority while
    /// the condition holds; negative: added while it fails; 0: the instance
    /// goes to FAULT (releases the VIPs) while it fails. The result is
    /// clamped to 1..=254, and ignored at priority 255.
    pub weight: i32,
}

/// `vrrp.track_scripts[]`: a check run periodically, weighted as
/// keepalived's `vrrp_script`. Exit status 0 is success; anything else, a
/// failure to start, or running past `timeout` (the process is then
/// killed) is a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackScript {
    /// `name`: required, unique among the scripts, `[A-Za-z0-9_.-]{1,63}`.
    pub name: String,
    /// `script`, first word: the program, an absolute path. It is run
    /// directly, without a shell.
    pub program: PathBuf,
    /// `script`, the other words (split on whitespace): its arguments.
    pub args: Vec<String>,
    /// `interval`: from the start of one run to the start of the next,
    /// >0 and at most 1h. Default 1s.
    pub interval: Duration,
    /// `timeout`: a run still going after this is killed and counts as a
    /// failure; >0 and at most 1h. Default: the interval.
    pub timeout: Duration,
    /// `weight`: -254..=254, default 0. As [`TrackBackends::weight`].
    pub weight: i32,
    /// `rise`: successes in a row to count as up again, 1..=100. Default 1.
    pub rise: u32,
    /// `fall`: failures in a row to count as down, 1..=100. Default 1.
    pub fall: u32,
}

/// `vrrp.track_interfaces[]`: an interface whose link state is tracked
/// (up: administratively up and running, i.e. with carrier).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    /// `name`: required, an interface name, unique in the list.
    pub name: String,
    /// `weight`: -254..=254, default 0. As [`TrackBackends::weight`], the
    /// condition being "the link is up".
    pub weight: i32,
}

/// Gratuitous ARP (IPv4) / unsolicited NA (IPv6) of a master, with
/// keepalived's names and defaults. On becoming master: `repeat` at once,
/// and `repeat` more after `delay`; then, while master, `refresh_repeat`
/// every `refresh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpConfig {
    /// `garp_master_delay`: 0s..=1000s, default 5s; 0s: no second burst.
    pub delay: Duration,
    /// `garp_master_repeat`: 1..=255, default 5: frames per VIP in a burst.
    pub repeat: u32,
    /// `garp_master_refresh`: 0s..=1000s, default 0s (off).
    pub refresh: Duration,
    /// `garp_master_refresh_repeat`: 1..=255, default 1.
    pub refresh_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: Duration::ZERO,
            refresh_repeat: 1,
        }
    }
}

/// `vrrp.notify`: absolute paths of scripts run on entering a state. Each
/// defaults to none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyScripts {
    /// `master`: run on becoming master.
    pub master: Option<PathBuf>,
    /// `backup`: run on becoming backup.
    pub backup: Option<PathBuf>,
    /// `fault`: run on entering fault.
    pub fault: Option<PathBuf>,
    /// `stop`: run when the instance stops (agent shutdown).
    pub stop: Option<PathBuf>,
}
