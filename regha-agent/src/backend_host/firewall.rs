//! The access policy of a registry host behind regha, as nftables rules.
//!
//! The pair regha replaces kept its registries private with the firewall:
//! each registry accepted connections to its own address only from the two
//! proxies (`../reference/.../iptables-backends.sh`). With direct server
//! return the registries receive the clients' own packets, so a rule on
//! source addresses would block every client. What marks a packet that came
//! through an LB is its source MAC: the XDP program rewrites it to the LB
//! interface's MAC. So:
//!
//! - to `VIP:port`, only frames from an LB's MAC are accepted; others are
//!   dropped (nothing else should ever send there: only the LBs announce
//!   the VIP);
//! - to the host's own `address:port` (where the LBs' health checks go),
//!   only the LBs' addresses and the networks an operator names; others
//!   are refused with a reset (ICMP for UDP), so a misdirected client fails
//!   at once instead of timing out;
//! - everything else is untouched, and so is loopback.
//!
//! nftables rather than iptables: one table of our own, replaced in one
//! transaction (`table` + `delete table` + the table, in one `nft -f`), with
//! sets instead of a rule per address, and the `ether saddr` match native.
//! Removing the table restores the host's rules exactly as they were: no
//! other table or chain is touched. Base chains on one hook all see a
//! packet, so this chain's drop holds whatever other tables accept, and its
//! accepts never override another table's drop.

use std::{fmt::Write as _, net::IpAddr};

use regha_model::{Mac, Protocol};

/// The table every rule lives in.
pub const TABLE: &str = "regha_backend";

/// Where `--apply` keeps the rules unless told otherwise: include it from
/// `/etc/nftables.conf` to load it at boot (Debian's nftables.service).
pub const DEFAULT_FILE: &str = "/etc/regha/backend-policy.nft";

/// A network as `address/prefix` (a host when the prefix is the full length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::str::FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address or network (e.g. 203.0.113.224/27)"))?;
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => full,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= full)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0..={full}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Who may reach the registry on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The VIPs this host serves (on `lo`).
    pub vips: Vec<IpAddr>,
    /// The registry's ports, by protocol.
    pub ports: Vec<(Protocol, u16)>,
    /// The LBs' interface MACs: the source of every frame they forward.
    pub lb_macs: Vec<Mac>,
    /// The LBs' own addresses: the source of their health checks.
    pub lb_addresses: Vec<IpAddr>,
    /// Networks an operator lets reach the registry directly (its own
    /// address, not the VIP).
    pub allow: Vec<Net>,
}

impl Policy {
    /// The nft script that installs (or replaces) the table.
    pub fn ruleset(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# regha backend policy, written by `regha-agent backend-setup`.\n\
             # Load it with `nft -f` (it replaces the table {TABLE} in one step); to keep\n\
             # it across reboots, add `include \"<this file>\"` to /etc/nftables.conf.\n\
             # After an LB's NIC is replaced, run backend-setup again with its new MAC.\n\
             table inet {TABLE}\n\
             delete table inet {TABLE}\n\
             table inet {TABLE} {{"
        );
        set(
            &mut out,
            "lb_macs",
            "ether_addr",
            false,
            self.lb_macs.iter().map(ToString::to_string),
        );
        let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = self.vips.iter().partition(|a| a.is_ipv4());
        set(
            &mut out,
            "vips4",
            "ipv4_addr",
            false,
            v4.iter().map(ToString::to_string),
        );
        set(
            &mut out,
            "vips6",
            "ipv6_addr",
            false,
            v6.iter().map(ToString::to_string),
        );
        let peers = self
            .lb_addresses
            .iter()
            .map(|&addr| Net {
                addr,
                prefix: if addr.is_ipv4() { 32 } else { 128 },
            })
            .chain(self.allow.iter().copied());
        let (p4, p6): (Vec<Net>, Vec<Net>) = peers.partition(|n| n.addr.is_ipv4());
        set(
            &mut out,
            "peers4",
            "ipv4_addr",
            true,
            p4.iter().map(ToString::to_string),
        );
        set(
            &mut out,
            "peers6",
            "ipv6_addr",
            true,
            p6.iter().map(ToString::to_string),
        );
        let _ = writeln!(
            out,
            "\tchain input {{\n\
             \t\ttype filter hook input priority filter - 10; policy accept;\n\
             \t\tiifname \"lo\" accept"
        );
        for proto in [Protocol::Tcp, Protocol::Udp] {
            let ports: Vec<String> = (self.ports.iter())
                .filter(|(p, _)| *p == proto)
                .map(|(_, port)| port.to_string())
                .collect();
            if ports.is_empty() {
                continue;
            }
            let dport = format!("{proto} dport {{ {} }}", ports.join(", "));
            let refuse = match proto {
                Protocol::Tcp => "reject with tcp reset",
                Protocol::Udp => "reject",
            };
            let _ = writeln!(
                out,
                "\t\tip daddr @vips4 {dport} ether saddr @lb_macs accept\n\
                 \t\tip6 daddr @vips6 {dport} ether saddr @lb_macs accept\n\
                 \t\tip daddr @vips4 {dport} counter drop comment \"to the VIP, not through an LB\"\n\
                 \t\tip6 daddr @vips6 {dport} counter drop comment \"to the VIP, not through an LB\"\n\
                 \t\tip saddr @peers4 {dport} accept\n\
                 \t\tip6 saddr @peers6 {dport} accept\n\
                 \t\t{dport} counter {refuse} comment \"only the LBs and the allowed networks reach the registry directly\""
            );
        }
        out.push_str("\t}\n}\n");
        out
    }
}

/// A named set; without elements when there are none (nft refuses `{ }`).
fn set(
    out: &mut String,
    name: &str,
    kind: &str,
    interval: bool,
    elements: impl Iterator<Item = String>,
) {
    let elements: Vec<String> = elements.collect();
    let flags = if interval { " flags interval;" } else { "" };
    if elements.is_empty() {
        let _ = writeln!(out, "\tset {name} {{ type {kind};{flags} }}");
    } else {
        let _ = writeln!(
            out,
            "\tset {name} {{ type {kind};{flags} elements = {{ {} }} }}",
            elements.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            vips: vec![
                "192.0.2.100".parse().unwrap(),
                "2001:db8::100".parse().unwrap(),
            ],
            ports: vec![(Protocol::Tcp, 5000)],
            lb_macs: vec![
                "02:00:00:00:00:02".parse().unwrap(),
                "02:00:00:00:00:03".parse().unwrap(),
            ],
            lb_addresses: vec!["192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap()],
            allow: vec!["203.0.113.224/27".parse().unwrap()],
        }
    }

    #[test]
    fn the_ruleset_admits_the_vip_from_lb_macs_and_the_host_from_lbs_and_allowed_nets() {
        let r = policy().ruleset();
        for want in [
            "table inet regha_backend\ndelete table inet regha_backend\ntable inet regha_backend {\n",
            "set lb_macs { type ether_addr; elements = { 02:00:00:00:00:02, 02:00:00:00:00:03 } }",
            "set vips4 { type ipv4_addr; elements = { 192.0.2.100 } }",
            "set vips6 { type ipv6_addr; elements = { 2001:db8::100 } }",
            "set peers4 { type ipv4_addr; flags interval; elements = { 192.0.2.2, 192.0.2.3, 203.0.113.224/27 } }",
            "set peers6 { type ipv6_addr; flags interval; }",
            "iifname \"lo\" accept",
            "ip daddr @vips4 tcp dport { 5000 } ether saddr @lb_macs accept",
            "ip daddr @vips4 tcp dport { 5000 } counter drop",
            "ip saddr @peers4 tcp dport { 5000 } accept",
            "tcp dport { 5000 } counter reject with tcp reset",
        ] {
            assert!(r.contains(want), "missing {want:?} in\n{r}");
        }
        assert!(!r.contains("udp"), "no UDP service, no UDP rule:\n{r}");
        // The order decides: the VIP's accept, then its drop, then the host.
        let at = |s: &str| r.find(s).unwrap();
        assert!(at("ether saddr @lb_macs accept") < at("counter drop"));
        assert!(at("counter drop") < at("ip saddr @peers4"));
        assert!(at("ip saddr @peers4") < at("reject with tcp reset"));
    }

    #[test]
    fn networks_parse_as_operators_write_them() {
        assert_eq!(
            "203.0.113.224/27".parse::<Net>().unwrap().to_string(),
            "203.0.113.224/27"
        );
        assert_eq!("2001:db8::/32".parse::<Net>().unwrap().prefix, 32);
        assert_eq!("192.0.2.9".parse::<Net>().unwrap().prefix, 32);
        assert!("192.0.2.0/33".parse::<Net>().is_err());
        assert!("office".parse::<Net>().is_err());
    }
}
