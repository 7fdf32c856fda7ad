//! HAProxy's frontends, backends and listens as regha `services`, and its
//! stats page as the `stats` listener.
//!
//! A service is a bound port (`frontend` + `default_backend`, or a `listen`
//! with servers) on a VIP: the bind's own address if it has one, else the
//! first VRRP address. Its health check, hash and backends come from the
//! backend section, with what that inherits from `defaults`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::emit::{BackendDraft, CheckDraft, HealthDraft, Noted, ServiceDraft, StatsDraft};
use super::haproxy::{self, Bind, Kind, Proxies, Proxy, Server};
use super::{Diag, ImportError, Warning, lines_list, rstatus, sanitize_name};

/// Where the import tells the operator to put the stats password.
pub(super) const STATS_PASSWORD_FILE: &str = "/etc/regha/stats.pass";
/// HAProxy's defaults when a server line leaves them out.
const HAPROXY_INTER: Duration = Duration::from_secs(2);
const HAPROXY_RISE: u32 = 2;
const HAPROXY_FALL: u32 = 3;
/// regha's default check timeout.
const REGHA_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn draft(
    file: &str,
    p: &Proxies,
    vips: &[IpAddr],
    vip_override: Option<IpAddr>,
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<ServiceDraft>, Option<StatsDraft>), ImportError> {
    let mut diag = Diag::new(file, warnings);
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
            stats = Some(stats_draft(x, &mut diag));
        }
    }

    let mut services: Vec<ServiceDraft> = Vec::new();
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
            diag.warn(fe.line, format!("{} {} has no default_backend (or servers): not imported", if fe.kind == Kind::Listen { "listen" } else { "frontend" }, fe.name), Some("regha sends a port's traffic to one set of backends: name it with default_backend"));
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
            if services.len() >= 256 {
                diag.warn(
                    b.line,
                    "more than 256 services: the rest are not imported",
                    None,
                );
                break;
            }
            if let Some(s) = service(fe, be, b, vip, &services, &mut diag) {
                taken.push((vip, b.port));
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
    grouped_notes(&used, &mut diag);
    if services.is_empty() {
        return Err(ImportError::NoServices(format!(
            "{file}: no service could be imported: regha needs a `frontend` with `bind` and `default_backend`, or a `listen` with `bind` and `server`s (see the warnings above)"
        )));
    }
    Ok((services, stats))
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
                if fe.kind == Kind::Listen {
                    "listen"
                } else {
                    "frontend"
                },
                fe.name,
                b.port
            ),
        });
    };
    if family.len() > 1 && *first_note {
        *first_note = false;
        diag.note(
            b.line,
            format!("HAProxy listened on every address; the service uses the first VIP, {first}, of the {} the VRRP instance holds", family.len()),
            Some("copy the service for each other VIP that clients connect to"),
        );
    }
    Ok(Some(*first))
}

fn service(
    fe: &Proxy,
    be: &Proxy,
    b: &Bind,
    vip: IpAddr,
    existing: &[ServiceDraft],
    diag: &mut Diag<'_>,
) -> Option<ServiceDraft> {
    let backends = backends(be, b.port, vip, diag);
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
    while existing.iter().any(|s| s.name.value == name) {
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
    let bind_text = match b.address {
        Some(a) => format!("bind {a}:{}", b.port),
        None => format!("bind :{}", b.port),
    };
    let vip_note = if b.address.is_some() {
        format!("{bind_text}, {}", diag.at(b.line))
    } else {
        "the VRRP virtual address".to_owned()
    };
    Some(ServiceDraft {
        intro: vec![format!(
            "{} {} ({}) -> {from}",
            if fe.kind == Kind::Listen {
                "listen"
            } else {
                "frontend"
            },
            fe.name,
            diag.at(fe.line)
        )],
        name: Noted::new(name, ""),
        vip: Noted::new(vip, vip_note),
        port: Noted::new(b.port, format!("{bind_text}, {}", diag.at(b.line))),
        hash: hash(be, diag),
        health: health(be, diag),
        backends,
    })
}

fn hash(be: &Proxy, diag: &mut Diag<'_>) -> Noted<&'static str> {
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
        return Noted::new("flow", "HAProxy's default roundrobin");
    };
    let algo = words.first().map_or("", String::as_str);
    let at = diag.at(*line);
    match algo {
        "source" => Noted::new("source", format!("balance source, {at}")),
        "roundrobin" | "static-rr" | "leastconn" | "first" | "random" => {
            diag.warn(
                *line,
                format!("balance {algo} cannot be done statelessly: it needs to count connections or keep a turn, and regha hashes every packet; the import uses `hash: flow` (each connection hashed on its 5-tuple, spread over the backends)"),
                Some("use `hash: source` if a client should stay on one backend"),
            );
            Noted::new(
                "flow",
                format!("balance {algo}, {at}: the closest stateless mapping"),
            )
        }
        _ => {
            diag.warn(
                *line,
                format!("balance {} hashes on HTTP content, which regha never sees: the import uses `hash: source`", words.join(" ")),
                None,
            );
            Noted::new(
                "source",
                format!("balance {algo}, {at}: needs HTTP, replaced"),
            )
        }
    }
}

/// The first server's parameters (else default-server's, else HAProxy's
/// defaults); servers that differ are reported.
fn health(be: &Proxy, diag: &mut Diag<'_>) -> HealthDraft {
    let st = &be.settings;
    let ds = &st.default_server;
    let first = be
        .servers
        .iter()
        .find(|s| !s.disabled && !s.backup)
        .or(be.servers.first());
    let pick =
        |f: fn(&haproxy::ServerParams) -> &Option<(usize, String)>| -> Option<(usize, String)> {
            first
                .and_then(|s| f(&s.params).clone())
                .or_else(|| f(ds).clone())
        };
    for s in &be.servers {
        let differs = |f: fn(&haproxy::ServerParams) -> &Option<(usize, String)>| {
            first.is_some_and(|fs| {
                f(&fs.params).as_ref().map(|v| &v.1) != f(&s.params).as_ref().map(|v| &v.1)
            })
        };
        if differs(|p| &p.inter) || differs(|p| &p.rise) || differs(|p| &p.fall) {
            diag.warn(s.line, format!("server {}: its inter/rise/fall differ from the first server's; regha has one health setting per service, the first server's", s.name), None);
        }
    }
    let interval = match pick(|p| &p.inter) {
        None => Noted::new(HAPROXY_INTER, "HAProxy's default inter 2000"),
        Some((line, text)) => match haproxy::time(&text) {
            Some(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => {
                Noted::new(d, format!("inter {text}, {}", diag.at(line)))
            }
            _ => {
                diag.warn(
                    line,
                    format!(
                        "inter {text:?} is not a time in (0, 1h]: HAProxy's default 2s is used"
                    ),
                    None,
                );
                Noted::new(HAPROXY_INTER, "HAProxy's default inter")
            }
        },
    };
    let count = |v: Option<(usize, String)>, key: &str, default: u32, diag: &mut Diag<'_>| match v {
        None => Noted::new(default, format!("HAProxy's default {key} {default}")),
        Some((line, text)) => match text.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => {
                Noted::new(n, format!("{key} {n}, {}", diag.at(line)))
            }
            _ => {
                diag.warn(
                    line,
                    format!(
                        "{key} {text:?} is not in 1..=100: HAProxy's default {default} is used"
                    ),
                    None,
                );
                Noted::new(default, format!("HAProxy's default {key}"))
            }
        },
    };
    let rise = count(pick(|p| &p.rise), "rise", HAPROXY_RISE, diag);
    let fall = count(pick(|p| &p.fall), "fall", HAPROXY_FALL, diag);
    let timeout = match &st.timeout_check {
        Some((line, text)) => match haproxy::time(text) {
            Some(d) if d > Duration::ZERO => {
                if d > interval.value {
                    diag.note(*line, format!("timeout check {text} is longer than the interval: regha bounds a check by its interval"), None);
                }
                Noted::new(
                    d.min(interval.value),
                    format!("timeout check {text}, {}", diag.at(*line)),
                )
            }
            _ => {
                diag.warn(
                    *line,
                    format!("timeout check {text:?} is not a time: regha's default is used"),
                    None,
                );
                Noted::new(REGHA_TIMEOUT.min(interval.value), "regha's default")
            }
        },
        None => Noted::new(
            REGHA_TIMEOUT.min(interval.value),
            "no `timeout check`: HAProxy waited up to inter; regha's default",
        ),
    };
    HealthDraft {
        check: check(be, diag),
        interval,
        timeout,
        rise,
        fall,
    }
}

fn check(be: &Proxy, diag: &mut Diag<'_>) -> Noted<CheckDraft> {
    let st = &be.settings;
    if let Some((line, name)) = &st.other_check {
        diag.warn(*line, format!("option {name}: regha checks with HTTP GET or a TCP connect; the import uses a TCP connect"), None);
        return Noted::new(
            CheckDraft::Tcp,
            format!("option {name} ({}) became a TCP connect", diag.at(*line)),
        );
    }
    let Some(h) = &st.httpchk else {
        return Noted::new(
            CheckDraft::Tcp,
            "no `option httpchk`: HAProxy checked with a TCP connect",
        );
    };
    let at = diag.at(h.line);
    if let Some(m) = &h.method
        && !m.eq_ignore_ascii_case("GET")
    {
        diag.note(
            h.line,
            format!("option httpchk {m}: regha's check is always a GET"),
            None,
        );
    }
    let path = match h.uri.as_deref() {
        None => "/".to_owned(),
        Some(u)
            if u.starts_with('/') && !u.contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            u.to_owned()
        }
        Some(u) => {
            diag.warn(
                h.line,
                format!(
                    "check URI {u:?} does not start with `/` or has spaces: the import uses /v2/"
                ),
                None,
            );
            "/v2/".to_owned()
        }
    };
    let host = h.host.clone().filter(|host| {
        let ok = !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c.is_control());
        if !ok {
            diag.warn(
                h.line,
                format!("check Host header {host:?} has spaces or control characters: left out"),
                None,
            );
        }
        ok
    });
    for (line, what) in &h.unused {
        diag.warn(
            *line,
            format!("health check setting `{what}` has no regha equivalent: ignored"),
            None,
        );
    }
    let mut expect: Option<(Vec<u16>, String)> = None;
    let mut expect_header = None;
    for (line, args) in &h.expect {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let (negated, words) = match words.split_first() {
            Some((&"!", rest)) => (true, rest),
            _ => (false, &words[..]),
        };
        let codes = match words {
            ["status", list] => status_list(list),
            ["rstatus", re] => rstatus::codes(re),
            ["hdr", "name", n, ..] => {
                expect_header = Some((*n).to_owned());
                continue;
            }
            _ => None,
        };
        match codes {
            Some(mut codes) if !codes.is_empty() && !negated => {
                codes.sort_unstable();
                codes.dedup();
                expect = Some((codes, format!("http-check expect {}, {}", words.join(" "), diag.at(*line))));
            }
            _ => diag.warn(
                *line,
                format!("http-check expect {}{}: regha checks the status code (and optionally that a header is present), not this: ignored", if negated { "! " } else { "" }, words.join(" ")),
                Some("`expect_header: Docker-Distribution-API-Version` proves a registry answered"),
            ),
        }
    }
    let (expect, note) = match expect {
        Some((codes, note)) => (codes, format!("option httpchk, {at}; {note}")),
        None => (
            vec![200, 401],
            format!(
                "option httpchk, {at}. HAProxy accepted any 2xx/3xx; a registry answers /v2/ with 200, or 401 when its auth is on"
            ),
        ),
    };
    Noted::new(
        CheckDraft::Http {
            path,
            host,
            expect,
            expect_header,
        },
        note,
    )
}

/// `200`, `200,401`, `200-299` (HAProxy 2.2+ takes lists and ranges).
fn status_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi) = (
            lo.trim().parse::<u16>().ok()?,
            hi.trim().parse::<u16>().ok()?,
        );
        if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || hi < lo {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

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

fn backends(be: &Proxy, port: u16, vip: IpAddr, diag: &mut Diag<'_>) -> Vec<Noted<BackendDraft>> {
    let mut out: Vec<Noted<BackendDraft>> = Vec::new();
    let mut unchecked = Vec::new();
    for s in &be.servers {
        if let Some(b) = backend(s, port, vip, &out, diag) {
            if !s.check {
                unchecked.push(s.line);
            }
            if out.len() >= 1024 {
                diag.warn(
                    s.line,
                    "more than 1024 servers: the rest are not imported",
                    None,
                );
                break;
            }
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

fn backend(
    s: &Server,
    port: u16,
    vip: IpAddr,
    so_far: &[Noted<BackendDraft>],
    diag: &mut Diag<'_>,
) -> Option<Noted<BackendDraft>> {
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
    if address.is_ipv6() != vip.is_ipv6()
        || address == vip
        || address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
    {
        diag.warn(s.line, format!("server {name} {address}: not a unicast address of the VIP's family (and not the VIP): not imported"), None);
        return None;
    }
    if so_far.iter().any(|b| b.value.address == address) {
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
        None => None,
        Some((_, w)) => match w.parse::<u32>() {
            Ok(0) => {
                diag.warn(
                    s.line,
                    format!("server {name} has weight 0 (no new traffic): not imported"),
                    None,
                );
                return None;
            }
            Ok(n) if n <= 65535 => Some(n),
            _ => {
                diag.warn(
                    s.line,
                    format!("server {name}: weight {w:?} is not a number in 1..=256: 1 is used"),
                    None,
                );
                None
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
            if proxyish { super::Severity::Warning } else { super::Severity::Note },
            format!("server {name}: ignored (no meaning when packets go straight to the backend): {}", s.ignored.iter().map(|i| i.trim()).collect::<Vec<_>>().join(", ")),
            proxyish.then_some("with DSR the backend gets the client's packets as they are: no PROXY header, no TLS to it from the LB"),
        );
    }
    Some(Noted::new(
        BackendDraft {
            address,
            port,
            weight,
        },
        note,
    ))
}

fn stats_draft(x: &Proxy, diag: &mut Diag<'_>) -> StatsDraft {
    let b = &x.binds[0];
    let mut intro = vec![format!(
        "HAProxy's `listen {}` ({}).",
        x.name,
        diag.at(x.line)
    )];
    let listen = match b.address {
        Some(a) if !a.is_unspecified() && !a.is_multicast() => Noted::new(
            SocketAddr::new(a, b.port),
            format!("bind {a}:{}, {}", b.port, diag.at(b.line)),
        ),
        _ => {
            diag.warn(
                b.line,
                format!("the stats page listened on every address (bind *:{}); regha's listener binds 127.0.0.1:{} by default, so it is reachable only from the LB host itself", b.port, b.port),
                Some("set `stats.listen` to this host's own address to reach it from elsewhere (with `auth`)"),
            );
            intro.push(format!(
                "HAProxy listened on every address (bind *:{}); regha binds localhost unless told.",
                b.port
            ));
            Noted::new(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), b.port),
                format!("bind *:{}, {}: localhost only", b.port, diag.at(b.line)),
            )
        }
    };
    let mut auth = None;
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    for (line, words) in &x.stats {
        match words.first().map(String::as_str) {
            Some("auth") => {
                let cred = words.get(1).map(String::as_str).unwrap_or_default();
                let (user, pass) = cred.split_once(':').unwrap_or((cred, ""));
                if auth.is_some() {
                    diag.warn(*line, format!("another `stats auth` user ({user}): regha's listener has one user, the first is kept"), None);
                } else if user.is_empty() || pass.is_empty() {
                    diag.warn(*line, "`stats auth` without user:password: no auth imported", None);
                } else {
                    diag.warn(
                        *line,
                        format!("`stats auth {user}:...`: regha reads the password from a file, never from the config: the output names {STATS_PASSWORD_FILE}, which you must create"),
                        Some(&format!(
                            "install -m 600 /dev/null {STATS_PASSWORD_FILE} && printf '%s' 'NEW-PASSWORD' > {STATS_PASSWORD_FILE}  (the old password sat in a world-readable haproxy.cfg: choose a new one; it is not copied to the output)"
                        )),
                    );
                    auth = Some(Noted::new(
                        (user.to_owned(), STATS_PASSWORD_FILE.to_owned()),
                        format!("stats auth, {}: write the password here, mode 600", diag.at(*line)),
                    ));
                }
            }
            Some("uri") => diag.note(
                *line,
                format!("stats uri {}: regha's page is at `/`, with `/metrics` (Prometheus) and `/status` (JSON) beside it", words.get(1).map_or("", String::as_str)),
                None,
            ),
            Some(w) => {
                others.entry(format!("stats {w}")).or_insert(*line);
            }
            None => {}
        }
    }
    if let Some((_, line)) = others.iter().next() {
        let list: Vec<&str> = others.keys().map(String::as_str).collect();
        diag.note(
            *line,
            format!(
                "{}: not needed: regha's page refreshes itself, shows no version, and is read-only",
                list.join(", ")
            ),
            None,
        );
    }
    StatsDraft {
        intro,
        listen,
        auth,
    }
}

/// One note (or warning) per kind of harmless setting, over every proxy
/// imported and the defaults they inherit, each line once.
fn grouped_notes(used: &[&Proxy], diag: &mut Diag<'_>) {
    let mut limits: BTreeMap<usize, String> = BTreeMap::new();
    let mut l7: BTreeMap<usize, String> = BTreeMap::new();
    let mut forwardfor: BTreeMap<usize, String> = BTreeMap::new();
    let mut modes: BTreeMap<usize, String> = BTreeMap::new();
    let mut stats: BTreeMap<usize, String> = BTreeMap::new();
    for p in used {
        let st = &p.settings;
        limits.extend(st.limits.iter().cloned());
        for (line, d) in &st.l7 {
            if d.ends_with("forwardfor") {
                forwardfor.insert(*line, d.clone());
            } else {
                l7.insert(*line, d.clone());
            }
        }
        if let Some((line, m)) = &st.mode
            && m == "http"
        {
            modes.insert(*line, m.clone());
        }
        stats.extend(st.stats_lines.iter().cloned());
    }
    let lines = |m: &BTreeMap<usize, String>| lines_list(&m.keys().copied().collect::<Vec<_>>());
    let list = |m: &BTreeMap<usize, String>| {
        let mut v: Vec<&str> = m.values().map(String::as_str).collect();
        v.dedup();
        v.join("; ")
    };
    if let Some(first) = limits.keys().next() {
        diag.note(
            *first,
            format!("connection timeouts and limits ({}: {}): regha holds no connections, packets go straight to the backends, so there is nothing to time out or limit; the backends' own settings now apply", lines(&limits), list(&limits)),
            None,
        );
    }
    if let Some(first) = modes.keys().next() {
        diag.note(
            *first,
            format!("mode http ({}): regha steers TCP packets (L4) and never sees HTTP; health checks still speak HTTP", lines(&modes)),
            None,
        );
    }
    if let Some(first) = forwardfor.keys().next() {
        diag.warn(
            *first,
            format!("option forwardfor ({}) is meaningless with DSR: regha never touches HTTP, so no X-Forwarded-For is added, and none is needed: the registry sees each client's own address as the source", lines(&forwardfor)),
            Some("drop any registry or log setting that trusted X-Forwarded-For from the proxies"),
        );
    }
    if let Some(first) = l7.keys().next() {
        diag.note(
            *first,
            format!(
                "HTTP and proxy settings with no meaning for a packet steerer, ignored ({}): {}",
                lines(&l7),
                list(&l7)
            ),
            None,
        );
    }
    if let Some(first) = stats.keys().next() {
        diag.note(
            *first,
            format!("{} in defaults put HAProxy's stats page on every HTTP proxy; regha has one stats listener (`stats:`)", list(&stats)),
            None,
        );
    }
}
