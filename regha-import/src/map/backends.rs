//! A backend section's `server` lines as `services[].backends`: addresses
//! only (regha resolves no names), on the service's own port (DSR delivers
//! the client's packets unchanged), neither `backup` nor `disabled`.

use std::net::IpAddr;

use regha_config::{BackendConfig, MAX_BACKENDS_PER_SERVICE};

use crate::haproxy::{Proxy, Server};
use crate::notes::Notes;
use crate::warning::{Diag, Severity, lines_list};

/// `ADDR[:PORT]`, `[v6]:PORT`, `ipv6@v6:PORT`: the address and the port, if any.
fn server_address(text: &str) -> Option<(IpAddr, Option<&str>)> {
    let text = text.trim_start_matches("ipv4@").trim_start_matches("ipv6@");
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once(']')?;
        return Some((host.parse().ok()?, port.strip_prefix(':')));
    }
    let (host, port) = text.rsplit_once(':')?;
    Some((host.parse().ok()?, Some(port)))
}

/// The servers of `be` regha can use, on the service's `port`; their notes
/// go to `backends[i]` in `notes`.
pub(super) fn backends(
    be: &Proxy,
    port: u16,
    vip: IpAddr,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Vec<BackendConfig> {
    let mut out: Vec<BackendConfig> = Vec::new();
    let mut unchecked = Vec::new();
    for s in &be.servers {
        if let Some((b, note)) = backend(s, port, vip, &out, diag) {
            if !s.check {
                unchecked.push(s.line);
            }
            if out.len() >= MAX_BACKENDS_PER_SERVICE {
                diag.warn(
                    s.line,
                    "more than 1024 servers: the rest are not imported",
                    None,
                );
                break;
            }
            notes.beside(&format!("backends[{}]", out.len()), note);
            out.push(b);
        }
    }
    if !unchecked.is_empty() {
        diag.note(
            unchecked[0],
            format!("servers without `check` ({}): HAProxy never checked them; regha checks every backend", lines_list(&unchecked)),
            None,
        );
    }
    out
}

/// One server as a backend and the note on it, or None (warned).
fn backend(
    s: &Server,
    port: u16,
    vip: IpAddr,
    so_far: &[BackendConfig],
    diag: &mut Diag<'_>,
) -> Option<(BackendConfig, String)> {
    let name = &s.name;
    if s.disabled {
        diag.warn(
            s.line,
            format!("server {name} is `disabled`: not imported"),
            Some("add it to `backends` when it should take traffic"),
        );
        return None;
    }
    if s.backup {
        diag.warn(
            s.line,
            format!("server {name} is a `backup` server: regha has none (every backend in the ring takes traffic), so it is not imported"),
            Some("add it to `backends` if it should take a share of the traffic all the time"),
        );
        return None;
    }
    let Some((address, server_port)) = server_address(&s.address) else {
        diag.warn(
            s.line,
            format!("server {name}: {:?} is not an IP address (regha needs addresses, it resolves no names): not imported", s.address),
            Some("write the address the name resolves to"),
        );
        return None;
    };
    if !is_backend_address(address, vip) {
        diag.warn(s.line, format!("server {name} {address}: not a unicast address of the VIP's family (and not the VIP): not imported"), None);
        return None;
    }
    if so_far.iter().any(|b| b.address == address) {
        diag.warn(s.line, format!("server {name} {address}: the address is already a backend of this service: not imported"), None);
        return None;
    }
    let mut note = format!("server {name}, {}", diag.at(s.line));
    match server_port {
        Some(p) if p.parse::<u16>().ok() == Some(port) => {}
        None | Some("") => {}
        Some(p) => {
            diag.warn(
                s.line,
                format!("server {name} listens on port {p}, the service on {port}: with DSR the backend receives the packets unchanged, on the VIP's port {port}"),
                Some("make the backend listen on the service port (the VIP on its `lo`), e.g. the registry's `http.addr: :PORT`"),
            );
            note.push_str(&format!(" (was port {p})"));
        }
    }
    if let Some((_, p)) = &s.params.check_port {
        diag.warn(
            s.line,
            format!("server {name}: `port {p}` (check port): regha checks address:{port}"),
            None,
        );
    }
    let weight = match &s.params.weight {
        None => 1,
        Some((_, w)) => match w.parse::<u32>() {
            Ok(0) => {
                diag.warn(
                    s.line,
                    format!("server {name} has weight 0 (no new traffic): not imported"),
                    None,
                );
                return None;
            }
            Ok(n) if n <= 65535 => n,
            _ => {
                diag.warn(
                    s.line,
                    format!("server {name}: weight {w:?} is not a number in 1..=65535: 1 is used"),
                    None,
                );
                1
            }
        },
    };
    if !s.ignored.is_empty() {
        let proxyish = s
            .ignored
            .iter()
            .any(|i| i.starts_with("send-proxy") || i.starts_with("ssl"));
        diag.push(
            s.line,
            if proxyish { Severity::Warning } else { Severity::Note },
            format!("server {name}: ignored (no meaning when packets go straight to the backend): {}", s.ignored.iter().map(|i| i.trim()).collect::<Vec<_>>().join(", ")),
            proxyish.then_some("with DSR the backend gets the client's packets as they are: no PROXY header, no TLS to it from the LB"),
        );
    }
    let backend = BackendConfig {
        address,
        port,
        weight,
        mac: None,
    };
    Some((backend, note))
}

/// Whether `address` can be a backend of a service on `vip`: a unicast
/// address of the VIP's family, not the VIP itself (HAProxy servers and
/// keepalived real servers alike).
pub(super) fn is_backend_address(address: IpAddr, vip: IpAddr) -> bool {
    address.is_ipv6() == vip.is_ipv6()
        && address != vip
        && !address.is_unspecified()
        && !address.is_loopback()
        && !address.is_multicast()
}
