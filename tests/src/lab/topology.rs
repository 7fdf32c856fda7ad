//! The lab's wiring: a `switch` namespace holding a bridge, and hosts, each
//! a namespace with one veth (`eth0`) plugged into it. Addresses come from
//! 192.0.2.0/24 (TEST-NET-1) and, in a dual-stack lab, 2001:db8::/64 (the
//! IPv6 documentation prefix: 192.0.2.11 is 2001:db8::11, see [`ip6_of`]);
//! nothing is connected to the root namespace or routed anywhere. Dropping
//! the `Switch` and the `Host`s removes it all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::netns::{NetNs, VethSpec, veth};

/// The lab's subnet prefix length.
pub const PREFIX: u8 = 24;
/// The lab's IPv6 prefix length.
pub const PREFIX6: u8 = 64;

/// A host's IPv6 address in the lab: 2001:db8:: and the last octet of its
/// IPv4 address written with the same digits (192.0.2.11 is 2001:db8::11,
/// 192.0.2.100 is 2001:db8::100), so that a person reading a log pairs them
/// at a glance.
pub fn ip6_of(ip: Ipv4Addr) -> Ipv6Addr {
    let digits = ip.octets()[3].to_string();
    let last = u16::from_str_radix(&digits, 16).expect("decimal digits are hex digits");
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
}

/// Host interface name inside every host namespace.
pub const HOST_IFACE: &str = "eth0";

pub struct Switch {
    pub ns: NetNs,
    ports: std::cell::Cell<u32>,
}

pub struct Host {
    pub ns: NetNs,
    pub ip: Ipv4Addr,
    /// Its IPv6 address ([`ip6_of`] its IPv4 one) in a dual-stack lab.
    pub ip6: Option<Ipv6Addr>,
    pub mac: [u8; 6],
    /// The bridge port (in the switch namespace) this host hangs on.
    pub port: String,
}

impl Switch {
    pub fn new() -> Self {
        let ns = NetNs::new("switch");
        ns.ip(&["link", "add", "br0", "type", "bridge"]);
        ns.ip(&["link", "set", "br0", "up"]);
        Self {
            ns,
            ports: std::cell::Cell::new(0),
        }
    }

    /// A new host named `role` with `ip/24` on `eth0` (MAC `mac`), plugged
    /// into the bridge.
    pub fn plug(&self, role: &str, ip: Ipv4Addr, mac: [u8; 6]) -> Host {
        let ns = NetNs::new(role);
        let n = self.ports.get();
        self.ports.set(n + 1);
        let port = format!("p{n}");
        let mut port_mac = mac;
        port_mac[0] = 0x06; // locally administered, distinct from the host end
        veth(
            &VethSpec {
                ns: &self.ns,
                name: &port,
                mac: port_mac,
            },
            &VethSpec {
                ns: &ns,
                name: HOST_IFACE,
                mac,
            },
        );
        self.ns.ip(&["link", "set", &port, "master", "br0"]);
        let host = Host {
            ns,
            ip,
            ip6: None,
            mac,
            port,
        };
        host.add_address(IpAddr::V4(ip), PREFIX);
        host
    }

    /// Cuts (or restores) a host's link to the bridge: its carrier goes.
    pub fn set_port(&self, host: &Host, up: bool) {
        self.ns
            .ip(&["link", "set", &host.port, if up { "up" } else { "down" }]);
    }

    /// Cuts (or restores) a host off the segment without taking its link
    /// down: its bridge port stops forwarding (STP state disabled) while
    /// both veth ends stay up, as when a switch or cable further away
    /// fails. (A link going down is something else: the VRRP interface's
    /// link down is FAULT, as in keepalived.)
    pub fn partition(&self, host: &Host, cut: bool) {
        let state = if cut { "0" } else { "3" }; // disabled, forwarding
        self.ns.exec(
            "bridge",
            &["link", "set", "dev", &host.port, "state", state],
        );
    }

    /// Stops the bridge flooding multicast to `host` (not even 224.0.0.18):
    /// only unicast reaches it.
    pub fn block_multicast(&self, host: &Host) {
        self.ns.exec(
            "bridge",
            &["link", "set", "dev", &host.port, "mcast_flood", "off"],
        );
    }
}

impl Default for Switch {
    fn default() -> Self {
        Self::new()
    }
}

impl Host {
    /// Gives the host its IPv6 address ([`ip6_of`]) beside its IPv4 one.
    pub fn dual_stack(&mut self) {
        let ip6 = ip6_of(self.ip);
        self.add_address(IpAddr::V6(ip6), PREFIX6);
        self.ip6 = Some(ip6);
    }

    /// The host's address of `family` (IPv4, or its IPv6 one in a
    /// dual-stack lab).
    pub fn addr(&self, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(self.ip6.unwrap_or_else(|| {
                panic!(
                    "{} has no IPv6 address: build the lab with `.ipv6()`",
                    self.ns.name()
                )
            }))
        } else {
            IpAddr::V4(self.ip)
        }
    }

    /// Adds `ip/prefix` to `eth0`. IPv6 addresses skip duplicate address
    /// detection (the lab assigns them, nobody else holds them), so they
    /// are usable at once.
    pub fn add_address(&self, ip: IpAddr, prefix: u8) {
        let cidr = format!("{ip}/{prefix}");
        match ip {
            IpAddr::V4(_) => self.ns.ip(&["addr", "add", &cidr, "dev", HOST_IFACE]),
            IpAddr::V6(_) => self
                .ns
                .ip(&["-6", "addr", "add", &cidr, "dev", HOST_IFACE, "nodad"]),
        };
    }

    /// Whether `eth0` holds `ip/prefix` now.
    pub fn holds(&self, ip: IpAddr, prefix: u8) -> bool {
        let family = if ip.is_ipv4() { "inet" } else { "inet6" };
        let want = format!("{ip}/{prefix}");
        self.ns
            .ip(&["-o", "addr", "show", "dev", HOST_IFACE])
            .lines()
            .any(|l| {
                let mut words = l.split_whitespace().skip_while(|w| *w != family);
                words.next().is_some() && words.next() == Some(want.as_str())
            })
    }

    /// The MAC this host's neighbour table holds for `ip`, if any.
    pub fn neigh_mac(&self, ip: IpAddr) -> Option<String> {
        let out = self
            .ns
            .ip(&["neigh", "show", &ip.to_string(), "dev", HOST_IFACE]);
        out.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .map(str::to_owned)
    }

    /// This host's MAC, as `ip` prints it.
    pub fn mac_str(&self) -> String {
        crate::netns::mac_str(self.mac)
    }

    /// The state of `eth0`'s IPv6 link-local address: `Ok` once it has
    /// passed duplicate address detection (VRRP over IPv6 speaks from it,
    /// and a tentative address cannot be bound), else what `ip` shows.
    pub fn link_local_ready(&self) -> Result<(), String> {
        let out = self
            .ns
            .ip(&["-6", "addr", "show", "dev", HOST_IFACE, "scope", "link"]);
        if out.contains("inet6 fe80") && !out.contains("tentative") {
            Ok(())
        } else {
            Err(out)
        }
    }

    /// Makes this host a direct-server-return backend for `vip`, the way
    /// the README tells operators to: `regha-agent backend-setup --vip VIP
    /// --apply` (the VIP on `lo`; for IPv4 also arp_ignore=1,
    /// arp_announce=2), run in the host's namespace. Checks that the
    /// settings took.
    pub fn dsr_backend(&self, vip: IpAddr) {
        let out = std::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns.name()))
            .arg(crate::agent::agent_bin())
            .args(["backend-setup", "--apply", "--vip", &vip.to_string()])
            .output()
            .expect("run regha-agent backend-setup");
        assert!(
            out.status.success(),
            "regha-agent backend-setup --apply failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (family, host_prefix) = if vip.is_ipv4() {
            ("inet", 32)
        } else {
            ("inet6", 128)
        };
        assert!(
            self.ns
                .ip(&["-o", "addr", "show", "dev", "lo"])
                .contains(&format!("{family} {vip}/{host_prefix}")),
            "backend-setup did not put {vip} on lo"
        );
        if vip.is_ipv4() {
            let sysctl = |k: &str| self.ns.exec("sysctl", &["-n", k]).trim().to_owned();
            assert_eq!(sysctl("net.ipv4.conf.all.arp_ignore"), "1");
            assert_eq!(sysctl("net.ipv4.conf.all.arp_announce"), "2");
        }
    }
}
