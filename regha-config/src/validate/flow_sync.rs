//! `flow_sync:`: the key file's path, the peers or the multicast group,
//! the port and the rate. The key itself is read at load
//! ([`crate::flow_sync_key`]), not here.

use std::net::IpAddr;

use super::check::{Check, each};
use super::cross::leading_ip;
use crate::raw;
use crate::types::{
    DEFAULT_FLOW_SYNC_GROUP, DEFAULT_FLOW_SYNC_MAX_RATE, DEFAULT_FLOW_SYNC_PORT, FlowSyncConfig,
};

/// Flows per second: below 100, a busy LB's new flows mostly wait and are
/// dropped, so a takeover finds them unsynced; a million is far beyond the
/// connections per second an LB in front of registries sees.
const MAX_RATES: std::ops::RangeInclusive<i64> = 100..=1_000_000;

pub(super) fn flow_sync(
    c: &mut Check,
    f: &raw::FlowSync,
    services: &[raw::Service],
    instances: &[(String, &raw::Vrrp)],
) -> Option<FlowSyncConfig> {
    let key_file = c
        .required(
            "flow_sync.key_file",
            f.key_file.as_deref(),
            "the absolute path of the shared key (HMAC-SHA256), the same file on every LB; make one with `head -c 32 /dev/urandom > /etc/regha/flow-sync.key; chmod 600 /etc/regha/flow-sync.key`",
        )
        .and_then(|p| c.absolute("flow_sync.key_file", p));
    let vips = vips(services, instances);
    let own: Vec<IpAddr> = (instances.iter())
        .filter_map(|(_, v)| v.unicast_src.as_deref().and_then(leading_ip))
        .collect();
    let mut seen: Vec<IpAddr> = Vec::new();
    let peers = each(c, "flow_sync.peers", &f.peers, |c, at, text| {
        let ip = c.ip(at, text)?;
        if seen.contains(&ip) {
            return c.fail(at, format!("{ip} is listed twice: list each peer once"));
        }
        seen.push(ip);
        if vips.contains(&ip) {
            return c.fail(
                at,
                format!(
                    "{ip} is a VIP, which moves between the LBs: give each other LB's own address"
                ),
            );
        }
        if own.contains(&ip) {
            return c.fail(
                at,
                format!(
                    "{ip} is this LB's own address (vrrp.unicast_src): list the other LBs only"
                ),
            );
        }
        Some(ip)
    });
    let group = match f.group.as_deref().map(str::trim) {
        None => Some(DEFAULT_FLOW_SYNC_GROUP),
        Some(text) => match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_multicast() => Some(ip),
            Ok(ip) => c.fail(
                "flow_sync.group",
                format!("{ip} is not a multicast address: give a group such as 224.0.0.81 (IPv4) or ff02::1:81 (IPv6), or list the other LBs in peers"),
            ),
            Err(_) => c.fail(
                "flow_sync.group",
                format!("{text:?} is not an IP address: give a multicast group such as 224.0.0.81"),
            ),
        },
    };
    let port = c.int(
        "flow_sync.port",
        f.port,
        Some(DEFAULT_FLOW_SYNC_PORT),
        1..=u16::MAX.into(),
    );
    let max_rate = c.int(
        "flow_sync.max_rate",
        f.max_rate,
        Some(DEFAULT_FLOW_SYNC_MAX_RATE),
        MAX_RATES,
    );
    Some(FlowSyncConfig {
        key_file: key_file?,
        key: None,
        peers: peers?,
        group: group?,
        port: port?,
        max_rate: max_rate?,
    })
}

/// Every address that parsed as a VIP: the services' and the VRRP
/// instances' virtual addresses.
fn vips(services: &[raw::Service], instances: &[(String, &raw::Vrrp)]) -> Vec<IpAddr> {
    let services = (services.iter()).filter_map(|s| s.vip.as_deref().and_then(leading_ip));
    let virtual_addresses = (instances.iter())
        .flat_map(|(_, v)| v.virtual_ipaddresses.iter().flatten())
        .filter_map(|t| leading_ip(t));
    services.chain(virtual_addresses).collect()
}
