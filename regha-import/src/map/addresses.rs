//! The addresses of a `vrrp_instance`: its virtual addresses
//! (`vrrp.virtual_ipaddresses`) and where its adverts come from and go to
//! (`vrrp.unicast_src`, `vrrp.unicast_peers`).

use std::net::IpAddr;

use crate::ImportError;
use crate::keepalived::{At, Instance};
use crate::notes::Notes;
use crate::warning::Diag;

/// One advert carries at most this many addresses.
const MAX_VIPS: usize = 255;

/// `virtual_ipaddress` as (address, prefix): one family (the first
/// address's), each address once; at least one, or nothing is imported.
pub(super) fn vips(
    i: &Instance,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Result<Vec<(IpAddr, u8)>, ImportError> {
    let iface = i.interface.as_ref().map(|a| a.v.as_str());
    let mut out: Vec<(IpAddr, u8)> = Vec::new();
    for v in &i.vips {
        let (addr, prefix) = match v.v.address.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (v.v.address.as_str(), None),
        };
        let Ok(ip) = addr.parse::<IpAddr>() else {
            continue;
        };
        let max = if ip.is_ipv6() { 128 } else { 32 };
        let prefix = match prefix.map(str::parse::<u8>) {
            None => max,
            Some(Ok(p)) if (1..=max).contains(&p) => p,
            Some(_) => {
                diag.warn(
                    v.line,
                    format!(
                        "virtual_ipaddress {}: bad prefix, the import uses /{max}",
                        v.v.address
                    ),
                    None,
                );
                max
            }
        };
        if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
            diag.warn(
                v.line,
                format!("virtual_ipaddress {ip} is not a host's unicast address: left out"),
                None,
            );
            continue;
        }
        // keepalived's family: IPv6 with `native_ipv6`, else the first
        // address's.
        let family_v6 = i
            .native_ipv6
            .map(|_| true)
            .or(out.first().map(|(f, _)| f.is_ipv6()));
        if let Some(v6) = family_v6
            && v6 != ip.is_ipv6()
        {
            let why = if i.native_ipv6.is_some() {
                "`native_ipv6` makes the instance IPv6"
            } else {
                "one VRRP instance carries one address family, the first address's"
            };
            diag.warn(v.line, format!("virtual_ipaddress {ip}: {why}: left out"), Some("keepalived did not advertise it either; give it an instance of its own (a second `vrrp` entry, any VRID: the families' virtual routers are apart), in the same `sync_group` if it must move with this one"));
            continue;
        }
        if out.iter().any(|(o, _)| *o == ip) {
            diag.warn(
                v.line,
                format!("virtual_ipaddress {ip} is listed twice: once is kept"),
                None,
            );
            continue;
        }
        if out.len() == MAX_VIPS {
            diag.warn(
                i.line,
                "more than 255 virtual addresses: only the first 255 are kept (one advert carries 255)",
                None,
            );
            break;
        }
        let mut note = diag.at(v.line);
        if let Some(dev) = &v.v.dev
            && Some(dev.as_str()) != iface
        {
            diag.warn(v.line, format!("virtual_ipaddress {ip} is on `dev {dev}`: regha adds every VIP to the LB interface"), Some("regha steers only traffic arriving on its interface; keep this VIP with keepalived if it belongs elsewhere"));
            note.push_str(&format!(" (was dev {dev})"));
        }
        if let Some(label) = &v.v.label {
            diag.note(v.line, format!("virtual_ipaddress {ip}: `label {label}` dropped, regha adds the address without a label"), Some("`ip addr show` lists it under the interface without the alias name"));
        }
        if !v.v.other.is_empty() {
            diag.note(
                v.line,
                format!(
                    "virtual_ipaddress {ip}: options ignored: {}",
                    v.v.other.join(" ")
                ),
                None,
            );
        }
        notes.beside(&format!("virtual_ipaddresses[{}]", out.len()), note);
        out.push((ip, prefix));
    }
    if out.is_empty() {
        return Err(ImportError::Instance {
            file: diag.file.to_owned(),
            line: i.line,
            message: format!(
                "vrrp_instance {} has no usable virtual_ipaddress: regha needs at least one VIP",
                i.name
            ),
        });
    }
    Ok(out)
}

/// `unicast_src_ip` (or `mcast_src_ip`) and `unicast_peer`: addresses of
/// the VIPs' family that are not VIPs, each once.
pub(super) fn unicast(
    i: &Instance,
    vips: &[(IpAddr, u8)],
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> (Option<IpAddr>, Vec<IpAddr>) {
    let v6 = vips.iter().any(|(ip, _)| ip.is_ipv6());
    let addr = |a: &At<String>, what: &str, diag: &mut Diag<'_>| -> Option<IpAddr> {
        match a.v.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 && !vips.iter().any(|(v, _)| *v == ip) => Some(ip),
            _ => {
                diag.warn(a.line, format!("{what} {:?} is not an address of the VIPs' family (and not a VIP): left out", a.v), None);
                None
            }
        }
    };
    let mut src = None;
    if let Some(a) = &i.unicast_src_ip {
        src = addr(a, "unicast_src_ip", diag);
        if src.is_some() {
            notes.beside("unicast_src", diag.at(a.line));
        }
    }
    if let Some(a) = &i.mcast_src_ip {
        if src.is_some() {
            diag.warn(a.line, "mcast_src_ip and unicast_src_ip both set: regha has one source address, unicast_src_ip is kept", None);
        } else if let Some(ip) = addr(a, "mcast_src_ip", diag) {
            diag.note(
                a.line,
                "mcast_src_ip becomes `vrrp.unicast_src`: regha sends every advert, multicast ones included, from that address (adverts stay multicast while unicast_peers is empty)",
                Some("leave it out if it is the interface's primary address: that is regha's default"),
            );
            notes.beside(
                "unicast_src",
                format!(
                    "mcast_src_ip, {}: the source of every advert, multicast too",
                    diag.at(a.line)
                ),
            );
            src = Some(ip);
        }
    }
    let mut peers: Vec<IpAddr> = Vec::new();
    for p in &i.unicast_peers {
        let Some(ip) = addr(p, "unicast_peer", diag) else {
            continue;
        };
        if src == Some(ip) || peers.contains(&ip) {
            diag.warn(p.line, format!("unicast_peer {ip} is listed twice or is this host's own source address: left out"), None);
        } else {
            notes.beside(&format!("unicast_peers[{}]", peers.len()), diag.at(p.line));
            peers.push(ip);
        }
    }
    if peers.is_empty() {
        let group = if v6 { "ff02::12" } else { "224.0.0.18" };
        notes.above(
            "virtual_ipaddresses",
            format!("No unicast_peers: adverts are multicast to {group}."),
        );
    }
    (src, peers)
}
