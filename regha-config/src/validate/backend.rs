//! `services[].backends`: addresses, ports (DSR keeps the service's),
//! weights and static MACs.

use std::net::{IpAddr, SocketAddr};

use super::check::{Check, each, maybe};
use crate::raw;
use crate::types::{BackendConfig, MAX_BACKENDS_PER_SERVICE};

pub(super) fn backends(
    c: &mut Check,
    at: &str,
    list: Option<&[raw::Backend]>,
    vip: Option<IpAddr>,
    service_port: Option<u16>,
) -> Option<Vec<BackendConfig>> {
    let list = match list {
        None => return c.fail(at, "required: at least one backend"),
        Some([]) => return c.fail(at, "empty: at least one backend is required"),
        Some(l) if l.len() > MAX_BACKENDS_PER_SERVICE => {
            let n = l.len();
            return c.fail(
                at,
                format!("{n} backends: at most {MAX_BACKENDS_PER_SERVICE} per service"),
            );
        }
        Some(list) => list,
    };
    let mut seen: Vec<(SocketAddr, String)> = Vec::new();
    each(c, at, list, |c, bp, b| {
        let path = |key: &str| format!("{bp}.{key}");
        let address = c.required(
            &path("address"),
            b.address.as_deref(),
            "the backend's IP address",
        );
        let address = address.and_then(|t| c.ip(&path("address"), t)).and_then(|a| match vip {
            Some(vip) if vip.is_ipv4() != a.is_ipv4() => c.fail(
                path("address"),
                format!("{a} is not of the family of the service vip {vip}: DSR at L2 needs the same family"),
            ),
            Some(vip) if vip == a => c.fail(path("address"), format!("{a} is the service vip: a backend needs an address of its own")),
            _ => Some(a),
        });
        let port = match b.port {
            Some(_) => c.int(&path("port"), b.port, None, 1..=65535),
            None => service_port,
        };
        let dsr_mismatch = port.zip(service_port).filter(|(port, sp)| port != sp);
        if let Some((port, sp)) = dsr_mismatch {
            c.fail::<()>(
                path("port"),
                format!("{port} is not the service port {sp}: DSR forwards packets unchanged, so the backend receives them on {sp} (omit `port`)"),
            );
        }
        let weight = c.int(&path("weight"), b.weight, Some(1), 1..=65535);
        let mac = maybe(b.mac.as_deref(), |t| c.result(&path("mac"), parse_mac(t)));
        if let (Some(a), Some(port)) = (address, port) {
            let sa = SocketAddr::new(a, port);
            if let Some((_, other)) = seen.iter().find(|(s, _)| *s == sa) {
                return c.fail(bp, format!("{sa} is listed twice (also {other})"));
            }
            seen.push((sa, bp.to_owned()));
        }
        Some(BackendConfig {
            address: address?,
            port: port.filter(|_| dsr_mismatch.is_none())?,
            weight: weight?,
            mac: mac?,
        })
    })
}

fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    let hex = |b: &&str| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit());
    if parts.len() != 6 || !parts.iter().all(hex) {
        return Err(format!(
            "{text:?} is not a MAC address: expected six hex bytes like 02:00:00:00:00:11"
        ));
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).map_err(|e| e.to_string())?;
    }
    match mac {
        [0, 0, 0, 0, 0, 0] => Err(format!("{text} is all zeros: not a host's MAC")),
        [first, ..] if first & 1 == 1 => Err(format!(
            "{text} is a multicast MAC: a backend has a unicast one"
        )),
        mac => Ok(mac),
    }
}
