//! The FRR configuration for BGP mode, as `regha-agent bgp-setup` prints
//! it: for an LB (its bgpd neighbour with BFD, a route-map that exports
//! regha's VIP routes and nothing else, nothing accepted inbound, no
//! graceful restart), and for the router the LBs peer with (ECMP over
//! every LB, BFD). The lab runs exactly this text, so it is tested
//! against a real FRR.
//!
//! Why each line is there:
//! - `redistribute kernel route-map REGHA-VIPS`: zebra sees regha's routes
//!   (`proto 250`) as kernel routes; the prefix-list lets only the VIPs out
//!   (without it every other kernel route of the LB would leak);
//! - `route-map REGHA-DENY in`: an LB learns nothing from the router;
//! - `bgp graceful-restart-disable`: a restarting LB must not keep its
//!   routes at the router (its readiness decides them, not the session);
//! - `timers 1 3`, `advertisement-interval 0`: a withdrawal leaves at once
//!   (the default eBGP interval holds updates for up to 30 s... FRR 8
//!   defaults to 0 for eBGP in `datacenter` profile; set either way);
//! - BFD on the session: a cut link is seen in `multiplier` ×
//!   `interval`, not the 3 s hold time.

use std::fmt::Write;
use std::net::IpAddr;

/// What the LB side needs.
#[derive(Clone, Debug)]
pub struct LbSide {
    pub hostname: String,
    pub router_id: IpAddr,
    pub asn: u32,
    pub router: IpAddr,
    pub router_asn: u32,
    pub vips: Vec<IpAddr>,
    pub bfd_interval_ms: u32,
    pub bfd_multiplier: u8,
}

/// What the router side needs.
#[derive(Clone, Debug)]
pub struct RouterSide {
    pub hostname: String,
    pub router_id: IpAddr,
    pub asn: u32,
    pub lbs: Vec<IpAddr>,
    pub lb_asn: u32,
    pub vips: Vec<IpAddr>,
    pub bfd_interval_ms: u32,
    pub bfd_multiplier: u8,
    pub maximum_paths: u32,
}

fn afi(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "ipv4" } else { "ipv6" }
}

fn host(ip: IpAddr) -> String {
    format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 })
}

/// The prefix-lists of the VIPs, one per family present.
fn prefix_lists(out: &mut String, vips: &[IpAddr]) {
    for (i, vip) in vips.iter().enumerate() {
        let list = if vip.is_ipv4() {
            "REGHA-VIPS"
        } else {
            "REGHA-VIPS6"
        };
        let _ = writeln!(
            out,
            "{} prefix-list {list} seq {} permit {}",
            if vip.is_ipv4() { "ip" } else { "ipv6" },
            (i + 1) * 5,
            host(*vip)
        );
    }
    out.push_str("!\n");
}

fn families(vips: &[IpAddr]) -> Vec<&'static str> {
    let mut f = Vec::new();
    if vips.iter().any(IpAddr::is_ipv4) {
        f.push("ipv4");
    }
    if vips.iter().any(IpAddr::is_ipv6) {
        f.push("ipv6");
    }
    f
}

fn route_maps(out: &mut String, vips: &[IpAddr]) {
    for (n, fam) in families(vips).iter().enumerate() {
        let list = if *fam == "ipv4" {
            "REGHA-VIPS"
        } else {
            "REGHA-VIPS6"
        };
        let _ = writeln!(out, "route-map REGHA-VIPS permit {}", (n + 1) * 10);
        let _ = writeln!(
            out,
            " match {} address prefix-list {list}",
            if *fam == "ipv4" { "ip" } else { "ipv6" }
        );
        out.push_str("exit\n!\n");
    }
    out.push_str("route-map REGHA-DENY deny 10\nexit\n!\n");
}

fn bfd_profile(out: &mut String, interval: u32, multiplier: u8) {
    let _ = write!(
        out,
        "bfd\n profile regha\n  detect-multiplier {multiplier}\n  receive-interval {interval}\n  transmit-interval {interval}\n exit\n !\nexit\n!\n"
    );
}

/// frr.conf for an LB.
pub fn lb_config(s: &LbSide) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "! FRR for regha LB {}: announces the VIPs regha-agent adds as routes\n! (proto 250), to {} (AS {}), with BFD {} ms x {}.",
        s.hostname, s.router, s.router_asn, s.bfd_interval_ms, s.bfd_multiplier
    );
    let _ = writeln!(out, "frr defaults datacenter\nhostname {}\n!", s.hostname);
    prefix_lists(&mut out, &s.vips);
    route_maps(&mut out, &s.vips);
    bfd_profile(&mut out, s.bfd_interval_ms, s.bfd_multiplier);
    let r = s.router;
    let _ = writeln!(out, "router bgp {}", s.asn);
    let _ = writeln!(out, " bgp router-id {}", s.router_id);
    out.push_str(" no bgp default ipv4-unicast\n bgp graceful-restart-disable\n");
    let _ = writeln!(out, " neighbor {r} remote-as {}", s.router_asn);
    let _ = writeln!(out, " neighbor {r} timers 1 3");
    let _ = writeln!(out, " neighbor {r} advertisement-interval 0");
    let _ = writeln!(out, " neighbor {r} bfd profile regha");
    for fam in families(&s.vips) {
        let _ = writeln!(out, " !\n address-family {fam} unicast");
        out.push_str("  redistribute kernel route-map REGHA-VIPS\n");
        if fam == afi(r) {
            let _ = writeln!(out, "  neighbor {r} activate");
            let _ = writeln!(out, "  neighbor {r} route-map REGHA-DENY in");
            let _ = writeln!(out, "  neighbor {r} route-map REGHA-VIPS out");
        }
        out.push_str(" exit-address-family\n");
    }
    out.push_str("exit\n!\n");
    out
}

/// frr.conf for the router in front of the LBs.
pub fn router_config(s: &RouterSide) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "! FRR for the router in front of {} regha LBs (AS {}): ECMP over every\n! LB that announces a VIP, BFD {} ms x {}. Also set\n! net.ipv4.fib_multipath_hash_policy=1 (and net.ipv6.fib_multipath_hash_policy=1)\n! so that the router hashes on ports, not only addresses.",
        s.lbs.len(),
        s.lb_asn,
        s.bfd_interval_ms,
        s.bfd_multiplier
    );
    let _ = writeln!(out, "frr defaults datacenter\nhostname {}\n!", s.hostname);
    prefix_lists(&mut out, &s.vips);
    route_maps(&mut out, &s.vips);
    bfd_profile(&mut out, s.bfd_interval_ms, s.bfd_multiplier);
    let _ = writeln!(out, "router bgp {}", s.asn);
    let _ = writeln!(out, " bgp router-id {}", s.router_id);
    out.push_str(" no bgp default ipv4-unicast\n bgp graceful-restart-disable\n");
    out.push_str(" neighbor LBS peer-group\n");
    let _ = writeln!(out, " neighbor LBS remote-as {}", s.lb_asn);
    out.push_str(" neighbor LBS timers 1 3\n neighbor LBS advertisement-interval 0\n neighbor LBS bfd profile regha\n");
    for lb in &s.lbs {
        let _ = writeln!(out, " neighbor {lb} peer-group LBS");
    }
    for fam in families(&s.vips) {
        let _ = writeln!(out, " !\n address-family {fam} unicast");
        let _ = writeln!(out, "  maximum-paths {}", s.maximum_paths);
        out.push_str("  neighbor LBS activate\n  neighbor LBS route-map REGHA-VIPS in\n  neighbor LBS route-map REGHA-DENY out\n");
        out.push_str(" exit-address-family\n");
    }
    out.push_str("exit\n!\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb() -> LbSide {
        LbSide {
            hostname: "lb1".into(),
            router_id: "198.51.100.11".parse().unwrap(),
            asn: 65010,
            router: "198.51.100.1".parse().unwrap(),
            router_asn: 65000,
            vips: vec![
                "203.0.113.10".parse().unwrap(),
                "2001:db8::10".parse().unwrap(),
            ],
            bfd_interval_ms: 100,
            bfd_multiplier: 3,
        }
    }

    #[test]
    fn an_lb_exports_only_its_vips_and_accepts_nothing() {
        let c = lb_config(&lb());
        for line in [
            "ip prefix-list REGHA-VIPS seq 5 permit 203.0.113.10/32",
            "ipv6 prefix-list REGHA-VIPS6 seq 10 permit 2001:db8::10/128",
            " match ip address prefix-list REGHA-VIPS",
            "  redistribute kernel route-map REGHA-VIPS",
            "  neighbor 198.51.100.1 route-map REGHA-DENY in",
            "  neighbor 198.51.100.1 route-map REGHA-VIPS out",
            " neighbor 198.51.100.1 bfd profile regha",
            " bgp graceful-restart-disable",
            "  receive-interval 100",
            "  detect-multiplier 3",
        ] {
            assert!(c.lines().any(|l| l == line), "{line:?} missing from:\n{c}");
        }
        // The IPv4 neighbour is activated in its own family only.
        assert_eq!(
            c.matches("neighbor 198.51.100.1 activate").count(),
            1,
            "{c}"
        );
    }

    #[test]
    fn the_router_spreads_over_every_lb() {
        let c = router_config(&RouterSide {
            hostname: "router".into(),
            router_id: "198.51.100.1".parse().unwrap(),
            asn: 65000,
            lbs: vec![
                "198.51.100.11".parse().unwrap(),
                "198.51.100.12".parse().unwrap(),
            ],
            lb_asn: 65010,
            vips: vec!["203.0.113.10".parse().unwrap()],
            bfd_interval_ms: 300,
            bfd_multiplier: 3,
            maximum_paths: 8,
        });
        for line in [
            " neighbor 198.51.100.11 peer-group LBS",
            " neighbor 198.51.100.12 peer-group LBS",
            "  maximum-paths 8",
            "  neighbor LBS route-map REGHA-VIPS in",
            "  neighbor LBS route-map REGHA-DENY out",
            "  receive-interval 300",
        ] {
            assert!(c.lines().any(|l| l == line), "{line:?} missing from:\n{c}");
        }
        assert!(!c.contains("address-family ipv6"), "{c}");
    }
}
