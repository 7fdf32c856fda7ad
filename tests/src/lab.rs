//! The lab topology: a `switch` namespace holding a bridge, and hosts, each
//! a namespace with one veth (`eth0`) plugged into it. Addresses come from
//! 192.0.2.0/24 (TEST-NET-1); nothing is connected to the root namespace or
//! routed anywhere. Dropping the `Switch` and the `Host`s removes it all.

use std::net::Ipv4Addr;

use crate::netns::{NetNs, VethSpec, veth};

/// The lab's subnet prefix length.
pub const PREFIX: u8 = 24;

pub struct Switch {
    pub ns: NetNs,
    ports: std::cell::Cell<u32>,
}

pub struct Host {
    pub ns: NetNs,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    /// The bridge port (in the switch namespace) this host hangs on.
    pub port: String,
}

/// Host interface name inside every host namespace.
pub const HOST_IFACE: &str = "eth0";

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
        ns.ip(&["addr", "add", &format!("{ip}/{PREFIX}"), "dev", HOST_IFACE]);
        Host { ns, ip, mac, port }
    }
}

impl Switch {
    /// Cuts (or restores) a host's link to the bridge: a partition.
    pub fn set_port(&self, host: &Host, up: bool) {
        self.ns
            .ip(&["link", "set", &host.port, if up { "up" } else { "down" }]);
    }
}

impl Switch {
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
}

impl Default for Switch {
    fn default() -> Self {
        Self::new()
    }
}

impl Host {
    /// The MAC this host's neighbour table holds for `ip`, if any.
    pub fn neigh_mac(&self, ip: std::net::IpAddr) -> Option<String> {
        let out = self
            .ns
            .ip(&["neigh", "show", &ip.to_string(), "dev", HOST_IFACE]);
        out.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .map(str::to_owned)
    }

    /// Makes this host a direct-server-return backend for `vip`, the way
    /// the README tells operators to: `regha-agent backend-setup --vip VIP
    /// --apply` (the VIP on `lo`, arp_ignore=1, arp_announce=2), run in the
    /// host's namespace. Checks that the settings took.
    pub fn dsr_backend(&self, vip: Ipv4Addr) {
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
        assert!(
            self.ns
                .ip(&["-o", "addr", "show", "dev", "lo"])
                .contains(&format!("inet {vip}/32")),
            "backend-setup did not put {vip} on lo"
        );
        let sysctl = |k: &str| self.ns.exec("sysctl", &["-n", k]).trim().to_owned();
        assert_eq!(sysctl("net.ipv4.conf.all.arp_ignore"), "1");
        assert_eq!(sysctl("net.ipv4.conf.all.arp_announce"), "2");
    }
}

/// Captures the Ethernet frames of `ethertype` that `keep` accepts, for
/// `how_long`, on every interface of the calling thread's namespace (an
/// AF_PACKET socket; run it inside a namespace with `NetNs::spawn`/`run`).
pub fn capture(
    ethertype: u16,
    how_long: std::time::Duration,
    keep: impl Fn(&[u8]) -> bool,
) -> Vec<Vec<u8>> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket(2); owned right below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from(ethertype.to_be()),
        )
    };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: setting a timeval option on our socket.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            std::ptr::addr_of!(tv).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    let end = std::time::Instant::now() + how_long;
    let mut frames = Vec::new();
    let mut buf = [0u8; 2048];
    while std::time::Instant::now() < end {
        // SAFETY: receiving into our buffer.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 && keep(&buf[..n as usize]) {
            frames.push(buf[..n as usize].to_vec());
        }
    }
    frames
}

/// ARP frames seen for `how_long`.
pub fn capture_arp(how_long: std::time::Duration) -> Vec<Vec<u8>> {
    capture(0x0806, how_long, |_| true)
}

/// Frames carrying IPv4 protocol `proto` seen for `how_long`.
pub fn capture_ipv4_proto(proto: u8, how_long: std::time::Duration) -> Vec<Vec<u8>> {
    capture(0x0800, how_long, |f| f.len() > 34 && f[14 + 9] == proto)
}
