//! HAProxy's frontends, backends and listens as regha `services`, and its
//! stats page as the `stats` listener.
//!
//! A service is a bound port (`frontend` + `default_backend`, or a `listen`
//! with servers) on a VIP: the bind's own address if it has one, else the
//! first VRRP address. Its health check, hash and backends come from the
//! backend section, with what that inherits from `defaults`.

use std::net::IpAddr;

use regha_config::{ServiceConfig, StatsConfig};
use regha_model::{Forwarding, HashMode, Protocol};

use super::{backends, health, sanitize_name, stats, unmapped};
use crate::ImportError;
use crate::haproxy::{Bind, Kind, Proxies, Proxy};
use crate::notes::Notes;
use crate::warning::{Diag, Warning, lines_list};

/// At most this many services, as the dataplane holds them.
const MAX_SERVICES: usize = 256;

/// The `services` and `stats` sections, with their notes (paths from the
/// document's root).
pub(crate) struct Services {
    pub services: Vec<ServiceConfig>,
    pub stats: Option<StatsConfig>,
    pub notes: Notes,
}

/// A service per bound port of each frontend and listen, on the VIPs.
pub(crate) fn services(
    file: &str,
    p: &Proxies,
    vips: &[IpAddr],
    vip_override: Option<IpAddr>,
    warnings: &mut Vec<Warning>,
) -> Result<Services, ImportError> {
    let mut diag = Diag::new(file, warnings);
    let mut notes = Notes::default();
    let is_stats =
        |x: &Proxy| !x.stats.is_empty() && x.servers.is_empty() && x.default_backend.is_none();
    let mut stats = None;
    for x in p
        .proxies
        .iter()
        .filter(|x| is_stats(x) && !x.binds.is_empty())
    {
        if stats.is_some() {
            diag.warn(
                x.line,
                format!(
                    "a second stats page ({}): regha has one stats listener, the first is kept",
                    x.name
                ),
                None,
            );
        } else {
            let (config, stats_notes) = stats::stats(x, &mut diag);
            notes.mount("stats", stats_notes);
            stats = Some(config);
        }
    }

    let mut services: Vec<ServiceConfig> = Vec::new();
    let mut used: Vec<&Proxy> = Vec::new();
    let mut taken: Vec<(IpAddr, u16)> = Vec::new();
    let mut first_vip_note = true;
    for fe in p
        .proxies
        .iter()
        .filter(|x| matches!(x.kind, Kind::Frontend | Kind::Listen) && !is_stats(x))
    {
        if fe.binds.is_empty() {
            if fe.kind == Kind::Frontend {
                diag.warn(
                    fe.line,
                    format!("frontend {} binds nothing: ignored", fe.name),
                    None,
                );
            }
            continue;
        }
        let be = if fe.kind == Kind::Listen && !fe.servers.is_empty() {
            fe
        } else if let Some((line, name)) = &fe.default_backend {
            match p.find(name) {
                Some(b) => b,
                None => {
                    diag.warn(
                        *line,
                        format!(
                            "default_backend {name}: no such backend: frontend {} not imported",
                            fe.name
                        ),
                        None,
                    );
                    continue;
                }
            }
        } else {
            diag.warn(fe.line, format!("{} {} has no default_backend (or servers): not imported", keyword(fe), fe.name), Some("regha sends a port's traffic to one set of backends: name it with default_backend"));
            continue;
        };
        if let Some(l) = fe.use_backend.first() {
            diag.warn(
                *l,
                format!("use_backend ({}): choosing a backend by request content needs HTTP; regha steers packets, so all of the port's traffic goes to {}", lines_list(&fe.use_backend), be.name),
                Some("give each backend its own port or VIP, as a service of its own"),
            );
        }
        used.push(fe);
        if !std::ptr::eq(fe, be) {
            used.push(be);
        }
        for b in &fe.binds {
            let Some(vip) = vip_for(b, fe, vips, vip_override, &mut first_vip_note, &mut diag)?
            else {
                continue;
            };
            if taken.contains(&(vip, b.port)) {
                diag.warn(
                    b.line,
                    format!(
                        "{vip}:{} is already a service: this bind is not imported again",
                        b.port
                    ),
                    None,
                );
                continue;
            }
            if services.len() >= MAX_SERVICES {
                diag.warn(
                    b.line,
                    "more than 256 services: the rest are not imported",
                    None,
                );
                break;
            }
            if let Some((s, service_notes)) = service(fe, be, b, vip, &services, &mut diag) {
                taken.push((vip, b.port));
                notes.mount(&format!("services[{}]", services.len()), service_notes);
                services.push(s);
            }
        }
    }
    for b in p.proxies.iter().filter(|x| x.kind == Kind::Backend) {
        if !used.iter().any(|u| std::ptr::eq(*u, b)) {
            diag.note(
                b.line,
                format!(
                    "backend {} is no frontend's default_backend: not imported",
                    b.name
                ),
                None,
            );
        }
    }
    unmapped::notes(&used, &mut diag);
    if services.is_empty() {
        return Err(ImportError::NoServices(format!(
            "{file}: no service could be imported: regha needs a `frontend` with `bind` and `default_backend`, or a `listen` with `bind` and `server`s (see the warnings above)"
        )));
    }
    notes.gap("services");
    Ok(Services {
        services,
        stats,
        notes,
    })
}

/// `frontend` or `listen`, as the section was written.
fn keyword(fe: &Proxy) -> &'static str {
    if fe.kind == Kind::Listen {
        "listen"
    } else {
        "frontend"
    }
}

/// The VIP of one bind, or None (warned) when it has none regha can serve.
fn vip_for(
    b: &Bind,
    fe: &Proxy,
    vips: &[IpAddr],
    vip_override: Option<IpAddr>,
    first_note: &mut bool,
    diag: &mut Diag<'_>,
) -> Result<Option<IpAddr>, ImportError> {
    if let Some(a) = b.address {
        if a.is_loopback() || a.is_multicast() || a.is_unspecified() {
            diag.warn(
                b.line,
                format!("bind {a}:{}: not an address clients reach: ignored", b.port),
                None,
            );
            return Ok(None);
        }
        if vips.is_empty() || vips.contains(&a) {
            return Ok(Some(a));
        }
        diag.warn(
            b.line,
            format!("bind {a}:{} is not on a VRRP virtual address: regha serves only VIPs", b.port),
            Some("add the address to the keepalived instance's virtual_ipaddress (or `vrrp.virtual_ipaddresses`) if clients use it"),
        );
        return Ok(None);
    }
    let want_v6 = b.any_v6;
    if let Some(v) = vip_override {
        return Ok(Some(v));
    }
    let family: Vec<IpAddr> = vips
        .iter()
        .copied()
        .filter(|v| v.is_ipv6() == want_v6)
        .collect();
    let Some(first) = family.first() else {
        if !vips.is_empty() {
            diag.warn(
                b.line,
                format!(
                    "bind on every {} address, but the VRRP instance has no such VIP: ignored",
                    if want_v6 { "IPv6" } else { "IPv4" }
                ),
                None,
            );
            return Ok(None);
        }
        return Err(ImportError::NoVip {
            file: diag.file.to_owned(),
            line: b.line,
            message: format!(
                "{} {} binds every address (port {}), and without a keepalived config there is no VIP to serve it on: pass --keepalived keepalived.conf, or --vip ADDRESS",
                keyword(fe),
                fe.name,
                b.port
            ),
        });
    };
    if family.len() > 1 && *first_note {
        *first_note = false;
        diag.note(
            b.line,
            format!("HAProxy listened on every address; the service uses the first VIP, {first}, of the {} the VRRP instances hold", family.len()),
            Some("copy the service for each other VIP that clients connect to"),
        );
    }
    Ok(Some(*first))
}

/// The service of one bind, with its notes (paths relative to it), or None
/// (warned) when its backend has no server regha can use.
fn service(
    fe: &Proxy,
    be: &Proxy,
    b: &Bind,
    vip: IpAddr,
    existing: &[ServiceConfig],
    diag: &mut Diag<'_>,
) -> Option<(ServiceConfig, Notes)> {
    let mut notes = Notes::default();
    let backends = backends::backends(be, b.port, vip, diag, &mut notes);
    if backends.is_empty() {
        diag.warn(
            be.line,
            format!(
                "backend {} has no server regha can use: the service on port {} is not imported",
                be.name, b.port
            ),
            None,
        );
        return None;
    }
    let base = sanitize_name(&be.name, "service");
    let mut name = base.clone();
    let mut n = 2;
    while existing.iter().any(|s| s.name == name) {
        name = if n == 2 {
            format!("{base}-{}", b.port)
        } else {
            format!("{base}-{n}")
        };
        n += 1;
    }
    let from = if std::ptr::eq(fe, be) {
        format!("listen {} ({})", be.name, diag.at(be.line))
    } else {
        format!("backend {} ({})", be.name, diag.at(be.line))
    };
    notes.above(
        "",
        format!(
            "{} {} ({}) -> {from}",
            keyword(fe),
            fe.name,
            diag.at(fe.line)
        ),
    );
    let bind_text = match b.address {
        Some(a) => format!("bind {}", std::net::SocketAddr::new(a, b.port)),
        None => format!("bind :{}", b.port),
    };
    let bind_at = format!("{bind_text}, {}", diag.at(b.line));
    if b.address.is_some() {
        notes.beside("vip", &bind_at);
    } else {
        notes.beside("vip", "the VRRP virtual address");
    }
    notes.beside("port", bind_at);
    notes.beside("forwarding", "the backends answer clients directly");
    let hash = hash(be, diag, &mut notes);
    let (health, health_notes) = health::health(be, diag);
    notes.mount("health", health_notes);
    let service = ServiceConfig {
        name,
        vip,
        port: b.port,
        protocol: Protocol::Tcp,
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

/// `balance`: `source` is `hash: source`; what counts connections or takes
/// turns has no stateless equivalent and becomes `hash: flow`.
fn hash(be: &Proxy, diag: &mut Diag<'_>, notes: &mut Notes) -> HashMode {
    if let Some((line, words)) = &be.settings.hash_type {
        let kind = words.first().map_or("", String::as_str);
        diag.note(
            *line,
            format!("hash-type {}: regha always hashes consistently (Maglev), so a backend going up or down moves only its own clients", words.join(" ")),
            None,
        );
        if kind != "consistent" && kind != "map-based" {
            diag.warn(*line, format!("hash-type {kind:?}: unknown, ignored"), None);
        }
    }
    let Some((line, words)) = &be.settings.balance else {
        diag.warn(
            be.line,
            format!("backend {} has no `balance`: HAProxy used roundrobin, which needs per-connection state; the import uses `hash: flow`, which spreads connections statelessly", be.name),
            Some("use `hash: source` to keep each client on one backend (`balance source`)"),
        );
        notes.beside("hash", "HAProxy's default roundrobin");
        return HashMode::Flow;
    };
    let algo = words.first().map_or("", String::as_str);
    let at = diag.at(*line);
    match algo {
        "source" => {
            notes.beside("hash", format!("balance source, {at}"));
            HashMode::Source
        }
        "roundrobin" | "static-rr" | "leastconn" | "first" | "random" => {
            diag.warn(
                *line,
                format!("balance {algo} cannot be done statelessly: it needs to count connections or keep a turn, and regha hashes every packet; the import uses `hash: flow` (each connection hashed on its 5-tuple, spread over the backends)"),
                Some("use `hash: source` if a client should stay on one backend"),
            );
            notes.beside(
                "hash",
                format!("balance {algo}, {at}: the closest stateless mapping"),
            );
            HashMode::Flow
        }
        _ => {
            diag.warn(
                *line,
                format!("balance {} hashes on HTTP content, which regha never sees: the import uses `hash: source`", words.join(" ")),
                None,
            );
            notes.beside(
                "hash",
                format!("balance {algo}, {at}: needs HTTP, replaced"),
            );
            HashMode::Source
        }
    }
}
