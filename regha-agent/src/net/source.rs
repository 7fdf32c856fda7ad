//! The source address of the agent's own traffic (health checks, the
//! datagrams that make the kernel resolve a backend's MAC): the
//! interface's own address of the destination's family, chosen as the
//! kernel would choose it for that interface, but never a VIP.
//!
//! Why not let the kernel choose: a VIP on the LB interface is a local
//! address like any other, and the kernel picks it whenever its rules
//! prefer it. The backends hold the same VIP on `lo` (direct server
//! return), so a packet from the VIP is, to them, a packet from
//! themselves: they answer it locally and the LB never hears back. Two
//! cases, one per family:
//!
//! - IPv6 (RFC 6724 section 5, Linux `ipv6_dev_get_saddr`): rule 8 prefers
//!   the longest prefix shared with the destination, capped at the
//!   address's own prefix length, so a `/128` VIP beats the host's `/64`.
//!   The VIPs are added deprecated (`preferred_lft 0`, see `vip.rs`), which
//!   rule 3 puts behind every preferred address, as keepalived does; this
//!   module does not rely on it.
//! - IPv4 (Linux `inet_select_addr` for a connected route): the source is
//!   the first *primary* address whose subnet holds the destination, or the
//!   first primary address. A VIP is secondary behind an address of its
//!   own subnet, but it is primary (and the connected route's `src`) when
//!   the host's own address is in another subnet, or was added after the
//!   VIP. IPv4 has no deprecated addresses for source selection (the kernel
//!   ignores `preferred_lft` there), so only choosing the source ourselves
//!   helps.
//!
//! [`choose`] is the rule, pure; [`Sources`] is what the checkers hold: the
//! interface's addresses as last read (`agent/addresses.rs` keeps them
//! fresh) and the VIPs to leave out.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use tokio::sync::watch;

/// One address on the interface, as netlink lists it (in the kernel's
/// order: it matters for IPv4, where the first address of a subnet is its
/// primary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix: u8,
    /// IPv4: a secondary address of its subnet (`IFA_F_SECONDARY`).
    pub secondary: bool,
    /// IPv6: preferred lifetime over (`IFA_F_DEPRECATED`).
    pub deprecated: bool,
    /// IPv6: not usable (yet): duplicate address detection running or failed.
    pub tentative: bool,
    /// Host scope (`lo`-like) addresses are never a source on the wire.
    pub host_scope: bool,
}

impl IfAddr {
    /// A usable global address (tests and callers that build views by hand).
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        Self {
            addr,
            prefix,
            secondary: false,
            deprecated: false,
            tentative: false,
            host_scope: false,
        }
    }
}

/// The interface's addresses and the VIPs that must never be a source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceView {
    pub ifindex: u32,
    pub addrs: Vec<IfAddr>,
    pub vips: Vec<IpAddr>,
}

/// What [`choose`] found for one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The source to bind to: the kernel's rule over the addresses that are
    /// not VIPs. `None`: the interface has no usable address of its own of
    /// that family (the kernel then picks, possibly a VIP).
    pub ours: Option<IpAddr>,
    /// The VIP the kernel itself would pick for unbound traffic, if it would
    /// pick one: the host's other traffic to this destination (anything but
    /// the agent) leaves from the VIP and gets no answer.
    pub kernel_vip: Option<IpAddr>,
}

/// The source for traffic to `dst` from the interface whose addresses are
/// `addrs`: see the module notes.
pub fn choose(dst: IpAddr, addrs: &[IfAddr], vips: &[IpAddr]) -> Choice {
    let usable: Vec<IfAddr> = addrs
        .iter()
        .filter(|a| a.addr.is_ipv4() == dst.is_ipv4() && !a.tentative && !a.host_scope)
        .copied()
        .collect();
    let own: Vec<IfAddr> = usable
        .iter()
        .filter(|a| !vips.contains(&a.addr))
        .copied()
        .collect();
    let (ours, kernel) = match dst {
        // Without the VIPs, an own address that was secondary behind a VIP
        // is its subnet's primary: the kernel promotes it when the VIP goes.
        IpAddr::V4(_) => (
            select_v4(dst, own.iter().map(|a| (a.addr, a.prefix))),
            select_v4(
                dst,
                usable
                    .iter()
                    .filter(|a| !a.secondary)
                    .map(|a| (a.addr, a.prefix)),
            ),
        ),
        IpAddr::V6(d) => (select_v6(d, &own), select_v6(d, &usable)),
    };
    Choice {
        ours,
        kernel_vip: kernel.filter(|k| vips.contains(k)),
    }
}

/// `inet_select_addr` for a destination on a connected route: the first
/// (primary) address whose subnet holds `dst`, else the first.
fn select_v4(dst: IpAddr, primaries: impl Iterator<Item = (IpAddr, u8)>) -> Option<IpAddr> {
    let mut first = None;
    for (addr, prefix) in primaries {
        if same_prefix(addr, dst, prefix) {
            return Some(addr);
        }
        first = first.or(Some(addr));
    }
    first
}

/// RFC 6724 section 5 over one interface's addresses, as Linux ranks them:
/// rule 2 (appropriate scope), rule 3 (avoid deprecated), rule 8 (longest
/// matching prefix, at most the address's own prefix length); the first
/// listed wins a tie. Rules 1, 4-7 cannot tell one interface's
/// manually configured addresses apart.
fn select_v6(dst: Ipv6Addr, candidates: &[IfAddr]) -> Option<IpAddr> {
    let dst_scope = scope_v6(dst);
    let key = |a: &IfAddr| {
        let IpAddr::V6(addr) = a.addr else {
            unreachable!("filtered to the destination's family")
        };
        let scope = scope_v6(addr);
        // Rule 2: a scope at least the destination's, the smallest such;
        // failing that, the largest.
        let scope_rank = if scope >= dst_scope {
            (1, u8::MAX - scope)
        } else {
            (0, scope)
        };
        let matching = common_prefix(addr.octets(), dst.octets()).min(u32::from(a.prefix));
        (scope_rank, !a.deprecated, matching)
    };
    let mut best: Option<&IfAddr> = None;
    for a in candidates {
        if best.is_none_or(|b| key(a) > key(b)) {
            best = Some(a);
        }
    }
    best.map(|a| a.addr)
}

/// The scope of an IPv6 unicast address, as RFC 4007 numbers it: 2 for
/// link-local (`fe80::/10`), 14 for global (unique local addresses count
/// as global, as in Linux).
fn scope_v6(a: Ipv6Addr) -> u8 {
    if a.segments()[0] & 0xffc0 == 0xfe80 {
        2
    } else {
        14
    }
}

fn same_prefix(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            common_prefix(a.octets(), b.octets()) >= u32::from(prefix)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            common_prefix(a.octets(), b.octets()) >= u32::from(prefix)
        }
        _ => false,
    }
}

/// Leading bits `a` and `b` share.
fn common_prefix<const N: usize>(a: [u8; N], b: [u8; N]) -> u32 {
    let mut bits = 0;
    for (x, y) in a.iter().zip(b) {
        let diff = x ^ y;
        bits += diff.leading_zeros();
        if diff != 0 {
            break;
        }
    }
    bits
}

/// The view the agent's connections choose their source from; cheap to
/// clone, always current.
#[derive(Clone, Debug)]
pub struct Sources(watch::Receiver<SourceView>);

impl Sources {
    pub fn new(rx: watch::Receiver<SourceView>) -> Self {
        Self(rx)
    }

    /// No view: every connection leaves it to the kernel (unit tests).
    pub fn unbound() -> Self {
        Self(watch::channel(SourceView::default()).1)
    }

    /// What to bind to for `dst`, as a socket address with port 0 (and the
    /// interface as scope of a link-local source), with [`Choice`]'s
    /// verdict on what the kernel would do.
    pub fn choose(&self, dst: IpAddr) -> (Option<SocketAddr>, Choice) {
        let view = self.0.borrow();
        let choice = choose(dst, &view.addrs, &view.vips);
        let bind = choice.ours.map(|ip| match ip {
            IpAddr::V6(v6) if scope_v6(v6) == 2 => {
                SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, view.ifindex))
            }
            ip => SocketAddr::new(ip, 0),
        });
        (bind, choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> IfAddr {
        let (ip, prefix) = text.split_once('/').unwrap();
        IfAddr::new(ip.parse().unwrap(), prefix.parse().unwrap())
    }

    fn secondary(text: &str) -> IfAddr {
        IfAddr {
            secondary: true,
            ..a(text)
        }
    }

    fn deprecated(text: &str) -> IfAddr {
        IfAddr {
            deprecated: true,
            ..a(text)
        }
    }

    fn tentative(text: &str) -> IfAddr {
        IfAddr {
            tentative: true,
            ..a(text)
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// (addresses in kernel order, VIPs, destination, ours, the VIP the
    /// kernel would use). Each row is a case seen on a real LB (the IPv4
    /// ones checked with `ip route get` in a namespace).
    #[test]
    fn the_source_is_the_kernels_choice_without_the_vips() {
        type Case = (
            &'static str,
            Vec<IfAddr>,
            &'static [&'static str],
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "IPv6 /128 VIP: rule 8 would pick it (capped at /64 for the host's own)",
                vec![a("2001:db8::100/128"), a("2001:db8::2/64"), a("fe80::1/64")],
                &["2001:db8::100"],
                "2001:db8::11",
                Some("2001:db8::2"),
                Some("2001:db8::100"),
            ),
            (
                "IPv6 /128 VIP added deprecated: the kernel avoids it too (rule 3)",
                vec![
                    deprecated("2001:db8::100/128"),
                    a("2001:db8::2/64"),
                    a("fe80::1/64"),
                ],
                &["2001:db8::100"],
                "2001:db8::11",
                Some("2001:db8::2"),
                None,
            ),
            (
                "IPv6 /64 VIP in the host's own prefix: a tie, the first listed (the newest)",
                vec![a("2001:db8::100/64"), a("2001:db8::2/64")],
                &["2001:db8::100"],
                "2001:db8::11",
                Some("2001:db8::2"),
                Some("2001:db8::100"),
            ),
            (
                "IPv6: the longer match among the host's own addresses",
                vec![a("2001:db8:1::2/64"), a("2001:db8::2/64"), a("fe80::1/64")],
                &[],
                "2001:db8::11",
                Some("2001:db8::2"),
                None,
            ),
            (
                "IPv6: a global destination prefers a global source to link-local (rule 2)",
                vec![a("fe80::1/64"), a("2001:db8:9::2/64")],
                &[],
                "2001:db8::11",
                Some("2001:db8:9::2"),
                None,
            ),
            (
                "IPv6: a link-local destination gets the link-local source",
                vec![a("2001:db8::2/64"), a("fe80::1/64")],
                &[],
                "fe80::11",
                Some("fe80::1"),
                None,
            ),
            (
                "IPv6: a tentative address is not usable yet",
                vec![tentative("2001:db8::2/64"), a("2001:db8::3/64")],
                &[],
                "2001:db8::11",
                Some("2001:db8::3"),
                None,
            ),
            (
                "IPv6: only the VIP and link-local: the link-local one, as a last resort",
                vec![a("2001:db8::100/128"), a("fe80::1/64")],
                &["2001:db8::100"],
                "2001:db8::11",
                Some("fe80::1"),
                Some("2001:db8::100"),
            ),
            (
                "IPv4 VIP in the host's own subnet: secondary, the kernel picks the host's",
                vec![a("192.0.2.2/24"), secondary("192.0.2.100/24")],
                &["192.0.2.100"],
                "192.0.2.11",
                Some("192.0.2.2"),
                None,
            ),
            (
                "IPv4 VIP added before the host's own address: primary, the trap",
                vec![a("192.0.2.100/24"), secondary("192.0.2.2/24")],
                &["192.0.2.100"],
                "192.0.2.11",
                Some("192.0.2.2"),
                Some("192.0.2.100"),
            ),
            (
                "IPv4 VIP in the backends' subnet, the host's own address in another: the trap",
                vec![a("192.0.2.130/25"), a("192.0.2.100/25")],
                &["192.0.2.100"],
                "192.0.2.11",
                Some("192.0.2.130"),
                Some("192.0.2.100"),
            ),
            (
                "IPv4 /32 VIP: no subnet of its own, the first primary",
                vec![a("192.0.2.2/24"), a("192.0.2.100/32")],
                &["192.0.2.100"],
                "192.0.2.11",
                Some("192.0.2.2"),
                None,
            ),
            (
                "IPv4: the address of the destination's subnet, not the first",
                vec![a("192.0.2.130/25"), a("192.0.2.2/25")],
                &[],
                "192.0.2.11",
                Some("192.0.2.2"),
                None,
            ),
            (
                "IPv4: only VIPs: nothing of our own",
                vec![a("192.0.2.100/24"), a("2001:db8::2/64")],
                &["192.0.2.100"],
                "192.0.2.11",
                None,
                Some("192.0.2.100"),
            ),
        ];
        for (what, addrs, vips, dst, ours, kernel_vip) in cases {
            let vips: Vec<IpAddr> = vips.iter().map(|v| ip(v)).collect();
            let got = choose(ip(dst), &addrs, &vips);
            let want = Choice {
                ours: ours.map(ip),
                kernel_vip: kernel_vip.map(ip),
            };
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn a_link_local_source_is_bound_with_the_interface_as_scope() {
        let (tx, rx) = watch::channel(SourceView {
            ifindex: 7,
            addrs: vec![a("fe80::1/64"), a("192.0.2.2/24")],
            vips: Vec::new(),
        });
        let sources = Sources::new(rx);
        let (bind, _) = sources.choose(ip("fe80::11"));
        assert_eq!(bind, Some("[fe80::1%7]:0".parse().unwrap()));
        let (bind, _) = sources.choose(ip("192.0.2.11"));
        assert_eq!(bind, Some("192.0.2.2:0".parse().unwrap()));
        tx.send_replace(SourceView::default());
        assert_eq!(sources.choose(ip("192.0.2.11")).0, None, "always current");
    }
}
