//! The VIP routes themselves: `blackhole VIP/32 proto <n>` in the main
//! table, over rtnetlink. Blackhole, because the route only carries the
//! announcement: XDP steers the VIP's service traffic before the kernel
//! routes it, and anything else to the VIP (a port no service has) is
//! dropped rather than routed back out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use netlink_packet_route::{
    AddressFamily,
    route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteType},
};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::net::{NetError, nl};

fn full(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn message(vip: IpAddr, protocol: u8) -> RouteMessage {
    let mut m = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(vip, full(vip))
        .expect("a host prefix of the address's own family is valid")
        .protocol(RouteProtocol::from(protocol))
        .kind(RouteType::BlackHole)
        .build();
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m
}

/// Adds (or replaces in place) the VIP's route: announced.
pub async fn announce(handle: &Handle, vip: IpAddr, protocol: u8) -> Result<(), NetError> {
    handle
        .route()
        .add(message(vip, protocol))
        .replace()
        .execute()
        .await
        .map_err(nl(format!(
            "add route blackhole {vip}/{} proto {protocol}",
            full(vip)
        )))
}

/// Deletes the VIP's route, if there: withdrawn.
pub async fn withdraw(handle: &Handle, vip: IpAddr, protocol: u8) -> Result<(), NetError> {
    match handle.route().del(message(vip, protocol)).execute().await {
        Ok(()) => Ok(()),
        // ESRCH: no such route, which is what was asked.
        Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::ESRCH => Ok(()),
        Err(e) => Err(nl(format!(
            "delete route {vip}/{} proto {protocol}",
            full(vip)
        ))(e)),
    }
}

/// The host routes of `protocol` in the main table (both families): what
/// an earlier run left.
pub async fn list(handle: &Handle, protocol: u8) -> Result<Vec<IpAddr>, NetError> {
    let mut out = Vec::new();
    let queries = [
        RouteMessageBuilder::<Ipv4Addr>::new().build(),
        RouteMessageBuilder::<Ipv6Addr>::new().build(),
    ];
    for q in queries {
        let mut routes = handle.route().get(q).execute();
        while let Some(r) = routes.try_next().await.map_err(nl("dump routes"))? {
            if u8::from(r.header.protocol) != protocol
                || r.header.table != RouteHeader::RT_TABLE_MAIN
            {
                continue;
            }
            let dst = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
                RouteAttribute::Destination(RouteAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
                _ => None,
            });
            if let Some(ip) = dst
                && r.header.destination_prefix_length == full(ip)
                && matches!(
                    r.header.address_family,
                    AddressFamily::Inet | AddressFamily::Inet6
                )
            {
                out.push(ip);
            }
        }
    }
    Ok(out)
}
