//! keepalived's load-balancer blocks (`virtual_server`, with
//! `virtual_server_group`) as regha `services`: LVS direct routing
//! (`lb_kind DR`) is what regha does, so a virtual server maps to a service
//! on the same VIP and port, its real servers to backends (with their
//! weights), its scheduler to a hash, and the first real server's checker
//! to the service's health check ([`lvs_health`](super::lvs_health)).
//!
//! What differs is warned about at its line: a NAT or TUN virtual server
//! becomes direct server return (the backends need `regha-agent
//! backend-setup`), schedulers that count connections or take turns become
//! the stateless `hash: flow`, and `fwmark` services, which select traffic
//! by an iptables mark, have no regha equivalent.

use super::backends::is_backend_address;
use std::net::IpAddr;

use regha_config::{BackendConfig, MAX_BACKENDS_PER_SERVICE, ServiceConfig};
use regha_model::{Forwarding, HashMode, Protocol};

use super::{lvs_health, sanitize_name};
use crate::keepalived::{Keepalived, RealServer, Target, VirtualServer};
use crate::notes::Notes;
use crate::warning::{Diag, Warning, group_note};

/// At most this many addresses from one range of a `virtual_server_group`.
const MAX_RANGE: u32 = 256;

/// A service another input already imported: its address and where it
/// came from (`haproxy.cfg:16`), to refuse a second one on it.
pub(crate) struct Taken {
    pub vip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    pub from: String,
}

/// The services of the keepalived file's virtual servers, each with its
/// notes (paths relative to the service). `held` is every VRRP VIP (empty
/// without VRRP: a static role holds whatever the services name);
/// `taken` what HAProxy already imported, which wins.
pub(crate) fn services(
    file: &str,
    conf: &Keepalived,
    held: &[IpAddr],
    taken: &[Taken],
    names: &[String],
    warnings: &mut Vec<Warning>,
) -> Vec<(ServiceConfig, Notes)> {
    let mut diag = Diag::new(file, warnings);
    let mut out: Vec<(ServiceConfig, Notes)> = Vec::new();
    for vs in &conf.virtual_servers {
        let Some(protocol) = protocol(vs, &mut diag) else {
            continue;
        };
        let mut kept = Vec::new();
        for (vip, port, line) in targets(vs, conf, &mut diag) {
            if !held.is_empty() && !held.contains(&vip) {
                diag.warn(
                    line,
                    format!("virtual_server {vip} {port} is not on a VRRP virtual address: regha serves only VIPs; not imported"),
                    Some("add the address to a vrrp_instance's virtual_ipaddress (or a `vrrp` instance's `virtual_ipaddresses`) if clients use it"),
                );
                continue;
            }
            if let Some(t) =
                (taken.iter()).find(|t| (t.vip, t.port, t.protocol) == (vip, port, protocol))
            {
                diag.warn(
                    line,
                    format!("virtual_server {vip} {port} is also HAProxy's service ({}): the HAProxy one is kept, this one is not imported", t.from),
                    Some("with LVS in front of HAProxy, HAProxy's servers are the real backends: regha sends clients to them directly; drop one of the two if that is not so"),
                );
                continue;
            }
            kept.push((vip, port, line));
        }
        // Said only of what is imported.
        let vips: Vec<IpAddr> = kept.iter().map(|(v, _, _)| *v).collect();
        forwarding_warnings(vs, &vips, &mut diag);
        for (vip, port, line) in kept {
            if out
                .iter()
                .any(|(s, _)| (s.vip, s.port, s.protocol) == (vip, port, protocol))
            {
                diag.warn(
                    vs.line,
                    format!("virtual_server {vip} {port} is already a service: not imported again"),
                    None,
                );
                continue;
            }
            if out.len() + taken.len() >= regha_common::MAX_SERVICES as usize {
                diag.warn(
                    vs.line,
                    "more than 256 services: the rest are not imported",
                    None,
                );
                return out;
            }
            let all_names: Vec<&str> = (names.iter().map(String::as_str))
                .chain(out.iter().map(|(s, _)| s.name.as_str()))
                .collect();
            if let Some(s) = service(vs, (vip, port, line), protocol, &all_names, &mut diag) {
                out.push(s);
            }
        }
        group_note(
            &mut diag,
            "virtual_server settings with no regha equivalent, ignored",
            &vs.minor,
        );
        let rs_minor: Vec<(usize, String)> = (vs.real_servers.iter())
            .flat_map(|r| r.minor.iter().cloned())
            .collect();
        group_note(
            &mut diag,
            "real_server settings with no regha equivalent, ignored",
            &rs_minor,
        );
        unmapped(vs, &mut diag);
    }
    for g in &conf.vs_groups {
        let used = conf
            .virtual_servers
            .iter()
            .any(|vs| vs.target == Target::Group(g.name.clone()));
        if !used {
            diag.note(
                g.line,
                format!(
                    "virtual_server_group {} is no virtual_server's group: not imported",
                    g.name
                ),
                None,
            );
        }
    }
    out
}

/// `protocol`: TCP (the default) or UDP; None (warned) for SCTP.
fn protocol(vs: &VirtualServer, diag: &mut Diag<'_>) -> Option<Protocol> {
    let Some(p) = &vs.protocol else {
        return Some(Protocol::Tcp);
    };
    match p.v.to_ascii_uppercase().as_str() {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        _ => {
            diag.warn(
                p.line,
                format!(
                    "protocol {}: regha balances TCP and UDP only: this virtual_server is not imported",
                    p.v
                ),
                None,
            );
            None
        }
    }
}

/// The (VIP, port) pairs a virtual server serves; what has none is warned.
fn targets(
    vs: &VirtualServer,
    conf: &Keepalived,
    diag: &mut Diag<'_>,
) -> Vec<(IpAddr, u16, usize)> {
    let one = |ip: &str, port: Option<&str>, line: usize, diag: &mut Diag<'_>| {
        let ips = addresses(ip);
        if ips.is_empty() {
            diag.warn(
                line,
                format!("virtual_server address {ip:?} is not an IP address or a range regha reads: not imported"),
                Some("write one `virtual_server IP PORT` per address"),
            );
            return Vec::new();
        }
        match port.map(str::parse::<u16>) {
            Some(Ok(p)) if p > 0 => ips.into_iter().map(|a| (a, p, line)).collect(),
            Some(_) => {
                diag.warn(
                    line,
                    format!(
                        "virtual_server {ip}: port {:?} is not in 1..=65535: not imported",
                        port.unwrap_or_default()
                    ),
                    None,
                );
                Vec::new()
            }
            None => {
                diag.warn(
                    line,
                    format!("virtual_server {ip} has no port (a persistent service on every port): regha balances one port per service; not imported"),
                    Some("write one service per port clients use (a registry: 5000 or 443)"),
                );
                Vec::new()
            }
        }
    };
    match &vs.target {
        Target::Addr { ip, port } => one(ip, port.as_deref(), vs.line, diag),
        Target::Fwmark(mark) => {
            diag.warn(
                vs.line,
                format!("virtual_server fwmark {mark}: it balanced what an iptables rule marked; regha balances a VIP and port: not imported"),
                Some("write a virtual_server (or a `services` entry) for each VIP and port the mark matched"),
            );
            Vec::new()
        }
        Target::Group(name) => {
            let Some(g) = conf.vs_groups.iter().find(|g| &g.name == name) else {
                diag.warn(
                    vs.line,
                    format!("virtual_server group {name}: no `virtual_server_group {name}`: not imported"),
                    None,
                );
                return Vec::new();
            };
            for line in &g.fwmarks {
                diag.warn(
                    *line,
                    format!("fwmark in virtual_server_group {name}: regha balances a VIP and port, not an iptables mark: left out"),
                    None,
                );
            }
            (g.entries.iter())
                .flat_map(|e| one(&e.v.0, e.v.1.as_deref(), e.line, diag))
                .collect()
        }
    }
}

/// `IP`, or a range `192.0.2.1-10` (the last part) or
/// `192.0.2.250-192.0.3.10`, as keepalived writes them; empty when it is
/// neither (or a range of more than [`MAX_RANGE`]).
fn addresses(text: &str) -> Vec<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return vec![ip];
    }
    let Some((first, last)) = text.split_once('-') else {
        return Vec::new();
    };
    let Ok(IpAddr::V4(start)) = first.parse::<IpAddr>() else {
        return Vec::new();
    };
    let end = match last.parse::<u8>() {
        Ok(n) => {
            let mut o = start.octets();
            o[3] = n;
            std::net::Ipv4Addr::from(o)
        }
        Err(_) => match last.parse() {
            Ok(a) => a,
            Err(_) => return Vec::new(),
        },
    };
    let (s, e) = (u32::from(start), u32::from(end));
    if e < s || e - s >= MAX_RANGE {
        return Vec::new();
    }
    (s..=e)
        .map(|n| IpAddr::V4(std::net::Ipv4Addr::from(n)))
        .collect()
}

/// One service of `vs` on `vip:port`, with its notes; None (warned) when
/// no real server is usable.
fn service(
    vs: &VirtualServer,
    (vip, port, line): (IpAddr, u16, usize),
    protocol: Protocol,
    names: &[&str],
    diag: &mut Diag<'_>,
) -> Option<(ServiceConfig, Notes)> {
    let mut notes = Notes::default();
    let backends = backends(vs, vip, port, diag, &mut notes);
    if backends.is_empty() {
        diag.warn(
            vs.line,
            format!("virtual_server {vip} {port} has no real_server regha can use: not imported"),
            None,
        );
        return None;
    }
    let base = sanitize_name(&format!("vs_{vip}_{port}"), "service");
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name.as_str()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    let written = match &vs.target {
        Target::Group(g) => format!("virtual_server group {g}"),
        _ => format!("virtual_server {vip} {port}"),
    };
    notes.above("", format!("{written} ({})", diag.at(vs.line)));
    notes.beside("vip", diag.at(line));
    notes.beside("port", diag.at(line));
    if let Some(p) = &vs.protocol {
        notes.beside("protocol", format!("protocol {}, {}", p.v, diag.at(p.line)));
    }
    notes.beside("forwarding", forwarding_note(vs, diag));
    let hash = hash(vs, diag, &mut notes);
    let (health, health_notes) = lvs_health::health(vs, port, protocol, diag);
    notes.mount("health", health_notes);
    let service = ServiceConfig {
        name,
        vip,
        port,
        protocol,
        hash,
        forwarding: Forwarding::Dsr,
        ring_size: regha_common::DEFAULT_RING_SIZE,
        health,
        backends,
        vrrp_instance: None,
        allow: Vec::new(),
    };
    Some((service, notes))
}

/// The first word of an `lb_kind` (`lvs_method TUN type gue ...`).
fn method(text: &str) -> String {
    (text.split_whitespace().next())
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// `lb_kind` (`lvs_method`), the virtual server's and its real servers':
/// DR is regha's forwarding; NAT (LVS's default) and TUN are warned, once
/// for all the VIPs the virtual server serves.
fn forwarding_warnings(vs: &VirtualServer, vips: &[IpAddr], diag: &mut Diag<'_>) {
    let Some(first) = vips.first() else {
        return;
    };
    let kind = vs.kind.as_ref();
    let mut methods: Vec<(usize, String)> = vec![(
        kind.map_or(vs.line, |k| k.line),
        kind.map_or_else(|| "NAT".to_owned(), |k| method(&k.v)),
    )];
    methods.extend(
        (vs.real_servers.iter())
            .filter_map(|r| r.lvs_method.as_ref())
            .map(|m| (m.line, method(&m.v))),
    );
    let mut list: Vec<String> = vips.iter().map(IpAddr::to_string).collect();
    list.dedup();
    let the_vips = if list.len() == 1 {
        format!("the VIP {first} on `lo`, not answer ARP for it")
    } else {
        format!(
            "the VIPs {} on `lo`, not answer ARP for them",
            list.join(", ")
        )
    };
    let setup: Vec<String> = (list.iter())
        .map(|v| format!("`regha-agent backend-setup --vip {v} --apply`"))
        .collect();
    for (line, m) in &methods {
        let (why, extra) = match m.as_str() {
            "DR" => continue,
            "NAT" if kind.is_none() && *line == vs.line => (
                "no lb_kind: LVS used NAT (the real servers answered through the LB, which rewrote the addresses)",
                "; and stop routing their replies through the LB",
            ),
            "NAT" => (
                "lb_kind NAT: the real servers answered through the LB, which rewrote the addresses",
                "; and stop routing their replies through the LB",
            ),
            "TUN" => (
                "lb_kind TUN: the real servers received the packets in an IP-in-IP tunnel",
                "; the tunnel interface is no longer needed",
            ),
            _ => ("this lb_kind is unknown to the import", ""),
        };
        diag.warn(
            *line,
            format!("{why}; regha forwards by direct server return only: the backends must hold {the_vips}, share the LB's L2 segment, and answer clients directly"),
            Some(&format!("run {} on every real server{extra}", setup.join(" and "))),
        );
    }
}

/// The comment beside `forwarding`: where DR came from, or what it was.
fn forwarding_note(vs: &VirtualServer, diag: &Diag<'_>) -> String {
    match &vs.kind {
        Some(k) if method(&k.v) == "DR" => format!("lb_kind DR, {}", diag.at(k.line)),
        Some(k) => format!(
            "was lb_kind {}, {}: the backends need backend-setup",
            k.v,
            diag.at(k.line)
        ),
        None => "was NAT (no lb_kind): the backends need backend-setup".to_owned(),
    }
}

/// `lb_algo` (`lvs_sched`) and `persistence_timeout` as the hash.
fn hash(vs: &VirtualServer, diag: &mut Diag<'_>, notes: &mut Notes) -> HashMode {
    let algo = vs
        .algo
        .as_ref()
        .map_or_else(|| "wlc".to_owned(), |a| a.v.to_ascii_lowercase());
    let line = vs.algo.as_ref().map_or(vs.line, |a| a.line);
    let written = match &vs.algo {
        Some(a) => format!("lb_algo {}, {}", a.v, diag.at(a.line)),
        None => "no lb_algo: LVS's default wlc".to_owned(),
    };
    let port_flag = vs
        .algo_flags
        .iter()
        .find(|f| f.v == "sh-port" || f.v == "mh-port");
    if let Some(f) = port_flag
        && matches!(algo.as_str(), "sh" | "mh")
    {
        diag.note(
            f.line,
            format!("`{}`: LVS hashed the source port too, so a client's connections spread: that is regha's `hash: flow`", f.v),
            None,
        );
        notes.beside("hash", format!("{written} with {}", f.v));
        return HashMode::Flow;
    }
    if let Some(p) = &vs.persistence
        && matches!(algo.as_str(), "sh" | "mh")
    {
        diag.note(
            p.line,
            "persistence_timeout: regha's source hash keeps each client on its backend without a timeout",
            None,
        );
    }
    match algo.as_str() {
        "sh" => {
            notes.beside("hash", written);
            HashMode::Source
        }
        "mh" => {
            notes.beside("hash", format!("{written}: Maglev on the source, as regha"));
            HashMode::Source
        }
        _ if vs.persistence.is_some() => {
            let p = vs.persistence.as_ref().map_or(vs.line, |p| p.line);
            diag.note(
                p,
                format!("persistence_timeout with lb_algo {algo}: LVS kept each client on one real server for a while; regha's `hash: source` keeps it there statelessly, for as long as that backend is up"),
                None,
            );
            notes.beside(
                "hash",
                format!("{written}, persistence_timeout, {}", diag.at(p)),
            );
            HashMode::Source
        }
        "dh" => {
            diag.warn(
                line,
                "lb_algo dh hashes the destination address, which for one VIP sends every client to one real server: the import uses `hash: source`",
                None,
            );
            notes.beside("hash", format!("{written}: replaced"));
            HashMode::Source
        }
        _ => {
            diag.warn(
                line,
                format!("lb_algo {algo} cannot be done statelessly: it counts connections or takes turns, and regha hashes every packet; the import uses `hash: flow` (each connection hashed on its 5-tuple, spread over the backends by weight)"),
                Some("use `hash: source` if a client should stay on one backend (`lb_algo sh`, or persistence_timeout)"),
            );
            notes.beside("hash", format!("{written}: the closest stateless mapping"));
            HashMode::Flow
        }
    }
}

/// The real servers regha can use, on the service's `port`; their notes
/// go to `backends[i]`.
fn backends(
    vs: &VirtualServer,
    vip: IpAddr,
    port: u16,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Vec<BackendConfig> {
    let mut out: Vec<BackendConfig> = Vec::new();
    for rs in &vs.real_servers {
        let Some((b, note)) = backend(rs, vip, port, &out, diag) else {
            continue;
        };
        if out.len() >= MAX_BACKENDS_PER_SERVICE {
            diag.warn(
                rs.line,
                "more than 1024 real servers: the rest are not imported",
                None,
            );
            break;
        }
        notes.beside(&format!("backends[{}]", out.len()), note);
        out.push(b);
    }
    out
}

/// One real server as a backend and the note on it, or None (warned).
fn backend(
    rs: &RealServer,
    vip: IpAddr,
    port: u16,
    so_far: &[BackendConfig],
    diag: &mut Diag<'_>,
) -> Option<(BackendConfig, String)> {
    let a = &rs.address;
    let Ok(address) = a.parse::<IpAddr>() else {
        diag.warn(
            rs.line,
            format!("real_server {a:?} is not an IP address: not imported"),
            None,
        );
        return None;
    };
    if !is_backend_address(address, vip) {
        diag.warn(rs.line, format!("real_server {address}: not a unicast address of the VIP's family (and not the VIP): not imported"), None);
        return None;
    }
    if so_far.iter().any(|b| b.address == address) {
        diag.warn(
            rs.line,
            format!("real_server {address} is listed twice: once is kept"),
            None,
        );
        return None;
    }
    let mut note = format!("real_server, {}", diag.at(rs.line));
    if let Some(p) = &rs.port
        && p.parse::<u16>().ok() != Some(port)
    {
        diag.warn(
            rs.line,
            format!("real_server {address} listens on port {p}, the service on {port}: with direct server return the backend receives the packets unchanged, on the VIP's port {port}"),
            Some("make the backend listen on the service port (the VIP on its `lo`), e.g. the registry's `http.addr: :PORT`"),
        );
        note.push_str(&format!(" (was port {p})"));
    }
    let weight = match &rs.weight {
        None => 1,
        Some(w) => match w.v.parse::<u32>() {
            Ok(0) => {
                diag.warn(
                    w.line,
                    format!("real_server {address} has weight 0 (LVS sent it no new connections): not imported"),
                    Some("add it to `backends` when it should take traffic"),
                );
                return None;
            }
            Ok(n) if n <= 65535 => {
                note.push_str(&format!(", weight {n}"));
                n
            }
            _ => {
                diag.warn(
                    w.line,
                    format!(
                        "real_server {address}: weight {:?} is not in 1..=65535: 1 is used",
                        w.v
                    ),
                    None,
                );
                1
            }
        },
    };
    for (line, key) in &rs.unmapped {
        let (why, hint) = match key.as_str() {
            "notify_up" | "notify_down" => (
                "regha runs no script when a backend changes state",
                Some("watch `regha_backend_up` on /metrics, or `regha-agent status`"),
            ),
            "uthreshold" | "lthreshold" => (
                "regha counts no connections per backend, so it has no connection limit",
                None,
            ),
            _ => ("no regha equivalent", None),
        };
        diag.warn(
            *line,
            format!("`{key}` of real_server {address}: {why}: ignored"),
            hint,
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

/// The virtual server's settings that change what it does and have no
/// regha equivalent: one warning each.
fn unmapped(vs: &VirtualServer, diag: &mut Diag<'_>) {
    for (line, key) in &vs.unmapped {
        let (why, hint) = match key.as_str() {
            "sorry_server" | "sorry_server_inhibit" | "sorry_server_lvs_method" => (
                "regha has no fallback server: with every backend down, new connections are dropped",
                Some(
                    "add the sorry server as a backend of its own service, or keep serving it elsewhere",
                ),
            ),
            "quorum" | "quorum_up" | "quorum_down" | "hysteresis" => (
                "regha has no quorum per service",
                Some(
                    "`vrrp.track_backends: { min_healthy: N, weight: ... }` moves the VIP when too few backends are up",
                ),
            ),
            "persistence_engine" => ("regha has no SIP persistence", None),
            _ => ("no regha equivalent", None),
        };
        diag.warn(*line, format!("`{key}`: {why}: ignored"), hint);
    }
}

#[cfg(test)]
mod tests {
    use super::addresses;

    #[test]
    fn group_ranges_expand_as_keepalived_writes_them() {
        let a = |t: &str| -> Vec<String> { addresses(t).iter().map(|a| a.to_string()).collect() };
        assert_eq!(a("192.0.2.1"), ["192.0.2.1"]);
        assert_eq!(a("2001:db8::1"), ["2001:db8::1"]);
        assert_eq!(a("192.0.2.1-3"), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        assert_eq!(a("192.0.2.255-192.0.3.0"), ["192.0.2.255", "192.0.3.0"]);
        assert!(a("192.0.2.3-1").is_empty());
        assert!(a("10.0.0.0-10.1.0.0").is_empty(), "too many");
        assert!(a("host.example").is_empty());
    }
}
