//! The lab every end-to-end test stands on, and `cargo xtask lab` and
//! `bench-e2e` too: the product as users run it, in network namespaces.
//!
//! ```text
//!            switch (bridge br0, its own namespace)
//!   +-----------+-----------+-----------+-----------+----------+
//! client1..   lb1          lb2         be1         be2        (be3...)
//! 192.0.2.1   192.0.2.2    192.0.2.3   192.0.2.11  192.0.2.12
//! (.21, .22)  regha 101    regha 100   registry    registry   VIP on lo
//! (+ sources)              (or the old   \__ one shared storage __/
//!                          stack: keepalived + HAProxy)
//!                     VIP 192.0.2.100:5000 on the VRRP master
//! ```
//!
//! Requests to the VIP reach the master LB, whose XDP program sends them on
//! to a backend chosen by the client's address (DSR: the backend, holding
//! the VIP on `lo`, answers the client directly). A [`LabSpec`] says how
//! many of each host there are and what runs on them; what it leaves bare
//! (an LB with nothing started, a backend without a registry) the test
//! fills, through the lab ([`Lab::start_agent`], [`Lab::start_keepalived`])
//! so that the lab stops it.
//!
//! Everything lives in namespaces with names unique to the run; nothing
//! touches the root namespace. Dropping the lab stops every process and
//! removes every namespace, pin and file, also on panic (see `Drop for
//! Lab` for the order, and why); a lab left by a killed run is removed by
//! the next one (`netns::remove_stale_namespaces`,
//! `agent::remove_stale_agent_pins`).

pub mod bgp;
pub mod capture;
mod clients;
pub mod config;
pub mod flood;
mod lbs;
pub mod probe;
mod topology;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    time::Duration,
};

pub use clients::{Shaped, vip_port};
pub use lbs::Holders;
use regha_model::XdpMode;
pub use topology::{HOST_IFACE, Host, PREFIX, PREFIX6, Switch, ip6_of};

use crate::{
    agent::{Agent, remove_stale_agent_pins},
    haproxy::Haproxy,
    keepalived::Keepalived,
    registry::Registry,
    tempdir::TempDir,
};

pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The IPv6 VIP of a dual-stack lab: [`ip6_of`] the IPv4 one.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
pub const PORT: u16 = config::REGISTRY_PORT;
/// The reference pair's VRRP instance.
pub const VRID: u8 = 51;
/// The reference pair's `auth_pass`: used only where a keepalived peer
/// (which the reference configures with it) must accept regha's adverts.
pub const AUTH_PASS: &str = "1111";

/// The families the lab's registry service runs over, as regha's LBs are
/// configured: IPv4 alone (the reference deployment), IPv6 alone (one VRRP
/// v3 instance over IPv6 for [`VIP6`]), or both (an IPv4 and an IPv6
/// instance in one sync group, a service on each VIP). The hosts have
/// both addresses whenever IPv6 is in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stack {
    #[default]
    V4,
    V6,
    Dual,
}

impl Stack {
    /// The families, IPv4 first: `false` for IPv4, `true` for IPv6.
    pub fn families(self) -> &'static [bool] {
        match self {
            Self::V4 => &[false],
            Self::V6 => &[true],
            Self::Dual => &[false, true],
        }
    }

    /// The family a single-family client uses (IPv6 alone for V6).
    pub fn primary_v6(self) -> bool {
        self == Self::V6
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
            Self::Dual => "dual stack",
        }
    }
}

/// The name clients give the IPv6 VIP: skopeo (containers/image's
/// reference grammar, Debian's 1.9) refuses `[2001:db8::100]:5000`, so the
/// lab names it in a hosts file private to each client's mount namespace
/// (see `skopeo.rs`). `.test` is reserved for testing (RFC 6761).
pub const VIP6_NAME: &str = "registry-v6.test";
/// The IPv4 VIP's name in that file (clients may use the literal too).
pub const VIP_NAME: &str = "registry-v4.test";
/// The IPv6 VIP's prefix on an LB holding it: a host address, the case
/// that made the kernel pick it as a source before it was deprecated.
pub const VIP6_PREFIX: u8 = 128;

/// What runs on an LB host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbKind {
    /// regha-agent with the lab's config (priority 101 on lb1, 100 on
    /// the others).
    Regha,
    /// The stack regha replaces: keepalived (the reference
    /// `keepalived-*.conf` instance, same priorities) and HAProxy (the
    /// reference `haproxy.cfg`). lb2 alone running it is a cluster halfway
    /// through its migration; both running it is the baseline of
    /// `bench-e2e`.
    OldStack,
    /// Nothing: the test starts what it needs.
    Bare,
}

/// What runs on a backend host (always a DSR backend for the VIP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// docker-registry on :5000, storage shared with the other backends.
    Registry,
    /// Nothing: the test serves what it needs.
    Bare,
}

/// The lab's shape. `LabSpec::default()` is the registry HA lab (two
/// clients, two regha LBs, two registries); [`LabSpec::bare`] is the start
/// of the smaller labs, which the setters below fill in.
#[derive(Clone, Debug)]
pub struct LabSpec {
    pub clients: u8,
    /// Extra addresses on client1 (last octets), for many clients without
    /// many hosts: each is a source the hash places on its own.
    pub sources: Vec<u8>,
    /// One entry per LB host: lb1, lb2, ...
    pub lbs: Vec<LbKind>,
    pub backends: u8,
    pub backend_kind: BackendKind,
    /// How many of the backends (the first ones) the regha LBs' configs list
    /// at start; `None`: all. The others run, ready to be added by a reload.
    pub configured_backends: Option<u8>,
    /// The VIP's prefix on an LB holding it (and in the LBs' configs).
    pub vip_prefix: u8,
    /// VRRP `advert_interval` (1 s, as the reference's `advert_int 1`).
    pub advert_interval: Duration,
    /// Health check `interval` (the reference's `inter 5000`; tests use
    /// less to run faster), `fall` 3 and `rise` 2 as HAProxy's.
    pub check_interval: Duration,
    /// Dual stack: every host also gets its IPv6 address ([`ip6_of`]) and
    /// the backends hold [`VIP6`] on `lo` too.
    pub ipv6: bool,
    /// What regha's LBs serve (and so which families clients use).
    pub stack: Stack,
    /// The regha LBs' `flow_table_size` (the default unless set): a small
    /// table shows what a flood does to it.
    pub flow_table_size: u32,
    /// The regha LBs' XDP mode: generic unless set (see [`LabSpec::native`]).
    pub xdp_mode: XdpMode,
    /// The regha LBs sync their flows (`flow_sync`, unicast to each other,
    /// with a key of the lab's). Off unless set.
    pub flow_sync: bool,
    /// With `flow_sync`: over the default multicast group (no `peers`)
    /// instead of unicast.
    pub flow_sync_multicast: bool,
}

impl Default for LabSpec {
    fn default() -> Self {
        Self {
            clients: 2,
            sources: Vec::new(),
            lbs: vec![LbKind::Regha, LbKind::Regha],
            backends: 2,
            backend_kind: BackendKind::Registry,
            configured_backends: None,
            vip_prefix: 24,
            advert_interval: Duration::from_secs(1),
            check_interval: Duration::from_millis(500),
            ipv6: false,
            stack: Stack::V4,
            flow_table_size: regha_common::DEFAULT_FLOW_TABLE_SIZE,
            xdp_mode: XdpMode::Generic,
            flow_sync: false,
            flow_sync_multicast: false,
        }
    }
}

impl LabSpec {
    /// One client and `lbs` bare LBs, no backends yet.
    pub fn bare(lbs: u8) -> Self {
        Self {
            clients: 1,
            lbs: vec![LbKind::Bare; lbs.into()],
            backends: 0,
            ..Self::default()
        }
    }

    /// The operating tests' lab: one bare LB, `backends` registries checked
    /// every 200 ms, sixteen sources on client1 (.20 to .35), and the VIP
    /// held as /32 (as an agent with a static role holds it).
    pub fn one_lb(backends: u8) -> Self {
        Self::bare(1)
            .registries(backends)
            .sources(20, 16)
            .check_interval(Duration::from_millis(200))
            .vip_prefix(32)
    }

    /// `n` backends running registries.
    pub fn registries(self, n: u8) -> Self {
        Self {
            backends: n,
            backend_kind: BackendKind::Registry,
            ..self
        }
    }

    /// `n` backends running nothing.
    pub fn bare_backends(self, n: u8) -> Self {
        Self {
            backends: n,
            backend_kind: BackendKind::Bare,
            ..self
        }
    }

    /// `n` extra source addresses on client1, from 192.0.2.`first`.
    pub fn sources(self, first: u8, n: u8) -> Self {
        Self {
            sources: (first..first + n).collect(),
            ..self
        }
    }

    pub fn vip_prefix(self, vip_prefix: u8) -> Self {
        Self { vip_prefix, ..self }
    }

    /// Dual stack: see [`LabSpec::ipv6`].
    pub fn ipv6(self) -> Self {
        Self { ipv6: true, ..self }
    }

    /// What regha's LBs serve; IPv6 in it makes the hosts dual-stack.
    pub fn stack(self, stack: Stack) -> Self {
        Self {
            stack,
            ipv6: self.ipv6 || stack != Stack::V4,
            ..self
        }
    }

    /// The LBs in native XDP mode, the production default, as on a real
    /// NIC: on veth, a frame the LB sends back with `XDP_TX` needs NAPI on
    /// the receiving peer, so the LBs' bridge-side ports get an XDP program
    /// that passes everything; and a veth client hands TCP frames over with
    /// their checksum left to offload, which `XDP_TX` never completes, so
    /// the clients' TX checksum offload is off (frames from a real wire
    /// carry their checksum).
    pub fn native(self) -> Self {
        Self {
            xdp_mode: XdpMode::Native,
            ..self
        }
    }

    pub fn check_interval(self, check_interval: Duration) -> Self {
        Self {
            check_interval,
            ..self
        }
    }

    /// Builds it: see [`Lab::new`].
    pub fn build(self) -> Lab {
        Lab::new(self)
    }
}

/// The hosts file the lab's clients see: the VIPs by name.
fn hosts_file() -> String {
    format!("127.0.0.1 localhost\n::1 localhost\n{VIP} {VIP_NAME}\n{VIP6} {VIP6_NAME}\n")
}

/// Size of the big layer the lab pushes through faults:
/// `REGHA_LAB_BIG_LAYER_MIB` MiB, 200 unless set.
pub fn big_layer() -> u64 {
    std::env::var("REGHA_LAB_BIG_LAYER_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        << 20
}

/// The lab address of client `i` (0-based): .1, then .21, .22, ...
pub fn client_ip(i: u8) -> Ipv4Addr {
    if i == 0 {
        Ipv4Addr::new(192, 0, 2, 1)
    } else {
        Ipv4Addr::new(192, 0, 2, 20 + i)
    }
}

/// The lab address of LB `i` (0-based): .2, .3, ...
pub fn lb_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 2 + i)
}

/// The lab address of backend `i` (0-based): .11, .12, ...
pub fn backend_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 11 + i)
}

/// A host's MAC: 02:00:00:00:00:<last octet of its address>.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    [2, 0, 0, 0, 0, ip.octets()[3]]
}

/// A running lab. Its processes are stopped first, then its namespaces
/// removed, then its directory: see `Drop for Lab`.
pub struct Lab {
    /// regha-agent per LB (`None` where none runs now).
    pub agents: Vec<Option<Agent>>,
    /// keepalived and HAProxy per LB (`None` where they do not run).
    pub keepalived: Vec<Option<Keepalived>>,
    pub haproxy: Vec<Option<Haproxy>>,
    /// One per backend, when they run registries.
    pub registries: Vec<Registry>,
    pub clients: Vec<Host>,
    pub lbs: Vec<Host>,
    pub backends: Vec<Host>,
    /// client1's extra source addresses.
    pub sources: Vec<Ipv4Addr>,
    pub spec: LabSpec,
    /// In native mode, the pass program on the LBs' bridge-side ports
    /// (attached through BPF links, which go with it).
    peer_xdp: Option<aya::Ebpf>,
    pub switch: Switch,
    /// Configs, registry storage, logs, images. Removed last.
    pub dir: TempDir,
}

impl Lab {
    /// Builds the topology, starts the backends' registries and what the
    /// spec runs on the LBs. A panic half-way removes what was made: each
    /// part is a guard, made in the order the lab tears down backwards.
    pub fn new(spec: LabSpec) -> Self {
        crate::require_root();
        remove_stale_agent_pins();
        let dir = TempDir::new("lab");
        let switch = Switch::new();
        let plug = |name: String, ip: Ipv4Addr| {
            let mut host = switch.plug(&name, ip, mac_of(ip));
            if spec.ipv6 {
                host.dual_stack();
            }
            host
        };
        let clients: Vec<Host> = (0..spec.clients)
            .map(|i| plug(format!("client{}", i + 1), client_ip(i)))
            .collect();
        let sources: Vec<Ipv4Addr> = spec
            .sources
            .iter()
            .map(|&last| Ipv4Addr::new(192, 0, 2, last))
            .collect();
        for s in &sources {
            clients[0].add_address(IpAddr::V4(*s), PREFIX);
            if spec.ipv6 {
                clients[0].add_address(IpAddr::V6(ip6_of(*s)), PREFIX6);
            }
        }
        let lbs: Vec<Host> = (0..spec.lbs.len() as u8)
            .map(|i| plug(format!("lb{}", i + 1), lb_ip(i)))
            .collect();
        let backends: Vec<Host> = (0..spec.backends)
            .map(|i| plug(format!("be{}", i + 1), backend_ip(i)))
            .collect();
        std::fs::write(dir.path().join("hosts"), hosts_file()).expect("write the lab's hosts file");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let mut registries = Vec::new();
        for be in &backends {
            be.dsr_backend(IpAddr::V4(VIP));
            if spec.ipv6 {
                be.dsr_backend(IpAddr::V6(VIP6));
            }
            if spec.backend_kind == BackendKind::Registry {
                registries.push(Registry::start(be, dir.path(), &storage));
            }
        }
        let peer_xdp = (spec.xdp_mode == XdpMode::Native).then(|| {
            for c in &clients {
                c.ns.exec("ethtool", &["-K", HOST_IFACE, "tx", "off"]);
            }
            let ports: Vec<String> = lbs.iter().map(|l| l.port.clone()).collect();
            pass_on(&switch, &ports)
        });
        let n = lbs.len();
        let mut lab = Self {
            agents: (0..n).map(|_| None).collect(),
            keepalived: (0..n).map(|_| None).collect(),
            haproxy: (0..n).map(|_| None).collect(),
            registries,
            clients,
            lbs,
            backends,
            sources,
            spec,
            peer_xdp,
            switch,
            dir,
        };
        if lab.spec.flow_sync {
            // Any 32 bytes: the lab only needs both LBs to hold the same.
            let key = crate::rng::SplitMix64::nth_of(u64::from(std::process::id()), 16).bytes(32);
            std::fs::write(lab.flow_sync_key(), key).expect("write the flow sync key");
        }
        let configured: Vec<u8> =
            (0..lab.spec.configured_backends.unwrap_or(lab.spec.backends)).collect();
        for lb in 0..n {
            match lab.spec.lbs[lb] {
                LbKind::Regha => {
                    let config = lab.regha_config(lb, &configured);
                    let copy = lab.path(&format!("lb{}.yaml", lb + 1));
                    std::fs::write(&copy, config.to_yaml()).expect("write the LB's config");
                    lab.start_agent(lb, &config, &[]);
                }
                LbKind::OldStack => lab.start_old_stack(lb),
                LbKind::Bare => {}
            }
        }
        lab
    }

    /// A path in the lab directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The lab directory (configs and logs), kept for a person to read.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `address:port` of backend `i`, as the agent's state names it.
    pub fn backend_addr(&self, i: usize) -> String {
        format!("{}:{PORT}", self.backends[i].ip)
    }

    /// The hosts file clients resolve the VIPs' names with.
    pub fn hosts_file(&self) -> PathBuf {
        self.path("hosts")
    }
}

/// The teardown order, the same for every test and on panic:
///
/// 1. Processes (regha-agent, keepalived, HAProxy, registries), each killed
///    and reaped. They go first because `ip netns del` only removes a
///    namespace's name: the namespace itself lives on, unnamed, with its
///    veth and addresses, for as long as a process runs in it, and the
///    next run's clean-up finds leftovers by name, so it could never remove
///    them. Dead, they also stop writing into the lab directory.
///    An agent's pins go with it, right after its process is reaped: they
///    must go after it (a live agent pins again) and are not in any
///    namespace (bpffs is global), so nothing else orders them; a pinned
///    XDP link whose interface is gone only goes defunct, so removing the
///    pins before or after the namespaces is the same.
/// 2. Namespaces: the hosts, then the switch. A veth pair dies with either
///    of its ends, so the order among them does not matter.
/// 3. The lab directory (storage, configs, logs), last: nothing uses it
///    any more, and logs stay readable for a failure message until then.
///
/// Tests hold their other guards (a `TestDataplane`, a skopeo copy, server
/// threads) so that they drop before the lab: as locals made after it, or
/// as fields declared before it.
/// Attaches an XDP program that passes everything (`bench_pass` of the
/// staged baselines object) in native mode to `ports` of the switch.
fn pass_on(switch: &Switch, ports: &[String]) -> aya::Ebpf {
    use aya::programs::{Xdp, XdpMode as AttachMode};
    let path = Path::new(regha_agent::dataplane::EBPF_DIR).join("regha-baselines");
    let mut obj = aya::Ebpf::load_file(&path).unwrap_or_else(|e| {
        panic!(
            "load {}: {e} (build it with `cargo xtask build-ebpf`)",
            path.display()
        )
    });
    let prog: &mut Xdp = obj
        .program_mut("bench_pass")
        .expect("bench_pass in the baselines object")
        .try_into()
        .expect("an XDP program");
    prog.load().expect("load bench_pass");
    switch.ns.run(|| {
        for port in ports {
            prog.attach(port, AttachMode::Driver)
                .unwrap_or_else(|e| panic!("attach the pass program to {port} (native): {e}"));
        }
    });
    obj
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.agents.clear();
        self.keepalived.clear();
        self.haproxy.clear();
        self.registries.clear();
        self.clients.clear();
        self.lbs.clear();
        self.backends.clear();
        self.peer_xdp = None;
        // `switch`, then `dir`, drop after this in field order.
    }
}
