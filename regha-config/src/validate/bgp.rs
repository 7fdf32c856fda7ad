//! `bgp:`: which VIPs are announced as routes, and when. One VIP is
//! announced by BGP or held by VRRP, never both; an announced VIP must be a
//! service's (a route with nothing behind it would draw traffic to a
//! blackhole).

use std::net::IpAddr;
use std::time::Duration;

use super::check::{Check, at_most, each, maybe};
use super::cross::leading_ip;
use crate::raw;
use crate::types::{
    BgpConfig, DEFAULT_BGP_DRAIN_TIMEOUT, DEFAULT_BGP_ROUTE_PROTOCOL, DEFAULT_BGP_WARMUP,
    DEFAULT_VTYSH, FrrConfig, RESERVED_ROUTE_PROTOCOLS,
};

/// A warm-up beyond this keeps a restarted LB out of the ECMP group for
/// longer than any health check needs to decide.
const MAX_WARMUP: Duration = Duration::from_secs(600);
const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// The VIPs `bgp:` announces, as far as they parse: the listed ones, or by
/// default every service VIP that no VRRP instance holds. Used by the VRRP
/// rules too, which must not ask an instance to hold them.
pub(super) fn announced(
    bgp: Option<&raw::Bgp>,
    services: &[raw::Service],
    instances: &[(String, &raw::Vrrp)],
) -> Vec<IpAddr> {
    let Some(bgp) = bgp else {
        return Vec::new();
    };
    if let Some(list) = &bgp.vips {
        return list.iter().filter_map(|t| leading_ip(t)).collect();
    }
    let held = held_by_vrrp(services, instances);
    let mut out: Vec<IpAddr> = (services.iter())
        .filter(|s| s.vrrp_instance.is_none())
        .filter_map(|s| s.vip.as_deref().and_then(leading_ip))
        .filter(|ip| !held.contains(ip))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn held_by_vrrp(services: &[raw::Service], instances: &[(String, &raw::Vrrp)]) -> Vec<IpAddr> {
    let named = (services.iter())
        .filter(|s| s.vrrp_instance.is_some())
        .filter_map(|s| s.vip.as_deref().and_then(leading_ip));
    (instances.iter())
        .flat_map(|(_, v)| v.virtual_ipaddresses.iter().flatten())
        .filter_map(|t| leading_ip(t))
        .chain(named)
        .collect()
}

pub(super) fn bgp(
    c: &mut Check,
    b: &raw::Bgp,
    services: &[raw::Service],
    instances: &[(String, &raw::Vrrp)],
    role_set: bool,
) -> Option<BgpConfig> {
    let service_vips: Vec<IpAddr> = (services.iter())
        .filter_map(|s| s.vip.as_deref().and_then(leading_ip))
        .collect();
    let held = held_by_vrrp(services, instances);
    let mut seen: Vec<IpAddr> = Vec::new();
    let vips = match &b.vips {
        Some(list) => each(c, "bgp.vips", list, |c, at, text| {
            let ip = c.ip(at, text.split('/').next().unwrap_or(text))?;
            if text.contains('/') {
                return c.fail(
                    at,
                    format!("{text:?}: give the address alone; it is announced as {ip}/{}", full(ip)),
                );
            }
            if seen.contains(&ip) {
                return c.fail(at, format!("{ip} is listed twice: list each VIP once"));
            }
            seen.push(ip);
            if !service_vips.contains(&ip) {
                return c.fail(
                    at,
                    format!("{ip} is no service's VIP: its route would draw traffic that nothing serves; add a service for it or leave it out"),
                );
            }
            if held.contains(&ip) {
                return c.fail(
                    at,
                    format!("{ip} is held by VRRP: a VIP is announced by BGP or held by VRRP, never both; take it out of the instance's virtual_ipaddresses (and the service's vrrp_instance) or out of bgp.vips"),
                );
            }
            Some(ip)
        })
        .and_then(|v| {
            if v.is_empty() {
                c.fail(
                    "bgp.vips",
                    "an empty list: give the VIPs to announce, or leave `vips` out to announce every service VIP that no VRRP instance holds",
                )
            } else {
                Some(v)
            }
        }),
        None => {
            let v = announced(Some(b), services, instances);
            if v.is_empty() {
                c.fail(
                    "bgp",
                    "every service VIP is held by VRRP, so there is nothing to announce: list the VIPs to announce in bgp.vips (and take them out of VRRP), or leave `bgp` out",
                )
            } else {
                Some(v)
            }
        }
    };
    if !role_set
        && instances.is_empty()
        && let Some(v) = &vips
    {
        for (i, s) in services.iter().enumerate() {
            if let Some(ip) = s.vip.as_deref().and_then(leading_ip)
                && !v.contains(&ip)
            {
                c.fail::<()>(
                    format!("services[{i}].vip"),
                    format!("{ip} is not in bgp.vips and there is no `vrrp` or `role` to hold it: add it to bgp.vips, or set `role`"),
                );
            }
        }
    }
    let min_healthy: Option<u32> = c.int("bgp.min_healthy", b.min_healthy, Some(1), 1..=1024);
    if let (Some(min), Some(vips)) = (min_healthy, &vips) {
        for ip in vips {
            let backends: usize = (services.iter())
                .filter(|s| s.vip.as_deref().and_then(leading_ip) == Some(*ip))
                .map(|s| s.backends.as_ref().map_or(0, Vec::len))
                .sum();
            if backends > 0 && (min as usize) > backends {
                c.fail::<()>(
                    "bgp.min_healthy",
                    format!("{min} is more than the {backends} backends behind {ip}: it would never be announced"),
                );
            }
        }
    }
    let warmup = c
        .dur("bgp.warmup", b.warmup.as_deref(), DEFAULT_BGP_WARMUP)
        .and_then(|d| {
            if d > MAX_WARMUP {
                c.fail(
                    "bgp.warmup",
                    "longer than 10m: a restarted LB would stay out of the group for that long",
                )
            } else {
                Some(d)
            }
        });
    let route_protocol = c
        .int(
            "bgp.route_protocol",
            b.route_protocol,
            Some(DEFAULT_BGP_ROUTE_PROTOCOL),
            1..=255,
        )
        .and_then(|p: u8| match RESERVED_ROUTE_PROTOCOLS.iter().find(|(n, _)| *n == p) {
            Some((_, name)) => c.fail(
                "bgp.route_protocol",
                format!("{p} is the {name:?} protocol: pick a number no daemon uses, such as {DEFAULT_BGP_ROUTE_PROTOCOL}"),
            ),
            None => Some(p),
        });
    let drain_timeout = c
        .dur(
            "bgp.drain_timeout",
            b.drain_timeout.as_deref(),
            DEFAULT_BGP_DRAIN_TIMEOUT,
        )
        .and_then(|d| c.result("bgp.drain_timeout", at_most(d, MAX_DRAIN_TIMEOUT, "1h")));
    let frr = match &b.frr {
        None => Some(Some(FrrConfig::default())),
        Some(f) => maybe(f.as_ref(), |f| frr(c, f)),
    };
    Some(BgpConfig {
        vips: vips?,
        min_healthy: min_healthy?,
        warmup: warmup?,
        route_protocol: route_protocol?,
        drain_timeout: drain_timeout?,
        frr: frr?,
    })
}

fn frr(c: &mut Check, f: &raw::Frr) -> Option<FrrConfig> {
    let vtysh = c.absolute("bgp.frr.vtysh", f.vtysh.as_deref().unwrap_or(DEFAULT_VTYSH));
    let pathspace = maybe(f.pathspace.as_deref(), |p| {
        let ok = (1..=63).contains(&p.len())
            && p.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch));
        if ok {
            Some(p.to_owned())
        } else {
            c.fail(
                "bgp.frr.pathspace",
                format!("{p:?}: expected FRR's `-N` name, [A-Za-z0-9_.-]{{1,63}} (the network namespace FRR runs in)"),
            )
        }
    });
    Some(FrrConfig {
        vtysh: vtysh?,
        pathspace: pathspace?,
    })
}

fn full(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}
